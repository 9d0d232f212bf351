"""Closing time: reminders before each departure wave, "I'm at the meeting point", volunteers
confirming that groups have left, "I'm home" check-ins and alerts when someone goes quiet.

Every timed step is a scheduled task and every message goes through the outbox, so a crash or
a redeploy loses none of them. Buttons sent to a person are signed for her (see
`companion_bot.signing`); the handlers still check here who may do what.

The volunteers see each departure group on a card (at the wave's reminder, and on /waves).
Every card sent for a group stays true: whatever changes what it shows (a member at the
meeting point, gone, home, asked for, joining or leaving; the group confirmed gone) asks for
a redraw with `groups.changed`, in the transaction of the change. The redraw runs right after
(`on_group_cards`), reads what was committed, and edits each card through the outbox,
coalesced and paced (`CARD_EDIT_INTERVAL`), so a busy door costs a few edits, never a flood.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from companion_bot import actions, clock, notices
from companion_bot.i18n import N_, N_plural, Translator, escape
from companion_bot.models import (
    ArrivalSlot,
    CompanionGroup,
    DepartureWave,
    Event,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    OutboxMessage,
    Person,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
    Unplaced,
)
from companion_bot.services import groups, outbox, people, relay, scheduler
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import HELP_BUTTON, help_keyboard, language_of
from companion_bot.services.people import Who, ensure_person
from companion_bot.services.texts import meeting_place

logger = logging.getLogger(__name__)

WAVE_REMINDER_TASK = "wave_reminder"
HOME_REMINDER_TASK = "home_reminder"
NO_NEWS_TASK = "no_news_alert"
# The other stages of "are you home?" (handled in `services.escalation`).
GROUP_ASK_TASK = "home_group_ask"
ORGANIZER_ALERT_TASK = "home_organizers"
# At each departure time: who is not at the meeting point (handled in `services.noshows`).
NO_SHOW_TASK = "no_show_check"
NIGHT_START_TASK = "night_start"
ARRIVAL_ALONE_TASK = "arrival_alone"
# Those arriving without a group hear it, and the volunteers get their names, this long before
# their arrival slot: after the slot's groups are announced, in time to be at the door.
ARRIVAL_ALONE_BEFORE = timedelta(minutes=20)
# Her event's night is on from then: she gets the "I need help" button again, with a word.
NIGHT_START_BEFORE = timedelta(hours=1)
# Alerts about people jump the queue of a broadcast.
URGENT = 10
# A card is edited at most this often: the changes in between make one edit, the last state.
CARD_EDIT_INTERVAL = timedelta(seconds=3)

STATUS_ICONS = {"home": "🏠", "left": "🚶", "at_point": "✅", "missing": "❓", "waiting": "⏳"}


def _now() -> datetime:
    return clock.now()


# -- the event's timeline ---------------------------------------------------------------------


async def schedule_timeline(event_id: int, now: datetime | None = None) -> None:
    """Reminders for every wave and the first matching round; run again after any change."""
    now = now or _now()
    event = await Event.get(id=event_id)
    for wave in await DepartureWave.filter(event=event):
        await schedule_wave_reminder(event, wave)
    for slot in await ArrivalSlot.filter(event=event):
        await scheduler.schedule(ARRIVAL_ALONE_TASK, slot.starts_at - ARRIVAL_ALONE_BEFORE,
                                 {"slot_id": slot.id},
                                 dedupe_key=f"slot:{slot.id}:alone")  # fmt: skip
    await scheduler.schedule(NIGHT_START_TASK, event.doors_open - NIGHT_START_BEFORE,
                             {"event_id": event.id},
                             dedupe_key=f"event:{event.id}:night")  # fmt: skip
    await groups.schedule_round(event.id, now + timedelta(minutes=1))


async def schedule_wave_reminder(event: Event, wave: DepartureWave) -> None:
    due = wave.departs_at - timedelta(minutes=event.reminder_minutes)
    await scheduler.schedule(WAVE_REMINDER_TASK, due, {"wave_id": wave.id},
                             dedupe_key=f"wave:{wave.id}:reminder")  # fmt: skip
    await scheduler.schedule(NO_SHOW_TASK, wave.departs_at, {"wave_id": wave.id},
                             dedupe_key=f"wave:{wave.id}:noshow")  # fmt: skip


async def reschedule_pending(event: Event) -> None:
    """After the event's delays changed: the reminders and alerts still waiting move to the
    new times (those already sent stay sent)."""
    for wave in await DepartureWave.filter(event=event):
        due = wave.departs_at - timedelta(minutes=event.reminder_minutes)
        await scheduler.move(f"wave:{wave.id}:reminder", due)
    gone = await Registration.filter(
        event=event, left_at__not_isnull=True, home_at=None, status=RegistrationStatus.CONFIRMED
    )
    for registration in gone:
        for stage, due in check_in_times(event, registration.left_at).items():
            await scheduler.move(f"home:{registration.id}:{stage}", due)


NIGHT_START = N_(
    "🌙 <b>{event}</b> is tonight. If anything goes wrong, tap “{button}” at the bottom of "
    "this chat: the volunteers on duty will come to you."
)


async def on_night_start(payload: dict, now: datetime) -> None:
    """Her event's night begins: the "I need help" button comes back under her keyboard."""
    event = await Event.get_or_none(id=payload["event_id"])
    if event is None or event.purged_at is not None or event.closing <= now:
        return  # gone, or over (its timeline scheduled again after the night)
    for registration in await Registration.filter(
        event=event, status=RegistrationStatus.CONFIRMED
    ).prefetch_related("person"):
        person = registration.person
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(NIGHT_START).format(event=escape(event.localized("name", t.language)),
                                          button=t.gettext(HELP_BUTTON)),
            payload=help_keyboard(t),
            dedupe_key=f"night:{event.id}:{person.id}",
        )  # fmt: skip


