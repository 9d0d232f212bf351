"""Load benchmark: many attendees signing up at once through the webhook of real bot processes.

    python bench/load.py --users 600 --rate 300
    python bench/load.py --users 600 --rate 300 --database-url postgres://postgres@127.0.0.1:5432/test
    python bench/load.py --users 600 --rate 0        # as fast as the bot goes (capacity)
    python bench/load.py --users 300 --rate 0 --processes 2 --database-url postgres://…
    python bench/load.py --users 300 --rate 0 --baseline echo     # and the framework's floor

`--processes N` starts N bot processes on the one database; the updates are posted to them in
turn, as a round-robin proxy would. `--baseline echo` then runs, in the same run and against
the same emulator, a bare python-telegram-bot application (bench/echo_bot.py: one handler
that answers each update, the project's aiohttp request class, an aiohttp webhook that puts
each update on PTB's queue) with as many updates, and prints the CPU each costs per update
and the ratio: what our bot adds to the framework's floor.

Starts `companion-bot run --webhook` as a subprocess on a scratch database (a temporary SQLite
file, or a PostgreSQL database of its own on the given server, dropped afterwards), with the
Bot API emulator of this process as its Telegram. Each simulated attendee goes through the
whole sign-up (/start with the event's code, language, charter, name, arrival slot, typed
neighbourhood, transport, departure, confirmation: 9 updates), each update POSTed to the
webhook with the secret header, as Telegram would (at most 40 connections at once, Telegram's
default `max_connections`), the next one once the bot's answer has arrived.

`--rate` is the offered load in updates per second over all attendees (an open-loop pacer:
slots are not caught up when no attendee is ready); 0 sends each update as soon as its
attendee may. The bot runs with TELEGRAM_RATE_LIMIT=0: Telegram's own pacing (30 messages/s)
would otherwise be the only thing measured; here it is the bot's own work.

Prints updates/s sustained (answered updates over the time from the first POST to the last
answer) and the latency of each update, from just before its POST until the bot's answer
reached the emulator (queueing, handlers, database writes and the reply's HTTP call
included), p50/p99/max; then the bot's own handler latency from its /metrics histogram
(handlers plus the conversation-state write, without the queueing; bucket-interpolated,
so coarse). Warm-up attendees (--warmup) are not counted. Then the same as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from broadcast import scratch_database  # bench/ is on sys.path when run as a script

from companion_bot.db import close_database, open_database
from companion_bot.emulator import BotApiEmulator, EmulatedUser, InlineButton, StoredMessage
from companion_bot.models import Registration
from companion_bot.services import events
from companion_bot.settings import load_settings
from companion_bot.web.webhook import SECRET_HEADER

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_URL = "https://bot.bench.invalid/telegram"
DESTINATIONS = ["Oberkampf", "Montreuil", "Belleville", "Bastille", "Pigalle", "Pantin",
                "Vincennes", "Bagnolet", "Nation", "Paris 18e"]  # fmt: skip
TELEGRAM_MAX_CONNECTIONS = 40
REPLY_TIMEOUT = 60.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=600, help="attendees (default 600)")
    parser.add_argument(
        "--rate", type=float, default=300, help="offered updates/s, 0: unpaced (default 300)"
    )
    parser.add_argument("--warmup", type=int, default=20, help="attendees not counted (20)")
    parser.add_argument(
        "--database-url", default=None, help="postgres://… (default: a temporary SQLite file)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="profile the bot: cProfile to a .prof file, else pyinstrument (.html or text)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="bot processes on the database (default 1)"
    )
    parser.add_argument(
        "--baseline", choices=["echo"], help="also measure a bare PTB echo bot (bench/echo_bot.py)"
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON result to this file")
    return parser.parse_args()


# -- the emulator, with O(1) waits for an answer ------------------------------------------------


class TimedEmulator(BotApiEmulator):
    """Notes when the awaited answer reaches a chat. The emulator's own `wait_for` wakes
    every waiter at each change: with hundreds of attendees waiting, this process would
    spend its time there instead of being Telegram."""

    def __init__(self) -> None:
        super().__init__(request_log_size=1_000)
        self.waiters: dict[int, tuple[Callable[[StoredMessage], bool], asyncio.Future]] = {}

    def deliver(self, bot: Any, conv: Any, data: dict) -> StoredMessage:
        message = super().deliver(bot, conv, data)
        waiter = self.waiters.get(conv.chat_id)
        if waiter is not None and not waiter[1].done() and waiter[0](message):
            waiter[1].set_result(time.perf_counter())
        return message


def has_button(prefix: str) -> Callable[[StoredMessage], bool]:
    return lambda message: any(
        (button.callback_data or "").startswith(prefix) for button in message.inline_buttons()
    )


def button(prefix: str) -> Callable[[InlineButton], bool]:
    return lambda candidate: (candidate.callback_data or "").startswith(prefix)


def sign_up_steps(
    person: EmulatedUser, code: str, destination: str
) -> list[tuple[Callable[[], Awaitable[int]], Callable[[StoredMessage], bool]]]:
    """(what she does, the answer she waits for before going on)."""
    return [
        (lambda: person.start(code), has_button("su:lang:")),
        (lambda: person.tap(button("su:lang:en")), has_button("su:charter:")),
        (lambda: person.tap(button("su:charter:yes")), has_button("su:name:")),
        (lambda: person.tap(button("su:name:default")), has_button("su:arr:")),
        (lambda: person.tap(button("su:arr:slot:")), has_button("su:dest:none")),
        (lambda: person.send_text(destination), has_button("su:tr:")),
        (lambda: person.tap(button("su:tr:transit")), has_button("su:wave:")),
        (lambda: person.tap(button("su:wave:")), has_button("su:sum:confirm")),
        (lambda: person.tap(button("su:sum:confirm")), lambda m: "/leave" in (m.text or "")),
    ]


# -- pacing and measuring -----------------------------------------------------------------------


class Pacer:
    """Open loop: one slot every 1/rate s; a slot nobody was ready for is lost, not saved."""

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def turn(self) -> None:
        if not self.interval:
            return
        now = time.perf_counter()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    first_post: float | None = None
    last_answer: float = 0.0
    completed: int = 0
    stuck: list[str] = field(default_factory=list)
    bot_cpu: float | None = None
    bench_cpu: float = 0.0
    machine_busy: float | None = None
    per_process_cpu: list[float] = field(default_factory=list)


async def attendee(
    emulator: TimedEmulator,
    http: aiohttp.ClientSession,
    headers: dict[str, str],
    person: EmulatedUser,
    steps: list[tuple[Callable[[], Awaitable[int]], Callable[[StoredMessage], bool]]],
    bases: itertools.cycle,
    pacer: Pacer,
    run: Run,
) -> None:
    pending = emulator.default_bot.pending
    loop = asyncio.get_running_loop()
    for step, (act, answer) in enumerate(steps, start=1):
        await pacer.turn()
        update_id = await act()
        update = pending.pop()  # what she just did: the emulator queued it last
        assert update["update_id"] == update_id
        arrived: asyncio.Future[float] = loop.create_future()
        emulator.waiters[person.id] = (answer, arrived)
        posted = time.perf_counter()
        if run.first_post is None:
            run.first_post = posted
        async with http.post(f"{next(bases)}/telegram", json=update, headers=headers) as response:
            if response.status != 200:
                run.stuck.append(f"step {step}: HTTP {response.status}")
                return
        try:
            answered = await asyncio.wait_for(arrived, REPLY_TIMEOUT)
        except TimeoutError:
            last = person.last_text()
            run.stuck.append(f"step {step}: no answer; last message {last!r:.80}")
            return
        finally:
            emulator.waiters.pop(person.id, None)
        run.latencies.append(answered - posted)
        run.last_answer = max(run.last_answer, answered)
    run.completed += 1


def echo_steps(
    person: EmulatedUser, code: str, destination: str
) -> list[tuple[Callable[[], Awaitable[int]], Callable[[StoredMessage], bool]]]:
    """As many updates as a sign-up, for the echo bot: each answered with its own text."""
    return [
        (lambda n=n: person.send_text(f"echo {n}"), lambda m, n=n: m.text == f"echo {n}")
        for n in range(len(sign_up_steps(person, code, destination)))
    ]


async def crowd(
    emulator: TimedEmulator,
    bases: list[str],
    secret: str,
    code: str,
    people: int,
    rate: float,
    steps=sign_up_steps,
) -> Run:
    run = Run()
    pacer = Pacer(rate)
    headers = {SECRET_HEADER: secret}
    turns = itertools.cycle(bases)  # a round-robin proxy
    connector = aiohttp.TCPConnector(limit=TELEGRAM_MAX_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as http:
        attendees = [
            emulator.user(first_name=f"Attendee{i}", language_code="en") for i in range(people)
        ]
        await asyncio.gather(
            *(
                attendee(emulator, http, headers, person,
                         steps(person, code, DESTINATIONS[i % len(DESTINATIONS)]), turns,
                         pacer, run)
                for i, person in enumerate(attendees)
            )
        )  # fmt: skip
    return run


# -- the bot process --------------------------------------------------------------------------


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    base: str
    log: list[str]
    reader: asyncio.Task[None]

    def problems(self) -> list[str]:
        return [line for line in self.log if " ERROR " in line or " CRITICAL " in line]


@contextlib.asynccontextmanager
async def bot_process(
    env: dict[str, str], profile: Path | None, cwd: Path, command: list[str] | None = None
):
    command = command or [sys.executable, "-m", "companion_bot", "run", "--webhook"]
    if profile is not None:
        if profile.suffix == ".prof":  # CPU per function: python -m pstats FILE
            command[1:1] = ["-m", "cProfile", "-o", str(profile)]
        else:  # wall time, awaits included
            renderer = "html" if profile.suffix == ".html" else "text"
            command[1:1] = ["-m", "pyinstrument", "-r", renderer, "-o", str(profile)]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=cwd, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    log: list[str] = []
    try:
        async with asyncio.timeout(120):
            while line := (await process.stderr.readline()).decode():
                log.append(line)
                if match := re.search(r"listening on (http://[\d.]+:\d+)", line):
                    break
            else:
                raise RuntimeError("the bot stopped during start-up:\n" + "".join(log[-20:]))

        async def keep_reading() -> None:  # a full pipe would block the bot
            while line := (await process.stderr.readline()).decode():
                log.append(line)

        running = BotProcess(process, match.group(1), log, asyncio.create_task(keep_reading()))
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 120)
            except TimeoutError:
                process.kill()
                await process.wait()


# -- the figures ------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs (Linux /proc/stat): whoever used them."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return None
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def histogram(text: str, name: str) -> list[tuple[float, float]]:
    rows = re.findall(rf'^{name}_bucket\{{le="([^"]+)"\}} (\S+)$', text, re.MULTILINE)
    return [(float("inf") if le == "+Inf" else float(le), float(count)) for le, count in rows]


def histogram_quantile(buckets: list[tuple[float, float]], share: float) -> float | None:
    """Prometheus' estimate: linear within the bucket holding the quantile."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = share * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return None


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def scrape(base: str) -> str:
    async with aiohttp.ClientSession(base) as http, http.get("/metrics") as response:
        return await response.text()


