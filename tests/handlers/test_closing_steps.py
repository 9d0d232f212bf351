"""Closing-time steps are all-or-nothing: a failure half-way leaves nothing half-done, and
pressing the same button again completes the step (once)."""

from __future__ import annotations

from datetime import timedelta

from companion_bot.models import (
    CompanionGroup,
    DepartureWave,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    OutboxMessage,
    Registration,
)
from companion_bot.services import groups, scheduler
from tests.handlers.test_relay import a_group_of_three, received
from tests.support import BotHarness


async def broken(*args, **kwargs):
    raise ConnectionError("database went away")


async def members_of(group: CompanionGroup) -> set[int]:
    """Telegram ids of the group's active members."""
    return {m.registration.person.telegram_id for m in await groups.active_members(group)}


async def test_group_has_left_is_all_or_nothing(harness: BotHarness, event, monkeypatch):
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(volunteer, "/waves")
    await harness.drain()  # the cards come through the outbox
    card = next(m for m in volunteer.messages() if "Ada —" in (m.text or ""))
    group = await CompanionGroup.get(
        kind=GroupKind.DEPARTURE, members__registration__person__telegram_id=ada.id
    )

    # Their check-in timers are the last writes: they fail after the status and the messages.
    monkeypatch.setattr(scheduler, "schedule", broken)
    await harness.tap(volunteer, "✅ Group has left", message=card)
    assert "something went wrong" in volunteer.last_text()
    assert (await CompanionGroup.get(id=group.id)).status == GroupStatus.ANNOUNCED
    assert not await Registration.filter(left_at__not_isnull=True).exists()
    assert not await OutboxMessage.filter(dedupe_key__startswith="safetrip:").exists()

    monkeypatch.undo()
    await harness.tap(volunteer, "✅ Group has left", message=card)
    await harness.drain()
    group = await CompanionGroup.get(id=group.id).prefetch_related("left_confirmed_by")
    assert group.status == GroupStatus.LEFT and group.left_confirmed_by.display_name == "Vic"
    members = await members_of(group)
    assert members
    for person in (ada, bea, cleo):
        safe_trip = "🚶 Your group has left. Have a safe trip! Tap when you're home."
        assert received(person).count(safe_trip) == (1 if person.id in members else 0)
        registration = await Registration.get(person__telegram_id=person.id)
        timer = await scheduler.pending(f"home:{registration.id}:reminder")
        assert (timer is not None) == (person.id in members)
    assert "Left at" in card.text and "confirmed by Vic" in card.text


async def test_leaving_later_is_all_or_nothing_and_pressing_again_does_not_move_her_on(
    harness: BotHarness, event, monkeypatch
):
    ada, bea, cleo = await a_group_of_three(harness, event)
    first, last = await DepartureWave.filter(event=event).order_by("departs_at")
    middle = await DepartureWave.create(
        event=event, departs_at=first.departs_at + timedelta(hours=1), meeting_point=None
    )
    await harness.travel_to(first.departs_at - timedelta(minutes=15))
    reminder = next(m for m in ada.messages() if "Your departure leaves at" in (m.text or ""))
    later = next(b for b in reminder.inline_buttons() if b.text == "⏰ I'm leaving later")
    registration = await Registration.get(person__telegram_id=ada.id)
    group = await CompanionGroup.get(
        kind=GroupKind.DEPARTURE, members__registration__person__telegram_id=ada.id
    )
    others = (await members_of(group)) - {ada.id}
    assert others

    # Placing her in the next departure is the last step: it fails after the rest.
    monkeypatch.setattr(groups, "place_signup", broken)
    await harness.tap(ada, "⏰ I'm leaving later", message=reminder)
    assert "something went wrong" in ada.last_text()
    await registration.refresh_from_db()
    assert registration.departure_wave_id == first.id
    assert await GroupMember.exists(registration=registration, status=MemberStatus.ACTIVE,
                                    group__kind=GroupKind.DEPARTURE)  # fmt: skip
    assert not await OutboxMessage.filter(dedupe_key__startswith="later:").exists()

    monkeypatch.undo()
    reply = await harness.tap(ada, "⏰ I'm leaving later", message=reminder)
    assert "you now leave with the 04:00 departure" in reply.text
    # Her answer lost, she presses the same button again: she stays with the 04:00 one.
    await ada.tap_data(reminder.message_id, later.callback_data)
    await harness.drain()
    assert "you now leave with the 04:00 departure" in ada.last_text()
    await registration.refresh_from_db()
    assert registration.departure_wave_id == middle.id != last.id
    for person in (bea, cleo):
        told = received(person).count("Ada will leave later, with another departure.")
        assert told == (1 if person.id in others else 0)
