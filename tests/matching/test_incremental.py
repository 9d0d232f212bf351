"""Late sign-ups, cancellations, announcements, and rounds that only grow announced groups."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from matching import (
    OVERSIZE,
    Group,
    GroupKind,
    GroupSizes,
    MatchingRules,
    Transport,
    cancel,
    decide_announcement,
    match,
    misfits,
    place_late_signup,
    validate,
)
from matching.model import departure_class
from tests.matching.builders import (
    DOORS,
    PLACES,
    attendee_strategy,
    attendees_strategy,
    crowded_sizes_strategy,
    crowded_strategy,
    make_event,
    north,
    person,
    sizes_strategy,
    window,
)

BEFORE = DOORS - timedelta(hours=6)


def _round(event, people):
    result = match(event, people)
    return list(result.groups), {p.id: p for p in people}


def test_late_signup_joins_the_pair_heading_her_way_and_an_arrival_group_she_can_make():
    event = make_event()
    people = [
        person("n1", home=north(5), arrival=window(0, 30)),
        person("n2", home=north(5.2), arrival=window(0, 30)),
        person("s1", home=north(-5), arrival=window(120, 150)),
        person("s2", home=north(-5.5), arrival=window(120, 150)),
    ]
    groups, by_id = _round(event, people)
    newcomer = person("late", home=north(5.4), arrival=window(0, 45))
    placement = place_late_signup(event, newcomer, groups, by_id, BEFORE)
    assert placement.waiting == frozenset()
    assert placement.departure_group.members == ("n1", "n2", "late")
    assert placement.departure_added_cost < 0  # a pair becomes a three: cheaper
    assert set(placement.arrival_group.members) == {"n1", "n2", "late"}
    before = next(g for g in groups if g.id == placement.arrival_group.id)
    assert placement.arrival_group.meeting_time == before.meeting_time
    updated = [
        placement.arrival_group
        if g.id == placement.arrival_group.id
        else placement.departure_group
        if g.id == placement.departure_group.id
        else g
        for g in groups
    ]
    assert validate(event, [*people, newcomer], updated) == []


def test_late_signup_waits_when_nothing_fits():
    event = make_event()
    people = [
        person("n1", home=north(5), arrival=window(0, 30)),
        person("n2", home=north(5.2), arrival=window(0, 30)),
    ]
    groups, by_id = _round(event, people)
    cases = [
        person("opposite", home=north(-5), arrival=window(200, 240)),  # other way, other time
        person("car", home=north(5), mode=Transport.CAR),  # incompatible transport
        person("avoids", home=north(5), avoid={"n2"}),  # avoids a member
        person("other_wave", home=north(5), wave="w1"),
    ]
    for newcomer in cases:
        placement = place_late_signup(event, newcomer, groups, by_id, BEFORE)
        assert placement.departure_group is None, newcomer.id
        assert GroupKind.DEPARTURE in placement.waiting
    too_late = event.departure_waves[0].time - timedelta(minutes=10)
    placement = place_late_signup(event, person("x", home=north(5)), groups, by_id, too_late)
    assert placement.departure_group is None


def test_late_signup_without_destination_fills_the_smallest_group():
    event = make_event()
    people = [person(f"a{i}", home=north(3)) for i in range(4)] + [
        person("b1", home=north(-3)),
        person("b2", home=north(-3)),
    ]
    groups, by_id = _round(event, people)
    placement = place_late_signup(event, person("x", home=None), groups, by_id, BEFORE)
    assert set(placement.departure_group.members) == {"b1", "b2", "x"}


def test_cancellation_dissolves_a_pair_and_reports_who_is_left_alone():
    event = make_event()
    people = [
        person("a", home=north(3)),
        person("b", home=north(3)),
        person("c", home=north(-3)),
        person("d", home=north(-3)),
        person("e", home=north(-3)),
    ]
    groups, _ = _round(event, people)
    pair = next(g for g in groups if "a" in g.members)
    result = cancel(event, "a", groups)
    assert result.dissolved == (pair,)
    assert [(x.attendee_id, x.kind, x.former_group_id) for x in result.left_alone] == [
        ("b", GroupKind.DEPARTURE, pair.id)
    ]
    assert all("a" not in g.members and "b" not in g.members for g in result.groups)
    result = cancel(event, "c", groups)
    assert result.left_alone == ()
    assert [sorted(g.members) for g in result.changed] == [["d", "e"]]


def test_cancellation_clears_the_oversize_flag():
    event = make_event(GroupSizes(3, 3, 3, 3))
    people = [person(f"p{i}", home=north(3)) for i in range(4)]
    groups, _ = _round(event, people)
    assert OVERSIZE in groups[0].flags
    result = cancel(event, "p0", groups)
    assert OVERSIZE not in result.changed[0].flags


def test_announcement_waits_for_the_deadline_unless_the_group_is_good():
    event = make_event()
    good = [person(f"g{i}", home=north(4), arrival=window(0, 30)) for i in range(3)]
    weak = [
        person(f"w{i}", home=north(-4 - 2 * i), arrival=window(60, 90), wave="w1") for i in range(2)
    ]
    groups, by_id = _round(event, good + weak)
    departure_good = next(g for g in groups if g.kind is GroupKind.DEPARTURE and "g0" in g.members)
    departure_weak = next(g for g in groups if g.kind is GroupKind.DEPARTURE and "w0" in g.members)
    wave_time = event.departure_waves[0].time
    far = wave_time - timedelta(days=3)
    assert decide_announcement(departure_good, event, by_id, far).reason == "wait"
    early = wave_time - timedelta(hours=12)
    decision = decide_announcement(departure_good, event, by_id, early)
    assert decision.announce and decision.reason == "already_good"
    assert decision.deadline == wave_time - timedelta(hours=6)
    assert not decide_announcement(departure_weak, event, by_id, early).announce
    late = event.departure_waves[1].time - timedelta(hours=5)
    assert decide_announcement(departure_weak, event, by_id, late).reason == "deadline"
    locked = replace(departure_good, locked=True)
    assert decide_announcement(locked, event, by_id, late).reason == "already_announced"
    arrival = next(g for g in groups if g.kind is GroupKind.ARRIVAL and "g0" in g.members)
    slot_start = event.arrival_slots[0].start
    assert decide_announcement(arrival, event, by_id, BEFORE).deadline == (
        slot_start - timedelta(hours=3)
    )


def test_a_round_grows_announced_groups_and_keeps_their_ids():
    event = make_event()
    people = [
        person("a", home=north(3), arrival=window(0, 60)),
        person("b", home=north(3.2), arrival=window(0, 60)),
    ]
    first = match(event, people)
    announced = [replace(g, locked=True) for g in first.groups]
    more = [
        person("c", home=north(3.1), arrival=window(10, 60)),
        person("d", home=north(-4)),
        person("e", home=north(-4.2)),
    ]
    second = match(event, people + more, locked_groups=announced)
    by_id = {g.id: g for g in second.groups}
    for group in announced:
        assert group.id in by_id and by_id[group.id].locked
        assert set(by_id[group.id].members) == {"a", "b", "c"}
    assert any(set(g.members) == {"d", "e"} for g in second.departure_groups)


def test_a_locked_group_keeps_its_members_even_when_a_fresh_round_would_split_it():
    event = make_event()
    people = [
        person("a", home=north(3)),
        person("b", home=north(-3)),
        person("c", home=north(3.1)),
        person("d", home=north(-3.1)),
    ]
    # Announced when a and b had other plans; a fresh round would pair a-c and b-d.
    announced = Group(
        "dep-ab",
        GroupKind.DEPARTURE,
        ("a", "b"),
        event.departure_waves[0].time,
        wave_id="w0",
        transport_class="foot_and_public",
        locked=True,
    )
    result = match(event, people, locked_groups=[announced])
    assert set(next(g for g in result.groups if g.id == "dep-ab").members) == {"a", "b"}
    assert {u.attendee_id for u in result.unplaced} == {"c", "d"}


def test_a_locked_arrival_group_keeps_its_meeting_time_and_takes_whoever_can_make_it():
    event = make_event()
    meeting = DOORS + timedelta(minutes=40)
    people = [
        person("a", arrival=window(0, 60)),
        person("b", arrival=window(30, 90)),
        person("c", arrival=window(35, 95)),
        person("e", arrival=window(85, 140)),  # overlaps c by 10 minutes only
    ]
    announced = Group("arr-ab", GroupKind.ARRIVAL, ("a", "b"), meeting, locked=True)
    result = match(event, people, locked_groups=[announced])
    group = next(g for g in result.groups if g.id == "arr-ab")
    assert group.meeting_time == meeting
    assert set(group.members) == {"a", "b", "c"}
    assert [u.attendee_id for u in result.unplaced] == ["e"]  # arrives after the meeting


# -- properties ------------------------------------------------------------------------------

FAST = settings(max_examples=40, deadline=None)


def _announced(event, people):
    """A round's groups, all announced (locked), as the bot passes them back."""
    return [replace(g, locked=True) for g in match(event, people).groups]


