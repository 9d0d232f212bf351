"""Bot processes killed in the middle of a broadcast, and several processes sharing one
outbox: every message arrives, and only what was in flight at a kill may arrive twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from companion_bot.emulator import BotApiEmulator, EmulatedUser, Limits
from companion_bot.models import OutboxMessage, OutboxStatus
from companion_bot.services import outbox
from companion_bot.services.outbox import Outgoing
from companion_bot.workers import outstanding_messages
from tests.conftest import POSTGRES_URL
from tests.test_cli import ROOT, SETTINGS

RECIPIENTS = 120


async def start_bot(emulator: BotApiEmulator, database_url: str, log: Path):
    """`companion-bot run` as in production (30 msg/s), its output in `log`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_URL=emulator.url,
        DATABASE_URL=database_url,
        DEFAULT_LANGUAGE="en",
    )
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "companion_bot", "run",
            env=env, cwd=log.parent, stdout=output, stderr=output,
        )  # fmt: skip


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)


async def wait_until(condition: Callable[[], object], timeout: float = 60) -> None:  # noqa: ASYNC109
    """For database state, which the emulator cannot signal: check every 50 ms."""
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - nothing to wait on but the database
            await asyncio.sleep(0.05)


async def nothing_left() -> bool:
    return not await outstanding_messages()


def received(person: EmulatedUser, text: str) -> int:
    return sum(message.text == text for message in person.messages())


@pytest.mark.slow
@pytest.mark.parametrize(
    "failures",
    [
        pytest.param({}, id="clean-network"),
        pytest.param(
            {"failure_rate": 0.1, "failure_kinds": ("500", "502", "drop", "lost_response")},
            id="10pc-failures-with-lost-responses",
        ),
        pytest.param(
            # "Telegram" allows less than the bot sends: 429s with retry_after all along.
            {
                "rate_limit_per_second": 12,
                "failure_rate": 0.1,
                "failure_kinds": ("500", "502", "drop", "lost_response"),
            },
            id="rate-limited-and-10pc-failures",
        ),
    ],
)
async def test_a_killed_bot_loses_nothing_and_resends_only_what_was_in_flight(
    db, tmp_path, failures
):
    async with BotApiEmulator(limits=Limits.telegram(**failures)) as emulator:
        people = [emulator.user(started=True) for _ in range(RECIPIENTS)]
        text = "Departures at 03:00 from the main entrance"
        await outbox.enqueue_many(Outgoing(person.id, text) for person in people)
        log = tmp_path / "bot.log"

        first = await start_bot(emulator, db, log)
        try:
            await emulator.wait_for(
                lambda: emulator.stats.total_delivered >= RECIPIENTS // 2, timeout=60
            )
            first.kill()  # SIGKILL: no clean shutdown, claimed rows stay "sending"
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
        assert emulator.stats.total_delivered < RECIPIENTS, "killed too late to test anything"
        left_in_flight = await OutboxMessage.filter(status=OutboxStatus.SENDING).count()

        second = await start_bot(emulator, db, log)
        try:
            await emulator.wait_for(
                lambda: all(received(person, text) for person in people), timeout=60
            )
            await wait_until(nothing_left)
        finally:
            await stop(second)

    output = log.read_text()
    assert second.returncode == 0, output[-3000:]
    assert all(received(person, text) >= 1 for person in people)
    stats = emulator.stats
    if failures.get("rate_limit_per_second"):
        assert stats.rate_limited.total() > 0, "the rate limit never answered 429"
    # A lost response is a message delivered whose answer never came: resent by design.
    assert stats.total_duplicates <= 1 + stats.lost_responses.total(), output[-3000:]
    assert await OutboxMessage.exclude(status=OutboxStatus.SENT).count() == 0
    # Recovered at once (same host, dead process), not after the 60 s lease.
    assert left_in_flight == 0 or "left in flight by a stopped process" in output


@pytest.mark.slow
@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="several processes share an outbox on PostgreSQL; SQLite is one process by design",
)
async def test_two_processes_share_the_outbox_without_sending_twice(db, tmp_path):
    async with BotApiEmulator(limits=Limits(per_chat_per_second=1, per_chat_burst=3)) as emulator:
        people = [emulator.user(started=True) for _ in range(300)]
        workers = []
        try:
            for number in (1, 2):
                log = (tmp_path / f"worker{number}.log").open("wb")
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "tests.outbox_process",
                    db, emulator.url, emulator.token, "100",
                    cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=log,
                )  # fmt: skip
                workers.append(process)
                assert await asyncio.wait_for(process.stdout.readline(), 60) == b"ready\n"
            await outbox.enqueue_many(
                Outgoing(person.id, f"Hello {person.id}", priority=person.id % 3)
                for person in people
            )
            await emulator.wait_for(lambda: emulator.stats.total_delivered >= 300, timeout=60)
            await wait_until(nothing_left)
        finally:
            for process in workers:
                await stop(process)

    assert all(len(person.messages()) == 1 for person in people)
    assert emulator.stats.total_duplicates == 0
    assert emulator.stats.total_rejected == 0
    senders = await OutboxMessage.filter(status=OutboxStatus.SENT).values_list(
        "claimed_by", flat=True
    )
    assert len(senders) == 300
    assert len(set(senders)) == 2  # both processes took part
