"""Organizers' broadcasts (all attendees, one wave, volunteers, organizers), the delivery
report that follows, the dashboard counts, and changing departure waves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.i18n import N_, escape, translator
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
from companion_bot.services import closing, outbox, scheduler
from companion_bot.services.errors import UserInputError

REPORT_TASK = "broadcast_report"
REPORT_POLL = timedelta(seconds=5)
BROADCAST_MAX = 3000


class Audience(StrEnum):
    ATTENDEES = "all"
    WAVE = "wave"
    VOLUNTEERS = "volunteers"
    ORGANIZERS = "organizers"


def _now() -> datetime:
    return clock.now()


async def organizer_events(telegram_id: int, now: datetime | None = None) -> list[Event]:
    """Her events as an organizer, not over for more than half a day."""
    now = now or _now()
    return (
        await Event.filter(
            roles__person__telegram_id=telegram_id,
            roles__kind=RoleKind.ORGANIZER,
            closing__gt=now - timedelta(hours=12),
        )
        .distinct()
        .order_by("doors_open")
    )


async def require_organizer(telegram_id: int, event_id: int) -> Event:
    event = await Event.get_or_none(
        id=event_id, roles__person__telegram_id=telegram_id, roles__kind=RoleKind.ORGANIZER
    )
    if event is None:
        raise UserInputError(N_("Only this event's organizers can do this."))
    return event


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
    telegram_id: int, event_id: int, audience: Audience, wave_id: int | None, text: str
) -> Broadcast:
    event = await require_organizer(telegram_id, event_id)
    if audience is Audience.WAVE and not await DepartureWave.exists(id=wave_id, event=event):
        raise UserInputError(N_("This button is no longer active."))
    people = await recipients(event.id, audience, wave_id)
    author = await Person.get(telegram_id=telegram_id)
    async with in_transaction():
        broadcast = await Broadcast.create(
            event=event, author=author, audience=audience.value, departure_wave_id=wave_id,
            text=text, recipients=len(people),
        )  # fmt: skip
        await outbox.enqueue_many(
            outbox.Outgoing(
                chat_id=person.telegram_id,
                text=translator(person.language or "fr").gettext(BROADCAST_HEADER).format(
                    event=escape(event.name)
                ) + "\n\n" + escape(text),
                broadcast_id=broadcast.id,
                dedupe_key=f"broadcast:{broadcast.id}:{person.id}",
            )
            for person in people
        )  # fmt: skip
        await scheduler.schedule(REPORT_TASK, _now() + REPORT_POLL, {"broadcast_id": broadcast.id},
                                 dedupe_key=f"broadcast:{broadcast.id}:report")  # fmt: skip
    return broadcast


def report_text(t, count: int, sent: int, blocked: int, failed: int) -> str:
    return t.ngettext(
        "📣 Delivery report of your message to {count} person: {sent} sent, {blocked} blocked "
        "the bot, {failed} failed.",
        "📣 Delivery report of your message to {count} people: {sent} sent, {blocked} blocked "
        "the bot, {failed} failed.",
        count,
    ).format(count=count, sent=sent, blocked=blocked, failed=failed)


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
        t = translator(broadcast.author.language or "fr")
        await outbox.enqueue(
            broadcast.author.telegram_id,
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


async def dashboard(telegram_id: int, event_id: int) -> Dashboard:
    return await event_dashboard(await require_organizer(telegram_id, event_id))


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
                no_news=await in_wave.filter(no_news_alerted_at__not_isnull=True, home_at=None).count(),
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


async def change_wave(
    telegram_id: int, wave_id: int, departs_at: datetime, meeting_point_id: int | None
) -> DepartureWave:
    """Move a wave (time and meeting point): only the people of that wave are told."""
    wave = await DepartureWave.get_or_none(id=wave_id).prefetch_related("event")
    if wave is None:
        raise UserInputError(N_("This button is no longer active."))
    event = await require_organizer(telegram_id, wave.event_id)
    if meeting_point_id is not None and not await MeetingPoint.exists(id=meeting_point_id,
                                                                       event=event):  # fmt: skip
        raise UserInputError(N_("This button is no longer active."))
    if not (event.doors_open < departs_at <= event.closing + timedelta(hours=6)):
        raise UserInputError(N_("The departure at {time} comes long after closing."),
                             time=departs_at.strftime("%H:%M"))  # fmt: skip
    if await DepartureWave.filter(event=event, departs_at=departs_at).exclude(id=wave_id).exists():
        raise UserInputError(N_("Two departures are at the same time."))
    async with in_transaction():
        wave.departs_at = departs_at
        if meeting_point_id is not None:
            wave.meeting_point_id = meeting_point_id
        await wave.save(update_fields=["departs_at", "meeting_point_id"])
        await CompanionGroup.filter(departure_wave=wave, kind=GroupKind.DEPARTURE).update(
            meet_at=departs_at, meeting_point_id=wave.meeting_point_id
        )
        await wave.fetch_related("meeting_point")
        point = wave.meeting_point.name if wave.meeting_point else event.venue_name
        stamp = f"{departs_at.isoformat()}:{wave.meeting_point_id}"
        for registration in await Registration.filter(
            departure_wave=wave, status=RegistrationStatus.CONFIRMED, wants_departure_group=True
        ).prefetch_related("person"):
            t = translator(registration.person.language or "fr")
            await outbox.enqueue(
                registration.person.telegram_id,
                t.gettext(WAVE_MOVED).format(time=t.time(departs_at, event.timezone),
                                             point=escape(point)),
                priority=closing.URGENT,
                dedupe_key=f"wavemoved:{wave.id}:{registration.id}:{stamp}",
            )  # fmt: skip
        await closing.schedule_wave_reminder(event, wave)
    return wave


async def add_wave(telegram_id: int, event_id: int, departs_at: datetime) -> DepartureWave:
    event = await require_organizer(telegram_id, event_id)
    if await DepartureWave.filter(event=event, departs_at=departs_at).exists():
        raise UserInputError(N_("Two departures are at the same time."))
    first_point = await MeetingPoint.filter(event=event).order_by("position", "id").first()
    wave = await DepartureWave.create(event=event, departs_at=departs_at, meeting_point=first_point)
    await closing.schedule_wave_reminder(event, wave)
    return wave
