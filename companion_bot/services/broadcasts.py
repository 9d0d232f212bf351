"""Organizers' broadcasts (all attendees, one wave, volunteers, organizers), the delivery
report that follows, the dashboard counts, changing departure waves and the event's
closing-time delays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.i18n import N_, N_plural, Translator, escape
from companion_bot.models import (
    Broadcast,
    CompanionGroup,
    DepartureWave,
    Event,
    GroupKind,
    GroupMember,
    GroupStatus,
    MeetingPoint,
    MemberStatus,
    Person,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
)
from companion_bot.services import closing, groups, outbox, people, scheduler
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who
from companion_bot.services.roles import require_organizer
from companion_bot.services.texts import meeting_place

REPORT_TASK = "broadcast_report"
REPORT_POLL = timedelta(seconds=5)


class Audience(StrEnum):
    ATTENDEES = "all"
    WAVE = "wave"
    VOLUNTEERS = "volunteers"
    ORGANIZERS = "organizers"


def _now() -> datetime:
    return clock.now()


async def organizer_events(who: Who, now: datetime | None = None) -> list[Event]:
    """Her events as an organizer, not over for more than half a day."""
    now = now or _now()
    return (
        await Event.filter(
            **people.lookup(who, "roles__person"),
            roles__kind=RoleKind.ORGANIZER,
            closing__gt=now - timedelta(hours=12),
        )
        .distinct()
        .order_by("doors_open")
    )


async def organizer_history(who: Who, limit: int) -> list[Event]:
    """Her events as an organizer, past ones included, the latest first (for statistics)."""
    return list(
        await Event.filter(**people.lookup(who, "roles__person"), roles__kind=RoleKind.ORGANIZER)
        .distinct()
        .order_by("-doors_open")
        .limit(limit)
    )


async def event_waves(event_id: int) -> list[DepartureWave]:
    """The event's departure waves, in time order, with their meeting points."""
    return list(
        await DepartureWave.filter(event_id=event_id)
        .order_by("departs_at", "id")
        .prefetch_related("meeting_point")
    )


async def meeting_points(event_id: int) -> list[MeetingPoint]:
    return list(await MeetingPoint.filter(event_id=event_id).order_by("position", "id"))


async def recipients(event_id: int, audience: Audience, wave_id: int | None) -> list[Person]:
    if audience in (Audience.VOLUNTEERS, Audience.ORGANIZERS):
        kind = RoleKind.VOLUNTEER if audience is Audience.VOLUNTEERS else RoleKind.ORGANIZER
        roles = await Role.filter(event_id=event_id, kind=kind).prefetch_related("person")
        return list({role.person_id: role.person for role in roles}.values())
    query = Registration.filter(event_id=event_id, status=RegistrationStatus.CONFIRMED)
    if audience is Audience.WAVE:
        query = query.filter(departure_wave_id=wave_id, wants_departure_group=True)
    return [registration.person for registration in await query.prefetch_related("person")]


BROADCAST_HEADER = N_("📣 From the organizers of {event}:")


async def send_broadcast(
    who: Who, event_id: int, audience: Audience, wave_id: int | None, text: str
) -> Broadcast:
    event = await require_organizer(who, event_id)
    if audience is Audience.WAVE and not await DepartureWave.exists(id=wave_id, event=event):
        raise UserInputError(N_("This button is no longer active."))
    audience_people = await recipients(event.id, audience, wave_id)
    author = await Person.get(**people.lookup(who))
    async with in_transaction():
        broadcast = await Broadcast.create(
            event=event, author=author, audience=audience.value, departure_wave_id=wave_id,
            text=text, recipients=len(audience_people),
        )  # fmt: skip
        await outbox.enqueue_many(
            outbox.Outgoing(
                to=person,
                text=header(language_of(person), event) + "\n\n" + escape(text),
                broadcast_id=broadcast.id,
                dedupe_key=f"broadcast:{broadcast.id}:{person.id}",
            )
            for person in audience_people
        )  # fmt: skip
        await scheduler.schedule(REPORT_TASK, _now() + REPORT_POLL, {"broadcast_id": broadcast.id},
                                 dedupe_key=f"broadcast:{broadcast.id}:report")  # fmt: skip
    return broadcast


def header(t: Translator, event: Event) -> str:
    """What a broadcast starts with, in the recipient's language."""
    return t.gettext(BROADCAST_HEADER).format(event=escape(event.localized("name", t.language)))


