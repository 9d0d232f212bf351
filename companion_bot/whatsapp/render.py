"""Notices to WhatsApp message bodies: what the core wants said, in what WhatsApp can show.

The notice contract (the core produces these; JSON-able dicts):

    {"kind": "text",
     "text": <Telegram-HTML: <b> <i> <u> <s> <code> <pre> <a href="…">, &amp; &lt; &gt;>,
     "choices": [[[label, action], …], …],   # rows of buttons; optional
     "ask_location": bool}                  # optional
    {"kind": "location", "latitude": float, "longitude": float}   # name, address optional
    {"kind": "photo", "link": url, "caption": <html>}              # caption optional
    {"kind": "photo" | "voice" | "document", "id": media_id,       # an uploaded file
     "caption": <html>, "filename": str}                           # both optional
    {"kind": "template", "name": str, "language": str, "params": [str, …]}

`action` is unsigned action data (at most 50 characters, no "~"); each button carries it
signed for the recipient (`companion_bot.signing`, for her address "whatsapp:<wa_id>"), and
`parse_choice` gives it back only if the signature is hers: a forged id, or one tapped by
someone else, gives None.

How: the text is converted (`formatting.to_whatsapp`). 1 to 3 choices are reply buttons
(titles of 20 characters at most: when a label is longer, a list instead, whose rows show
it whole), 4 to 10 a list (rows of 24, the whole label in the row's
description when cut), more than 10 several lists. WhatsApp has no rows of buttons, so rows
are read in order. An interactive message's body holds 1024 characters: a longer text goes
first on its own (in parts of 4096), then the buttons with a short line. `ask_location`
adds a location request (WhatsApp's "Send location" button). WhatsApp cannot edit a sent
message, so a notice that replaces another is simply sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from companion_bot import signing
from companion_bot.i18n import N_, translator
from companion_bot.whatsapp import address
from companion_bot.whatsapp.formatting import (
    distinct_titles,
    shorten,
    split_text,
    to_whatsapp,
    width,
)
from companion_bot.whatsapp.words import spoken_commands

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # interactive bodies, captions
BUTTON_TITLE = 20
MAX_BUTTONS = 3
ROW_TITLE = 24
ROW_DESCRIPTION = 72
MAX_ROWS = 10
LIST_BUTTON = 20
# A row's id holds 200 characters (a button's 256): the action and its signature.
MAX_ACTION = 200 - len(signing.SEPARATOR) - signing.MAC_LENGTH

CHOOSE = N_("Choose")
CHOOSE_BELOW = N_("Choose below.")
MORE_CHOICES = N_("More choices")
SEND_LOCATION = N_("Tap below to send your location.")

Body = dict[str, Any]
# Notice kinds of files, and WhatsApp's message type for each.
MEDIA_TYPES = {"photo": "image", "voice": "audio", "document": "document"}


def _message(to: str, kind: str, content: Body) -> Body:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: content,
    }


def _texts(to: str, text: str) -> list[Body]:
    return [_message(to, "text", {"body": part}) for part in split_text(text, TEXT_LIMIT)]


def _interactive(to: str, content: Body) -> Body:
    return _message(to, "interactive", content)


def choice_id(wa_id: str, action: str, secret: bytes | None = None) -> str:
    return signing.sign(address(wa_id), action, secret, max_data=MAX_ACTION)


def parse_choice(wa_id: str, reply_id: str | None, secret: bytes | None = None) -> str | None:
    """The action of a button or row she tapped, if its signature is hers; else None."""
    return signing.verify(address(wa_id), reply_id, secret)


def _choices(notice: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (label, action) in reading order, each action once."""
    seen: set[str] = set()
    flat = []
    for row in notice.get("choices") or ():
        for label, action in row:
            if action not in seen:
                seen.add(action)
                flat.append((str(label), str(action)))
    return flat


def _fits(label: str, limit: int) -> bool:
    return width(" ".join(label.split())) <= limit


def _buttons(to: str, body: str, choices: Sequence[tuple[str, str]], secret: bytes | None) -> Body:
    titles = distinct_titles([label for label, _ in choices], BUTTON_TITLE)
    buttons = [
        {"type": "reply", "reply": {"id": choice_id(to, action, secret), "title": title}}
        for title, (_, action) in zip(titles, choices, strict=True)
    ]
    return _interactive(
        to, {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}
    )


