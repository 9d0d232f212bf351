"""Bot processes killed (SIGKILL) at the worst moments while people sign up and tap buttons:
every sign-up completes, every question arrives, no update's effects happen twice, and a
kill costs at most one duplicate message. Processes are real `companion-bot run --webhook`
subprocesses; the test plays Telegram (tests/crash_support.py).

The kills: at the crash points (companion_bot/faults.py) — an update stored but not yet
acknowledged, a handler's transaction not yet committed, committed but its replies not
sent, a message sent but not marked — and at random moments from outside.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise import Tortoise

from companion_bot.db import apply_migrations, open_database
from companion_bot.emulator import BotApiEmulator, EmulatedUser, InlineButton, StoredMessage
from companion_bot.models import InboxStatus, InboxUpdate, Person, Registration
from companion_bot.services.events import create_event
from tests.conftest import POSTGRES_URL
from tests.crash_support import Fleet, Telegram, answered, duplicates
from tests.support import event_spec, postgres_admin_url

SIGNING_UP = 50
SWITCHING = 10  # people already signed up who change their language again and again
SWITCHES = 4
DESTINATIONS = ["Oberkampf", "Montreuil", "Belleville", "Bastille", "Pigalle", "Pantin"]


@pytest.fixture
async def crash_database(tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, migrated, with nothing open on it in this process (the bot
    processes own it while they run)."""
    if not POSTGRES_URL:
        url = f"sqlite://{tmp_path / 'crash.sqlite3'}"
        await apply_migrations(url)
        yield url
        return
    import asyncpg

    name = f"companion_crash_{uuid.uuid4().hex[:10]}"
    admin = postgres_admin_url(POSTGRES_URL)
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    await apply_migrations(url)
    try:
        yield url
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


async def an_event(database_url: str) -> str:
    await open_database(database_url)
    try:
        event = await create_event(event_spec(datetime.now(UTC) + timedelta(days=2)), None)
        return event.attendee_code
    finally:
        await Tortoise.close_connections()


def has_button(prefix: str):
    return lambda message: any(
        (button.callback_data or "").startswith(prefix) for button in message.inline_buttons()
    )


def button(prefix: str):
    return lambda candidate: (candidate.callback_data or "").startswith(prefix)


async def step(person: EmulatedUser, act, answer) -> StoredMessage:
    before = len(person.messages())
    await act()
    return await answered(person, answer, before)


async def sign_up(person: EmulatedUser, code: str, destination: str) -> None:
    """The whole sign-up, each step once its question has arrived."""
    await step(person, lambda: person.start(code), has_button("su:lang:"))
    await step(person, lambda: person.tap(button("su:lang:en")), has_button("su:charter:"))
    await step(person, lambda: person.tap(button("su:charter:yes")), has_button("su:name:"))
    await step(person, lambda: person.tap(button("su:name:default")), has_button("su:arr:"))
    await step(person, lambda: person.tap(button("su:arr:slot:")), has_button("su:dest:none"))
    await step(person, lambda: person.send_text(destination), has_button("su:tr:"))
    await step(person, lambda: person.tap(button("su:tr:transit")), has_button("su:wave:"))
    await step(person, lambda: person.tap(button("su:wave:")), has_button("su:sum:confirm"))
    await step(
        person, lambda: person.tap(button("su:sum:confirm")), lambda m: "/leave" in (m.text or "")
    )


async def switch_languages(person: EmulatedUser, code: str) -> None:
    await sign_up(person, code, "Nation")
    for turn in range(SWITCHES):
        language, answer = ("fr", "français") if turn % 2 == 0 else ("en", "English")
        menu = await step(person, lambda: person.send_command("/language"), has_button("lang:"))

        async def tap(menu: InlineButton = menu, language: str = language) -> int:
            return await person.tap(button(f"lang:{language}"), message=menu)

        await step(person, tap, lambda m, answer=answer: answer in (m.text or ""))


async def kill_now_and_then(fleet: Fleet, kills: int, seed: int) -> None:
    """Kills from outside, at random moments (seeded), beside the crash points."""
    chance = random.Random(seed)
    for _ in range(kills):
        await asyncio.sleep(chance.uniform(1.0, 3.0))
        fleet.kill(chance.randrange(len(fleet.processes)))