REPORT = N_plural(
    "📣 Delivery report of your message to {count} person:",
    "📣 Delivery report of your message to {count} people:",
)
REPORT_COUNTS = (
    N_plural("{count} sent", "{count} sent"),
    N_plural("{count} blocked the bot", "{count} blocked the bot"),
    N_plural("{count} failed", "{count} failed"),
)


def report_text(t: Translator, count: int, sent: int, blocked: int, failed: int) -> str:
    counts = zip(REPORT_COUNTS, (sent, blocked, failed), strict=True)
    return (
        t.plural(REPORT, count)
        + " "
        + ", ".join(t.plural(message, number) for message, number in counts)
        + "."
    )


async def on_report_task(payload: dict, now: datetime) -> None:
    """When the broadcast is done, its author gets the delivery report."""
    broadcast = await Broadcast.get_or_none(id=payload["broadcast_id"]).prefetch_related("author")
    if broadcast is None or broadcast.completed_at is not None:
        return
    report = await outbox.delivery_report(broadcast.id)
    if not report.finished:
        await scheduler.schedule(REPORT_TASK, now + REPORT_POLL, payload,
                                 dedupe_key=f"broadcast:{broadcast.id}:report")  # fmt: skip
        return
    broadcast.completed_at = now
    await broadcast.save(update_fields=["completed_at"])
    if broadcast.author is not None:
        t = language_of(broadcast.author)
        await outbox.enqueue(
            broadcast.author,
            report_text(t, broadcast.recipients, report.sent, report.blocked, report.failed),
            priority=closing.URGENT,
            dedupe_key=f"broadcast:{broadcast.id}:report",
        )  # fmt: skip


# -- dashboard -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WaveCounts:
    wave: DepartureWave | None
    signed_up: int
    grouped: int
    at_meeting_point: int
    left: int
    home: int
    no_news: int


@dataclass(frozen=True)
class Dashboard:
    event: Event
    confirmed: int
    arrival_grouped: int
    unplaced: int
    waves: list[WaveCounts]
    open_alerts: int


async def dashboard(who: Who, event_id: int) -> Dashboard:
    return await event_dashboard(await require_organizer(who, event_id))


async def event_dashboard(event: Event) -> Dashboard:
    """The counts, without the role check: callers have checked who may see them."""
    from companion_bot.models import HelpAlert, HelpStatus, Unplaced

    confirmed = Registration.filter(event=event, status=RegistrationStatus.CONFIRMED)
    waves = []
    for wave in await DepartureWave.filter(event=event).prefetch_related("meeting_point"):
        in_wave = confirmed.filter(departure_wave=wave, wants_departure_group=True)
        waves.append(
            WaveCounts(
                wave=wave,
                signed_up=await in_wave.count(),
                grouped=await grouped_count(event.id, GroupKind.DEPARTURE, wave.id),
                at_meeting_point=await in_wave.filter(at_meeting_point_at__not_isnull=True).count(),
                left=await in_wave.filter(left_at__not_isnull=True).count(),
                home=await in_wave.filter(home_at__not_isnull=True).count(),
                no_news=await in_wave.filter(no_news_alerted_at__not_isnull=True,
                                             home_at=None).count(),
            )
        )  # fmt: skip
    return Dashboard(
        event=event,
        confirmed=await confirmed.count(),
        arrival_grouped=await grouped_count(event.id, GroupKind.ARRIVAL, None),
        unplaced=await Unplaced.filter(event=event, resolved_at=None).count(),
        waves=waves,
        open_alerts=await HelpAlert.filter(
            event=event, status__in=[HelpStatus.OPEN, HelpStatus.CLAIMED]
        ).count(),
    )


async def grouped_count(event_id: int, kind: GroupKind, wave_id: int | None) -> int:
    query = GroupMember.filter(
        status=MemberStatus.ACTIVE,
        group__event_id=event_id,
        group__kind=kind,
        group__status__in=[GroupStatus.ANNOUNCED, GroupStatus.LEFT],
    )
    if wave_id is not None:
        query = query.filter(group__departure_wave_id=wave_id)
    return await query.count()


# -- changing departure waves ----------------------------------------------------------------


