"""The outbox's Telegram side: a notice rendered as a Bot API call
(companion_bot/telegram_render.py), sent through the bot, and Telegram's answer read as an
outcome the outbox worker records (`companion_bot.workers.outcomes`)."""

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

from companion_bot import telegram_render
from companion_bot.models import Channel, OutboxMessage
from companion_bot.services import outbox
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

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

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
        except (NetworkError, InvalidToken) as error:  # TimedOut is a NetworkError
            return Transient(error)
        except TelegramError as error:
            return Failed(error.message)

    async def _call(self, row: OutboxMessage) -> outbox.Delivered:
        """Send the notice as a Bot API call; the id of the message it became, if Telegram
        returned one (edits may return True)."""
        method, arguments = telegram_render.render(row.method, row.payload or {}, row.chat_id)
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


def _uploadable(value: Any) -> Any:
    """A file stored in the row (`outbox.attachment`) becomes the upload PTB makes of it."""
    if isinstance(value, dict) and outbox.ATTACHMENT in value:
        return InputFile(base64.b64decode(value["base64"]), filename=value[outbox.ATTACHMENT])
    return value
