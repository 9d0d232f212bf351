"""Decoding Bot API request parameters the way Telegram does: per field.

PTB sends form fields where non-string values are JSON-encoded (`reply_markup` is a JSON
string, `chat_id` is "123") but strings are sent raw: a `text` of "123" must stay "123".
So each field is decoded by what the Bot API says it is, never by guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .models import ApiError, JSONDict, bad_request

JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "commands",
        "scope",
        "menu_button",
        "reaction",
        "media",
        "message_ids",
        "results",
        "options",
        "explanation_entities",
        "question_entities",
        "suggested_post_parameters",
    }
)
INT_FIELDS = frozenset(
    {
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "offset",
        "limit",
        "live_period",
        "heading",
        "proximity_alert_radius",
        "cache_time",
        "max_connections",
        "user_id",
        "duration",
        "width",
        "height",
        "length",
        "direct_messages_topic_id",
        "video_start_timestamp",
    }
)
FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy", "timeout"})
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "is_big",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "allow_paid_broadcast",
        "show_caption_above_media",
        "for_channels",
        "revoke_messages",
        "only_if_banned",
    }
)
# Either an integer id or an "@channelusername" string.
CHAT_ID_FIELDS = frozenset({"chat_id", "from_chat_id"})


@dataclass
class UploadedFile:
    filename: str
    content_type: str
    content: bytes


def _decode_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise bad_request(f"invalid boolean value for parameter {name}")


def _decode_number(name: str, raw: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(raw)
    except ValueError:
        # Telegram accepts "1.0" for integers; anything else is a 400.
        try:
            value = float(raw)
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None
        if kind is int and not value.is_integer():
            raise bad_request(f"invalid {name} specified") from None
        return kind(value)


def _decode_chat_id(name: str, raw: str) -> int | str:
    try:
        return int(raw)
    except ValueError:
        if raw.startswith("@"):
            return raw
        raise bad_request("chat not found") from None


def decode_field(name: str, raw: str) -> Any:
    """Turn one form value into the Bot API type of field `name`."""
    if name in JSON_FIELDS:
        try:
            return json.loads(raw)
        except ValueError:
            what = "reply keyboard markup" if name == "reply_markup" else name
            raise bad_request(f"can't parse {what} JSON object") from None
    if name in CHAT_ID_FIELDS:
        return _decode_chat_id(name, raw)
    if name in INT_FIELDS:
        return _decode_number(name, raw, int)
    if name in FLOAT_FIELDS:
        return _decode_number(name, raw, float)
    if name in BOOL_FIELDS:
        return _decode_bool(name, raw)
    return raw


def _normalise_typed(name: str, value: Any) -> Any:
    """A JSON body already carries types; only re-decode values given as strings."""
    if isinstance(value, str) and name not in JSON_FIELDS:
        return decode_field(name, value)
    return value


async def read_params(request: web.Request) -> tuple[JSONDict, dict[str, UploadedFile]]:
    """Parameters and uploaded files of a Bot API call (query string, form, multipart, JSON)."""
    params: JSONDict = {name: decode_field(name, value) for name, value in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON request body must be an object")
        params.update({name: _normalise_typed(name, value) for name, value in body.items()})
        return params, files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = UploadedFile(value.filename, value.content_type, value.file.read())
        elif isinstance(value, bytes | bytearray):
            params[name] = decode_field(name, value.decode())
        else:
            params[name] = decode_field(name, value)
    return params, files
