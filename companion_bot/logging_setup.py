"""Logging that never shows the bot token.

httpx logs every request URL, and Bot API URLs contain the token, so the token is masked in
every record, whatever logger produced it.
"""

from __future__ import annotations

import logging
import re

from companion_bot.settings import Settings

_TOKEN_SHAPE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    """Replace anything shaped like a bot token (and the configured token) in log records."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [secret for secret in (secrets or []) if secret]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return _TOKEN_SHAPE.sub("<token>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are formatted later: format now, redact, and keep the text only.
            formatter = logging.Formatter()
            redacted += "\n" + self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    secret = settings.TELEGRAM_BOT_TOKEN.get_secret_value() if settings.TELEGRAM_BOT_TOKEN else ""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens([secret]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request lines repeat every long poll: keep them out of the normal log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