@FAST
@given(
    attendees_strategy(max_size=14),
    attendee_strategy("late"),
    sizes_strategy,
    st.integers(0, 8 * 60),
    st.lists(st.integers(0, 13), max_size=2),
)
def test_a_late_signup_keeps_every_rule_and_only_grows_the_groups_she_joins(
    people, newcomer, sizes, minutes_before, avoided
):
    event = make_event(sizes)
    newcomer = replace(newcomer, avoid=frozenset(people[i].id for i in avoided if i < len(people)))
    groups = _announced(event, people)
    by_id = {p.id: p for p in people}
    now = DOORS + timedelta(hours=4) - timedelta(minutes=minutes_before)
    placement = place_late_signup(event, newcomer, groups, by_id, now)

    updated = {g.id: g for g in groups}
    for grown, kind in (
        (placement.arrival_group, GroupKind.ARRIVAL),
        (placement.departure_group, GroupKind.DEPARTURE),
    ):
        if grown is None:
            continue
        before = updated[grown.id]
        # Locked groups keep their members, time, place, wave and class: they only grow.
        assert grown.kind is kind and grown.locked
        assert set(grown.members) == set(before.members) | {newcomer.id}
        assert grown.size == before.size + 1
        assert (grown.meeting_time, grown.meeting_point_id, grown.wave_id) == (
            before.meeting_time,
            before.meeting_point_id,
            before.wave_id,
        )
        assert grown.transport_class == before.transport_class
        assert grown.meeting_time >= now + MatchingRules().min_notice
        if kind is GroupKind.DEPARTURE:
            assert departure_class(newcomer) == grown.transport_class
            assert newcomer.departure_wave == grown.wave_id
        updated[grown.id] = grown
    assert validate(event, [*people, newcomer], list(updated.values())) == []
    # Every kind she needs: joined, or waiting in the pool; nothing for a kind she does not.
    for grown, kind, needed in (
        (placement.arrival_group, GroupKind.ARRIVAL, newcomer.arrival is not None),
        (placement.departure_group, GroupKind.DEPARTURE, newcomer.departure_wave is not None),
    ):
        assert (grown is not None) + (kind in placement.waiting) == needed


