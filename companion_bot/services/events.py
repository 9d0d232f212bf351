"""Events: creation (shared by `/newevent` and `companion-bot event create`), the three
invitation links and what organizers see of their events."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram.helpers import create_deep_linked_url
from tortoise.transactions import in_transaction

from companion_bot.gazetteer import Gazetteer
from companion_bot.i18n import N_
from companion_bot.models import (
    ArrivalSlot,
    DepartureWave,
    Event,
    MeetingPoint,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
    Zone,
)
from companion_bot.services import lifecycle, zones
from companion_bot.services.errors import UserInputError
from companion_bot.services.people import ensure_person
from companion_bot.services.retention import DEFAULT_RETENTION_DAYS, check_retention_days
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
    """Everything needed to create an event; times in UTC."""

    name: str
    venue_name: str
    venue_lat: float
    venue_lon: float
    timezone: str
    doors_open: datetime
    closing: datetime
    charter: str
    meeting_points: list[str] = field(default_factory=list)
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
    zones: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class EventOverview:
    event: Event
    links: dict[InviteKind, str]
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


def closing_after(text: str, doors_open: datetime, timezone: str) -> datetime:
    closing = next_occurrence(parse_clock(text), doors_open + timedelta(minutes=1), timezone)
    if closing - doors_open > MAX_NIGHT:
        raise UserInputError(N_("The closing must come less than 24 hours after doors open."))
    return closing


def parse_meeting_points(text: str) -> list[str]:
    names = [
        clean_name(line, limit=120) for line in re.split(r"[\n;]+", text or "") if line.strip()
    ]
    if not names:
        raise UserInputError(N_("Please give at least one meeting point."))
    if len(names) > MAX_LIST_ITEMS:
        raise UserInputError(N_("{limit} items at most, please."), limit=MAX_LIST_ITEMS)
    if len({name.casefold() for name in names}) != len(names):
        raise UserInputError(N_("Two meeting points have the same name."))
    return names


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
    text: str, doors_open: datetime, closing: datetime, timezone: str, meeting_points: list[str]
) -> list[tuple[datetime, int]]:
    """ "03:00, 06:00 @ Back door" → waves; a wave names its meeting point after "@"."""
    waves = []
    lowered = [name.casefold() for name in meeting_points]
    for item in _split_items(text):
        clock_text, _, point_text = item.partition("@")
        departs = next_occurrence(parse_clock(clock_text), doors_open, timezone)
        if departs > closing + timedelta(hours=6):
            raise UserInputError(
                N_("The departure at {time} comes long after closing."), time=clock_text.strip()
            )
        point = 0
        if point_text.strip():
            if point_text.strip().casefold() not in lowered:
                raise UserInputError(
                    N_("“{name}” is not one of the meeting points: {points}."),
                    name=point_text.strip(),
                    points=", ".join(meeting_points),
                )
            point = lowered.index(point_text.strip().casefold())
        waves.append((departs, point))
    if len({when for when, _ in waves}) != len(waves):
        raise UserInputError(N_("Two departures are at the same time."))
    return sorted(waves)


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
            name=spec.name,
            venue_name=spec.venue_name,
            venue_lat=spec.venue_lat,
            venue_lon=spec.venue_lon,
            timezone=spec.timezone,
            doors_open=spec.doors_open,
            closing=spec.closing,
            charter=spec.charter,
            min_group_size=spec.min_group_size,
            preferred_min_size=spec.preferred_min_size,
            preferred_max_size=spec.preferred_max_size,
            max_group_size=spec.max_group_size,
            retention_days=spec.retention_days,
            attendee_code=_new_code(),
            volunteer_code=_new_code(),
            organizer_code=_new_code(),
            created_by=creator,
        )
        points = [
            await MeetingPoint.create(event=event, position=position, name=name)
            for position, name in enumerate(spec.meeting_points)
        ]
        for start, end, point in spec.arrival_slots:
            await ArrivalSlot.create(
                event=event, starts_at=start, ends_at=end, meeting_point=points[point]
            )
        for departs, point in spec.departure_waves:
            await DepartureWave.create(event=event, departs_at=departs, meeting_point=points[point])
        for name, lat, lon in spec.zones:
            await Zone.create(event=event, name=name, lat=lat, lon=lon)
        if creator is not None:
            await Role.create(event=event, person=creator, kind=RoleKind.ORGANIZER)
        await lifecycle.schedule_event(event)
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


def event_links(event: Event, bot_username: str) -> dict[InviteKind, str]:
    return {
        InviteKind.ATTENDEE: create_deep_linked_url(bot_username, event.attendee_code),
        InviteKind.VOLUNTEER: create_deep_linked_url(bot_username, event.volunteer_code),
        InviteKind.ORGANIZER: create_deep_linked_url(bot_username, event.organizer_code),
    }


async def get_event(event_id: int) -> Event | None:
    return await Event.get_or_none(id=event_id).prefetch_related(
        "meeting_points", "arrival_slots", "departure_waves"
    )


async def organizer_overview(telegram_id: int, bot_username: str) -> list[EventOverview]:
    """The events she organizes, newest first, with links and sign-up counts."""
    events = (
        await Event.filter(roles__person__telegram_id=telegram_id, roles__kind=RoleKind.ORGANIZER)
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
                links=event_links(event, bot_username),
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


def build_spec(
    *,
    name: str,
    venue_name: str,
    venue: VenueLocation,
    timezone: str,
    doors_open: str,
    closing: str,
    meeting_points: list[str],
    arrival_slots: list[str] | None,
    departures: list[str] | None,
    group_sizes: str,
    charter: str,
    now: datetime,
    zone_arguments: list[str] | None = None,
) -> EventSpec:
    """An event from the texts an organizer types (the command line's arguments)."""
    timezone = check_timezone(timezone)
    opens = parse_local_datetime(doors_open, timezone, now)
    closes = closing_after(closing, opens, timezone)
    points = parse_meeting_points("\n".join(meeting_points))
    slots = (
        parse_arrival_slots(", ".join(arrival_slots), opens, closes, timezone)
        if arrival_slots
        else default_arrival_slots(opens, closes)
    )
    waves = (
        parse_departure_waves(", ".join(departures), opens, closes, timezone, points)
        if departures
        else [(closes, 0)]
    )
    minimum, preferred_min, preferred_max, maximum = parse_group_sizes(group_sizes)
    return EventSpec(
        name=clean_name(name),
        venue_name=clean_name(venue_name, empty=EMPTY_VENUE_NAME),
        venue_lat=venue.lat,
        venue_lon=venue.lon,
        timezone=timezone,
        doors_open=opens,
        closing=closes,
        charter=charter.strip(),
        meeting_points=points,
        arrival_slots=slots,
        departure_waves=waves,
        min_group_size=minimum,
        preferred_min_size=preferred_min,
        preferred_max_size=preferred_max,
        max_group_size=maximum,
        zones=zones.parse_arguments(zone_arguments or [], (venue.lat, venue.lon)),
    )
