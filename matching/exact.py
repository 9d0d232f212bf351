"""The exact optimum, for the benchmark: set partitioning over all feasible groups.

Each sub-problem (all arrivals; departures per wave and transport class) is solved on its own,
as the objective separates. Attendees with the same destination (or the same arrival window)
are interchangeable, so a column is a *multiset of types* and its variable says how many such
groups to form; attendees who avoid someone get a type of their own. Every feasible group up to
the rescue size (maximum + 1, with its penalty) is enumerated, depth first: along the drop-off
order a group whose prefix breaks the detour cap cannot be repaired by adding farther members,
and arrival windows only overlap less as members are added, so whole branches are pruned. A
group that two of its own parts cover at no greater cost is left out (the parts do its job),
which removes most large groups. The integer programme goes to OR-Tools CP-SAT under a time
limit, costs scaled to integers (1/10,000 of a point; the reported cost is recomputed exactly
by :func:`matching.objective.evaluate`). CP-SAT proves these set-partitioning models optimal
where HiGHS, tried first, stalled on the symmetric arrival sub-problem.

This is a bench-only module: it needs ortools (``pip install .[bench]``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from matching.engine import (
    INFEASIBLE,
    _arrival_problem,
    _arrival_windows,
    _departure_problem,
    _Group,
    _make_group,
    _SubProblem,
)
from matching.model import Attendee, Event, Group, GroupKind, MatchingRules, transport_class


@dataclass(frozen=True, slots=True)
class ExactResult:
    groups: tuple[Group, ...]
    optimal: bool  # every sub-problem solved to proven optimality
    columns: int  # feasible groups enumerated (as type multisets)
    seconds: float
    reason: str = ""  # why optimality is not proven, when it is not


class _TooBig(Exception):
    pass


def _columns(problem: _SubProblem, limit: int) -> tuple[list[tuple[int, ...]], list[float], list]:
    """Enumerate feasible type multisets; return them with costs and the member queues."""
    if problem.locked:
        raise ValueError("the exact solver does not take locked groups")
    members_by_type: dict[tuple[int, int], list[int]] = {}
    for index, base in enumerate(problem.types):
        own = index if index in problem.avoid else -1  # people who avoid someone stand alone
        members_by_type.setdefault((base, own), []).append(index)
    keys = sorted(members_by_type)
    counts = [len(members_by_type[k]) for k in keys]
    bases = [k[0] for k in keys]
    avoid = problem.avoid
    minimum_size = problem.min_size
    columns: list[tuple[int, ...]] = []
    costs: list[float] = []
    largest = problem.rescue_max
    known: dict[tuple[int, ...], float] = {}

    def cost_of(chosen: tuple[int, ...]) -> float:
        found = known.get(chosen)
        if found is None:
            found = known[chosen] = problem.group_cost(tuple(bases[c] for c in chosen), None)
        return found

    def dominated(chosen: tuple[int, ...], cost: float) -> bool:
        """A group that two of its parts do as cheaply is never needed (they are columns too)."""
        size = len(chosen)
        if size < 2 * minimum_size:
            return False
        for mask in range(1, 1 << (size - 1)):  # the last member stays in the second part
            first = tuple(chosen[i] for i in range(size) if mask >> i & 1)
            if not minimum_size <= len(first) <= size - minimum_size:
                continue
            second = tuple(chosen[i] for i in range(size) if not mask >> i & 1)
            if cost_of(first) + cost_of(second) <= cost + 1e-9:
                return True
        return False

    def conflict(chosen: list[int], extra: int) -> bool:
        person = keys[extra][1]
        if person < 0:
            return False
        others = avoid.get(person, set())
        return any(keys[c][1] in others for c in chosen)

    def extend(chosen: list[int], start: int) -> None:
        for e in range(start, len(keys)):
            if chosen and chosen.count(e) >= counts[e]:
                continue
            if conflict(chosen, e):
                continue
            candidate = (*chosen, e)
            cost = cost_of(candidate)
            if cost == INFEASIBLE and len(candidate) >= minimum_size:
                continue  # no superset can be feasible (see the module docstring)
            if cost != INFEASIBLE and not dominated(candidate, cost):
                columns.append(candidate)
                costs.append(cost)
                if len(columns) > limit:
                    raise _TooBig
            if len(candidate) < largest:
                extend(list(candidate), e)

    extend([], 0)
    return columns, costs, [(members_by_type[k], c) for k, c in zip(keys, counts, strict=True)]


COST_SCALE = 10_000  # CP-SAT works on integers: costs are rounded to 1/10,000 of a point


def _solve_problem(problem: _SubProblem, time_limit: float, column_limit: int):
    from ortools.sat.python import cp_model

    if not problem.sweep:
        return [], True, 0, ""
    columns, costs, queues = _columns(problem, column_limit)
    model = cp_model.CpModel()
    amounts = []
    rows: list[list] = [[] for _ in queues]
    for j, column in enumerate(columns):
        tally = Counter(column)
        upper = min(queues[t][1] // k for t, k in tally.items())
        amount = model.new_int_var(0, upper, f"y{j}")
        amounts.append(amount)
        for t, k in tally.items():
            rows[t].append(k * amount)
    for t, (_, demand) in enumerate(queues):
        model.add(sum(rows[t]) == demand)
    model.minimize(sum(round(c * COST_SCALE) * y for c, y in zip(costs, amounts, strict=True)))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 2
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False, len(columns), solver.status_name(status)
    remaining = [list(q) for q, _ in queues]
    groups = []
    for j, amount in enumerate(amounts):
        for _ in range(solver.value(amount)):
            groups.append([remaining[t].pop() for t in columns[j]])
    optimal = status == cp_model.OPTIMAL
    return groups, optimal, len(columns), "" if optimal else solver.status_name(status)


def solve_exact(
    event: Event,
    attendees: Sequence[Attendee],
    rules: MatchingRules | None = None,
    time_limit: float = 60.0,
    column_limit: int = 3_000_000,
) -> ExactResult | None:
    """The optimal groups for a fresh round (no locked groups), or ``None`` if too big."""
    rules = rules or MatchingRules()
    started = time.perf_counter()
    by_id = {a.id: a for a in attendees}
    windows = _arrival_windows(attendees, None, rules)
    problems = [
        _arrival_problem(event, rules, [a for a in attendees if a.arrival], windows, [], by_id)
    ]
    pools: dict[tuple[str, str], list[Attendee]] = {}
    waves = {w.id for w in event.departure_waves}
    for a in attendees:
        if a.departure_wave in waves:
            pools.setdefault((a.departure_wave, transport_class(a.transport)), []).append(a)
    for (wave_id, class_name), pool in sorted(pools.items()):
        problems.append(_departure_problem(event, rules, wave_id, class_name, pool, [], by_id))
    groups: list[Group] = []
    optimal, total_columns, reasons = True, 0, []
    reference = event.departure_waves[0].time if event.departure_waves else None
    for problem in problems:
        remaining = time_limit - (time.perf_counter() - started)
        try:
            found, proven, columns, reason = _solve_problem(
                problem, max(remaining, 1.0), column_limit
            )
        except _TooBig:
            return None
        total_columns += columns
        if found is None:
            return None
        optimal &= proven
        if reason:
            reasons.append(f"{problem.key}: {reason}")
        for members in found:
            if len(members) >= 2:
                group = _make_group(
                    event,
                    problem,
                    _Group(members),
                    windows,
                    rules,
                    reference or attendees[0].arrival.start,
                )
                groups.append(group)
    groups.sort(key=lambda g: (g.kind is GroupKind.DEPARTURE, g.id))
    return ExactResult(
        tuple(groups), optimal, total_columns, time.perf_counter() - started, "; ".join(reasons)
    )
