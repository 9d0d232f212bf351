"""Serving the web app (`create_app`) on WEB_HOST:WEB_PORT, in the task that runs the bot.

Requests are handled in tasks created from this one, so they see its Tortoise context.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from telegram.ext import Application

from companion_bot.settings import Settings, SettingsError
from companion_bot.web.app import create_app


class WebServer:
    def __init__(self, runner: web.AppRunner) -> None:
        self._runner: web.AppRunner | None = runner
        self.address: tuple[str, int] = tuple(runner.addresses[0][:2])  # type: ignore[assignment]

    async def close(self) -> None:
        """Stop listening; requests under way get `shutdown_timeout` to finish."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_web(application: Application, settings: Settings) -> AsyncIterator[WebServer]:
    # No access log: it would name every visitor's address, and cost time on every update.
    runner = web.AppRunner(create_app(application, settings), access_log=None, shutdown_timeout=5)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.WEB_HOST, settings.WEB_PORT).start()
    except OSError as error:
        await runner.cleanup()
        raise SettingsError(
            f"WEB_HOST/WEB_PORT: cannot listen on {settings.WEB_HOST}:{settings.WEB_PORT} "
            f"({error.strerror or error})"
        ) from None
    except BaseException:
        await runner.cleanup()
        raise
    server = WebServer(runner)
    try:
        yield server
    finally:
        await server.close()