@FAST
@given(
    attendees_strategy(max_size=14),
    st.lists(attendee_strategy("late"), min_size=1, max_size=6),
    sizes_strategy,
    st.integers(0, 8 * 60),
)
def test_late_signups_into_a_rounds_groups_never_break_a_rule(people, newcomers, sizes, before):
    """One by one into the groups of a round (not announced yet): whatever joins, every group
    still passes validate() (arrival windows sharing the minimum time, seats, detours)."""
    event = make_event(sizes)
    result = match(event, people)
    groups = list(result.groups)
    by_id = {p.id: p for p in people}
    now = DOORS + timedelta(hours=4) - timedelta(minutes=before)
    for number, newcomer in enumerate(newcomers):
        newcomer = replace(newcomer, id=f"late{number}")
        placement = place_late_signup(event, newcomer, groups, by_id, now)
        by_id[newcomer.id] = newcomer
        for grown in (placement.arrival_group, placement.departure_group):
            if grown is not None:
                groups = [grown if g.id == grown.id else g for g in groups]
        assert validate(event, list(by_id.values()), groups) == []


def test_a_late_signup_never_joins_windows_that_share_too_little_time():
    event = make_event()
    pair = [
        person("ana", arrival=window(0, 60), wave=None),
        person("bea", arrival=window(10, 60), wave=None),
    ]
    groups = list(match(event, pair).groups)
    assert [g.meeting_time for g in groups] == [window(30, 30).start]
    # Her window contains the meeting time but shares only 12 minutes with theirs.
    late = person("late", arrival=window(20, 32), wave=None)
    placement = place_late_signup(event, late, groups, {p.id: p for p in pair}, BEFORE)
    assert placement.arrival_group is None and GroupKind.ARRIVAL in placement.waiting


