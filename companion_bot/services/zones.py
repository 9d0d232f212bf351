"""Organizer-defined zones: destinations an event adds to the gazetteer's neighbourhoods (a
station, a district, the town the coach goes back to), each a name and a point.

Attendees find a zone the way they find a neighbourhood: typed with typos, or as the nearest
zone to a location pin. The lookup is the gazetteer's own code: an event's zones make a small
`Gazetteer` of their own, whose places have the id "zone:<id>". A registration heading to a
zone stores that id, and matching takes the zone's point, so people heading to one zone leave
together. Only the zone is stored, never the point of her pin.

A zone's name may come in several languages (`Gare du Nord | en: North station`, see
services/texts.py): she reads it in hers and finds it by any of them.

A zone is removed only while nobody signing up or signed up heads there; the check and the
removal, like choosing a zone, hold the zone's row (PostgreSQL), so neither slips in between.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from companion_bot.gazetteer import Gazetteer, LookupResult, Place, normalise
from companion_bot.i18n import N_
from companion_bot.models import Event, Registration, RegistrationStatus, Zone
from companion_bot.services import texts
from companion_bot.services.errors import UserInputError
from companion_bot.services.roles import require_organizer
from companion_bot.services.texts import Versions

PREFIX = "zone:"
KIND = "zone"
MAX_NAME = 64
MAX_ZONES = 30
# A location pin within this distance of a zone is taken as heading to that zone.
SNAP_KM = 3.0
MAX_SUGGESTIONS = 3
HEADING = (RegistrationStatus.DRAFT, RegistrationStatus.CONFIRMED)

EMPTY_NAME = N_("Please type the zone's name.")
NO_LETTERS = N_("A zone's name needs letters or digits, so that attendees can type it.")
DUPLICATE = N_("This event already has a zone called “{name}”.")
TOO_MANY = N_("{limit} zones at most per event.")
OFF_THE_EARTH = N_(
    "“{text}” is not a point on Earth: latitude goes from -90 to 90, longitude from -180 to 180."
)
UNKNOWN_PLACE = N_(
    "“{text}” is neither coordinates like 48.8566, 2.3522 nor a neighbourhood I know."
)
GONE = N_("This zone no longer exists.")
BAD_ARGUMENT = N_("Write a zone as Name@latitude,longitude, like “Gare du Nord@48.8809,2.3553”.")

# Two numbers with decimals: "48.8809, 2.3553", "48.8809 2.3553", "48.8809;2.3553".
_COORDINATES = re.compile(r"\s*([-+]?\d{1,3}\.\d+)\s*[,; ]\s*([-+]?\d{1,3}\.\d+)\s*")


class ZoneInUse(Exception):
    """The zone is the destination of `count` attendees: it stays."""

    def __init__(self, zone: Zone, count: int) -> None:
        super().__init__(zone.name, count)
        self.zone = zone
        self.count = count


class NotAPlace(UserInputError):
    """Typed text that names no point; `suggestions` are neighbourhoods close to it."""

    def __init__(self, text: str, suggestions: tuple[Place, ...]) -> None:
        super().__init__(UNKNOWN_PLACE, text=text[:60])
        self.suggestions = suggestions


# -- zones as places ------------------------------------------------------------------------------


def place_id(zone_id: int) -> str:
    return f"{PREFIX}{zone_id}"


def zone_id(destination: str | None) -> int | None:
    """The zone a stored destination names, or None for a gazetteer place (or nothing)."""
    if not destination or not destination.startswith(PREFIX):
        return None
    number = destination.removeprefix(PREFIX)
    return int(number) if number.isdigit() and len(number) <= 9 else None


def is_zone(destination: str | None) -> bool:
    return bool(destination) and destination.startswith(PREFIX)


def as_place(zone: Zone, language: str | None = None) -> Place:
    """A zone as a place named in `language` (else its first name), its names in the other
    languages as aliases: typed in any of them, it is found."""
    name = zone.localized("name", language) if language else zone.name
    aliases = tuple(other for other in texts.all_texts(zone, "name") if other != name)
    return Place(
        id=place_id(zone.id), name=name, kind=KIND, city="", country="",
        lat=zone.lat, lon=zone.lon, population=0, parent=None, aliases=aliases,
    )  # fmt: skip


async def places(event_id: int, language: str | None = None) -> dict[str, Place]:
    """The event's zones as places, by id: one query."""
    return {
        place.id: place
        for place in (as_place(zone, language) for zone in await Zone.filter(event_id=event_id))
    }


def resolve_in(destination: str | None, zone_places: dict[str, Place]) -> Place | None:
    """A stored destination → its place: a zone among `zone_places`, else the gazetteer's.
    None for nothing, a removed zone or an unknown id."""
    if not destination:
        return None
    if is_zone(destination):
        return zone_places.get(destination)
    return Gazetteer.default().get(destination)


