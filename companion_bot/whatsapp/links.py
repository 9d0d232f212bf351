"""An event's attendee link on WhatsApp: `https://wa.me/<number>?text=<code>` opens a chat
with the bot's number with the event's code typed in her box; sending it starts her sign-up
(companion_bot/whatsapp/conversation.py). Volunteers and organizers join on Telegram."""

from __future__ import annotations

from urllib.parse import quote

from companion_bot.models import Event


def attendee_link(number: str, event: Event) -> str:
    return f"https://wa.me/{number}?text={quote(event.attendee_code)}"