# -- the whole run ----------------------------------------------------------------------------


async def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    async with (
        scratch_database(args.database_url) as database_url,
        TimedEmulator() as emulator,
    ):
        await open_database(database_url)
        try:
            event = await create_event()
        finally:
            await close_database()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "DATABASE_", "WEB", "COMPANION_", "METRICS_"))
        }
        env.update(
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_URL=emulator.url,
            DATABASE_URL=database_url,
            TELEGRAM_RATE_LIMIT="0",
            TELEGRAM_CHAT_INTERVAL="0",
            WEBHOOK_URL=WEBHOOK_URL,
            WEB_PORT="0",
            PYTHONPATH=str(ROOT),
        )
        secret = load_settings(TELEGRAM_BOT_TOKEN=emulator.token, _env_file=None).webhook_secret
        with tempfile.TemporaryDirectory() as folder:  # no stray .env is read
            profile = args.profile.resolve() if args.profile else None
            async with contextlib.AsyncExitStack() as stack:
                bots = [
                    await stack.enter_async_context(
                        bot_process(env, profile if index == 0 else None, Path(folder))
                    )
                    for index in range(args.processes)
                ]
                bases = [bot.base for bot in bots]
                await emulator.wait_for(lambda: bool(emulator.default_bot.webhook.url), 60)
                if args.warmup:
                    await crowd(emulator, bases, secret, event.attendee_code, args.warmup, 0)
                run, wall, before, after = await measured(
                    emulator, bots, secret, event.attendee_code, args
                )
                for bot in bots:
                    bot.reader.cancel()
            echo = None
            if args.baseline == "echo":
                echo_command = [sys.executable, str(ROOT / "bench" / "echo_bot.py")]
                async with bot_process(env, None, Path(folder), echo_command) as bot:
                    if args.warmup:
                        await crowd(emulator, [bot.base], secret, "", args.warmup, 0, echo_steps)
                    echo, _wall, _before, _after = await measured(
                        emulator, [bot], secret, "", args, echo_steps, metrics=False
                    )
                    bot.reader.cancel()
        await open_database(database_url)
        try:
            stored = await Registration.filter(event_id=event.id).count()
        finally:
            await close_database()
    problems = [line for bot in bots for line in bot.problems()]
    result = summary(args, database_url, run, wall, before, after, stored, problems)
    if echo is not None:
        result["echo_baseline"] = {
            "updates_answered": len(echo.latencies),
            "cpu_ms_per_update": round(echo.bot_cpu / len(echo.latencies) * 1000, 2)
            if echo.bot_cpu is not None and echo.latencies
            else None,
            "latency_ms_p50": round(statistics.median(echo.latencies) * 1000, 1)
            if echo.latencies
            else None,
        }
        bot_ms = result["cpu_ms_per_update"]["bot"]
        echo_ms = result["echo_baseline"]["cpu_ms_per_update"]
        result["bot_to_echo_cpu_ratio"] = round(bot_ms / echo_ms, 2) if bot_ms and echo_ms else None
    return result