async def resolve(
    destination: str | None, event_id: int, language: str | None = None
) -> Place | None:
    number = zone_id(destination)
    if number is None:
        return resolve_in(destination, {})
    zone = await Zone.get_or_none(id=number, event_id=event_id)
    return as_place(zone, language) if zone else None


def finder(zone_places: Iterable[Place]) -> Gazetteer:
    """The gazetteer's lookup and snapping, over an event's zones. No name is too vague for
    a zone: an organizer may well call one "Paris"."""
    return Gazetteer(zone_places, too_vague=frozenset())


def first_zones(in_zones: LookupResult, in_gazetteer: LookupResult) -> LookupResult:
    """One answer from the two lookups, zones first.

    A zone found with confidence wins, unless it is only close to the text while the text
    spells a neighbourhood exactly. When a zone is only a maybe, a neighbourhood found by its
    typo is a maybe too: she picks. Suggestions: zones first, three at most.
    """
    if in_zones.match and (in_zones.exact or not (in_gazetteer.match and in_gazetteer.exact)):
        return in_zones
    if in_gazetteer.match and (in_gazetteer.exact or not in_zones.suggestions):
        return in_gazetteer
    candidates = [*in_zones.suggestions, in_gazetteer.match, *in_gazetteer.suggestions]
    unique = {place.id: place for place in candidates if place is not None}
    return LookupResult(suggestions=tuple(unique.values())[:MAX_SUGGESTIONS])


async def find(text: str, event: Event, language: str | None = None) -> LookupResult:
    """Typed destination → a zone or a neighbourhood (see `first_zones`); zones named in
    `language`."""
    venue = (event.venue_lat, event.venue_lon)
    in_zones = finder((await places(event.id, language)).values()).lookup(text, near=venue)
    return first_zones(in_zones, Gazetteer.default().lookup(text, near=venue))


async def snap(lat: float, lon: float, event_id: int, language: str | None = None) -> Place | None:
    """The zone nearest a location pin, within `SNAP_KM`."""
    return finder((await places(event_id, language)).values()).nearest(lat, lon, max_km=SNAP_KM)


async def names(event_id: int, language: str) -> list[str]:
    """The event's zones, named in `language`, in alphabetical order."""
    zones = await Zone.filter(event_id=event_id)
    return sorted((zone.localized("name", language) for zone in zones), key=normalise)


async def lock_for_destination(destination: str, event_id: int) -> bool:
    """Inside a transaction: whether the zone exists, holding its row until the commit so
    that a removal waits (PostgreSQL; SQLite runs one transaction at a time anyway)."""
    number = zone_id(destination)
    if number is None:
        return False
    zone = await Zone.select_for_update().filter(id=number, event_id=event_id).only("id").first()
    return zone is not None


# -- checking what organizers give -----------------------------------------------------------------


def clean_name(text: str | None) -> str:
    # Imported here: events imports lifecycle, which leads back to groups and to this module.
    from companion_bot.services import events

    name = events.clean_name(text, empty=EMPTY_NAME, limit=MAX_NAME)
    if not normalise(name):
        raise UserInputError(NO_LETTERS)
    return name


def read_name(text: str | None, language: str) -> Versions:
    """A zone's name as typed, in one language or several; `language`: the organizer's."""
    return texts.parse(text, language, clean_name)


def check_point(lat: float, lon: float, text: str | None = None) -> tuple[float, float]:
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        lat = lon = math.nan
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise UserInputError(OFF_THE_EARTH, text=text or f"{lat}, {lon}")
    return lat, lon


def check_new(name: Versions, existing: Iterable[Iterable[str]]) -> None:
    """`name` (clean) next to the names of the event's zones (each zone's in all its
    languages): none the same once case, accents and punctuation are set aside (attendees
    could not tell them apart), and not one too many."""
    existing = [list(names) for names in existing]
    keys = {normalise(text) for text in name.texts}
    for names in existing:
        for other in names:
            if normalise(other) in keys:
                raise UserInputError(DUPLICATE, name=other)
    if len(existing) >= MAX_ZONES:
        raise UserInputError(TOO_MANY, limit=MAX_ZONES)


async def names_in_every_language(event_id: int) -> list[list[str]]:
    return [texts.all_texts(zone, "name") for zone in await Zone.filter(event_id=event_id)]


def read_point(text: str, near: tuple[float, float] | None) -> tuple[float, float]:
    """Coordinates ("48.8809, 2.3553"), or a neighbourhood of the gazetteer: its point."""
    text = (text or "").strip()
    if match := _COORDINATES.fullmatch(text):
        return check_point(float(match.group(1)), float(match.group(2)), text)
    found = Gazetteer.default().lookup(text, near=near)
    if found.match is None:
        raise NotAPlace(text, found.suggestions)
    return found.match.lat, found.match.lon


