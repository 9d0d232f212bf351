"""Events: creation (shared by `/newevent` and `companion-bot event create`), the three
invitation links and what organizers see of their events.

The texts an organizer types (name, venue, charter, meeting points, zones) may come in
several languages (`Entrée principale | en: Main entrance`, see services/texts.py); our own
defaults (the standard charter, "Main entrance") come in every language of the bot."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from companion_bot.gazetteer import Gazetteer
from companion_bot.i18n import LANGUAGES, N_
from companion_bot.models import (
    ArrivalSlot,
    DepartureWave,
    Event,
    EventKind,
    MeetingPoint,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
    Zone,
)
from companion_bot.services import lifecycle, people, safeplace, tables, texts, zones
from companion_bot.services.errors import UserInputError
from companion_bot.services.people import Who, ensure_person
from companion_bot.services.retention import DEFAULT_RETENTION_DAYS, check_retention_days
from companion_bot.services.texts import Versions
from companion_bot.services.times import (
    next_occurrence,
    parse_clock,
    parse_clock_range,
    parse_local_datetime,
)

MAX_NIGHT = timedelta(hours=24)
MAX_GROUP_SIZE = 12
MAX_LIST_ITEMS = 12
DEFAULT_CHARTER = N_(
    "Compagnonnes de route charter:\n"
    "• I treat my companions with respect and kindness.\n"
    "• I keep what I learn about them to myself.\n"
    "• I tell my group if my plans change, and I say when I am home.\n"
    "• I go to a volunteer if anything feels wrong, for me or for someone else."
)
MAIN_ENTRANCE = N_("Main entrance")
ONLINE_VENUE = N_("Online")
ONLINE_DEPARTURES = N_(
    "An online event has no departures (nobody travels home together): leave them out."
)
# An online evening without a closing time ends with its last join slot.
ONLINE_LENGTH = timedelta(hours=3)
CHARTER_MAX = 3000


class InviteKind(StrEnum):
    ATTENDEE = "attendee"
    VOLUNTEER = "volunteer"
    ORGANIZER = "organizer"


@dataclass(frozen=True)
class Invite:
    kind: InviteKind
    event: Event


@dataclass
class EventSpec:
    """Everything needed to create an event; times in UTC. Texts are `Versions` (one per
    language); a plain string is taken as a single version."""

    name: Versions | str
    venue_name: Versions | str
    venue_lat: float
    venue_lon: float
    timezone: str
    doors_open: datetime
    closing: datetime
    charter: Versions | str
    meeting_points: list[Versions | str] = field(default_factory=list)
    # (start, end, index into meeting_points)
    arrival_slots: list[tuple[datetime, datetime, int]] = field(default_factory=list)
    # (departure time, index into meeting_points)
    departure_waves: list[tuple[datetime, int]] = field(default_factory=list)
    min_group_size: int = 2
    preferred_min_size: int = 3
    preferred_max_size: int = 4
    max_group_size: int = 5
    # Personal data is purged this many days after closing.
    retention_days: int = DEFAULT_RETENTION_DAYS
    # Organizer-defined destinations: (name, latitude, longitude).
    zones: list[tuple[Versions | str, float, float]] = field(default_factory=list)
    kind: EventKind = EventKind.IN_PERSON
    # Online and hybrid events: where attendees joining online meet (services/tables.py).
    tables: list[tables.TableSpec] = field(default_factory=list)
    # Where someone who does not feel safe finds the team (services/safeplace.py).
    safe_place: safeplace.SafePlace | None = None

    def __post_init__(self) -> None:
        self.name = Versions.of(self.name)
        self.venue_name = Versions.of(self.venue_name)
        self.charter = Versions.of(self.charter)
        self.meeting_points = [Versions.of(point) for point in self.meeting_points]
        self.zones = [(Versions.of(name), lat, lon) for name, lat, lon in self.zones]


@dataclass(frozen=True)
class EventOverview:
    event: Event
    confirmed: int
    drafts: int
    volunteers: int
    organizers: int


# -- reading what organizers type ----------------------------------------------------------


EMPTY_NAME = N_("Please write a name.")
EMPTY_VENUE_NAME = N_("Please write the venue's name.")


def clean_name(text: str | None, *, empty: str = EMPTY_NAME, limit: int = 120) -> str:
    text = re.sub(r"\s+", " ", (text or "")).strip()
    if not text:
        raise UserInputError(empty)
    if len(text) > limit:
        raise UserInputError(N_("That is too long: {limit} characters at most."), limit=limit)
    return text


def read_name(text: str | None, language: str, *, empty: str = EMPTY_NAME) -> Versions:
    """An event's or a venue's name, in one language or several (see services/texts.py)."""
    return texts.parse(text, language, lambda version: clean_name(version, empty=empty))


def clean_charter(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) < 20:
        raise UserInputError(N_("A charter needs a few sentences (20 characters at least)."))
    if len(text) > CHARTER_MAX:
        raise UserInputError(N_("That is too long: {limit} characters at most."), limit=CHARTER_MAX)
    return text


def read_charter(text: str | None, language: str) -> Versions:
    return texts.parse(text, language, clean_charter)


def standard_charter(language: str) -> Versions:
    return Versions.every_language(DEFAULT_CHARTER, language)


def default_meeting_points(language: str) -> list[Versions]:
    return [Versions.every_language(MAIN_ENTRANCE, language)]


def closing_after(text: str, doors_open: datetime, timezone: str) -> datetime:
    closing = next_occurrence(parse_clock(text), doors_open + timedelta(minutes=1), timezone)
    if closing - doors_open > MAX_NIGHT:
        raise UserInputError(N_("The closing must come less than 24 hours after doors open."))
    return closing


def parse_meeting_points(text: str, language: str) -> list[Versions]:
    """One meeting point per line (or after ";"), each in one language or several."""
    points = [read_name(line, language) for line in re.split(r"[\n;]+", text or "") if line.strip()]
    if not points:
        raise UserInputError(N_("Please give at least one meeting point."))
    if len(points) > MAX_LIST_ITEMS:
        raise UserInputError(N_("{limit} items at most, please."), limit=MAX_LIST_ITEMS)
    for index, point in enumerate(points):
        others = {name.casefold() for other in points[:index] for name in other.texts}
        if any(name.casefold() in others for name in point.texts):
            raise UserInputError(N_("Two meeting points have the same name."))
    return points


def _split_items(text: str) -> list[str]:
    items = [item.strip() for item in re.split(r"[\n,;]+", text or "") if item.strip()]
    if not items:
        raise UserInputError(N_("Please give at least one time."))
    if len(items) > MAX_LIST_ITEMS:
        raise UserInputError(N_("{limit} items at most, please."), limit=MAX_LIST_ITEMS)
    return items


def parse_arrival_slots(
    text: str, doors_open: datetime, closing: datetime, timezone: str
) -> list[tuple[datetime, datetime, int]]:
    """ "23:00-00:00, 00:00-01:00" → slots within the night, at the first meeting point."""
    slots = []
    for item in _split_items(text):
        start_clock, end_clock = parse_clock_range(item)
        start = next_occurrence(start_clock, doors_open - timedelta(hours=2), timezone)
        end = next_occurrence(end_clock, start + timedelta(minutes=1), timezone)
        if start >= closing or end - start > timedelta(hours=6):
            raise UserInputError(
                N_("The arrival slot {slot} does not fit between doors open and closing."),
                slot=item,
            )
        slots.append((start, end, 0))
    return sorted(slots)


def parse_departure_waves(
    text: str,
    doors_open: datetime,
    closing: datetime,
    timezone: str,
    meeting_points: list[Versions],
) -> list[tuple[datetime, int]]:
    """ "03:00, 06:00 @ Back door" → waves; a wave names its meeting point after "@", in any
    of the point's languages."""
    waves = []
    for item in _split_items(text):
        clock_text, _, point_text = item.partition("@")
        departs = next_occurrence(parse_clock(clock_text), doors_open, timezone)
        if departs > closing + timedelta(hours=6):
            raise UserInputError(
                N_("The departure at {time} comes long after closing."), time=clock_text.strip()
            )
        point = 0
        if point_text.strip():
            point = _point_named(point_text.strip(), meeting_points)
        waves.append((departs, point))
    if len({when for when, _ in waves}) != len(waves):
        raise UserInputError(N_("Two departures are at the same time."))
    return sorted(waves)


