"""The engine: hard rules always hold (property tests), and small cases come out right."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import (
    OVERSIZE,
    WANTS_VOLUNTEER,
    GroupKind,
    GroupSizes,
    Transport,
    UnplacedReason,
    engine,
    match,
    validate,
)
from matching.geo import distance_table
from matching.instances import generate
from matching.model import departure_class, is_driver
from tests.matching.builders import (
    attendees_strategy,
    make_event,
    north,
    person,
    sizes_strategy,
    window,
)

FAST = settings(max_examples=40, deadline=None)


def _needs(attendee, kind):
    return (
        attendee.arrival is not None
        if kind is GroupKind.ARRIVAL
        else (attendee.departure_wave is not None)
    )


@FAST
@given(attendees_strategy(), sizes_strategy, st.integers(0, 3))
def test_every_hard_rule_holds(people, sizes, seed):
    event = make_event(sizes)
    result = match(event, people, seed=seed)
    # validate() checks: one group per kind per person, sizes within bounds (oversize flagged,
    # never for taxis), one wave and one transport class per departure group, detour cap,
    # meeting time inside every window with the overlap margin, nobody grouped with someone
    # she avoids.
    assert validate(event, people, result.groups) == []
    by_id = {p.id: p for p in people}
    for group in result.departure_groups:
        classes = {departure_class(by_id[m]) for m in group.members}
        assert classes == {group.transport_class}
        drivers = [by_id[m] for m in group.members if is_driver(by_id[m])]
        assert len(drivers) <= 1  # one driver takes the others home, and comes last
        if drivers:
            assert group.members[-1] == drivers[0].id
            assert group.size <= drivers[0].seats + 1
        if group.transport_class == "taxi":
            assert group.size <= 4
    for group in result.groups:
        limit = event.max_size(group.transport_class)
        assert group.size <= limit or (OVERSIZE in group.flags and group.size == limit + 1)
        wants = any(WANTS_VOLUNTEER in by_id[m].flags for m in group.members)
        assert (WANTS_VOLUNTEER in group.flags) == wants


@FAST
@given(attendees_strategy(), sizes_strategy)
def test_everyone_who_needs_a_group_is_grouped_or_reported_once(people, sizes):
    event = make_event(sizes)
    result = match(event, people)
    for kind in GroupKind:
        grouped = Counter(m for g in result.groups if g.kind is kind for m in g.members)
        reported = Counter(u.attendee_id for u in result.unplaced if u.kind is kind)
        assert max(grouped.values(), default=0) <= 1
        for p in people:
            expected = 1 if _needs(p, kind) else 0
            assert grouped[p.id] + reported[p.id] == expected, (kind, p)
    assert result.report.arrival.alone + result.report.departure.alone == len(result.unplaced)


@FAST
@given(attendees_strategy(), st.integers(0, 5))
def test_same_input_and_seed_give_the_same_groups(people, seed):
    event = make_event()
    first = match(event, people, seed=seed)
    second = match(event, list(people), seed=seed)
    assert first.groups == second.groups
    assert first.unplaced == second.unplaced


@FAST
@given(attendees_strategy(max_size=14), attendees_strategy(max_size=6), st.data())
def test_locked_groups_keep_members_and_meeting_time(people, newcomers, data):
    event = make_event()
    first = match(event, people)
    chosen = data.draw(
        st.lists(st.sampled_from(first.groups), unique=True) if first.groups else st.just([])
    )
    locked = [replace(g, locked=True) for g in chosen]
    renamed = [
        replace(p, id=f"n{p.id}", avoid=frozenset(f"n{x}" for x in p.avoid)) for p in newcomers
    ]
    result = match(event, people + renamed, locked_groups=locked)
    assert validate(event, people + renamed, result.groups) == []
    by_group = {g.id: g for g in result.groups}
    for group in locked:
        after = by_group[group.id]
        assert after.locked
        assert set(group.members) <= set(after.members)
        assert after.meeting_time == group.meeting_time
        assert after.kind is group.kind


def test_people_heading_the_same_way_share_a_group_and_others_do_not():
    event = make_event()
    people = [
        person("n1", home=north(5)),
        person("n2", home=north(5.5)),
        person("n3", home=north(6)),
        person("s1", home=north(-5)),
        person("s2", home=north(-6)),
        person("s3", home=north(-6.5)),
    ]
    result = match(event, people)
    groups = sorted(sorted(g.members) for g in result.departure_groups)
    assert groups == [["n1", "n2", "n3"], ["s1", "s2", "s3"]]
    assert result.unplaced == ()
    north_group = next(g for g in result.departure_groups if "n1" in g.members)
    assert north_group.members == ("n1", "n2", "n3")  # drop-off order
    assert north_group.meeting_point_id == "north"


def test_incompatible_transport_modes_are_never_grouped():
    event = make_event()
    people = [
        person("walk", home=north(2), mode=Transport.WALK),
        person("bus", home=north(2), mode=Transport.NIGHT_BUS),
        person("car", home=north(2), mode=Transport.CAR),
        person("bike", home=north(2), mode=Transport.BIKE),
    ]
    result = match(event, people)
    assert [sorted(g.members) for g in result.departure_groups] == [["bus", "walk"]]
    reasons = {u.attendee_id: u.reason for u in result.unplaced}
    assert reasons == {
        "car": UnplacedReason.NO_COMPATIBLE_COMPANION,
        "bike": UnplacedReason.NO_COMPATIBLE_COMPANION,
    }


def test_taxis_hold_four_even_to_save_someone_from_being_alone():
    event = make_event(GroupSizes(2, 3, 5, 6))
    people = [person(f"t{i}", home=north(4), mode=Transport.TAXI) for i in range(9)]
    result = match(event, people)
    assert all(g.size <= 4 for g in result.departure_groups)
    assert sorted(g.size for g in result.departure_groups) == [3, 3, 3]


def test_someone_who_would_be_alone_joins_a_group_over_the_maximum():
    event = make_event(GroupSizes(3, 3, 3, 3))  # groups of exactly three
    people = [person(f"p{i}", home=north(3)) for i in range(4)]
    result = match(event, people)
    assert [g.size for g in result.departure_groups] == [4]
    assert OVERSIZE in result.departure_groups[0].flags
    assert result.unplaced == ()


def test_reasons_for_being_alone():
    event = make_event()
    people = [
        person("north", home=north(6), arrival=window(0, 30)),
        person("south", home=north(-6), arrival=window(120, 150)),
        person("lost", home=north(1), wave="w9"),
    ]
    result = match(event, people)
    reasons = {(u.attendee_id, u.kind): u.reason for u in result.unplaced}
    assert reasons == {
        ("north", GroupKind.DEPARTURE): UnplacedReason.NOBODY_HEADING_HER_WAY,
        ("south", GroupKind.DEPARTURE): UnplacedReason.NOBODY_HEADING_HER_WAY,
        ("north", GroupKind.ARRIVAL): UnplacedReason.NO_OVERLAPPING_ARRIVAL,
        ("south", GroupKind.ARRIVAL): UnplacedReason.NO_OVERLAPPING_ARRIVAL,
        ("lost", GroupKind.DEPARTURE): UnplacedReason.UNKNOWN_WAVE,
    }


def test_avoided_people_are_never_grouped():
    event = make_event()
    people = [
        person("a", home=north(3), avoid={"b"}),
        person("b", home=north(3)),
        person("c", home=north(3)),
    ]
    result = match(event, people)
    for group in result.departure_groups:
        assert not {"a", "b"} <= set(group.members)
    assert len(result.unplaced) == 1


def test_arrival_groups_meet_at_a_time_everyone_can_make():
    event = make_event()
    people = [
        person("early", arrival=window(0, 60)),
        person("mid", arrival=window(20, 80)),
        person("late", arrival=window(40, 120)),
        person("night", arrival=window(300, 330)),
        person("night2", arrival=window(290, 340)),
    ]
    result = match(event, people)
    groups = {frozenset(g.members): g for g in result.arrival_groups}
    assert set(groups) == {frozenset({"early", "mid", "late"}), frozenset({"night", "night2"})}
    first = groups[frozenset({"early", "mid", "late"})]
    assert all(p.arrival.start <= first.meeting_time <= p.arrival.end for p in people[:3])
    assert first.meeting_time.minute % 5 == 0


def test_now_cuts_arrival_windows_that_are_over():
    event = make_event()
    people = [
        person("gone", arrival=window(0, 30)),
        person("gone2", arrival=window(0, 30)),
        person("later", arrival=window(200, 260)),
        person("later2", arrival=window(210, 260)),
    ]
    now = people[0].arrival.end
    result = match(event, people, now=now)
    assert [sorted(g.members) for g in result.arrival_groups] == [["later", "later2"]]
    assert {u.reason for u in result.unplaced} == {UnplacedReason.ARRIVAL_PASSED}


def test_the_example_in_the_package_docstring_runs_and_says_the_truth():
    import textwrap

    import matching

    doc = matching.__doc__
    code = doc[doc.index("::", doc.index("Example")) + 2 : doc.index("Rules in brief")]
    namespace: dict = {}
    exec(textwrap.dedent(code), namespace)
    result = namespace["result"]
    assert [g.members for g in result.groups] == [
        ("ana", "cleo", "dina", "bea"),
        ("cleo", "bea", "ana"),
    ]
    assert [(u.attendee_id, u.reason) for u in result.unplaced] == [
        ("dina", UnplacedReason.NO_COMPATIBLE_COMPANION)
    ]
    assert round(result.report.total, 2) == 106.20


# -- determinism, distances on demand, the work budget ------------------------------------------

DETERMINISM_SCRIPT = """
from dataclasses import replace
from datetime import timedelta
from matching import match, place_late_signup
from matching.instances import generate

