"""Roles per event (organizer, volunteer) and the bot admins who may create events."""

from __future__ import annotations

from companion_bot.i18n import N_
from companion_bot.models import Event, Role, RoleKind
from companion_bot.services import people
from companion_bot.services.errors import UserInputError
from companion_bot.services.people import Who, ensure_person
from companion_bot.settings import Settings


def is_admin(settings: Settings, telegram_id: int) -> bool:
    return telegram_id in settings.COMPANION_ADMINS


async def grant(who: Who, event: Event, kind: RoleKind) -> bool:
    """Give her the role at this event; False when she already had it."""
    person = await ensure_person(who)
    _, created = await Role.get_or_create(event=event, person=person, kind=kind)
    return created


class NotOrganizer(UserInputError):
    def __init__(self) -> None:
        super().__init__(N_("Only this event's organizers can do this."))


async def require_organizer(who: Who, event_id: int) -> Event:
    """The event, when she is one of its organizers (checked on every organizer action)."""
    event = await Event.get_or_none(
        id=event_id, **people.lookup(who, "roles__person"), roles__kind=RoleKind.ORGANIZER
    )
    if event is None:
        raise NotOrganizer()
    return event


async def has_role(who: Who, event_id: int, kind: RoleKind) -> bool:
    return await Role.filter(event_id=event_id, **people.lookup(who, "person"), kind=kind).exists()


async def volunteer_events(who: Who) -> list[Event]:
    return (
        await Event.filter(**people.lookup(who, "roles__person"), roles__kind=RoleKind.VOLUNTEER)
        .distinct()
        .order_by("-doors_open")
    )