def _point_named(name: str, meeting_points: list[Versions]) -> int:
    for index, point in enumerate(meeting_points):
        if name.casefold() in (text.casefold() for text in point.texts):
            return index
    raise UserInputError(
        N_("“{name}” is not one of the meeting points: {points}."),
        name=name,
        points=", ".join(point.first for point in meeting_points),
    )


def parse_group_sizes(text: str) -> tuple[int, int, int, int]:
    """ "2 3-4 5" → (minimum, preferred from, preferred to, maximum)."""
    numbers = [int(n) for n in re.findall(r"\d+", text or "")]
    if len(numbers) == 3:
        numbers = [numbers[0], numbers[1], numbers[1], numbers[2]]
    if len(numbers) != 4 or not (
        2 <= numbers[0] <= numbers[1] <= numbers[2] <= numbers[3] <= MAX_GROUP_SIZE
    ):
        raise UserInputError(
            N_(
                "Group sizes go: minimum, preferred range, maximum, like “2 3-4 5”, "
                "between 2 and {limit}."
            ),
            limit=MAX_GROUP_SIZE,
        )
    return numbers[0], numbers[1], numbers[2], numbers[3]


def default_arrival_slots(
    doors_open: datetime, closing: datetime
) -> list[tuple[datetime, datetime, int]]:
    """Three one-hour slots from doors open (fewer if the night is short)."""
    slots = []
    start = doors_open
    while len(slots) < 3 and start + timedelta(hours=1) <= closing:
        slots.append((start, start + timedelta(hours=1), 0))
        start += timedelta(hours=1)
    return slots or [(doors_open, closing, 0)]


