"""The one objective every method is judged by (lower is better), and the report of its parts.

Per kind of group (arrival, departure) the cost is the sum of:

- **alone**: ``weights.alone`` (100) for every attendee who needs a group of that kind and is not
  in one (whether the engine flagged her for the volunteers or a rule simply left her out).
  It dwarfs everything else: nobody alone comes first.
- **arrival gap** (arrival groups): ``weights.arrival_gap`` (0.1) per minute between each
  member's preferred arrival and her group's meeting time.
- **detour** (departure groups): ``weights.detour`` (5) per unit of each member's detour ratio.
  The trip home is a *drop-off chain*: the group leaves the venue together and members peel off
  one by one; a member's chain length is the venue-to-first-stop leg plus the legs between stops
  up to hers, and her detour is chain length / direct distance - 1. The order is the cheapest
  one that keeps everyone within her cap (every order is tried up to 6 members, see
  :func:`best_order`), and is the order the group is told. A member without a known
  destination peels off at the venue: no detour, no leg. A driver who offers seats takes the
  others home and is dropped last (her own cap, ``max_driver_detour``); a group of drivers who
  offer none (class ``car``) only walks to the car park together: no chain, only its size.
- **solo leg** (departure groups): ``weights.solo_leg`` (1) per km of the last member's final
  leg, the only part of anyone's trip home travelled alone.
- **size**: ``weights.pair`` (3) for a pair, fragile since one cancellation leaves someone alone;
  ``weights.size_off_preferred`` (1) per member below or above the preferred range (3-4); and
  ``weights.oversize`` (5) for a group over the maximum (the "+1" rescue). So with default
  sizes a group costs 4 as a pair, 0 with 3 or 4, 1 with 5 and 7 with 6.

The same functions cost groups inside the engine, the late sign-up placement, the baselines and
the exact solver, so that every number in the benchmark means the same thing.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matching.geo import distance_km
from matching.model import (
    OVERSIZE,
    Attendee,
    Event,
    Group,
    GroupKind,
    GroupSizes,
    MatchingRules,
    Point,
    Weights,
    departure_class,
    is_driver,
    to_minutes,
)

_EPS_KM = 1e-6


def size_penalty(size: int, sizes: GroupSizes, regular_max: int, weights: Weights) -> float:
    """The size part of a group's cost (groups of two or more; one person is *alone*)."""
    penalty = weights.pair if size == 2 else 0.0
    penalty += weights.size_off_preferred * (
        max(0, sizes.preferred_min - size) + max(0, size - sizes.preferred_max)
    )
    if size > regular_max:
        penalty += weights.oversize
    return penalty


@dataclass(frozen=True, slots=True)
class Chain:
    """A departure group's trip home as a drop-off chain (members in drop-off order)."""

    order: tuple[int, ...]  # indices into the points given, in drop-off order
    direct_km: tuple[float, ...]  # each member's straight distance from the venue
    chain_km: tuple[float, ...]  # each member's distance travelled along the chain
    detours: tuple[float, ...]  # chain / direct - 1 (0 without a destination)
    solo_leg_km: float  # the last member's final leg, travelled alone
    feasible: bool = True  # nobody's detour over her cap in this order


#: Drop-off orders are searched exhaustively for groups up to this many members with a
#: destination (branch and bound: 720 orders at most, far fewer in practice); larger groups
#: (a locked group grown past the maximum) keep the nearest-first order.
EXHAUSTIVE_ORDER_MAX = 6


