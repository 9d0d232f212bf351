"""Online groups: people who join an online event at the same time meet at a table.

Pure: no I/O, no clock. A table (a call link) hosts one group per join slot, of at most its
capacity. People who asked for an activity sit at a table offering it; people without a wish
("any") fill tables without an activity first, then the room left anywhere. Nobody is left
alone at a table: a person who would be is not seated, with a reason, for the hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

MIN_TABLE_GROUP = 2


class TableReason(StrEnum):
    ALONE = "alone"  # nobody else joins at that time for that activity
    FULL = "tables_full"  # every table for that activity is full at that time
    NO_TABLE = "no_table"  # no table offers what she asked for (anymore)


@dataclass(frozen=True)
class Seeker:
    id: str
    slot: str
    # None: any activity.
    activity: str | None = None


@dataclass(frozen=True)
class Table:
    id: str
    capacity: int
    activity: str | None = None


@dataclass(frozen=True)
class Seated:
    """A group already formed at a table for a slot (announced: it may only grow)."""

    table: str
    slot: str
    members: tuple[str, ...]


@dataclass
class TablePlan:
    # Every group after the plan: those given, grown, and new ones.
    groups: list[Seated] = field(default_factory=list)
    unplaced: list[tuple[str, TableReason]] = field(default_factory=list)

    def group_of(self, seeker_id: str) -> Seated | None:
        return next((g for g in self.groups if seeker_id in g.members), None)


def seat(seekers: list[Seeker], tables: list[Table], seated: list[Seated]) -> TablePlan:
    """Seat the people not seated yet. Groups already seated keep their members and may grow
    up to their table's capacity; the tables free at a slot get new groups, as even in size
    as their capacities allow, and never of one person."""
    by_id = {table.id: table for table in tables}
    plan = TablePlan(groups=list(seated))
    taken = {member for group in seated for member in group.members}
    waiting = [s for s in seekers if s.id not in taken]
    for slot in dict.fromkeys(s.slot for s in waiting):
        here = [s for s in waiting if s.slot == slot]
        _seat_slot(plan, slot, here, by_id)
    return plan


def _offers(table: Table, activity: str | None) -> bool:
    return activity is None or table.activity == activity


def _seat_slot(plan: TablePlan, slot: str, here: list[Seeker], tables: dict[str, Table]) -> None:
    wish = {s.id: s.activity for s in here if s.activity is not None}
    offered = {t.activity for t in tables.values()}
    at = {a: [t for t in tables.values() if t.activity == a] for a in offered}
    left_wish: list[str] = []
    for activity in dict.fromkeys(wish.values()):
        people = [p for p, a in wish.items() if a == activity]
        if activity not in offered:
            plan.unplaced += [(p, TableReason.NO_TABLE) for p in people]
            continue
        left_wish += _fill(plan, slot, people, at[activity])
    # Without a wish: tables without an activity first.
    left_any = _fill(plan, slot, [s.id for s in here if s.activity is None], at.get(None, []))
    # Someone left alone with her activity may play it with people without a wish.
    for activity in dict.fromkeys(wish[p] for p in left_wish):
        left = set(_fill(plan, slot, [p for p in left_wish if wish[p] == activity] + left_any,
                         at[activity]))  # fmt: skip
        left_wish = [p for p in left_wish if wish[p] != activity or p in left]
        left_any = [p for p in left_any if p in left]
    # Then any table with room.
    left_any = _fill(plan, slot, left_any, [t for t in tables.values() if t.activity is not None])
    used = {g.table for g in plan.groups if g.slot == slot}
    for person in left_wish + left_any:
        mine = at[wish[person]] if person in wish else list(tables.values())
        # A table still free at that time: she had room but nobody to sit with.
        free = any(t.id not in used for t in mine)
        plan.unplaced.append((person, TableReason.ALONE if free else TableReason.FULL))


def _fill(plan: TablePlan, slot: str, people: list[str], tables: list[Table]) -> list[str]:
    """Seat `people` at `tables` for `slot`: the groups there grow first (smallest first), then
    free tables get new groups. Returns who is left."""
    if not people or not tables:
        return list(people)
    capacity = {t.id: t.capacity for t in tables}
    people = list(people)
    while people:
        open_groups = [
            (index, g)
            for index, g in enumerate(plan.groups)
            if g.slot == slot and g.table in capacity and len(g.members) < capacity[g.table]
        ]
        if not open_groups:
            break
        index, group = min(open_groups, key=lambda item: (len(item[1].members), item[0]))
        plan.groups[index] = Seated(group.table, slot, (*group.members, people.pop(0)))
    used = {g.table for g in plan.groups if g.slot == slot}
    free = sorted((t for t in tables if t.id not in used), key=lambda t: -t.capacity)
    if people and free:
        people = _new_groups(plan, slot, people, free)
    return people


def _new_groups(plan: TablePlan, slot: str, people: list[str], free: list[Table]) -> list[str]:
    """As few free tables as hold everyone (the largest first), filled evenly by how full each
    is; a group that would have one person gives her to another group with room, or she is
    left (alone)."""
    count, room = 0, 0
    while count < len(free) and room < len(people):
        room += free[count].capacity
        count += 1
    chosen = free[:count]
    members: dict[str, list[str]] = {t.id: [] for t in chosen}
    capacity = {t.id: t.capacity for t in chosen}
    seated = 0
    for person in people:
        open_tables = [t for t in chosen if len(members[t.id]) < capacity[t.id]]
        if not open_tables:
            break
        target = min(open_tables, key=lambda t: (len(members[t.id]) / t.capacity, -t.capacity))
        members[target.id].append(person)
        seated += 1
    left = people[seated:]
    for table_id in list(members):
        group = members[table_id]
        if len(group) != 1:
            continue
        donors = [m for m in members.values() if m is not group and len(m) > MIN_TABLE_GROUP]
        if donors:  # the largest group gives one to keep her company
            group.insert(0, max(donors, key=len).pop())
            continue
        person = group.pop()
        hosts = [
            tid for tid, m in members.items()
            if m is not group and MIN_TABLE_GROUP <= len(m) < capacity[tid]
        ]  # fmt: skip
        if hosts:
            members[hosts[0]].append(person)
        else:
            left.append(person)
    for table in chosen:
        if len(members[table.id]) >= MIN_TABLE_GROUP:
            plan.groups.append(Seated(table.id, slot, tuple(members[table.id])))
    return left
