"""Helpers for the end-to-end tests: the bot against the emulator, and a sample event."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from telegram.ext import Application

from companion_bot import persistence
from companion_bot.app import build_application, start_polling, stop_polling
from companion_bot.demo import timeline
from companion_bot.emulator import BotApiEmulator, EmulatedUser, StoredMessage, settle
from companion_bot.services.events import EventSpec
from companion_bot.settings import Settings, load_settings
from handlers.conversation import CONVERSATIONS
from handlers.flood import FloodGuard

ADMIN_ID = 90001
PARIS = ZoneInfo("Europe/Paris")


@dataclass
class DatabaseInfo:
    url: str
    kind: str
    template: Path | None = None


def postgres_admin_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def event_spec(day: datetime, **overrides) -> EventSpec:
    """Doors 23:00 (Paris) on `day`, closing 06:00; slots 23-00 and 00-01; departures 03:00
    (main entrance) and 06:00 (back door)."""
    local_day = day.astimezone(PARIS).date()
    doors = datetime.combine(local_day, time(23, 0), tzinfo=PARIS)
    values = dict(
        name="Nuit Compagnonnes",
        venue_name="La Station",
        venue_lat=48.8649,
        venue_lon=2.3800,
        timezone="Europe/Paris",
        doors_open=doors,
        closing=doors + timedelta(hours=7),
        charter="Be kind. Look out for each other. Say when you are home.",
        meeting_points=["Main entrance", "Back door"],
        arrival_slots=[
            (doors, doors + timedelta(hours=1), 0),
            (doors + timedelta(hours=1), doors + timedelta(hours=2), 0),
        ],
        departure_waves=[(doors + timedelta(hours=4), 0), (doors + timedelta(hours=7), 1)],
    )
    values.update(overrides)
    return EventSpec(**values)


@dataclass
class BotHarness:
    """The emulator and the bot under test, with helpers to talk to it as people."""

    emulator: BotApiEmulator
    settings: Settings
    application: Application
    users: dict[int, EmulatedUser] = field(default_factory=dict)

    def user(self, user_id: int | None = None, **kwargs) -> EmulatedUser:
        person = self.emulator.user(user_id=user_id, **kwargs)
        self.users[person.id] = person
        return person

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await settle(self.emulator, self.application, timeout=timeout)

    async def say(self, person: EmulatedUser, text: str) -> StoredMessage | None:
        """Send a text (or a /command) and wait until the bot has handled it."""
        if text.startswith("/"):
            command, _, payload = text.partition(" ")
            await person.send_command(command, payload or None)
        else:
            await person.send_text(text)
        await self.settle()
        return person.last_message()

    async def tap(self, person: EmulatedUser, label, message=None) -> StoredMessage | None:
        await person.tap(label, message=message)
        await self.settle()
        return person.last_message()

    async def drain(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Until nothing is due: updates handled, scheduled tasks run, the outbox empty."""
        await timeline.drain(self.emulator, self.application, timeout)

    async def travel_to(self, moment: datetime) -> None:
        """Move the bot's clock forward to `moment`, stopping at each scheduled task on the
        way, in order, as the night would have played it (shared with the demo)."""
        await timeline.travel_to(self.emulator, self.application, moment)

    async def restart(self) -> None:
        """Stop this Application and start a new one on the same database and emulator."""
        await stop_application(self.application)
        self.application = build_application(self.settings)
        await start_application(self.application)


def harness_settings(database_url: str, emulator: BotApiEmulator) -> Settings:
    return load_settings(
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_URL=emulator.url,
        DATABASE_URL=database_url,
        COMPANION_ADMINS=str(ADMIN_ID),
        DEFAULT_LANGUAGE="fr",
        DEFAULT_TIMEZONE="Europe/Paris",
        # The emulator does not enforce Telegram's limits unless a test asks it to.
        TELEGRAM_RATE_LIMIT=0,
        TELEGRAM_CHAT_INTERVAL=0,
        _env_file=None,
    )