async def measured(
    emulator: TimedEmulator,
    bots: list[BotProcess],
    secret: str,
    code: str,
    args: argparse.Namespace,
    steps=sign_up_steps,
    *,
    metrics: bool = True,
) -> tuple[Run, float, str, str]:
    """One crowd through `bots`, with the CPU every bot process used meanwhile."""
    bases = [bot.base for bot in bots]
    before = await scrape_all(bases) if metrics else ""
    cpu_before = [process_cpu_seconds(bot.process.pid) for bot in bots]
    bench_before = time.process_time()
    machine_before = machine_cpu()
    started = time.perf_counter()
    run = await crowd(emulator, bases, secret, code, args.users, args.rate, steps)
    wall = time.perf_counter() - started
    machine_after = machine_cpu()
    cpu_after = [process_cpu_seconds(bot.process.pid) for bot in bots]
    after = await scrape_all(bases) if metrics else ""
    if None not in cpu_before and None not in cpu_after:
        run.bot_cpu = sum(cpu_after) - sum(cpu_before)  # type: ignore[arg-type]
        run.per_process_cpu = [round(a - b, 2) for a, b in zip(cpu_after, cpu_before, strict=True)]
    run.bench_cpu = time.process_time() - bench_before
    if machine_before and machine_after:
        busy = machine_after[0] - machine_before[0]
        run.machine_busy = busy / max(1, machine_after[1] - machine_before[1])
    return run, wall, before, after


