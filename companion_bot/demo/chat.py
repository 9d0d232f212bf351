"""A chat as the demo page shows it: the emulator's messages turned into plain JSON.

Text is never turned into HTML here: it is cut into segments (text plus its styles, from the
Bot API entities, or from WhatsApp's *bold* _italic_ ~strike~) that the page puts into the
DOM as text, so whatever people type stays text. Links to the bot itself
(`t.me/<bot>?start=<code>`) become "open as this persona"; the event's WhatsApp link
(`wa.me/<number>?text=<code>`) "open in the WhatsApp persona's chat"; links to the demo's
own live board open it (a path on the page's server, in a new tab). Other links stay text:
nothing in the demo leads elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from companion_bot.emulator import EmulatedUser, StoredMessage

JSON = dict[str, Any]
# What the page's sticker button sends, on either channel.
STICKER = "🦄"
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


@dataclass(frozen=True)
class Links:
    """The links the page opens itself: the bot's deep links (`start`: group 1 is the
    payload), its WhatsApp link (`whatsapp`: group 1 is the text it types) and the demo's own
    live board (`board`: group 1 is the path)."""

    start: re.Pattern[str] | None = None
    board: re.Pattern[str] | None = None
    whatsapp: re.Pattern[str] | None = None

    def _patterns(self) -> tuple[tuple[str, re.Pattern[str] | None], ...]:
        return (("start", self.start), ("href", self.board), ("wa", self.whatsapp))

    def action(self, url: str) -> JSON:
        """{"start": payload}, {"href": path}, {"wa": text}, or {} for a link that stays
        text."""
        for key, pattern in self._patterns():
            match = pattern.fullmatch(url) if pattern else None
            if match:
                return {key: match.group(1)}
        return {}

    def find(self, text: str) -> list[tuple[int, int, JSON]]:
        """(start, end, action) of each link written out in `text`, in order."""
        found = []
        for key, pattern in self._patterns():
            if pattern is not None:
                found += [(m.start(), m.end(), {key: m.group(1)}) for m in pattern.finditer(text)]
        found.sort(key=lambda item: item[0])
        kept: list[tuple[int, int, JSON]] = []
        for item in found:
            if not kept or item[0] >= kept[-1][1]:
                kept.append(item)
        return kept


def segments(text: str, entities: list[JSON], links: Links | None) -> list[JSON]:
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
                    if links is not None:
                        piece.update(links.action(entity.get("url", "")))
        pieces.extend(_split_links(piece, links))
    return pieces


def _split_links(piece: JSON, links: Links | None) -> list[JSON]:
    """Links written out inside a piece become pieces of their own."""
    if links is None or any(key in piece for key in ("start", "href", "wa")):
        return [piece]
    out: list[JSON] = []
    position = 0
    text = piece["t"]
    for start, end, action in links.find(text):
        if start > position:
            out.append(piece | {"t": text[position:start]})
        out.append(piece | {"t": text[start:end], "u": True} | action)
        position = end
    if position < len(text):
        out.append(piece | {"t": text[position:]})
    return out or [piece]


def start_link_pattern(bot_username: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?:https?://)?t\.me/{re.escape(bot_username)}\?start=([A-Za-z0-9_-]{{1,64}})"
    )


def whatsapp_link_pattern(number: str) -> re.Pattern[str]:
    """The event's attendee link on WhatsApp (companion_bot/whatsapp/links.py)."""
    return re.compile(rf"(?:https?://)?wa\.me/{re.escape(number)}\?text=([A-Za-z0-9_-]{{1,64}})")


# WhatsApp's formatting (companion_bot/whatsapp/formatting.py writes it): a marker, text
# that neither starts nor ends with a space, the same marker, not inside a word.
WHATSAPP_MARKUP = re.compile(r"(?<![\w*_~])([*_~])(?=\S)(.+?)(?<=\S)\1(?![\w*_~])")
WHATSAPP_STYLES = {"*": "b", "_": "i", "~": "s"}


def whatsapp_segments(text: str, links: Links | None) -> list[JSON]:
    """A WhatsApp text cut where its *bold*, _italic_ and ~strike~ begin and end, the
    markers left out, as `segments` gives."""
    pieces: list[JSON] = []
    position = 0
    for match in WHATSAPP_MARKUP.finditer(text):
        if match.start() > position:
            pieces.append({"t": text[position : match.start()]})
        pieces.append({"t": match.group(2), WHATSAPP_STYLES[match.group(1)]: True})
        position = match.end()
    if position < len(text):
        pieces.append({"t": text[position:]})
    return [part for piece in pieces for part in _split_links(piece, links)]


def board_link_pattern(base_url: str) -> re.Pattern[str]:
    """The live board's links on the demo's server (`base_url`: http://host:port)."""
    return re.compile(re.escape(base_url.rstrip("/")) + r"(/board/[A-Za-z0-9_-]{1,64})")


def message_json(message: StoredMessage, links: Links | None, shown_at: str | None) -> JSON:
    data = message.data
    item: JSON = {"id": message.message_id, "from_bot": message.from_bot, "at": shown_at}
    text = message.text_or_caption
    if text is not None:
        item["text"] = segments(text, message.entities, links)
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
                if "callback_data" in button:
                    entry["tap"] = True
                elif links is not None:
                    entry.update(links.action(button.get("url", "")))
                shown.append(entry)
                index += 1
            buttons.append(shown)
        item["buttons"] = buttons
    return item


def chat_json(
    user: EmulatedUser,
    links: Links | None,
    shown_at: Callable[[StoredMessage], str | None],
) -> JSON:
    """Her whole chat (both sides, in order, edits applied), her reply keyboard and the
    bot's latest answer to one of her taps."""
    conversation = user.conversation()
    messages = [
        message_json(message, links, shown_at(message))
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