def best_order(
    direct: Sequence[float],
    between: Sequence[Sequence[float]],
    last: int | None,
    cap: float,
    last_cap: float,
    w_detour: float,
    w_solo: float,
    exhaustive_max: int = EXHAUSTIVE_ORDER_MAX,
) -> tuple[float, tuple[int, ...]]:
    """The cheapest feasible drop-off order of stops ``0..k-1``, given nearest-first.

    ``direct[i]`` is stop i's distance from the venue, non-decreasing (0: no destination, she
    peels off at the venue, first); ``between[i][j]`` the distance between two stops; ``last`` a
    stop that must come last (a driver), with her own detour cap ``last_cap``. The cost of an
    order is ``w_detour`` times the sum of the detours plus ``w_solo`` times the final leg.
    Every order is tried (branch and bound) up to :data:`EXHAUSTIVE_ORDER_MAX` stops, ties going
    to the order met first, which is nearest-first; beyond, nearest-first only. Returns
    ``(cost, order)``; the cost is ``math.inf`` (with the nearest-first order) when no order
    keeps everyone within her cap.
    """
    count = len(direct)
    first = [i for i in range(count) if direct[i] <= _EPS_KM and i != last]
    moving = [i for i in range(count) if direct[i] > _EPS_KM and i != last]
    end = last if last is not None and direct[last] > _EPS_KM else None
    if last is not None and end is None:
        first.append(last)
    tail = () if end is None else (end,)
    fallback = (*first, *moving, *tail)
    stretch, last_stretch = 1.0 + cap + 1e-9, 1.0 + last_cap + 1e-9
    # Necessary conditions, pair by pair, in any order: whoever of two is dropped second has
    # travelled at least the nearer one's direct distance plus the distance between them.
    for x, a in enumerate(moving):
        for b in moving[x + 1 :]:
            if direct[a] + between[a][b] > stretch * direct[b]:
                return math.inf, fallback
        if end is not None and direct[a] + between[a][end] > last_stretch * direct[end]:
            return math.inf, fallback
    if len(moving) <= 1:
        if not moving:
            if end is None:
                return 0.0, fallback
            return w_solo * direct[end], fallback
        a = moving[0]
        if end is None:
            return w_solo * direct[a], fallback
        detour = (direct[a] + between[a][end]) / direct[end] - 1.0
        if detour > last_cap + 1e-9:
            return math.inf, fallback
        return w_detour * max(0.0, detour) + w_solo * between[a][end], fallback
    best_cost = math.inf
    best: tuple[int, ...] = fallback
    exhaustive = len(moving) + len(tail) <= exhaustive_max
    cap_eps, last_cap_eps = cap + 1e-9, last_cap + 1e-9
    chosen: list[int] = []

    def search(previous: int, before: float, travelled: float, detours: float, left: list) -> None:
        # Bound: a stop still to come is reached at least ``travelled`` plus the straight line
        # from here (triangle inequality), so its detour can only grow from that value.
        nonlocal best_cost, best
        if not left:
            if end is None:
                cost = w_detour * detours + w_solo * (travelled - before)
            else:
                leg = between[previous][end]
                detour = (travelled + leg) / direct[end] - 1.0
                cost = w_detour * (detours + max(0.0, detour)) + w_solo * leg
            if cost < best_cost - 1e-12:
                best_cost, best = cost, (*first, *chosen, *tail)
            return
        steps = []
        low = detours
        for stop in left:
            reached = travelled + (direct[stop] if previous < 0 else between[previous][stop])
            detour = reached / direct[stop] - 1.0
            if detour > cap_eps:
                return
            if detour > 0.0:
                low += detour
            steps.append((reached, detour))
        if end is not None:
            detour = (travelled + (direct[end] if previous < 0 else between[previous][end])) / (
                direct[end]
            ) - 1.0
            if detour > last_cap_eps:
                return
            if detour > 0.0:
                low += detour
        if w_detour * low >= best_cost:
            return
        for index, stop in enumerate(left):
            reached, detour = steps[index]
            chosen.append(stop)
            search(
                stop,
                travelled,
                reached,
                detours + detour if detour > 0.0 else detours,
                left[:index] + left[index + 1 :],
            )
            chosen.pop()
            if not exhaustive:
                return

    search(-1, 0.0, 0.0, 0.0, moving)
    return best_cost, best


def chain_from_legs(direct_km: Sequence[float], legs_km: Sequence[float]) -> tuple[list, float]:
    """Chain lengths' detours and solo leg, from direct distances in drop-off order.

    ``legs_km[j]`` is the distance between the j-th and (j+1)-th stops. Returns
    ``(detours, solo_leg_km)``.
    """
    detours = []
    travelled = 0.0
    for j, direct in enumerate(direct_km):
        travelled = direct if j == 0 else travelled + legs_km[j - 1]
        detours.append(max(0.0, travelled / direct - 1.0) if direct > _EPS_KM else 0.0)
    solo = legs_km[-1] if len(direct_km) >= 2 else (direct_km[0] if direct_km else 0.0)
    return detours, solo


