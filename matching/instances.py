"""Realistic benchmark instances from fixed seeds: a night out in Paris or in Brussels.

- The venue is a real club district (Porte d'Aubervilliers in Paris, near the Gare du Midi in
  Brussels), with three meeting points a few hundred metres around it.
- Destinations are neighbourhood centroids drawn from the gazetteer weighted by population
  (``companion_bot/data/places.json`` when present, read by path so the bench never imports the
  bot; otherwise the built-in :mod:`matching._fallback_places`). A few attendees give none.
- Arrivals bunch after doors open (23:00): a gamma-distributed delay, mean about 70 minutes.
  Most attendees pick one of the 30-minute arrival slots; the others give their own window of
  30 to 90 minutes. A few want no arrival group.
- Three departure waves (last metro, night buses, first metro); transport depends on distance
  (walk and bike nearby, car further out) and on the wave (night bus when the metro is closed).
- A few attendees want a volunteer with their group; a few ask never to be grouped with
  someone.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from matching._fallback_places import FALLBACK_PLACES
from matching.geo import haversine_km
from matching.model import (
    WANTS_VOLUNTEER,
    ArrivalSlot,
    ArrivalWindow,
    Attendee,
    DepartureWave,
    Event,
    MeetingPoint,
    Point,
    Transport,
)

GAZETTEER_PATH = Path(__file__).resolve().parent.parent / "companion_bot" / "data" / "places.json"
MAX_PLACE_DISTANCE_KM = 25.0


@dataclass(frozen=True, slots=True)
class Place:
    id: str
    name: str
    city: str
    point: Point
    population: int


@dataclass(frozen=True, slots=True)
class CitySetting:
    name: str  # gazetteer "city"
    timezone: str
    venue: Point
    wave_times: tuple[str, str, str]  # last metro, night buses, first metro (next day)


CITIES: dict[str, CitySetting] = {
    "paris": CitySetting(
        "Paris", "Europe/Paris", Point(48.8983, 2.3707), ("01:30", "04:00", "06:00")
    ),
    "bruxelles": CitySetting(
        "Bruxelles", "Europe/Brussels", Point(50.8357, 4.3377), ("01:00", "03:30", "06:00")
    ),
}


@dataclass(frozen=True, slots=True)
class Instance:
    city: str
    n: int
    seed: int
    event: Event
    attendees: tuple[Attendee, ...]
    places_source: str

    @property
    def name(self) -> str:
        return f"{self.city}-n{self.n}-s{self.seed}"


def load_places(city: str, path: Path = GAZETTEER_PATH) -> tuple[list[Place], str]:
    """Leaf neighbourhoods of ``city`` within reach of its venue, and where they came from."""
    setting = CITIES[city]
    places: list[Place] = []
    source = "fallback"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            raw = data.get("places", [])
            parents = {p.get("parent") for p in raw if p.get("parent")}
            populations = [p["population"] for p in raw if p.get("population")]
            typical = int(np.median(populations)) if populations else 20_000
            for p in raw:
                if p.get("city") != setting.name or p.get("id") in parents:
                    continue
                places.append(
                    Place(
                        p["id"],
                        p.get("name", p["id"]),
                        p["city"],
                        Point(float(p["lat"]), float(p["lon"])),
                        int(p.get("population") or typical),
                    )
                )
            source = str(path.name)
        except (OSError, ValueError, KeyError, TypeError):
            places = []
    if not places:
        source = "fallback"
        places = [
            Place(pid, name, c, Point(lat, lon), pop)
            for pid, name, c, _country, lat, lon, pop in FALLBACK_PLACES
            if c == setting.name
        ]
    venue = setting.venue
    lats = np.array([p.point.lat for p in places])
    lons = np.array([p.point.lon for p in places])
    near = haversine_km(venue.lat, venue.lon, lats, lons) <= MAX_PLACE_DISTANCE_KM
    places = [p for p, ok in zip(places, near.tolist(), strict=True) if ok]
    places.sort(key=lambda p: p.id)
    return places, source


# Transport shares by distance from the venue: (max km, {mode: weight}).
_MODES_BY_DISTANCE = (
    (3.0, {"walk": 40, "transit": 25, "bike": 15, "taxi": 12, "car": 8}),
    (8.0, {"walk": 4, "transit": 55, "bike": 12, "taxi": 18, "car": 11}),
    (math.inf, {"walk": 0, "transit": 50, "bike": 5, "taxi": 17, "car": 28}),
)


def _clock(day: datetime, hhmm: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    moment = day.replace(hour=hours, minute=minutes)
    return moment + timedelta(days=1) if hours < 12 else moment


def generate(n: int, seed: int, city: str = "paris") -> Instance:
    """A reproducible instance of ``n`` attendees (same ``n``, ``seed``, ``city``: same data)."""
    setting = CITIES[city]
    rng = random.Random(f"{city}:{n}:{seed}")
    places, source = load_places(city)
    zone = ZoneInfo(setting.timezone)
    day = datetime(2025, 6, 14, tzinfo=zone)
    doors = _clock(day, "23:00")
    slots = tuple(
        ArrivalSlot(
            f"slot-{i}", doors + timedelta(minutes=30 * i), doors + timedelta(minutes=30 * (i + 1))
        )
        for i in range(6)
    )
    waves = tuple(
        DepartureWave(f"wave-{i + 1}", _clock(day, t)) for i, t in enumerate(setting.wave_times)
    )
    venue = setting.venue
    meeting_points = (
        MeetingPoint(
            "mp-west", "West exit, metro side", Point(venue.lat + 0.0004, venue.lon - 0.0035)
        ),
        MeetingPoint(
            "mp-south", "South exit, tram stop", Point(venue.lat - 0.0025, venue.lon + 0.0005)
        ),
        MeetingPoint(
            "mp-east", "East exit, bus stop", Point(venue.lat + 0.0003, venue.lon + 0.0035)
        ),
    )
    event = Event(
        venue=venue, meeting_points=meeting_points, arrival_slots=slots, departure_waves=waves
    )

    weights = [p.population for p in places]
    lats = np.array([p.point.lat for p in places])
    lons = np.array([p.point.lon for p in places])
    direct = haversine_km(venue.lat, venue.lon, lats, lons).tolist()
    prefix = city[:3]
    attendees = []
    for i in range(n):
        ident = f"{prefix}{seed}-{i:05d}"
        arrival = None
        if rng.random() >= 0.05:
            delay = min(rng.gammavariate(2.0, 35.0), 175.0)  # minutes after doors open
            if rng.random() < 0.65:
                slot = slots[min(int(delay // 30), len(slots) - 1)]
                arrival = ArrivalWindow(slot.start, slot.end)
            else:
                width = rng.choice((30, 45, 60, 60, 90))
                centre = doors + timedelta(minutes=5 * round(delay / 5))
                arrival = ArrivalWindow(
                    centre - timedelta(minutes=width / 2), centre + timedelta(minutes=width / 2)
                )
        place_index = rng.choices(range(len(places)), weights=weights)[0]
        place = places[place_index]
        destination, place_id = place.point, place.id
        if rng.random() < 0.03:
            destination, place_id = None, None
        wave = None
        if rng.random() >= 0.04:
            wave = rng.choices(waves, weights=(20, 35, 45))[0]
        distance = direct[place_index]
        shares = next(s for limit, s in _MODES_BY_DISTANCE if distance <= limit)
        mode = Transport(rng.choices(list(shares), weights=list(shares.values()))[0])
        if wave is waves[1] and mode is Transport.TRANSIT:
            mode = Transport.NIGHT_BUS
        flags = frozenset({WANTS_VOLUNTEER}) if rng.random() < 0.06 else frozenset()
        attendees.append(
            Attendee(
                id=ident,
                arrival=arrival,
                destination=destination,
                transport=mode,
                departure_wave=wave.id if wave else None,
                place_id=place_id,
                flags=flags,
            )
        )
    # A few "never group me with X" requests, between random attendees.
    if n >= 10:
        for _ in range(max(1, n // 100)):
            a, b = rng.sample(range(n), 2)
            attendees[a] = _with_avoid(attendees[a], attendees[b].id)
    return Instance(city, n, seed, event, tuple(attendees), source)


def _with_avoid(attendee: Attendee, other: str) -> Attendee:
    return replace(attendee, avoid=attendee.avoid | {other})
