"""A person flooding the bot is slowed down politely; the others are still served."""

from __future__ import annotations

from companion_bot.models import GroupMember
from handlers.flood import FloodGuard
from tests.support import BotHarness

SLOW_DOWN = "You are sending a lot of messages at once. Give me a few seconds, then go on."


def test_bucket_allows_a_burst_then_refills():
    now = [0.0]
    guard = FloodGuard(capacity=3, per_second=1, clock=lambda: now[0])
    assert [guard.allow(1) for _ in range(5)] == [
        (True, False), (True, False), (True, False), (False, True), (False, False),
    ]  # fmt: skip
    assert guard.allow(2) == (True, False)  # someone else is not affected
    now[0] = 1.0
    assert guard.allow(1) == (True, False)
    now[0] = 100.0
    guard.forget_idle()
    assert guard.buckets == {}


async def test_flooding_person_is_slowed_and_others_still_served(harness: BotHarness, event):
    # The production bucket, its clock stopped: whatever the machine's speed, no refill.
    harness.application.bot_data["flood_guard"] = FloodGuard(clock=lambda: 0.0)
    spammer = harness.user(first_name="Spam", language_code="en")
    marie = harness.user(first_name="Marie", language_code="en")
    for i in range(60):
        await spammer.send_text(f"hello {i}")
    await marie.send_command("/start", event.attendee_code)
    await harness.settle()
    texts = [m.text for m in spammer.messages()]
    assert texts.count(SLOW_DOWN) == 1
    assert len(texts) <= 25  # answered the burst, then silence instead of 60 replies
    assert "Which language" in marie.last_text()
    assert harness.application.bot_data.get("errors", 0) == 0


async def test_blocking_and_unblocking_the_bot_is_remembered(harness: BotHarness, event):
    from companion_bot.models import Person
    from tests.support import sign_up

    marie = harness.user(first_name="Marie", language_code="en")
    await sign_up(harness, marie, event.attendee_code)
    await marie.block_bot()
    await harness.settle()
    assert (await Person.get(telegram_id=marie.id)).blocked_bot_at is not None
    await marie.unblock_bot()
    await harness.settle()
    assert (await Person.get(telegram_id=marie.id)).blocked_bot_at is None


async def test_help_gets_through_and_dropped_taps_are_answered(harness: BotHarness, event):
    from tests.handlers.test_relay import a_group_of_three

    ada, _bea, _cleo = await a_group_of_three(harness, event)
    # A bucket that never refills (its clock stands still): she is out of turns.
    harness.application.bot_data["flood_guard"] = FloodGuard(capacity=2, clock=lambda: 0.0)
    await harness.say(ada, "/group")
    for i in range(3):
        await ada.send_text(f"spam {i}")
    await harness.settle()
    assert ada.last_text() == SLOW_DOWN

    # A button tap past her turns is answered (no spinning button), and nothing is done.
    card = next(m for m in reversed(ada.messages()) if m.inline_buttons())
    await ada.tap("🔕 Mute the group", message=card)
    await harness.settle()
    assert ada.callback_answers()[-1].text == SLOW_DOWN
    assert not await GroupMember.filter(registration__person__telegram_id=ada.id,
                                        muted=True).exists()  # fmt: skip

    # Asking for help is never dropped: /help, its buttons, the "I need help" keyboard button.
    reply = await harness.say(ada, "/help")
    assert reply.text == "What is happening? The volunteers on duty will come to you."
    reply = await harness.tap(ada, "Cancel")
    assert reply.text.endswith("→ Cancel")
    reply = await harness.say(ada, "🆘 I need help")
    assert reply.text == "What is happening? The volunteers on duty will come to you."
    reply = await harness.tap(ada, "😟 I feel uncomfortable")
    assert reply.text == "Send an alert to the volunteers on duty now?"