async def scrape_all(bases: list[str]) -> str:
    """Every process's /metrics, summed sample by sample (counters and histograms add up)."""
    texts = [await scrape(base) for base in bases]
    if len(texts) == 1:
        return texts[0]
    totals: dict[str, float] = {}
    for text in texts:
        for line in text.splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            totals[name] = totals.get(name, 0.0) + float(value)
    return "\n".join(f"{name} {value}" for name, value in totals.items())


async def create_event() -> Any:
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
    spec = events.build_spec(
        name="Benchmark night",
        venue_name="La Station",
        venue=events.locate_venue("Paris 11e"),
        timezone="Europe/Paris",
        doors_open=f"{tomorrow} 23:00",
        closing="06:00",
        meeting_points=["Main entrance"],
        arrival_slots=None,
        departures=["03:00", "06:00"],
        group_sizes="2 3-4 5",
        charter="Be kind. Look out for each other.",
        now=now,
    )
    return await events.create_event(spec, None)


def summary(
    args: argparse.Namespace,
    database_url: str,
    run: Run,
    wall: float,
    before: str,
    after: str,
    stored: int,
    problems: list[str],
) -> dict[str, Any]:
    span = run.last_answer - run.first_post if run.first_post is not None else 0.0
    answered = len(run.latencies)
    handler = [
        (bound, count - dict(histogram(before, "companion_update_handling_seconds"))[bound])
        for bound, count in histogram(after, "companion_update_handling_seconds")
    ]
    handled = {
        kind: sample(after, "companion_updates_total", f'{{type="{kind}"}}')
        - sample(before, "companion_updates_total", f'{{type="{kind}"}}')
        for kind in ("message", "callback_query")
    }

    def ms(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds * 1000, 1)

    return {
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "users": args.users,
        "offered_rate": args.rate or "unpaced",
        "updates_answered": answered,
        "updates_handled_by_bot": int(sum(handled.values())),
        "signups_completed": run.completed,
        "registrations_stored": stored - args.warmup,
        "stuck": run.stuck[:5],
        "stuck_count": len(run.stuck),
        "updates_per_s": round(answered / span, 1) if span else 0.0,
        "wall_seconds": round(wall, 2),
        "latency_ms": {
            "p50": ms(statistics.median(run.latencies)) if run.latencies else None,
            "p99": ms(percentile(run.latencies, 0.99)) if run.latencies else None,
            "max": ms(max(run.latencies)) if run.latencies else None,
            "mean": ms(statistics.fmean(run.latencies)) if run.latencies else None,
        },
        "handler_latency_ms": {
            "p50": ms(histogram_quantile(handler, 0.5)),
            "p99": ms(histogram_quantile(handler, 0.99)),
        },
        "processes": args.processes,
        "cpu_seconds_per_process": run.per_process_cpu,
        "cpu_ms_per_update": {
            "bot": ms(run.bot_cpu / answered) if run.bot_cpu is not None and answered else None,
            "emulator_and_driver": ms(run.bench_cpu / answered) if answered else None,
        },
        "machine_cpu_busy": None if run.machine_busy is None else round(run.machine_busy, 2),
        "bot_errors": sample(after, "companion_handler_errors_total"),
        "bot_log_errors": len(problems),
    }