# -- arriving without a group ----------------------------------------------------------------

ARRIVING_ALONE = N_(
    "🚪 We have not found an arrival group for you between {start} and {end}. The volunteers "
    "know: tell them you are here at <b>{point}</b> and one of them will welcome you."
)
ARRIVING_ALONE_HEADER = N_(
    "👋 Arriving without a group between {start} and {end} — please welcome them at {point}:"
)


async def alone_at_arrival(slot: ArrivalSlot) -> list[tuple[Registration, str]]:
    """Those the matching could not place in an arrival group of this slot, with the reason."""
    rows = await Unplaced.filter(
        Q(registration__online=None) | Q(registration__online=False),  # not at a table
        kind=GroupKind.ARRIVAL,
        resolved_at=None,
        registration__arrival_slot_id=slot.id,
        registration__status=RegistrationStatus.CONFIRMED,
    ).select_related("registration__person")
    return [(row.registration, row.reason) for row in rows]


async def on_arrival_alone(payload: dict, now: datetime) -> None:
    """Before an arrival slot: whoever has no arrival group is told a volunteer will welcome
    her, and the on-duty volunteers get the names (nobody is left alone)."""
    slot = await ArrivalSlot.get_or_none(id=payload["slot_id"]).prefetch_related(
        "event", "meeting_point"
    )
    if slot is None or slot.event.purged_at is not None or slot.ends_at <= now:
        return
    alone = await alone_at_arrival(slot)
    if not alone:
        return
    event = slot.event
    stamp = slot.starts_at.isoformat()
    for registration, _reason in alone:
        person = registration.person
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(ARRIVING_ALONE).format(
                start=t.time(slot.starts_at, event.timezone),
                end=t.time(slot.ends_at, event.timezone),
                point=escape(meeting_place(slot.meeting_point, event, t.language)),
            ),
            dedupe_key=f"arrivalalone:{slot.id}:{registration.id}:{stamp}",
        )
    for volunteer in await on_duty_team(event.id, kinds=(RoleKind.VOLUNTEER,)):
        await outbox.enqueue(
            volunteer,
            arrival_alone_text(language_of(volunteer), slot, alone),
            priority=URGENT,
            dedupe_key=f"arrivalalone:{slot.id}:v{volunteer.id}:{stamp}",
        )


def arrival_alone_text(t: Translator, slot: ArrivalSlot, alone) -> str:
    """For volunteers; `slot` comes with its event and meeting point."""
    zone = slot.event.timezone
    header = t.gettext(ARRIVING_ALONE_HEADER).format(
        start=t.time(slot.starts_at, zone),
        end=t.time(slot.ends_at, zone),
        point=escape(meeting_place(slot.meeting_point, slot.event, t.language)),
    )
    return "\n".join([header, *alone_lines(t, [(r.person.display_name or "?", why)
                                                for r, why in alone])])  # fmt: skip


# -- the wave reminder --------------------------------------------------------------------------


WAVE_REMINDER = N_plural(
    "🌙 Your departure leaves at <b>{time}</b> from <b>{point}</b>, in {minutes} minute. "
    "Your group: {names}.",
    "🌙 Your departure leaves at <b>{time}</b> from <b>{point}</b>, in {minutes} minutes. "
    "Your group: {names}.",
)
WAVE_REMINDER_ALONE = N_plural(
    "🌙 Your departure leaves at <b>{time}</b> from <b>{point}</b>, in {minutes} minute. "
    "We have not found a group for you: the volunteers know and will leave with you.",
    "🌙 Your departure leaves at <b>{time}</b> from <b>{point}</b>, in {minutes} minutes. "
    "We have not found a group for you: the volunteers know and will leave with you.",
)
AT_POINT = N_("📍 I'm at the meeting point")
LEAVING_LATER = N_("⏰ I'm leaving later")
ALREADY_LEFT = N_("🚪 I've already left")
HOME = N_("🏠 I'm home")