WAVE_MOVED = N_("🕒 Change: your departure now leaves at <b>{time}</b> from <b>{point}</b>.")
WAVE_REMOVED = N_(
    "🕒 Change: the {old} departure is cancelled. You now leave at <b>{time}</b> from "
    "<b>{point}</b> (with your group, if you have one)."
)
# A departure may leave this long after closing (the last ones out, tidying up).
DEPARTURE_MARGIN = timedelta(hours=3)


def local_clock(moment: datetime, timezone: str) -> str:
    """HH:MM on the event's clocks (as Translator.time shows it in every language)."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def check_departure_time(event: Event, departs_at: datetime) -> None:
    """A departure leaves after the doors open and at most DEPARTURE_MARGIN after closing.

    Typed clock times are read as their first occurrence after the doors open, so "22:00"
    for doors at 23:00 becomes 22:00 the next day: whichever of the two readings is nearer
    the night says whether it is too early or too late."""
    latest = event.closing + DEPARTURE_MARGIN
    if event.doors_open < departs_at <= latest:
        return
    zone = event.timezone
    shown = {
        "time": local_clock(departs_at, zone),
        "doors": local_clock(event.doors_open, zone),
        "closing": local_clock(event.closing, zone),
    }
    day_before = departs_at - timedelta(days=1)
    if departs_at <= event.doors_open or (
        day_before < event.doors_open and event.doors_open - day_before < departs_at - latest
    ):
        raise UserInputError(
            N_("The departure at {time} would be before the doors open ({doors})."), **shown
        )
    raise UserInputError(N_("The departure at {time} comes long after closing."), **shown)


async def meeting_point_of(event: Event, meeting_point_id: int | None) -> MeetingPoint | None:
    """The event's meeting point of that id, refused if it is another event's."""
    if meeting_point_id is None:
        return None
    point = await MeetingPoint.get_or_none(id=meeting_point_id, event=event)
    if point is None:
        raise UserInputError(N_("This button is no longer active."))
    return point


async def change_wave(
    who: Who, wave_id: int, departs_at: datetime, meeting_point_id: int | None
) -> DepartureWave:
    """Move a wave (time and meeting point): only the people of that wave are told."""
    wave = await DepartureWave.get_or_none(id=wave_id).prefetch_related("event")
    if wave is None:
        raise UserInputError(N_("This button is no longer active."))
    event = await require_organizer(who, wave.event_id)
    point = await meeting_point_of(event, meeting_point_id)
    check_departure_time(event, departs_at)
    if await DepartureWave.filter(event=event, departs_at=departs_at).exclude(id=wave_id).exists():
        raise UserInputError(N_("Two departures are at the same time."))
    async with in_transaction():
        wave.departs_at = departs_at
        if point is not None:
            wave.meeting_point = point
        await wave.save(update_fields=["departs_at", "meeting_point_id"])
        await CompanionGroup.filter(departure_wave=wave, kind=GroupKind.DEPARTURE).update(
            meet_at=departs_at, meeting_point_id=wave.meeting_point_id
        )
        await wave.fetch_related("meeting_point")
        stamp = f"{departs_at.isoformat()}:{wave.meeting_point_id}"
        await tell_wave(wave, event, "wavemoved", stamp, WAVE_MOVED)
        await closing.schedule_wave_reminder(event, wave)
        await closing.wave_changed(wave.id)
    return wave


async def tell_wave(
    wave: DepartureWave,
    event: Event,
    key: str,
    stamp: str,
    message: str,
    only: list[int] | None = None,
    old: str = "",
) -> int:
    """Everyone leaving with `wave` (or those of them in `only`, registration ids) hears
    where and when it now leaves; returns how many."""
    query = Registration.filter(
        departure_wave=wave, status=RegistrationStatus.CONFIRMED, wants_departure_group=True
    )
    if only is not None:
        query = query.filter(id__in=only)
    registrations = await query.prefetch_related("person")
    for registration in registrations:
        t = language_of(registration.person)
        await outbox.enqueue(
            registration.person,
            t.gettext(message).format(time=t.time(wave.departs_at, event.timezone),
                                      point=escape(meeting_place(wave.meeting_point, event,
                                                                 t.language)),
                                      old=old),
            priority=closing.URGENT,
            dedupe_key=f"{key}:{wave.id}:{registration.id}:{stamp}",
        )  # fmt: skip
    return len(registrations)


async def add_wave(
    who: Who, event_id: int, departs_at: datetime, meeting_point_id: int | None = None
) -> DepartureWave:
    """A new departure, from the chosen meeting point (else the event's first one)."""
    event = await require_organizer(who, event_id)
    point = await meeting_point_of(event, meeting_point_id)
    check_departure_time(event, departs_at)
    if await DepartureWave.filter(event=event, departs_at=departs_at).exists():
        raise UserInputError(N_("Two departures are at the same time."))
    if point is None:
        point = await MeetingPoint.filter(event=event).order_by("position", "id").first()
    async with in_transaction():
        wave = await DepartureWave.create(event=event, departs_at=departs_at, meeting_point=point)
        await closing.schedule_wave_reminder(event, wave)
    return wave


@dataclass(frozen=True)
class Removal:
    moved_to: DepartureWave
    people: int  # told they now leave with `moved_to`


async def remove_wave(who: Who, wave_id: int, now: datetime | None = None) -> Removal:
    """Remove a departure not gone yet: its groups and people move to the nearest other
    departure (the later one on a tie) and are told."""
    now = now or _now()
    wave = await DepartureWave.get_or_none(id=wave_id).prefetch_related("event")
    if wave is None:
        raise UserInputError(N_("This button is no longer active."))
    event = await require_organizer(who, wave.event_id)
    if wave.departs_at <= now or await CompanionGroup.exists(
        departure_wave=wave, status=GroupStatus.LEFT
    ):
        raise UserInputError(N_("This departure has already left."))
    others = (
        await DepartureWave.filter(event=event)
        .exclude(id=wave.id)
        .prefetch_related("meeting_point")
    )
    if not others:
        raise UserInputError(N_("An event needs at least one departure: change this one instead."))
    target = min(
        others, key=lambda w: (abs(w.departs_at - wave.departs_at), w.departs_at < wave.departs_at)
    )
    async with in_transaction():
        await CompanionGroup.filter(departure_wave=wave, kind=GroupKind.DEPARTURE).update(
            departure_wave_id=target.id,
            meet_at=target.departs_at,
            meeting_point_id=target.meeting_point_id,
        )
        moved = list(await Registration.filter(departure_wave=wave).values_list("id", flat=True))
        await Registration.filter(id__in=moved).update(departure_wave_id=target.id)
        old = local_clock(wave.departs_at, event.timezone)
        told = await tell_wave(target, event, "waveremoved", str(wave.id), WAVE_REMOVED,
                               only=moved, old=old)  # fmt: skip
        await scheduler.cancel_prefix(f"wave:{wave.id}:")
        for prefix in (f"reminder:{wave.id}:", f"wavecard:{wave.id}:", f"wavealone:{wave.id}:"):
            await outbox.cancel(prefix)
        await closing.wave_changed(target.id)
        await wave.delete()
        await groups.schedule_round(event.id, now + timedelta(minutes=1))
    return Removal(target, told)


# -- the event's closing-time delays ------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    field: str  # the Event column
    label: str
    choices: tuple[int, ...]  # minutes


EVENT_SETTINGS = {
    "r": Setting("reminder_minutes", N_("Reminder before a departure"), (5, 10, 15, 20, 30, 45)),
    "c": Setting(
        "checkin_delay_minutes", N_("“Are you home?” after leaving"), (30, 45, 60, 90, 120, 180)
    ),
    "g": Setting(
        "group_ask_delay_minutes",
        N_("Her group asked “has anyone heard from her?” after that"),
        (5, 10, 15, 20, 30),
    ),
    "e": Setting(
        "escalation_delay_minutes",
        N_("Alert to the volunteers when still no news after that"),
        (10, 15, 20, 30, 45, 60),
    ),
    "o": Setting(
        "organizer_delay_minutes",
        N_("Alert to the organizers when still no news after that"),
        (10, 15, 20, 30, 45, 60),
    ),
}


async def change_setting(who: Who, event_id: int, code: str, minutes: int) -> Event:
    """An organizer changes one delay; reminders and alerts still waiting follow it."""
    event = await require_organizer(who, event_id)
    setting = EVENT_SETTINGS.get(code)
    if setting is None or minutes not in setting.choices:
        raise UserInputError(N_("This button is no longer active."))
    async with in_transaction():
        setattr(event, setting.field, minutes)
        await event.save(update_fields=[setting.field])
        await closing.reschedule_pending(event)
    return event
