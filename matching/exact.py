"""The exact optimum, for the benchmark: set partitioning over all feasible groups.

Each sub-problem (all arrivals; departures per wave and transport class) is solved on its own,
as the objective separates. Attendees with the same destination (or the same arrival window)
are interchangeable, so a column is a *multiset of types* and its variable says how many such
groups to form; attendees who avoid someone get a type of their own. Every feasible group up to
the rescue size (maximum + 1, with its penalty) is enumerated, depth first: along the drop-off
order a group whose prefix breaks the detour cap cannot be repaired by adding farther members,
and arrival windows only overlap less as members are added, so whole branches are pruned. A
group that two of its own parts cover at no greater cost is left out (the parts do its job),
which removes most large groups (the enumeration is :mod:`matching.partition`'s, shared with
the engine). The integer programme goes to OR-Tools CP-SAT under a time limit, costs scaled to
integers (1/10,000 of a point; the reported cost is recomputed exactly
by :func:`matching.objective.evaluate`). CP-SAT proves these set-partitioning models optimal
where HiGHS, tried first, stalled on the symmetric arrival sub-problem.

Drop-off orders are the objective's best ones; a driver who offers seats is a type of her own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from matching.engine import (
    _arrival_problem,
    _arrival_windows,
    _departure_problem,
    _Group,
    _make_group,
    _SubProblem,
)
from matching.model import (
    Attendee,
    Event,
    Group,
    GroupKind,
    MatchingRules,
    departure_class,
)
from matching.partition import TooBig, pool_columns, solve_partition


@dataclass(frozen=True, slots=True)
class ExactResult:
    groups: tuple[Group, ...]
    optimal: bool  # every sub-problem solved to proven optimality
    columns: int  # feasible groups enumerated (as type multisets)
    seconds: float
    reason: str = ""  # why optimality is not proven, when it is not
    pools: dict[str, bool] = field(default_factory=dict)  # pool key -> optimum proven


def _solve_problem(problem: _SubProblem, time_limit: float, column_limit: int, workers: int):
    if not problem.sweep:
        return [], True, 0, ""
    if problem.locked:
        raise ValueError("the exact solver does not take locked groups")
    cost = lambda types: problem.group_cost(types, None)  # noqa: E731
    found = pool_columns(problem, cost, problem.rescue_max, column_limit)
    bases = [problem.types[q[0][0]] for q in found.queues]
    solved = solve_partition(found, cost, bases, None, 0.0, time_limit, workers=workers)
    if solved is None:
        return None, False, len(found.columns), "no solution in time"
    groups, optimal, _ = solved
    return groups, optimal, len(found.columns), "" if optimal else "time limit"


def solve_exact(
    event: Event,
    attendees: Sequence[Attendee],
    rules: MatchingRules | None = None,
    time_limit: float = 60.0,
    column_limit: int = 3_000_000,
    workers: int = 2,
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
            pools.setdefault((a.departure_wave, departure_class(a)), []).append(a)
    for (wave_id, class_name), pool in sorted(pools.items()):
        problems.append(_departure_problem(event, rules, wave_id, class_name, pool, [], by_id))
    groups: list[Group] = []
    optimal, total_columns, reasons = True, 0, []
    pools: dict[str, bool] = {}
    reference = event.departure_waves[0].time if event.departure_waves else None
    for problem in problems:
        remaining = time_limit - (time.perf_counter() - started)
        try:
            found, proven, columns, reason = _solve_problem(
                problem, max(remaining, 1.0), column_limit, workers
            )
        except TooBig:
            return None
        total_columns += columns
        if found is None:
            return None
        optimal &= proven
        pools[problem.key] = proven
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
        tuple(groups),
        optimal,
        total_columns,
        time.perf_counter() - started,
        "; ".join(reasons),
        pools,
    )
