"""The data the matching engine takes in and gives back: plain frozen dataclasses.

Nothing here knows about Telegram, the database or the clock. Times are ``datetime`` objects
(aware or naive, but consistently one or the other within a call); distances are kilometres.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Point:
    """A position in WGS84 degrees: a neighbourhood centroid, a venue, a meeting point."""

    lat: float
    lon: float


class Transport(StrEnum):
    """How an attendee travels home. See :data:`TRANSPORT_CLASS` for who can travel together."""

    WALK = "walk"
    TRANSIT = "transit"  # metro, RER, tram
    NIGHT_BUS = "night_bus"
    TAXI = "taxi"  # taxi or ride-hailing
    BIKE = "bike"
    CAR = "car"


#: Transport compatibility, as equivalence classes: two attendees may share a departure group
#: only when their modes map to the same class. The rules are deliberately conservative:
#:
#: - ``foot_and_public`` (walk, transit, night_bus): people on foot and on public transport move
#:   at the same pace through the same streets and stations; anyone can walk with her companions
#:   to a stop and ride the same metro or night bus, so they can share the start of the trip.
#: - ``taxi``: a taxi is shared only by people who chose one (sharing the fare is their choice),
#:   and holds at most 4 passengers (:data:`CLASS_MAX_SIZE`), with no "+1" exception.
#: - ``bike``: cyclists ride together; a cyclist cannot escort walkers for kilometres.
#: - ``car``: drivers who offer no seat leave together only as far as the car park: a car group
#:   has no drop-off chain (each drives her own car home) and costs only its size. A driver who
#:   *offers seats* (``Attendee.seats``) joins the ``foot_and_public`` pool of her wave instead
#:   (:func:`departure_class`): people on foot, transit or night bus heading her way may ride with
#:   her, dropped off on her way home (she is last), within ``MatchingRules.max_driver_detour``
#:   for her and ``max_detour`` for them, at most ``seats`` of them and one driver per group.
#:
#: Arrival groups are not split by transport: members meet at a meeting point near the venue.
TRANSPORT_CLASS: dict[Transport, str] = {
    Transport.WALK: "foot_and_public",
    Transport.TRANSIT: "foot_and_public",
    Transport.NIGHT_BUS: "foot_and_public",
    Transport.TAXI: "taxi",
    Transport.BIKE: "bike",
    Transport.CAR: "car",
}

#: Hard size caps per transport class (a vehicle's seats), on top of the event's maximum.
CLASS_MAX_SIZE: dict[str, int] = {"taxi": 4}

#: Classes whose cap is physical, so the "maximum + 1" rescue never applies.
CLASS_WITHOUT_OVERSIZE: frozenset[str] = frozenset({"taxi"})

#: Attendee flag: she wants a volunteer (bienveilleur·se) with her group. Carried to the group.
WANTS_VOLUNTEER = "wants_volunteer"
#: Group flag: the group exceeds the maximum size by one to keep someone from being alone.
OVERSIZE = "oversize"


def transport_class(mode: Transport) -> str:
    """The compatibility class of a transport mode (see :data:`TRANSPORT_CLASS`)."""
    return TRANSPORT_CLASS[Transport(mode)]


#: Seats a driver may offer (besides her own).
MAX_SEATS = 8


def is_driver(attendee: Attendee) -> bool:
    """A driver who offers seats to companions (she drives them home, and is dropped last).

    Without a destination she cannot take anyone her way: she is a driver like the others."""
    return (
        attendee.transport is Transport.CAR
        and attendee.seats > 0
        and attendee.destination is not None
    )


def departure_class(attendee: Attendee) -> str:
    """The departure pool an attendee belongs to: her transport class, except that a driver who
    offers seats rides with people on foot and public transport (see :data:`TRANSPORT_CLASS`)."""
    if is_driver(attendee):
        return "foot_and_public"
    return transport_class(attendee.transport)


@dataclass(frozen=True, slots=True)
class ArrivalWindow:
    """When an attendee can be at the meeting point, both ends included.

    Her preferred arrival is the middle of the window, unless ``preferred`` says otherwise.
    """

    start: datetime
    end: datetime
    preferred: datetime | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("arrival window ends before it starts")
        if self.preferred is not None and not self.start <= self.preferred <= self.end:
            raise ValueError("preferred arrival outside the window")

    @property
    def preferred_time(self) -> datetime:
        if self.preferred is not None:
            return self.preferred
        return self.start + (self.end - self.start) / 2


@dataclass(frozen=True, slots=True)
class Attendee:
    """One person coming alone, as the matching engine sees her.

    ``arrival`` is ``None`` when she wants no arrival group; ``departure_wave`` is ``None`` when
    she wants no departure group. ``destination`` is the centroid of the neighbourhood she heads
    to (never an address), ``None`` when unknown: she can then join any departure group of her
    wave and transport class at no detour cost. ``place_id`` names that neighbourhood (used for
    reporting and by the benchmark's "same neighbourhood" rule). ``avoid`` lists attendees she
    must never be grouped with (symmetric: it is enough that one of the two lists the other).
    ``seats``: a driver (``transport`` car) who can take this many companions home; 0 offers
    none (she is grouped only with other drivers, to walk to the car park together).
    """

    id: str
    arrival: ArrivalWindow | None = None
    destination: Point | None = None
    transport: Transport = Transport.TRANSIT
    departure_wave: str | None = None
    place_id: str | None = None
    flags: frozenset[str] = frozenset()
    avoid: frozenset[str] = frozenset()
    seats: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.seats <= MAX_SEATS:
            raise ValueError(f"seats must be between 0 and {MAX_SEATS}")


@dataclass(frozen=True, slots=True)
class MeetingPoint:
    """A place near the venue where a group meets (a metro exit, a kiosk, the safe space)."""

    id: str
    name: str
    point: Point


@dataclass(frozen=True, slots=True)
class ArrivalSlot:
    """An arrival slot the organizers offer (e.g. 23:00–23:30). Anchors announcement deadlines."""

    id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class DepartureWave:
    """A departure time set by the organizers; departure groups leave with a wave."""

    id: str
    time: datetime


@dataclass(frozen=True, slots=True)
class GroupSizes:
    """Group size bounds: hard ``minimum`` and ``maximum``, preferred range in between.

    A pair is allowed but fragile (one cancellation leaves someone alone), hence the default
    preference for 3–4.
    """

    minimum: int = 2
    preferred_min: int = 3
    preferred_max: int = 4
    maximum: int = 5

    def __post_init__(self) -> None:
        if not 2 <= self.minimum <= self.preferred_min <= self.preferred_max <= self.maximum:
            raise ValueError("need 2 <= minimum <= preferred_min <= preferred_max <= maximum")


@dataclass(frozen=True, slots=True)
class Event:
    """What the organizers set up: where, when, and how big groups should be."""

    venue: Point
    meeting_points: tuple[MeetingPoint, ...] = ()
    arrival_slots: tuple[ArrivalSlot, ...] = ()
    departure_waves: tuple[DepartureWave, ...] = ()
    sizes: GroupSizes = GroupSizes()

    def wave(self, wave_id: str) -> DepartureWave | None:
        return next((w for w in self.departure_waves if w.id == wave_id), None)

    def max_size(self, class_name: str | None) -> int:
        """The largest regular group for a transport class (arrival groups: ``None``)."""
        return min(self.sizes.maximum, CLASS_MAX_SIZE.get(class_name or "", self.sizes.maximum))

    def rescue_size(self, class_name: str | None) -> int:
        """The largest group allowed when it saves someone from being alone."""
        if class_name in CLASS_WITHOUT_OVERSIZE:
            return self.max_size(class_name)
        return self.max_size(class_name) + 1


class GroupKind(StrEnum):
    ARRIVAL = "arrival"
    DEPARTURE = "departure"


@dataclass(frozen=True, slots=True)
class Group:
    """A group the engine proposes, or one already announced (``locked``).

    ``members`` are in a meaningful order: by preferred arrival for an arrival group, in drop-off
    order for a departure group (the cheapest order, see
    :func:`matching.objective.drop_off_chain`; a driver who takes the others home is last; a car
    group has no drop-off order). ``meeting_time`` is the arrival meeting time, or the wave's
    time for a departure group. A locked group keeps its members and meeting time; it may only grow.
    """

    id: str
    kind: GroupKind
    members: tuple[str, ...]
    meeting_time: datetime
    meeting_point_id: str | None = None
    wave_id: str | None = None
    transport_class: str | None = None
    locked: bool = False
    flags: frozenset[str] = frozenset()

    @property
    def size(self) -> int:
        return len(self.members)


class UnplacedReason(StrEnum):
    """Why someone could not be placed in a group; shown to the volunteers."""

    NO_COMPATIBLE_COMPANION = "no_compatible_companion"  # nobody else in her wave and class
    NOBODY_HEADING_HER_WAY = "nobody_heading_her_way"  # every group would exceed the detour cap
    NO_OVERLAPPING_ARRIVAL = "no_overlapping_arrival"  # nobody can meet within her window
    ONLY_AVOIDED_COMPANIONS = "only_avoided_companions"  # the only fits are people she avoids
    GROUPS_FULL = "groups_full"  # fitting groups exist but are full
    UNKNOWN_WAVE = "unknown_wave"  # her departure wave is not (or no longer) in the event
    ARRIVAL_PASSED = "arrival_passed"  # her arrival window is over (rounds run with ``now``)


@dataclass(frozen=True, slots=True)
class Unplaced:
    """An attendee who is alone for one kind of group: the volunteers must know."""

    attendee_id: str
    kind: GroupKind
    reason: UnplacedReason


def group_id(kind: GroupKind, members: Iterable[str]) -> str:
    """A stable id for a new group, derived from its members (a round is deterministic)."""
    digest = hashlib.sha1("\x1f".join(sorted(members)).encode()).hexdigest()[:12]
    return f"{kind.value[0]}-{digest}"


# Minutes on a UTC clock: arithmetic stays right across daylight-saving changes, and a
# 5-minute grid on it is a 5-minute grid on any local clock (offsets are whole 15 minutes).
_EPOCH = datetime(2000, 1, 1)


def to_minutes(moment: datetime) -> float:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _EPOCH).total_seconds() / 60.0


def from_minutes(minutes: float, like: datetime) -> datetime:
    """Inverse of :func:`to_minutes`, in the time zone of ``like`` (naive if ``like`` is)."""
    naive = _EPOCH + timedelta(minutes=minutes)
    if like.tzinfo is None:
        return naive
    return naive.replace(tzinfo=UTC).astimezone(like.tzinfo)


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the objective (lower is better); see :mod:`matching.objective`.

    Units: ``alone`` per person left alone (per kind of group); ``arrival_gap`` per minute
    between a member's preferred arrival and her group's meeting time; ``detour`` per unit of
    detour ratio (0.2 = a trip 20 % longer than going straight home); ``solo_leg`` per kilometre
    the last member travels alone; ``pair`` per group of two; ``size_off_preferred`` per member
    below or above the preferred range; ``oversize`` per group over the maximum (a rescue).
    """

    alone: float = 100.0
    arrival_gap: float = 0.1
    detour: float = 5.0
    solo_leg: float = 1.0
    pair: float = 3.0
    size_off_preferred: float = 1.0
    oversize: float = 5.0


@dataclass(frozen=True, slots=True)
class MatchingRules:
    """Thresholds and policy knobs; the defaults suit a night out in a big city.

    - ``min_arrival_overlap``: members' arrival windows must share at least this much time.
    - ``meeting_time_step``: meeting times are rounded to this grid (23:35, not 23:37).
    - ``max_detour``: nobody's trip may be more than this ratio longer than going straight home.
    - ``max_driver_detour``: the same for a driver who takes companions home (she is last).
    - ``late_join_max_added_cost``: a late sign-up joins a group only if that adds at most this
      much to the group's cost; otherwise she waits in the pool for the next round.
    - ``min_notice``: a group closes to newcomers this long before it meets.
    - ``announce_lead_arrival`` / ``announce_lead_departure``: a group is announced at the latest
      this long before its anchor (the start of its arrival slot, or its departure wave); from
      ``announce_good_lead`` before the anchor if it is already good (preferred size, and cost
      per member at most ``good_cost_per_member``). Waiting gives better groups; announcing
      early gives people peace of mind.
    """

    weights: Weights = Weights()
    min_arrival_overlap: timedelta = timedelta(minutes=15)
    meeting_time_step: timedelta = timedelta(minutes=5)
    max_detour: float = 0.5
    max_driver_detour: float = 0.3
    late_join_max_added_cost: float = 3.0
    min_notice: timedelta = timedelta(minutes=30)
    announce_lead_arrival: timedelta = timedelta(hours=3)
    announce_lead_departure: timedelta = timedelta(hours=6)
    announce_good_lead: timedelta = timedelta(hours=24)
    good_cost_per_member: float = 1.0
