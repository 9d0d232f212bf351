"""The durable-queue core shared by the inbox, the outbox and the scheduler.

All three are tables of rows waiting for work: an update to handle, a message to send, a
timed task to run. Each row goes through the same life: PENDING (due at a time) → claimed by
one worker (it records who and when) → DONE, or back to PENDING with a back-off after a
transient failure, or given up (FAILED / PARKED) after too many. A claim whose worker died
goes back to the queue: at once when that worker ran on this host and is gone, otherwise
after a lease. `QueueSpec` names each table's columns; the functions here do the rest, the
same way for the three queues.

Several processes share a queue: on PostgreSQL a claim reads candidates with
`SELECT … FOR UPDATE SKIP LOCKED`, so two workers never take the same row; on SQLite (one
process by design) the claim runs in a transaction, which its single connection serialises.

Queues with a key (the inbox: one person; the outbox: one chat) hand out a key's rows one
at a time and in order: a row is claimed only when it is the head of its key, that is the
first, in the queue's order, of the key's rows that are due or retrying (of all its waiting
rows, with `strict_order`), and no row of the key is claimed. That check reads committed
rows, so a head row another process has locked (and not yet marked as claimed) still holds
back the rows behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import F, Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.prepared import Statement
from companion_bot.wakeups import Signal

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return clock.now()


def backoff(attempts: int, base: float, cap: float) -> float:
    """base, 2·base, 4·base… after the 1st, 2nd, 3rd… failure, at most `cap` seconds."""
    return min(cap, base * 2 ** max(0, attempts - 1))


def short_error(error: BaseException | str) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text[:200]


# -- worker identity and orphaned claims ---------------------------------------------------


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


def new_worker_id() -> str:
    """host-pid-random: unique, and tells whether the claimant still runs on this host."""
    return f"{HOST_KEY}-{os.getpid()}-{secrets.token_hex(3)}"


def claim_is_orphaned(claimed_by: str | None) -> bool:
    """True when a claim was made on this host by a process (or worker) that is gone.

    Lets a bot restarted on the same machine take back at once what its previous life had
    in hand, instead of after the lease. Claims from other hosts or PID namespaces (another
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


# -- one queue table -------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueSpec:
    """Which columns of a table play which part in the queue."""

    model: type[Model]
    pending: str
    claimed: str
    done: str
    given_up: str
    due_field: str  # when a pending row may be claimed
    error_field: str
    done_field: str  # when it was done
    order: tuple[str, ...]  # the queue's order (and, within a key, the key's order)
    key_field: str | None = None  # rows of one key are claimed one at a time, in order
    # Every waiting row of a key holds back the ones after it, even one not due yet (an
    # update stored a moment "later" by another process's clock); else only due or retrying
    # ones do (a message queued for later lets the chat's others go).
    strict_order: bool = False

    def rows(self, **filters: Any) -> Any:
        return self.model.filter(**filters)

    def due(self, now: datetime) -> Any:
        return self.rows(status=self.pending, **{f"{self.due_field}__lte": now})

    def mine(self, row_id: int, worker_id: str) -> Any:
        """The row if this worker still holds it (a lost lease clears the claim)."""
        return self.rows(id=row_id, status=self.claimed, claimed_by=worker_id)

    def sort_key(self, row: dict[str, Any] | Model) -> tuple[Any, ...]:
        get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
        return tuple(-get(name[1:]) if name.startswith("-") else get(name) for name in self.order)


async def claim(
    spec: QueueSpec,
    worker_id: str,
    limit: int,
    *,
    window: int | None = None,
    eligible: Q | None = None,
    pace: tuple[int, float] = (1, 0.0),
    per_key: int = 1,
    narrow: Callable[[Any], Any] | None = None,
    choose: Callable[[list[Any], datetime], Awaitable[list[Any]]] | None = None,
    count_attempt: bool = False,
) -> list[Any]:
    """Claim up to `limit` due rows for `worker_id` and return them (marked as claimed).

    `eligible`: only rows matching it may be claimed now, and the others, waiting on
    something else, hold up nothing of their key. `pace` = (n, seconds): a key with n rows
    done within the last `seconds` waits (a chat's burst of messages, say). `per_key`: up to
    that many of a key's rows are claimed together, its next ones in order (the caller
    handles them one after the other). `narrow`
    adds conditions to the candidates' query; `choose` (async) may drop some of the
    candidates that passed the key check. With `count_attempt`, the claim itself counts as
    an attempt: a row whose handling kills the process is still given up after
    `max_attempts`. `choose` runs before the key check.
    """
    if limit <= 0:
        return []
    now = utcnow()
    async with in_transaction():
        query = spec.due(now)
        if eligible is not None:
            query = query.filter(eligible)
        if narrow is not None:
            query = narrow(query)
        # No-op on SQLite; on PostgreSQL other processes skip the rows we are looking at.
        candidates = (
            await query.order_by(*spec.order)
            .limit(window or limit)
            .select_for_update(skip_locked=True)
        )
        # `choose` first: the key check then reads at least every row `choose` saw committed.
        if choose is not None and candidates:
            candidates = await choose(candidates, now)
        if spec.key_field is not None and candidates:
            candidates = await _heads(spec, candidates, now, eligible, pace, per_key)
        chosen = candidates[:limit]
        if not chosen:
            return []
        ids = [row.id for row in chosen]
        values: dict[str, Any] = {"status": spec.claimed, "claimed_by": worker_id}
        values["claimed_at"] = now
        if count_attempt:
            values["attempts"] = F("attempts") + 1
        await spec.rows(id__in=ids, status=spec.pending).update(**values)
    for row in chosen:
        row.status, row.claimed_by, row.claimed_at = spec.claimed, worker_id, now
        if count_attempt:
            row.attempts += 1
    return chosen


async def _heads(
    spec: QueueSpec,
    candidates: list[Any],
    now: datetime,
    eligible: Q | None,
    pace: tuple[int, float],
    per_key: int = 1,
) -> list[Any]:
    """The candidates that are the head of their key (see the module doc), and up to
    `per_key` of their key's next rows, in order, within the key's pace."""
    key = spec.key_field
    assert key is not None
    keys = sorted({getattr(row, key) for row in candidates})
    waiting = Q(status__in=(spec.pending, spec.claimed))
    if eligible is not None:
        waiting &= eligible
    burst, window = pace
    if window > 0:  # done lately: counted against the key's pace
        waiting |= Q(**{f"{spec.done_field}__gt": now - timedelta(seconds=window)})
    related = await spec.model.filter(waiting, **{f"{key}__in": keys}).values(
        "id", key, "status", spec.due_field, "attempts", *_bare(spec.order)
    )
    busy: set[Any] = set()
    queued: dict[Any, list[tuple[Any, ...]]] = {}  # each key's due or retrying rows
    done_lately: Counter[Any] = Counter()
    for other in related:
        if other["status"] == spec.claimed:
            busy.add(other[key])
        elif other["status"] != spec.pending:
            done_lately[other[key]] += 1
        elif spec.strict_order or other[spec.due_field] <= now or other["attempts"] > 0:
            queued.setdefault(other[key], []).append(spec.sort_key(other))
    offered: dict[Any, list[Any]] = {}
    for row in sorted(candidates, key=spec.sort_key):
        offered.setdefault(getattr(row, key), []).append(row)
    chosen = []
    for value, rows in offered.items():
        room = per_key if window <= 0 else min(per_key, burst - done_lately[value])
        if value in busy or room <= 0:
            continue
        # The key's queue from its head on, as long as the rows offered follow each other.
        for row, expected in zip(rows, sorted(queued.get(value, [])), strict=False):
            if room <= 0 or spec.sort_key(row) != expected:
                break
            chosen.append(row)
            room -= 1
    return sorted(chosen, key=spec.sort_key)


# -- claiming the heads of their keys in one statement ---------------------------------------


async def claim_heads(
    spec: QueueSpec,
    worker_id: str,
    limit: int,
    *,
    exclude: Sequence[int] = (),
    hold_back: str = "",
    **values: Any,
) -> list[Any]:
    """`claim` for a keyed queue with `strict_order` and `count_attempt` (the inbox), in one
    statement instead of a transaction of four: up to `limit` due rows, each the first of its
    key's waiting rows, of a key with no row claimed, none of `exclude`, marked as claimed
    and returned in the queue's order.

    `hold_back`: an SQL condition on the candidate row (alias `c`, named parameters
    `:name` given in `values`) under which it waits, holding up its key's next rows.

    On PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED`, and the whole
    statement reads one snapshot: a head another process has locked but not yet marked as
    claimed is still pending there, so it holds back the rows behind it. SQLite runs it as
    one statement on its single connection.
    """
    if limit <= 0:
        return []
    statement = _claim_heads_statement(spec, len(exclude), hold_back)
    rows = await statement.models(
        **values,
        pending=str(spec.pending),
        claimed=str(spec.claimed),
        worker=worker_id,
        now=utcnow(),
        limit=limit,
        **{f"x{index}": row_id for index, row_id in enumerate(exclude)},
    )
    return sorted(rows, key=spec.sort_key)


@functools.cache
def _claim_heads_statement(spec: QueueSpec, excluded: int, hold_back: str) -> Statement:
    """The statement of `claim_heads`, excluding `excluded` rows (`:x0`, `:x1`…)."""
    return Statement(
        spec.model, lambda dialect: _claim_heads_sql(spec, dialect, excluded, hold_back)
    )


def _claim_heads_sql(spec: QueueSpec, dialect: str, excluded: int, hold_back: str) -> str:
    assert spec.key_field and spec.strict_order and not any(n.startswith("-") for n in spec.order)
    table, key, due = spec.model._meta.db_table, spec.key_field, spec.due_field
    order = ", ".join(f'c."{name}"' for name in spec.order)
    earlier = "({}) < ({})".format(
        ", ".join(f'o."{name}"' for name in spec.order),
        ", ".join(f'c."{name}"' for name in spec.order),
    )
    exclusion = (
        "AND c.id NOT IN ({})".format(", ".join(f":x{index}" for index in range(excluded)))
        if excluded
        else ""
    )
    return f"""
        WITH heads AS (
            SELECT c.id FROM "{table}" c
            WHERE c.status = :pending AND c."{due}" <= :now {exclusion}
              AND NOT EXISTS (
                SELECT 1 FROM "{table}" o
                WHERE o."{key}" = c."{key}"
                  AND (o.status = :claimed OR (o.status = :pending AND {earlier})))
              {f"AND NOT ({hold_back})" if hold_back else ""}
            ORDER BY {order}
            LIMIT :limit
            {"FOR UPDATE SKIP LOCKED" if dialect == "postgres" else ""}
        )
        UPDATE "{table}"
        SET status = :claimed, claimed_by = :worker, claimed_at = :now, attempts = attempts + 1
        WHERE id IN (SELECT id FROM heads) AND status = :pending
        RETURNING *"""


def _bare(order: Sequence[str]) -> list[str]:
    return [name.lstrip("-") for name in order if name.lstrip("-") != "id"]


async def retry_later(
    spec: QueueSpec,
    row: Any,
    worker_id: str,
    error: BaseException | str,
    delay: float,
    *,
    attempts: int,
) -> bool:
    """Back to the queue, due in `delay` seconds; False if the row was no longer ours."""
    values = {
        spec.due_field: utcnow() + timedelta(seconds=delay),
        spec.error_field: short_error(error),
    }
    return bool(
        await spec.mine(row.id, worker_id).update(
            status=spec.pending, attempts=attempts, claimed_by=None, claimed_at=None, **values
        )
    )


async def give_up(
    spec: QueueSpec, row: Any, worker_id: str, error: BaseException | str, **values: Any
) -> bool:
    return bool(
        await spec.mine(row.id, worker_id).update(
            status=spec.given_up, **{spec.error_field: short_error(error)}, **values
        )
    )


async def release(spec: QueueSpec, rows: Sequence[Any], worker_id: str) -> None:
    """Hand claimed rows back untouched (stopping, or they waited too long)."""
    ids = [row.id for row in rows]
    if ids:
        await spec.rows(id__in=ids, status=spec.claimed, claimed_by=worker_id).update(
            status=spec.pending, claimed_by=None, claimed_at=None
        )


async def release_abandoned(spec: QueueSpec, worker_id: str, lease: float) -> int:
    """Claims past their lease, or made by a process of this host that is gone, go back."""
    expired = utcnow() - timedelta(seconds=lease)
    count = await (
        spec.rows(status=spec.claimed, claimed_at__lt=expired)
        .exclude(claimed_by=worker_id)
        .update(status=spec.pending, claimed_by=None, claimed_at=None)
    )
    claimants = await spec.rows(status=spec.claimed).distinct().values_list("claimed_by", flat=True)
    orphaned = [claimant for claimant in claimants if claim_is_orphaned(claimant)]
    if orphaned:
        count += await spec.rows(status=spec.claimed, claimed_by__in=orphaned).update(
            status=spec.pending, claimed_by=None, claimed_at=None
        )
    return count


def _postgres() -> bool:
    return get_connection("default").capabilities.dialect == "postgres"


async def release_unheld(spec: QueueSpec, worker_id: str, grace: float) -> int:
    """On PostgreSQL, claims older than `grace` whose row no transaction holds locked go
    back to the queue at once: their worker died, wherever it ran, with no lease to wait.
    Only for queues whose workers lock their row while working (the inbox: its handling
    transaction marks the row handled first)."""
    if not _postgres():
        return 0
    settled = utcnow() - timedelta(seconds=grace)
    async with in_transaction():
        free = await (
            spec.rows(status=spec.claimed, claimed_at__lt=settled)
            .exclude(claimed_by=worker_id)
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)
        )
        if not free:
            return 0
        return await spec.rows(id__in=list(free), status=spec.claimed).update(
            status=spec.pending, claimed_by=None, claimed_at=None
        )


