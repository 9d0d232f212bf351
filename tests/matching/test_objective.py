"""The objective: drop-off chain, arrival meeting time, size penalty, report."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import Group, GroupKind, GroupSizes, MatchingRules, Weights, evaluate, group_cost
from matching.engine import _departure_problem
from matching.geo import distance_km, haversine_km
from matching.objective import arrival_meeting_minutes, drop_off_chain, size_penalty
from tests.matching.builders import DOORS, PLACES, VENUE, make_event, north, person, window


def test_chain_along_one_line_has_no_detour_and_a_solo_last_leg():
    chain = drop_off_chain(VENUE, [north(4), north(1), north(2)])
    assert chain.order == (1, 2, 0)  # nearest first
    assert chain.detours == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)
    assert chain.solo_leg_km == pytest.approx(distance_km(north(2), north(4)))
    assert chain.chain_km[-1] == pytest.approx(chain.direct_km[-1])


def test_detour_is_chain_length_over_direct_distance_minus_one():
    first, second = north(1), north(0, 1)  # 1 km north, then 1 km east of the venue
    chain = drop_off_chain(VENUE, [first, second])
    leg = distance_km(first, second)
    assert leg == pytest.approx(math.sqrt(2), rel=0.01)
    direct = chain.direct_km[1]
    assert chain.detours[1] == pytest.approx((chain.direct_km[0] + leg) / direct - 1)
    assert chain.detours[0] == 0.0
    assert chain.solo_leg_km == pytest.approx(leg)


def test_member_without_destination_peels_off_at_the_venue():
    chain = drop_off_chain(VENUE, [north(3), None])
    assert chain.order == (1, 0)
    assert chain.detours == pytest.approx((0.0, 0.0), abs=1e-9)
    assert chain.solo_leg_km == pytest.approx(distance_km(VENUE, north(3)))


def test_size_penalty_prefers_three_or_four():
    sizes, weights = GroupSizes(), Weights()
    costs = {k: size_penalty(k, sizes, 5, weights) for k in range(2, 7)}
    assert costs == {2: 4.0, 3: 0.0, 4: 0.0, 5: 1.0, 6: 7.0}


def test_meeting_time_is_a_rounded_clamped_median_inside_the_overlap():
    # Windows 0-60, 20-90, 30-120 (minutes): overlap 30-60; preferred 30, 55, 75 -> median 55.
    assert arrival_meeting_minutes([0, 20, 30], [60, 90, 120], [30, 55, 75], 15, 5) == 55
    # The median 80 is after the overlap's end (60): clamp to 60.
    assert arrival_meeting_minutes([0, 50], [60, 120], [80, 85], 10, 5) == 60
    # Overlap of 10 minutes is not enough for a 15-minute margin.
    assert arrival_meeting_minutes([0, 50], [60, 120], [30, 85], 15, 5) is None


def test_evaluate_counts_alone_people_and_reports_parts():
    event = make_event()
    people = [
        person("a", arrival=window(0, 30), home=north(2)),
        person("b", arrival=window(0, 30), home=north(2)),
        person("c", arrival=window(0, 30), home=north(3)),
        person("d", arrival=window(200, 230), home=north(-5)),
    ]
    meeting = DOORS + timedelta(minutes=15)
    groups = [
        Group("a1", GroupKind.ARRIVAL, ("a", "b", "c"), meeting),
        Group(
            "d1",
            GroupKind.DEPARTURE,
            ("a", "b", "c"),
            event.departure_waves[0].time,
            wave_id="w0",
            transport_class="foot_and_public",
        ),
    ]
    report = evaluate(event, people, groups)
    weights = Weights()
    assert report.arrival.alone == 1 and report.departure.alone == 1
    assert report.parts["alone"] == 2 * weights.alone
    assert report.arrival.parts["arrival_gap"] == 0.0  # all prefer 15 minutes after doors
    solo = distance_km(north(2), north(3))
    assert report.departure.parts["solo_leg"] == pytest.approx(solo)
    assert report.departure.solo_leg_km.mean == pytest.approx(solo)
    assert report.grouped_share == pytest.approx(6 / 8)
    assert report.departure.size_histogram == {3: 1}
    by_id = {p.id: p for p in people}
    assert report.total == pytest.approx(
        2 * weights.alone
        + group_cost(event, groups[0], by_id)
        + group_cost(event, groups[1], by_id)
    )


def test_vectorised_haversine_matches_the_scalar_one():
    lats = [p.lat for p in PLACES]
    lons = [p.lon for p in PLACES]
    vector = haversine_km(VENUE.lat, VENUE.lon, lats, lons)
    for i, place in enumerate(PLACES):
        assert vector[i] == pytest.approx(distance_km(VENUE, place))
    assert distance_km(VENUE, north(1)) == pytest.approx(1.0, rel=0.01)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(PLACES)), min_size=2, max_size=6))
def test_engine_fast_cost_agrees_with_the_reference_objective(destinations):
    """The engine's memoised chain cost is the documented objective, or infeasible."""
    event = make_event()
    rules = MatchingRules()
    people = [person(f"p{i}", home=d) for i, d in enumerate(destinations)]
    problem = _departure_problem(
        event, rules, "w0", "foot_and_public", people, [], {p.id: p for p in people}
    )
    fast = problem.group_cost(tuple(sorted(problem.types)), None)
    # Equidistant places peel off in the engine's order, which the group's member order keeps.
    people = [people[i] for i in sorted(range(len(people)), key=problem.types.__getitem__)]
    chain = drop_off_chain(VENUE, [p.destination for p in people])
    if max(chain.detours) > rules.max_detour + 1e-9:
        assert math.isinf(fast)
        return
    group = Group(
        "g",
        GroupKind.DEPARTURE,
        tuple(p.id for p in people),
        event.departure_waves[0].time,
        wave_id="w0",
        transport_class="foot_and_public",
    )
    assert fast == pytest.approx(group_cost(event, group, {p.id: p for p in people}, rules))
