"""The exact set partitioning of small pools inside the engine (matching/partition.py)."""

from __future__ import annotations

import pytest

from matching import match, validate
from matching.families import generate_family
from matching.partition import TooBig, enumerate_columns

pytest.importorskip("ortools")


def test_the_engine_reaches_the_proven_optimum_where_its_heuristic_alone_does_not():
    from matching.exact import solve_exact

    instance = generate_family("ring", 24, 4)  # 24 people evenly around the venue
    event, people = instance.event, instance.attendees
    heuristic = match(event, people, exact=False)
    engine = match(event, people)
    exact = solve_exact(event, people, time_limit=30)
    assert exact is not None and exact.optimal and all(exact.pools.values())
    from matching.objective import evaluate

    optimum = evaluate(event, people, exact.groups).total
    assert heuristic.report.total > optimum * 1.03  # the heuristic keeps a fragile pair
    assert engine.report.total == pytest.approx(optimum, abs=1e-6)
    assert validate(event, people, engine.groups) == []
    # Same input, same groups: one worker, a fixed seed, a deterministic time limit.
    assert match(event, people).groups == engine.groups


def test_columns_are_the_feasible_groups_and_the_limit_stops_the_enumeration():
    def cost(types):  # pairs of neighbours only: 0-1, 1-2, ...
        if len(types) == 1:
            return 100.0
        if len(types) == 2 and types[1] - types[0] == 1:
            return 4.0
        return float("inf")

    found = enumerate_columns([0, 1, 2, 3], [False] * 4, {}, cost, 2, 3, 100)
    assert sorted(found.columns) == [(0,), (0, 1), (1,), (1, 2), (2,), (2, 3), (3,)]
    with pytest.raises(TooBig):
        enumerate_columns([0, 1, 2, 3], [False] * 4, {}, cost, 2, 3, 5)