def _lists(
    to: str,
    body: str,
    choices: Sequence[tuple[str, str]],
    language: str,
    secret: bytes | None,
) -> list[Body]:
    t = translator(language)
    label = shorten(t.gettext(CHOOSE), LIST_BUTTON)
    titles = distinct_titles([label for label, _ in choices], ROW_TITLE)
    rows = []
    for title, (full, action) in zip(titles, choices, strict=True):
        row = {"id": choice_id(to, action, secret), "title": title}
        if title != " ".join(full.split()):
            row["description"] = shorten(full, ROW_DESCRIPTION)
        rows.append(row)
    lists = []
    for start in range(0, len(rows), MAX_ROWS):
        lists.append(
            _interactive(
                to,
                {
                    "type": "list",
                    "body": {"text": body if start == 0 else t.gettext(MORE_CHOICES)},
                    "action": {
                        "button": label,
                        "sections": [{"rows": rows[start : start + MAX_ROWS]}],
                    },
                },
            )
        )
    return lists


def _render_text(
    notice: Mapping[str, Any], to: str, language: str, secret: bytes | None
) -> list[Body]:
    t = translator(language)
    text = spoken_commands(to_whatsapp(str(notice.get("text") or "")), t).strip()
    choices = _choices(notice)
    ask_location = bool(notice.get("ask_location"))
    if not choices and not ask_location:
        return _texts(to, text)
    bodies: list[Body] = []
    if not text or len(text) > BODY_LIMIT:
        bodies.extend(_texts(to, text))  # nothing when empty
        text = ""
    if ask_location:
        request = text or t.gettext(SEND_LOCATION)
        bodies.append(
            _interactive(
                to,
                {
                    "type": "location_request_message",
                    "body": {"text": request},
                    "action": {"name": "send_location"},
                },
            )
        )
        text = ""
    if choices:
        body = text or t.gettext(CHOOSE_BELOW)
        if len(choices) <= MAX_BUTTONS and all(_fits(label, BUTTON_TITLE) for label, _ in choices):
            bodies.append(_buttons(to, body, choices, secret))
        else:
            bodies.extend(_lists(to, body, choices, language, secret))
    return bodies


def _render_media(notice: Mapping[str, Any], to: str) -> list[Body]:
    """A photo, voice note or document, by its uploaded media `id` or a `link`; a caption
    too long for it (or any, for audio, which takes none) follows as text."""
    kind = MEDIA_TYPES[str(notice["kind"])]
    caption = to_whatsapp(str(notice.get("caption") or "")).strip()
    content: Body = {"id": str(notice["id"])} if notice.get("id") else {"link": str(notice["link"])}
    if kind == "document" and notice.get("filename"):
        content["filename"] = str(notice["filename"])
    if kind == "audio":  # her name first, then what she said
        return [*_texts(to, caption), _message(to, kind, content)]
    if caption and len(caption) <= BODY_LIMIT:
        content["caption"] = caption
        caption = ""
    return [_message(to, kind, content), *_texts(to, caption)]


def _param(value: object) -> str:
    """Meta refuses template parameters with new lines, tabs or 4 spaces in a row."""
    return " ".join(to_whatsapp(str(value)).split()) or "-"


def render(
    notice: Mapping[str, Any], to: str, language: str, *, secret: bytes | None = None
) -> list[Body]:
    """The Cloud API message bodies that say `notice` to `to` (her wa_id), in order.
    `language` is hers (for the few words the rendering adds); `secret` signs buttons
    (default: the key configured at start-up)."""
    kind = notice.get("kind")
    if kind == "text":
        return _render_text(notice, to, language, secret)
    if kind == "location":
        location = {
            "latitude": float(notice["latitude"]),
            "longitude": float(notice["longitude"]),
        }
        location |= {key: str(notice[key]) for key in ("name", "address") if notice.get(key)}
        return [_message(to, "location", location)]
    if kind in MEDIA_TYPES:
        return _render_media(notice, to)
    if kind == "template":
        template: Body = {"name": notice["name"], "language": {"code": notice["language"]}}
        params = [_param(value) for value in notice.get("params") or ()]
        if params:
            parameters = [{"type": "text", "text": value} for value in params]
            template["components"] = [{"type": "body", "parameters": parameters}]
        return [_message(to, "template", template)]
    raise ValueError(f"unknown notice kind: {kind!r}")