def check_spec(spec: EventSpec) -> None:
    if spec.kind == EventKind.ONLINE and spec.departure_waves:
        raise UserInputError(ONLINE_DEPARTURES)
    if spec.kind == EventKind.IN_PERSON and spec.tables:
        raise UserInputError(N_("Tables are for online and hybrid events (--kind online)."))
    if spec.kind != EventKind.IN_PERSON and not spec.tables:
        raise UserInputError(N_("An online event needs at least one table."))
    if not spec.arrival_slots and spec.kind != EventKind.IN_PERSON:
        raise UserInputError(N_("Please give at least one time."))
    if not (spec.doors_open < spec.closing <= spec.doors_open + MAX_NIGHT):
        raise UserInputError(N_("The closing must come less than 24 hours after doors open."))
    if not (-90 <= spec.venue_lat <= 90 and -180 <= spec.venue_lon <= 180):
        raise UserInputError(N_("The venue's coordinates are not valid."))
    if not spec.meeting_points:
        raise UserInputError(N_("Please give at least one meeting point."))
    indexes = [i for *_, i in spec.arrival_slots] + [i for _, i in spec.departure_waves]
    if any(not 0 <= i < len(spec.meeting_points) for i in indexes):
        raise UserInputError(N_("A slot or a departure refers to an unknown meeting point."))
    sizes = (
        spec.min_group_size,
        spec.preferred_min_size,
        spec.preferred_max_size,
        spec.max_group_size,
    )
    parse_group_sizes(" ".join(str(s) for s in sizes))
    check_retention_days(spec.retention_days)
    zones.check_list(spec.zones)


# -- storing and finding events --------------------------------------------------------------


def _new_code() -> str:
    # 64 random bits: links cannot be guessed; deep-link payloads allow [A-Za-z0-9_-].
    return secrets.token_urlsafe(8)


