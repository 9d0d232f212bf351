"""An event's invitation links on Telegram: t.me deep links that open the bot with the code of
the role they invite to (attendee, volunteer, co-organizer). Services know only the codes."""

from __future__ import annotations

from telegram.helpers import create_deep_linked_url

from companion_bot.models import Event
from companion_bot.services.events import InviteKind


def event_links(event: Event, bot_username: str) -> dict[InviteKind, str]:
    return {
        InviteKind.ATTENDEE: create_deep_linked_url(bot_username, event.attendee_code),
        InviteKind.VOLUNTEER: create_deep_linked_url(bot_username, event.volunteer_code),
        InviteKind.ORGANIZER: create_deep_linked_url(bot_username, event.organizer_code),
    }
