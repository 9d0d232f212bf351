"""Shared fixtures: a migrated database (SQLite, or PostgreSQL with TEST_DATABASE_URL), the
Bot API emulator, and the bot itself running with its real HTTP stack against it."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from tortoise import Tortoise
from tortoise.connection import get_connection

from companion_bot import clock
from companion_bot.db import apply_migrations, open_database
from tests.support import BotHarness, DatabaseInfo, event_spec, postgres_admin_url, start_harness

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
APP_TABLES = None  # filled once the schema is known


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'PostgreSQL ' + POSTGRES_URL if POSTGRES_URL else 'SQLite'}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """With TEST_DATABASE_URL set, an unreachable server fails the run: it must not skip."""
    if POSTGRES_URL:
        import asyncpg

        async def probe() -> None:
            connection = await asyncpg.connect(postgres_admin_url(POSTGRES_URL), timeout=10)
            await connection.close()

        try:
            asyncio.run(probe())
        except Exception as exc:
            pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", 3)


@pytest.fixture(autouse=True)
def real_time() -> Iterator[None]:
    """Tests that move the bot's clock forward leave it as they found it."""
    yield
    clock.reset()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseInfo]:
    """Migrated once per session: a SQLite file to copy, or a fresh PostgreSQL database."""
    if POSTGRES_URL:
        import asyncpg

        name = f"companion_test_{uuid.uuid4().hex[:10]}"
        admin = postgres_admin_url(POSTGRES_URL)

        async def create() -> None:
            connection = await asyncpg.connect(admin)
            await connection.execute(f'CREATE DATABASE "{name}"')
            await connection.close()

        async def drop() -> None:
            connection = await asyncpg.connect(admin)
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.close()

        asyncio.run(create())
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        asyncio.run(apply_migrations(url))
        yield DatabaseInfo(url=url, kind="postgres")
        asyncio.run(drop())
        return
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    asyncio.run(apply_migrations(f"sqlite://{path}"))
    yield DatabaseInfo(url=f"sqlite://{path}", kind="sqlite", template=path)


@pytest.fixture
def database_url(database_template: DatabaseInfo, tmp_path: Path) -> str:
    """A database of this test's own, at the latest migration and empty."""
    if database_template.kind == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(database_template.template, path)
        return f"sqlite://{path}"
    return database_template.url


@pytest_asyncio.fixture
async def db(database_url: str, database_template: DatabaseInfo) -> AsyncIterator[str]:
    """Tortoise open on the test's database (emptied first on PostgreSQL)."""
    await open_database(database_url)
    if database_template.kind == "postgres":
        await truncate_all()
    yield database_url
    await Tortoise.close_connections()


async def truncate_all() -> None:
    connection = get_connection("default")
    _, rows = await connection.execute_query(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'tortoise_migrations'"
    )
    tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
    if tables:
        await connection.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest_asyncio.fixture
async def harness(db: str) -> AsyncIterator[BotHarness]:
    """The bot, polling the emulator over HTTP, on the test's database."""
    async with start_harness(db) as running:
        yield running


@pytest_asyncio.fixture
async def event(db: str):
    """A night in Paris tomorrow: doors 23:00, closing 06:00, two slots, two departures."""
    from companion_bot.services.events import create_event

    return await create_event(event_spec(datetime.now(UTC) + timedelta(days=1)), None)


@pytest_asyncio.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all, for migration tests (dropped afterwards)."""
    if not POSTGRES_URL:
        yield f"sqlite://{tmp_path / 'empty.sqlite3'}"
        return
    import asyncpg

    name = f"companion_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_admin_url(POSTGRES_URL))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        await Tortoise.close_connections()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
