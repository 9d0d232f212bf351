"""The event's safe place: where someone who does not feel safe can go, with people of the team
(name, where it is, its hours). Given at `/newevent` or `event create --safe-place`, shown in
the charter message, in the help flow and on the organizers' board."""

from __future__ import annotations

from dataclasses import dataclass

from companion_bot.i18n import N_, Translator, escape
from companion_bot.models import Event
from companion_bot.services.errors import UserInputError

NAME_MAX, WHERE_MAX, HOURS_MAX = 120, 200, 64  # the Event columns
NONE_WORDS = {"-", "none", "no", "aucun", "aucune", "non", "geen", "nee"}

SAFE_PLACE = N_("🏠 Safe place: <b>{name}</b> — {where} ({hours}).")
HELP_ADVICE = N_(
    "If you can get there safely, come to the safe place: <b>{name}</b> — {where} ({hours}). "
    "Otherwise stay where you are: someone is coming."
)


@dataclass(frozen=True)
class SafePlace:
    name: str
    where: str
    hours: str

    def to_json(self) -> list[str]:
        return [self.name, self.where, self.hours]


def parse(text: str) -> SafePlace | None:
    """ "Name; where; hours" (all three), or a "none" word for no safe place."""
    text = " ".join((text or "").split())
    if text.lower() in NONE_WORDS:
        return None
    parts = [part.strip() for part in text.split(";")]
    if len(parts) != 3 or not all(parts):
        raise UserInputError(
            N_(
                "Give its name, where it is and its hours, separated by semicolons, like: "
                "Welcome tent; behind the bar, left of the stage; 23:00–06:00."
            )
        )
    name, where, hours = parts
    for value, limit in ((name, NAME_MAX), (where, WHERE_MAX), (hours, HOURS_MAX)):
        if len(value) > limit:
            raise UserInputError(N_("That is too long: {limit} characters at most."), limit=limit)
    return SafePlace(name, where, hours)


def of(event: Event) -> SafePlace | None:
    if not event.safe_place_name:
        return None
    where, hours = event.safe_place_where or "", event.safe_place_hours or ""
    return SafePlace(event.safe_place_name, where, hours)


def columns(place: SafePlace | None) -> dict[str, str | None]:
    """The Event columns of a safe place (all None for none)."""
    return {
        "safe_place_name": place.name if place else None,
        "safe_place_where": place.where if place else None,
        "safe_place_hours": place.hours if place else None,
    }


def _format(t: Translator, template: str, place: SafePlace) -> str:
    return t.gettext(template).format(
        name=escape(place.name), where=escape(place.where), hours=escape(place.hours)
    )


def line(t: Translator, event: Event) -> str | None:
    """ "🏠 Safe place: …" for the charter message and the board; None without one."""
    place = of(event)
    return _format(t, SAFE_PLACE, place) if place else None


def help_advice(t: Translator, event: Event) -> str | None:
    """What she hears once her help alert is sent; None without a safe place."""
    place = of(event)
    return _format(t, HELP_ADVICE, place) if place else None