async def start_application(application: Application) -> None:
    # Test scripts tap faster than any person: only the flood test uses the real guard.
    application.bot_data["flood_guard"] = FloodGuard(capacity=10_000)
    await start_polling(application, timeout=5)


async def stop_application(application: Application) -> None:
    await stop_polling(application)


@contextlib.asynccontextmanager
async def start_harness(database_url: str) -> AsyncIterator[BotHarness]:
    """Tortoise must already be open in this task (the `db` fixture does it)."""
    async with BotApiEmulator() as emulator:
        settings = harness_settings(database_url, emulator)
        application = build_application(settings)
        await start_application(application)
        harness = BotHarness(emulator, settings, application)
        try:
            yield harness
        finally:
            await stop_application(harness.application)


async def conversation_step(telegram_id: int, conversation: str) -> object | None:
    """Her stored step in a conversation (None when she is in none), as the next update
    handled by any process will read it."""
    state = await persistence.load(telegram_id)
    return state.get(CONVERSATIONS, {}).get(conversation)


def data(value: str):
    """Match a button by its callback data: exact, or a prefix when `value` ends with '*'."""
    if value.endswith("*"):
        return lambda button: (button.callback_data or "").startswith(value[:-1])
    return lambda button: button.callback_data == value


def texts_after(person: EmulatedUser, count_before: int) -> list[str]:
    """What the bot wrote to her since she had `count_before` messages from it."""
    return [message.text or "" for message in person.messages()[count_before:]]


async def sign_up(
    harness: BotHarness,
    person: EmulatedUser,
    code: str,
    *,
    language: str = "en",
    destination: str = "oberkampf",
) -> None:
    """The whole happy path, by callback data so it works in any language."""
    await harness.say(person, f"/start {code}")
    await harness.tap(person, data(f"su:lang:{language}"))
    await harness.tap(person, data("su:charter:yes"))
    if any(b.callback_data == "su:name:default" for b in person.inline_buttons()):
        await harness.tap(person, data("su:name:default"))  # asked only the first time
    await harness.tap(person, data("su:arr:slot:*"))
    await harness.say(person, destination)
    await harness.tap(person, data("su:tr:transit"))
    await harness.tap(person, data("su:wave:*"))
    await harness.tap(person, data("su:sum:confirm"))


async def sign_up_waiting(
    person: EmulatedUser,
    code: str,
    *,
    language: str = "en",
    destination: str = "oberkampf",
    transport: str = "transit",
    seats: int = 0,
    wave: str = "",
) -> None:
    """The happy path for people acting at the same time: each waits for her own answers."""

    async def then_expect(button_prefix: str) -> None:
        await person.wait_for_message(
            lambda message: any(
                (button.callback_data or "").startswith(button_prefix)
                for button in message.inline_buttons()
            ),
            timeout=30,
        )

    await person.send_command("/start", code)
    await then_expect("su:lang:")
    await person.tap(data(f"su:lang:{language}"))
    await then_expect("su:charter:")
    await person.tap(data("su:charter:yes"))
    await then_expect("su:name:")
    await person.tap(data("su:name:default"))
    await then_expect("su:arr:")
    await person.tap(data("su:arr:slot:*"))
    await then_expect("su:dest:none")
    await person.send_text(destination)
    await then_expect("su:tr:")
    await person.tap(data(f"su:tr:{transport}"))
    if transport == "car":
        await then_expect("su:seats:")
        await person.tap(data(f"su:seats:{seats}"))
    await then_expect("su:wave:")
    await person.tap(lambda b: (b.callback_data or "").startswith("su:wave:")
                     and b.text.startswith(wave))  # fmt: skip
    await then_expect("su:sum:confirm")
    await person.tap(data("su:sum:confirm"))
    await person.wait_for_message(lambda message: "/leave" in (message.text or ""), timeout=30)
