"""A chat as the demo page shows it: the emulator's messages turned into plain JSON.

Text is never turned into HTML here: it is cut into segments (text plus its styles, from the
Bot API entities) that the page puts into the DOM as text, so whatever people type stays
text. Links to the bot itself (`t.me/<bot>?start=<code>`) become "open as this persona".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from companion_bot.emulator import EmulatedUser, StoredMessage

JSON = dict[str, Any]
# Entity types the page styles; others (mentions, hashtags...) show as plain text.
STYLES = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strikethrough": "s",
    "code": "code",
    "pre": "code",
    "spoiler": "spoiler",
    "blockquote": "quote",
}


def _utf16_units(text: str) -> list[str]:
    """One item per UTF-16 code unit (a character outside the BMP fills two: itself, then
    ""), so Bot API offsets index it directly."""
    units: list[str] = []
    for char in text:
        units.append(char)
        if ord(char) > 0xFFFF:
            units.append("")
    return units


def segments(text: str, entities: list[JSON], start_link: re.Pattern[str] | None) -> list[JSON]:
    """`text` cut where styles change: [{"t": "Hello ", "b": true}, ...]."""
    units = _utf16_units(text)
    cuts = {0, len(units)}
    for entity in entities:
        start = max(0, min(len(units), int(entity.get("offset", 0))))
        end = max(start, min(len(units), start + int(entity.get("length", 0))))
        cuts.update((start, end))
    bounds = sorted(cuts)
    pieces: list[JSON] = []
    for start, end in pairwise(bounds):
        piece: JSON = {"t": "".join(units[start:end])}
        if not piece["t"]:
            continue
        for entity in entities:
            offset = int(entity.get("offset", 0))
            if offset <= start and end <= offset + int(entity.get("length", 0)):
                style = STYLES.get(entity.get("type", ""))
                if style:
                    piece[style] = True
                if entity.get("type") == "text_link":
                    piece["u"] = True
                    payload = _start_payload(entity.get("url", ""), start_link)
                    if payload:
                        piece["start"] = payload
        pieces.extend(_split_start_links(piece, start_link))
    return pieces


def _start_payload(url: str, start_link: re.Pattern[str] | None) -> str | None:
    match = start_link.fullmatch(url) if start_link else None
    return match.group(1) if match else None


def _split_start_links(piece: JSON, start_link: re.Pattern[str] | None) -> list[JSON]:
    """Plain-text deep links to the bot inside a piece become pieces of their own."""
    if start_link is None or "start" in piece:
        return [piece]
    out: list[JSON] = []
    position = 0
    text = piece["t"]
    for match in start_link.finditer(text):
        if match.start() > position:
            out.append(piece | {"t": text[position : match.start()]})
        out.append(piece | {"t": match.group(0), "start": match.group(1), "u": True})
        position = match.end()
    if position < len(text):
        out.append(piece | {"t": text[position:]})
    return out or [piece]


def start_link_pattern(bot_username: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?:https?://)?t\.me/{re.escape(bot_username)}\?start=([A-Za-z0-9_-]{{1,64}})"
    )


def message_json(
    message: StoredMessage, start_link: re.Pattern[str] | None, shown_at: str | None
) -> JSON:
    data = message.data
    item: JSON = {"id": message.message_id, "from_bot": message.from_bot, "at": shown_at}
    text = message.text_or_caption
    if text is not None:
        item["text"] = segments(text, message.entities, start_link)
    if message.edited:
        item["edited"] = True
    if "location" in data:
        location = data["location"]
        item["location"] = [round(location["latitude"], 4), round(location["longitude"], 4)]
    if "sticker" in data:
        item["sticker"] = data["sticker"].get("emoji") or "🖼"
    if "photo" in data:
        item["image"] = data["photo"][-1]["file_id"]
    if "document" in data:
        item["document"] = data["document"].get("file_name") or "document"
    if "contact" in data:
        item["contact"] = True
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    if rows:
        index = 0
        buttons = []
        for row in rows:
            shown = []
            for button in row:
                entry: JSON = {"text": button.get("text", ""), "index": index}
                payload = _start_payload(button.get("url", ""), start_link)
                if "callback_data" in button:
                    entry["tap"] = True
                elif payload:
                    entry["start"] = payload
                shown.append(entry)
                index += 1
            buttons.append(shown)
        item["buttons"] = buttons
    return item


def chat_json(
    user: EmulatedUser,
    start_link: re.Pattern[str] | None,
    shown_at: Callable[[StoredMessage], str | None],
) -> JSON:
    """Her whole chat (both sides, in order, edits applied), her reply keyboard and the
    bot's latest answer to one of her taps."""
    conversation = user.conversation()
    messages = [
        message_json(message, start_link, shown_at(message))
        for message in (conversation.messages.values() if conversation else [])
        if not message.deleted
    ]
    keyboard = None
    if conversation is not None and conversation.reply_keyboard is not None:
        keyboard = [
            [
                {"text": button["text"], "location": bool(button.get("request_location"))}
                for button in row
            ]
            for row in conversation.reply_keyboard["keyboard"]
        ]
    answers = [answer for answer in user.callback_answers() if answer.answered and answer.text]
    notice = None
    if answers:
        last = answers[-1]
        notice = {"id": last.id, "text": last.text, "alert": last.show_alert}
    return {"messages": messages, "keyboard": keyboard, "notice": notice}


def find_inline_button(user: EmulatedUser, message_id: int, index: int) -> JSON | None:
    """The inline button at `index` (counted row by row) of one of the bot's messages."""
    conversation = user.conversation()
    message = conversation.get(message_id) if conversation else None
    if message is None or not message.from_bot:
        return None
    buttons = [b for row in (message.reply_markup or {}).get("inline_keyboard", []) for b in row]
    return buttons[index] if 0 <= index < len(buttons) else None
