"""Real bot processes killed while people use them, and a stand-in for Telegram that posts
updates to their webhooks the way Telegram does: an update goes again until a process
answers 200, one person's updates one after the other, processes taken in turn."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from companion_bot.emulator import BotApiEmulator, EmulatedUser, StoredMessage
from companion_bot.faults import ENVIRONMENT as CRASH_AT
from companion_bot.settings import load_settings
from companion_bot.web.webhook import SECRET_HEADER
from tests.test_cli import SETTINGS

WEBHOOK_URL = "https://bot.crash.invalid/telegram"
ANSWER_TIMEOUT = 120.0


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    base: str
    log: Path


@dataclass
class Fleet:
    """`companion-bot run --webhook` processes on one database; a dead one is restarted
    with the next crash point of its schedule (none once the schedule is used up)."""

    emulator: BotApiEmulator
    database_url: str
    folder: Path
    schedules: list[list[str]]
    extra: dict[str, str] = field(default_factory=dict)
    processes: list[BotProcess | None] = field(default_factory=list)
    deaths: int = 0
    _watchers: list[asyncio.Task] = field(default_factory=list)
    _stopping: bool = False

    async def start(self) -> None:
        self.processes = [None] * len(self.schedules)
        await asyncio.gather(*(self._start(index) for index in range(len(self.schedules))))

    async def _start(self, index: int) -> None:
        crash_at = self.schedules[index].pop(0) if self.schedules[index] else ""
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS and "WEB" not in k}
        env.update(
            TELEGRAM_BOT_TOKEN=self.emulator.token,
            TELEGRAM_API_URL=self.emulator.url,
            DATABASE_URL=self.database_url,
            DEFAULT_LANGUAGE="en",
            TELEGRAM_RATE_LIMIT="0",
            TELEGRAM_CHAT_INTERVAL="0",
            WEBHOOK_URL=WEBHOOK_URL,
            WEB_PORT="0",
            **{CRASH_AT: crash_at},
            **self.extra,
        )
        log = self.folder / f"bot-{index}.log"
        with log.open("ab") as output:
            output.write(f"\n--- start, crash at {crash_at or 'nothing'}\n".encode())
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "companion_bot", "run", "--webhook",
            env=env, cwd=self.folder, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        base = await self._listening(process, log)
        self.processes[index] = BotProcess(process, base, log)
        self._watchers.append(asyncio.create_task(self._watch(index, process)))

    async def _listening(self, process: asyncio.subprocess.Process, log: Path) -> str:
        async with asyncio.timeout(60):
            with log.open("ab") as output:
                while line := await process.stderr.readline():
                    output.write(line)
                    if match := re.search(rb"listening on (http://[\d.]+:\d+)", line):
                        asyncio.create_task(self._copy(process.stderr, log))  # noqa: RUF006
                        return match.group(1).decode()
        raise AssertionError("a bot process stopped while starting:\n" + tail(log))

    @staticmethod
    async def _copy(stream: asyncio.StreamReader, log: Path) -> None:
        with log.open("ab") as output:
            while line := await stream.readline():
                output.write(line)
                output.flush()

    async def _watch(self, index: int, process: asyncio.subprocess.Process) -> None:
        await process.wait()
        if self._stopping:
            return
        self.deaths += 1
        self.processes[index] = None
        await self._start(index)

    def kill(self, index: int) -> bool:
        running = self.processes[index]
        if running is None or running.process.returncode is not None:
            return False
        running.process.send_signal(signal.SIGKILL)
        return True

    def alive(self) -> list[BotProcess]:
        return [p for p in self.processes if p is not None and p.process.returncode is None]

    async def stop(self) -> None:
        self._stopping = True
        for running in self.processes:
            if running is not None and running.process.returncode is None:
                running.process.send_signal(signal.SIGTERM)
        for running in self.processes:
            if running is not None:
                try:
                    await asyncio.wait_for(running.process.wait(), 60)
                except TimeoutError:
                    running.process.kill()
        for watcher in self._watchers:
            watcher.cancel()

    def logs(self) -> str:
        return "".join(path.read_text() for path in sorted(self.folder.glob("bot-*.log")))


def tail(log: Path, size: int = 3000) -> str:
    return log.read_text()[-size:]


class Telegram:
    """Posts the emulator's pending updates to the fleet's webhooks, like Telegram: each
    update until a process answers 200 (a dead or dying process answers nothing), the
    processes in turn, one person's updates in order (her next one once the previous one was
    taken)."""

    def __init__(self, emulator: BotApiEmulator, fleet: Fleet) -> None:
        self.emulator = emulator
        self.fleet = fleet
        secret = load_settings(TELEGRAM_BOT_TOKEN=emulator.token, _env_file=None).webhook_secret
        self.headers = {SECRET_HEADER: secret}
        self._turn = itertools.count()
        self._last: dict[int, asyncio.Task] = {}
        self._task: asyncio.Task | None = None
        self.posted = 0
        self.refused = 0

    async def __aenter__(self) -> Telegram:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in self._last.values():
            task.cancel()
        await self.http.close()

    async def _run(self) -> None:
        bot = self.emulator.default_bot
        while True:
            await self.emulator.wait_for(lambda: bool(bot.pending), timeout=3600)
            updates, bot.pending[:] = list(bot.pending), []
            for update in updates:
                self.post_in_order(update)

    def post_in_order(self, update: dict) -> None:
        person = next(
            (value["from"]["id"] for value in update.values()
             if isinstance(value, dict) and "from" in value),
            0,
        )  # fmt: skip
        previous = self._last.get(person)
        self._last[person] = asyncio.create_task(self._deliver(update, previous))

    async def post_at_once(self, updates: list[dict]) -> None:
        """Several updates posted together, each to another process (no order kept)."""
        await asyncio.gather(*(self._deliver(update, None) for update in updates))

    async def _deliver(self, update: dict, previous: asyncio.Task | None) -> None:
        if previous is not None:
            await previous
        while True:
            alive = self.fleet.alive()
            if alive:
                target = alive[next(self._turn) % len(alive)]
                try:
                    async with self.http.post(
                        f"{target.base}/telegram", json=update, headers=self.headers
                    ) as response:
                        if response.status == 200:
                            self.posted += 1
                            return
                except (aiohttp.ClientError, TimeoutError, OSError):
                    pass
                self.refused += 1
            await asyncio.sleep(0.1)


async def answered(
    person: EmulatedUser, answer: Callable[[StoredMessage], bool], after: int
) -> StoredMessage:
    """Her first message after the `after` first ones that `answer` accepts."""

    def found() -> StoredMessage | None:
        return next((m for m in person.messages()[after:] if answer(m)), None)

    try:
        await person.emulator.wait_for(lambda: found() is not None, timeout=ANSWER_TIMEOUT)
    except TimeoutError:
        said = [(m.message_id, m.text[:40]) for m in person.messages()[-3:]]
        answers = [
            (a.message_id, a.data, a.answered, a.text) for a in person.callback_answers()[-3:]
        ]
        raise AssertionError(
            f"{person} got no answer; her last messages: {said}; tap answers: {answers}"
        ) from None
    message = found()
    assert message is not None
    return message


def duplicates(person: EmulatedUser) -> int:
    """Messages she got twice (the same text in a row of her chat)."""
    texts = [message.text for message in person.messages() if message.from_bot and message.text]
    return len(texts) - len(set(texts))
