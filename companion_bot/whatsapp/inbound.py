"""What someone sent on WhatsApp, as the conversation reads it: words, a tapped choice (its
action, once its signature proved the button was made for her), a location, or something
else: a photo, a voice note or a document carries its file (`media`, in the relay's terms:
Meta's media id, which the edge that sends it on fetches), a sticker, a video or a contact
nothing. Read from the message the webhook stored (companion_bot/whatsapp/webhook.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from companion_bot import notices
from companion_bot.models import Channel
from companion_bot.whatsapp.render import parse_choice

TEXT = "text"
CHOICE = "choice"
LOCATION = "location"
OTHER = "other"  # media, stickers, reactions, contacts…
# WhatsApp's message types whose file can be relayed, as the relay names them.
RELAYED_TYPES = {
    "image": notices.MEDIA_PHOTO,
    "audio": notices.MEDIA_VOICE,
    "document": notices.MEDIA_DOCUMENT,
}


@dataclass(frozen=True)
class Inbound:
    wa_id: str
    kind: str
    text: str | None = None
    action: str | None = None  # a tapped choice, verified; None with `forged`
    forged: bool = False  # a choice that was not made for her (or is garbled)
    latitude: float | None = None
    longitude: float | None = None
    caption: str | None = None
    profile_name: str | None = None
    media: dict[str, Any] | None = None  # a file to relay (`notices.media`)


def read(payload: dict[str, Any]) -> Inbound:
    message = payload.get("message") or {}
    wa_id = str(message.get("from") or "")
    name = payload.get("name") if isinstance(payload.get("name"), str) else None
    kind = message.get("type")
    if kind == "text":
        body = (message.get("text") or {}).get("body")
        return Inbound(wa_id, TEXT, text=str(body or ""), profile_name=name)
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        action = parse_choice(wa_id, reply.get("id") if isinstance(reply, dict) else None)
        return Inbound(wa_id, CHOICE, action=action, forged=action is None, profile_name=name)
    if kind == "button":  # a template's quick reply: what it says, as words
        text = (message.get("button") or {}).get("text")
        return Inbound(wa_id, TEXT, text=str(text or ""), profile_name=name)
    if kind == "location":
        where = message.get("location") or {}
        try:
            latitude, longitude = float(where["latitude"]), float(where["longitude"])
        except (KeyError, TypeError, ValueError):
            return Inbound(wa_id, OTHER, profile_name=name)
        return Inbound(wa_id, LOCATION, latitude=latitude, longitude=longitude, profile_name=name)
    content = message.get(kind) if isinstance(kind, str) else None
    if not isinstance(content, dict):
        return Inbound(wa_id, OTHER, profile_name=name)
    caption = content.get("caption") if isinstance(content.get("caption"), str) else None
    media = None
    if kind in RELAYED_TYPES and isinstance(content.get("id"), str) and content["id"]:
        media = notices.media(
            Channel.WHATSAPP, RELAYED_TYPES[kind], content["id"],
            mime_type=_string(content.get("mime_type")), filename=_string(content.get("filename")),
        )  # fmt: skip
    return Inbound(wa_id, OTHER, caption=caption, profile_name=name, media=media)


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None
