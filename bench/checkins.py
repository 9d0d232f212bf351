""" "I'm home" benchmark: N people of departure groups tap "🏠 I'm home" at the same moment;
how long until each one's group notification is queued in the outbox?

    python bench/checkins.py --n 500
    python bench/checkins.py --n 500 --database-url postgres://postgres@127.0.0.1:5432/test

The real bot (`build_application`, polling, its workers) runs against the Bot API emulator;
the taps are real callback queries with the signed button data the bot sends. Latency per
tap: from the moment the update is handed to the emulator to the moment her "I'm home"
transaction has committed, i.e. when the "<name> is home" rows for her group are visible to
the outbox worker (stamped as `closing.home` returns, after its commit; a row's `created_at`
would be taken before the commit and miss the wait for the database). Only taps whose rows
are then found in the outbox count as notified. Telegram pacing is off
(TELEGRAM_RATE_LIMIT=0): what is measured is the bot, not Telegram's limits. Prints
p50/p99/max and throughput, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# bench/ is on sys.path when run as a script
from broadcast import bench_event, database_label, scratch_database

from companion_bot.app import build_application, start_polling, stop_polling
from companion_bot.db import close_database, open_database
from companion_bot.emulator import BotApiEmulator
from companion_bot.models import (
    CompanionGroup,
    DepartureWave,
    GroupKind,
    GroupMember,
    GroupStatus,
    OutboxMessage,
    Person,
    Registration,
)
from companion_bot.services import closing
from companion_bot.settings import load_settings
from companion_bot.signing import sign

GROUP_SIZE = 4


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="people tapping (default 500)")
    parser.add_argument("--database-url", default=None, help="postgres://… (default: SQLite)")
    return parser.parse_args()


async def seed(emulator: BotApiEmulator, n: int) -> list[tuple[object, Registration]]:
    """An event whose departure groups have left: everyone is on her way home."""
    now = datetime.now(UTC)
    event = await bench_event(now - timedelta(hours=6), now + timedelta(hours=1))
    wave = await DepartureWave.create(event=event, departs_at=now - timedelta(minutes=30))
    people = []
    for i in range(n):
        user = emulator.user(first_name=f"P{i}", language_code="en", started=True)
        person = await Person.create(telegram_id=user.id, language="en", display_name=f"P{i}")
        registration = await Registration.create(
            event=event, person=person, status="confirmed", consent_at=now,
            arrival_kind="on_my_own", wants_departure_group=True,
            destination_place_id="fr-montreuil", transport="transit", departure_wave=wave,
            left_at=now - timedelta(minutes=20),
        )  # fmt: skip
        people.append((user, registration))
    for start in range(0, n, GROUP_SIZE):
        group = await CompanionGroup.create(
            event=event, kind=GroupKind.DEPARTURE, status=GroupStatus.LEFT,
            departure_wave=wave, meet_at=wave.departs_at, left_at=now - timedelta(minutes=20),
        )  # fmt: skip
        await GroupMember.bulk_create(
            GroupMember(group=group, registration=registration, position=position)
            for position, (_, registration) in enumerate(people[start : start + GROUP_SIZE])
        )
    return people


async def benchmark(args: argparse.Namespace) -> dict[str, object]:
    async with (
        scratch_database(args.database_url) as database_url,
        BotApiEmulator() as emulator,
    ):
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=emulator.token, TELEGRAM_API_URL=emulator.url,
            DATABASE_URL=database_url, TELEGRAM_RATE_LIMIT=0, TELEGRAM_CHAT_INTERVAL=0,
            _env_file=None,
        )  # fmt: skip
        await open_database(database_url)
        application = build_application(settings)
        try:
            people = await seed(emulator, args.n)
            committed: dict[int, float] = {}
            restore = stamp_commits(committed)
            await start_polling(application, timeout=5)
            tapped_at: dict[int, float] = {}
            for user, registration in people:
                data = sign(user.id, f"cl:home:{registration.id}")
                tapped_at[registration.id] = time.time()
                await user.tap_data(1, data)
            started = time.monotonic()
            await emulator.wait_all_delivered(timeout=600)
            await application.update_queue.join()
            handled = time.monotonic() - started
            notified = await notified_registrations()
        finally:
            restore()
            await stop_polling(application)
            await close_database()
    latencies = sorted(
        (committed[rid] - tapped_at[rid]) * 1000
        for rid in tapped_at
        if rid in committed and rid in notified
    )
    return {
        "n": args.n,
        "database": database_label(database_url),
        "notified": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        "max_ms": round(latencies[-1], 1),
        "taps_per_second": round(args.n / handled, 1),
    }


def stamp_commits(committed: dict[int, float]) -> Callable[[], None]:
    """Wrap `closing.home` (the handler calls it through the module) to note, per
    registration, when it returned: its transaction, with the group's rows, has committed by
    then. Returns what puts the original back."""
    original = closing.home

    async def home(telegram_id: int, registration_id: int, now: datetime | None = None):
        result = await original(telegram_id, registration_id, now)
        committed.setdefault(registration_id, time.time())
        return result

    closing.home = home
    return lambda: setattr(closing, "home", original)


async def notified_registrations() -> set[int]:
    """Registration ids with a "<name> is home" row queued for her group."""
    keys = await OutboxMessage.filter(dedupe_key__startswith="home:").values_list(
        "dedupe_key", flat=True
    )
    return {int(key.split(":")[1]) for key in keys}


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    args = arguments()
    result = asyncio.run(benchmark(args))
    print(
        f'{result["n"]} "I\'m home" taps at once on {result["database"]}: '
        f"{result['notified']} groups notified; time to the notification being committed: "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms; "
        f"{result['taps_per_second']} taps/s handled"
    )
    print(json.dumps(result))
    return 0 if result["notified"] == result["n"] else 1


if __name__ == "__main__":
    sys.exit(main())