async def outstanding(spec: QueueSpec) -> bool:
    """Is anything claimed, due, or waiting to be retried?"""
    return await spec.model.filter(
        Q(status=spec.claimed)
        | Q(status=spec.pending, **{f"{spec.due_field}__lte": utcnow()})
        | Q(status=spec.pending, attempts__gt=0)
    ).exists()


# -- the service loop around a queue ---------------------------------------------------------


# After a wake-up, when the work was queued in a transaction that was still open.
LOOK_AGAIN_AFTER = 0.05


class QueueService:
    """Start/stop, wake-ups and the idle wait shared by the workers of every queue."""

    name = "service"
    signal: Signal | None = None  # its queue's "new work" (companion_bot/wakeups.py)

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

    def wake(self, committed: bool = False) -> None:
        """New work: look now; unless it is known to be committed, once more a moment later:
        work queued inside a transaction that has not committed yet when we look (PostgreSQL
        shows it only after the commit) would otherwise wait for the next poll."""
        self._wake.set()
        if not committed:
            with contextlib.suppress(RuntimeError):  # no running loop: nobody to wake
                asyncio.get_running_loop().call_later(LOOK_AGAIN_AFTER, self._wake.set)

    async def start(self) -> None:
        if self.running:
            return
        self._stopping = False
        _live_worker_ids.add(self.worker_id)
        if self.signal is not None:
            self.signal.add_listener(self.wake)
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
            if self.signal is not None:
                self.signal.remove_listener(self.wake)

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


