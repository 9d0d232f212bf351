"""The outbox's Telegram side: a notice rendered as a Bot API call
(companion_bot/telegram_render.py), sent through the bot, and Telegram's answer read as an
outcome the outbox worker records (`companion_bot.workers.outcomes`).

A file relayed from another channel (a COPY notice with no Telegram message to copy) is
fetched from that channel (companion_bot/media.py) and uploaded; when it never can be, she
gets a line in her language saying what it was."""

from __future__ import annotations

import base64
import logging
from typing import Any

from telegram import Bot, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from companion_bot import notices, telegram_render
from companion_bot.i18n import translator
from companion_bot.media import Library, MediaGone, MediaUnavailable, placeholder, relayable
from companion_bot.models import Channel, OutboxMessage
from companion_bot.services import outbox
from companion_bot.services.messaging import default_language, language_of
from companion_bot.workers.outcomes import (
    Blocked,
    Failed,
    FloodWait,
    Moved,
    Outcome,
    Sent,
    Transient,
)
from companion_bot.workers.ratelimit import SharedRateLimiter, retry_after_seconds

logger = logging.getLogger(__name__)


class TelegramSender:
    channel = Channel.TELEGRAM

    def __init__(self, bot: Bot, media: Library | None = None) -> None:
        self.bot = bot
        self.media = media or Library()

    @property
    def limiter(self) -> SharedRateLimiter | None:
        """The bot's rate limiter, when it is the one every process shares."""
        limiter = getattr(self.bot, "rate_limiter", None)
        return limiter if isinstance(limiter, SharedRateLimiter) else None

    async def send(self, row: OutboxMessage) -> Outcome:
        try:
            return Sent(await self._call(row))
        except RetryAfter as error:
            return FloodWait(retry_after_seconds(error))
        except Forbidden as error:
            return Blocked(error.message)
        except ChatMigrated as error:
            return Moved(error.new_chat_id)
        except BadRequest as error:
            if "message is not modified" in error.message.lower():
                return Sent(outbox.Delivered(None))  # the chat already shows it
            return Failed(error.message)
        except (NetworkError, InvalidToken, MediaUnavailable) as error:  # and TimedOut
            return Transient(error)
        except TelegramError as error:
            return Failed(error.message)

    async def _call(self, row: OutboxMessage) -> outbox.Delivered:
        """Send the notice as a Bot API call; the id of the message it became, if Telegram
        returned one (edits may return True)."""
        method, arguments = await self._render(row)
        arguments = {key: _uploadable(value) for key, value in arguments.items()}
        arguments["chat_id"] = row.chat_id
        extra: dict[str, Any] = {}
        if self.limiter is not None:
            extra["rate_limit_args"] = {"max_retries": 0}  # flood waits are the worker's
        # The JSON goes out as is. PTB warns when `do_api_request` gets the name of a method
        # it has; Bot API method names are case-insensitive, so the lower-case name says
        # "raw call" without the warning.
        result = await self.bot.do_api_request(method.lower(), api_kwargs=arguments, **extra)
        if not isinstance(result, dict) or "message_id" not in result:
            return outbox.Delivered(None)
        chat = result.get("chat")
        return outbox.Delivered(
            result["message_id"], chat.get("id") if isinstance(chat, dict) else None
        )

    async def _render(self, row: OutboxMessage) -> tuple[str, dict[str, Any]]:
        payload = row.payload or {}
        if row.method != notices.COPY or "from_chat_id" in payload:
            return telegram_render.render(row.method, payload, row.chat_id)
        media = payload.get("media") or {}
        kind = media.get("type")
        if relayable(media):
            try:
                limit = telegram_render.UPLOAD_LIMITS[kind]
                file = await self.media.fetch(media, limit, attempts=row.attempts)
            except MediaGone as error:
                logger.info("outbox: a relayed %s could not be passed on: %s", kind, error)
            else:
                upload = InputFile(file.content, filename=file.filename)
                return telegram_render.upload(kind, payload, upload, row.chat_id)
        person = await outbox.recipient(row)
        t = language_of(person) if person is not None else translator(default_language())
        text = placeholder(t, kind, payload.get("caption"))
        return telegram_render.render(notices.TEXT, {"text": text}, row.chat_id)


def _uploadable(value: Any) -> Any:
    """A file stored in the row (`outbox.attachment`) becomes the upload PTB makes of it."""
    if isinstance(value, dict) and outbox.ATTACHMENT in value:
        return InputFile(base64.b64decode(value["base64"]), filename=value[outbox.ATTACHMENT])
    return value
