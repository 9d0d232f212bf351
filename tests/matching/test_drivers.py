"""Drivers who offer seats, drivers who offer none, and the best drop-off order."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import (
    Attendee,
    Group,
    GroupKind,
    MatchingRules,
    Transport,
    evaluate,
    group_cost,
    match,
    validate,
)
from matching.engine import _departure_problem
from matching.geo import distance_km
from matching.objective import chain_from_legs, drop_off_chain, size_penalty
from tests.matching.builders import PLACES, VENUE, make_event, north, person, window


def _departure(members, transport_class="foot_and_public"):
    event = make_event()
    return Group(
        "g",
        GroupKind.DEPARTURE,
        tuple(m.id for m in members),
        event.departure_waves[0].time,
        wave_id="w0",
        transport_class=transport_class,
    )


# Nearest first (north 5.8 km, then 7.8 km off to the east, then back west) zig-zags.
ZIGZAG = (north(5.8, -2.4), north(7.8, -0.6), north(7.8, -3.0))


def _order_cost(destinations, order, driver=None, rules=None):
    """The cost of one drop-off order, ``inf`` if it breaks a cap (the reference)."""
    rules = rules or MatchingRules()
    if driver is not None and destinations[driver] is not None and order[-1] != driver:
        return math.inf
    points = [destinations[i] or VENUE for i in order]
    direct = [distance_km(VENUE, destinations[i]) if destinations[i] else 0.0 for i in order]
    # Members without a destination peel off at the venue, first.
    if any(direct[j] == 0.0 and any(direct[:j]) for j in range(len(order))):
        return math.inf
    legs = [
        distance_km(a, b) if direct[j + 1] else 0.0
        for j, (a, b) in enumerate(itertools.pairwise(points))
    ]
    detours, solo = chain_from_legs(direct, legs)
    caps = [rules.max_driver_detour if i == driver else rules.max_detour for i in order]
    if any(d > c + 1e-9 for d, c in zip(detours, caps, strict=True)):
        return math.inf
    return rules.weights.detour * sum(detours) + rules.weights.solo_leg * solo


def _brute_force(destinations, driver=None, rules=None):
    """The cheapest feasible order, by trying every permutation."""
    return min(
        _order_cost(destinations, order, driver, rules)
        for order in itertools.permutations(range(len(destinations)))
    )


def test_the_drop_off_order_is_not_always_nearest_first():
    # A zig-zag: nearest first goes to the one off to the side, then back to the far one.
    near, aside, far = ZIGZAG
    chain = drop_off_chain(VENUE, [near, aside, far])
    assert chain.order == (0, 2, 1)  # the far one on the way, then the one off to the side
    cost = 5 * sum(chain.detours) + chain.solo_leg_km
    assert cost == pytest.approx(_brute_force([near, aside, far]))
    assert cost < _order_cost([near, aside, far], (0, 1, 2)) - 0.5  # nearest first
    # The engine tells the members in that order.
    people = [person("near", home=near), person("aside", home=aside), person("far", home=far)]
    (group,) = match(make_event(), people).departure_groups
    assert group.members == ("near", "far", "aside")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(PLACES)), min_size=2, max_size=5),
    st.data(),
)
def test_the_drop_off_order_is_the_cheapest_of_every_order(destinations, data):
    driver = data.draw(st.one_of(st.none(), st.integers(0, len(destinations) - 1)))
    rules = MatchingRules()
    chain = drop_off_chain(VENUE, destinations, rules, driver)
    reference = _brute_force(destinations, driver, rules)
    if math.isinf(reference):
        assert not chain.feasible
        return
    assert chain.feasible
    cost = rules.weights.detour * sum(chain.detours) + rules.weights.solo_leg * chain.solo_leg_km
    assert cost == pytest.approx(reference, abs=1e-9)
    if driver is not None and destinations[driver] is not None:
        assert chain.order[-1] == driver
    # The engine's memoised cost is the same.
    event = make_event()
    people = [
        person(
            f"p{i}",
            home=d,
            mode=Transport.CAR if i == driver else Transport.TRANSIT,
            seats=4 if i == driver else 0,
        )
        for i, d in enumerate(destinations)
    ]
    problem = _departure_problem(
        event, rules, "w0", "foot_and_public", people, [], {p.id: p for p in people}
    )
    fast = problem.group_cost(tuple(sorted(problem.types)), None)
    sizes = size_penalty(len(people), event.sizes, event.max_size("foot_and_public"), rules.weights)
    assert fast == pytest.approx(reference + sizes, abs=1e-6)


def test_seats_are_between_0_and_8():
    for seats in (-1, 9):
        with pytest.raises(ValueError, match="seats"):
            Attendee("d", transport=Transport.CAR, departure_wave="w0", seats=seats)
    assert Attendee("d", transport=Transport.CAR, seats=8).seats == 8


def test_a_driver_takes_people_heading_her_way_home_and_is_dropped_last():
    event = make_event()
    people = [
        person("driver", home=north(10), mode=Transport.CAR, seats=2),
        person("on-the-way", home=north(6, 0.3), mode=Transport.TRANSIT),
        person("nearly", home=north(8, -0.2), mode=Transport.NIGHT_BUS),
        person("south", home=north(-6), mode=Transport.TRANSIT),
        person("south2", home=north(-6.5), mode=Transport.TRANSIT),
    ]
    result = match(event, people)
    assert validate(event, people, result.groups) == []
    (with_driver,) = [g for g in result.departure_groups if "driver" in g.members]
    assert with_driver.transport_class == "foot_and_public"
    assert with_driver.members[-1] == "driver"
    assert with_driver.members == ("on-the-way", "nearly", "driver")  # her two seats


def test_drivers_without_seats_only_walk_to_the_car_park_together():
    event = make_event()
    drivers = [
        person("north", home=north(12), mode=Transport.CAR),
        person("south", home=north(-15), mode=Transport.CAR),
        person("east", home=north(0, 20), mode=Transport.CAR),
    ]
    walker = person("walker", home=north(12), mode=Transport.WALK)
    result = match(event, [*drivers, walker])
    (group,) = [g for g in result.departure_groups if g.transport_class == "car"]
    assert set(group.members) == {"north", "south", "east"}  # no chain: directions don't matter
    by_id = {p.id: p for p in [*drivers, walker]}
    assert group_cost(event, group, by_id) == 0.0  # three: only the size counts
    report = evaluate(event, [*drivers, walker], [group])
    assert report.departure.parts["detour"] == 0.0 and report.departure.parts["solo_leg"] == 0.0


def test_validate_rejects_two_drivers_too_many_passengers_and_a_long_detour_for_the_driver():
    event = make_event()
    one = person("one", home=north(10), mode=Transport.CAR, seats=3)
    two = person("two", home=north(9), mode=Transport.CAR, seats=3)
    riders = [person(f"r{i}", home=north(5 + i)) for i in range(3)]
    assert validate(event, [one, *riders], [_departure([*riders, one])]) == []
    problems = validate(event, [one, two, *riders], [_departure([riders[0], two, one])])
    assert any("2 drivers" in p for p in problems)
    small = person("small", home=north(10), mode=Transport.CAR, seats=1)
    problems = validate(event, [small, *riders], [_departure([*riders[:2], small])])
    assert any("2 passengers for 1 seats" in p for p in problems)
    # A rider 5 km off to the side: within 50 % for the driver, not within her 30 %.
    aside = person("aside", home=north(5, 5))
    chain = drop_off_chain(VENUE, [aside.destination, one.destination], driver=1)
    assert not chain.feasible
    assert chain.detours[-1] > MatchingRules().max_driver_detour
    problems = validate(event, [one, aside], [_departure([aside, one])])
    assert any("detour" in p for p in problems)


def test_a_driver_with_arrival_and_departure_is_grouped_for_both():
    event = make_event()
    people = [
        person("driver", arrival=window(0, 60), home=north(9), mode=Transport.CAR, seats=3),
        person("ana", arrival=window(0, 60), home=north(8), mode=Transport.TRANSIT),
    ]
    result = match(event, people)
    assert [set(g.members) for g in result.arrival_groups] == [{"driver", "ana"}]
    assert [g.members for g in result.departure_groups] == [("ana", "driver")]