@FAST
@given(crowded_strategy(), crowded_sizes_strategy, st.data())
def test_a_cancellation_keeps_every_rule_and_touches_only_her_groups(people, sizes, data):
    event = make_event(sizes)
    groups = _announced(event, people)
    assume(groups)
    leaver = data.draw(st.sampled_from(sorted({m for g in groups for m in g.members})))
    result = cancel(event, leaver, groups)

    assert all(leaver not in g.members for g in result.groups)
    for group in groups:
        if leaver not in group.members:
            assert group in result.groups  # untouched, the very same group
    before = {g.id: g for g in groups}
    for group in result.changed:
        original = before[group.id]
        assert set(group.members) == set(original.members) - {leaver}
        assert group.size >= event.sizes.minimum
        assert replace(group, members=original.members, flags=original.flags) == original
        class_name = group.transport_class if group.kind is GroupKind.DEPARTURE else None
        assert (OVERSIZE in group.flags) == (group.size > event.max_size(class_name))
    for group in result.dissolved:
        assert group.size - 1 < event.sizes.minimum and leaver in group.members
    alone = sorted((m, g.kind, g.id) for g in result.dissolved for m in g.members if m != leaver)
    assert sorted((x.attendee_id, x.kind, x.former_group_id) for x in result.left_alone) == alone
    assert {g.id for g in result.groups} == set(before) - {g.id for g in result.dissolved}
    # Sizes, waves, transport classes, detours, windows: validate() checks them all.
    assert validate(event, people, result.groups) == []


@settings(max_examples=150, deadline=None)
@given(crowded_strategy(), crowded_sizes_strategy, st.data())
def test_misfits_are_the_members_whose_new_answers_break_a_rule_of_their_group(people, sizes, data):
    event = make_event(sizes)
    groups = _announced(event, people)
    assume(groups)
    group = data.draw(st.sampled_from(groups))
    by_id = {p.id: p for p in people}
    assert misfits(event, group, by_id) == ()  # as formed, everyone fits

    # She edits one answer, as in /me.
    who = data.draw(st.sampled_from(group.members))
    answer, value = data.draw(
        st.one_of(
            st.tuples(st.just("destination"), st.sampled_from([*PLACES, None])),
            st.tuples(st.just("transport"), st.sampled_from(list(Transport))),
            st.tuples(st.just("departure_wave"), st.sampled_from(["w0", "w1", None])),
            st.tuples(
                st.just("arrival"),
                st.one_of(st.none(), st.builds(window, st.just(0), st.sampled_from([20, 45]))),
            ),
        )
    )
    changed = {**by_id, who: replace(by_id[who], **{answer: value})}
    # She changed last: the others are the reference.
    reference = replace(group, members=(*(m for m in group.members if m != who), who))
    out = misfits(event, reference, changed)
    assert set(out) <= {who}
    kept = [m for m in reference.members if m not in out]
    problems = validate(
        event, list(changed.values()), [replace(group, members=tuple(kept), flags=group.flags)]
    )
    # Without the misfits (or with her, if she still fits) the group keeps every rule, its
    # size aside (whether it is now too small is for cancel() to say).
    assert [p for p in problems if " members (limit " not in p] == []
