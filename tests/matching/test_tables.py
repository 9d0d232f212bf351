"""Seating online groups at tables (matching/tables.py): pure, by slot and activity, sized to
the table, nobody alone."""

from __future__ import annotations

from matching.tables import Seated, Seeker, Table, TableReason, seat


def sizes(plan, slot="s"):
    return sorted(len(g.members) for g in plan.groups if g.slot == slot)


def test_activity_seekers_sit_at_their_activity_and_the_others_at_plain_tables():
    tables = [Table("wolf", 10, "Loup-Garou"), Table("chat1", 5), Table("chat2", 5)]
    seekers = [Seeker(f"w{i}", "s", "Loup-Garou") for i in range(7)]
    seekers += [Seeker(f"a{i}", "s") for i in range(8)]
    plan = seat(seekers, tables, [])
    by_table = {g.table: set(g.members) for g in plan.groups}
    assert by_table["wolf"] == {f"w{i}" for i in range(7)}
    assert sorted(len(by_table[t]) for t in ("chat1", "chat2")) == [4, 4]  # even, not 5 + 3
    assert plan.unplaced == []


def test_groups_never_exceed_the_table_and_overflow_is_flagged_full():
    plan = seat([Seeker(str(i), "s") for i in range(11)], [Table("a", 5), Table("b", 5)], [])
    assert sizes(plan) == [5, 5]
    assert plan.unplaced == [("10", TableReason.FULL)]


def test_nobody_alone():
    plan = seat([Seeker("x", "s", "Quiz")], [Table("q", 5, "Quiz")], [])
    assert plan.groups == [] and plan.unplaced == [("x", TableReason.ALONE)]
    # Three people and two tables of 2: a pair and one flagged, never a table of one.
    plan = seat([Seeker(str(i), "s") for i in range(3)], [Table("a", 2), Table("b", 2)], [])
    assert all(len(g.members) >= 2 for g in plan.groups)
    # Five at tables of 4 and 4: 3 + 2 rather than 4 + 1.
    plan = seat([Seeker(str(i), "s") for i in range(5)], [Table("a", 4), Table("b", 4)], [])
    assert sizes(plan) == [2, 3] and plan.unplaced == []


def test_a_lone_player_plays_with_people_without_a_wish():
    tables = [Table("wolf", 8, "Loup-Garou"), Table("chat", 4)]
    plan = seat([Seeker("w", "s", "Loup-Garou"), Seeker("a", "s")], tables, [])
    assert [(g.table, set(g.members)) for g in plan.groups] == [("wolf", {"w", "a"})]


def test_an_activity_no_table_offers_is_flagged():
    plan = seat([Seeker("p", "s", "Poker"), Seeker("q", "s", "Poker")], [Table("a", 4)], [])
    assert plan.unplaced == [("p", TableReason.NO_TABLE), ("q", TableReason.NO_TABLE)]


def test_slots_are_separate_and_seated_groups_only_grow():
    tables = [Table("a", 3)]
    seated = [Seated("a", "s", ("1", "2"))]
    seekers = [Seeker("1", "s"), Seeker("2", "s"), Seeker("3", "s"), Seeker("4", "s"),
               Seeker("5", "t"), Seeker("6", "t")]  # fmt: skip
    plan = seat(seekers, tables, seated)
    assert [g.members for g in plan.groups if g.slot == "s"] == [("1", "2", "3")]
    assert plan.unplaced == [("4", TableReason.FULL)]
    assert [set(g.members) for g in plan.groups if g.slot == "t"] == [{"5", "6"}]