async def create_event(spec: EventSpec, creator_telegram_id: int | None = None) -> Event:
    check_spec(spec)
    async with in_transaction():
        creator = None
        if creator_telegram_id is not None:
            creator = await ensure_person(creator_telegram_id)
        event = await Event.create(
            kind=spec.kind,
            name=spec.name.first,
            venue_name=spec.venue_name.first,
            venue_lat=spec.venue_lat,
            venue_lon=spec.venue_lon,
            timezone=spec.timezone,
            doors_open=spec.doors_open,
            closing=spec.closing,
            charter=spec.charter.first,
            translations=texts.stored(
                name=spec.name, venue_name=spec.venue_name, charter=spec.charter
            ),
            min_group_size=spec.min_group_size,
            preferred_min_size=spec.preferred_min_size,
            preferred_max_size=spec.preferred_max_size,
            max_group_size=spec.max_group_size,
            retention_days=spec.retention_days,
            **safeplace.columns(spec.safe_place),
            attendee_code=_new_code(),
            volunteer_code=_new_code(),
            organizer_code=_new_code(),
            created_by=creator,
        )
        points = [
            await MeetingPoint.create(
                event=event,
                position=position,
                name=name.first,
                translations=texts.stored(name=name),
            )
            for position, name in enumerate(spec.meeting_points)
        ]
        for start, end, point in spec.arrival_slots:
            await ArrivalSlot.create(
                event=event, starts_at=start, ends_at=end, meeting_point=points[point]
            )
        for departs, point in spec.departure_waves:
            await DepartureWave.create(event=event, departs_at=departs, meeting_point=points[point])
        for name, lat, lon in spec.zones:
            await Zone.create(
                event=event, name=name.first, translations=texts.stored(name=name), lat=lat, lon=lon
            )
        await tables.store_tables(event, spec.tables)
        if creator is not None:
            await Role.create(event=event, person=creator, kind=RoleKind.ORGANIZER)
        await lifecycle.schedule_event(event)
        await tables.schedule(event)
    return event


async def resolve_invite(code: str) -> Invite | None:
    """Which event and which role a link's code opens; None for an unknown code."""
    if not code or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", code):
        return None
    for kind, column in (
        (InviteKind.ATTENDEE, "attendee_code"),
        (InviteKind.VOLUNTEER, "volunteer_code"),
        (InviteKind.ORGANIZER, "organizer_code"),
    ):
        event = await Event.get_or_none(**{column: code})
        if event is not None:
            return Invite(kind, event)
    return None


async def get_event(event_id: int) -> Event | None:
    return await Event.get_or_none(id=event_id).prefetch_related(
        "meeting_points", "arrival_slots", "departure_waves"
    )


async def organizer_overview(who: Who) -> list[EventOverview]:
    """The events she organizes, newest first, with sign-up counts."""
    events = (
        await Event.filter(**people.lookup(who, "roles__person"), roles__kind=RoleKind.ORGANIZER)
        .distinct()
        .order_by("-doors_open")
    )
    overviews = []
    for event in events:
        registrations = Registration.filter(event=event)
        roles = Role.filter(event=event)
        overviews.append(
            EventOverview(
                event=event,
                confirmed=await registrations.filter(status=RegistrationStatus.CONFIRMED).count(),
                drafts=await registrations.filter(status=RegistrationStatus.DRAFT).count(),
                volunteers=await roles.filter(kind=RoleKind.VOLUNTEER).count(),
                organizers=await roles.filter(kind=RoleKind.ORGANIZER).count(),
            )
        )
    return overviews


def wave_clock(wave_time: datetime | time) -> str:
    return wave_time.strftime("%H:%M")


# -- where the venue is ----------------------------------------------------------------------

COUNTRY_TIMEZONES = {"FR": "Europe/Paris", "BE": "Europe/Brussels"}
_COORDINATES = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*[,; ]\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class VenueLocation:
    lat: float
    lon: float
    label: str
    timezone: str | None = None


def venue_from_place_id(place_id: str) -> VenueLocation | None:
    place = Gazetteer.default().get(place_id)
    if place is None:
        return None
    return VenueLocation(place.lat, place.lon, place.name, COUNTRY_TIMEZONES.get(place.country))


