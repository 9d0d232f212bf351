"""A local Telegram Bot API emulator for offline tests, demos and benchmarks.

async with BotApiEmulator() as emulator:
    application = (ApplicationBuilder().token(emulator.token)
                   .base_url(emulator.base_url).base_file_url(emulator.base_file_url)
                   .build())
    marie = emulator.user(first_name="Marie")
    await marie.start("EVENT42")
    await settle(emulator, application)
    assert marie.last_text()
"""

from .actors import EmulatedChannel, EmulatedGroup, EmulatedUser, find_button
from .harness import settle
from .limits import Limits
from .models import (
    ApiError,
    BotAccount,
    CallbackQueryRecord,
    Conversation,
    DeliveryStats,
    InlineButton,
    RequestRecord,
    StoredMessage,
)
from .server import DEFAULT_TOKEN, EMULATOR_KEY, BotApiEmulator

__all__ = [
    "DEFAULT_TOKEN",
    "EMULATOR_KEY",
    "ApiError",
    "BotAccount",
    "BotApiEmulator",
    "CallbackQueryRecord",
    "Conversation",
    "DeliveryStats",
    "EmulatedChannel",
    "EmulatedGroup",
    "EmulatedUser",
    "InlineButton",
    "Limits",
    "RequestRecord",
    "StoredMessage",
    "find_button",
    "settle",
]
