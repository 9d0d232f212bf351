"""Notices as Telegram Bot API calls: how the outbox worker says on Telegram what services said
in no channel's terms (companion_bot/notices.py).

Text is HTML with link previews off, like every message of this bot; choices become an
inline keyboard whose data are signed for the recipient (companion_bot/signing.py), so only
she can send them back; the help keyboard is a persistent reply keyboard. A change of a
notice is an edit of the message it became (Telegram can edit), `message_id` filled in by the
worker. A relayed file from another channel is uploaded (`upload`) once the sender has
fetched it. Rows queued before notices existed hold a Bot API call and go out as they are.
"""

from __future__ import annotations

from typing import Any

from companion_bot import notices
from companion_bot.signing import sign

PARSE_MODE = "HTML"
NO_LINK_PREVIEW = {"is_disabled": True}

METHODS = {
    notices.TEXT: "sendMessage",
    notices.LOCATION: "sendLocation",
    notices.PHOTO: "sendPhoto",
    notices.DOCUMENT: "sendDocument",
    notices.COPY: "copyMessage",
    notices.EDIT_TEXT: "editMessageText",
    notices.EDIT_CAPTION: "editMessageCaption",
    notices.EDIT_CHOICES: "editMessageReplyMarkup",
    notices.MOVE_LOCATION: "editMessageLiveLocation",
    notices.STOP_LOCATION: "stopMessageLiveLocation",
}
# A relayed file from another channel, sent as an upload: the method and its file field.
UPLOADS = {
    notices.MEDIA_PHOTO: ("sendPhoto", "photo"),
    notices.MEDIA_VOICE: ("sendVoice", "voice"),
    notices.MEDIA_DOCUMENT: ("sendDocument", "document"),
}
# Telegram's upload limits for bots: photos 10 MB, other files 50 MB.
UPLOAD_LIMITS = {
    notices.MEDIA_PHOTO: 10 * 1024 * 1024,
    notices.MEDIA_VOICE: 50 * 1024 * 1024,
    notices.MEDIA_DOCUMENT: 50 * 1024 * 1024,
}
# Fields of a notice that are not Bot API arguments.
NOTICE_ONLY = ("choices", "markup", "keyboard", "keyboard_label", "ask_location", "media")
# Kinds whose message can carry buttons (an edit without them takes them away).
WITH_BUTTONS = frozenset(
    {notices.TEXT, notices.LOCATION, notices.PHOTO, notices.DOCUMENT, notices.COPY}
    | {notices.EDIT_TEXT, notices.EDIT_CAPTION, notices.EDIT_CHOICES}
)


def render(kind: str, payload: dict[str, Any], chat_id: int) -> tuple[str, dict[str, Any]]:
    """The Bot API method and its JSON arguments (`chat_id` not included) for a notice."""
    method = METHODS.get(kind)
    if method is None:
        return kind, dict(payload)  # a call queued before notices: as it was stored
    arguments = {key: value for key, value in payload.items() if key not in NOTICE_ONLY}
    if "text" in arguments or "caption" in arguments:
        arguments.setdefault("parse_mode", PARSE_MODE)
    if "text" in arguments:
        arguments.setdefault("link_preview_options", dict(NO_LINK_PREVIEW))
    markup = reply_markup(payload, chat_id)
    if markup is not None and kind in WITH_BUTTONS:
        arguments["reply_markup"] = markup
    return method, arguments


def reply_markup(payload: dict[str, Any], chat_id: int) -> dict[str, Any] | None:
    """The keyboard a notice asks for, as Telegram's JSON (None: no keyboard)."""
    if payload.get("markup") is not None:
        return payload["markup"]
    if payload.get("choices"):
        return {
            "inline_keyboard": [
                [{"text": label, "callback_data": sign(chat_id, action)} for label, action in row]
                for row in payload["choices"]
            ]
        }
    if payload.get("keyboard") == notices.HELP_KEYBOARD:
        return {
            "keyboard": [[{"text": payload["keyboard_label"]}]],
            "resize_keyboard": True,
            "is_persistent": True,
        }
    if payload.get("keyboard") == notices.REMOVE_KEYBOARD:
        return {"remove_keyboard": True}
    return None


def upload(kind: str, payload: dict[str, Any], file: Any, chat_id: int) -> tuple[str, dict]:
    """The Bot API call that sends a relayed file (`file`: the upload) with the COPY
    notice's caption and buttons."""
    method, field = UPLOADS[kind]
    _, arguments = render(notices.COPY, payload, chat_id)
    return method, arguments | {field: file}