def locate_venue(text: str) -> VenueLocation | tuple:
    """ "48.86, 2.37" or a neighbourhood name → where the venue is.

    Returns the location, or a tuple of gazetteer suggestions (possibly empty) to choose from.
    """
    if match := _COORDINATES.match(text or ""):
        lat, lon = float(match.group(1)), float(match.group(2))
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return VenueLocation(lat, lon, f"{lat:.5f}, {lon:.5f}")
    found = Gazetteer.default().lookup(text or "")
    if found.match is not None:
        return VenueLocation(
            found.match.lat,
            found.match.lon,
            found.match.name,
            COUNTRY_TIMEZONES.get(found.match.country),
        )
    return found.suggestions


def check_timezone(text: str) -> str:
    name = (text or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            N_("“{text}” is not a time zone I know. Write it like Europe/Paris."), text=name[:40]
        ) from None
    return name


def online_venue(language: str) -> Versions:
    return Versions.every_language(ONLINE_VENUE, language)


def one_slot(doors_open: datetime, closing: datetime) -> list[tuple[datetime, datetime, int]]:
    """The quick preset's single arrival slot: the first hour (less if the night is short)."""
    return [(doors_open, min(doors_open + timedelta(hours=1), closing), 0)]


def build_spec(
    *,
    name: str,
    venue_name: str | None,
    venue: VenueLocation | None,
    timezone: str,
    doors_open: str,
    closing: str | None,
    meeting_points: list[str] | None,
    arrival_slots: list[str] | None,
    departures: list[str] | None,
    group_sizes: str,
    charter: str | None,
    now: datetime,
    zone_arguments: list[str] | None = None,
    language: str = LANGUAGES[0],
    kind: EventKind = EventKind.IN_PERSON,
    table_arguments: list[str] | None = None,
    small: bool = False,
) -> EventSpec:
    """An event from the texts an organizer types (the command line's arguments); texts
    without their language code are in `language`. No meeting point: "Main entrance"; no
    charter: the standard one (both in every language). Online: no venue, no closing (the
    last join slot ends it), no departures. `small`: the quick preset for a small gathering,
    one arrival slot and one departure at closing."""
    timezone = check_timezone(timezone)
    opens = parse_local_datetime(doors_open, timezone, now)
    online = kind == EventKind.ONLINE
    if online and departures:
        raise UserInputError(ONLINE_DEPARTURES)
    if not online and (venue is None or not venue_name):
        raise UserInputError(N_("An event in person needs its venue: its name and where it is."))
    if not online and not closing:
        raise UserInputError(N_("What time does it close? Like 06:00."))
    closes = closing_after(closing, opens, timezone) if closing else opens + ONLINE_LENGTH
    points = (
        parse_meeting_points("\n".join(meeting_points), language)
        if meeting_points
        else default_meeting_points(language)
    )
    if arrival_slots:
        limit = closes if closing else opens + MAX_NIGHT
        slots = parse_arrival_slots(", ".join(arrival_slots), opens, limit, timezone)
        if online and not closing:
            closes = max(end for _start, end, _point in slots)
    elif small:
        slots = one_slot(opens, closes)
    else:
        slots = default_arrival_slots(opens, closes)
    if online:
        waves = []
    elif departures:
        waves = parse_departure_waves(", ".join(departures), opens, closes, timezone, points)
    else:
        waves = [(closes, 0)]
    minimum, preferred_min, preferred_max, maximum = parse_group_sizes(group_sizes)
    lat, lon = (venue.lat, venue.lon) if venue is not None and not online else (0.0, 0.0)
    return EventSpec(
        name=read_name(name, language),
        venue_name=(
            online_venue(language)
            if online
            else read_name(venue_name, language, empty=EMPTY_VENUE_NAME)
        ),
        venue_lat=lat,
        venue_lon=lon,
        timezone=timezone,
        doors_open=opens,
        closing=closes,
        charter=read_charter(charter, language) if charter else standard_charter(language),
        meeting_points=points,
        arrival_slots=slots,
        departure_waves=waves,
        min_group_size=minimum,
        preferred_min_size=preferred_min,
        preferred_max_size=preferred_max,
        max_group_size=maximum,
        zones=zones.parse_arguments(zone_arguments or [], (lat, lon), language),
        kind=kind,
        tables=tables.parse_tables(table_arguments) if table_arguments else [],
    )