async def on_wave_reminder(payload: dict, now: datetime) -> None:
    wave = await DepartureWave.get_or_none(id=payload["wave_id"]).prefetch_related(
        "event", "meeting_point"
    )
    if wave is None:
        return
    event = wave.event
    registrations = await Registration.filter(
        event=event,
        departure_wave=wave,
        wants_departure_group=True,
        status=RegistrationStatus.CONFIRMED,
        left_at=None,
    ).prefetch_related("person")
    later = await DepartureWave.exists(event=event, departs_at__gt=wave.departs_at)
    for registration in registrations:
        person = registration.person
        t = language_of(person)
        group = await departure_group_of(registration.id)
        names = await other_names(group, registration.id) if group else []
        template = WAVE_REMINDER if names else WAVE_REMINDER_ALONE
        text = t.ngettext(*template, event.reminder_minutes).format(
            time=t.time(wave.departs_at, event.timezone),
            point=escape(meeting_place(wave.meeting_point, event, t.language)),
            minutes=event.reminder_minutes,
            names=", ".join(f"<b>{escape(n)}</b>" for n in names),
        )
        rows = [
            [(t.gettext(AT_POINT), actions.Closing("at", registration.id).encode())],
            *([[(t.gettext(LEAVING_LATER),
                  actions.Closing("later", registration.id, wave.id).encode())]]
              if later else []),
            [(t.gettext(ALREADY_LEFT), actions.Closing("gone", registration.id).encode())],
        ]  # fmt: skip
        await outbox.enqueue(
            person,
            text,
            choices=rows,
            payload=notices.outside_window(
                notices.WAVE_REMINDER,
                event.localized("name", t.language),
                t.time(wave.departs_at, event.timezone),
                meeting_place(wave.meeting_point, event, t.language),
            ),
            priority=URGENT,
            dedupe_key=f"reminder:{wave.id}:{registration.id}:{wave.departs_at.isoformat()}",
        )
    await send_wave_to_volunteers(wave, now)


async def departure_group_of(registration_id: int) -> CompanionGroup | None:
    membership = (
        await GroupMember.filter(
            registration_id=registration_id,
            status=MemberStatus.ACTIVE,
            group__kind=GroupKind.DEPARTURE,
            group__status__in=[GroupStatus.ANNOUNCED, GroupStatus.LEFT],
        )
        .prefetch_related("group")
        .first()
    )
    return membership.group if membership else None


async def other_names(group: CompanionGroup, registration_id: int) -> list[str]:
    return [
        member.registration.person.display_name or "?"
        for member in await groups.active_members(group)
        if member.registration_id != registration_id
    ]


# -- what volunteers see of a wave ------------------------------------------------------------


@dataclass(frozen=True)
class MemberState:
    name: str
    registration_id: int
    state: str  # a key of STATUS_ICONS


@dataclass(frozen=True)
class GroupState:
    group: CompanionGroup
    members: list[MemberState]
    number: int  # 1, 2, 3… within its departure, as volunteers call them


def member_state(registration: Registration) -> str:
    if registration.home_at:
        return "home"
    if registration.left_at:
        return "left"
    if registration.at_meeting_point_at:
        return "at_point"
    if registration.missing_flagged_at:
        return "missing"
    return "waiting"


# Groups that have (or had) cards: numbered among these, in order, a group keeps its number.
CARD_STATUSES = (GroupStatus.ANNOUNCED, GroupStatus.LEFT, GroupStatus.DISSOLVED)


async def wave_groups(wave_id: int) -> list[GroupState]:
    """The wave's groups still standing (announced, or gone), numbered as on their cards."""
    found = (
        await CompanionGroup.filter(departure_wave_id=wave_id, status__in=CARD_STATUSES)
        .order_by("id")
        .prefetch_related("meeting_point", "left_confirmed_by", "event")
    )
    return [
        await state_of(group, number)
        for number, group in enumerate(found, start=1)
        if group.status != GroupStatus.DISSOLVED
    ]


async def state_of(group: CompanionGroup, number: int) -> GroupState:
    """`group` comes with its event, meeting point and who confirmed it left."""
    members = [
        MemberState(
            m.registration.person.display_name or "?", m.registration_id,
            member_state(m.registration),
        )
        for m in await groups.active_members(group)
    ]  # fmt: skip
    return GroupState(group, members, number)


MEMBER_STATES = {
    "home": N_("home"),
    "left": N_("left"),
    "at_point": N_("at the meeting point"),
    "missing": N_("asked where she is"),
    "waiting": N_("not there yet"),
}
GROUP_HEADER = N_("Group {number} — {time}, {point}")
GROUP_LEFT_BY = N_("✅ Left at {time}, confirmed by {name}")
GROUP_DISSOLVED = N_(
    "Too few members were left: this group is dissolved. Its members are being matched again."
)
GROUP_HAS_LEFT = N_("✅ Group has left")
SOMEONE_MISSING = N_("❓ Someone is missing")


