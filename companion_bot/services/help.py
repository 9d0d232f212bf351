"""Help alerts: an attendee asks for help at one of three levels (as festival safety teams
use them); the on-duty volunteers get the alert and the first "I'm on it" wins; unclaimed
alerts go to the organizers after a short delay; she is kept informed until it is closed.

Her location at the venue, if she shares it, is kept only while the alert is open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.i18n import N_, escape
from companion_bot.models import (
    Event,
    HelpAlert,
    HelpLevel,
    HelpStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Registration,
    RegistrationStatus,
    RoleKind,
)
from companion_bot.services import locations, outbox, scheduler
from companion_bot.services.closing import may_act, on_duty_team
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of, signed_markup

ESCALATION_TASK = "help_escalation"
ALERT_PRIORITY = 20  # before any reminder or broadcast
ALERT_PURPOSE = "help_alert"
# An event is "live" for help from a while before doors open until the morning after.
LIVE_BEFORE = timedelta(hours=3)
LIVE_AFTER = timedelta(hours=12)
ESCALATE_AFTER = {
    HelpLevel.UNCOMFORTABLE: timedelta(minutes=2),
    HelpLevel.HARASSED: timedelta(minutes=2),
    HelpLevel.DANGER: timedelta(minutes=1),
}
LEVEL_NAMES = {
    HelpLevel.UNCOMFORTABLE: N_("😟 I feel uncomfortable"),
    HelpLevel.HARASSED: N_("⚠️ I'm being harassed"),
    HelpLevel.DANGER: N_("🚨 I'm in danger"),
}
OPEN_STATUSES = (HelpStatus.OPEN, HelpStatus.CLAIMED)


def _now() -> datetime:
    return clock.now()


async def live_event_of(telegram_id: int, now: datetime | None = None) -> Event | None:
    """The event she is at (or about to be at), by her confirmed registration."""
    now = now or _now()
    registration = (
        await Registration.filter(
            person__telegram_id=telegram_id,
            status=RegistrationStatus.CONFIRMED,
            event__doors_open__lte=now + LIVE_BEFORE,
            event__closing__gte=now - LIVE_AFTER,
        )
        .order_by("event__doors_open")
        .prefetch_related("event")
        .first()
    )
    return registration.event if registration else None


async def open_alert_of(telegram_id: int) -> HelpAlert | None:
    return (
        await HelpAlert.filter(person__telegram_id=telegram_id, status__in=OPEN_STATUSES)
        .order_by("-id")
        .prefetch_related("event", "person", "claimed_by")
        .first()
    )


async def draft(telegram_id: int, level: str, now: datetime | None = None) -> HelpAlert:
    """Her chosen level, waiting for one confirming tap (a pocket can press one button)."""
    try:
        level = HelpLevel(level)
    except ValueError:
        raise UserInputError(N_("This button is no longer active.")) from None
    event = await live_event_of(telegram_id, now)
    if event is None:
        raise UserInputError(
            N_(
                "You are not signed up for an event happening now. If you are in danger, call "
                "112 (emergency number in France and Belgium) or go to a volunteer or the bar."
            )
        )
    person = await Person.get(telegram_id=telegram_id)
    return await HelpAlert.create(event=event, person=person, level=level)


@dataclass(frozen=True)
class Sent:
    alert: HelpAlert
    volunteers: int


ALERT_TEXT = N_("🆘 <b>{level}</b> — {name} needs help at {event}.")
ALERT_DETAIL = N_("Her words: “{text}”")
ON_IT = N_("🙋 I'm on it")
CLOSE = N_("✅ Close the alert")
TAKEN_BY = N_("Taken by {name} at {time}.")
CLOSED_BY = N_("Closed by {name} at {time}.")


async def confirm(telegram_id: int, alert_id: int, now: datetime | None = None) -> Sent:
    now = now or _now()
    alert = await own_alert(telegram_id, alert_id, (HelpStatus.DRAFT,))
    alert.status = HelpStatus.OPEN
    await alert.save(update_fields=["status"])
    volunteers = [p for p in await on_duty_team(alert.event_id, kinds=(RoleKind.VOLUNTEER,))]
    for volunteer in volunteers:
        await send_alert(alert, volunteer, escalation=False)
    delay = ESCALATE_AFTER[HelpLevel(alert.level)] if volunteers else timedelta(0)
    await scheduler.schedule(ESCALATION_TASK, now + delay, {"alert_id": alert.id},
                             dedupe_key=f"help:{alert.id}:escalation")  # fmt: skip
    return Sent(alert, len(volunteers))


async def own_alert(telegram_id: int, alert_id: int, statuses) -> HelpAlert:
    alert = await HelpAlert.get_or_none(
        id=alert_id, person__telegram_id=telegram_id, status__in=statuses
    ).prefetch_related("event", "person")
    if alert is None:
        raise UserInputError(N_("This button is no longer active."))
    return alert


def alert_text(t, alert: HelpAlert) -> str:
    lines = [
        t.gettext(ALERT_TEXT).format(
            level=t.gettext(LEVEL_NAMES[HelpLevel(alert.level)]),
            name=escape(alert.person.display_name if alert.person else "?"),
            event=escape(alert.event.name),
        )
    ]
    if alert.text:
        lines.append(t.gettext(ALERT_DETAIL).format(text=escape(alert.text)))
    return "\n".join(lines)


async def send_alert(alert: HelpAlert, recipient: Person, *, escalation: bool) -> None:
    t = language_of(recipient)
    text = alert_text(t, alert)
    if escalation:
        text = t.gettext(N_("⏰ Not claimed yet by a volunteer:")) + "\n" + text
    markup = signed_markup(recipient, [[(t.gettext(ON_IT), f"vh:claim:{alert.id}")]])
    await outbox.enqueue(
        recipient.telegram_id,
        text,
        reply_markup=markup,
        priority=ALERT_PRIORITY,
        dedupe_key=f"help:{alert.id}:{recipient.id}:{'esc' if escalation else 'vol'}",
        purpose=ALERT_PURPOSE,
        reference={"alert_id": alert.id},
    )
    if alert.latitude is not None:
        await outbox.enqueue(
            recipient.telegram_id,
            method="sendLocation",
            payload={"latitude": alert.latitude, "longitude": alert.longitude},
            priority=ALERT_PRIORITY,
            dedupe_key=f"help:{alert.id}:{recipient.id}:location:{'esc' if escalation else 'vol'}",
            purpose=locations.PURPOSE,  # the point is blanked once sent
        )


async def add_detail(
    telegram_id: int,
    text: str | None = None,
    location: tuple[float, float] | None = None,
) -> HelpAlert | None:
    """What she writes or shares while her alert is open goes to whoever handles it."""
    alert = await open_alert_of(telegram_id)
    if alert is None:
        return None
    if text:
        alert.text = (f"{alert.text}\n{text}" if alert.text else text)[-2000:]
    if location:
        alert.latitude, alert.longitude = location
    await alert.save(update_fields=["text", "latitude", "longitude"])
    recipients = (
        [alert.claimed_by]
        if alert.claimed_by
        else await on_duty_team(alert.event_id, kinds=(RoleKind.VOLUNTEER,))
    )
    for recipient in recipients:
        t = language_of(recipient)
        if text:
            await outbox.enqueue(
                recipient.telegram_id,
                t.gettext(N_("🆘 {name} adds: “{text}”")).format(
                    name=escape(alert.person.display_name), text=escape(text)
                ),
                priority=ALERT_PRIORITY,
                dedupe_key=f"help:{alert.id}:detail:{secrets.token_hex(6)}",  # /forget finds it
            )
        if location:
            await outbox.enqueue(
                recipient.telegram_id,
                method="sendLocation",
                payload={"latitude": location[0], "longitude": location[1]},
                priority=ALERT_PRIORITY,
                dedupe_key=f"help:{alert.id}:detail:{secrets.token_hex(6)}",
                purpose=locations.PURPOSE,
            )
    return alert


@dataclass(frozen=True)
class Claim:
    alert: HelpAlert
    first: bool
    claimed_by: str


CLAIMED_FOR_HER = N_("🙋 {name}, a volunteer, is on the way to you. Stay where you are if you can.")


async def claim(volunteer_telegram_id: int, alert_id: int, now: datetime | None = None) -> Claim:
    """The first claim wins; later ones learn who has it."""
    now = now or _now()
    alert = await HelpAlert.get_or_none(id=alert_id)
    if alert is None:
        raise UserInputError(N_("This button is no longer active."))
    volunteer = await may_act(volunteer_telegram_id, alert.event_id)
    updated = await HelpAlert.filter(id=alert_id, status=HelpStatus.OPEN).update(
        status=HelpStatus.CLAIMED, claimed_by_id=volunteer.id, claimed_at=now
    )
    await alert.refresh_from_db()
    await alert.fetch_related("claimed_by", "person", "event")
    if updated:
        await scheduler.cancel(f"help:{alert.id}:escalation")
        if alert.person is not None:
            t = language_of(alert.person)
            await outbox.enqueue(
                alert.person.telegram_id,
                t.gettext(CLAIMED_FOR_HER).format(name=escape(volunteer.display_name or "?")),
                priority=ALERT_PRIORITY,
                dedupe_key=f"help:{alert.id}:claimed",
            )
        await update_alert_messages(alert, TAKEN_BY, alert.claimed_at, except_person=volunteer)
    name = alert.claimed_by.display_name if alert.claimed_by else "?"
    return Claim(alert, bool(updated), name or "?")


async def update_alert_messages(
    alert: HelpAlert, note: str, moment: datetime | None, except_person: Person | None = None
) -> None:
    """Every copy of the alert shows who took it (or closed it), without its button."""
    copies = await OutboxMessage.filter(
        purpose=ALERT_PURPOSE, status=OutboxStatus.SENT, telegram_message_id__not_isnull=True
    )
    for copy in copies:
        if (copy.reference or {}).get("alert_id") != alert.id:
            continue
        if except_person is not None and copy.chat_id == except_person.telegram_id:
            continue
        recipient = await Person.get_or_none(telegram_id=copy.chat_id)
        if recipient is None:
            continue
        t = language_of(recipient)
        name = alert.claimed_by.display_name if alert.claimed_by else "?"
        text = (
            alert_text(t, alert)
            + "\n\n"
            + t.gettext(note).format(
                name=escape(name or "?"), time=t.time(moment or _now(), alert.event.timezone)
            )
        )
        await outbox.enqueue(
            copy.chat_id,
            method="editMessageText",
            payload={"message_id": copy.telegram_message_id, "text": text, "parse_mode": "HTML"},
            priority=ALERT_PRIORITY,
            dedupe_key=f"help:{alert.id}:edit:{copy.id}:{note[:8]}:{alert.status}",
        )


CLOSED_FOR_HER = N_(
    "✅ Your help request is closed. Take care of yourself; /help if you need us again."
)


async def close(telegram_id: int, alert_id: int, now: datetime | None = None) -> HelpAlert:
    """Closed by whoever claimed it (or an organizer, or herself): her location is forgotten."""
    now = now or _now()
    alert = await HelpAlert.get_or_none(id=alert_id, status__in=OPEN_STATUSES).prefetch_related(
        "person", "event", "claimed_by"
    )
    if alert is None:
        raise UserInputError(N_("This button is no longer active."))
    is_her = alert.person is not None and alert.person.telegram_id == telegram_id
    if not is_her:
        await may_act(telegram_id, alert.event_id)
    async with in_transaction():
        alert.status = HelpStatus.CLOSED
        alert.closed_at = now
        alert.latitude = alert.longitude = None
        await alert.save(update_fields=["status", "closed_at", "latitude", "longitude"])
        await scheduler.cancel(f"help:{alert.id}:escalation")
        if alert.person is not None and not is_her:
            t = language_of(alert.person)
            await outbox.enqueue(alert.person.telegram_id, t.gettext(CLOSED_FOR_HER),
                                 priority=ALERT_PRIORITY, dedupe_key=f"help:{alert.id}:closed")  # fmt: skip
    closer = await Person.get(telegram_id=telegram_id)
    alert.claimed_by = alert.claimed_by or closer
    await update_alert_messages(alert, CLOSED_BY, now)
    return alert


async def cancel(telegram_id: int, alert_id: int) -> HelpAlert:
    alert = await own_alert(telegram_id, alert_id, (HelpStatus.DRAFT,))
    alert.status = HelpStatus.CANCELLED
    await alert.save(update_fields=["status"])
    return alert


async def on_escalation(payload: dict, now: datetime) -> None:
    alert = await HelpAlert.get_or_none(id=payload["alert_id"], status=HelpStatus.OPEN)
    if alert is None:
        return
    await alert.fetch_related("person", "event")
    alert.escalated_at = now
    await alert.save(update_fields=["escalated_at"])
    for organizer in await on_duty_team(alert.event_id, kinds=(RoleKind.ORGANIZER,)):
        await send_alert(alert, organizer, escalation=True)
