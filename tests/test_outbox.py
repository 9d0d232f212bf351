"""The outbox: queued in the database, sent by the worker against the emulator, paced to
Telegram's limits, retried on flood waits and network errors, never retried for someone who
blocked the bot."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from telegram.error import RetryAfter
from tortoise.transactions import in_transaction

from companion_bot import notices
from companion_bot.app import build_application
from companion_bot.emulator import BotApiEmulator, Limits, settle
from companion_bot.models import Broadcast, OutboxMessage, OutboxStatus, Person
from companion_bot.services import outbox
from companion_bot.services.outbox import Outgoing
from companion_bot.telegram_sender import TelegramSender
from companion_bot.workers import (
    HOST_KEY,
    OutboxWorker,
    SharedRateLimiter,
    claim_is_orphaned,
    get_workers,
    new_worker_id,
)
from tests.support import BotHarness, harness_settings, start_application, stop_application


def outbox_worker(harness: BotHarness) -> OutboxWorker:
    return get_workers(harness.application).outbox


async def drain(harness: BotHarness, timeout: float = 30) -> None:  # noqa: ASYNC109
    await outbox_worker(harness).wait_idle(timeout)


def calls_to(harness: BotHarness, chat_id: int, method: str = "sendMessage") -> list:
    """`method` requests to a chat, as the emulator logged them (refused ones too)."""
    return [
        call
        for call in harness.emulator.calls(method)
        if str(call.params.get("chat_id")) == str(chat_id)
    ]


# -- storage only ------------------------------------------------------------------------------


async def test_enqueue_stores_a_notice_without_calling_telegram(db):
    row = await outbox.enqueue(
        1234,
        "<b>Bonsoir</b>",
        choices=[[("I'm home", "home:1")]],
        purpose="test",
        reference={"group": 7},
    )
    assert row is not None
    stored = await OutboxMessage.get(id=row.id)
    assert stored.status == OutboxStatus.PENDING
    assert stored.method == notices.TEXT
    # In no channel's terms: the action is signed for her by the channel that sends it.
    assert stored.payload == {"text": "<b>Bonsoir</b>", "choices": [[["I'm home", "home:1"]]]}
    assert stored.reference == {"group": 7}
    assert stored.not_before <= datetime.now(UTC)


async def test_a_dedupe_key_queues_once_even_inside_a_transaction(db):
    assert await outbox.enqueue(1, "intro", dedupe_key="intro:1:1") is not None
    assert await outbox.enqueue(1, "intro again", dedupe_key="intro:1:1") is None
    async with in_transaction():
        # A step retried after a crash: the duplicate is a no-op, the rest commits.
        assert await outbox.enqueue(1, "intro", dedupe_key="intro:1:1") is None
        assert await outbox.enqueue(2, "intro", dedupe_key="intro:1:2") is not None
    keys = await OutboxMessage.all().order_by("id").values_list("dedupe_key", flat=True)
    assert keys == ["intro:1:1", "intro:1:2"]


async def test_a_dedupe_key_that_races_into_the_table_only_rolls_back_a_savepoint(db, monkeypatch):
    """Another process queued the key between our check and our insert."""
    await outbox.enqueue(1, "first", dedupe_key="race")
    real_exists = OutboxMessage.exists.__func__
    checks = []

    async def exists_after_the_race(cls, *args, **kwargs):
        checks.append(kwargs)
        if len(checks) == 1:
            return False  # the check before the insert misses the other process's row
        return await real_exists(cls, *args, **kwargs)

    monkeypatch.setattr(OutboxMessage, "exists", classmethod(exists_after_the_race))
    async with in_transaction():
        assert await outbox.enqueue(1, "second", dedupe_key="race") is None
        await outbox.enqueue(2, "other")
    assert await OutboxMessage.all().count() == 2


async def test_messages_to_someone_who_blocked_the_bot_are_stored_blocked(db):
    await Person.create(telegram_id=555, blocked_bot_at=datetime.now(UTC))
    row = await outbox.enqueue(555, "Reminder")
    assert row is not None and row.status == OutboxStatus.BLOCKED
    assert await outbox.enqueue_many([Outgoing(555, "All"), Outgoing(556, "All")]) == 2
    statuses = dict(await OutboxMessage.exclude(id=row.id).values_list("chat_id", "status"))
    assert statuses == {555: OutboxStatus.BLOCKED, 556: OutboxStatus.PENDING}
    # She writes to the bot again: messages to her go out again.
    assert await outbox.mark_reachable(555)
    again = await outbox.enqueue(555, "Welcome back")
    assert again is not None and again.status == OutboxStatus.PENDING


async def test_cancel_by_dedupe_prefix_or_ids_leaves_other_messages(db):
    later = datetime.now(UTC) + timedelta(hours=1)
    for member in (1, 2, 3):
        await outbox.enqueue(member, "Wave 1", not_before=later, dedupe_key=f"wave:1:{member}")
        await outbox.enqueue(member, "Wave 2", not_before=later, dedupe_key=f"wave:2:{member}")
    assert await outbox.cancel("wave:1:") == 3
    assert await outbox.cancel("wave:1:") == 0
    other = await OutboxMessage.get(dedupe_key="wave:2:3")
    assert await outbox.cancel([other.id]) == 1
    statuses = Counter(await OutboxMessage.all().values_list("status", flat=True))
    assert statuses == {OutboxStatus.CANCELLED: 4, OutboxStatus.PENDING: 2}
    with pytest.raises(ValueError):
        await outbox.cancel("")


async def test_purge_deletes_only_old_finished_messages(db):
    old = datetime.now(UTC) - timedelta(days=10)
    for status in (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.PENDING):
        await OutboxMessage.create(
            chat_id=1, payload={"text": status}, status=status, not_before=old, created_at=old
        )
    recent = await outbox.enqueue(1, "Tonight")
    assert await outbox.purge(datetime.now(UTC) - timedelta(days=7)) == 2
    left = await OutboxMessage.all().order_by("id").values_list("status", flat=True)
    assert left == [OutboxStatus.PENDING, recent.status]


async def test_enqueue_many_skips_keys_already_queued(db):
    messages = [Outgoing(chat, f"Hello {chat}", dedupe_key=f"b:1:{chat}") for chat in range(1, 6)]
    assert await outbox.enqueue_many(messages[:3]) == 3
    # The broadcast is run again after a crash, with a repeated line: only the rest is queued.
    assert await outbox.enqueue_many([*messages, messages[4]]) == 2
    assert await OutboxMessage.all().count() == 5


# -- delivery ----------------------------------------------------------------------------------


async def test_messages_to_a_chat_go_in_order_a_short_burst_then_one_a_second(harness):
    """Telegram allows about one message a second per chat, with short bursts: an answer and
    the next question go at once, a longer run waits its turn."""
    harness.emulator.set_limits(Limits(per_chat_per_second=1, per_chat_burst=3))
    worker = outbox_worker(harness)
    worker.per_chat_interval, worker.per_chat_burst = 1.0, 3  # Telegram's pace
    people = [harness.user(started=True) for _ in range(3)]
    for round_number in range(1, 6):
        for person in people:
            await outbox.enqueue(person.id, f"Message {round_number} for {person.id}")
    await drain(harness)

    for person in people:
        assert [m.text for m in person.messages()] == [
            f"Message {round_number} for {person.id}" for round_number in range(1, 6)
        ]
        times = [call.time for call in calls_to(harness, person.id)]
        assert len(times) == 5
        assert times[3] - times[0] >= 3.0 and times[4] - times[1] >= 3.0  # 3 per 3 s at most
    assert harness.emulator.stats.total_rejected == 0
    rows = await OutboxMessage.all()
    assert {row.status for row in rows} == {OutboxStatus.SENT}
    assert all(row.telegram_message_id and row.sent_at for row in rows)
    assert outbox_worker(harness).counters.sent == 15


async def test_higher_priority_goes_first(harness):
    marie = harness.user(started=True)
    await outbox.enqueue(marie.id, "Later", not_before=datetime.now(UTC) + timedelta(hours=1))
    worker = outbox_worker(harness)
    await worker.stop()  # queue both before anything is sent
    await outbox.enqueue(marie.id, "Routine")
    await outbox.enqueue(marie.id, "Urgent", priority=10)
    await worker.start()
    await worker.wait_idle()
    assert [m.text for m in marie.messages()] == ["Urgent", "Routine"]


async def test_someone_who_blocked_the_bot_is_marked_and_never_retried(harness):
    lea = harness.user(started=True)
    await Person.create(telegram_id=lea.id)
    await lea.block_bot(announce=False)  # the bot learns it from the first refusal
    stranger = harness.user(started=False)  # never opened the bot: it can't write first
    worker = outbox_worker(harness)
    await worker.stop()
    await outbox.enqueue(lea.id, "First")
    await outbox.enqueue(lea.id, "Second")
    await outbox.enqueue(stranger.id, "Hello")
    await worker.start()
    await worker.wait_idle()

    rows = await OutboxMessage.all().order_by("id")
    assert [row.status for row in rows] == [OutboxStatus.BLOCKED] * 3
    assert "blocked" in rows[0].error
    assert "initiate" in rows[2].error
    assert len(calls_to(harness, lea.id)) == 1  # the second was never tried
    person = await Person.get(telegram_id=lea.id)
    assert person.blocked_bot_at is not None
    assert (await outbox.enqueue(lea.id, "Third")).status == OutboxStatus.BLOCKED
    await worker.wait_idle()
    assert len(calls_to(harness, lea.id)) == 1
    assert worker.counters.blocked == 3


async def test_a_bad_request_fails_with_telegrams_description(harness):
    await outbox.enqueue(987654321, "Nobody here")  # no such chat
    await drain(harness)
    row = await OutboxMessage.get()
    assert row.status == OutboxStatus.FAILED
    assert "chat not found" in row.error.lower()
    assert outbox_worker(harness).counters.failed == 1


async def test_an_edit_that_changes_nothing_counts_as_sent(harness):
    marie = harness.user(started=True)
    await outbox.enqueue(marie.id, "Your group leaves at 3:00")
    await drain(harness)
    shown = marie.last_message()
    edit = {"message_id": shown.message_id, "text": "Your group leaves at 3:00"}
    row = await outbox.enqueue(marie.id, kind=notices.EDIT_TEXT, payload=edit)
    await drain(harness)
    await row.refresh_from_db()
    assert row.status == OutboxStatus.SENT
    assert row.error is None


async def test_after_send_hooks_get_the_row_and_the_message_it_became(harness, monkeypatch):
    monkeypatch.setattr(outbox, "_after_send", {})
    seen = []

    async def remember(row, delivered):
        seen.append((row.reference, row.chat_id, row.telegram_message_id, delivered.message_id))

    outbox.register_after_send("test-relay", remember)
    marie, lea = harness.user(started=True), harness.user(started=True)
    await outbox.enqueue(marie.id, "Hello", purpose="test-relay", reference={"n": 1})
    await drain(harness)
    original = marie.last_message().message_id
    # copyMessage answers with a bare MessageId: the hook gets the id on the row.
    copy = {"from_chat_id": marie.id, "message_id": original}
    await outbox.enqueue(
        lea.id, kind=notices.COPY, payload=copy, purpose="test-relay", reference={"n": 2}
    )
    await drain(harness)
    copied = lea.last_message().message_id
    assert seen == [({"n": 1}, marie.id, original, original), ({"n": 2}, lea.id, copied, copied)]
    assert await OutboxMessage.filter(status=OutboxStatus.SENT).count() == 2


async def test_a_flood_wait_pauses_sending_and_loses_nothing(harness):
    # No pacing in the bot (TELEGRAM_RATE_LIMIT=0 in tests), 10 msg/s at "Telegram".
    harness.emulator.set_limits(
        Limits(rate_limit_per_second=10, per_chat_per_second=1, per_chat_burst=3)
    )
    people = [harness.user(started=True) for _ in range(25)]
    await outbox.enqueue_many(Outgoing(person.id, f"Hi {person.id}") for person in people)
    await drain(harness)

    stats = harness.emulator.stats
    assert stats.total_rejected > 0  # the bot did hit the flood limit…
    assert stats.total_delivered == 25  # …and every message arrived, once
    assert stats.total_duplicates == 0
    rows = await OutboxMessage.all()
    assert {row.status for row in rows} == {OutboxStatus.SENT}
    assert all(row.attempts == 0 for row in rows)  # a flood wait is not a failed attempt
    counters = outbox_worker(harness).counters
    assert counters.flood_waits == stats.total_rejected
    assert counters.failed == counters.retried == 0


async def test_network_errors_are_retried_until_delivered(harness):
    worker = outbox_worker(harness)
    worker.backoff_base = 0.02  # 2 s in production; the delays are not what is tested here
    harness.emulator.set_limits(failure_rate=0.1, failure_kinds=("500", "502", "drop"), seed=4)
    people = [harness.user(started=True) for _ in range(60)]
    await outbox.enqueue_many(Outgoing(person.id, f"Hi {person.id}") for person in people)
    await drain(harness)

    stats = harness.emulator.stats
    assert stats.failed.total() > 0
    assert stats.total_delivered == 60
    assert stats.total_duplicates == 0
    assert all(len(person.messages()) == 1 for person in people)
    assert {row.status for row in await OutboxMessage.all()} == {OutboxStatus.SENT}
    assert worker.counters.retried == stats.failed.total()


async def test_a_message_that_keeps_failing_gives_up_after_max_attempts(harness):
    worker = outbox_worker(harness)
    worker.backoff_base, worker.max_attempts = 0.01, 3
    harness.emulator.set_limits(failure_rate=1.0, failure_kinds=("500",))
    marie = harness.user(started=True)
    await outbox.enqueue(marie.id, "Never arrives")
    await drain(harness)
    row = await OutboxMessage.get()
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 3
    assert "Internal Server Error" in row.error
    assert len(calls_to(harness, marie.id)) == 3


async def test_a_broadcast_reports_what_was_delivered(harness, event):
    broadcast = await Broadcast.create(event=event, audience="all", text="Doors at 23:00")
    started = [harness.user(started=True) for _ in range(5)]
    strangers = [harness.user(started=False) for _ in range(2)]
    gone = harness.user(started=True)
    await Person.create(telegram_id=gone.id, blocked_bot_at=datetime.now(UTC))
    recipients = [*started, *strangers, gone]
    messages = [
        Outgoing(p.id, "Doors at 23:00", broadcast_id=broadcast.id, dedupe_key=f"b:{p.id}")
        for p in recipients
    ]
    assert await outbox.enqueue_many(messages) == 8
    report = await outbox.delivery_report(broadcast.id)
    assert (report.pending, report.blocked, report.finished) == (7, 1, False)

    await drain(harness)
    report = await outbox.delivery_report(broadcast.id)
    assert (report.sent, report.blocked, report.failed, report.pending) == (5, 3, 0, 0)
    assert report.total == 8 and report.finished
    assert not gone.messages()


async def test_several_calls_in_flight_still_deliver_everything_once(harness):
    outbox_worker(harness).concurrency = 4
    outbox_worker(harness).per_chat_interval = 1.0  # Telegram's pace
    harness.emulator.set_limits(Limits(per_chat_per_second=1, per_chat_burst=3))
    people = [harness.user(started=True) for _ in range(40)]
    await outbox.enqueue_many(Outgoing(person.id, f"Hi {person.id}") for person in people)
    await outbox.enqueue_many(Outgoing(person.id, f"Bye {person.id}") for person in people[:5])
    await drain(harness)
    assert harness.emulator.stats.total_delivered == 45
    assert harness.emulator.stats.total_rejected == 0
    assert [m.text for m in people[0].messages()] == [f"Hi {people[0].id}", f"Bye {people[0].id}"]


async def test_the_worker_wakes_up_for_a_message_due_later(harness):
    marie = harness.user(started=True)
    soon = datetime.now(UTC) + timedelta(seconds=0.3)
    await outbox.enqueue(marie.id, "A bit later", not_before=soon)
    await harness.emulator.wait_for(lambda: bool(marie.messages()), timeout=10)
    assert marie.last_text() == "A bit later"


async def test_paced_outbox_and_direct_replies_share_one_budget_without_429s(db):
    """The bot's one budget against Telegram's limits, with a margin (27 of Telegram's 30
    msg/s): requests paced exactly at the limit can reach the emulator bunched by a busy
    machine's delays, and this test must not depend on the machine's speed."""
    async with BotApiEmulator(limits=Limits.telegram()) as emulator:
        settings = harness_settings(db, emulator).model_copy(
            update={"TELEGRAM_RATE_LIMIT": 27, "TELEGRAM_CHAT_INTERVAL": 1.0}
        )
        application = build_application(settings)
        await start_application(application)
        try:
            audience = [emulator.user(started=True) for _ in range(45)]
            talkers = [emulator.user(language_code="en") for _ in range(5)]
            await outbox.enqueue_many(Outgoing(p.id, f"Doors at 23:00, {p.id}") for p in audience)
            for person in talkers:  # answered directly by a handler, during the broadcast
                await person.start()
            await get_workers(application).outbox.wait_idle()
            await settle(emulator, application)
        finally:
            await stop_application(application)

    assert all(len(person.messages()) == 1 for person in audience)
    assert all(person.messages() for person in talkers)
    assert emulator.stats.total_rejected == 0  # no 429 at all


# -- edits and coalescing ----------------------------------------------------------------------


def buttons(*labels: str) -> list:
    return [[(label, label)] for label in labels]


async def test_an_edit_changes_the_message_its_row_became(harness):
    marie = harness.user(started=True)
    card = await outbox.enqueue(marie.id, "Group 1: Ada not there yet", choices=buttons("X"))
    await drain(harness)
    shown = marie.last_message()
    assert await outbox.edit(card, "Group 1: Ada at the meeting point") is not None
    await drain(harness)
    assert shown.text == "Group 1: Ada at the meeting point"
    assert not shown.inline_buttons()  # an edit without buttons removes them, as on Telegram
    assert len(marie.messages()) == 1
    edit = await OutboxMessage.get(edit_of_id=card.id)
    assert edit.status == OutboxStatus.SENT and edit.chat_id == marie.id
    # The same state again changes nothing: nothing is queued.
    assert await outbox.edit(card.id, "Group 1: Ada at the meeting point") is None


async def test_an_edit_of_a_message_not_sent_yet_goes_out_with_it(harness):
    marie = harness.user(started=True)
    worker = outbox_worker(harness)
    await worker.stop()  # a long queue: the card is still waiting
    card = await outbox.enqueue(marie.id, "Ada not there yet", choices=buttons("Left"))
    folded = await outbox.edit(card, "Ada at the meeting point", choices=buttons("Left"))
    assert folded is not None and folded.id == card.id
    await worker.start()
    await drain(harness)
    assert [m.text for m in marie.messages()] == ["Ada at the meeting point"]
    assert not marie.last_message().edited and marie.last_message().inline_buttons()
    assert not calls_to(harness, marie.id, "editMessageText")


async def test_edits_not_sent_yet_make_one_call_with_the_last_state(harness):
    marie = harness.user(started=True)
    card = await outbox.enqueue(marie.id, "0 at the meeting point")
    await drain(harness)
    worker = outbox_worker(harness)
    await worker.stop()
    for count in range(1, 6):
        await outbox.edit(card, f"{count} at the meeting point")
    assert await OutboxMessage.filter(edit_of_id=card.id).count() == 1
    await worker.start()
    await drain(harness)
    assert marie.last_text() == "5 at the meeting point"
    assert len(calls_to(harness, marie.id, "editMessageText")) == 1


async def test_edits_are_spaced_by_their_min_interval(harness):
    marie = harness.user(started=True)
    card = await outbox.enqueue(marie.id, "0 home")
    await drain(harness)
    spacing = timedelta(seconds=5)
    first = await outbox.edit(card, "1 home", min_interval=spacing)
    await drain(harness)
    await first.refresh_from_db()
    assert first.status == OutboxStatus.SENT and marie.last_text() == "1 home"
    second = await outbox.edit(card, "2 home", min_interval=spacing)
    third = await outbox.edit(card, "3 home", min_interval=spacing)
    assert third.id == second.id and third.not_before >= first.sent_at + spacing
    await drain(harness)
    assert marie.last_text() == "1 home"  # not yet: the edit waits for its turn
    await harness.travel_to(third.not_before)
    assert marie.last_text() == "3 home"
    assert len(calls_to(harness, marie.id, "editMessageText")) == 2


async def test_an_edit_waits_for_the_message_being_sent_and_is_dropped_with_it(harness):
    marie, lea, zoe = (harness.user(started=True) for _ in range(3))
    worker = outbox_worker(harness)
    await worker.stop()
    card = await outbox.enqueue(marie.id, "Ada not there yet")
    # Another process is sending it right now: the edit cannot be folded into it.
    await OutboxMessage.filter(id=card.id).update(
        status=OutboxStatus.SENDING, claimed_by="elsewhere-1-abcdef", claimed_at=datetime.now(UTC)
    )
    edit = await outbox.edit(card, "Ada at the meeting point")
    assert edit is not None and edit.edit_of_id == card.id
    await worker.start()
    await outbox.enqueue(zoe.id, "Meanwhile")  # the worker goes round: the edit waits
    await harness.emulator.wait_for(lambda: bool(zoe.messages()), timeout=10)
    await edit.refresh_from_db()
    assert edit.status == OutboxStatus.PENDING and not marie.messages()
    # The other process lost it: it goes again, then the edit.
    await OutboxMessage.filter(id=card.id).update(status=OutboxStatus.PENDING, claimed_by=None)
    worker.wake()
    await drain(harness)
    assert [m.text for m in marie.messages()] == ["Ada at the meeting point"]
    assert marie.last_message().edited

    # A message that will never be sent takes its waiting edits with it.
    await worker.stop()
    other = await outbox.enqueue(lea.id, "Bea not there yet")
    await OutboxMessage.filter(id=other.id).update(status=OutboxStatus.SENDING)
    lost = await outbox.edit(other, "Bea home")
    await OutboxMessage.filter(id=other.id).update(status=OutboxStatus.FAILED)
    assert await outbox.edit(other, "Bea left") is None
    await worker.start()
    await drain(harness)
    await lost.refresh_from_db()
    assert lost.status == OutboxStatus.CANCELLED and not lea.messages()


async def test_deleting_a_message_row_deletes_its_edits(db):
    card = await outbox.enqueue(7, "Ada not there yet")
    await OutboxMessage.filter(id=card.id).update(
        status=OutboxStatus.SENT, telegram_message_id=12, sent_at=datetime.now(UTC)
    )
    await outbox.edit(card, "Ada home")
    await OutboxMessage.filter(id=card.id).delete()
    assert not await OutboxMessage.exists()


async def test_a_coalesce_key_replaces_a_message_not_sent_yet(db):
    first = await outbox.enqueue(7, "Groups at 03:00 (1)", coalesce_key="waves:7")
    again = await outbox.enqueue(7, "Groups at 03:00 (2)", coalesce_key="waves:7")
    assert again.id == first.id
    row = await OutboxMessage.get(id=first.id)
    assert row.payload["text"] == "Groups at 03:00 (2)"
    await OutboxMessage.filter(id=first.id).update(status=OutboxStatus.SENT)
    third = await outbox.enqueue(7, "Groups at 03:00 (3)", coalesce_key="waves:7")
    assert third.id != first.id


# -- pacing ------------------------------------------------------------------------------------


def starts_per_second(starts: list[float]) -> int:
    """The most calls that started within any one second."""
    return max(sum(1 for other in starts if start <= other < start + 1.0) for start in starts)


def test_the_limiter_keeps_any_second_within_the_limit_and_catches_up_after_a_stall():
    clock = [0.0]
    limiter = SharedRateLimiter(30, clock=lambda: clock[0])
    starts = []
    for number in range(300):
        call = limiter._reserve()
        clock[0] = max(clock[0], call.at)
        starts.append(call.at)
        if number == 100:
            clock[0] += 0.2  # the caller was held up (a slow database query)
        call.at, call.answered = clock[0] + 0.004, True  # answered 4 ms later
    assert starts_per_second(starts) <= 30
    assert min(later - earlier for earlier, later in pairwise(starts)) >= limiter.min_gap - 1e-9
    assert (len(starts) - 1) / (starts[-1] - starts[0]) > 0.95 * 30


def test_a_call_not_answered_yet_keeps_counting():
    clock = [0.0]
    limiter = SharedRateLimiter(2, clock=lambda: clock[0])
    slow = limiter._reserve()  # no answer yet
    clock[0] = 5.0
    second = limiter._reserve()
    third = limiter._reserve()
    assert third.at >= 5.0 + limiter.window  # the slow call may reach Telegram any moment
    assert second.at == 5.0 and not slow.answered


async def test_a_flood_wait_pauses_every_call_and_is_retried_unless_asked_not_to():
    limiter = SharedRateLimiter(1000)
    attempts = []

    async def flooded(*args, **kwargs):
        attempts.append(limiter.paused_for())
        if len(attempts) == 1:
            raise RetryAfter(0.05)
        return True

    data = {"chat_id": 1}
    assert await limiter.process_request(flooded, (), {}, "sendMessage", data, None) is True
    assert len(attempts) == 2 and attempts[1] == 0  # retried after the pause
    attempts.clear()
    with pytest.raises(RetryAfter):
        await limiter.process_request(flooded, (), {}, "sendMessage", data, {"max_retries": 0})
    assert limiter.paused_for() > 0  # everyone waits, including the caller's next call
    assert limiter.flood_waits == 2


# -- crash recovery --------------------------------------------------------------------------


def dead_local_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


async def test_messages_left_in_flight_by_a_dead_process_go_back_to_the_queue(db):
    now = datetime.now(UTC)
    claims = {
        "elsewhere-1-abcdef": now - timedelta(seconds=600),  # past the lease
        "elsewhere-2-abcdef": now,  # another host, still within the lease: left alone
        f"{HOST_KEY}-{dead_local_pid()}-abcdef": now,  # this host, process gone: at once
        f"{HOST_KEY}-{os.getpid()}-abcdef": now,  # this very process, not a live worker
    }
    for claimant, claimed_at in claims.items():
        await OutboxMessage.create(
            chat_id=1, payload={"text": claimant}, status=OutboxStatus.SENDING,
            claimed_by=claimant, claimed_at=claimed_at, not_before=now,
        )  # fmt: skip
    worker = OutboxWorker(TelegramSender(None), lease=60)  # type: ignore[arg-type]
    assert await worker.recover() == 3
    left = await OutboxMessage.filter(status=OutboxStatus.SENDING).values_list(
        "claimed_by", flat=True
    )
    assert left == ["elsewhere-2-abcdef"]


def test_claims_of_live_workers_are_not_orphaned():
    assert not claim_is_orphaned(None)
    assert not claim_is_orphaned("garbage")
    assert not claim_is_orphaned(f"{HOST_KEY}-1-abcdef")  # init is alive
    assert claim_is_orphaned(f"{HOST_KEY}-{os.getpid()}-ffffff")
    assert new_worker_id() != new_worker_id()
