"""`/metrics` in Prometheus' text format (version 0.0.4).

Written by hand rather than with prometheus-client: the format is a few lines of text, and
that library's registry is global to the process, where ours lives with each Application
(tests run many in one process). Counters are this process's since it started; the inbox, outbox
and scheduler backlogs are read from the database, so they are the same in every process.
Nothing personal: counts and durations only.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from telegram.ext import Application
from tortoise.functions import Count

from companion_bot.metrics import update_metrics
from companion_bot.models import (
    InboxStatus,
    InboxUpdate,
    OutboxMessage,
    OutboxStatus,
    ScheduledTask,
    TaskStatus,
)
from companion_bot.web.health import authorized, unauthorized
from companion_bot.web.keys import APPLICATION
from companion_bot.workers import WORKERS_KEY, SharedRateLimiter, Workers, utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]
) -> list[str]:
    """`samples`: (labels as `{a="b"}` or "", value)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {_number(value)}" for labels, value in samples]
    return lines


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


async def _status_counts(model: type, statuses: Iterable[str]) -> dict[str, int]:
    rows = (
        await model.filter(status__in=list(statuses))
        .annotate(n=Count("id"))
        .group_by("status")
        .values("status", "n")
    )
    return {str(row["status"]): row["n"] for row in rows}


async def render(application: Application) -> str:
    stats = update_metrics(application)
    workers: Workers | None = application.bot_data.get(WORKERS_KEY)
    outbox = workers.outbox.counters if workers else None
    scheduler = workers.scheduler.counters if workers else None
    limiter = application.bot.rate_limiter
    inbox_rows = await _status_counts(
        InboxUpdate, (InboxStatus.PENDING, InboxStatus.HANDLING, InboxStatus.PARKED)
    )
    outbox_rows = await _status_counts(OutboxMessage, (OutboxStatus.PENDING, OutboxStatus.SENDING))
    task_rows = await _status_counts(
        ScheduledTask, (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.FAILED)
    )
    tasks_due = await ScheduledTask.filter(status=TaskStatus.PENDING, due_at__lte=utcnow()).count()

    lines: list[str] = []
    lines += _family(
        "companion_bot_running", "gauge", "1 while the bot handles updates.",
        [("", 1 if application.running else 0)],
    )  # fmt: skip
    lines += _family(
        "companion_updates_total", "counter", "Telegram updates handled, by type.",
        [(f'{{type="{kind}"}}', count) for kind, count in sorted(stats.handled.items())],
    )  # fmt: skip
    lines += [
        "# HELP companion_update_handling_seconds Time an update's handlers and the write of "
        "its conversation state took.",
        "# TYPE companion_update_handling_seconds histogram",
        *(
            f'companion_update_handling_seconds_bucket{{le="{le}"}} {count}'
            for le, count in stats.latency.cumulative()
        ),
        f"companion_update_handling_seconds_sum {stats.latency.total!r}",
        f"companion_update_handling_seconds_count {stats.latency.count}",
    ]
    lines += _family(
        "companion_inbox_updates", "gauge",
        "Received updates waiting (pending), being handled (handling) or set aside after "
        "failing every try (parked), all processes.",
        [(f'{{status="{status}"}}', inbox_rows.get(status, 0))
         for status in (InboxStatus.PENDING, InboxStatus.HANDLING, InboxStatus.PARKED)],
    )  # fmt: skip
    lines += _family(
        "companion_handler_errors_total", "counter", "Errors no handler dealt with.",
        [("", application.bot_data.get("errors", 0))],
    )  # fmt: skip
    lines += _family(
        "companion_outbox_messages", "gauge",
        "Outbox rows waiting to be sent (pending) or being sent (sending), all processes.",
        [(f'{{status="{status}"}}', outbox_rows.get(status, 0))
         for status in (OutboxStatus.PENDING, OutboxStatus.SENDING)],
    )  # fmt: skip
    for name, help_text in (
        ("sent", "Messages the outbox delivered."),
        ("blocked", "Messages not delivered because the person blocked the bot."),
        ("failed", "Messages given up on."),
        ("retried", "Messages put back for a later try after an error."),
        ("recovered", "Messages taken back from a process that stopped while sending them."),
    ):
        lines += _family(
            f"companion_outbox_{name}_total", "counter", help_text,
            [("", getattr(outbox, name, 0))],
        )  # fmt: skip
    lines += _family(
        "companion_outbox_flood_waits_total", "counter",
        "Flood waits (HTTP 429) the outbox met; its message went back to the queue.",
        [("", getattr(outbox, "flood_waits", 0))],
    )  # fmt: skip
    if isinstance(limiter, SharedRateLimiter):
        lines += _family(
            "companion_flood_waits_total", "counter",
            "Flood waits (HTTP 429) on any paced Bot API call, replies and outbox.",
            [("", limiter.flood_waits)],
        )  # fmt: skip
    lines += _family(
        "companion_scheduled_tasks", "gauge", "Scheduled tasks by status, all processes.",
        [(f'{{status="{status}"}}', task_rows.get(status, 0))
         for status in (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.FAILED)],
    )  # fmt: skip
    lines += _family(
        "companion_scheduled_tasks_due", "gauge", "Pending tasks whose time has come.",
        [("", tasks_due)],
    )  # fmt: skip
    for name, help_text in (
        ("done", "Scheduled tasks run."),
        ("failed", "Scheduled tasks given up on."),
        ("retried", "Scheduled tasks put back after an error."),
        ("recovered", "Scheduled tasks taken back from a process that stopped."),
    ):
        lines += _family(
            f"companion_scheduler_{name}_total", "counter", help_text,
            [("", getattr(scheduler, name, 0))],
        )  # fmt: skip
    return "\n".join(lines) + "\n"


async def metrics(request: web.Request) -> web.Response:
    if not authorized(request):
        return unauthorized()
    body = await render(request.app[APPLICATION])
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
