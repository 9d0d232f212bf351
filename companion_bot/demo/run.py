"""The `companion-bot demo` command: a throwaway database, the demo, its page, until Ctrl+C
or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket

from aiohttp import web

from companion_bot.db import close_database
from companion_bot.demo.database import prepare_database, sqlite_path
from companion_bot.i18n import load_all
from companion_bot.logging_setup import RedactTokens
from companion_bot.settings import SettingsError, load_settings

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


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
    *,
    host: str,
    port: int,
    database_url: str,
    language: str,
    stop: asyncio.Event | None = None,
    evening: str = "in-person",
) -> None:
    """Serve the demo until SIGINT or SIGTERM (or `stop`)."""
    # Imported here: the command checks its arguments before loading the whole bot.
    from companion_bot.demo.session import open_nights
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
        async with open_nights(database_url, language=language, evening=evening) as nights:
            app = create_demo_app(nights, language=language, loopback=host in LOOPBACK_HOSTS)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, port).start()
            except OSError as error:
                await runner.cleanup()
                raise SettingsError(f"--port: cannot listen on {host}:{port} ({error})") from None
            try:
                bound_host, bound_port = runner.addresses[0][:2]
                nights.serve_board_at((bound_host, bound_port))
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                print(
                    f"Demo ready: open http://{shown}:{bound_port}/ in your browser "
                    "(Ctrl+C to stop).",
                    flush=True,
                )
                await stop.wait()
            finally:
                await nights.close()  # releases the page's long polls
                await runner.cleanup()
    finally:
        await close_database()
    print("Demo stopped.", flush=True)
