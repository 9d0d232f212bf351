"""Small builders and hypothesis strategies for the matching tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from matching import (
    ArrivalSlot,
    ArrivalWindow,
    Attendee,
    DepartureWave,
    Event,
    GroupSizes,
    MeetingPoint,
    Point,
    Transport,
)

DOORS = datetime(2025, 6, 14, 21, 0, tzinfo=UTC)
VENUE = Point(48.8983, 2.3707)
KM_LAT = 1 / 111.2  # degrees of latitude per km


def north(km: float, east: float = 0.0) -> Point:
    """A point ``km`` north and ``east`` km east of the venue."""
    return Point(VENUE.lat + km * KM_LAT, VENUE.lon + east * KM_LAT / 0.6577)


def window(start_min: int, end_min: int) -> ArrivalWindow:
    return ArrivalWindow(DOORS + timedelta(minutes=start_min), DOORS + timedelta(minutes=end_min))


DEFAULT_SIZES = GroupSizes()


def make_event(sizes: GroupSizes = DEFAULT_SIZES, waves: int = 2) -> Event:
    return Event(
        venue=VENUE,
        meeting_points=(
            MeetingPoint("north", "North exit", north(0.3)),
            MeetingPoint("south", "South exit", north(-0.3)),
        ),
        arrival_slots=tuple(
            ArrivalSlot(
                f"s{i}", DOORS + timedelta(minutes=30 * i), DOORS + timedelta(minutes=30 * (i + 1))
            )
            for i in range(6)
        ),
        departure_waves=tuple(
            DepartureWave(f"w{i}", DOORS + timedelta(hours=4 + 2 * i)) for i in range(waves)
        ),
        sizes=sizes,
    )


def person(
    ident: str,
    *,
    arrival=None,
    home=None,
    mode=Transport.TRANSIT,
    wave="w0",
    avoid=(),
    flags=(),
    seats=0,
) -> Attendee:
    return Attendee(
        ident,
        arrival,
        home,
        mode,
        wave,
        flags=frozenset(flags),
        avoid=frozenset(avoid),
        seats=seats,
    )


# A handful of neighbourhoods around the venue, so that destinations repeat as in real life.
PLACES = [
    north(2, 0),
    north(3, 0.5),
    north(6, 1),
    north(-2, 0),
    north(-4, -1),
    north(0.5, 4),
    north(1, -5),
    north(8, 8),
    north(-7, 6),
]

sizes_strategy = st.sampled_from(
    [
        GroupSizes(),
        GroupSizes(2, 2, 3, 4),
        GroupSizes(3, 3, 4, 5),
        GroupSizes(2, 3, 3, 3),
    ]
)


@st.composite
def attendee_strategy(draw, ident: str, waves: int = 2, modes=tuple(Transport)):
    """One attendee's answers: any mix of arrival window, destination, transport and wave."""
    arrival = None
    if draw(st.booleans()) or draw(st.booleans()):
        start = 5 * draw(st.integers(0, 30))
        arrival = window(start, start + 5 * draw(st.integers(3, 18)))
    home = draw(st.one_of(st.none(), st.sampled_from(PLACES)))
    mode = draw(st.sampled_from(list(modes)))
    wave = draw(st.one_of(st.none(), st.sampled_from([f"w{w}" for w in range(waves)])))
    # Drivers: some offer seats (they then ride with people on foot and public transport).
    seats = draw(st.integers(0, 3)) if mode is Transport.CAR else 0
    return person(
        ident,
        arrival=arrival,
        home=home,
        mode=mode,
        wave=wave,
        flags={"wants_volunteer"} if draw(st.booleans()) else (),
        seats=seats,
    )


@st.composite
def attendees_strategy(draw, max_size: int = 18, waves: int = 2, modes=tuple(Transport)):
    count = draw(st.integers(0, max_size))
    people = [draw(attendee_strategy(f"a{i:02d}", waves, modes)) for i in range(count)]
    if count >= 2:
        for _ in range(draw(st.integers(0, 2))):
            a, b = draw(st.integers(0, count - 1)), draw(st.integers(0, count - 1))
            if a != b:
                people[a] = replace(people[a], avoid=people[a].avoid | {people[b].id})
    return people


@st.composite
def crowded_strategy(draw, max_size: int = 14):
    """People who share groups often: two neighbourhoods, two arrival windows, one wave, so
    that some groups grow over the maximum to keep someone from being alone."""
    count = draw(st.integers(2, max_size))
    people = []
    for i in range(count):
        people.append(
            person(
                f"c{i:02d}",
                arrival=draw(st.sampled_from([None, window(0, 60), window(30, 90)])),
                home=draw(st.sampled_from([PLACES[0], PLACES[1], None])),
                mode=draw(st.sampled_from([Transport.TRANSIT, Transport.WALK, Transport.TAXI])),
                wave=draw(st.sampled_from(["w0", "w0", None])),
            )
        )
    return people


#: Sizes for crowded groups; with a minimum equal to the maximum, leftovers are rescued into
#: groups over the maximum.
crowded_sizes_strategy = st.sampled_from(
    [GroupSizes(), GroupSizes(3, 3, 3, 3), GroupSizes(2, 3, 3, 3)]
)
