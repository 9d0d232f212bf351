"""Conversation state in the database, and per-person ordering of updates."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update, User

from companion_bot.models import ConversationState, UserData
from companion_bot.persistence import DatabasePersistence, PerUserUpdateProcessor


async def test_conversation_states_round_trip(db):
    persistence = DatabasePersistence()
    await persistence.update_conversation("signup", (1, 1), "name")
    await persistence.update_conversation("signup", (2, 2), "destination")
    await persistence.update_conversation("signup", (1, 1), "arrival")
    assert await persistence.get_conversations("signup") == {
        (1, 1): "arrival",
        (2, 2): "destination",
    }
    await persistence.update_conversation("signup", (2, 2), None)
    assert await persistence.get_conversations("signup") == {(1, 1): "arrival"}
    assert await ConversationState.all().count() == 1


async def test_user_data_round_trip(db):
    persistence = DatabasePersistence()
    await persistence.update_user_data(7, {"lang": "fr", "signup_event": 3})
    await persistence.update_user_data(7, {"lang": "en"})
    assert await persistence.get_user_data() == {7: {"lang": "en"}}
    await persistence.drop_user_data(7)
    assert not await UserData.exists()


def update_from(user_id: int, update_id: int) -> Update:
    user = User(user_id, "P", False)
    message = Message(update_id, date=None, chat=Chat(user_id, "private"), from_user=user, text="x")
    return Update(update_id, message=message)


async def test_one_persons_updates_stay_in_order_while_others_run_alongside():
    processor = PerUserUpdateProcessor(max_concurrent_updates=16)
    log: list[tuple[int, int]] = []
    flushes = 0

    async def flush():
        nonlocal flushes
        flushes += 1

    processor.after_update = flush
    running = {1: 0, 2: 0}
    overlap_seen = asyncio.Event()

    async def handle(user_id: int, update_id: int, delay: float) -> None:
        running[user_id] += 1
        assert running[user_id] == 1, "two updates of one person ran at the same time"
        if running[1] and running[2]:
            overlap_seen.set()
        await asyncio.sleep(delay)
        log.append((user_id, update_id))
        running[user_id] -= 1

    tasks = []
    for update_id, (user_id, delay) in enumerate(
        [(1, 0.03), (2, 0.01), (1, 0.0), (2, 0.02), (1, 0.01), (2, 0.0)]
    ):
        update = update_from(user_id, update_id)
        tasks.append(asyncio.create_task(
            processor.process_update(update, handle(user_id, update_id, delay))
        ))  # fmt: skip
    await asyncio.gather(*tasks)
    assert [u for p, u in log if p == 1] == [0, 2, 4]
    assert [u for p, u in log if p == 2] == [1, 3, 5]
    assert overlap_seen.is_set()
    assert flushes == 6
    assert processor._locks == {}
