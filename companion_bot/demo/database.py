"""The demo's own database (never the bot's: see `run.check_database`), migrated and empty at
the start of every night: a SQLite file is emptied at each start; a PostgreSQL database must
be empty the first time, then the demo empties what it wrote itself when a new night starts."""

from __future__ import annotations

from pathlib import Path

from tortoise.connection import get_connection

from companion_bot.db import apply_migrations, open_database
from companion_bot.models import Event
from companion_bot.settings import SettingsError


def sqlite_path(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url.removeprefix("sqlite://").split("?", 1)[0]
    if path in ("", ":memory:"):
        raise SettingsError(
            "--database-url: the demo needs a database file, e.g. sqlite://data/demo.sqlite3"
        )
    return Path(path)


def delete_sqlite_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


async def prepare_database(database_url: str) -> None:
    """Open the demo's database, migrated and empty: a SQLite file is emptied (quicker than
    migrating a new one), a PostgreSQL database must be empty already."""
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        await apply_migrations(database_url)
    except Exception:
        if path is None or not path.exists():
            raise
        # A file the migrations cannot bring up to date (another version's): start afresh.
        delete_sqlite_file(path)
        await apply_migrations(database_url)
    await open_database(database_url)
    if path is not None:
        await empty_tables()
    elif await Event.exists():
        raise SettingsError(
            "--database-url: this database already has events; the demo needs an empty one "
            "(a SQLite file is emptied at each start)"
        )


async def empty_tables() -> None:
    """Delete every row but the migration history, on SQLite or PostgreSQL."""
    connection = get_connection("default")
    if connection.capabilities.dialect == "sqlite":
        _, rows = await connection.execute_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name <> 'tortoise_migrations'"
        )
        _, sequence = await connection.execute_query(
            "SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"
        )
        statements = [f'DELETE FROM "{row["name"]}"' for row in rows]
        if sequence:
            statements.append("DELETE FROM sqlite_sequence")
        await connection.execute_script(
            ";\n".join(["PRAGMA foreign_keys = OFF", *statements, "PRAGMA foreign_keys = ON"])
        )
        return
    _, rows = await connection.execute_query(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename <> 'tortoise_migrations'"
    )
    if rows:
        tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
        await connection.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
