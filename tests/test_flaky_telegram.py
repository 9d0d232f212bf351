"""Telegram hiccups (one call in ten fails: 500, 502, a dropped connection): nobody is told
"try again", nothing is logged as an unhandled error, every answer arrives. Replies go
through the outbox, which retries them like any other message."""

from __future__ import annotations

import logging

from companion_bot.emulator import Limits
from companion_bot.workers import get_workers
from tests.handlers.test_broadcasts import got
from tests.support import BotHarness, sign_up


async def test_one_call_in_ten_failing_changes_nothing_people_see(
    harness: BotHarness, event, caplog
):
    outbox = get_workers(harness.application).outbox
    outbox.backoff_base = 0.02  # 2 s in production; the delays are not what is tested here
    harness.emulator.set_limits(
        Limits(failure_rate=0.1, failure_kinds=("500", "502", "drop"), seed=10)
    )
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    attendees = [harness.user(first_name=f"Amie{i}", language_code="en") for i in range(6)]
    for person in attendees:
        await sign_up(harness, person, event.attendee_code)
    for turn in range(3):  # the organizer's own steps, every one of them answered
        await harness.say(orga, "/broadcast")
        await harness.tap(orga, lambda b: b.text.startswith("All attendees"))
        preview = await harness.say(orga, f"Doors open in {turn + 1} hours.")
        assert preview.text.startswith("This goes to")
        await harness.tap(orga, "📣 Send")
        await harness.drain()
    await harness.drain()

    stats = harness.emulator.stats
    assert stats.failed.total() >= 5  # Telegram did fail
    for person in attendees:
        assert any("You're signed up" in (m.text or "") for m in person.messages())
        for turn in range(3):
            assert got(person, f"Doors open in {turn + 1} hours.")
    everyone = [orga, *attendees]
    assert not any(
        "try again" in (m.text or "") or "Sorry" in (m.text or "")
        for person in everyone
        for m in person.messages()
    )
    assert harness.application.bot_data.get("errors", 0) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
