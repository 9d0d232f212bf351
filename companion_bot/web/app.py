"""The web app factory: routes come from one module per feature."""

from __future__ import annotations

from aiohttp import web
from telegram.ext import Application

from companion_bot.settings import Settings
from companion_bot.web.keys import APPLICATION, BOT_USERNAME, SETTINGS

# Each module exposes `setup(app)`, adding its routes (and cleanup contexts) to the app.
FEATURES: list[str] = [
    "webhook",
    "whatsapp",
    "health",
    "metrics",
    "board",
    "export",
    "night_report",
]


def create_app(application: Application, settings: Settings) -> web.Application:
    app = web.Application()
    app[APPLICATION] = application
    app[SETTINGS] = settings
    app[BOT_USERNAME] = lambda: application.bot.username
    import importlib

    for name in FEATURES:
        importlib.import_module(f"companion_bot.web.{name}").setup(app)
    return app