class ConcurrentRunner(QueueService):
    """A worker that claims rows and handles up to `concurrency` of them at once, each in a
    task of its own (the scheduler's tasks, the inbox's updates); the outbox paces itself
    and has its own loop."""

    spec: QueueSpec
    count_attempt = False

    def __init__(
        self,
        *,
        worker_id: str | None,
        concurrency: int,
        lease: float,
        poll_interval: float,
        sweep_interval: float,
        stop_timeout: float,
    ) -> None:
        super().__init__(worker_id, poll_interval, stop_timeout)
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.sweep_interval = sweep_interval
        self._running: dict[int, asyncio.Task[None]] = {}
        # Rows were left waiting at the last look (no free slot, or held back behind one in
        # hand): look again when a row in hand is done. Else a row done frees nothing.
        self._look_again = False

    async def stop(self) -> None:
        """Start nothing new; let running work finish (for `stop_timeout`), then cancel it
        (it goes back to the queue)."""
        await self._stop_loop()
        if self._running:
            tasks = list(self._running.values())
            _, late = await asyncio.wait(tasks, timeout=self.stop_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def wait_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - public API
        """Return once nothing is due or in hand, here or in another process."""
        await self._wait_idle(timeout, lambda: bool(self._running), self.outstanding)

    async def outstanding(self) -> bool:
        return await outstanding(self.spec)

    async def run_due(self) -> int:
        """Claim and handle everything due now, without the background loop (for tests and
        scripts); returns how many rows were handled."""
        _live_worker_ids.add(self.worker_id)
        try:
            ran = 0
            while rows := await self._claim(self.concurrency):
                await asyncio.gather(*(self._execute(row) for row in rows))
                ran += len(rows)
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
                if free > 0:
                    claimed = await self._claim(free)
                else:  # woken with no slot free: look once one is
                    claimed, self._look_again = [], True
                for row in claimed:
                    self._spawn(row)
                if len(claimed) < free or not claimed:
                    self._progress.set()  # wait_idle may look now, while we sleep
                    await self._sleep(self.poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: unexpected error; going on", self.name)
                await self._sleep(self.poll_interval)
            finally:
                self._progress.set()

    async def _claim(self, limit: int) -> list[Any]:
        in_hand = list(self._running)
        seen = 0

        async def choose(candidates: list[Any], now: datetime) -> list[Any]:
            nonlocal seen
            seen = len(candidates)
            return await self._choose(candidates, now)

        claimed = await claim(
            self.spec,
            self.worker_id,
            limit,
            window=limit + len(in_hand) + (50 if self.spec.key_field else 0),
            narrow=(lambda query: query.exclude(id__in=in_hand)) if in_hand else None,
            choose=choose,
            count_attempt=self.count_attempt,
        )
        self._look_again = seen > len(claimed)
        return claimed

    async def _choose(self, candidates: list[Any], now: datetime) -> list[Any]:
        return candidates

    def _spawn(self, row: Any) -> None:
        running = asyncio.create_task(self._execute(row), name=f"{self.name} row {row.id}")
        self._running[row.id] = running

        def forget(_: asyncio.Task[None]) -> None:
            self._running.pop(row.id, None)
            if self._look_again:
                self._wake.set()
            self._progress.set()

        running.add_done_callback(forget)

    async def _execute(self, row: Any) -> None:
        raise NotImplementedError

    async def recover(self) -> int:
        """Rows left claimed by a dead process go back to the queue (they run again)."""
        count = await release_abandoned(self.spec, self.worker_id, self.lease)
        if count:
            self.on_recovered(count)
            logger.warning("%s: %d row(s) left in hand by a stopped process", self.name, count)
        return count

    def on_recovered(self, count: int) -> None:
        return None
