"""An event's life after creation: its schedule (matching rounds, wave reminders), the
morning-after follow-up, and the purge of personal data after the retention period, which
keeps only anonymous statistics."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from companion_bot import actions, clock, notices
from companion_bot.i18n import N_, escape
from companion_bot.models import (
    AlertDrill,
    Avoidance,
    Broadcast,
    CompanionGroup,
    Event,
    EventKind,
    FollowupAnswer,
    GroupKind,
    GroupMember,
    HelpAlert,
    MessageReport,
    Person,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
)
from companion_bot.services import closing, locations, outbox, people, privacy, scheduler
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who

FOLLOWUP_TASK = "morning_followup"
PURGE_TASK = "purge_event"
FOLLOWUP_LOCAL_TIME = time(11, 0)


def _now() -> datetime:
    return clock.now()


async def schedule_event(event: Event, now: datetime | None = None) -> None:
    """Everything timed about an event; safe to run again after the event changes."""
    await closing.schedule_timeline(event.id, now)
    await scheduler.schedule(FOLLOWUP_TASK, followup_time(event), {"event_id": event.id},
                             dedupe_key=f"event:{event.id}:followup")  # fmt: skip
    await scheduler.schedule(PURGE_TASK, event.closing + timedelta(days=event.retention_days),
                             {"event_id": event.id},
                             dedupe_key=f"event:{event.id}:purge")  # fmt: skip


def followup_time(event: Event) -> datetime:
    """Late morning after the night (local time), at least five hours after closing."""
    zone = ZoneInfo(event.timezone)
    local_closing = event.closing.astimezone(zone)
    moment = datetime.combine(local_closing.date(), FOLLOWUP_LOCAL_TIME, tzinfo=zone)
    if moment < local_closing + timedelta(hours=5):
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


# -- the morning after ------------------------------------------------------------------------

FOLLOWUP = N_(
    "☀️ Good morning! Three quick questions about <b>{event}</b>. Your answers go to the "
    "organizers as anonymous statistics, unless you ask to be contacted.\n\n"
    "Did your group meet?"
)
# Online: no trip home to ask about; her table is her group.
FOLLOWUP_ONLINE = N_(
    "☀️ Hello! Two quick questions about <b>{event}</b>. Your answers go to the organizers as "
    "anonymous statistics, unless you ask to be contacted.\n\n"
    "Did your table get together?"
)
ONLINE_MARK = "o"  # ends a follow-up button's data: the trip-home question is skipped
MET_ANSWERS = {
    "yes": N_("Yes"),
    "partly": N_("Partly"),
    "no": N_("No"),
    "none": N_("I had no group"),
}
HOME_ANSWERS = {"yes": N_("Yes, all good"), "no": N_("Not really")}


async def on_followup(payload: dict, now: datetime) -> None:
    await locations.blank_finished()  # the night is over: no point is kept any longer
    event = await Event.get_or_none(id=payload["event_id"])
    if event is None or event.purged_at is not None:
        return
    registrations = await Registration.filter(
        event=event, status=RegistrationStatus.CONFIRMED
    ).prefetch_related("person")
    for registration in registrations:
        person = registration.person
        t = language_of(person)
        online = bool(registration.online) or event.kind == EventKind.ONLINE
        mark = ONLINE_MARK if online else None
        rows = [[(t.gettext(label), actions.FollowupMet(event.id, value, mark).encode())]
                for value, label in MET_ANSWERS.items()]  # fmt: skip
        await outbox.enqueue(
            person,
            t.gettext(FOLLOWUP_ONLINE if online else FOLLOWUP).format(
                event=escape(event.localized("name", t.language))
            ),
            choices=rows,
            payload=notices.outside_window(
                notices.MORNING_AFTER, event.localized("name", t.language)
            ),
            dedupe_key=f"followup:{event.id}:{person.id}",
        )


async def record_followup(
    who: Who,
    event_id: int,
    group_met: str,
    home_safe: str,
    report: str | None,
    contact: bool,
) -> FollowupAnswer:
    """Stored without her identity unless she asked to be contacted: then the organizers
    are told, by her display name, and can write to her through the bot."""
    from companion_bot.services import followups  # it builds on this module

    event = await Event.get(id=event_id)
    person = await Person.get(**people.lookup(who)) if contact else None
    async with in_transaction():
        answer = await FollowupAnswer.create(
            event=event,
            group_met=group_met if group_met in MET_ANSWERS else None,
            home_safe=home_safe if home_safe in HOME_ANSWERS else None,
            report=(report or "").strip()[:2000] or None,
            contact=person,
        )
        if person is not None:
            await followups.tell_organizers(answer)
    return answer


async def followup_summary(event_id: int) -> dict:
    answers = await FollowupAnswer.filter(event_id=event_id).prefetch_related("contact")
    return {
        "answers": len(answers),
        "group_met": dict(Counter(a.group_met for a in answers if a.group_met)),
        "home_safe": dict(Counter(a.home_safe for a in answers if a.home_safe)),
        "reports": [a.report for a in answers if a.report],
        "contact": [a.contact.display_name for a in answers if a.contact],
    }


# -- retention ------------------------------------------------------------------------------------


async def statistics(event: Event) -> dict:
    """Anonymous counts that outlive the personal data."""
    from companion_bot.services.export import night_statistics

    registrations = await Registration.filter(event=event)
    groups = await CompanionGroup.filter(event=event)
    alerts = await HelpAlert.filter(event=event)
    previous = dict(event.statistics or {})
    followups = await followup_summary(event.id)
    followups.pop("contact")
    followups["reports"] = len(followups["reports"])
    return previous | {
        "registrations": dict(Counter(r.status for r in registrations)),
        "wanted_departure_group": sum(1 for r in registrations if r.wants_departure_group),
        "arrival_groups": sum(
            1 for g in groups if g.kind == GroupKind.ARRIVAL and g.table_id is None
        ),
        # Online events: groups seated at a table, and who said she was in the call.
        "table_groups": sum(1 for g in groups if g.table_id is not None),
        "joined_table": sum(1 for r in registrations if r.joined_table_at),
        "departure_groups": sum(1 for g in groups if g.kind == GroupKind.DEPARTURE),
        "grouped_members": await GroupMember.filter(group__event=event).count(),
        "left": sum(1 for r in registrations if r.left_at),
        "home": sum(1 for r in registrations if r.home_at),
        "no_news_alerts": sum(1 for r in registrations if r.no_news_alerted_at),
        "help_alerts": dict(Counter(a.level for a in alerts)),
        "reports": await MessageReport.filter(event=event).count(),
        "followups": followups,
        **await night_statistics(event),
    }


async def purge_event(event_id: int, now: datetime | None = None) -> Event | None:
    """Delete the event's personal data; keep the event, organizers and anonymous counts."""
    now = now or _now()
    event = await Event.get_or_none(id=event_id)
    if event is None or event.purged_at is not None:
        return event
    async with in_transaction():
        event.statistics = await statistics(event)
        people = set(await Registration.filter(event=event).values_list("person_id", flat=True))
        people |= set(await Role.filter(event=event, kind=RoleKind.VOLUNTEER)
                      .values_list("person_id", flat=True))  # fmt: skip
        await CompanionGroup.filter(event=event).delete()
        await Registration.filter(event=event).delete()
        await HelpAlert.filter(event=event).delete()
        await MessageReport.filter(event=event).delete()
        await AlertDrill.filter(event=event).delete()  # who was sent a test alert, and answered
        await FollowupAnswer.filter(event=event).update(contact_id=None, report=None)
        await Broadcast.filter(event=event).update(text="")
        await Role.filter(event=event, kind=RoleKind.VOLUNTEER).delete()
        for person_id in people:
            await delete_if_unused(person_id)
        event.purged_at = now
        await event.save(update_fields=["statistics", "purged_at"])
    await outbox.purge(event.closing + timedelta(days=1))
    return event


async def delete_if_unused(person_id: int) -> None:
    """Someone with nothing left here is forgotten (with her conversation state), unless she
    asked to avoid someone: that wish must outlive the event. Being avoided keeps nothing:
    the wish holds through a keyed hash of her id (see `privacy.delete_person`)."""
    if (
        await Registration.exists(person_id=person_id)
        or await Role.exists(person_id=person_id)
        or await Avoidance.exists(person_id=person_id)
        or await Event.exists(created_by_id=person_id)
    ):
        return
    person = await Person.get_or_none(id=person_id)
    if person is not None:
        await privacy.delete_person(person)


async def on_purge(payload: dict, now: datetime) -> None:
    await purge_event(int(payload["event_id"]), now)
