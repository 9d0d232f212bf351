"""The matching engine: arrival and departure groups that minimise the objective.

The problem splits into independent sub-problems: all arrivals together, and departures per
(departure wave, transport class). Each sub-problem is solved in five steps, deterministic for a
given input and seed (the seed only orders the local search; nothing depends on the clock):

1. **Construct**: sort the pool along a 1-D order that keeps good companions close (departures:
   an angular sweep around the venue, nearest first along each bearing; arrivals: preferred
   time) and cut it into groups optimally for that order by dynamic programming.
2. **Improve**: local search over pairs of nearby groups (nearest group centroids). Each step
   re-partitions the members of two groups in the best possible way: this covers moving one
   member, swapping two, merging two groups and anything in between. Only pairs touching a
   group changed in the previous pass are revisited, until nothing improves.
3. **Rescue**: whoever is still alone joins the compatible group where she adds least, up to the
   maximum plus one (not for taxis); otherwise she is reported with the reason.
4. **Refine**: large-neighbourhood search. Each group with a cost and its nearest groups, up
   to ten members, are re-partitioned *optimally* (dynamic programming over the subsets of
   those members). This finds the chains of moves through three to five groups that pairwise
   re-partitions cannot see; then steps 2 and 3 run again.
5. **Exact**: a pool of up to 100 people with no announced group is solved as a set-partitioning
   programme by CP-SAT (:mod:`matching.partition`), seeded with the groups of steps 1-4, which
   stand unless it finds better. Its budget, in CP-SAT's deterministic work units, is shared by
   the round's pools and shrinks as the event grows (a small event gets its optimum; 1,000
   attendees stay within 2 s). ``match(..., exact=False)`` skips it.

Departure costs use each group's best drop-off order (:func:`matching.objective.best_order`);
a driver who offers seats is a type of her own, and car groups (drivers who offer none) cost
only their size.

Steps 2 and 4 share a work budget proportional to the sub-problem's size (units of work are
counted, never a clock, so the same input still gives the same groups): realistic instances
converge well within it; instances with thousands of distinct destinations stop there.

Costs come from :mod:`matching.objective` and are memoised by the *types* of the members
(their destination, or their arrival window), which repeat a lot: attendees give neighbourhoods,
not addresses. Locked groups keep their members and may only grow.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from matching.geo import EARTH_RADIUS_KM, distance_table, haversine_km, local_xy_km
from matching.model import (
    OVERSIZE,
    WANTS_VOLUNTEER,
    Attendee,
    Event,
    Group,
    GroupKind,
    MatchingRules,
    Point,
    Unplaced,
    UnplacedReason,
    departure_class,
    from_minutes,
    group_id,
    is_driver,
    to_minutes,
)
from matching.objective import (
    EXHAUSTIVE_ORDER_MAX,
    CostReport,
    arrival_meeting_minutes,
    best_order,
    departure_chain,
    evaluate,
    size_penalty,
)
from matching.partition import (  # imports ortools once, if present
    COLUMN_LIMIT,
    EXACT_MAX_PEOPLE,
    TooBig,
    cp_model,
    pool_columns,
    solve_partition,
)

INFEASIBLE = math.inf
_IMPROVEMENT = 1e-9
_MAX_REPARTITION = 10  # members of two groups re-partitioned exhaustively
_NEIGHBOURS = 6  # nearby groups examined for each group
_REGION_SIZE = 10  # members of a region re-solved exactly
_LAZY_TABLE_ABOVE = 1500  # distinct destinations beyond which distances are computed on demand
_ORDERS_UP_TO_TYPES = 1500  # distinct destinations up to which the search tries every order
# Work budget of a sub-problem, in units of work (a split of two groups examined, a candidate
# group or a state of the exact region solver): a floor, plus so much per member. Counting
# work instead of reading a clock keeps the engine deterministic; realistic instances (people
# give neighbourhoods, which repeat) converge well within it, and it caps the pathological
# ones (thousands of distinct destinations), whose time would otherwise grow faster than n.
_WORK_FLOOR = 50_000
_WORK_PER_MEMBER = 400
# Share of the budget the first local search may use, then the exact regions; the final local
# search and the rescues use what is left (the rescues always run: nobody alone comes first).
_IMPROVE_SHARE, _REFINE_SHARE = 0.5, 0.85
# The exact solver's budget for a round, in CP-SAT's deterministic work units (about a second
# each here; not the clock, so the same input gives the same groups): ``_EXACT_ROUND_WORK``
# divided by the number of attendees n (at most ``_EXACT_ROUND_CAP``), and beyond
# ``_EXACT_FULL_UP_TO`` attendees divided again by n / _EXACT_FULL_UP_TO, since the heuristic's
# own time grows with n; each pool takes what it needs, in order, from what is left. A
# wall-clock limit is a safety net far above it. Small events get their optimum; large ones
# keep their time (1,000 attendees within 2 s, with 0.3 units).
_EXACT_ROUND_WORK = 600.0
_EXACT_FULL_UP_TO = 500
_EXACT_ROUND_CAP = 8.0
_EXACT_MAX_SECONDS = 30.0
_COLUMNS_PER_WORK = 6_000  # candidate groups enumerated per unit of budget left, at most
# A departure group's members are among the destinations nearest its first member's (where
# every destination differs, e.g. people spread all around the venue, this keeps the candidate
# groups to a few thousand per hundred people; where destinations repeat it changes nothing).
_EXACT_NEIGHBOURS = (20, 12, 8)


@dataclass(frozen=True, slots=True)
class Matching:
    """The result of a round: groups of both kinds, who is alone and why, and the cost."""

    arrival_groups: tuple[Group, ...]
    departure_groups: tuple[Group, ...]
    unplaced: tuple[Unplaced, ...]
    report: CostReport

    @property
    def groups(self) -> tuple[Group, ...]:
        return self.arrival_groups + self.departure_groups


# ----------------------------------------------------------------------------------------------
# Sub-problems: members, their cost types, and how to cost a group of types.


@dataclass
class _SubProblem:
    """Members who may share groups, with everything needed to cost any group of them."""

    kind: GroupKind
    key: str  # "arrival" or "departure:<wave>:<class>", also seeds the RNG
    attendees: list[Attendee]  # pool first, then members of locked groups
    types: list[int]  # cost type of each member; sorted types give the cost order
    features: np.ndarray  # (n, d) positions for finding nearby groups
    sweep: list[int]  # pool members in construction order
    locked: list[tuple[Group, list[int]]]  # locked groups and their member indices
    regular_max: int
    rescue_max: int
    group_cost: Callable[[tuple[int, ...], float | None], float]  # (types, anchor) -> cost
    min_size: int = 2
    avoid: dict[int, set[int]] = field(default_factory=dict)
    class_name: str | None = None
    wave_id: str | None = None


def _size_costs(event: Event, rules: MatchingRules, class_name: str | None) -> list[float]:
    """Size part of the cost by group size, up to a generous bound (locked groups can be big)."""
    regular = event.max_size(class_name)
    costs = [0.0, rules.weights.alone]
    for size in range(2, 4 * event.rescue_size(class_name) + 1):
        allowed = size >= event.sizes.minimum
        costs.append(
            size_penalty(size, event.sizes, regular, rules.weights) if allowed else INFEASIBLE
        )
    return costs


class _Distances:
    """Distances between a sub-problem's distinct destinations: a table, or on demand.

    Attendees give neighbourhoods, so a sub-problem has a few hundred distinct destinations at
    most and the table (one vectorised call) is the rule; thousands of distinct points (exact
    positions) switch to cached scalar haversines to keep memory flat.
    """

    def __init__(self, lats: np.ndarray, lons: np.ndarray) -> None:
        self.table = distance_table(lats, lons).tolist() if len(lats) <= _LAZY_TABLE_ABOVE else None
        self.radians = [(math.radians(a), math.radians(b)) for a, b in zip(lats, lons, strict=True)]
        self.cosines = [math.cos(lat) for lat, _ in self.radians]
        self.count = len(self.radians)
        # Keyed by ``low * count + high``: an int hashes faster than a pair in the hot loop.
        self.cache: dict[int, float] = {}

    def __call__(self, a: int, b: int) -> float:
        if self.table is not None:
            return self.table[a][b]
        low, high = (a, b) if a < b else (b, a)
        found = self.cache.get(low * self.count + high)
        return self.compute(low, high) if found is None else found

    def compute(self, low: int, high: int) -> float:
        """Haversine between two distinct destinations (``low <= high``), then cached."""
        (lat1, lon1), (lat2, lon2) = self.radians[low], self.radians[high]
        sin_dlat, sin_dlon = math.sin((lat2 - lat1) / 2.0), math.sin((lon2 - lon1) / 2.0)
        h = sin_dlat * sin_dlat + self.cosines[low] * self.cosines[high] * sin_dlon * sin_dlon
        found = 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(h, 1.0)))
        self.cache[low * self.count + high] = found
        return found


def _departure_problem(
    event: Event,
    rules: MatchingRules,
    wave_id: str,
    class_name: str,
    pool: list[Attendee],
    locked: list[Group],
    by_id: dict[str, Attendee],
) -> _SubProblem:
    members = list(pool)
    locked_indices = []
    for group in locked:
        indices = list(range(len(members), len(members) + group.size))
        members.extend(by_id[m] for m in group.members)
        locked_indices.append((group, indices))
    venue = event.venue
    # Members without a destination stand at the venue: they peel off first, at no cost. A
    # driver who offers seats is a type of her own (she comes last, and has her seats).
    points = [m.destination or venue for m in members]
    keys = [
        (p.lat, p.lon, m.id if is_driver(m) else "") for p, m in zip(points, members, strict=True)
    ]
    distinct = sorted(set(keys))
    lats = np.array([c[0] for c in distinct], dtype=float)
    lons = np.array([c[1] for c in distinct], dtype=float)
    direct = haversine_km(venue.lat, venue.lon, lats, lons)
    drivers = np.array([1 if c[2] else 0 for c in distinct])
    # Types ordered by distance: sorted types give the nearest-first order.
    rank = np.lexsort((np.arange(len(distinct)), drivers, lons, lats, direct))
    distinct = [distinct[i] for i in rank]
    lats, lons, direct = lats[rank], lons[rank], direct[rank]
    type_of_key = {c: i for i, c in enumerate(distinct)}
    types = [type_of_key[k] for k in keys]
    seats_of = {m.id: m.seats for m in members if is_driver(m)}
    driver_seats = [seats_of[c[2]] if c[2] else 0 for c in distinct]
    xy = local_xy_km(lats, lons, venue)
    direct_list = direct.tolist()
    distances = _Distances(lats, lons)
    table = distances.table
    weights = rules.weights
    w_detour, w_solo = weights.detour, weights.solo_leg
    cap, driver_cap = rules.max_detour, rules.max_driver_detour
    size_costs = _size_costs(event, rules, class_name)
    car_park = class_name == "car"  # drivers without seats: no drop-off chain
    # Thousands of distinct destinations (exact positions, not neighbourhoods): costs are not
    # shared between groups, so the search costs groups nearest-first, which is cheaper; the
    # groups it returns are still told (and evaluated) in their best order.
    exhaustive_max = EXHAUSTIVE_ORDER_MAX if len(distinct) <= _ORDERS_UP_TO_TYPES else 0

    cached, compute, count = distances.cache.get, distances.compute, distances.count

    def nearest_first(group_types: tuple[int, ...]) -> float:
        travelled = direct_list[group_types[0]]
        detour_sum, leg = 0.0, 0.0
        for j in range(1, len(group_types)):
            current, previous = group_types[j], group_types[j - 1]
            if table is not None:
                leg = table[previous][current]
            else:
                leg = cached(previous * count + current)
                if leg is None:
                    leg = compute(previous, current)
            travelled += leg
            straight = direct_list[current]
            if straight > 1e-6:
                detour = travelled / straight - 1.0
                if detour > cap + 1e-9:
                    return INFEASIBLE
                if detour > 0.0:
                    detour_sum += detour
        return w_detour * detour_sum + w_solo * leg

    def group_cost(group_types: tuple[int, ...], anchor: float | None) -> float:
        # ``group_types`` is sorted: nearest first.
        size = len(group_types)
        if size == 1:
            return weights.alone
        if car_park:
            return size_costs[size]
        last = None
        for position, t in enumerate(group_types):
            if driver_seats[t]:
                if last is not None or size > driver_seats[t] + 1:
                    return INFEASIBLE
                last = position
        if not exhaustive_max and last is None:
            return nearest_first(group_types) + size_costs[size]
        if table is not None:
            rows = [table[t] for t in group_types]
            between = [[row[u] for u in group_types] for row in rows]
        else:
            between = [[distances(t, u) for u in group_types] for t in group_types]
        cost, _ = best_order(
            [direct_list[t] for t in group_types],
            between,
            last,
            cap,
            driver_cap,
            w_detour,
            w_solo,
            exhaustive_max,
        )
        return cost + size_costs[size]

    # Sweep: by bearing from the venue, then distance; start in the widest empty sector.
    bearing = np.arctan2(xy[:, 0], xy[:, 1])
    pool_order = sorted(range(len(pool)), key=lambda i: (bearing[types[i]], types[i], i))
    if pool_order:
        angles = [bearing[types[i]] for i in pool_order]
        gaps = [
            (angles[(j + 1) % len(angles)] - angles[j]) % (2 * math.pi) for j in range(len(angles))
        ]
        widest = max(range(len(gaps)), key=lambda j: (gaps[j], -j))
        pool_order = pool_order[widest + 1 :] + pool_order[: widest + 1]
    return _SubProblem(
        kind=GroupKind.DEPARTURE,
        key=f"departure:{wave_id}:{class_name}",
        attendees=members,
        types=types,
        features=xy[types],
        sweep=pool_order,
        locked=locked_indices,
        regular_max=event.max_size(class_name),
        min_size=event.sizes.minimum,
        rescue_max=event.rescue_size(class_name),
        group_cost=group_cost,
        avoid=_avoid_index(members),
        class_name=class_name,
        wave_id=wave_id,
    )


def _arrival_problem(
    event: Event,
    rules: MatchingRules,
    pool: list[Attendee],
    windows: dict[str, tuple[float, float, float]],
    locked: list[Group],
    by_id: dict[str, Attendee],
) -> _SubProblem:
    members = list(pool)
    locked_indices = []
    for group in locked:
        indices = list(range(len(members), len(members) + group.size))
        members.extend(by_id[m] for m in group.members)
        locked_indices.append((group, indices))
    triples = [windows[m.id] for m in members]
    distinct = sorted(set(triples), key=lambda t: (t[2], t[0], t[1]))
    type_of = {t: i for i, t in enumerate(distinct)}
    types = [type_of[t] for t in triples]
    starts = [t[0] for t in distinct]
    ends = [t[1] for t in distinct]
    preferred = [t[2] for t in distinct]
    overlap = rules.min_arrival_overlap.total_seconds() / 60.0
    step = rules.meeting_time_step.total_seconds() / 60.0
    gap_weight = rules.weights.arrival_gap
    size_costs = _size_costs(event, rules, None)

    def group_cost(group_types: tuple[int, ...], anchor: float | None) -> float:
        size = len(group_types)
        if size == 1:
            return rules.weights.alone
        if anchor is None:
            anchor = arrival_meeting_minutes(
                [starts[t] for t in group_types],
                [ends[t] for t in group_types],
                [preferred[t] for t in group_types],
                overlap,
                step,
            )
            if anchor is None:
                return INFEASIBLE
        elif any(not starts[t] - 1e-9 <= anchor <= ends[t] + 1e-9 for t in group_types):
            return INFEASIBLE
        return gap_weight * sum(abs(anchor - preferred[t]) for t in group_types) + size_costs[size]

    pool_order = sorted(range(len(pool)), key=lambda i: (types[i], i))
    features = np.array([[preferred[t] / 10.0] for t in types], dtype=float).reshape(-1, 1)
    return _SubProblem(
        kind=GroupKind.ARRIVAL,
        key="arrival",
        attendees=members,
        types=types,
        features=features,
        sweep=pool_order,
        locked=locked_indices,
        regular_max=event.max_size(None),
        min_size=event.sizes.minimum,
        rescue_max=event.rescue_size(None),
        group_cost=group_cost,
        avoid=_avoid_index(members),
    )


def _avoid_index(members: Sequence[Attendee]) -> dict[int, set[int]]:
    index = {m.id: i for i, m in enumerate(members)}
    avoid: dict[int, set[int]] = {}
    for i, member in enumerate(members):
        for other in member.avoid:
            j = index.get(other)
            if j is not None and j != i:
                avoid.setdefault(i, set()).add(j)
                avoid.setdefault(j, set()).add(i)
    return avoid


# ----------------------------------------------------------------------------------------------
# The solver of one sub-problem.


@dataclass
class _Group:
    members: list[int]
    anchor: float | None = None  # a locked arrival group's meeting time (minutes)
    required: frozenset[int] = frozenset()  # a locked group's original members
    locked: Group | None = None
    cost: float = 0.0


_SPLITS: dict[tuple[int, int, bool], list[tuple[tuple[int, ...], tuple[int, ...]]]] = {}


def _splits(
    size: int, limit: int, pin_first: bool
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """All ways to split ``size`` positions in two parts of at most ``limit`` each (cached).

    With ``pin_first`` the first position stays in the first part (the two parts are then
    interchangeable, so this halves the work).
    """
    key = (size, limit, pin_first)
    found = _SPLITS.get(key)
    if found is None:
        found = []
        for mask in range(1 << size):
            if pin_first and not mask & 1:
                continue
            first = tuple(i for i in range(size) if mask >> i & 1)
            second = tuple(i for i in range(size) if not mask >> i & 1)
            if len(first) <= limit and len(second) <= limit:
                found.append((first, second))
        _SPLITS[key] = found
    return found


class _Centroids:
    """Group centroids in an array that follows the groups as they change."""

    def __init__(self, features: np.ndarray) -> None:
        self.features = features
        self.rows: dict[int, int] = {}
        self.ids: list[int] = []
        self.points = np.zeros((16, features.shape[1]))
        self.alive = np.zeros(16, dtype=bool)

    def update(self, gid: int, members: Sequence[int] | None) -> None:
        row = self.rows.get(gid)
        if members is None or not members:
            if row is not None:
                self.alive[row] = False
            return
        if row is None:
            row = len(self.ids)
            if row == len(self.alive):
                self.points = np.vstack([self.points, np.zeros_like(self.points)])
                self.alive = np.concatenate([self.alive, np.zeros_like(self.alive)])
            self.rows[gid] = row
            self.ids.append(gid)
        self.points[row] = self.features[members].mean(axis=0)
        self.alive[row] = True

    def nearest(self, gid: int, count: int) -> list[int]:
        """Up to ``count`` other live groups, nearest first (ties by group id)."""
        used = len(self.ids)
        d2 = ((self.points[:used] - self.points[self.rows[gid]]) ** 2).sum(axis=1)
        d2[~self.alive[:used]] = np.inf
        d2[self.rows[gid]] = np.inf
        count = min(count, int(self.alive[:used].sum()) - 1)
        if count <= 0:
            return []
        near = np.argpartition(d2, count - 1)[:count] if count < used else np.arange(used)
        near = sorted(near.tolist(), key=lambda r: (d2[r], self.ids[r]))
        return [self.ids[r] for r in near if np.isfinite(d2[r])]


class _Solver:
    """Construct, improve, rescue and refine the groups of one sub-problem."""

    def __init__(self, problem: _SubProblem, rules: MatchingRules, seed: int) -> None:
        self.problem = problem
        self.rules = rules
        self.rng = random.Random(seed * 1_000_003 + zlib.crc32(problem.key.encode()))
        self.memo: dict[float | None, dict[tuple[int, ...], float]] = {}
        self.groups: dict[int, _Group] = {}
        self.centroids = _Centroids(problem.features)
        self.next_id = 0
        self.examined: set[frozenset] = set()  # regions already solved exactly, unchanged since
        self.work = 0  # units of work done so far (see _WORK_FLOOR)
        self.budget = _WORK_FLOOR + _WORK_PER_MEMBER * len(problem.attendees)

    # -- costs ---------------------------------------------------------------------------------

    def cost_types(self, types: tuple[int, ...], anchor: float | None) -> float:
        memo = self.memo.get(anchor)
        if memo is None:
            memo = self.memo[anchor] = {}
        found = memo.get(types)
        if found is None:
            found = memo[types] = self.problem.group_cost(types, anchor)
        return found

    def cost_of(self, members: Sequence[int], anchor: float | None) -> float:
        if not members:
            return 0.0
        types = self.problem.types
        cost = self.cost_types(tuple(sorted([types[m] for m in members])), anchor)
        if cost != INFEASIBLE and self.problem.avoid and self._conflict(members):
            return INFEASIBLE
        return cost

    def _conflict(self, members: Iterable[int]) -> bool:
        avoid = self.problem.avoid
        members = list(members)
        for m in members:
            others = avoid.get(m)
            if others and any(o in others for o in members):
                return True
        return False

    def _add(self, group: _Group) -> int:
        gid = self.next_id
        self.next_id += 1
        group.cost = self.cost_of(group.members, group.anchor)
        self.groups[gid] = group
        self.centroids.update(gid, group.members)
        return gid

    def _set(self, gid: int, members: list[int], cost: float) -> None:
        if members:
            self.groups[gid].members = members
            self.groups[gid].cost = cost
            self.centroids.update(gid, members)
        else:
            del self.groups[gid]
            self.centroids.update(gid, None)

    # -- 1. construct --------------------------------------------------------------------------

    def construct(self) -> None:
        problem = self.problem
        for locked, indices in problem.locked:
            anchor = to_minutes(locked.meeting_time) if problem.kind is GroupKind.ARRIVAL else None
            self._add(_Group(list(indices), anchor, frozenset(indices), locked))
        for members in self._segment(problem.sweep):
            self._add(_Group(members))

    def _segment(self, order: Sequence[int]) -> list[list[int]]:
        """Optimal cut of ``order`` into consecutive groups (dynamic programming)."""
        limit = self.problem.regular_max
        best = [0.0] + [INFEASIBLE] * len(order)
        cut = [0] * (len(order) + 1)
        for end in range(1, len(order) + 1):
            for size in range(1, min(limit, end) + 1):
                cost = best[end - size] + self.cost_of(order[end - size : end], None)
                if cost < best[end]:
                    best[end], cut[end] = cost, end - size
        groups, end = [], len(order)
        while end > 0:
            groups.append(list(order[cut[end] : end]))
            end = cut[end]
        return groups[::-1]

    # -- 2. improve: best re-partition of pairs of nearby groups -------------------------------

    def improve(self, until: float, max_passes: int = 50) -> None:
        """Pairwise re-partitions until nothing improves, or the work reaches ``until``."""
        dirty = set(self.groups)
        for _ in range(max_passes):
            pairs = set()
            for gid in sorted(dirty):
                if gid in self.groups:
                    for other in self.centroids.nearest(gid, _NEIGHBOURS):
                        pairs.add((gid, other) if gid < other else (other, gid))
            ordered = sorted(pairs)
            self.rng.shuffle(ordered)
            dirty = set()
            for a, b in ordered:
                if self.work >= until:
                    return
                if a in self.groups and b in self.groups and self._repartition(a, b):
                    dirty.update((a, b))
            dirty &= set(self.groups)
            if not dirty:
                return

    def _repartition(self, a: int, b: int) -> bool:
        """Best split of the members of groups ``a`` and ``b`` in two; apply it if better."""
        first, second = self.groups[a], self.groups[b]
        current = first.cost + second.cost
        if current <= _IMPROVEMENT:
            return False  # costs are never negative
        members = first.members + second.members
        if len(members) > _MAX_REPARTITION:
            return False
        types = self.problem.types
        members.sort(key=types.__getitem__)
        sorted_types = [types[m] for m in members]
        pinned = first.locked is None and second.locked is None
        limit = max(self.problem.regular_max, len(first.required), len(second.required))
        check_avoid = bool(self.problem.avoid) and any(m in self.problem.avoid for m in members)
        cost_types = self.cost_types
        anchor_a, anchor_b = first.anchor, second.anchor
        best, best_split = current - _IMPROVEMENT, None
        splits = _splits(len(members), limit, pinned)
        self.work += len(splits)
        for part_a, part_b in splits:
            if not pinned:
                group_a = {members[i] for i in part_a}
                if not first.required <= group_a or second.required & group_a:
                    continue
            cost_a = cost_types(tuple([sorted_types[i] for i in part_a]), anchor_a)
            if cost_a >= best:
                continue
            cost = cost_a + (
                cost_types(tuple([sorted_types[i] for i in part_b]), anchor_b) if part_b else 0.0
            )
            if cost < best:
                if check_avoid and (
                    self._conflict(members[i] for i in part_a)
                    or self._conflict(members[i] for i in part_b)
                ):
                    continue
                best, best_split = cost, (part_a, part_b, cost_a)
        if best_split is None:
            return False
        part_a, part_b, cost_a = best_split
        self._set(a, [members[i] for i in part_a], cost_a)
        group_b = [members[i] for i in part_b]
        self._set(b, group_b, self.cost_of(group_b, anchor_b) if group_b else 0.0)
        return True

    # -- 3. rescue -----------------------------------------------------------------------------

    def rescue(self) -> None:
        """Put whoever is alone into the group where she adds least (the maximum may go +1)."""
        alone = sorted(
            g
            for g, group in self.groups.items()
            if len(group.members) == 1 and group.locked is None
        )
        for single in alone:
            if single not in self.groups or len(self.groups[single].members) != 1:
                continue
            person = self.groups[single].members[0]
            best, target = INFEASIBLE, None
            for g, group in sorted(self.groups.items()):
                if g == single or len(group.members) >= self.problem.rescue_max:
                    continue
                added = self.cost_of([*group.members, person], group.anchor) - group.cost
                if added < best:
                    best, target = added, g
            if target is not None and best < self.rules.weights.alone:
                group = self.groups[target]
                members = [*group.members, person]
                self._set(target, members, self.cost_of(members, group.anchor))
                self._set(single, [], 0.0)

    # -- 4. refine: solve small regions exactly ------------------------------------------------

    def refine(self, max_passes: int, region_size: int, until: float) -> None:
        """Large-neighbourhood search: re-solve each region of nearby groups to optimality.

        A region is a group with a cost and its nearest unlocked groups, up to ``region_size``
        members; its members are re-partitioned optimally over every feasible group among them
        (dynamic programming over subsets). This finds the chains of moves between three to five
        groups that pairwise re-partitions cannot see. Stops when the work reaches ``until``.
        """
        for _ in range(max_passes):
            seeds = sorted(
                g
                for g, group in self.groups.items()
                if group.cost > _IMPROVEMENT and group.locked is None
            )
            self.rng.shuffle(seeds)
            improved = False
            for seed_group in seeds:
                if self.work >= until:
                    return
                if seed_group in self.groups and self._solve_region(seed_group, region_size):
                    improved = True
            if not improved:
                return

    def _solve_region(self, seed_group: int, region_size: int) -> bool:
        region = [seed_group]
        size = len(self.groups[seed_group].members)
        for other in self.centroids.nearest(seed_group, 12):
            group = self.groups[other]
            if group.locked is None and size + len(group.members) <= region_size:
                region.append(other)
                size += len(group.members)
        if len(region) < 2:
            return False
        signature = frozenset(tuple(sorted(self.groups[g].members)) for g in region)
        if signature in self.examined:
            return False
        current = sum(self.groups[g].cost for g in region)
        members = sorted(
            (m for g in region for m in self.groups[g].members), key=self.problem.types.__getitem__
        )
        best_cost, parts = self._exact_partition(members)
        if best_cost >= current - _IMPROVEMENT:
            self.examined.add(signature)
            return False
        for g in region:
            self._set(g, [], 0.0)
        for part in parts:
            self._add(_Group(part))
        return True

    def _exact_partition(self, members: list[int]) -> tuple[float, list[list[int]]]:
        """Optimal partition of a few members (sorted by type) into groups."""
        types = self.problem.types
        count = len(members)
        limit = self.problem.regular_max
        minimum = self.problem.min_size
        check_avoid = bool(self.problem.avoid) and any(m in self.problem.avoid for m in members)
        by_lowest: list[list[tuple[int, float]]] = [[] for _ in range(count)]

        def grow(start: int, mask: int, chosen: list[int], lowest: int) -> None:
            for j in range(start, count):
                candidate = [*chosen, j]
                cost = self.cost_types(tuple(types[members[i]] for i in candidate), None)
                if cost == INFEASIBLE:
                    if len(candidate) >= minimum:
                        continue  # no larger group can be feasible either
                elif not (check_avoid and self._conflict(members[i] for i in candidate)):
                    by_lowest[lowest if chosen else j].append((mask | 1 << j, cost))
                if len(candidate) < limit:
                    grow(j + 1, mask | 1 << j, candidate, lowest if chosen else j)

        grow(0, 0, [], 0)
        best: dict[int, tuple[float, int]] = {0: (0.0, 0)}

        def solve(mask: int) -> float:
            found = best.get(mask)
            if found is not None:
                return found[0]
            lowest = (mask & -mask).bit_length() - 1
            value, column = INFEASIBLE, 0
            for column_mask, cost in by_lowest[lowest]:
                if column_mask & mask == column_mask and cost < value:
                    total = cost + solve(mask ^ column_mask)
                    if total < value:
                        value, column = total, column_mask
            best[mask] = (value, column)
            return value

        full = (1 << count) - 1
        value = solve(full)
        self.work += sum(map(len, by_lowest)) + len(best)
        parts, mask = [], full
        while mask:
            column = best[mask][1]
            parts.append([members[i] for i in range(count) if column >> i & 1])
            mask ^= column
        return value, parts

    def solve(self) -> list[_Group]:
        self.construct()
        self.improve(until=_IMPROVE_SHARE * self.budget)
        self.rescue()
        self.refine(max_passes=4, region_size=_REGION_SIZE, until=_REFINE_SHARE * self.budget)
        self.improve(until=self.budget)
        self.rescue()
        return [self.groups[g] for g in sorted(self.groups)]


# ----------------------------------------------------------------------------------------------
# The round: split into sub-problems, solve each, turn the result into groups.


def _unplaced_reason(problem: _SubProblem, solver: _Solver, person: int) -> UnplacedReason:
    """Why ``person`` ended alone: the first obstacle found, in order of how final it is."""
    others = [g for g in solver.groups.values() if person not in g.members]
    if not others:
        return UnplacedReason.NO_COMPATIBLE_COMPANION
    fits = []  # groups she could join but for their size or the people she avoids
    for group in others:
        types = tuple(sorted([*(problem.types[m] for m in group.members), problem.types[person]]))
        if problem.group_cost(types, group.anchor) != INFEASIBLE:
            fits.append(group)
    if not fits:
        if problem.kind is GroupKind.ARRIVAL:
            return UnplacedReason.NO_OVERLAPPING_ARRIVAL
        return UnplacedReason.NOBODY_HEADING_HER_WAY
    avoided = problem.avoid.get(person, set())
    if all(any(m in avoided for m in g.members) for g in fits):
        return UnplacedReason.ONLY_AVOIDED_COMPANIONS
    return UnplacedReason.GROUPS_FULL


def _make_group(
    event: Event,
    problem: _SubProblem,
    group: _Group,
    windows: dict[str, tuple[float, float, float]],
    rules: MatchingRules,
    reference_time: datetime,
) -> Group:
    attendees = [problem.attendees[m] for m in group.members]
    flags = set()
    if any(WANTS_VOLUNTEER in a.flags for a in attendees):
        flags.add(WANTS_VOLUNTEER)
    if len(attendees) > problem.regular_max:
        flags.add(OVERSIZE)
    if problem.kind is GroupKind.ARRIVAL:
        attendees.sort(key=lambda a: (windows[a.id][2], a.id))
        if group.locked is not None:
            meeting = group.locked.meeting_time
        else:
            minutes = arrival_meeting_minutes(
                [windows[a.id][0] for a in attendees],
                [windows[a.id][1] for a in attendees],
                [windows[a.id][2] for a in attendees],
                rules.min_arrival_overlap.total_seconds() / 60.0,
                rules.meeting_time_step.total_seconds() / 60.0,
            )
            like = attendees[0].arrival.start if attendees[0].arrival else reference_time
            meeting = from_minutes(minutes, like)
    else:
        order = {m: problem.types[m] for m in group.members}
        ranked = sorted(group.members, key=lambda m: (order[m], problem.attendees[m].id))
        attendees = [problem.attendees[m] for m in ranked]
        chain = departure_chain(event.venue, attendees, rules)
        if chain is not None:  # members in drop-off order, the driver (if any) last
            attendees = [attendees[i] for i in chain.order]
        wave = event.wave(problem.wave_id)
        meeting = group.locked.meeting_time if group.locked else wave.time
    members = tuple(a.id for a in attendees)
    if group.locked is not None:
        locked = group.locked
        return Group(
            id=locked.id,
            kind=locked.kind,
            members=members,
            meeting_time=locked.meeting_time,
            meeting_point_id=locked.meeting_point_id,
            wave_id=locked.wave_id,
            transport_class=locked.transport_class,
            locked=True,
            flags=frozenset(flags) | (locked.flags - {OVERSIZE}),
        )
    return Group(
        id=group_id(problem.kind, members),
        kind=problem.kind,
        members=members,
        meeting_time=meeting,
        meeting_point_id=choose_meeting_point(event, [a.destination for a in attendees]),
        wave_id=problem.wave_id,
        transport_class=problem.class_name,
        flags=frozenset(flags),
    )


def choose_meeting_point(event: Event, destinations: Iterable[Point | None]) -> str | None:
    """The meeting point on the side the members head to (nearest to their destinations).

    Members came from, and go back to, roughly where they live: the exit on that side of the
    venue is the natural place to meet. Without any destination, the first meeting point.
    """
    if not event.meeting_points:
        return None
    points = [d for d in destinations if d is not None]
    if not points:
        return event.meeting_points[0].id
    lats = np.array([p.lat for p in points])
    lons = np.array([p.lon for p in points])
    totals = [
        float(haversine_km(mp.point.lat, mp.point.lon, lats, lons).sum())
        for mp in event.meeting_points
    ]
    return event.meeting_points[int(np.argmin(totals))].id


def _arrival_windows(
    attendees: Iterable[Attendee], now: datetime | None, rules: MatchingRules
) -> dict[str, tuple[float, float, float]]:
    """Arrival windows in minutes, cut to what is still reachable when ``now`` is given."""
    earliest = None if now is None else to_minutes(now + rules.min_notice)
    windows = {}
    for a in attendees:
        if a.arrival is None:
            continue
        start, end = to_minutes(a.arrival.start), to_minutes(a.arrival.end)
        preferred = to_minutes(a.arrival.preferred_time)
        if earliest is not None and start < earliest:
            start = earliest
            preferred = min(max(preferred, start), end)
        windows[a.id] = (start, end, preferred)
    return windows


def match(
    event: Event,
    attendees: Sequence[Attendee],
    locked_groups: Sequence[Group] = (),
    rules: MatchingRules | None = None,
    seed: int = 0,
    now: datetime | None = None,
    exact: bool = True,
) -> Matching:
    """Run one matching round: group everyone in the pool, growing the locked groups.

    ``attendees`` are everyone signed up (members of locked groups included); ``locked_groups``
    are the announced ones: they keep their members and meeting time and may only grow. With
    ``now``, arrival windows are cut to what can still be reached (``rules.min_notice`` ahead).
    The same input and seed always give the same groups.
    """
    rules = rules or MatchingRules()
    by_id = {a.id: a for a in attendees}
    if len(by_id) != len(attendees):
        raise ValueError("attendee ids must be unique")
    for group in locked_groups:
        missing = [m for m in group.members if m not in by_id]
        if missing:
            raise ValueError(f"locked group {group.id} has unknown members {missing}")
    reference_time = (
        event.departure_waves[0].time
        if event.departure_waves
        else next((a.arrival.start for a in attendees if a.arrival), datetime(2000, 1, 1))
    )
    arrival_locked = [g for g in locked_groups if g.kind is GroupKind.ARRIVAL]
    departure_locked = [g for g in locked_groups if g.kind is GroupKind.DEPARTURE]
    in_arrival = {m for g in arrival_locked for m in g.members}
    in_departure = {m for g in departure_locked for m in g.members}
    windows = _arrival_windows(attendees, now, rules)
    unplaced: list[Unplaced] = []
    arrival_groups: list[Group] = []
    departure_groups: list[Group] = []

    # Arrivals: one sub-problem.
    overlap = rules.min_arrival_overlap.total_seconds() / 60.0
    arrival_pool = []
    for a in attendees:
        if a.arrival is None or a.id in in_arrival:
            continue
        start, end, _ = windows[a.id]
        if start > to_minutes(a.arrival.start) and end - start < overlap - 1e-9:
            unplaced.append(Unplaced(a.id, GroupKind.ARRIVAL, UnplacedReason.ARRIVAL_PASSED))
            continue
        arrival_pool.append(a)
    for a in (by_id[m] for m in in_arrival):
        if a.id not in windows:  # a locked member without a window keeps a fixed slot
            t = to_minutes(next(g.meeting_time for g in arrival_locked if a.id in g.members))
            windows[a.id] = (t, t, t)
    problem = _arrival_problem(event, rules, arrival_pool, windows, arrival_locked, by_id)
    # What is left of the exact solver's budget (see _EXACT_ROUND_WORK), shared by the pools.
    budget = None
    if exact:
        n = max(1, len(attendees))
        work = _EXACT_ROUND_WORK / n * min(1.0, _EXACT_FULL_UP_TO / n)
        budget = [min(_EXACT_ROUND_CAP, work)]
    arrival_groups.extend(
        _solve(event, problem, rules, seed, windows, reference_time, unplaced, budget)
    )

    # Departures: one sub-problem per (wave, transport class).
    waves = {w.id for w in event.departure_waves}
    pools: dict[tuple[str, str], list[Attendee]] = {}
    for a in attendees:
        if a.departure_wave is None or a.id in in_departure:
            continue
        if a.departure_wave not in waves:
            unplaced.append(Unplaced(a.id, GroupKind.DEPARTURE, UnplacedReason.UNKNOWN_WAVE))
            continue
        pools.setdefault((a.departure_wave, departure_class(a)), []).append(a)
    locked_by_key: dict[tuple[str, str], list[Group]] = {}
    for g in departure_locked:
        locked_by_key.setdefault((g.wave_id or "", g.transport_class or ""), []).append(g)
    for key in sorted(set(pools) | set(locked_by_key)):
        wave_id, class_name = key
        if wave_id not in waves:  # a locked group of a removed wave stays as it is
            departure_groups.extend(locked_by_key.get(key, []))
            continue
        problem = _departure_problem(
            event, rules, wave_id, class_name, pools.get(key, []), locked_by_key.get(key, []), by_id
        )
        departure_groups.extend(
            _solve(event, problem, rules, seed, windows, reference_time, unplaced, budget)
        )

    arrival_groups.sort(key=lambda g: (g.meeting_time, g.id))
    departure_groups.sort(key=lambda g: (g.wave_id or "", g.transport_class or "", g.id))
    unplaced.sort(key=lambda u: (u.kind.value, u.attendee_id))
    report = evaluate(event, attendees, arrival_groups + departure_groups, rules)
    return Matching(tuple(arrival_groups), tuple(departure_groups), tuple(unplaced), report)


def _solve(
    event: Event,
    problem: _SubProblem,
    rules: MatchingRules,
    seed: int,
    windows: dict[str, tuple[float, float, float]],
    reference_time: datetime,
    unplaced: list[Unplaced],
    exact: list[float] | None = None,
) -> list[Group]:
    solver = _Solver(problem, rules, seed)
    solved = solver.solve()
    if exact is not None:
        solved = _exact_pool(problem, solver, solved, seed, exact)
    groups = []
    for group in solved:
        if len(group.members) == 1 and group.locked is None:
            person = group.members[0]
            attendee = problem.attendees[person]
            reason = _unplaced_reason(problem, solver, person)
            unplaced.append(Unplaced(attendee.id, problem.kind, reason))
            continue
        groups.append(_make_group(event, problem, group, windows, rules, reference_time))
    return groups


def _exact_pool(
    problem: _SubProblem, solver: _Solver, groups: list[_Group], seed: int, budget: list[float]
) -> list[_Group]:
    """Exact set partitioning of a small pool (see :mod:`matching.partition`), seeded with the
    heuristic's groups; they stand if the solver finds nothing better (or ortools is missing)."""
    size = len(problem.sweep)
    if (
        problem.locked
        or not 3 <= size <= EXACT_MAX_PEOPLE
        or problem.class_name == "car"  # sizes only: the heuristic's cut is optimal
        or budget[0] <= 0.0
        or all(g.cost <= _IMPROVEMENT for g in groups)
    ):
        return groups
    if cp_model is None:  # ortools missing
        return groups

    def cost(types: tuple[int, ...]) -> float:
        return solver.cost_types(types, None)

    # Fewer candidate companions per group when there are too many groups to enumerate.
    for neighbours in _EXACT_NEIGHBOURS:
        try:
            found = pool_columns(
                problem,
                cost,
                # Groups over the maximum only rescue someone from being alone: the heuristic's
                # (in the hint, hence columns) are enough; enumerating them all would not be.
                problem.regular_max,
                min(COLUMN_LIMIT, int(_COLUMNS_PER_WORK * budget[0])),
                neighbours,
            )
            break
        except TooBig:
            continue
    else:
        return groups
    bases = [problem.types[members[0]] for members, _ in found.queues]
    current = sum(g.cost for g in groups)
    solved = solve_partition(
        found,
        cost,
        bases,
        [g.members for g in groups],
        budget[0],
        _EXACT_MAX_SECONDS,
        workers=1,
        seed=seed,
    )
    budget[0] -= solved[2] if solved is not None else budget[0]
    if solved is None:
        return groups
    better = [_Group(sorted(members)) for members in solved[0]]
    for group in better:
        group.cost = solver.cost_of(group.members, None)
    if sum(g.cost for g in better) >= current - _IMPROVEMENT:
        return groups
    solver.groups = dict(enumerate(better))
    return better


__all__ = ["Matching", "choose_meeting_point", "match"]