def group_card(t: Translator, state: GroupState) -> str:
    _ = t.gettext
    group, zone = state.group, state.group.event.timezone
    point = meeting_place(group.meeting_point, group.event, t.language)
    lines = [
        "<b>"
        + _(GROUP_HEADER).format(number=state.number, time=t.time(group.meet_at, zone),
                                 point=escape(point))
        + "</b>"
    ]  # fmt: skip
    for member in state.members:
        lines.append(
            f"{STATUS_ICONS[member.state]} {escape(member.name)} — {_(MEMBER_STATES[member.state])}"
        )
    if group.status == GroupStatus.LEFT and group.left_at:
        who = group.left_confirmed_by.display_name if group.left_confirmed_by else "?"
        lines.append(_(GROUP_LEFT_BY).format(time=t.time(group.left_at, zone), name=escape(who)))
    if group.status == GroupStatus.DISSOLVED:
        lines.append(_(GROUP_DISSOLVED))
    return "\n".join(lines)


def group_card_choices(t: Translator, state: GroupState) -> list[list[notices.Choice]] | None:
    if state.group.status != GroupStatus.ANNOUNCED:
        return None
    return [
        [(t.gettext(GROUP_HAS_LEFT), actions.GroupCard("left", state.group.id).encode())],
        [(t.gettext(SOMEONE_MISSING), actions.GroupCard("miss", state.group.id).encode())],
    ]


def card_key(group_id: int, chat_id: int) -> str:
    """The coalesce key of the cards of a group sent to one chat: a card not sent yet is
    replaced by a newer one, and `on_group_cards` finds every card of a group by it."""
    return f"{groups.cards_of(group_id)}{chat_id}"


async def send_card(person: Person, state: GroupState, dedupe_key: str | None = None) -> None:
    """A group's card to her, in her language; one of hers still waiting is replaced.
    Call `groups.changed` once the cards are queued: a change made while they were being
    drawn then reaches them too."""
    t = language_of(person)
    await outbox.enqueue(
        person,
        group_card(t, state),
        choices=group_card_choices(t, state),
        priority=URGENT,
        dedupe_key=dedupe_key,
        coalesce_key=card_key(state.group.id, person.telegram_id),
    )


async def send_wave_to_volunteers(wave: DepartureWave, now: datetime) -> None:
    states = await wave_groups(wave.id)
    alone = await alone_in_wave(wave)
    stamp = wave.departs_at.isoformat()
    for volunteer in await on_duty_team(wave.event_id, kinds=(RoleKind.VOLUNTEER,)):
        for state in states:
            key = f"wavecard:{wave.id}:{state.group.id}:{volunteer.id}:{stamp}"
            await send_card(volunteer, state, dedupe_key=key)
        if alone:
            await outbox.enqueue(
                volunteer,
                alone_text(language_of(volunteer), wave, wave.event.timezone, alone),
                priority=URGENT,
                dedupe_key=f"wavealone:{wave.id}:{volunteer.id}:{stamp}",
            )
    for state in states:
        await groups.changed(state.group)


async def on_group_cards(payload: dict, now: datetime) -> None:
    """Redraw every card sent for a group (`groups.changed` asks for it), in each reader's
    language: edits through the outbox, at most one per card every `CARD_EDIT_INTERVAL`,
    none for a card that already shows this. The group's row is locked meanwhile, so two
    redraws of one group (two processes) queue their edits in the order they read."""
    cards = await OutboxMessage.filter(
        coalesce_key__startswith=groups.cards_of(payload["group_id"]),
        edit_of_id=None,
        status__in=outbox.LIVE,
    )
    if not cards:
        return
    async with in_transaction():
        group = (
            await CompanionGroup.filter(id=payload["group_id"])
            .select_for_update()
            .prefetch_related("meeting_point", "left_confirmed_by", "event")
            .first()
        )
        if group is None:
            return
        state = await state_of(group, await number_of(group))
        readers = await outbox.recipients(cards)
        for card in cards:
            reader = readers.get((card.channel, card.chat_id))
            if reader is None:  # forgotten meanwhile
                continue
            t = language_of(reader)
            await outbox.edit(
                card,
                group_card(t, state),
                choices=group_card_choices(t, state),
                priority=URGENT,
                min_interval=CARD_EDIT_INTERVAL,
            )


async def wave_changed(wave_id: int) -> None:
    """The departure moved, or took in another one's groups: its groups' cards are redrawn
    (their time, meeting point and numbers)."""
    for group in await CompanionGroup.filter(
        departure_wave_id=wave_id, kind=GroupKind.DEPARTURE, status__in=CARD_STATUSES
    ):
        await groups.changed(group)


async def number_of(group: CompanionGroup) -> int:
    """Its number within its departure, as `wave_groups` gives it."""
    return await CompanionGroup.filter(
        departure_wave_id=group.departure_wave_id, status__in=CARD_STATUSES, id__lte=group.id
    ).count()


UNPLACED_REASONS = {
    "no_compatible_companion": N_("nobody else travels her way in this departure"),
    "nobody_heading_her_way": N_("nobody heads in her direction"),
    "no_overlapping_arrival": N_("nobody arrives at the same time"),
    "only_avoided_companions": N_("the only possible companions are people she avoids"),
    "groups_full": N_("the groups going her way are full"),
    "unknown_wave": N_("her departure no longer exists"),
    "arrival_passed": N_("her arrival time is over"),
}
ALONE_HEADER = N_("👤 Without a departure group at {time} — please keep an eye on them:")


