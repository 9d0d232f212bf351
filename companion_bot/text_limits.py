"""How long a message may be, on every channel the bot speaks: 4096 characters for a message,
1024 for a media caption (Telegram counts them after entities are parsed, in UTF-16 code units,
where an emoji may count twice; WhatsApp's limits are the same numbers, counted no stricter).
Longer text is refused with an error, so whatever may grow past them is split first."""

from __future__ import annotations

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def message_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fitting(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int, first_limit: int | None = None) -> list[str]:
    """Plain text in pieces that fit (the first one in `first_limit` when given), cut after
    a line break or a space when there is one in the second half of a piece."""
    pieces: list[str] = []
    rest = text
    budget = limit if first_limit is None else first_limit
    while message_length(rest) > budget:
        cut = max(_fitting(rest, budget), 1)
        space = max(rest.rfind("\n", 0, cut), rest.rfind(" ", 0, cut))
        if space >= cut // 2:
            cut = space + 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
        budget = limit
    pieces.append(rest)
    return pieces


def split_lines(html: str, limit: int = TEXT_LIMIT) -> list[str]:
    """HTML text in messages that fit, cut between lines only (so no tag is cut); each line
    must fit. Source characters are counted, which is never less than what Telegram counts."""
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in html.split("\n"):
        length = message_length(line) + 1
        if current and size + length > limit:
            messages.append("\n".join(current).strip("\n"))
            current, size = [], 0
        current.append(line)
        size += length
    messages.append("\n".join(current).strip("\n"))
    return [message for message in messages if message]
