"""The bot token never reaches the logs."""

from __future__ import annotations

import logging

from companion_bot.logging_setup import RedactTokens

TOKEN = "7000000001:AAEmulatedDefaultBotTokenForTests_xyz"


def record(message: str, *args, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("httpx", logging.INFO, __file__, 1, message, args, exc_info)


def test_request_lines_are_redacted():
    entry = record('HTTP Request: POST %s "HTTP/1.1 200 OK"',
                   f"https://api.telegram.org/bot{TOKEN}/getUpdates")  # fmt: skip
    RedactTokens([TOKEN]).filter(entry)
    assert TOKEN not in entry.getMessage()
    assert "bot<token>/getUpdates" in entry.getMessage()


def test_tracebacks_are_redacted():
    try:
        raise RuntimeError(f"cannot reach https://api.telegram.org/bot{TOKEN}/sendMessage")
    except RuntimeError as exc:
        entry = record("failed", exc_info=(type(exc), exc, exc.__traceback__))
    RedactTokens([TOKEN]).filter(entry)
    formatted = logging.Formatter().format(entry)
    assert TOKEN not in formatted
    assert "RuntimeError" in formatted


def test_token_shaped_strings_are_redacted_even_if_unknown():
    entry = record("token 123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 leaked")
    RedactTokens([]).filter(entry)
    assert "ABCDEFGHIJ" not in entry.getMessage()
