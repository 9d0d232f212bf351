"""The `companion-bot demo` command: a throwaway database, the demo, its page, until Ctrl+C
or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from pathlib import Path

from aiohttp import web
from tortoise.connection import get_connection

from companion_bot.db import apply_migrations, close_database, open_database
from companion_bot.i18n import load_all
from companion_bot.logging_setup import RedactTokens
from companion_bot.models import Event
from companion_bot.settings import SettingsError, load_settings

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def sqlite_path(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url.removeprefix("sqlite://").split("?", 1)[0]
    if path in ("", ":memory:"):
        raise SettingsError(
            "--database-url: the demo needs a database file, e.g. sqlite://data/demo.sqlite3"
        )
    return Path(path)


def check_database(database_url: str, bot_database_url: str) -> str:
    """The demo's database URL, normalised; never the bot's own database, which the demo
    would empty."""
    try:
        url = load_settings(DATABASE_URL=database_url, _env_file=None).DATABASE_URL
    except SettingsError as error:
        raise SettingsError(
            f"--database-url: {error}".replace("setting DATABASE_URL ", "")
        ) from None
    mine, theirs = sqlite_path(url), sqlite_path(bot_database_url)
    same = mine.resolve() == theirs.resolve() if mine and theirs else url == bot_database_url
    if same:
        raise SettingsError(
            "--database-url: that is the bot's database (DATABASE_URL), which the demo would "
            "empty; give the demo its own, e.g. sqlite://data/demo.sqlite3"
        )
    return url


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
        await empty_sqlite_tables()
    elif await Event.exists():
        raise SettingsError(
            "--database-url: this database already has events; the demo needs an empty one "
            "(a SQLite file is emptied at each start)"
        )


async def empty_sqlite_tables() -> None:
    connection = get_connection("default")
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


def check_port_free(host: str, port: int) -> None:
    """Fail before anything starts when the page's port is taken."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "already in use" if error.errno == errno.EADDRINUSE else error.strerror
            raise SettingsError(
                f"--port: cannot listen on {host}:{port} ({reason}); try --port {port + 1}"
            ) from None


def configure_demo_logging() -> None:
    """Warnings and errors only: the page shows what happens."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


async def run_demo(
    *, host: str, port: int, database_url: str, language: str, stop: asyncio.Event | None = None
) -> None:
    """Serve the demo until SIGINT or SIGTERM (or `stop`)."""
    # Imported here: the command checks its arguments before loading the whole bot.
    from companion_bot.demo.session import open_demo
    from companion_bot.demo.web import create_demo_app

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    load_all()
    check_port_free(host, port)
    try:
        await prepare_database(database_url)
        async with open_demo(database_url, language=language) as demo:
            app = create_demo_app(demo, language=language, loopback=host in LOOPBACK_HOSTS)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as error:
                await runner.cleanup()
                raise SettingsError(f"--port: cannot listen on {host}:{port} ({error})") from None
            try:
                bound_host, bound_port = runner.addresses[0][:2]
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                print(
                    f"Demo ready: open http://{shown}:{bound_port}/ in your browser "
                    "(Ctrl+C to stop).",
                    flush=True,
                )
                await stop.wait()
            finally:
                demo.closing = True
                demo.emulator.changed.notify()
                await runner.cleanup()
    finally:
        await close_database()
    print("Demo stopped.", flush=True)
