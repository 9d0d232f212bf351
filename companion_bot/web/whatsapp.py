"""WhatsApp's webhook on the bot's web server (companion_bot/whatsapp/webhook.py), when
WhatsApp is set up (WHATSAPP_* settings): Meta's handshake and its signed posts."""

from __future__ import annotations

from aiohttp import web

from companion_bot.web.keys import SETTINGS
from companion_bot.whatsapp.webhook import WebhookConfig, whatsapp_routes


def setup(app: web.Application) -> None:
    config = app[SETTINGS].whatsapp
    if config is None:
        return
    webhook = WebhookConfig(config.app_secret, config.verify_token, config.phone_number_id)
    whatsapp_routes(app, webhook)