async def alone_in_wave(wave: DepartureWave) -> list[tuple[str, str]]:
    """(display name, reason) of those the matching could not place in this departure."""
    rows = await Unplaced.filter(
        kind=GroupKind.DEPARTURE,
        resolved_at=None,
        registration__departure_wave_id=wave.id,
        registration__status=RegistrationStatus.CONFIRMED,
        registration__wants_departure_group=True,
        registration__left_at=None,
    ).select_related("registration__person")
    return [(row.registration.person.display_name or "?", row.reason) for row in rows]


def alone_text(t: Translator, wave: DepartureWave, timezone: str, alone) -> str:
    header = t.gettext(ALONE_HEADER).format(time=t.time(wave.departs_at, timezone))
    return "\n".join([header, *alone_lines(t, alone)])


def alone_lines(t: Translator, alone: list[tuple[str, str]]) -> list[str]:
    """One line per person without a group: her display name and why, in t's language."""
    lines = []
    for name, reason in alone:
        why = UNPLACED_REASONS.get(reason)
        lines.append(f"• {escape(name)} — {t.gettext(why) if why else escape(reason)}")
    return lines


async def on_duty_team(
    event_id: int, kinds=(RoleKind.VOLUNTEER, RoleKind.ORGANIZER)
) -> list[Person]:
    """On-duty volunteers (and organizers, who are always on duty for alerts)."""
    condition = Q(kind=RoleKind.VOLUNTEER, on_duty=True)
    if RoleKind.ORGANIZER in kinds:
        condition |= Q(kind=RoleKind.ORGANIZER)
    if RoleKind.VOLUNTEER not in kinds:
        condition = Q(kind=RoleKind.ORGANIZER)
    roles = await Role.filter(Q(event_id=event_id) & condition).prefetch_related("person")
    seen, team = set(), []
    for role in roles:
        if role.person_id not in seen:
            seen.add(role.person_id)
            team.append(role.person)
    return team


# -- an attendee's buttons -----------------------------------------------------------------------


async def own_registration(who: Who, registration_id: int) -> Registration:
    registration = await Registration.get_or_none(
        id=registration_id, **people.lookup(who, "person"), status=RegistrationStatus.CONFIRMED
    ).select_related("event", "person", "departure_wave__meeting_point")
    if registration is None:
        raise UserInputError(N_("This button is no longer active."))
    return registration


async def at_meeting_point(who: Who, registration_id: int, now: datetime | None = None):
    registration = await own_registration(who, registration_id)
    if registration.at_meeting_point_at is None:
        async with in_transaction():
            registration.at_meeting_point_at = now or _now()
            registration.missing_flagged_at = None
            registration.no_show_at = None  # late, but there: not a no-show
            await registration.save(
                update_fields=["at_meeting_point_at", "missing_flagged_at", "no_show_at"]
            )
            await groups.changed(await departure_group_of(registration.id))
    return registration


LATER_TO_GROUP = N_("{name} will leave later, with another departure.")
GONE_TO_GROUP = N_("{name} has already left.")
HOME_TO_GROUP = N_("🏠 {name} is home.")


async def tell_group(registration: Registration, message: str, key: str) -> CompanionGroup | None:
    """Her departure group hears about her (by display name: they know each other); returns
    that group."""
    group = await departure_group_of(registration.id)
    if group is None:
        return None
    await registration.fetch_related("person")
    name = escape(registration.person.display_name)
    await outbox.enqueue_many(
        outbox.Outgoing(
            member.registration.person,
            language_of(member.registration.person).gettext(message).format(name=name),
            dedupe_key=f"{key}:{registration.id}:{member.registration_id}",
        )
        for member in await groups.active_members(group)
        if member.registration_id != registration.id
    )
    return group


async def leave_later(
    who: Who,
    registration_id: int,
    now: datetime | None = None,
    from_wave_id: int | None = None,
) -> DepartureWave:
    """Move her to the next wave; her current group is told. Returns the new wave.

    `from_wave_id` is the wave her button was for: pressed again once she has moved (her
    answer was lost, a double tap), it answers with her wave instead of moving her on."""
    now = now or _now()
    registration = await own_registration(who, registration_id)
    current = registration.departure_wave
    if from_wave_id is not None and current is not None and current.id != from_wave_id:
        return current
    later = (
        await DepartureWave.filter(
            event_id=registration.event_id, departs_at__gt=current.departs_at
        )
        .order_by("departs_at")
        .prefetch_related("meeting_point")
        .first()
        if current
        else None
    )
    if later is None:
        raise UserInputError(
            N_("There is no later departure. Leave with your group, or ask a volunteer.")
        )
    async with in_transaction():
        await tell_group(registration, LATER_TO_GROUP, f"later:{current.id}")
        await groups.leave_groups(registration.id, GroupKind.DEPARTURE, now)
        registration.departure_wave = later
        registration.at_meeting_point_at = None
        registration.missing_flagged_at = None
        await registration.save(
            update_fields=["departure_wave_id", "at_meeting_point_at", "missing_flagged_at"]
        )
        await groups.place_signup(registration.id, now)
    return later


