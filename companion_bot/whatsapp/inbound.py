"""What someone sent on WhatsApp, as the conversation reads it: words, a tapped choice (its
action, once its signature proved the button was made for her), a location, or something
else (a photo, a sticker, a voice note…). Read from the message the webhook stored
(companion_bot/whatsapp/webhook.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from companion_bot.whatsapp.render import parse_choice

TEXT = "text"
CHOICE = "choice"
LOCATION = "location"
OTHER = "other"  # media, stickers, reactions, contacts…


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
    media = message.get(kind) if isinstance(kind, str) else None
    caption = media.get("caption") if isinstance(media, dict) else None
    return Inbound(wa_id, OTHER, caption=caption, profile_name=name)
