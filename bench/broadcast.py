"""Broadcast benchmark: an organizer broadcasts to N attendees through the real service
(`broadcasts.send_broadcast`: recipients, outbox rows, the delivery report) and the real bot
(`build_application` + its workers) against the Bot API emulator enforcing Telegram's limits
(30 messages/s per bot, 1/s per chat).

    python bench/broadcast.py --n 2000
    python bench/broadcast.py --n 2000 --database-url postgres://postgres@127.0.0.1:5432/test

With PostgreSQL, a scratch database is created on that server and dropped afterwards (the
database named in the URL is only used to connect). Prints the achieved rate and its share
of the bot's --rate (target: at least 95% of 30 msg/s), messages lost and duplicated
(target: 0), 429s received, wall time and when the organizer got her delivery report, then
the same as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from companion_bot.app import build_application, start_polling, stop_polling
from companion_bot.db import apply_migrations, close_database, open_database
from companion_bot.emulator import BotApiEmulator, Limits
from companion_bot.models import Event, Person, Registration, Role, RoleKind
from companion_bot.services import outbox
from companion_bot.services.broadcasts import Audience, send_broadcast
from companion_bot.settings import load_settings
from companion_bot.workers import get_workers


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="recipients (default 2000)")
    parser.add_argument(
        "--database-url", default=None, help="postgres://… (default: a temporary SQLite file)"
    )
    parser.add_argument(
        "--rate", type=float, default=30, help="TELEGRAM_RATE_LIMIT of the bot (default 30)"
    )
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="share of sends failing (500/502/drop)"
    )
    parser.add_argument("--concurrency", type=int, default=None, help="outbox calls in flight")
    return parser.parse_args()


@contextlib.asynccontextmanager
async def scratch_database(url: str | None) -> AsyncIterator[str]:
    """A migrated, empty database: a temporary SQLite file, or a PostgreSQL database of its
    own on the given server."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            scratch = f"sqlite://{Path(folder) / 'bench.sqlite3'}"
            await apply_migrations(scratch)
            yield scratch
        return
    import asyncpg

    admin = url.replace("postgres://", "postgresql://", 1)
    name = f"companion_bench_{secrets.token_hex(5)}"
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        scratch = url.rsplit("/", 1)[0] + "/" + name
        await apply_migrations(scratch)
        yield scratch
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()


def database_label(url: str) -> str:
    """sqlite or postgresql, from the URL's scheme (postgres://, asyncpg://, psycopg://…)."""
    return "sqlite" if url.split("://", 1)[0] == "sqlite" else "postgresql"


async def bench_event(doors_open: datetime, closing: datetime) -> Event:
    code = secrets.token_hex(4)
    return await Event.create(
        name="Benchmark night", venue_name="La Station", venue_lat=48.86, venue_lon=2.38,
        doors_open=doors_open, closing=closing, charter="Be kind.",
        attendee_code=f"a{code}", volunteer_code=f"v{code}", organizer_code=f"o{code}",
    )  # fmt: skip


async def seed(emulator: BotApiEmulator, n: int) -> tuple[Event, object, list[object]]:
    """An event tomorrow, its organizer and `n` confirmed attendees (all started the bot)."""
    doors = datetime.now(UTC) + timedelta(days=1)
    event = await bench_event(doors, doors + timedelta(hours=7))
    organizer = emulator.user(first_name="Orga", language_code="en", started=True)
    person = await Person.create(telegram_id=organizer.id, language="en", display_name="Orga")
    await Role.create(event=event, person=person, kind=RoleKind.ORGANIZER)
    users = [emulator.user(language_code="en", started=True) for _ in range(n)]
    await Person.bulk_create(
        [
            Person(telegram_id=user.id, language="en", display_name=user.first_name)
            for user in users
        ],
        batch_size=500,
    )
    ids = await Person.filter(telegram_id__in=[u.id for u in users]).values_list("id", flat=True)
    await Registration.bulk_create(
        [Registration(event=event, person_id=pid, status="confirmed") for pid in ids],
        batch_size=500,
    )
    return event, organizer, users


