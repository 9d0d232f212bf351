"""Typed keys for what the web app holds (aiohttp `AppKey`s)."""

from __future__ import annotations

from aiohttp import web
from telegram.ext import Application

from companion_bot.settings import Settings

APPLICATION = web.AppKey("application", Application)
SETTINGS = web.AppKey("settings", Settings)
