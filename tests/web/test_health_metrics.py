"""/healthz says whether the database answers and the bot runs; /metrics counts what the bot
did, in Prometheus' text format; neither shows a token or anything about a person."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest_asyncio

from companion_bot.app import stop_bot
from companion_bot.services import outbox
from companion_bot.web import health
from companion_bot.workers import get_workers
from tests.support import data
from tests.web.webhook_support import WebhookHarness, start_webhook_harness


@pytest_asyncio.fixture
async def hook(db: str) -> AsyncIterator[WebhookHarness]:
    async with start_webhook_harness(db) as running:
        yield running


def sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample of the exposition, e.g. sample(t, "x_total", '{type="a"}')."""
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    assert match, f"no sample {name}{labels} in:\n{text}"
    return float(match.group(1))


async def scrape(hook: WebhookHarness, **headers: str) -> str:
    response = await hook.client.get("/metrics", headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await response.text()


async def test_healthz_is_ok_when_the_database_answers_and_the_bot_runs(hook: WebhookHarness):
    response = await hook.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok", "database": "ok", "bot": "ok", "inbox": "ok", "outbox": "ok",
        "scheduler": "ok",
    }  # fmt: skip


async def test_healthz_fails_when_the_database_does_not_answer(hook: WebhookHarness, monkeypatch):
    class Unreachable:
        async def execute_query(self, query: str) -> None:
            raise ConnectionRefusedError("connection refused by postgres://user:pw@db/x")

    monkeypatch.setattr(health, "get_connection", lambda name: Unreachable())
    response = await hook.client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["database"] == "unreachable" and body["bot"] == "ok"
    assert body["status"] == "unavailable"
    assert "pw" not in await response.text()


async def test_healthz_fails_once_the_bot_is_stopped(hook: WebhookHarness):
    await stop_bot(hook.application)
    response = await hook.client.get("/healthz")
    assert response.status == 503
    body = await response.json()
    assert body["bot"] == body["inbox"] == body["outbox"] == "not running"
    assert body["database"] == "ok"


async def test_metrics_count_updates_latency_and_the_outbox(hook: WebhookHarness, event):
    before = await scrape(hook)
    assert sample(before, "companion_update_handling_seconds_count") == 0
    assert sample(before, "companion_bot_running") == 1

    marie = hook.user(first_name="Marie", language_code="en")
    await hook.say(marie, f"/start {event.attendee_code}")
    await hook.tap(marie, data("su:lang:en"))
    await hook.tap(marie, data("su:charter:yes"))
    # A message waiting in the outbox for later is backlog; one sent now is counted as sent.
    await outbox.enqueue(marie.id, "later", not_before=event.doors_open)
    await outbox.enqueue(marie.id, "now")
    await get_workers(hook.application).outbox.wait_idle()

    after = await scrape(hook)
    assert sample(after, "companion_updates_total", '{type="message"}') == 1
    assert sample(after, "companion_updates_total", '{type="callback_query"}') == 2
    assert sample(after, "companion_update_handling_seconds_count") == 3
    assert sample(after, "companion_update_handling_seconds_bucket", '{le="+Inf"}') == 3
    assert sample(after, "companion_update_handling_seconds_sum") > 0
    assert sample(after, "companion_outbox_messages", '{status="pending"}') == 1
    # Replies go through the outbox too: three questions, the two tapped ones closed, "now".
    assert sample(after, "companion_outbox_sent_total") == 6
    for status in ("pending", "handling", "parked"):
        assert sample(after, "companion_inbox_updates", f'{{status="{status}"}}') == 0
    for name in (
        "companion_outbox_blocked_total", "companion_outbox_failed_total",
        "companion_outbox_retried_total", "companion_outbox_flood_waits_total",
        "companion_handler_errors_total", "companion_scheduler_done_total",
    ):  # fmt: skip
        assert sample(after, name) == 0
    assert sample(after, "companion_scheduled_tasks", '{status="pending"}') >= 0

    # Nothing that identifies the bot or a person.
    for secret in (hook.settings.token, hook.settings.token.split(":")[1], "Marie", str(marie.id)):
        assert secret not in after
    # Every line is a comment or `name{labels} number`.
    for line in after.strip().splitlines():
        assert line.startswith("# ") or re.fullmatch(r"[a-z_]+(\{[^}]*\})? [0-9.e+-]+", line)


async def test_a_metrics_token_guards_metrics_and_health(db: str):
    async with start_webhook_harness(db, METRICS_TOKEN="scrape-me") as hook:
        for path in ("/metrics", "/healthz"):
            assert (await hook.client.get(path)).status == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await hook.client.get(path, headers=wrong)).status == 401
            right = {"Authorization": "Bearer scrape-me"}
            assert (await hook.client.get(path, headers=right)).status == 200
