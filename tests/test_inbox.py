"""The inbox: an update whose handling always fails is tried a few times, then set aside and
she is told, and her next updates are served; an update no handler takes is marked handled;
a failed try leaves nothing half done."""

from __future__ import annotations

from datetime import timedelta

from companion_bot import clock, inbox
from companion_bot.models import InboxStatus, InboxUpdate, OutboxMessage, Person
from companion_bot.services import people
from companion_bot.workers import get_workers
from companion_bot.workers.inbox import InboxWorker
from tests.support import BotHarness

SORRY = "Sorry, something went wrong on our side. Your answers are saved: please try again."


async def test_a_poison_update_is_parked_she_is_told_and_her_next_ones_go_on(
    harness: BotHarness, event, monkeypatch
):
    inbox = get_workers(harness.application).inbox
    inbox.backoff_base = 0.01  # 0.5 s in production; the delays are not what is tested here
    real = people.set_display_name
    tries = []

    async def fails_for_one_name(telegram_id: int, name: str | None):
        person = await real(telegram_id, name)  # written, then undone by the failure
        if name == "Boom":
            tries.append(name)
            raise RuntimeError("a bug in a handler")
        return person

    monkeypatch.setattr(people, "set_display_name", fails_for_one_name)
    marie = harness.user(first_name="Marie", language_code="en")
    await harness.say(marie, "/name Alix")
    await harness.say(marie, "/name Boom")
    await harness.drain()
    assert len(tries) == inbox.max_attempts
    assert [m.text for m in marie.messages()].count(SORRY) == 1
    parked = await InboxUpdate.get(status=InboxStatus.PARKED)
    assert "a bug in a handler" in parked.last_error
    # Each failed try was undone: her name is still the one before.
    assert (await Person.get(telegram_id=marie.id)).display_name == "Alix"
    queued = await OutboxMessage.filter(chat_id=marie.id).values_list("payload", flat=True)
    assert not any("Boom" in str(payload) for payload in queued)

    reply = await harness.say(marie, "/name Sam")  # not blocked behind the parked one
    assert reply.text == "Done: others now see you as “Sam”."
    assert harness.application.bot_data["errors"] == inbox.max_attempts


async def test_an_update_no_handler_takes_is_marked_handled(harness: BotHarness):
    marie = harness.user(first_name="Marie", language_code="en")
    update_id = harness.emulator.inject_update(
        {"message_reaction": {"chat": {"id": marie.id, "type": "private"}, "message_id": 1,
                              "user": {"id": marie.id, "is_bot": False, "first_name": "Marie"},
                              "date": 0, "old_reaction": [],
                              "new_reaction": [{"type": "emoji", "emoji": "👍"}]}}
    )  # fmt: skip
    await harness.settle()
    row = await InboxUpdate.get(update_id=update_id)
    assert (row.status, row.attempts, row.payload) == (InboxStatus.DONE, 1, None)


async def test_handled_updates_are_kept_a_day_and_parked_ones_a_week(db):
    now = clock.now()
    ages = {1: (InboxStatus.DONE, timedelta(hours=2)), 2: (InboxStatus.DONE, timedelta(days=2)),
            3: (InboxStatus.PARKED, timedelta(days=2)), 4: (InboxStatus.PARKED, timedelta(days=8)),
            5: (InboxStatus.PENDING, timedelta(days=30))}  # fmt: skip
    for update_id, (status, age) in ages.items():
        await InboxUpdate.create(update_id=update_id, key="user:1", status=status,
                                 due_at=now - age, handled_at=now - age)  # fmt: skip
    assert await inbox.purge(now) == 2
    assert sorted(await InboxUpdate.all().values_list("update_id", flat=True)) == [1, 3, 5]


async def test_a_claim_takes_each_persons_first_update_and_waits_for_a_missing_number(db):
    """One statement claims the heads of their keys: not a second update of hers, not one of
    someone whose update is in hand, not a young one while the number before it is missing."""
    now = clock.now()
    rows = {1: "user:1", 2: "user:1", 3: "user:2", 5: "user:3", 6: "user:4", 7: "user:3"}
    for update_id, key in rows.items():
        await InboxUpdate.create(update_id=update_id, key=key, due_at=now)
    await InboxUpdate.filter(update_id=3).update(status=InboxStatus.HANDLING, claimed_by="w")
    await InboxUpdate.create(update_id=8, key="user:2", due_at=now)  # behind one in hand
    worker = InboxWorker(dispatcher=None, gap_wait=60)  # type: ignore[arg-type]

    claimed = await worker._claim(10)  # 4 is missing: 5 and the ones after it wait
    assert [(row.update_id, row.status, row.attempts) for row in claimed] == [
        (1, InboxStatus.HANDLING, 1)
    ]
    await InboxUpdate.create(update_id=4, key="user:5", due_at=now)
    assert [row.update_id for row in await worker._claim(10)] == [4, 5, 6]
    assert await worker._claim(10) == []  # 2, 7 and 8 wait for their person's update in hand
    await InboxUpdate.filter(update_id__in=[1, 5]).update(status=InboxStatus.DONE)
    assert [row.update_id for row in await worker._claim(1)] == [2]
    assert [row.update_id for row in await worker._claim(10)] == [7]
