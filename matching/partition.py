"""Exact set partitioning of one pool with CP-SAT, seeded with the heuristic's groups.

A pool (all arrivals, or the departures of one wave and transport class) of up to
:data:`EXACT_MAX_PEOPLE` people is solved as a set-partitioning programme: every feasible group
is enumerated as a *multiset of cost types* (attendees with the same destination or arrival
window are interchangeable; anyone who avoids someone, and any driver who offers seats, is a type
of her own), and an integer variable says how many such groups to form; each type's members are
covered exactly. Enumeration is depth first with pruning: a group infeasible at the minimum
size stays infeasible when members are added (the detour cap, arrival overlap, a second driver
or a driver's seats only get worse), and a group that two of its own parts cover as cheaply is
left out. The heuristic's groups are added as columns if they are missing and given as the
solution *hint*, so the solver starts from them and only returns something better.

Same input, same groups: CP-SAT runs with one worker, a fixed seed and a *deterministic* time
limit (``max_deterministic_time``, in its own work units, not the clock). A wall-clock limit
stays as a safety net, far above what a pool needs. Pools beyond the column limit are left to
the heuristic (local search with pairwise re-partitions, i.e. moves and swaps, and exact
re-solving of regions of nearby groups, i.e. ejection chains through up to five groups).

Needs ``ortools`` (a dependency of the package); without it the heuristic's groups stand.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from matching.model import GroupKind, is_driver

try:  # imported once, with the package, rather than in the middle of a round
    from ortools.sat.python import cp_model
except ImportError:  # pragma: no cover - ortools is a dependency; the heuristic stands
    cp_model = None

INFEASIBLE = float("inf")
#: Pools up to this many people are solved exactly (beyond, the heuristic alone).
EXACT_MAX_PEOPLE = 100
#: More feasible groups than this and the pool is left to the heuristic.
COLUMN_LIMIT = 30_000
COST_SCALE = 10_000  # CP-SAT works on integers: costs are rounded to 1/10,000 of a point


class TooBig(Exception):
    """More feasible groups than the column limit."""


@dataclass(frozen=True, slots=True)
class Columns:
    columns: list[tuple[int, ...]]  # multisets of keys, sorted
    costs: list[float]
    queues: list[tuple[list[int], int]]  # per key: its members (indices) and how many
    key_of: list[int]  # key of each member index


def enumerate_columns(
    types: Sequence[int],
    own: Sequence[bool],
    avoid: dict[int, set[int]],
    group_cost: Callable[[tuple[int, ...]], float],
    min_size: int,
    largest: int,
    limit: int,
    positions: Sequence[Sequence[float]] | None = None,
    neighbours: int = 0,
) -> Columns:
    """Every feasible group of the pool as a multiset of keys (see the module docstring).

    ``types[i]`` is member i's cost type (sorted types are what ``group_cost`` takes); ``own[i]``
    puts her in a key of her own. With ``positions`` (one point per member, km from the venue)
    and ``neighbours``, a group's members are all among the ``neighbours`` keys that make the
    best companions for its first key (the smallest detour ratio between the two): far fewer
    columns where every destination differs, at the price of the proof of optimality (the
    engine's use; the benchmark's exact optimum enumerates everything).
    """
    members_by_key: dict[tuple[int, int], list[int]] = {}
    for index, base in enumerate(types):
        alone_key = index if (own[index] or index in avoid) else -1
        members_by_key.setdefault((base, alone_key), []).append(index)
    keys = sorted(members_by_key)
    key_index = {k: i for i, k in enumerate(keys)}
    key_of = [0] * len(types)
    for k, members in members_by_key.items():
        for m in members:
            key_of[m] = key_index[k]
    counts = [len(members_by_key[k]) for k in keys]
    bases = [k[0] for k in keys]
    near: list[frozenset[int]] | None = None
    if positions is not None and neighbours and len(keys) > neighbours:
        # Positions are km from the venue: two people are close companions when the farther
        # one's trip through the nearer one's home is barely longer than her own (the ratio
        # the detour cap bounds), whatever the distance between them.
        points = [positions[members_by_key[k][0]] for k in keys]
        radii = [math.hypot(*p) for p in points]

        def stretch(i: int, j: int) -> float:
            between = math.dist(points[i], points[j])
            low, high = sorted((radii[i], radii[j]))
            return (low + between) / high if high > 1e-9 else 1.0

        near = []
        for i in range(len(keys)):
            ranked = sorted(range(len(keys)), key=lambda j: (stretch(i, j), j))
            near.append(frozenset(ranked[:neighbours]))
    columns: list[tuple[int, ...]] = []
    costs: list[float] = []
    known: dict[tuple[int, ...], float] = {}

    def cost_of(chosen: tuple[int, ...]) -> float:
        found = known.get(chosen)
        if found is None:
            found = known[chosen] = group_cost(tuple(sorted(bases[c] for c in chosen)))
        return found

    def dominated(chosen: tuple[int, ...], cost: float) -> bool:
        size = len(chosen)
        if size < 2 * min_size:
            return False
        for mask in range(1, 1 << (size - 1)):  # the last member stays in the second part
            first = tuple(chosen[i] for i in range(size) if mask >> i & 1)
            if not min_size <= len(first) <= size - min_size:
                continue
            second = tuple(chosen[i] for i in range(size) if not mask >> i & 1)
            if cost_of(first) + cost_of(second) <= cost + 1e-9:
                return True
        return False

    def conflict(chosen: Sequence[int], extra: int) -> bool:
        person = keys[extra][1]
        if person < 0:
            return False
        others = avoid.get(person, set())
        return any(keys[c][1] in others for c in chosen)

    def extend(chosen: tuple[int, ...], start: int) -> None:
        for e in range(start, len(keys)):
            if chosen and chosen.count(e) >= counts[e]:
                continue
            if conflict(chosen, e):
                continue
            if near is not None and chosen and e not in near[chosen[0]]:
                continue
            candidate = (*chosen, e)
            cost = cost_of(candidate)
            if cost == INFEASIBLE and len(candidate) >= min_size:
                continue  # no larger group can be feasible either
            if cost != INFEASIBLE and not dominated(candidate, cost):
                columns.append(candidate)
                costs.append(cost)
                if len(columns) > limit:
                    raise TooBig
            if len(candidate) < largest:
                extend(candidate, e)

    extend((), 0)
    queues = [(members_by_key[k], c) for k, c in zip(keys, counts, strict=True)]
    return Columns(columns, costs, queues, key_of)


def pool_columns(
    problem,
    cost: Callable[[tuple[int, ...]], float],
    largest: int,
    limit: int,
    neighbours: int = 0,
) -> Columns:
    """:func:`enumerate_columns` for one of the engine's sub-problems: drivers who offer seats
    stand alone in their key; ``neighbours`` restricts departure groups (see there)."""
    departure = problem.kind is GroupKind.DEPARTURE
    return enumerate_columns(
        problem.types,
        [departure and is_driver(a) for a in problem.attendees],
        problem.avoid,
        cost,
        problem.min_size,
        largest,
        limit,
        problem.features.tolist() if departure and neighbours else None,
        neighbours,
    )


def solve_partition(
    found: Columns,
    group_cost: Callable[[tuple[int, ...]], float],
    bases: Sequence[int],
    hint: Sequence[Sequence[int]] | None,
    deterministic_time: float,
    max_seconds: float,
    workers: int = 1,
    seed: int = 0,
) -> tuple[list[list[int]], bool, float] | None:
    """The best partition CP-SAT finds: ``(groups of member indices, proven optimal, work)``,
    the work in deterministic time units.

    ``hint`` is a partition of the members (the heuristic's groups); ``None`` when CP-SAT finds
    no solution in time.
    """
    if cp_model is None:
        return None
    columns, costs = list(found.columns), list(found.costs)
    index = {c: j for j, c in enumerate(columns)}
    hinted: Counter[int] = Counter()
    for group in hint or ():
        column = tuple(sorted(found.key_of[m] for m in group))
        j = index.get(column)
        if j is None:
            cost = group_cost(tuple(sorted(bases[k] for k in column)))
            if cost == INFEASIBLE:
                continue
            j = index[column] = len(columns)
            columns.append(column)
            costs.append(cost)
        hinted[j] += 1
    model = cp_model.CpModel()
    amounts = []
    rows: list[list] = [[] for _ in found.queues]
    for j, column in enumerate(columns):
        tally = Counter(column)
        upper = min(found.queues[t][1] // k for t, k in tally.items())
        amount = model.new_int_var(0, upper, f"y{j}")
        amounts.append(amount)
        for t, k in tally.items():
            rows[t].append(k * amount if k > 1 else amount)
    for t, (_, demand) in enumerate(found.queues):
        model.add(sum(rows[t]) == demand)
    model.minimize(sum(round(c * COST_SCALE) * y for c, y in zip(costs, amounts, strict=True)))
    if hinted:
        for j, amount in enumerate(amounts):
            model.add_hint(amount, hinted.get(j, 0))
    solver = cp_model.CpSolver()
    parameters = solver.parameters
    parameters.num_workers = workers
    parameters.random_seed = seed
    parameters.max_time_in_seconds = max_seconds
    # Presolve costs more than it saves on these models (equalities over thousands of columns):
    # without it CP-SAT proves 3,000-20,000-column pools optimal in 0.1-2 units, with it it
    # often does not even find the hinted solution in that time.
    parameters.cp_model_presolve = False
    if deterministic_time > 0:
        parameters.max_deterministic_time = deterministic_time
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    work = solver.deterministic_time
    remaining = [list(q) for q, _ in found.queues]
    groups = []
    for j, amount in enumerate(amounts):
        for _ in range(solver.value(amount)):
            groups.append([remaining[t].pop() for t in columns[j]])
    return groups, status == cp_model.OPTIMAL, work