async def already_left(who: Who, registration_id: int, now: datetime | None = None):
    now = now or _now()
    registration = await own_registration(who, registration_id)
    if registration.left_at is None:
        async with in_transaction():
            registration.left_at = now
            await registration.save(update_fields=["left_at"])
            group = await tell_group(registration, GONE_TO_GROUP, "gone")
            await schedule_check_in(registration, now)
            await groups.changed(group)
    return registration


async def home(who: Who, registration_id: int, now: datetime | None = None):
    now = now or _now()
    registration = await own_registration(who, registration_id)
    if registration.home_at is None:
        async with in_transaction():
            registration.home_at = now
            registration.left_at = registration.left_at or now
            await registration.save(update_fields=["home_at", "left_at"])
            group = await tell_group(registration, HOME_TO_GROUP, "home")
            await relay.stop_live_locations(who)
            await scheduler.cancel_prefix(f"home:{registration.id}:")
            await groups.changed(group)
    return registration


def check_in_times(event: Event, left_at: datetime) -> dict[str, datetime]:
    """The stages of "are you home?" after she left, by the key of their task: she is asked,
    then her group, then the on-duty volunteers, then the organizers."""
    reminder = left_at + timedelta(minutes=event.checkin_delay_minutes)
    group = reminder + timedelta(minutes=event.group_ask_delay_minutes)
    volunteers = group + timedelta(minutes=event.escalation_delay_minutes)
    organizers = volunteers + timedelta(minutes=event.organizer_delay_minutes)
    return {"reminder": reminder, "group": group, "alert": volunteers, "organizers": organizers}


CHECK_IN_TASKS = {
    "reminder": HOME_REMINDER_TASK,
    "group": GROUP_ASK_TASK,
    "alert": NO_NEWS_TASK,
    "organizers": ORGANIZER_ALERT_TASK,
}


async def schedule_check_in(registration: Registration, left_at: datetime) -> None:
    payload = {"registration_id": registration.id}
    for stage, due in check_in_times(registration.event, left_at).items():
        await scheduler.schedule(CHECK_IN_TASKS[stage], due, payload,
                                 dedupe_key=f"home:{registration.id}:{stage}")  # fmt: skip


HOME_REMINDER = N_("Did you get home safely? Tap when you're home.")


async def on_home_reminder(payload: dict, now: datetime) -> None:
    registration = await Registration.get_or_none(id=payload["registration_id"]).prefetch_related(
        "person", "event"
    )
    if registration is None or registration.home_at is not None:
        return
    t = language_of(registration.person)
    await outbox.enqueue(
        registration.person,
        t.gettext(HOME_REMINDER),
        choices=[[(t.gettext(HOME), actions.Closing("home", registration.id).encode())]],
        payload=notices.outside_window(
            notices.ARE_YOU_HOME, registration.event.localized("name", t.language)
        ),
        priority=URGENT,
        dedupe_key=f"homereminder:{registration.id}:{registration.left_at.isoformat()}",
    )  # fmt: skip
    registration.home_reminded_at = now
    await registration.save(update_fields=["home_reminded_at"])


# -- volunteers at the door ------------------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    group: CompanionGroup
    first: bool  # False: someone else had already confirmed
    confirmed_by: str


SAFE_TRIP = N_("🚶 Your group has left. Have a safe trip! Tap when you're home.")


async def may_act(who: Who, event_id: int) -> Person:
    """Volunteers and organizers of this event only, checked on every action."""
    role = (
        await Role.filter(
            event_id=event_id,
            **people.lookup(who, "person"),
            kind__in=[RoleKind.VOLUNTEER, RoleKind.ORGANIZER],
        )
        .prefetch_related("person")
        .first()
    )
    if role is None:
        raise UserInputError(N_("Only this event's volunteers and organizers can do this."))
    return role.person


async def confirm_group_left(who: Who, group_id: int, now: datetime | None = None) -> Confirmation:
    """Idempotent: two volunteers pressing at once make one confirmation. The group's new
    status, its members' departure, their messages and check-ins are written together: after
    a failure nothing is half-done and pressing again completes it."""
    now = now or _now()
    group = await CompanionGroup.get_or_none(id=group_id, kind=GroupKind.DEPARTURE)
    if group is None:
        raise UserInputError(N_("This button is no longer active."))
    volunteer = await may_act(who, group.event_id)
    async with in_transaction():
        updated = await CompanionGroup.filter(id=group_id, status=GroupStatus.ANNOUNCED).update(
            status=GroupStatus.LEFT, left_at=now, left_confirmed_by_id=volunteer.id
        )
        await group.refresh_from_db()
        await group.fetch_related("left_confirmed_by", "event", "meeting_point")
        if updated:
            for member in await groups.active_members(group):
                if is_no_show(member.registration):
                    await left_behind(group, member.registration, now)
                else:
                    await group_member_left(group, member.registration, now)
            await groups.changed(group)
    who = group.left_confirmed_by.display_name if group.left_confirmed_by else "?"
    return Confirmation(group, bool(updated), who or "?")