def main() -> None:
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s %(message)s")
    args = arguments()
    result = asyncio.run(benchmark(args))
    latency, handler = result["latency_ms"], result["handler_latency_ms"]
    print(f"command:     {' '.join(sys.argv)}")
    print(f"database:    {result['database']}")
    print(
        f"attendees:   {result['users']} ({result['signups_completed']} signed up, "
        f"{result['registrations_stored']} stored, {result['stuck_count']} stuck)"
    )
    print(f"offered:     {result['offered_rate']} updates/s")
    print(
        f"sustained:   {result['updates_per_s']} updates/s "
        f"({result['updates_answered']} answered in {result['wall_seconds']} s)"
    )
    print(f"POST→answer: p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms")
    print(f"handlers:    p50 ~{handler['p50']} ms, p99 ~{handler['p99']} ms (from /metrics)")
    cpu = result["cpu_ms_per_update"]
    print(
        f"CPU:         bot {cpu['bot']} ms/update, emulator+driver {cpu['emulator_and_driver']} "
        f"ms/update; all CPUs {result['machine_cpu_busy']:.0%} busy (any process)"
    )
    if result["processes"] > 1:
        each = result["cpu_seconds_per_process"]
        print(f"processes:   {result['processes']}, CPU seconds each: {each}")
    if "echo_baseline" in result:
        echo = result["echo_baseline"]
        print(
            f"echo floor:  {echo['cpu_ms_per_update']} ms CPU/update (bare PTB echo bot, "
            f"{echo['updates_answered']} updates, p50 {echo['latency_ms_p50']} ms); bot/echo = "
            f"{result['bot_to_echo_cpu_ratio']}"
        )
    print(f"errors:      {result['bot_errors']:.0f} in handlers, {result['bot_log_errors']} logged")
    if result["stuck"]:
        print("stuck:       " + "; ".join(result["stuck"]))
    line = json.dumps(result)
    print(line)
    if args.json_out:
        args.json_out.write_text(line + "\n")


if __name__ == "__main__":
    main()
