"""Simple rules an organizer might apply by hand, for the benchmark to beat.

Every rule respects the hard constraints the engine respects, so that costs compare: departure
groups are formed within one wave and one transport class, at most the class's maximum size;
then any group that still breaks a rule (windows that do not overlap, a detour over the cap,
two people who avoid each other) is repaired by first-fit splitting, in the rule's order.
Whoever ends alone is alone: simple rules have no rescue.

- ``same_neighbourhood``: same destination neighbourhood, chunked by arrival time.
- ``arrival_chunks``: sorted by preferred arrival, chunked.
- ``bearing_chunks``: sorted by bearing from the venue (then distance), chunked.
- ``kmeans_constrained``: size-constrained k-means on position and time (the PyPI package
  ``k-means-constrained``, a bench-only dependency).

Chunking cuts a sequence into ``ceil(n / preferred_max)`` groups of near-equal sizes, so nobody
is alone unless the sequence has a single person.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from matching.geo import local_xy_km
from matching.model import (
    OVERSIZE,
    WANTS_VOLUNTEER,
    Attendee,
    Event,
    Group,
    GroupKind,
    MatchingRules,
    from_minutes,
    group_id,
    to_minutes,
    transport_class,
)
from matching.objective import arrival_meeting_minutes, drop_off_chain

Rule = Callable[[Event, Sequence[Attendee], MatchingRules, GroupKind], list[list[Attendee]]]


def chunk(items: Sequence, preferred_max: int) -> list[list]:
    """Cut ``items`` into ``ceil(n / preferred_max)`` consecutive runs of near-equal size."""
    if not items:
        return []
    count = math.ceil(len(items) / preferred_max)
    base, extra = divmod(len(items), count)
    runs, start = [], 0
    for i in range(count):
        size = base + (1 if i < extra else 0)
        runs.append(list(items[start : start + size]))
        start += size
    return runs


def _preferred(a: Attendee) -> float:
    return to_minutes(a.arrival.preferred_time) if a.arrival else math.inf


def _pools(attendees: Sequence[Attendee], kind: GroupKind) -> dict[tuple, list[Attendee]]:
    """Who may be grouped together at all: arrivals together; departures by wave and class."""
    pools: dict[tuple, list[Attendee]] = {}
    for a in attendees:
        if kind is GroupKind.ARRIVAL and a.arrival is not None:
            pools.setdefault((), []).append(a)
        elif kind is GroupKind.DEPARTURE and a.departure_wave is not None:
            pools.setdefault((a.departure_wave, transport_class(a.transport)), []).append(a)
    return pools


def _limit(event: Event, key: tuple) -> int:
    return event.max_size(key[1] if key else None)


def same_neighbourhood(event, attendees, rules, kind) -> list[list[Attendee]]:
    groups = []
    for key, pool in sorted(_pools(attendees, kind).items()):
        by_place: dict[str, list[Attendee]] = {}
        for a in pool:
            by_place.setdefault(a.place_id or "?", []).append(a)
        for _, people in sorted(by_place.items()):
            people.sort(key=lambda a: (_preferred(a), a.id))
            groups.extend(chunk(people, min(event.sizes.preferred_max, _limit(event, key))))
    return groups


def arrival_chunks(event, attendees, rules, kind) -> list[list[Attendee]]:
    groups = []
    for key, pool in sorted(_pools(attendees, kind).items()):
        pool.sort(key=lambda a: (_preferred(a), a.id))
        groups.extend(chunk(pool, min(event.sizes.preferred_max, _limit(event, key))))
    return groups


def _bearing(event: Event, a: Attendee) -> tuple[float, float]:
    if a.destination is None:
        return (-math.inf, 0.0)
    xy = local_xy_km(np.array([a.destination.lat]), np.array([a.destination.lon]), event.venue)
    return (math.atan2(xy[0, 0], xy[0, 1]), math.hypot(xy[0, 0], xy[0, 1]))


def bearing_chunks(event, attendees, rules, kind) -> list[list[Attendee]]:
    groups = []
    for key, pool in sorted(_pools(attendees, kind).items()):
        pool.sort(key=lambda a: (*_bearing(event, a), a.id))
        groups.extend(chunk(pool, min(event.sizes.preferred_max, _limit(event, key))))
    return groups


def kmeans_constrained(event, attendees, rules, kind) -> list[list[Attendee]]:
    """Size-constrained k-means: arrivals mostly by time, departures mostly by position.

    Features: east/north km from the venue and preferred arrival in minutes, scaled so that
    for arrivals 5 minutes weigh like 5 km, and for departures 30 minutes weigh like 1 km. One
    initialisation and at most 20 iterations keep large instances within reach.
    """
    from k_means_constrained import KMeansConstrained

    groups = []
    for key, pool in sorted(_pools(attendees, kind).items()):
        pool.sort(key=lambda a: a.id)
        limit = min(event.sizes.maximum, _limit(event, key))
        if len(pool) <= limit:
            groups.append(list(pool))
            continue
        lats = np.array([(a.destination or event.venue).lat for a in pool])
        lons = np.array([(a.destination or event.venue).lon for a in pool])
        xy = local_xy_km(lats, lons, event.venue)
        times = np.array([_preferred(a) if a.arrival else np.nan for a in pool])
        times = np.where(
            np.isnan(times), np.nanmean(times) if np.isfinite(times).any() else 0, times
        )
        times = times - times.min()
        if kind is GroupKind.ARRIVAL:
            features = np.column_stack([times / 5.0, xy / 5.0])
        else:
            features = np.column_stack([xy, times / 30.0])
        clusters = math.ceil(len(pool) / event.sizes.preferred_max)
        size_min = min(event.sizes.minimum, len(pool) // clusters)
        model = KMeansConstrained(
            n_clusters=clusters,
            size_min=size_min,
            size_max=limit,
            n_init=1,
            max_iter=20,
            random_state=0,
        )
        labels = model.fit_predict(features)
        by_label: dict[int, list[Attendee]] = {}
        for a, label in zip(pool, labels.tolist(), strict=True):
            by_label.setdefault(label, []).append(a)
        groups.extend(by_label[label] for label in sorted(by_label))
    return groups


RULES: dict[str, Rule] = {
    "same_neighbourhood": same_neighbourhood,
    "arrival_chunks": arrival_chunks,
    "bearing_chunks": bearing_chunks,
    "kmeans_constrained": kmeans_constrained,
}


def _feasible(
    event: Event, members: Sequence[Attendee], rules: MatchingRules, kind: GroupKind, limit: int
) -> bool:
    if len(members) > limit:
        return False
    ids = {m.id for m in members}
    if any(m.avoid & ids for m in members):
        return False
    if len(members) < 2:
        return True
    if kind is GroupKind.ARRIVAL:
        return _meeting(members, rules) is not None
    chain = drop_off_chain(event.venue, [m.destination for m in members])
    return max(chain.detours) <= rules.max_detour + 1e-9


def _meeting(members: Sequence[Attendee], rules: MatchingRules) -> float | None:
    return arrival_meeting_minutes(
        [to_minutes(m.arrival.start) for m in members],
        [to_minutes(m.arrival.end) for m in members],
        [to_minutes(m.arrival.preferred_time) for m in members],
        rules.min_arrival_overlap.total_seconds() / 60.0,
        rules.meeting_time_step.total_seconds() / 60.0,
    )


def repair(
    event: Event, members: list[Attendee], rules: MatchingRules, kind: GroupKind, limit: int
) -> list[list[Attendee]]:
    """Split a group that breaks a hard rule, first fit in the given order."""
    if _feasible(event, members, rules, kind, limit):
        return [members]
    parts: list[list[Attendee]] = []
    for person in members:
        for part in parts:
            if _feasible(event, [*part, person], rules, kind, limit):
                part.append(person)
                break
        else:
            parts.append([person])
    return parts


def apply_rule(
    name: str, event: Event, attendees: Sequence[Attendee], rules: MatchingRules | None = None
) -> list[Group]:
    """Arrival and departure groups by the rule ``name`` (see :data:`RULES`), repaired."""
    rules = rules or MatchingRules()
    rule = RULES[name]
    result: list[Group] = []
    for kind in GroupKind:
        for members in rule(event, list(attendees), rules, kind):
            key_class = (
                transport_class(members[0].transport) if kind is GroupKind.DEPARTURE else None
            )
            limit = event.max_size(key_class)
            for part in repair(event, members, rules, kind, limit):
                if len(part) >= 2:
                    result.append(_as_group(event, part, rules, kind, key_class))
    return result


def _as_group(
    event: Event,
    members: list[Attendee],
    rules: MatchingRules,
    kind: GroupKind,
    class_name: str | None,
) -> Group:
    flags = {WANTS_VOLUNTEER} if any(WANTS_VOLUNTEER in m.flags for m in members) else set()
    if len(members) > event.max_size(class_name):
        flags.add(OVERSIZE)
    if kind is GroupKind.ARRIVAL:
        meeting = from_minutes(_meeting(members, rules), members[0].arrival.start)
        wave_id = None
    else:
        wave = event.wave(members[0].departure_wave)
        meeting, wave_id = wave.time, wave.id
        chain = drop_off_chain(event.venue, [m.destination for m in members])
        members = [members[i] for i in chain.order]
    ids = tuple(m.id for m in members)
    return Group(
        group_id(kind, ids), kind, ids, meeting, None, wave_id, class_name, flags=frozenset(flags)
    )
