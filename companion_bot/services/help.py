"""Help alerts: an attendee asks for help at one of three levels (as festival safety teams
use them); the on-duty volunteers get the alert and the first "I'm on it" wins; unclaimed
alerts go to the organizers after a short delay (at once when no volunteer is on duty); she
is kept informed until it is closed.

Each step is one transaction: the alert's new status, the messages it queues and the timers
it sets are written together or not at all, so a step that failed half-way is simply done
again (dedupe keys make a retry safe). Every copy of an alert sent to the team has a dedupe
key `help:<alert>:vol:<person>` (volunteers) or `help:<alert>:esc:<person>` (organizers): once
claimed or closed, the copies not sent yet are cancelled by that prefix and the others are
edited (`outbox.edit`: once sent, for a copy being sent right then) to say who has it.

Her location at the venue, if she shares it, is kept only while the alert is open.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from companion_bot import actions, clock, notices
from companion_bot.i18n import N_, Translator, escape
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
from companion_bot.services import locations, outbox, people, safeplace, scheduler
from companion_bot.services.closing import may_act, on_duty_team
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who

ESCALATION_TASK = "help_escalation"
CLAIM_REMINDER_TASK = "help_claim_reminder"
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
# Whoever claimed an alert is asked to close it if it is still open after this long.
CLAIM_REMINDER_AFTER = timedelta(minutes=20)
LEVEL_NAMES = {
    HelpLevel.UNCOMFORTABLE: N_("😟 I feel uncomfortable"),
    HelpLevel.HARASSED: N_("⚠️ I'm being harassed"),
    HelpLevel.DANGER: N_("🚨 I'm in danger"),
}
OPEN_STATUSES = (HelpStatus.OPEN, HelpStatus.CLAIMED)
VOLUNTEER_COPY, ORGANIZER_COPY = "vol", "esc"


def _now() -> datetime:
    return clock.now()


def key(alert_id: int, *parts: object) -> str:
    """The dedupe key of something about this alert: `help:<id>:<parts>`."""
    return ":".join(["help", str(alert_id), *map(str, parts)])


async def live_event_of(who: Who, now: datetime | None = None) -> Event | None:
    """The event she is at (or about to be at), by her confirmed registration."""
    now = now or _now()
    registration = (
        await Registration.filter(
            **people.lookup(who, "person"),
            status=RegistrationStatus.CONFIRMED,
            event__doors_open__lte=now + LIVE_BEFORE,
            event__closing__gte=now - LIVE_AFTER,
        )
        .order_by("event__doors_open")
        .prefetch_related("event")
        .first()
    )
    return registration.event if registration else None


async def open_alert_of(who: Who) -> HelpAlert | None:
    return (
        await HelpAlert.filter(**people.lookup(who, "person"), status__in=OPEN_STATUSES)
        .order_by("-id")
        .prefetch_related("event", "person", "claimed_by")
        .first()
    )


async def draft(who: Who, level: str, now: datetime | None = None) -> HelpAlert:
    """Her chosen level, waiting for one confirming tap (a pocket can press one button)."""
    try:
        level = HelpLevel(level)
    except ValueError:
        raise UserInputError(N_("This button is no longer active.")) from None
    event = await live_event_of(who, now)
    if event is None:
        raise UserInputError(
            N_(
                "You are not signed up for an event happening now. If you are in danger, call "
                "112 (emergency number in France and Belgium) or go to a volunteer or the bar."
            )
        )
    person = await Person.get(**people.lookup(who))
    return await HelpAlert.create(event=event, person=person, level=level)


@dataclass(frozen=True)
class Sent:
    alert: HelpAlert
    volunteers: int  # on-duty volunteers alerted
    organizers: int  # organizers alerted at once, because no volunteer was on duty


ALERT_TEXT = N_("🆘 <b>{level}</b> — {name} needs help at {event}.")
ALERT_DETAIL = N_("Her words: “{text}”")
ON_IT = N_("🙋 I'm on it")
CLOSE = N_("✅ Close the alert")
TAKEN_BY = N_("Taken by {name} at {time}.")
CLOSED_BY = N_("Closed by {name} at {time}.")
NOT_CLAIMED_YET = N_("⏰ Not claimed yet by a volunteer:")
NOBODY_ON_DUTY = N_("📵 No volunteer is on duty:")
ESCALATED_FOR_HER = N_(
    "⏰ No volunteer has answered yet: the organizers are alerted too. If you are in danger, "
    "call 112."
)


async def confirm(who: Who, alert_id: int, now: datetime | None = None) -> Sent:
    """Her confirming tap: the alert opens and goes out, and its escalation is set, together.

    A second tap (or a retry after a failure) answers with what was sent."""
    now = now or _now()
    alert = await own_alert(who, alert_id, (HelpStatus.DRAFT, *OPEN_STATUSES))
    async with in_transaction():
        opened = await HelpAlert.filter(id=alert.id, status=HelpStatus.DRAFT).update(
            status=HelpStatus.OPEN
        )
        if opened:
            alert.status = HelpStatus.OPEN
            volunteers = await on_duty_team(alert.event_id, kinds=(RoleKind.VOLUNTEER,))
            for volunteer in volunteers:
                await send_alert(alert, volunteer, VOLUNTEER_COPY)
            if volunteers:
                delay = ESCALATE_AFTER[HelpLevel(alert.level)]
                await scheduler.schedule(ESCALATION_TASK, now + delay, {"alert_id": alert.id},
                                         dedupe_key=key(alert.id, "escalation"))  # fmt: skip
            else:
                await escalate(alert, now, NOBODY_ON_DUTY)
    volunteers = await copies_sent(alert.id, VOLUNTEER_COPY)
    organizers = 0 if volunteers else await copies_sent(alert.id, ORGANIZER_COPY)
    return Sent(alert, volunteers, organizers)


async def copies_sent(alert_id: int, kind: str) -> int:
    """How many people got (or are getting) this alert as volunteers or as organizers."""
    return await OutboxMessage.filter(
        dedupe_key__startswith=key(alert_id, kind, ""), purpose=ALERT_PURPOSE
    ).count()


async def sent_text(t: Translator, sent: Sent) -> str:
    """What she is told once her alert went: who got it, what to do meanwhile."""
    _ = t.gettext
    if sent.volunteers:
        text = t.ngettext(
            "Alert sent to {count} volunteer on duty.",
            "Alert sent to {count} volunteers on duty.",
            sent.volunteers,
        ).format(count=sent.volunteers)
    elif sent.organizers:
        text = _("No volunteer is on duty right now: the organizers are alerted.")
    else:
        text = _(
            "Nobody from the team can be reached through the bot right now: go to the "
            "bar or the entrance, or call 112 if you are in danger."
        )
    text += "\n" + _(
        "If you can, write what is happening or share your location (📎 → Location): "
        "I pass it on. If you are in danger, call 112."
    )
    await sent.alert.fetch_related("event")
    advice = safeplace.help_advice(t, sent.alert.event)
    return text + (f"\n\n{advice}" if advice else "")


async def own_alert(who: Who, alert_id: int, statuses) -> HelpAlert:
    alert = await HelpAlert.get_or_none(
        id=alert_id, **people.lookup(who, "person"), status__in=statuses
    ).prefetch_related("event", "person")
    if alert is None:
        raise UserInputError(N_("This button is no longer active."))
    return alert


def alert_text(t, alert: HelpAlert) -> str:
    lines = [
        t.gettext(ALERT_TEXT).format(
            level=t.gettext(LEVEL_NAMES[HelpLevel(alert.level)]),
            name=escape(alert.person.display_name if alert.person else "?"),
            event=escape(alert.event.localized("name", t.language)),
        )
    ]
    if alert.text:
        lines.append(t.gettext(ALERT_DETAIL).format(text=escape(alert.text)))
    return "\n".join(lines)


async def send_alert(alert: HelpAlert, recipient: Person, kind: str, note: str | None = None):
    """Queue her alert, with "I'm on it", to one person of the team (and where she is)."""
    t = language_of(recipient)
    text = alert_text(t, alert)
    if note:
        text = t.gettext(note) + "\n" + text
    claim = [[(t.gettext(ON_IT), actions.VolunteerHelp("claim", alert.id).encode())]]
    await outbox.enqueue(
        recipient,
        text,
        choices=claim,
        priority=ALERT_PRIORITY,
        dedupe_key=key(alert.id, kind, recipient.id),
        purpose=ALERT_PURPOSE,
    )
    if alert.latitude is not None:
        await outbox.enqueue(
            recipient,
            kind=notices.LOCATION,
            payload={"latitude": alert.latitude, "longitude": alert.longitude},
            priority=ALERT_PRIORITY,
            dedupe_key=key(alert.id, kind, recipient.id, "loc"),
            purpose=locations.PURPOSE,  # the point is blanked once sent
        )


async def escalate(alert: HelpAlert, now: datetime, note: str) -> int:
    """The organizers get the alert; returns how many."""
    organizers = await on_duty_team(alert.event_id, kinds=(RoleKind.ORGANIZER,))
    alert.escalated_at = now
    await HelpAlert.filter(id=alert.id).update(escalated_at=now)
    for organizer in organizers:
        await send_alert(alert, organizer, ORGANIZER_COPY, note)
    return len(organizers)


async def add_detail(
    who: Who,
    text: str | None = None,
    location: tuple[float, float] | None = None,
) -> HelpAlert | None:
    """What she writes or shares while her alert is open goes to whoever handles it: the
    one who claimed it, else the volunteers on duty (and the organizers once alerted)."""
    alert = await open_alert_of(who)
    if alert is None:
        return None
    if alert.claimed_by:
        recipients = [alert.claimed_by]
    elif alert.escalated_at:
        recipients = await on_duty_team(alert.event_id)
    else:
        recipients = await on_duty_team(alert.event_id, kinds=(RoleKind.VOLUNTEER,))
    async with in_transaction():
        if text:
            alert.text = (f"{alert.text}\n{text}" if alert.text else text)[-2000:]
        if location:
            alert.latitude, alert.longitude = location
        await alert.save(update_fields=["text", "latitude", "longitude"])
        for recipient in recipients:
            t = language_of(recipient)
            if text:
                await outbox.enqueue(
                    recipient,
                    t.gettext(N_("🆘 {name} adds: “{text}”")).format(
                        name=escape(alert.person.display_name), text=escape(text)
                    ),
                    priority=ALERT_PRIORITY,
                    dedupe_key=key(alert.id, "detail", secrets.token_hex(6)),  # /forget finds it
                )
            if location:
                await outbox.enqueue(
                    recipient,
                    kind=notices.LOCATION,
                    payload={"latitude": location[0], "longitude": location[1]},
                    priority=ALERT_PRIORITY,
                    dedupe_key=key(alert.id, "detail", secrets.token_hex(6)),
                    purpose=locations.PURPOSE,
                )
    return alert


@dataclass(frozen=True)
class Claim:
    alert: HelpAlert
    first: bool  # she has it (won the claim, or pressed her winning claim again)
    claimed_by: str  # who has it ("?" when it was closed before anyone claimed it)


CLAIMED_FOR_HER = N_("🙋 {name}, a volunteer, is on the way to you. Stay where you are if you can.")


async def claim(volunteer_telegram_id: int, alert_id: int, now: datetime | None = None) -> Claim:
    """The first claim wins; later ones learn who has it. Copies not sent yet are cancelled
    and the sent ones say who took it."""
    now = now or _now()
    alert = await HelpAlert.get_or_none(id=alert_id)
    if alert is None:
        raise UserInputError(N_("This button is no longer active."))
    volunteer = await may_act(volunteer_telegram_id, alert.event_id)
    async with in_transaction():
        updated = await HelpAlert.filter(id=alert_id, status=HelpStatus.OPEN).update(
            status=HelpStatus.CLAIMED, claimed_by_id=volunteer.id, claimed_at=now
        )
        await alert.refresh_from_db()
        await alert.fetch_related("claimed_by", "person", "event")
        if updated:
            await scheduler.cancel(key(alert.id, "escalation"))
            await scheduler.schedule(CLAIM_REMINDER_TASK, now + CLAIM_REMINDER_AFTER,
                                     {"alert_id": alert.id},
                                     dedupe_key=key(alert.id, "reminder"))  # fmt: skip
            await tell(alert.person, alert, "claimed", CLAIMED_FOR_HER,
                       name=escape(volunteer.display_name or "?"))  # fmt: skip
            await update_alert_messages(alert, except_person=volunteer)
    if alert.status == HelpStatus.CLOSED and alert.claimed_by is None:
        raise UserInputError(N_("This alert is already closed."))
    name = alert.claimed_by.display_name if alert.claimed_by else None
    # Her own claim pressed again (a double tap, a lost answer) is still hers.
    mine = bool(updated) or alert.claimed_by_id == volunteer.id
    return Claim(alert, mine, name or "?")


async def update_alert_messages(
    alert: HelpAlert, except_person: Person | None = None, closer: Person | None = None
) -> None:
    """Copies not sent yet are cancelled; every other copy shows who took it (or closed it),
    without its button."""
    for kind in (VOLUNTEER_COPY, ORGANIZER_COPY):
        await outbox.cancel(key(alert.id, kind, ""))
    copies = await OutboxMessage.filter(
        dedupe_key__startswith=key(alert.id, ""),
        purpose=ALERT_PURPOSE,
        status__in=(OutboxStatus.SENDING, OutboxStatus.SENT),
    )
    for copy in copies:
        recipient = await outbox.recipient(copy)
        if recipient is not None and (except_person is None or recipient.id != except_person.id):
            await edit_copy(alert, copy, recipient, closer)


async def edit_copy(
    alert: HelpAlert, copy: OutboxMessage, recipient: Person, closer: Person | None = None
) -> None:
    """One copy of a claimed or closed alert: the alert, then who has it, no button."""
    t = language_of(recipient)
    if alert.status == HelpStatus.CLOSED:
        note, moment, who = CLOSED_BY, alert.closed_at, closer or alert.claimed_by
    else:
        note, moment, who = TAKEN_BY, alert.claimed_at, alert.claimed_by
    text = (
        alert_text(t, alert)
        + "\n\n"
        + t.gettext(note).format(
            name=escape((who.display_name if who else None) or "?"),
            time=t.time(moment or _now(), alert.event.timezone),
        )
    )
    await outbox.edit(copy, text, priority=ALERT_PRIORITY)


CLOSED_FOR_HER = N_(
    "✅ Your help request is closed. Take care of yourself; /help if you need us again."
)
CLOSED_BY_HER = N_("✅ {name} closed her help request herself.")


async def close(who: Who, alert_id: int, now: datetime | None = None) -> HelpAlert:
    """Closed by whoever claimed it (or an organizer, or herself): her location is forgotten,
    its timers stop, everyone who got it is told."""
    now = now or _now()
    alert = await HelpAlert.get_or_none(id=alert_id, status__in=OPEN_STATUSES).prefetch_related(
        "person", "event", "claimed_by"
    )
    if alert is None:
        raise UserInputError(N_("This button is no longer active."))
    is_her = alert.person is not None and people.is_who(alert.person, who)
    closer = alert.person if is_her else await may_act(who, alert.event_id)
    async with in_transaction():
        closed = await HelpAlert.filter(id=alert.id, status__in=OPEN_STATUSES).update(
            status=HelpStatus.CLOSED, closed_at=now, latitude=None, longitude=None
        )
        if not closed:
            raise UserInputError(N_("This alert is already closed."))
        alert.status, alert.closed_at = HelpStatus.CLOSED, now
        alert.latitude = alert.longitude = None
        await scheduler.cancel_prefix(key(alert.id, ""))
        if is_her:
            await tell(alert.claimed_by, alert, "closedbyher", CLOSED_BY_HER,
                       name=escape(alert.person.display_name))  # fmt: skip
        else:
            await tell(alert.person, alert, "closed", CLOSED_FOR_HER)
        await update_alert_messages(alert, closer=closer)
    return alert


async def cancel(who: Who, alert_id: int) -> HelpAlert:
    alert = await own_alert(who, alert_id, (HelpStatus.DRAFT,))
    alert.status = HelpStatus.CANCELLED
    await alert.save(update_fields=["status"])
    return alert


async def on_escalation(payload: dict, now: datetime) -> None:
    """Not claimed in time: the organizers get it, and she knows they do."""
    alert = await HelpAlert.get_or_none(id=payload["alert_id"], status=HelpStatus.OPEN)
    if alert is None:
        return
    await alert.fetch_related("person", "event")
    async with in_transaction():
        await escalate(alert, now, NOT_CLAIMED_YET)
        await tell(alert.person, alert, "escalated", ESCALATED_FOR_HER)


STILL_OPEN = N_("🆘 Is {name} safe now? Her alert is still open: close it once she is.")


async def on_claim_reminder(payload: dict, now: datetime) -> None:
    """Claimed a while ago and still open: whoever has it is asked to close it."""
    alert = await HelpAlert.get_or_none(id=payload["alert_id"], status=HelpStatus.CLAIMED)
    if alert is None:
        return
    await alert.fetch_related("person", "claimed_by")
    if alert.claimed_by is None:
        return
    close_button = (
        language_of(alert.claimed_by).gettext(CLOSE),
        actions.VolunteerHelp("close", alert.id).encode(),
    )
    await tell(alert.claimed_by, alert, "stillopen", STILL_OPEN,
               choices=[[close_button]],
               name=escape(alert.person.display_name if alert.person else "?"))  # fmt: skip


async def tell(
    person: Person | None,
    alert: HelpAlert,
    what: str,
    message: str,
    choices: list[list[notices.Choice]] | None = None,
    **values,
) -> None:
    """One message about the alert (once: `what` names it) to her or to someone of the team."""
    if person is None:
        return
    await outbox.enqueue(
        person,
        language_of(person).gettext(message).format(**values),
        choices=choices,
        priority=ALERT_PRIORITY,
        dedupe_key=key(alert.id, what),
    )
