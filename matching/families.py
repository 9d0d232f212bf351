"""Hard benchmark families, from fixed seeds (``python -m matching.bench --families ...``).

Each family stresses one thing the realistic nights of :mod:`matching.instances` do not:

- ``ring``: people spread evenly around the venue, 4-8 km out, all by transit, one wave: no
  neighbourhood is shared, the partition is all geometry.
- ``taxi``: everyone by taxi (groups of at most 4, no "+1"), 3-15 km in every direction.
- ``villages``: an evening in a small town, people from 5-20 km around (a dozen villages) or
  the town itself, by bike, car (half of the drivers offer 1-3 seats) or transit; two waves.
- ``one_pool``: one transport class of one wave, 20-100 people (the seed sets the size and the
  class), Paris neighbourhoods: one pool of the size the exact solver still proves.
- ``tiny``: events of 7-15 people (the seed sets the size), Paris.
- ``suburbs``: a central venue, people heading to suburbs 8-25 km out along a few corridors, by
  transit, night bus or car (drivers offer seats).
- ``paris``: today's realistic night (:func:`matching.instances.generate`), with 40 % of the
  drivers offering 1-3 seats.

Same family, size and seed: same instance.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from matching.instances import Instance, generate, load_places
from matching.model import (
    ArrivalSlot,
    ArrivalWindow,
    Attendee,
    DepartureWave,
    Event,
    MeetingPoint,
    Point,
    Transport,
)

FAMILIES = ("ring", "taxi", "villages", "one_pool", "tiny", "suburbs", "paris")
_ZONE = ZoneInfo("Europe/Paris")
_DAY = datetime(2025, 6, 14, 23, 0, tzinfo=_ZONE)
PARIS_VENUE = Point(48.8983, 2.3707)
TOWN_VENUE = Point(47.3220, 5.0415)  # a small town's square
CENTRAL_VENUE = Point(48.8566, 2.3522)


def _event(venue: Point, waves: int) -> Event:
    slots = tuple(
        ArrivalSlot(
            f"slot-{i}", _DAY + timedelta(minutes=30 * i), _DAY + timedelta(minutes=30 * (i + 1))
        )
        for i in range(6)
    )
    times = ("01:30", "04:00", "06:00")[:waves]
    departure_waves = tuple(
        DepartureWave(
            f"wave-{i + 1}",
            _DAY.replace(hour=int(t[:2]), minute=int(t[3:])) + timedelta(days=1),
        )
        for i, t in enumerate(times)
    )
    meeting_points = (
        MeetingPoint("mp-west", "West exit", Point(venue.lat + 0.0004, venue.lon - 0.0035)),
        MeetingPoint("mp-east", "East exit", Point(venue.lat + 0.0003, venue.lon + 0.0035)),
    )
    return Event(
        venue=venue,
        meeting_points=meeting_points,
        arrival_slots=slots,
        departure_waves=departure_waves,
    )


def _arrival(rng: random.Random, event: Event) -> ArrivalWindow | None:
    if rng.random() < 0.05:
        return None
    delay = min(rng.gammavariate(2.0, 35.0), 175.0)
    if rng.random() < 0.65:
        slot = event.arrival_slots[min(int(delay // 30), len(event.arrival_slots) - 1)]
        return ArrivalWindow(slot.start, slot.end)
    width = rng.choice((30, 45, 60, 60, 90))
    centre = _DAY + timedelta(minutes=5 * round(delay / 5))
    return ArrivalWindow(
        centre - timedelta(minutes=width / 2), centre + timedelta(minutes=width / 2)
    )


def _offset(venue: Point, km: float, bearing: float) -> Point:
    lat = venue.lat + km * math.cos(bearing) / 111.2
    lon = venue.lon + km * math.sin(bearing) / (111.2 * math.cos(math.radians(venue.lat)))
    return Point(round(lat, 5), round(lon, 5))


def _seats(rng: random.Random, mode: Transport, share: float) -> int:
    if mode is Transport.CAR and rng.random() < share:
        return rng.choice((1, 2, 3))
    return 0


def _instance(name: str, n: int, seed: int, event: Event, attendees: list[Attendee]) -> Instance:
    return Instance(name, n, seed, event, tuple(attendees), "generated")


def ring(n: int, seed: int) -> Instance:
    rng = random.Random(f"ring:{n}:{seed}")
    event = _event(PARIS_VENUE, 1)
    offset = rng.uniform(0, 2 * math.pi)
    people = []
    for i in range(n):
        bearing = offset + 2 * math.pi * i / n + rng.uniform(-0.2, 0.2) * math.pi / n
        point = _offset(event.venue, rng.uniform(4.0, 8.0), bearing)
        people.append(
            Attendee(f"r{seed}-{i:04d}", _arrival(rng, event), point, Transport.TRANSIT, "wave-1")
        )
    return _instance("ring", n, seed, event, people)


def taxi(n: int, seed: int) -> Instance:
    rng = random.Random(f"taxi:{n}:{seed}")
    event = _event(PARIS_VENUE, 2)
    people = [
        Attendee(
            f"t{seed}-{i:04d}",
            _arrival(rng, event),
            _offset(event.venue, rng.uniform(3.0, 15.0), rng.uniform(0, 2 * math.pi)),
            Transport.TAXI,
            rng.choice(("wave-1", "wave-2")),
        )
        for i in range(n)
    ]
    return _instance("taxi", n, seed, event, people)


def villages(n: int, seed: int) -> Instance:
    rng = random.Random(f"villages:{n}:{seed}")
    event = _event(TOWN_VENUE, 2)
    count = rng.randint(8, 14)
    spots = [
        _offset(event.venue, rng.uniform(5.0, 20.0), rng.uniform(0, 2 * math.pi))
        for _ in range(count)
    ]
    people = []
    for i in range(n):
        if rng.random() < 0.3:  # the town itself, 0.5-3 km
            point = _offset(event.venue, rng.uniform(0.5, 3.0), rng.uniform(0, 2 * math.pi))
            mode = rng.choices((Transport.WALK, Transport.BIKE, Transport.TRANSIT), (4, 3, 2))[0]
        else:
            point = rng.choice(spots)
            mode = rng.choices((Transport.BIKE, Transport.CAR, Transport.TRANSIT), (2, 4, 3))[0]
        people.append(
            Attendee(
                f"v{seed}-{i:04d}",
                _arrival(rng, event),
                point,
                mode,
                rng.choice(("wave-1", "wave-2")),
                seats=_seats(rng, mode, 0.5),
            )
        )
    return _instance("villages", n, seed, event, people)


_ONE_POOL_MODES = (Transport.TRANSIT, Transport.BIKE, Transport.TAXI, Transport.WALK)


def one_pool(n: int, seed: int) -> Instance:
    """One pool of 20-100 people (``n`` caps it): size and class from the seed."""
    rng = random.Random(f"one_pool:{n}:{seed}")
    size = min(n, 20 + ((seed - 1) * 80 // 9) % 81)
    mode = _ONE_POOL_MODES[(seed - 1) % len(_ONE_POOL_MODES)]
    event = _event(PARIS_VENUE, 1)
    places, _ = load_places("paris")
    reach = 6.0 if mode in (Transport.WALK, Transport.BIKE) else 25.0
    from matching.geo import distance_km

    near = [p for p in places if distance_km(event.venue, p.point) <= reach]
    weights = [p.population for p in near]
    people = []
    for i in range(size):
        place = rng.choices(near, weights=weights)[0]
        people.append(
            Attendee(
                f"o{seed}-{i:04d}",
                _arrival(rng, event),
                place.point,
                mode,
                "wave-1",
                place_id=place.id,
            )
        )
    return _instance("one_pool", size, seed, event, people)


def tiny(n: int, seed: int) -> Instance:
    """An event of 7-15 people (the seed sets the size; ``n`` is ignored)."""
    size = 7 + (seed - 1) % 9
    base = generate(size, seed, "paris")
    return Instance("tiny", size, seed, base.event, base.attendees, base.places_source)


def suburbs(n: int, seed: int) -> Instance:
    rng = random.Random(f"suburbs:{n}:{seed}")
    event = _event(CENTRAL_VENUE, 2)
    corridors = [rng.uniform(0, 2 * math.pi) for _ in range(rng.randint(4, 7))]
    towns = [
        _offset(event.venue, rng.uniform(8.0, 25.0), c + rng.uniform(-0.25, 0.25))
        for c in corridors
        for _ in range(rng.randint(2, 5))
    ]
    people = []
    for i in range(n):
        wave = rng.choice(("wave-1", "wave-2"))
        mode = rng.choices((Transport.TRANSIT, Transport.CAR), (4, 1))[0]
        if mode is Transport.TRANSIT and wave == "wave-2":
            mode = Transport.NIGHT_BUS
        people.append(
            Attendee(
                f"s{seed}-{i:04d}",
                _arrival(rng, event),
                rng.choice(towns),
                mode,
                wave,
                seats=_seats(rng, mode, 0.6),
            )
        )
    return _instance("suburbs", n, seed, event, people)


def paris(n: int, seed: int) -> Instance:
    base = generate(n, seed, "paris")
    rng = random.Random(f"paris-seats:{n}:{seed}")
    people = [replace(a, seats=_seats(rng, a.transport, 0.4)) for a in base.attendees]
    return Instance("paris", n, seed, base.event, tuple(people), base.places_source)


_GENERATORS = {
    "ring": ring,
    "taxi": taxi,
    "villages": villages,
    "one_pool": one_pool,
    "tiny": tiny,
    "suburbs": suburbs,
    "paris": paris,
}


def generate_family(family: str, n: int, seed: int) -> Instance:
    """The instance of ``family`` (see the module docstring) for a size and a seed."""
    return _GENERATORS[family](n, seed)
