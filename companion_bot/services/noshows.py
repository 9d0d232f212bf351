"""No-shows at departure. At each departure time, in every group gathering at its meeting point
(someone of it is there), a member who is not there is a no-show: the members who are there
hear it (they can wait a few minutes, or leave without her once a volunteer confirms the
departure), and she is asked where she is, with the next departure offered (she is placed in a
group there, `closing.leave_later`). If her group leaves without her she is taken out of it
(`closing.left_behind`).

Organizers, never attendees, see who did not show up at several events (`repeat_no_shows`).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from companion_bot import actions
from companion_bot.i18n import N_, escape
from companion_bot.models import DepartureWave, Event, GroupStatus, Person, Registration
from companion_bot.services import closing, groups, outbox
from companion_bot.services.messaging import language_of
from companion_bot.services.texts import meeting_place

NOT_THERE = N_(
    "❓ It is departure time at <b>{point}</b> and your group is there, but not you. Where are "
    "you? Tap an answer: your group and the volunteers will know."
)
NOT_THERE_TO_GROUP = N_(
    "⏳ {name} is not at the meeting point. You can wait a few minutes for her; to leave "
    "without her, ask a volunteer: they confirm your departure."
)
REPEATS = 2  # no-shows at this many events make her a repeat no-show


async def on_no_show_check(payload: dict, now: datetime) -> None:
    wave = await DepartureWave.get_or_none(id=payload["wave_id"]).prefetch_related(
        "event", "meeting_point"
    )
    if wave is None or wave.event.purged_at is not None:
        return
    later = await closing.next_wave(wave.id)
    for state in await closing.wave_groups(wave.id):
        group = state.group
        if group.status != GroupStatus.ANNOUNCED:
            continue
        members = await groups.active_members(group)
        present = [m.registration for m in members if m.registration.at_meeting_point_at]
        absent = [
            m.registration
            for m in members
            if not m.registration.at_meeting_point_at
            and not m.registration.left_at
            and m.registration.no_show_at is None
        ]
        if not present or not absent:
            continue
        async with in_transaction():
            for registration in absent:
                await no_show(wave, later, registration, present, now)
            await groups.changed(group)


async def no_show(
    wave: DepartureWave,
    later: DepartureWave | None,
    registration: Registration,
    present: list[Registration],
    now: datetime,
) -> None:
    registration.no_show_at = now
    registration.missing_flagged_at = registration.missing_flagged_at or now
    await registration.save(update_fields=["no_show_at", "missing_flagged_at"])
    person, event = registration.person, wave.event
    t = language_of(person)
    rows = [[(t.gettext(closing.ON_MY_WAY), actions.Closing("coming", registration.id).encode())]]
    if later is not None:
        label = t.gettext(closing.NEXT_DEPARTURE).format(time=t.time(later.departs_at,
                                                                     event.timezone))  # fmt: skip
        rows.append([(label, actions.Closing("later", registration.id, wave.id).encode())])
    rows.append(
        [(t.gettext(closing.WITHOUT_ME), actions.Closing("alone", registration.id).encode())]
    )
    await outbox.enqueue(
        person,
        t.gettext(NOT_THERE).format(
            point=escape(meeting_place(wave.meeting_point, event, t.language))
        ),
        choices=rows,
        priority=closing.URGENT,
        dedupe_key=f"noshow:{wave.id}:{registration.id}",
    )
    for other in present:
        await outbox.enqueue(
            other.person,
            language_of(other.person)
            .gettext(NOT_THERE_TO_GROUP)
            .format(name=escape(person.display_name or "?")),
            priority=closing.URGENT,
            dedupe_key=f"noshowgroup:{wave.id}:{registration.id}:{other.id}",
        )


async def repeat_no_shows(event: Event) -> list[tuple[str, int]]:
    """People signed up for this event who did not show up at departure at `REPEATS` events or
    more (within what is kept), by display name: for the organizers' board only."""
    people = await Registration.filter(event=event).values_list("person_id", flat=True)
    counted = (
        await Registration.filter(person_id__in=list(people), no_show_at__isnull=False)
        .group_by("person_id")
        .annotate(times=Count("id"))
        .values("person_id", "times")
    )
    repeat = {row["person_id"]: row["times"] for row in counted if row["times"] >= REPEATS}
    found = await Person.filter(id__in=list(repeat))
    return sorted(
        ((p.display_name or "?", repeat[p.id]) for p in found), key=lambda x: (-x[1], x[0])
    )