instance = generate(40, 7, "bruxelles")
result = match(instance.event, instance.attendees, seed=3)  # exact solver included
for group in result.groups:
    print(group.id, group.members, group.meeting_time.isoformat(), group.meeting_point_id,
          sorted(group.flags))
print(result.unplaced, repr(result.report.total))
late = replace(generate(1, 99, "bruxelles").attendees[0], id="late", avoid=frozenset())
now = instance.event.arrival_slots[0].start - timedelta(hours=2)
by_id = {a.id: a for a in instance.attendees}
print(place_late_signup(instance.event, late, result.groups, by_id, now))
"""


def test_same_groups_in_processes_with_different_hash_seeds():
    """Nothing depends on set or dict order that changes from one process to the next."""
    outputs = []
    for hash_seed in ("0", "12345"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", DETERMINISM_SCRIPT],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0].count("\n") > 10
    assert outputs[0] == outputs[1]


def _scattered(count: int, seed: int) -> list:
    """People heading to `count` distinct points (exact positions, not neighbourhoods)."""
    rng = np.random.default_rng(seed)
    return [
        person(f"p{i:04d}", home=north(rng.uniform(-8, 8), rng.uniform(-8, 8)))
        for i in range(count)
    ]


def test_distances_on_demand_beyond_1500_destinations_equal_the_table():
    rng = np.random.default_rng(5)
    lats, lons = 48.86 + rng.uniform(-0.1, 0.1, 1600), 2.35 + rng.uniform(-0.15, 0.15, 1600)
    on_demand = engine._Distances(lats, lons)
    assert on_demand.table is None  # above the threshold: computed on demand
    table = distance_table(lats, lons)
    for a, b in rng.integers(0, 1600, size=(300, 2)).tolist():
        assert on_demand(a, b) == pytest.approx(table[a, b], abs=1e-9)
        assert on_demand(b, a) == on_demand(a, b)


def test_the_engine_groups_1600_distinct_destinations_with_distances_on_demand():
    event = make_event()
    people = _scattered(1600, 11)
    result = match(event, people)
    assert validate(event, people, result.groups) == []
    assert result.report.departure.grouped_share > 0.98


def test_distances_on_demand_give_the_same_groups_as_the_table(monkeypatch):
    event = make_event()
    people = _scattered(150, 3)
    with_table = match(event, people)
    monkeypatch.setattr(engine, "_LAZY_TABLE_ABOVE", 0)
    on_demand = match(event, people)
    assert on_demand.groups == with_table.groups
    assert on_demand.report.total == pytest.approx(with_table.report.total)


def test_the_work_budget_stops_the_search_deterministically_and_keeps_every_rule(monkeypatch):
    instance = generate(300, 4, "paris")
    solvers = []
    solve = engine._Solver.solve

    def spy(self):
        solvers.append(self)
        return solve(self)

    monkeypatch.setattr(engine._Solver, "solve", spy)
    # The heuristic's own budget (the exact solver has its own, see test_partition.py).
    full = match(instance.event, instance.attendees, exact=False)
    assert all(s.work < s.budget for s in solvers)  # realistic instances converge within it
    monkeypatch.setattr(engine, "_WORK_FLOOR", 0)
    monkeypatch.setattr(engine, "_WORK_PER_MEMBER", 20)
    solvers.clear()
    capped = match(instance.event, instance.attendees, exact=False)
    assert any(s.work >= s.budget for s in solvers)  # the budget did stop the search
    # It stops between steps: at most one pairwise split or one exact region over it.
    assert all(s.work <= s.budget + 20_000 for s in solvers)
    assert match(instance.event, instance.attendees, exact=False).groups == capped.groups
    assert validate(instance.event, instance.attendees, capped.groups) == []
    assert capped.report.arrival.alone + capped.report.departure.alone == len(capped.unplaced)
    assert capped.report.total >= full.report.total - 1e-6
