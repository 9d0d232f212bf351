"""Telegram's webhook: Telegram POSTs each update to WEBHOOK_URL, whose path is our route.

Only in webhook mode: with long polling nobody should be able to hand the bot updates over
HTTP. A post must carry the secret set with setWebhook in `X-Telegram-Bot-Api-Secret-Token`
(else 403) and be an Update in JSON (else 400). It is committed to the inbox before the answer
(200), so Telegram sends again whatever we did not store, and never waits on our handlers: the
inbox worker handles it (companion_bot/workers/inbox.py). A second delivery of an update is
answered 200 and ignored. Nothing of the update is logged.
"""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from companion_bot import faults, inbox
from companion_bot.settings import Settings
from companion_bot.telegram_updates import CHANNEL, received
from companion_bot.web.keys import APPLICATION, SETTINGS

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_MODE_KEY = "webhook_mode"


async def register_webhook(application: Application, settings: Settings) -> None:
    """Tell Telegram where to post, with the secret and every update type.

    Pending updates are kept (Telegram delivers what arrived while we were down). Stopping
    does not delete the webhook: another process, or the next start, goes on receiving.
    """
    await application.bot.set_webhook(
        url=settings.webhook_url,
        secret_token=settings.webhook_secret,
        allowed_updates=Update.ALL_TYPES,
    )
    logger.info("Webhook registered with Telegram (path %s)", settings.webhook_path)


class WebhookReceiver:
    def __init__(self, application: Application, secret: str) -> None:
        self.application = application
        self._secret = secret.encode()

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403, text="wrong or missing secret token\n")
        try:
            data = json.loads(await request.read())
        except ValueError:  # UnicodeDecodeError is one
            return web.Response(status=400, text="body is not JSON\n")
        if not looks_like_an_update(data):
            return web.Response(status=400, text="not a Telegram update\n")
        # A database that cannot store it answers 500: Telegram will post it again.
        await inbox.store(CHANNEL, received(data))
        faults.reached("webhook.stored")
        return web.Response()


KINDS = frozenset(Update.ALL_TYPES)


def looks_like_an_update(data: object) -> bool:
    """An update's shape: an integer `update_id` and what happened, each an object. Checked
    here so that nothing else is stored; the handler reads the rest (a bad field there is
    retried a few times, then set aside)."""
    if not isinstance(data, dict) or type(data.get("update_id")) is not int:
        return False
    kinds = [key for key in data if key != "update_id"]
    return (
        bool(kinds)
        and all(isinstance(data[key], dict) for key in kinds if key in KINDS)
        and any(key in KINDS for key in kinds)
    )


def setup(app: web.Application) -> None:
    application = app[APPLICATION]
    if not application.bot_data.get(WEBHOOK_MODE_KEY):
        return  # long polling: updates come from getUpdates only
    settings = app[SETTINGS]
    receiver = WebhookReceiver(application, settings.webhook_secret)
    app.router.add_post(settings.webhook_path, receiver.receive)
