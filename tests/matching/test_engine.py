"""The engine: hard rules always hold (property tests), and small cases come out right."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from matching import (
    OVERSIZE,
    WANTS_VOLUNTEER,
    GroupKind,
    GroupSizes,
    Transport,
    UnplacedReason,
    match,
    transport_class,
    validate,
)
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
        classes = {transport_class(by_id[m].transport) for m in group.members}
        assert classes == {group.transport_class}
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
        ("bea", "cleo", "ana"),
    ]
    assert [(u.attendee_id, u.reason) for u in result.unplaced] == [
        ("dina", UnplacedReason.NO_COMPATIBLE_COMPANION)
    ]
    assert round(result.report.total, 2) == 106.86