def parse_arguments(
    items: Iterable[str], near: tuple[float, float] | None, language: str
) -> list[tuple[Versions, float, float]]:
    """`--zone "Name@48.85,2.35"` (or "Name@Montreuil", or "Nom | en: Name@…") arguments →
    (name, lat, lon)."""
    zones: list[tuple[Versions, float, float]] = []
    for item in items:
        name, at, where = (item or "").rpartition("@")
        if not at or not where.strip():
            raise UserInputError(BAD_ARGUMENT)
        versions = read_name(name, language)
        check_new(versions, [other.texts for other, *_ in zones])
        zones.append((versions, *read_point(where, near)))
    return zones


def check_list(zones: list[tuple[Versions, float, float]]) -> None:
    """An event's zones before it is created (`EventSpec.zones`)."""
    seen: list[tuple[str, ...]] = []
    for name, lat, lon in zones:
        if any(clean_name(text) != text for text in name.texts):
            raise UserInputError(EMPTY_NAME)
        check_new(name, seen)
        check_point(lat, lon)
        seen.append(name.texts)


# -- organizers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoneUse:
    zone: Zone
    heading: int  # attendees signing up or signed up who head there


@dataclass(frozen=True)
class EventZones:
    event: Event
    zones: list[ZoneUse]


async def heading_to(event_id: int) -> Counter[str]:
    """How many attendees (signing up or signed up) head to each of the event's zones."""
    return Counter(
        await Registration.filter(
            event_id=event_id, status__in=HEADING, destination_place_id__startswith=PREFIX
        ).values_list("destination_place_id", flat=True)
    )


async def event_zones(telegram_id: int, event_id: int) -> EventZones:
    event = await require_organizer(telegram_id, event_id)
    zones = await Zone.filter(event_id=event.id).order_by("name", "id")
    counts = await heading_to(event.id)
    return EventZones(event, [ZoneUse(zone, counts[place_id(zone.id)]) for zone in zones])


async def check_new_name(
    telegram_id: int, event_id: int, text: str | None, language: str
) -> Versions:
    """The name she typed for a new zone (in `language` unless she says otherwise), clean,
    before she says where it is."""
    await require_organizer(telegram_id, event_id)
    name = read_name(text, language)
    check_new(name, await names_in_every_language(event_id))
    return name


async def add(
    telegram_id: int, event_id: int, name: Versions | str, lat: float, lon: float
) -> Zone:
    await require_organizer(telegram_id, event_id)
    name = Versions(
        tuple((language, clean_name(text)) for language, text in Versions.of(name).items)
    )
    lat, lon = check_point(lat, lon)
    async with in_transaction():
        # Two organizers adding look-alike names at once: the second waits, then sees it.
        await Event.select_for_update().filter(id=event_id).only("id").first()
        check_new(name, await names_in_every_language(event_id))
        try:
            return await Zone.create(
                event_id=event_id,
                name=name.first,
                translations=texts.stored(name=name),
                lat=lat,
                lon=lon,
            )
        except IntegrityError:
            raise UserInputError(DUPLICATE, name=name.first) from None


async def add_from_text(telegram_id: int, event_id: int, name: Versions, text: str) -> Zone:
    """At typed coordinates or at a neighbourhood's point; `NotAPlace` with suggestions."""
    event = await require_organizer(telegram_id, event_id)
    lat, lon = read_point(text, (event.venue_lat, event.venue_lon))
    return await add(telegram_id, event_id, name, lat, lon)


async def add_at_place(telegram_id: int, event_id: int, name: Versions, gazetteer_id: str) -> Zone:
    place = Gazetteer.default().get(gazetteer_id)
    if place is None:
        raise UserInputError(N_("This button is no longer active."))
    return await add(telegram_id, event_id, name, place.lat, place.lon)


async def remove(telegram_id: int, zone_number: int) -> Zone:
    """Remove a zone nobody heads to; `ZoneInUse` with the count otherwise. Cancelled
    registrations that named it forget it: whoever comes back is asked again."""
    zone = await Zone.get_or_none(id=zone_number)
    if zone is None:
        raise UserInputError(GONE)
    await require_organizer(telegram_id, zone.event_id)
    destination = place_id(zone.id)
    async with in_transaction():
        locked = await Zone.select_for_update().filter(id=zone.id).first()
        if locked is None:
            raise UserInputError(GONE)
        named = Registration.filter(event_id=zone.event_id, destination_place_id=destination)
        count = await named.filter(status__in=HEADING).count()
        if count:
            raise ZoneInUse(zone, count)
        await named.update(destination_place_id=None, wants_departure_group=None)
        await locked.delete()
    return zone