def drop_off_chain(
    venue: Point,
    destinations: Sequence[Point | None],
    rules: MatchingRules | None = None,
    driver: int | None = None,
) -> Chain:
    """Cost the drop-off chain of a group heading home from ``venue``, in its best order.

    A member without a destination peels off at the venue. The others are dropped in the order
    that minimises the group's detour and solo-leg cost while keeping everyone within
    ``rules.max_detour`` (see :func:`best_order`); ``driver`` (an index) drives the others home
    and comes last, within ``rules.max_driver_detour``. When no order is feasible the chain is
    nearest-first (``feasible`` is false).
    """
    rules = rules or MatchingRules()
    points = [d if d is not None else venue for d in destinations]
    direct = [
        distance_km(venue, p) if d is not None else 0.0
        for p, d in zip(points, destinations, strict=True)
    ]
    base = sorted(range(len(points)), key=direct.__getitem__)  # stable: ties keep order
    position = {i: j for j, i in enumerate(base)}
    sorted_direct = [direct[i] for i in base]
    table = [[distance_km(points[a], points[b]) for b in base] for a in base]
    cost, order = best_order(
        sorted_direct,
        table,
        None if driver is None else position[driver],
        rules.max_detour,
        rules.max_driver_detour,
        rules.weights.detour,
        rules.weights.solo_leg,
    )
    order = tuple(base[j] for j in order)
    legs = [
        distance_km(points[a], points[b]) if direct[b] else 0.0
        for a, b in itertools.pairwise(order)
    ]
    direct_sorted = [direct[i] for i in order]
    detours, solo = chain_from_legs(direct_sorted, legs)
    chain_km, travelled = [], 0.0
    for j, d in enumerate(direct_sorted):
        travelled = d if j == 0 else travelled + legs[j - 1]
        chain_km.append(travelled)
    return Chain(
        order, tuple(direct_sorted), tuple(chain_km), tuple(detours), solo, cost != math.inf
    )


def departure_chain(
    venue: Point, members: Sequence[Attendee], rules: MatchingRules | None = None
) -> Chain | None:
    """The drop-off chain of a departure group's members, ``None`` for a car group (no chain:
    each drives her own car from the car park). A driver who offers seats comes last."""
    if members and all(departure_class(m) == "car" for m in members):
        return None
    drivers = [i for i, m in enumerate(members) if is_driver(m)]
    return drop_off_chain(
        venue, [m.destination for m in members], rules, drivers[0] if drivers else None
    )


