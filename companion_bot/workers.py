"""Long-lived services started with the bot: the outbox worker and the scheduler runner, and
the rate limiter that every Bot API call goes through.

Both services claim rows in the database, so several bot processes can share the work: on
PostgreSQL with SELECT … FOR UPDATE SKIP LOCKED, on SQLite (one process by design) inside a
transaction, which its single connection serialises. A row claimed by a process that died
goes back to the queue after a lease, or at once when that process ran on this host. So a
crash loses nothing, and only what was in flight at that moment may happen twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, BaseRateLimiter
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.models import (
    OutboxMessage,
    OutboxStatus,
    Person,
    ScheduledTask,
    TaskStatus,
)
from companion_bot.services import outbox, scheduler

logger = logging.getLogger(__name__)

WORKERS_KEY = "workers"


def _host_key() -> str:
    """This host, and the PID namespace our pids mean something in: containers sharing a
    host name (host networking) have PID namespaces of their own."""
    name = (socket.gethostname() or "host")[:32]
    with contextlib.suppress(OSError):
        return f"{name}.{os.stat('/proc/self/ns/pid').st_ino}"
    return name


HOST_KEY = _host_key()
# Workers running in this process: a claim with our pid but another id is from a past life.
_live_worker_ids: set[str] = set()


# -- worker identity and orphaned claims ---------------------------------------------------


def new_worker_id() -> str:
    """host-pid-random: unique, and tells whether the claimant still runs on this host."""
    return f"{HOST_KEY}-{os.getpid()}-{secrets.token_hex(3)}"


def claim_is_orphaned(claimed_by: str | None) -> bool:
    """True when a claim was made on this host by a process (or worker) that is gone.

    Lets a bot restarted on the same machine resend at once what its previous life had in
    flight, instead of after the lease. Claims from other hosts or PID namespaces (another
    container) wait for the lease.
    """
    if not claimed_by or claimed_by in _live_worker_ids:
        return False
    head, _, _random = claimed_by.rpartition("-")
    host, _, pid_text = head.rpartition("-")
    if host != HOST_KEY or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # this process, but no worker of it holds that id any more
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    return False


# -- one rate budget for every Bot API call ------------------------------------------------


def retry_after_seconds(error: RetryAfter) -> float:
    """A timedelta: we opt in to PTB's time periods as timedeltas (companion_bot/__init__.py)."""
    return error.retry_after.total_seconds()  # type: ignore[union-attr]


@dataclass
class _Call:
    """When a paced call went out; once answered, when the answer came (Telegram saw the call
    in between, so counting from the answer can never undercount a window)."""

    at: float
    answered: bool = False


class SharedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Paces every Bot API call that writes to a chat: the outbox and handlers' replies.

    PTB's AIORateLimiter is a leaky bucket: after an idle spell it lets `rate` calls through
    at once and then `rate` per second, i.e. up to twice the limit within one second, which
    Telegram answers with 429s; and its RetryAfter retries cannot be turned off per call
    (`rate_limit_args=0` falls back to the default). Here a call starts only once fewer than
    `rate` calls were answered within the last `1/headroom` seconds, so Telegram never sees
    more than `rate` calls in a second whatever the network delays, and at least 90% of the
    average spacing after the previous call: smooth, yet a caller held up (say by a database
    query) catches up instead of losing its turn for good. A RetryAfter pauses every call
    for the time Telegram asked; the outbox passes `rate_limit_args={"max_retries": 0}` to
    handle flood waits itself (the message goes back to its queue). Groups also get
    Telegram's 20 messages per minute.
    """

    def __init__(
        self,
        messages_per_second: float,
        *,
        headroom: float = 0.99,
        group_messages_per_minute: float = 20,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if messages_per_second <= 0:
            raise ValueError("messages_per_second must be positive")
        self.limit = max(1, int(messages_per_second))
        self.window = self.limit / (messages_per_second * headroom)
        self.min_gap = 0.9 * self.window / self.limit
        self.max_retries = max_retries
        self.flood_waits = 0
        self._group_limit = group_messages_per_minute
        self._clock = clock
        self._calls: deque[_Call] = deque()  # in the order they were let through
        self._last_start = 0.0
        self._paused_until = 0.0
        self._group_sends: dict[int | str, deque[float]] = {}
        self._chat_sends: dict[int, float] = {}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def pause(self, seconds: float) -> None:
        """Hold every call for `seconds` (Telegram's flood wait applies to the whole bot)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def chats_written_within(self, seconds: float) -> set[int]:
        """Chats a call went to in the last `seconds`."""
        since = self._clock() - seconds
        return {chat for chat, at in self._chat_sends.items() if at >= since}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        retries = int((rate_limit_args or {}).get("max_retries", self.max_retries))
        chat_id = data.get("chat_id")
        attempt = 0
        while True:
            call = None
            if chat_id is None:
                await self._wait_unpaused()
            else:
                call = await self._wait_turn(chat_id)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                seconds = retry_after_seconds(error)
                self.flood_waits += 1
                self.pause(seconds)
                logger.warning(
                    "Flood control: Telegram asks to wait %.0f s (%s)", seconds, endpoint
                )
                if attempt >= retries:
                    raise
                attempt += 1
            finally:
                if call is not None:
                    call.at, call.answered = max(call.at, self._clock()), True

    async def _wait_unpaused(self) -> None:
        # A loop, not an Event: another flood wait may push the deadline back meanwhile.
        while (remaining := self.paused_for()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)

    def _reserve(self) -> _Call:
        """The earliest start keeping every window within the limit, reserved at once."""
        now = self._clock()
        start = max(now, self._paused_until, self._last_start + self.min_gap)
        while self._calls and self._calls[0].answered and self._calls[0].at <= start - self.window:
            self._calls.popleft()
        # A call not answered yet may reach Telegram any moment: it counts as sent now.
        times = sorted(call.at if call.answered else max(call.at, now) for call in self._calls)
        recent = [at for at in times if at > start - self.window]
        if len(recent) >= self.limit:
            start = max(start, recent[-self.limit] + self.window)
        self._last_start = start
        call = _Call(start)
        self._calls.append(call)
        return call

    async def _wait_turn(self, chat_id: int | str) -> _Call:
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        while True:
            await self._wait_unpaused()
            if isinstance(chat_id, str) or chat_id < 0:
                await self._wait_group(chat_id)
            call = self._reserve()
            delay = call.at - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.paused_for() == 0:
                break  # else a flood wait began while we queued: queue again after it
            call.answered = True  # never made: counts as a call at its slot, harmlessly
        if isinstance(chat_id, int):
            self._remember_chat(chat_id)
        return call

    async def _wait_group(self, group: int | str) -> None:
        sends = self._group_sends.setdefault(group, deque())
        while True:
            now = self._clock()
            while sends and sends[0] <= now - 60:
                sends.popleft()
            if len(sends) < self._group_limit:
                sends.append(now)
                return
            await asyncio.sleep(sends[0] + 60 - now)

    def _remember_chat(self, chat_id: int) -> None:
        now = self._clock()
        self._chat_sends[chat_id] = now
        if len(self._chat_sends) > 2_000:
            self._chat_sends = {c: at for c, at in self._chat_sends.items() if at > now - 10}


# -- shared plumbing of both services ------------------------------------------------------


def utcnow() -> datetime:
    return clock.now()


def backoff(attempts: int, base: float, cap: float) -> float:
    """base, 2·base, 4·base… after the 1st, 2nd, 3rd… failure, at most `cap` seconds."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def _short(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text[:200]


# After a wake-up, when the work was queued in a transaction that was still open.
LOOK_AGAIN_AFTER = 0.05


class _Service:
    """Start/stop, wake-ups and the idle wait shared by the outbox worker and the runner."""

    name = "service"

    def __init__(self, worker_id: str | None, poll_interval: float, stop_timeout: float) -> None:
        self.worker_id = worker_id or new_worker_id()
        self.poll_interval = poll_interval
        self.stop_timeout = stop_timeout
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """New work: look now, and once more a moment later. Work is often queued inside a
        transaction that has not committed yet when we look (PostgreSQL shows it only after
        the commit); without the second look it would wait for the next poll."""
        self._wake.set()
        with contextlib.suppress(RuntimeError):  # no running loop: nobody to wake
            asyncio.get_running_loop().call_later(LOOK_AGAIN_AFTER, self._wake.set)

    async def start(self) -> None:
        if self.running:
            return
        self._stopping = False
        _live_worker_ids.add(self.worker_id)
        self._task = asyncio.create_task(self._run(), name=f"{self.name} {self.worker_id}")

    async def _run(self) -> None:
        raise NotImplementedError

    async def _stop_loop(self) -> None:
        """Ask the loop to stop after the work in hand; cancel it if it takes too long."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.stop_timeout)
        except TimeoutError:
            logger.warning("%s %s did not stop in time: cancelled", self.name, self.worker_id)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        finally:
            self._task = None
            _live_worker_ids.discard(self.worker_id)

    async def _sleep(self, seconds: float) -> None:
        """Sleep until woken (new work, stop) or `seconds` passed."""
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.005, seconds))
        self._wake.clear()

    async def _wait_idle(
        self,
        timeout: float,  # noqa: ASYNC109 - see wait_idle
        busy: Callable[[], bool],
        outstanding: Callable[[], Awaitable[bool]],
    ) -> None:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._progress.clear()
                    if not busy() and not await outstanding():
                        return
                    if not self.running:
                        raise RuntimeError(f"{self.name} is not running: work is left")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._progress.wait(), self.poll_interval)
        except TimeoutError:
            raise TimeoutError(f"{self.name} still busy after {timeout} s") from None


