"""`/healthz`: 200 when the database answers and the bot runs (with its outbox worker and
scheduler), 503 otherwise, for a load balancer or systemd watchdog to act on.

Says which part is wrong, never why in detail (no connection strings, no errors: they go to
the log). With METRICS_TOKEN set, it wants the same bearer token as /metrics.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web
from tortoise.connection import get_connection

from companion_bot.web.keys import APPLICATION, SETTINGS
from companion_bot.workers import WORKERS_KEY, Workers

logger = logging.getLogger(__name__)

DATABASE_TIMEOUT = 2.0  # seconds: a probe must answer before the balancer gives up


def authorized(request: web.Request) -> bool:
    """True unless METRICS_TOKEN is set and the request lacks `Authorization: Bearer` it."""
    token = request.app[SETTINGS].METRICS_TOKEN
    if token is None:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.get_secret_value().encode()
    )


def unauthorized() -> web.Response:
    return web.Response(
        status=401, text="bearer token required\n", headers={"WWW-Authenticate": "Bearer"}
    )


async def database_status() -> str:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            await get_connection("default").execute_query("SELECT 1")
    except Exception as error:
        logger.warning("Health check: the database did not answer (%s)", type(error).__name__)
        return "unreachable"
    return "ok"


def _worker_status(workers: Workers | None, name: str) -> str:
    service = getattr(workers, name, None)
    return "ok" if service is not None and service.running else "not running"


async def healthz(request: web.Request) -> web.Response:
    if not authorized(request):
        return unauthorized()
    application = request.app[APPLICATION]
    workers = application.bot_data.get(WORKERS_KEY)
    checks = {
        "database": await database_status(),
        "bot": "ok" if application.running else "not running",
        "inbox": _worker_status(workers, "inbox"),
        "outbox": _worker_status(workers, "outbox"),
        "scheduler": _worker_status(workers, "scheduler"),
    }
    healthy = all(value == "ok" for value in checks.values())
    return web.json_response(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
