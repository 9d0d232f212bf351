"""Database set-up: tortoise configuration, schema migrations, start and close.

Tortoise 1.x keeps its state in a per-task context, so `open_database` must run in the task
that later runs the application (see `companion_bot.app.run_bot`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from companion_bot.settings import Settings

logger = logging.getLogger(__name__)

APP_LABEL = "models"
MODEL_MODULES = ["companion_bot.models"]
MIGRATIONS_MODULE = "companion_bot.migrations"


def tortoise_config(db_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": db_url},
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