# -- the outbox worker ------------------------------------------------------------------------


@dataclass
class OutboxCounters:
    """Since start, for a future /metrics endpoint."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    flood_waits: int = 0
    recovered: int = 0


class OutboxWorker(_Service):
    """Sends the outbox through `bot`, paced to Telegram's limits, and retries.

    Claims due rows (priority, then queue order), at most one per chat at a time and none
    for a chat written to less than `per_chat_interval` ago, so a chat's later messages wait
    in the queue instead of holding up everyone. `concurrency` is how many calls may be in
    flight: each one in flight when the process dies may be delivered twice, so the default
    (1) keeps that to one message; against a distant server, more keeps up the pace.
    Global pacing is the bot's rate limiter's job (`SharedRateLimiter`).
    """

    name = "outbox worker"

    def __init__(
        self,
        bot: Bot,
        *,
        worker_id: str | None = None,
        concurrency: int = 1,
        lease: float = 60.0,
        poll_interval: float = 0.5,
        per_chat_interval: float = 1.0,
        per_chat_margin: float = 0.1,
        batch_size: int = 25,
        claim_window: int = 100,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_cap: float = 60.0,
        sweep_interval: float = 5.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(worker_id, poll_interval, stop_timeout)
        self.bot = bot
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.per_chat_interval = per_chat_interval
        self.per_chat_margin = per_chat_margin
        self.batch_size = batch_size
        self.claim_window = claim_window
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sweep_interval = sweep_interval
        self.counters = OutboxCounters()
        self._paused_until = 0.0  # our own flood wait, when the bot has no SharedRateLimiter
        self._chat_ready_at: dict[int, float] = {}
        self._busy = False

    @property
    def limiter(self) -> SharedRateLimiter | None:
        limiter = getattr(self.bot, "rate_limiter", None)
        return limiter if isinstance(limiter, SharedRateLimiter) else None

    async def start(self) -> None:
        outbox.add_listener(self.wake)
        await super().start()

    async def stop(self) -> None:
        """Finish the message in flight, hand the rest of the batch back, stop."""
        try:
            await self._stop_loop()
        finally:
            outbox.remove_listener(self.wake)

    async def wait_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - public API
        """Return once nothing is left to send now, by this or any other process.

        Messages being sent, due, or waiting to be retried count; messages queued for
        later (`not_before`, never tried) do not.
        """
        await self._wait_idle(timeout, lambda: self._busy, outstanding_messages)

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping:
            try:
                if time.monotonic() >= next_sweep:
                    await self.recover()
                    next_sweep = time.monotonic() + self.sweep_interval
                if await self._wait_while_paused():
                    continue
                self._busy = True
                batch = await self._claim()
                if batch:
                    await self._send_batch(batch)
                else:
                    self._busy = False
                    self._progress.set()  # wait_idle may look now, while we sleep
                    await self._sleep(self._next_wakeup())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("outbox worker: unexpected error; going on")
                await self._sleep(self.poll_interval)
            finally:
                self._busy = False
                self._progress.set()

    def _pause_remaining(self) -> float:
        own = self._paused_until - time.monotonic()
        shared = self.limiter.paused_for() if self.limiter else 0.0
        return max(0.0, own, shared)

    async def _wait_while_paused(self) -> bool:
        """Sleep out a flood wait; True if we slept (the caller re-checks everything)."""
        remaining = self._pause_remaining()
        if remaining <= 0:
            return False
        await self._sleep(remaining)
        return True

    def _next_wakeup(self) -> float:
        now = time.monotonic()
        soonest = [ready - now for ready in self._chat_ready_at.values() if ready > now]
        return min([self.poll_interval, *soonest])

    def _cooling_chats(self) -> set[int]:
        """Chats written to too recently for another message, as far as this process knows."""
        now = time.monotonic()
        self._chat_ready_at = {c: at for c, at in self._chat_ready_at.items() if at > now}
        cooling = set(self._chat_ready_at)
        if self.limiter is not None:  # handlers' direct replies count too
            cooling |= self.limiter.chats_written_within(
                self.per_chat_interval + self.per_chat_margin
            )
        return cooling

    # -- claiming ------------------------------------------------------------------------

    async def _claim(self) -> list[OutboxMessage]:
        now = utcnow()
        cooling = self._cooling_chats()
        async with in_transaction():
            query = OutboxMessage.filter(
                _sendable(), status=OutboxStatus.PENDING, not_before__lte=now
            )
            if cooling:
                query = query.exclude(chat_id__in=sorted(cooling))
            # No-op on SQLite; on PostgreSQL other processes skip the rows we are looking at.
            candidates = (
                await query.order_by("-priority", "id")
                .limit(self.claim_window)
                .select_for_update(skip_locked=True)
            )
            if not candidates:
                return []
            chosen = await self._first_per_chat(candidates, now)
            if not chosen:
                return []
            ids = [row.id for row in chosen]
            claimed = await OutboxMessage.filter(id__in=ids, status=OutboxStatus.PENDING).update(
                status=OutboxStatus.SENDING, claimed_by=self.worker_id, claimed_at=now
            )
        if claimed != len(chosen):  # only if something else changed them under us
            mine = set(
                await OutboxMessage.filter(
                    id__in=ids, status=OutboxStatus.SENDING, claimed_by=self.worker_id
                ).values_list("id", flat=True)
            )
            chosen = [row for row in chosen if row.id in mine]
        for row in chosen:
            row.status, row.claimed_by, row.claimed_at = OutboxStatus.SENDING, self.worker_id, now
        return chosen

    async def _first_per_chat(
        self, candidates: list[OutboxMessage], now: datetime
    ) -> list[OutboxMessage]:
        """The candidates that are the next message of their chat, one per chat.

        A chat is skipped while a message to it is being sent (by anyone) or was sent less
        than `per_chat_interval` ago; a candidate is skipped while an earlier message of its
        chat is due or being retried (it may be locked by another process). An edit waiting
        for its message to be sent is no earlier message: it holds nothing up.
        """
        chat_ids = sorted({row.chat_id for row in candidates})
        recent = now - timedelta(seconds=self.per_chat_interval + self.per_chat_margin)
        related = (
            await OutboxMessage.filter(chat_id__in=chat_ids)
            .filter(
                Q(status__in=(OutboxStatus.PENDING, OutboxStatus.SENDING)) | Q(sent_at__gt=recent)
            )
            .values("id", "chat_id", "status", "priority", "not_before", "attempts", "edit_of_id")
        )
        edited = {other["edit_of_id"] for other in related if other["edit_of_id"] is not None}
        unsent = set(
            await OutboxMessage.filter(id__in=sorted(edited), status__in=UNSENT).values_list(
                "id", flat=True
            )
            if edited
            else []
        )
        busy: set[int] = set()
        head: dict[int, tuple[int, int]] = {}
        for other in related:
            status = OutboxStatus(other["status"])
            if status != OutboxStatus.PENDING:
                busy.add(other["chat_id"])
            elif other["edit_of_id"] in unsent:
                continue
            elif other["not_before"] <= now or other["attempts"] > 0:
                key = (-other["priority"], other["id"])
                head[other["chat_id"]] = min(head.get(other["chat_id"], key), key)
        chosen: list[OutboxMessage] = []
        for row in candidates:
            if row.chat_id in busy or head.get(row.chat_id) != (-row.priority, row.id):
                continue
            chosen.append(row)
            busy.add(row.chat_id)
            if len(chosen) >= self.batch_size:
                break
        return chosen

    # -- sending -------------------------------------------------------------------------

    async def _send_batch(self, batch: list[OutboxMessage]) -> None:
        claimed_at = time.monotonic()
        waiting = list(batch)
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while waiting:
                if (
                    self._stopping
                    or self._pause_remaining() > 0
                    # Old claims may soon look abandoned to other processes: hand them back.
                    or time.monotonic() - claimed_at > self.lease / 2
                ):
                    break
                if len(in_flight) >= self.concurrency:
                    _, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    continue
                in_flight.add(asyncio.create_task(self._deliver(waiting.pop(0))))
            if in_flight:
                await asyncio.wait(in_flight)
        except asyncio.CancelledError:
            for task in in_flight:
                task.cancel()
            raise
        finally:
            if waiting:
                await self._release(waiting)

    async def _deliver(self, row: OutboxMessage) -> None:
        try:
            if row.edit_of_id is not None and not await self._aim_edit(row):
                return
            try:
                message_id, message = await self._call(row)
            except RetryAfter as error:
                await self._on_flood_wait(row, retry_after_seconds(error))
            except Forbidden as error:
                await self._on_blocked(row, error)
            except ChatMigrated as error:
                await self._on_migrated(row, error)
            except BadRequest as error:
                if "message is not modified" in error.message.lower():
                    await self._on_sent(row, None, None)  # the chat already shows it
                else:
                    await self._on_failed(row, error)
            except (NetworkError, InvalidToken) as error:  # TimedOut is a NetworkError
                await self._on_transient(row, error)
            except TelegramError as error:
                await self._on_failed(row, error)
            except Exception as error:
                logger.exception("outbox: unexpected error sending message %s", row.id)
                await self._on_transient(row, error)
            else:
                await self._on_sent(row, message_id, message)
        except asyncio.CancelledError:
            raise
        except Exception:  # recording the outcome failed (database down?): the lease recovers
            logger.exception("outbox: could not record the outcome of message %s", row.id)
        finally:
            self._progress.set()

    async def _aim_edit(self, row: OutboxMessage) -> bool:
        """An edit gets the id of the message it changes; when that message will never be
        sent (cancelled, failed, blocked, forgotten), the edit is cancelled: False."""
        target = await OutboxMessage.get_or_none(id=row.edit_of_id)
        if target is not None and target.status == OutboxStatus.SENT and target.telegram_message_id:
            row.payload = {**(row.payload or {}), "message_id": target.telegram_message_id}
            return True
        await self._mine(row).update(status=OutboxStatus.CANCELLED, error=NOTHING_TO_EDIT)
        return False

    async def _call(self, row: OutboxMessage) -> tuple[int | None, Message | None]:
        """Send the stored call; Telegram's message id, and the Message if it returned one
        (copyMessage returns only an id, edits may return True)."""
        arguments = {**(row.payload or {}), "chat_id": row.chat_id}
        extra: dict[str, Any] = {}
        if self.limiter is not None:
            extra["rate_limit_args"] = {"max_retries": 0}  # flood waits are handled here
        # The stored JSON goes out as is. PTB warns when `do_api_request` gets the name of a
        # method it has; Bot API method names are case-insensitive, so the lower-case name
        # says "raw call" without the warning.
        try:
            result = await self.bot.do_api_request(
                row.method.lower(), api_kwargs=arguments, **extra
            )
        finally:
            # Counted from the answer, which comes after Telegram saw the call: never early.
            self._chat_ready_at[row.chat_id] = (
                time.monotonic() + self.per_chat_interval + self.per_chat_margin
            )
        if not isinstance(result, dict) or "message_id" not in result:
            return None, None
        message = None
        if "chat" in result and "date" in result:
            try:
                message = Message.de_json(result, self.bot)
            except Exception:  # sent all the same: never a reason to send again
                logger.exception("outbox: unreadable answer to message %s", row.id)
        return result["message_id"], message

    def _mine(self, row: OutboxMessage) -> Any:
        """The row, if it is still ours (a lease may have expired meanwhile)."""
        return OutboxMessage.filter(
            id=row.id, status=OutboxStatus.SENDING, claimed_by=self.worker_id
        )

    async def _on_sent(
        self, row: OutboxMessage, message_id: int | None, message: Message | None
    ) -> None:
        row.status, row.sent_at, row.telegram_message_id = OutboxStatus.SENT, utcnow(), message_id
        updated = await self._mine(row).update(
            status=row.status, sent_at=row.sent_at, telegram_message_id=message_id, error=None
        )
        if not updated:
            logger.warning("outbox: message %s was reclaimed while being sent", row.id)
        self.counters.sent += 1
        hook = outbox.after_send_hook(row.purpose)
        if hook is not None:
            try:
                await hook(row, message)
            except Exception:
                logger.exception("outbox: after-send hook %r failed for %s", row.purpose, row.id)

    async def _on_flood_wait(self, row: OutboxMessage, seconds: float) -> None:
        """Everything waits; the message goes back to the queue, not counted as a failure."""
        self.counters.flood_waits += 1
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        logger.warning("outbox: flood wait of %.0f s; message %s goes back", seconds, row.id)
        await self._release([row])

    async def _on_blocked(self, row: OutboxMessage, error: Forbidden) -> None:
        """She blocked the bot (or the chat is gone): never retried, and nothing more to her."""
        now = utcnow()
        reason = _short(error.message)
        async with in_transaction():
            await self._mine(row).update(status=OutboxStatus.BLOCKED, error=reason)
            others = await OutboxMessage.filter(
                chat_id=row.chat_id, status=OutboxStatus.PENDING
            ).update(status=OutboxStatus.BLOCKED, error=reason)
            await Person.filter(telegram_id=row.chat_id, blocked_bot_at__isnull=True).update(
                blocked_bot_at=now
            )
        self.counters.blocked += 1 + others
        logger.info("outbox: chat %s unreachable (%s)", row.chat_id, error.message)

    async def _on_migrated(self, row: OutboxMessage, error: ChatMigrated) -> None:
        """A group became a supergroup: its messages follow it to the new chat id."""
        async with in_transaction():
            await OutboxMessage.filter(chat_id=row.chat_id, status=OutboxStatus.PENDING).update(
                chat_id=error.new_chat_id
            )
            await self._mine(row).update(
                chat_id=error.new_chat_id,
                status=OutboxStatus.PENDING,
                claimed_by=None,
                claimed_at=None,
            )

    async def _on_failed(self, row: OutboxMessage, error: TelegramError) -> None:
        await self._mine(row).update(status=OutboxStatus.FAILED, error=_short(error.message))
        self.counters.failed += 1
        logger.warning("outbox: message %s failed: %s", row.id, error.message)

    async def _on_transient(self, row: OutboxMessage, error: BaseException) -> None:
        attempts = row.attempts + 1
        if attempts >= self.max_attempts:
            await self._mine(row).update(
                status=OutboxStatus.FAILED, attempts=attempts, error=_short(error)
            )
            self.counters.failed += 1
            logger.warning("outbox: message %s failed %d times: %s", row.id, attempts, error)
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        await self._mine(row).update(
            status=OutboxStatus.PENDING,
            attempts=attempts,
            not_before=utcnow() + timedelta(seconds=delay),
            error=_short(error),
            claimed_by=None,
            claimed_at=None,
        )
        self.counters.retried += 1
        logger.info("outbox: message %s retried in %.1f s (%s)", row.id, delay, _short(error))

    async def _release(self, rows: Iterable[OutboxMessage]) -> None:
        ids = [row.id for row in rows]
        if ids:
            await OutboxMessage.filter(
                id__in=ids, status=OutboxStatus.SENDING, claimed_by=self.worker_id
            ).update(status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None)

    # -- crash recovery ------------------------------------------------------------------

    async def recover(self) -> int:
        """Hand back messages left in flight by a dead process; returns how many.

        Each may have reached Telegram before its process died: the one duplicate a crash
        can cause.
        """
        count = await _release_abandoned(
            OutboxMessage, OutboxStatus.SENDING, OutboxStatus.PENDING, self.worker_id, self.lease
        )
        if count:
            self.counters.recovered += count
            logger.warning("outbox: %d message(s) left in flight by a stopped process", count)
        return count


UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)
NOTHING_TO_EDIT = "not sent: the message it edits was never sent"


def _sendable() -> Q:
    """Rows that may go now as far as other rows go: all but edits whose message is still
    waiting or being sent (they go once it is sent)."""
    unsent = OutboxMessage.filter(status__in=UNSENT).values("id")
    return Q(edit_of_id__isnull=True) | ~Q(edit_of_id__in=Subquery(unsent))


async def outstanding_messages() -> bool:
    """Is anything being sent, due, or waiting to be retried?"""
    now = utcnow()
    return await OutboxMessage.filter(
        Q(status=OutboxStatus.SENDING)
        | Q(status=OutboxStatus.PENDING, not_before__lte=now)
        | Q(status=OutboxStatus.PENDING, attempts__gt=0)
    ).exists()


async def _release_abandoned(
    model: type[OutboxMessage] | type[ScheduledTask],
    claimed_status: str,
    waiting_status: str,
    worker_id: str,
    lease: float,
) -> int:
    """Claims past their lease, or made by a process of this host that is gone, go back."""
    expired = utcnow() - timedelta(seconds=lease)
    count = await (
        model.filter(status=claimed_status, claimed_at__lt=expired)
        .exclude(claimed_by=worker_id)
        .update(status=waiting_status, claimed_by=None, claimed_at=None)
    )
    claimants = await (
        model.filter(status=claimed_status).distinct().values_list("claimed_by", flat=True)
    )
    orphaned = [claimant for claimant in claimants if claim_is_orphaned(claimant)]
    if orphaned:
        count += await model.filter(status=claimed_status, claimed_by__in=orphaned).update(
            status=waiting_status, claimed_by=None, claimed_at=None
        )
    return count


# -- the scheduler runner ---------------------------------------------------------------------


@dataclass
class SchedulerCounters:
    done: int = 0
    failed: int = 0
    retried: int = 0
    recovered: int = 0


class SchedulerRunner(_Service):
    """Runs due scheduled tasks with the handler registered for their kind.

    Up to `concurrency` tasks at once; a failing handler is retried with backoff, then the
    task is FAILED with its last error. A task whose process died while running it runs
    again (after `lease`, or at once if that process ran on this host).
    """

    name = "scheduler runner"

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        concurrency: int = 4,
        lease: float = 300.0,
        poll_interval: float = 1.0,
        max_attempts: int = 5,
        backoff_base: float = 10.0,
        backoff_cap: float = 600.0,
        sweep_interval: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(worker_id, poll_interval, stop_timeout)
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sweep_interval = sweep_interval
        self.counters = SchedulerCounters()
        self._running: dict[int, asyncio.Task[None]] = {}

    async def start(self) -> None:
        scheduler.add_listener(self.wake)
        await super().start()

    async def stop(self) -> None:
        """Start nothing new; let running tasks finish (for `stop_timeout`), then cancel them
        (they go back to the queue)."""
        try:
            await self._stop_loop()
            if self._running:
                tasks = list(self._running.values())
                _, late = await asyncio.wait(tasks, timeout=self.stop_timeout)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        finally:
            scheduler.remove_listener(self.wake)

    async def wait_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - public API
        """Return once no task is due or running, here or in another process."""
        await self._wait_idle(timeout, lambda: bool(self._running), outstanding_tasks)

    async def run_due(self) -> int:
        """Claim and run every task due now, without the background loop (for tests and
        scripts); returns how many ran."""
        _live_worker_ids.add(self.worker_id)
        try:
            ran = 0
            while tasks := await self._claim(self.concurrency):
                await asyncio.gather(*(self._execute(task) for task in tasks))
                ran += len(tasks)
            return ran
        finally:
            if not self.running:
                _live_worker_ids.discard(self.worker_id)

    async def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping:
            try:
                if time.monotonic() >= next_sweep:
                    await self.recover()
                    next_sweep = time.monotonic() + self.sweep_interval
                free = self.concurrency - len(self._running)
                claimed = await self._claim(free) if free > 0 else []
                for task in claimed:
                    self._spawn(task)
                if len(claimed) < free or not claimed:
                    self._progress.set()  # wait_idle may look now, while we sleep
                    await self._sleep(self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("scheduler runner: unexpected error; going on")
                await self._sleep(self.poll_interval)
            finally:
                self._progress.set()

    async def _claim(self, limit: int) -> list[ScheduledTask]:
        now = utcnow()
        async with in_transaction():
            query = ScheduledTask.filter(status=TaskStatus.PENDING, due_at__lte=now)
            if self._running:
                query = query.exclude(id__in=list(self._running))
            tasks = (
                await query.order_by("due_at", "id")
                .limit(limit)
                .select_for_update(skip_locked=True)
            )
            if not tasks:
                return []
            ids = [task.id for task in tasks]
            claimed = await ScheduledTask.filter(id__in=ids, status=TaskStatus.PENDING).update(
                status=TaskStatus.RUNNING, claimed_by=self.worker_id, claimed_at=now
            )
        if claimed != len(tasks):
            mine = set(
                await ScheduledTask.filter(
                    id__in=ids, status=TaskStatus.RUNNING, claimed_by=self.worker_id
                ).values_list("id", flat=True)
            )
            tasks = [task for task in tasks if task.id in mine]
        for task in tasks:
            task.status, task.claimed_by, task.claimed_at = TaskStatus.RUNNING, self.worker_id, now
        return tasks

    def _spawn(self, task: ScheduledTask) -> None:
        running = asyncio.create_task(self._execute(task), name=f"task {task.id} {task.kind}")
        self._running[task.id] = running

        def forget(_: asyncio.Task[None]) -> None:
            self._running.pop(task.id, None)
            self._wake.set()
            self._progress.set()

        running.add_done_callback(forget)

    def _mine(self, task: ScheduledTask) -> Any:
        """The task if still ours: rescheduling it meanwhile (or a lost lease) clears the
        claim, and then its new schedule wins over our outcome."""
        return ScheduledTask.filter(
            id=task.id, status=TaskStatus.RUNNING, claimed_by=self.worker_id
        )

    async def _execute(self, task: ScheduledTask) -> None:
        handler = scheduler.handler_for(task.kind)
        if handler is None:
            error = f"no handler registered for task kind {task.kind!r}"
            await self._mine(task).update(status=TaskStatus.FAILED, last_error=error)
            self.counters.failed += 1
            logger.error("scheduler: task %s failed: %s", task.id, error)
            return
        try:
            await handler(dict(task.payload or {}), utcnow())
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._mine(task).update(
                    status=TaskStatus.PENDING, claimed_by=None, claimed_at=None
                )
            raise
        except Exception as error:
            await self._on_error(task, error)
        else:
            await self._mine(task).update(status=TaskStatus.DONE, done_at=utcnow())
            self.counters.done += 1

    async def _on_error(self, task: ScheduledTask, error: Exception) -> None:
        attempts = task.attempts + 1
        if attempts >= self.max_attempts:
            await self._mine(task).update(
                status=TaskStatus.FAILED, attempts=attempts, last_error=_short(error)
            )
            self.counters.failed += 1
            logger.error(
                "scheduler: task %s (%s) failed %d times, giving up",
                task.id, task.kind, attempts, exc_info=error,
            )  # fmt: skip
            return
        delay = backoff(attempts, self.backoff_base, self.backoff_cap)
        await self._mine(task).update(
            status=TaskStatus.PENDING,
            attempts=attempts,
            due_at=utcnow() + timedelta(seconds=delay),
            last_error=_short(error),
            claimed_by=None,
            claimed_at=None,
        )
        self.counters.retried += 1
        logger.warning(
            "scheduler: task %s (%s) failed, retried in %.0f s",
            task.id, task.kind, delay, exc_info=error,
        )  # fmt: skip

    async def recover(self) -> int:
        """Tasks left running by a dead process go back to the queue (they run again)."""
        count = await _release_abandoned(
            ScheduledTask, TaskStatus.RUNNING, TaskStatus.PENDING, self.worker_id, self.lease
        )
        if count:
            self.counters.recovered += count
            logger.warning("scheduler: %d task(s) left running by a stopped process", count)
        return count


async def outstanding_tasks() -> bool:
    return await ScheduledTask.filter(
        Q(status=TaskStatus.RUNNING) | Q(status=TaskStatus.PENDING, due_at__lte=utcnow())
    ).exists()


# -- started and stopped with the bot ---------------------------------------------------------


@dataclass
class Workers:
    outbox: OutboxWorker
    scheduler: SchedulerRunner


async def start_workers(application: Application) -> Workers:
    """Start the outbox worker and the scheduler runner (Tortoise must be open)."""
    settings = application.bot_data.get("settings")
    interval = settings.TELEGRAM_CHAT_INTERVAL if settings is not None else 1.0
    workers = Workers(OutboxWorker(application.bot, per_chat_interval=interval), SchedulerRunner())
    application.bot_data[WORKERS_KEY] = workers
    await workers.outbox.start()
    await workers.scheduler.start()
    return workers


async def stop_workers(application: Application) -> None:
    workers: Workers | None = application.bot_data.pop(WORKERS_KEY, None)
    if workers is None:
        return
    # The scheduler first: a task finishing may still queue messages.
    await workers.scheduler.stop()
    await workers.outbox.stop()


def get_workers(application: Application) -> Workers:
    """The running workers, e.g. `await get_workers(app).outbox.wait_idle()` in a test."""
    return application.bot_data[WORKERS_KEY]
