"""Test alerts: before doors open, an organizer checks that alerts reach the volunteers on duty.
Each volunteer gets a test message with a "Received" button; the organizers' board shows who
acknowledged the latest test and who did not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from companion_bot import actions, clock
from companion_bot.i18n import N_, escape
from companion_bot.models import AlertDrill, AlertDrillReceipt, Event, RoleKind
from companion_bot.services import closing, outbox, people
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who
from companion_bot.services.roles import require_organizer

TEST_ALERT = N_(
    "🧪 <b>Test alert</b> for {event}, sent by {name}: this is only a test, nobody needs help. "
    "Tap “Received” so the organizers know alerts reach you."
)
RECEIVED = N_("✅ Received")


@dataclass(frozen=True)
class Receipt:
    name: str
    acknowledged_at: datetime | None


@dataclass(frozen=True)
class DrillView:
    sent_at: datetime
    receipts: list[Receipt]


async def send_test_alert(who: Who, event_id: int, now: datetime | None = None) -> int:
    """An organizer's test alert to the volunteers on duty; returns how many it went to."""
    now = now or clock.now()
    event = await require_organizer(who, event_id)
    if now >= event.doors_open:
        raise UserInputError(
            N_(
                "The doors are open: test alerts are for before, so that nobody takes one for a "
                "real alert."
            )
        )
    volunteers = await closing.on_duty_team(event.id, kinds=(RoleKind.VOLUNTEER,))
    if not volunteers:
        raise UserInputError(N_("No volunteer is on duty: ask them to tap /duty first."))
    organizers = await closing.on_duty_team(event.id, kinds=(RoleKind.ORGANIZER,))
    sender = next((p for p in organizers if people.is_who(p, who)), None)
    async with in_transaction():
        drill = await AlertDrill.create(event=event, sent_by=sender)
        for volunteer in volunteers:
            receipt = await AlertDrillReceipt.create(drill=drill, person=volunteer)
            t = language_of(volunteer)
            await outbox.enqueue(
                volunteer,
                t.gettext(TEST_ALERT).format(
                    event=escape(event.localized("name", t.language)),
                    name=escape(sender.display_name if sender else "?"),
                ),
                choices=[[(t.gettext(RECEIVED), actions.DrillReceived(receipt.id).encode())]],
                priority=closing.URGENT,
                dedupe_key=f"testalert:{drill.id}:{volunteer.id}",
            )
    return len(volunteers)


async def acknowledge(who: Who, receipt_id: int, now: datetime | None = None) -> bool:
    """Her "Received"; False when she had already tapped it."""
    receipt = await AlertDrillReceipt.get_or_none(id=receipt_id, **people.lookup(who, "person"))
    if receipt is None:
        raise UserInputError(N_("This button is no longer active."))
    return bool(
        await AlertDrillReceipt.filter(id=receipt.id, acknowledged_at=None).update(
            acknowledged_at=now or clock.now()
        )
    )


async def latest(event: Event) -> DrillView | None:
    """The event's latest test alert and each volunteer's answer, for the board."""
    drill = await AlertDrill.filter(event=event).order_by("-created_at", "-id").first()
    if drill is None:
        return None
    receipts = await AlertDrillReceipt.filter(drill=drill).prefetch_related("person")
    return DrillView(
        drill.created_at,
        sorted(
            (Receipt(r.person.display_name or "?", r.acknowledged_at) for r in receipts),
            key=lambda r: r.name.casefold(),
        ),
    )
