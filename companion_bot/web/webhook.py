"""Telegram's webhook: Telegram POSTs each update to WEBHOOK_URL, whose path is our route.

Only in webhook mode (an Application built without Updater): with long polling nobody should
be able to hand the bot updates over HTTP. A post must carry the secret set with setWebhook in
`X-Telegram-Bot-Api-Secret-Token` (else 403) and be an Update in JSON (else 400); it is put on
the application's update queue and answered at once, before it is handled, so Telegram never
waits on our handlers. Nothing of the update is logged.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections import deque

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from companion_bot.settings import Settings
from companion_bot.web.keys import APPLICATION, SETTINGS

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram posts an update again when our answer did not reach it: remember recent ids.
RECENT_UPDATES = 2_000


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
        self._recent: deque[int] = deque(maxlen=RECENT_UPDATES)
        self._recent_ids: set[int] = set()

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=403, text="wrong or missing secret token\n")
        try:
            data = json.loads(await request.read())
        except ValueError:  # UnicodeDecodeError is one
            return web.Response(status=400, text="body is not JSON\n")
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            return web.Response(status=400, text="not a Telegram update\n")
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception:
            logger.warning("Webhook: update %s is not a readable Update", data["update_id"])
            return web.Response(status=400, text="not a Telegram update\n")
        if self._seen(update.update_id):
            return web.Response()  # Telegram's second try of what we already took
        await self.application.update_queue.put(update)
        return web.Response()

    def _seen(self, update_id: int) -> bool:
        if update_id in self._recent_ids:
            return True
        if len(self._recent) == self._recent.maxlen:
            self._recent_ids.discard(self._recent[0])
        self._recent.append(update_id)
        self._recent_ids.add(update_id)
        return False


def setup(app: web.Application) -> None:
    application = app[APPLICATION]
    if application.updater is not None:
        return  # long polling: updates come from getUpdates only
    settings = app[SETTINGS]
    receiver = WebhookReceiver(application, settings.webhook_secret)
    app.router.add_post(settings.webhook_path, receiver.receive)