async def group_member_left(
    group: CompanionGroup, registration: Registration, now: datetime
) -> None:
    """She left with her group: "have a safe trip", with her "I'm home" button."""
    if registration.left_at is not None:
        return
    registration.left_at = now
    await registration.save(update_fields=["left_at"])
    registration.event = group.event
    person = registration.person
    t = language_of(person)
    await outbox.enqueue(
        person,
        t.gettext(SAFE_TRIP),
        choices=[[(t.gettext(HOME), actions.Closing("home", registration.id).encode())]],
        priority=URGENT,
        dedupe_key=f"safetrip:{group.id}:{registration.id}",
    )
    await schedule_check_in(registration, now)


def is_no_show(registration: Registration) -> bool:
    """Not at the meeting point at departure time (while her group was), and not there since."""
    return bool(
        registration.no_show_at and not registration.at_meeting_point_at
        and not registration.left_at
    )  # fmt: skip


LEFT_WITHOUT_YOU = N_(
    "🚶 Your group has left without you. Take the next departure ({time}): we will find you a "
    "group there. Or ask a volunteer, or tap /help if you need us."
)
LEFT_WITHOUT_YOU_LAST = N_(
    "🚶 Your group has left without you, and it was the last departure: go to a volunteer at "
    "the door, or tap /help if you need us."
)
NEXT_DEPARTURE = N_("⏭ Take the {time} departure")


async def left_behind(group: CompanionGroup, registration: Registration, now: datetime) -> None:
    """Her group left (a volunteer agreed) while she was not there: she is out of it, and is
    offered the next departure."""
    await groups.leave_groups(registration.id, GroupKind.DEPARTURE, now)
    person = registration.person
    t = language_of(person)
    later = await next_wave(group.departure_wave_id)
    time = t.time(later.departs_at, group.event.timezone) if later else ""
    data = actions.Closing("later", registration.id, group.departure_wave_id).encode()
    rows = [[(t.gettext(NEXT_DEPARTURE).format(time=time), data)]] if later else []
    text = (t.gettext(LEFT_WITHOUT_YOU).format(time=time) if later
            else t.gettext(LEFT_WITHOUT_YOU_LAST))  # fmt: skip
    await outbox.enqueue(
        person, text, choices=rows if rows else None,
        priority=URGENT, dedupe_key=f"leftbehind:{group.id}:{registration.id}",
    )  # fmt: skip


async def next_wave(wave_id: int | None) -> DepartureWave | None:
    wave = await DepartureWave.get_or_none(id=wave_id) if wave_id else None
    if wave is None:
        return None
    return (
        await DepartureWave.filter(event_id=wave.event_id, departs_at__gt=wave.departs_at)
        .order_by("departs_at")
        .first()
    )


WHERE_ARE_YOU = N_(
    "❓ Your group is about to leave from <b>{point}</b>. Where are you? Tap an answer: your "
    "group and the volunteers will know."
)
ON_MY_WAY = N_("🏃 I'm on my way")
WITHOUT_ME = N_("Leave without me")
ON_HER_WAY_TO_GROUP = N_("{name} is on her way to the meeting point.")
WITHOUT_HER_TO_GROUP = N_("{name} will not leave with the group: go without her.")


async def missing_candidates(who: Who, group_id: int) -> list[MemberState]:
    group = await CompanionGroup.get_or_none(id=group_id)
    if group is None:
        raise UserInputError(N_("This button is no longer active."))
    await may_act(who, group.event_id)
    state = next((s for s in await wave_groups(group.departure_wave_id) if s.group.id == group_id),
                 None)  # fmt: skip
    return [m for m in state.members if m.state in ("waiting", "missing")] if state else []


async def flag_missing(
    who: Who, group_id: int, registration_id: int, now: datetime | None = None
) -> Registration:
    now = now or _now()
    group = await CompanionGroup.get_or_none(id=group_id).prefetch_related("meeting_point", "event")
    if group is None:
        raise UserInputError(N_("This button is no longer active."))
    await may_act(who, group.event_id)
    membership = await GroupMember.get_or_none(
        group=group, registration_id=registration_id, status=MemberStatus.ACTIVE
    ).prefetch_related("registration__person")
    if membership is None:
        raise UserInputError(N_("This button is no longer active."))
    registration = membership.registration
    person = registration.person
    t = language_of(person)
    point = meeting_place(group.meeting_point, group.event, t.language)
    async with in_transaction():
        registration.missing_flagged_at = now
        await registration.save(update_fields=["missing_flagged_at"])
        await outbox.enqueue(
            person,
            t.gettext(WHERE_ARE_YOU).format(point=escape(point)),
            choices=[
                [(t.gettext(ON_MY_WAY), actions.Closing("coming", registration.id).encode())],
                [(t.gettext(WITHOUT_ME), actions.Closing("alone", registration.id).encode())],
            ],
            priority=URGENT,
            dedupe_key=f"missing:{group.id}:{registration.id}:{now.isoformat()}",
        )  # fmt: skip
        await groups.changed(group)
    return registration