def arrival_meeting_minutes(
    starts: Sequence[float],
    ends: Sequence[float],
    preferred: Sequence[float],
    min_overlap: float,
    step: float,
) -> float | None:
    """The meeting time (in minutes) of an arrival group, or ``None`` if it cannot meet.

    The windows must share at least ``min_overlap`` minutes; the meeting time is the point of
    the ``step``-minute grid inside the shared part that minimises the total gap to everyone's
    preferred time (a clamped median, rounded; ties go to the earlier time).
    """
    earliest, latest = max(starts), min(ends)
    if latest - earliest < min_overlap - 1e-9:
        return None
    ordered = sorted(preferred)
    median = ordered[(len(ordered) - 1) // 2]
    target = min(max(median, earliest), latest)
    low = math.floor(target / step) * step
    candidates = [t for t in (low, low + step) if earliest - 1e-9 <= t <= latest + 1e-9]
    if not candidates:  # the shared part falls between two grid points: keep it unrounded
        candidates = [target]
    return min(candidates, key=lambda t: (sum(abs(t - p) for p in preferred), t))


def arrival_gaps(meeting: float, preferred: Iterable[float]) -> list[float]:
    return [abs(meeting - p) for p in preferred]


@dataclass(frozen=True, slots=True)
class Stats:
    mean: float
    p95: float
    count: int

    @staticmethod
    def of(values: Sequence[float]) -> Stats:
        if not values:
            return Stats(0.0, 0.0, 0)
        array = np.asarray(values, dtype=float)
        return Stats(float(array.mean()), float(np.percentile(array, 95)), len(values))


@dataclass(frozen=True, slots=True)
class KindReport:
    """Cost parts and quality figures for one kind of group."""

    kind: GroupKind
    people: int  # attendees who need a group of this kind
    grouped: int
    alone: int
    size_histogram: dict[int, int]
    parts: dict[str, float]  # alone, arrival_gap, detour, solo_leg, size
    arrival_gap_min: Stats  # per member, minutes between preferred arrival and meeting time
    detour: Stats  # per member with a destination, detour ratio
    solo_leg_km: Stats  # per group, the last member's final leg

    @property
    def cost(self) -> float:
        return sum(self.parts.values())

    @property
    def grouped_share(self) -> float:
        return self.grouped / self.people if self.people else 1.0


@dataclass(frozen=True, slots=True)
class CostReport:
    """The objective of a whole matching, and its parts."""

    arrival: KindReport
    departure: KindReport

    @property
    def total(self) -> float:
        return self.arrival.cost + self.departure.cost

    @property
    def parts(self) -> dict[str, float]:
        keys = ("alone", "arrival_gap", "detour", "solo_leg", "size")
        return {k: self.arrival.parts[k] + self.departure.parts[k] for k in keys}

    @property
    def grouped_share(self) -> float:
        people = self.arrival.people + self.departure.people
        grouped = self.arrival.grouped + self.departure.grouped
        return grouped / people if people else 1.0

    def as_dict(self) -> dict:
        def kind(report: KindReport) -> dict:
            return {
                "cost": report.cost,
                "people": report.people,
                "grouped": report.grouped,
                "alone": report.alone,
                "grouped_share": report.grouped_share,
                "size_histogram": {str(k): v for k, v in sorted(report.size_histogram.items())},
                "parts": dict(report.parts),
                "arrival_gap_min": {
                    "mean": report.arrival_gap_min.mean,
                    "p95": report.arrival_gap_min.p95,
                },
                "detour": {"mean": report.detour.mean, "p95": report.detour.p95},
                "solo_leg_km": {"mean": report.solo_leg_km.mean, "p95": report.solo_leg_km.p95},
            }

        return {
            "cost": self.total,
            "grouped_share": self.grouped_share,
            "parts": self.parts,
            "arrival": kind(self.arrival),
            "departure": kind(self.departure),
        }


def needs_arrival(attendee: Attendee) -> bool:
    return attendee.arrival is not None


def needs_departure(attendee: Attendee) -> bool:
    return attendee.departure_wave is not None


def evaluate(
    event: Event,
    attendees: Iterable[Attendee],
    groups: Iterable[Group],
    rules: MatchingRules | None = None,
) -> CostReport:
    """Cost any set of groups with the documented objective (validity is :func:`validate`'s job).

    Attendees who need a kind of group and are in none of that kind (or in a group of one)
    count as alone.
    """
    rules = rules or MatchingRules()
    weights = rules.weights
    by_id = {a.id: a for a in attendees}
    groups = list(groups)
    reports = {}
    for kind in GroupKind:
        needs = needs_arrival if kind is GroupKind.ARRIVAL else needs_departure
        kind_groups = [g for g in groups if g.kind is kind]
        parts = dict.fromkeys(("alone", "arrival_gap", "detour", "solo_leg", "size"), 0.0)
        histogram: Counter[int] = Counter()
        grouped_ids: set[str] = set()
        gaps, detours, solos = [], [], []
        for group in kind_groups:
            histogram[group.size] += 1
            if group.size < 2:
                continue
            grouped_ids.update(group.members)
            members = [by_id[m] for m in group.members]
            parts["size"] += size_penalty(
                group.size, event.sizes, event.max_size(group.transport_class), weights
            )
            if kind is GroupKind.ARRIVAL:
                meeting = to_minutes(group.meeting_time)
                member_gaps = arrival_gaps(
                    meeting,
                    [to_minutes(m.arrival.preferred_time) for m in members if m.arrival],
                )
                gaps.extend(member_gaps)
                parts["arrival_gap"] += weights.arrival_gap * sum(member_gaps)
            else:
                chain = departure_chain(event.venue, members, rules)
                if chain is None:  # a car group: each drives home from the car park
                    continue
                located = [
                    d
                    for i, d in zip(chain.order, chain.detours, strict=True)
                    if members[i].destination is not None
                ]
                detours.extend(located)
                solos.append(chain.solo_leg_km)
                parts["detour"] += weights.detour * sum(chain.detours)
                parts["solo_leg"] += weights.solo_leg * chain.solo_leg_km
        people = [a for a in by_id.values() if needs(a)]
        alone = sum(1 for a in people if a.id not in grouped_ids)
        parts["alone"] = weights.alone * alone
        reports[kind] = KindReport(
            kind=kind,
            people=len(people),
            grouped=len(people) - alone,
            alone=alone,
            size_histogram=dict(sorted(histogram.items())),
            parts=parts,
            arrival_gap_min=Stats.of(gaps),
            detour=Stats.of(detours),
            solo_leg_km=Stats.of(solos),
        )
    return CostReport(reports[GroupKind.ARRIVAL], reports[GroupKind.DEPARTURE])


def validate(
    event: Event,
    attendees: Iterable[Attendee],
    groups: Iterable[Group],
    rules: MatchingRules | None = None,
) -> list[str]:
    """Every hard rule a set of groups breaks, as readable sentences (empty when valid).

    Checked: nobody in two groups of the same kind; sizes within bounds (a group flagged
    ``oversize`` may exceed the maximum by one, except taxis); a departure group shares one wave
    and one transport class, and nobody's detour exceeds the cap; an arrival group's meeting time
    is inside every member's window and unlocked groups' windows share the minimum overlap;
    nobody is grouped with someone either of them avoids.
    """
    rules = rules or MatchingRules()
    by_id: Mapping[str, Attendee] = {a.id: a for a in attendees}
    problems: list[str] = []
    seen: dict[GroupKind, set[str]] = {kind: set() for kind in GroupKind}
    for group in groups:
        label = f"{group.kind.value} group {group.id}"
        for member in group.members:
            if member in seen[group.kind]:
                problems.append(f"{member} is in two {group.kind.value} groups")
            seen[group.kind].add(member)
        members = [by_id[m] for m in group.members]
        class_name = group.transport_class if group.kind is GroupKind.DEPARTURE else None
        limit = (
            event.rescue_size(class_name) if OVERSIZE in group.flags else event.max_size(class_name)
        )
        if not event.sizes.minimum <= group.size <= limit:
            problems.append(f"{label} has {group.size} members (limit {limit})")
        for a in members:
            for b in members:
                if a.id < b.id and (b.id in a.avoid or a.id in b.avoid):
                    problems.append(f"{label} groups {a.id} with {b.id}, who avoid each other")
        if group.kind is GroupKind.DEPARTURE:
            classes = {departure_class(m) for m in members}
            if len(classes) > 1 or classes != {group.transport_class}:
                problems.append(f"{label} mixes transport classes {sorted(classes)}")
            if {m.departure_wave for m in members} != {group.wave_id}:
                problems.append(f"{label} mixes departure waves")
            drivers = [m for m in members if is_driver(m)]
            if len(drivers) > 1:
                problems.append(f"{label} has {len(drivers)} drivers")
            elif drivers and group.size > drivers[0].seats + 1:
                problems.append(
                    f"{label} has {group.size - 1} passengers for {drivers[0].seats} seats"
                )
            chain = departure_chain(event.venue, members, rules)
            if chain is not None and not chain.feasible:
                problems.append(f"{label} has a detour of {max(chain.detours):.2f}")
        else:
            if any(m.arrival is None for m in members):
                problems.append(f"{label} has a member without an arrival window")
                continue
            meeting = group.meeting_time
            if any(not m.arrival.start <= meeting <= m.arrival.end for m in members):
                problems.append(f"{label} meets outside a member's window")
            overlap = min(m.arrival.end for m in members) - max(m.arrival.start for m in members)
            if not group.locked and overlap < rules.min_arrival_overlap:
                problems.append(f"{label} windows overlap by only {overlap}")
    return problems


def group_cost(
    event: Event,
    group: Group,
    attendees: Mapping[str, Attendee],
    rules: MatchingRules | None = None,
) -> float:
    """The objective's cost of one group of two or more (its share of the total)."""
    rules = rules or MatchingRules()
    weights = rules.weights
    members = [attendees[m] for m in group.members]
    cost = size_penalty(group.size, event.sizes, event.max_size(group.transport_class), weights)
    if group.kind is GroupKind.ARRIVAL:
        meeting = to_minutes(group.meeting_time)
        preferred = [to_minutes(m.arrival.preferred_time) for m in members if m.arrival]
        return cost + weights.arrival_gap * sum(arrival_gaps(meeting, preferred))
    chain = departure_chain(event.venue, members, rules)
    if chain is None:
        return cost
    return cost + weights.detour * sum(chain.detours) + weights.solo_leg * chain.solo_leg_km
