"""Database set-up: tortoise configuration, schema migrations, start and close.

Tortoise 1.x keeps its state in a per-task context, so `open_database` must run in the task
that later runs the application (see `companion_bot.app.run_bot`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate

from companion_bot.settings import Settings

logger = logging.getLogger(__name__)

APP_LABEL = "models"
MODEL_MODULES = ["companion_bot.models"]
MIGRATIONS_MODULE = "companion_bot.migrations"


ASYNCPG_ENGINE = "tortoise.backends.asyncpg"


async def keep_session(connection: Any) -> None:
    """What asyncpg's pool does to a connection handed back, instead of its default reset
    (`SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`): nothing more.

    asyncpg rolls back an open transaction itself before calling this. The default reset is
    one more round trip after every query run outside a transaction, about five per update;
    it undoes session state this bot never creates: no session advisory locks, cursors kept
    open, LISTEN or SET (transaction-level locks and settings end with their transaction).
    """


def connection_config(db_url: str) -> str | dict[str, Any]:
    """The URL as tortoise takes it; on PostgreSQL (asyncpg) its expanded form, with the
    pool's reset replaced by `keep_session`."""
    if not db_url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return db_url
    expanded = expand_db_url(db_url)
    if expanded["engine"] != ASYNCPG_ENGINE:
        return db_url
    expanded["credentials"]["reset"] = keep_session
    return expanded


def tortoise_config(db_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(db_url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# Read by the `tortoise` command (`tortoise -c companion_bot.db.TORTOISE_ORM makemigrations`)
# when a developer changes the models.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://data/companion.sqlite3"))


def ensure_sqlite_directory(settings: Settings) -> None:
    folder = settings.sqlite_directory()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)


async def apply_migrations(db_url: str, target: str | None = None) -> None:
    """Bring the schema up to date (or to `target`, e.g. "models.0001_initial")."""
    try:
        await migrate(config=tortoise_config(db_url), target=target)
    finally:
        # An unclosed aiosqlite connection keeps its thread, and the process, alive.
        await Tortoise.close_connections()


async def open_database(db_url: str) -> None:
    await Tortoise.init(config=tortoise_config(db_url))


async def close_database() -> None:
    await Tortoise.close_connections()


async def start_database(settings: Settings) -> None:
    """Apply pending migrations, then open the connections the bot uses."""
    ensure_sqlite_directory(settings)
    await apply_migrations(settings.DATABASE_URL)
    await open_database(settings.DATABASE_URL)
