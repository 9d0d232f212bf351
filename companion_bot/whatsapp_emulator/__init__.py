"""A local WhatsApp Cloud API emulator for offline tests, demos and benchmarks, beside the
Telegram one (`companion_bot.emulator`).

async with CloudApiEmulator() as meta:
    settings = load_settings(**meta.bot_settings(verify_token), ...)  # the bot's
    approve_bot_templates(meta)     # the bot's utility templates, as Meta approved them
    await meta.subscribe("http://127.0.0.1:8080/whatsapp", verify_token)
    marie = meta.user(name="Marie")
    await marie.send_text("NUIT42")
    await marie.tap("Français")
    meta.advance(hours=25)          # her 24-hour window closes
"""

from .actors import EmulatedWhatsAppUser
from .errors import MetaError
from .server import (
    DEFAULT_APP_SECRET,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_TOKEN,
    VERSION,
    CloudApiEmulator,
    Contact,
    Limits,
    RequestRecord,
    SentMessage,
    WebhookPost,
)
from .templates import approve_bot_templates

__all__ = [
    "DEFAULT_APP_SECRET",
    "DEFAULT_PHONE_NUMBER_ID",
    "DEFAULT_TOKEN",
    "VERSION",
    "CloudApiEmulator",
    "Contact",
    "EmulatedWhatsAppUser",
    "Limits",
    "MetaError",
    "RequestRecord",
    "SentMessage",
    "WebhookPost",
    "approve_bot_templates",
]