async def without_me(who: Who, registration_id: int, now: datetime | None = None):
    """She stays on: her group leaves without her (told so); no departure group for her."""
    registration = await own_registration(who, registration_id)
    async with in_transaction():
        await tell_group(registration, WITHOUT_HER_TO_GROUP, "alone")
        registration.wants_departure_group = False
        registration.missing_flagged_at = None
        await registration.save(update_fields=["wants_departure_group", "missing_flagged_at"])
        await groups.leave_groups(registration.id, GroupKind.DEPARTURE, now or _now())
    return registration


async def on_my_way(who: Who, registration_id: int) -> Registration:
    registration = await own_registration(who, registration_id)
    group = await departure_group_of(registration.id)
    if group is None or group.status == GroupStatus.LEFT:
        raise UserInputError(
            N_("Your group has already left. Take the next departure, or ask a volunteer.")
        )
    await tell_group(registration, ON_HER_WAY_TO_GROUP, f"coming:{_now().isoformat()}")
    return registration


# -- duty --------------------------------------------------------------------------------------


async def duty_roles(who: Who, now: datetime | None = None) -> list[Role]:
    """Her volunteer roles at events not over yet."""
    now = now or _now()
    return (
        await Role.filter(
            **people.lookup(who, "person"), kind=RoleKind.VOLUNTEER, event__closing__gt=now
        )
        .prefetch_related("event")
        .order_by("event__doors_open")
    )


async def set_duty(who: Who, event_id: int, on: bool, now: datetime | None = None) -> Role:
    role = await Role.get_or_none(
        **people.lookup(who, "person"), event_id=event_id, kind=RoleKind.VOLUNTEER
    ).prefetch_related("event")
    if role is None:
        raise UserInputError(N_("Only this event's volunteers and organizers can do this."))
    role.on_duty = on
    role.duty_changed_at = now or _now()
    await role.save(update_fields=["on_duty", "duty_changed_at"])
    return role


async def send_waves(
    who: Who, language: str | None = None, now: datetime | None = None
) -> bool | None:
    """/waves: the cards of her events' coming departures (and of the last two hours), then
    who is without a group, queued in that order; her cards are kept up to date like those of
    the reminders. `language` is hers if she never chose one. None when she is neither a
    volunteer nor an organizer of an event not over yet; False when there is nothing to show."""
    cards = await upcoming_wave_cards(who, now)
    if cards is None:
        return None
    person = await ensure_person(who, language)
    alone = await upcoming_alone(who, now)
    if not cards and not alone:
        return False
    async with in_transaction():
        for state in cards:
            await send_card(person, state)
        for text in alone:
            await outbox.enqueue(person, text, priority=URGENT)
        for state in cards:
            await groups.changed(state.group)
    return True


async def upcoming_wave_cards(who: Who, now: datetime | None = None) -> list[GroupState] | None:
    """The departure groups of her events' coming waves (and those of the last two hours);
    None when she is neither a volunteer nor an organizer of an event not over yet."""
    now = now or _now()
    event_ids = await Role.filter(
        **people.lookup(who, "person"),
        kind__in=[RoleKind.VOLUNTEER, RoleKind.ORGANIZER],
        event__closing__gt=now - timedelta(hours=12),
    ).values_list("event_id", flat=True)
    if not event_ids:
        return None
    waves = await DepartureWave.filter(
        event_id__in=list(event_ids), departs_at__gte=now - timedelta(hours=2)
    ).order_by("departs_at")
    cards = []
    for wave in waves:
        cards.extend(await wave_groups(wave.id))
    return cards


async def upcoming_alone(who: Who, now: datetime | None = None) -> list[str]:
    """For /waves: who is without a group in her events' coming arrivals and departures."""
    now = now or _now()
    roles = await Role.filter(
        **people.lookup(who, "person"),
        kind__in=[RoleKind.VOLUNTEER, RoleKind.ORGANIZER],
        event__closing__gt=now - timedelta(hours=12),
    ).select_related("person")
    if not roles:
        return []
    t = language_of(roles[0].person)
    texts = []
    slots = (
        await ArrivalSlot.filter(event_id__in=[role.event_id for role in roles], ends_at__gte=now)
        .order_by("starts_at")
        .select_related("event", "meeting_point")
    )
    for slot in slots:
        alone = await alone_at_arrival(slot)
        if alone:
            texts.append(arrival_alone_text(t, slot, alone))
    waves = (
        await DepartureWave.filter(
            event_id__in=[role.event_id for role in roles], departs_at__gte=now - timedelta(hours=2)
        )
        .order_by("departs_at")
        .select_related("event")
    )
    for wave in waves:
        alone = await alone_in_wave(wave)
        if alone:
            texts.append(alone_text(t, wave, wave.event.timezone, alone))
    return texts