async def a_night_of_kills(
    tmp_path: Path, database_url: str, schedules: list[list[str]], random_kills: int
) -> None:
    code = await an_event(database_url)
    async with BotApiEmulator() as emulator:
        fleet = Fleet(emulator, database_url, tmp_path, schedules)
        await fleet.start()
        try:
            async with Telegram(emulator, fleet):
                people = [emulator.user(first_name=f"Amie{i}", language_code="en")
                          for i in range(SIGNING_UP)]  # fmt: skip
                switching = [emulator.user(first_name=f"Lang{i}", language_code="en")
                             for i in range(SWITCHING)]  # fmt: skip
                crowd = [
                    *(sign_up(p, code, DESTINATIONS[i % len(DESTINATIONS)])
                      for i, p in enumerate(people)),
                    *(switch_languages(p, code) for p in switching),
                ]  # fmt: skip
                await asyncio.gather(*crowd, kill_now_and_then(fleet, random_kills, seed=7))
        finally:
            await fleet.stop()
        kills = fleet.deaths
        logs = fleet.logs()

        assert kills >= sum(len(s) for s in schedules) + random_kills - 1, logs[-3000:]
        # At most one duplicate message per kill, in all chats together.
        doubled = sum(duplicates(p) for p in people)
        for person in switching:
            taps = SWITCHES
            answers = sum(
                1 for m in person.messages() if "français" in (m.text or "") or
                "English with you" in (m.text or "")
            )  # fmt: skip
            doubled += answers - taps
        assert doubled <= kills, (doubled, kills)
        assert "Sorry, something went wrong" not in "".join(
            m.text or "" for p in [*people, *switching] for m in p.messages()
        )

    await open_database(database_url)
    try:
        # Every sign-up done, once; every update handled, none set aside.
        registrations = await Registration.filter(status="confirmed").count()
        assert registrations == SIGNING_UP + SWITCHING
        assert await Person.all().count() == SIGNING_UP + SWITCHING
        assert not await InboxUpdate.exclude(status=InboxStatus.DONE).exists()
    finally:
        await Tortoise.close_connections()


@pytest.mark.slow
@pytest.mark.skipif(bool(POSTGRES_URL), reason="one process on SQLite; two on PostgreSQL below")
async def test_a_process_killed_again_and_again_loses_nothing(tmp_path, crash_database):
    """SQLite, one process: killed at each crash point, then at random moments."""
    schedule = [
        "webhook.stored:30",
        "inbox.in_transaction:45",
        "inbox.committed:60",
        "outbox.sent:40",
    ]
    await a_night_of_kills(tmp_path, crash_database, [schedule], random_kills=2)


@pytest.mark.slow
@pytest.mark.skipif(not POSTGRES_URL, reason="several processes share PostgreSQL only")
async def test_two_processes_one_killed_again_and_again_lose_nothing(tmp_path, crash_database):
    """PostgreSQL, two processes taking updates in turn; each is killed at crash points,
    and either at random moments."""
    await a_night_of_kills(
        tmp_path,
        crash_database,
        [
            ["webhook.stored:20", "inbox.committed:40"],
            ["inbox.in_transaction:25", "outbox.sent:30"],
        ],
        random_kills=2,
    )


async def test_one_persons_updates_posted_at_once_are_handled_in_order(tmp_path, crash_database):
    """Her next updates reach the bot before the ones she made first (two processes on
    PostgreSQL, one on SQLite): they are handled in the order she made them."""
    code = await an_event(crash_database)
    async with BotApiEmulator() as emulator:
        processes = 2 if POSTGRES_URL else 1
        # Long enough for the test's posts whatever the machine's speed.
        fleet = Fleet(emulator, crash_database, tmp_path, [[] for _ in range(processes)],
                      extra={"INBOX_ORDER_WAIT": "60"})  # fmt: skip
        await fleet.start()
        try:
            async with Telegram(emulator, fleet) as telegram:
                marie = emulator.user(first_name="Marie", language_code="en")
                await sign_up(marie, code, "Oberkampf")
                bot = emulator.default_bot
                await emulator.wait_for(lambda: not bot.pending)
                names = [f"Name{i}" for i in range(6)]
                telegram_task, telegram._task = telegram._task, None  # post these by hand
                telegram_task.cancel()
                before = len(marie.messages())
                for name in names:
                    await marie.send_command("/name", name)
                updates, bot.pending[:] = list(bot.pending), []
                # Her last ones are stored first, then the first ones.
                await telegram.post_at_once(updates[3:])
                await telegram.post_at_once(updates[:3])
                await emulator.wait_for(lambda: len(marie.messages()) >= before + len(names), 60)
                said = [m.text for m in marie.messages()[before:]]
        finally:
            await fleet.stop()
    assert said == [f"Done: others now see you as “{name}”." for name in names]
    await open_database(crash_database)
    try:
        assert (await Person.get(telegram_id=marie.id)).display_name == names[-1]
    finally:
        await Tortoise.close_connections()
