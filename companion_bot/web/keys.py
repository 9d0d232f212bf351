"""Typed keys for what the web app holds (aiohttp `AppKey`s)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from telegram.ext import Application

from companion_bot.settings import Settings

APPLICATION = web.AppKey("application", Application)
SETTINGS = web.AppKey("settings", Settings)
# The bot's username, for the links in the board's QR codes; RuntimeError until the bot has
# introduced itself to Telegram. (The demo's page serves the board of a bot that changes
# with each night.)
BOT_USERNAME = web.AppKey("bot_username", Callable[[], str])
