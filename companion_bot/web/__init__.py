"""The bot's web side (aiohttp): Telegram webhook, health and metrics, the organizers' live
board. One app factory; each feature adds its routes from its own module."""

from companion_bot.web.app import create_app

__all__ = ["create_app"]