async def benchmark(args: argparse.Namespace) -> dict[str, object]:
    limits = Limits.telegram(failure_rate=args.failure_rate)
    async with (
        scratch_database(args.database_url) as database_url,
        BotApiEmulator(limits=limits) as emulator,
    ):
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_URL=emulator.url,
            DATABASE_URL=database_url,
            TELEGRAM_RATE_LIMIT=args.rate,
            _env_file=None,
        )
        await open_database(database_url)
        application = build_application(settings)
        try:
            await start_polling(application, timeout=5)
            worker = get_workers(application).outbox
            if args.concurrency:
                worker.concurrency = args.concurrency
            event, organizer, people = await seed(emulator, args.n)
            text = "Departures tonight: 03:00 and 06:00 from the main entrance."

            started = time.monotonic()
            broadcast = await send_broadcast(organizer.id, event.id, Audience.ATTENDEES, None, text)
            enqueued = time.monotonic()
            await worker.wait_idle(timeout=args.n / max(args.rate, 1) * 3 + 60)
            drained = time.monotonic()
            # The report task polls the outbox every few seconds, then tells the organizer.
            await organizer.wait_for_message(
                lambda message: "Delivery report" in (message.text or ""), timeout=60
            )
            reported = time.monotonic()
            report = await outbox.delivery_report(broadcast.id)
        finally:
            await stop_polling(application)
            await close_database()

    def is_broadcast(message_text: str | None) -> bool:
        return (message_text or "").endswith("\n\n" + text)

    deliveries = sorted(
        call.time
        for call in emulator.calls("sendMessage")
        if call.status == 200 and is_broadcast(call.params.get("text"))
    )
    span = deliveries[-1] - deliveries[0] if len(deliveries) > 1 else 0.0
    rate = (len(deliveries) - 1) / span if span else 0.0
    received = sum(1 for person in people if any(is_broadcast(m.text) for m in person.messages()))
    return {
        "database": database_label(database_url),
        "recipients": args.n,
        "queued": broadcast.recipients,
        "enqueue_seconds": round(enqueued - started, 3),
        "rate_msg_per_s": round(rate, 2),
        "rate_target": args.rate,
        "rate_share_of_target": round(rate / args.rate, 3) if args.rate else None,
        "lost": args.n - received,
        "duplicates": emulator.stats.total_duplicates,
        "http_429": emulator.stats.rate_limited.total(),
        "injected_failures": emulator.stats.failed.total(),
        "wall_seconds": round(drained - started, 2),
        "report_after_seconds": round(reported - drained, 2),
        "report": {"sent": report.sent, "blocked": report.blocked, "failed": report.failed,
                   "pending": report.pending},
        "counters": vars(worker.counters),
    }  # fmt: skip


def main() -> None:
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(message)s")
    # PTB logs every injected 502 page it cannot parse, with a traceback.
    logging.getLogger("telegram").setLevel(logging.CRITICAL)
    args = arguments()
    result = asyncio.run(benchmark(args))
    print(f"command:    {' '.join(sys.argv)}")
    print(f"database:   {result['database']}")
    print(f"recipients: {result['recipients']} (queued in {result['enqueue_seconds']} s)")
    share = result["rate_share_of_target"]
    print(
        f"rate:       {result['rate_msg_per_s']} msg/s "
        f"({share:.1%} of the bot's --rate {result['rate_target']:g} msg/s)"
        if share is not None
        else f"rate:       {result['rate_msg_per_s']} msg/s (pacing off: --rate 0)"
    )
    print(f"lost:       {result['lost']}")
    print(f"duplicates: {result['duplicates']}")
    print(f"429s:       {result['http_429']}")
    print(f"wall time:  {result['wall_seconds']} s (send_broadcast to drained)")
    print(f"report:     {result['report_after_seconds']} s after the last message")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
