"""Groups: matching rounds, late sign-ups, cancellations, and what members are told.

The matching engine (`matching/`) decides; this module feeds it from the database, stores
what it decided and queues the messages in the outbox, in one transaction, so a crash never
leaves a group announced to half its members. Groups already announced are passed back to
the engine as locked: they keep their members and may only grow.

Answers can change after a group is announced (/me: another transport, departure wave,
neighbourhood or arrival slot). A member who no longer fits her group (`matching.misfits`)
leaves it: she is told, the others hear only that a member left, and she is placed again.
Whoever leaves a group, for whatever reason, leaves it through `take_out`, which lets
`matching.cancel` decide what becomes of the group. Joining (`add_member`) and leaving both
call `changed`, so the volunteers' cards of a departure group show who is in it.

Concurrency: one round or placement at a time per event in a process (`event_lock`), and
across processes (PostgreSQL) every transaction that changes an event's groups first locks the
event's row (`lock_event_row`). A round computes outside its write transaction, so before it
writes it checks again who is still signed up and not grouped meanwhile (`Taken`).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

import matching
from companion_bot import clock, notices
from companion_bot.gazetteer import Place
from companion_bot.i18n import N_, Translator, escape
from companion_bot.models import (
    ArrivalKind,
    ArrivalSlot,
    Avoidance,
    CompanionGroup,
    DepartureWave,
    Event,
    GroupKind,
    GroupMember,
    GroupStatus,
    MeetingPoint,
    MemberStatus,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Transport,
    Unplaced,
)
from companion_bot.services import outbox, scheduler, tables, texts, zones
from companion_bot.services.messaging import language_of

logger = logging.getLogger(__name__)

ROUND_TASK = "matching_round"
# Redraws the volunteers' cards of a departure group (`closing.on_group_cards`).
CARDS_TASK = "group_cards"
# A sign-up or a cancellation asks for a round soon (several in a row make one round).
ROUND_AFTER_SIGNUP = timedelta(minutes=2)
LOCKED_STATUSES = (GroupStatus.ANNOUNCED, GroupStatus.LEFT)
# Groups whose members are checked against their answers: a group that has left is history.
CHECKED_STATUSES = (GroupStatus.FORMING, GroupStatus.ANNOUNCED)
# Stands for a member whose data is gone (/forget) when her group learns she left.
FORGOTTEN = "forgotten"

INTRODUCTION = {
    GroupKind.ARRIVAL: N_(
        "👋 Your arrival group for <b>{event}</b>: {names}.\n"
        "Meet at <b>{point}</b> at <b>{time}</b> and go in together.\n"
        "To talk to your group, just write here: I pass your messages on, showing only your "
        "display name."
    ),
    GroupKind.DEPARTURE: N_(
        "🌙 Your departure group for <b>{event}</b>: {names}.\n"
        "Meet at <b>{point}</b> at <b>{time}</b> and leave together.\n"
        "To talk to your group, just write here: I pass your messages on, showing only your "
        "display name."
    ),
}
# The way home, in the departure group's introduction (members are in drop-off order).
DROP_OFF_ORDER = N_("On the way home, you part in this order: {order}.")
THEN = N_(", then ")
YOU_IN_ORDER = N_("you")
DRIVER_IS_YOU = N_("🚗 You drive: you take {names} home, and you are dropped last.")
DRIVER_IS = N_("🚗 {driver} drives and takes the group home; she is dropped last.")
CAR_PARK = N_("🚗 You all drive home: walk together to the car park, then each takes her car.")
NEWCOMER = N_("{name} joins your {kind} for {event}.")
MEMBER_LEFT = N_("A member left your {kind} for {event}.")
GROUP_DISSOLVED = N_(
    "Your {kind} for {event} is too small now. We are looking for new companions for you and "
    "will tell you as soon as we find them."
)
MOVED_OUT = N_(
    "Your {kind} for {event} no longer matches your answers, so you are no longer in it (its "
    "members are only told that a member left). We are looking for companions who match them "
    "and will introduce them as soon as we find them."
)
KIND_NAMES = {GroupKind.ARRIVAL: N_("arrival group"), GroupKind.DEPARTURE: N_("departure group")}


@dataclass(frozen=True)
class Leaving:
    """A member whose answers no longer fit her group: she leaves it when the caller writes."""

    group_id: int
    registration_id: int


@dataclass
class MatchingInput:
    """An event as the engine sees it, with the ways back to database rows."""

    event: Event
    engine_event: matching.Event
    attendees: list[matching.Attendee]
    locked: list[matching.Group]
    registrations: dict[str, Registration]
    groups: dict[str, CompanionGroup]
    # Members who no longer fit their group: left out of `locked`, taken out on writing.
    leaving: list[Leaving] = field(default_factory=list)
    # Where groups meet: per arrival slot and departure wave, and the event's first point.
    slot_points: dict[int, int | None] = field(default_factory=dict)
    wave_points: dict[int, int | None] = field(default_factory=dict)
    first_point: int | None = None

    @property
    def by_id(self) -> dict[str, matching.Attendee]:
        return {attendee.id: attendee for attendee in self.attendees}


@dataclass(frozen=True)
class RoundResult:
    announced: int
    forming: int
    grown: int
    unplaced: int
    report: matching.CostReport


def _now() -> datetime:
    return clock.now()


# -- one writer at a time per event ------------------------------------------------------------

_EVENT_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def event_lock(event_id: int) -> asyncio.Lock:
    """In this process, one round or placement at a time per event (an asyncio lock belongs
    to its event loop, hence one set of locks per loop)."""
    locks = _EVENT_LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(event_id, asyncio.Lock())


async def lock_event_row(event_id: int) -> None:
    """Inside a transaction: whoever changes this event's groups waits for the others to
    commit, whichever process they run in (PostgreSQL: SELECT … FOR UPDATE on the event's
    row, held until the end of the transaction). SQLite runs one transaction at a time anyway,
    and tortoise leaves the clause out there."""
    await Event.select_for_update().filter(id=event_id).only("id").first()


# -- from the database to the engine ---------------------------------------------------------


def sizes_event(event: Event) -> matching.Event:
    """The event as `matching.cancel` and `matching.place_late_signup` need it."""
    return matching.Event(
        venue=matching.Point(event.venue_lat, event.venue_lon),
        sizes=matching.GroupSizes(
            event.min_group_size,
            event.preferred_min_size,
            event.preferred_max_size,
            event.max_group_size,
        ),
    )


async def load_input(event_id: int) -> MatchingInput:
    """Everything a round needs, in a constant number of queries whatever the event's size."""
    event = await Event.get(id=event_id)
    slots = {slot.id: slot for slot in await ArrivalSlot.filter(event_id=event_id)}
    waves = await DepartureWave.filter(event_id=event_id)
    points = await MeetingPoint.filter(event_id=event_id)
    base = sizes_event(event)
    venue = base.venue
    engine_event = replace(
        base,
        # Meeting points have no coordinates of their own: they are at the venue.
        meeting_points=tuple(matching.MeetingPoint(str(p.id), p.name, venue) for p in points),
        arrival_slots=tuple(
            matching.ArrivalSlot(str(s.id), s.starts_at, s.ends_at) for s in slots.values()
        ),
        departure_waves=tuple(matching.DepartureWave(str(w.id), w.departs_at) for w in waves),
    )
    # Those joining online sit at tables (services/tables.py), not in these groups.
    registrations = await Registration.filter(
        Q(online=None) | Q(online=False), event_id=event_id, status=RegistrationStatus.CONFIRMED
    ).order_by("id")
    by_registration = {str(r.id): r for r in registrations}
    avoid = await avoidances_in_event(event_id)
    attendees = attendees_of(registrations, slots, avoid, await zones.places(event_id))
    apart = await removed_apart(event_id)
    attendees = [replace(a, avoid=a.avoid | apart[a.id]) if a.id in apart else a
                 for a in attendees]  # fmt: skip
    groups = await CompanionGroup.filter(
        event_id=event_id, status__in=LOCKED_STATUSES, table_id=None
    )
    members = await GroupMember.filter(
        group__event_id=event_id,
        group__status__in=LOCKED_STATUSES,
        group__table_id=None,
        status=MemberStatus.ACTIVE,
    ).values_list("group_id", "registration_id", "position", "id")
    by_group = members_by_group(members, by_registration)
    locked, stored, leaving = groups_for_engine(
        base, groups, by_group, by_registration, {a.id: a for a in attendees}
    )
    return MatchingInput(
        event,
        engine_event,
        attendees,
        locked,
        by_registration,
        stored,
        leaving,
        slot_points={s.id: s.meeting_point_id for s in slots.values()},
        wave_points={w.id: w.meeting_point_id for w in waves},
        first_point=min(points, key=lambda p: (p.position, p.id)).id if points else None,
    )


async def avoidances_in_event(event_id: int) -> dict[int, set[int]]:
    """Who must not be grouped with whom among this event's people (both directions)."""
    pairs = await Avoidance.filter(person__registrations__event_id=event_id).values_list(
        "person_id", "avoided_id"
    )
    return symmetric(pairs)


def symmetric(pairs) -> dict[int, set[int]]:
    avoid: dict[int, set[int]] = {}
    for person_id, avoided_id in pairs:
        avoid.setdefault(person_id, set()).add(avoided_id)
        avoid.setdefault(avoided_id, set()).add(person_id)
    return avoid


async def removed_apart(event_id: int) -> dict[str, set[str]]:
    """Someone an organizer took out of a group is never put back with its members."""
    removed = await GroupMember.filter(
        group__event_id=event_id, status=MemberStatus.REMOVED
    ).values_list("group_id", "registration_id")
    if not removed:
        return {}
    by_group: dict[int, list[int]] = {}
    for group_id, registration_id in await GroupMember.filter(
        group_id__in={group_id for group_id, _ in removed}
    ).values_list("group_id", "registration_id"):
        by_group.setdefault(group_id, []).append(registration_id)
    apart: dict[str, set[str]] = {}
    for group_id, registration_id in removed:
        for other in by_group[group_id]:
            if other != registration_id:
                apart.setdefault(str(registration_id), set()).add(str(other))
                apart.setdefault(str(other), set()).add(str(registration_id))
    return apart


def attendees_of(
    registrations: list[Registration],
    slots: dict[int, ArrivalSlot],
    avoid: dict[int, set[int]],
    zone_places: dict[str, Place],
) -> list[matching.Attendee]:
    """`zone_places`: the event's zones (`zones.places`), read once for all of them."""
    registration_of = {r.person_id: str(r.id) for r in registrations}
    return [
        to_attendee(
            r,
            slots.get(r.arrival_slot_id),
            avoid.get(r.person_id, set()),
            registration_of,
            zone_places,
        )
        for r in registrations
    ]


def to_attendee(
    registration: Registration,
    slot: ArrivalSlot | None,
    avoided_people: set[int],
    registration_of: dict[int, str],
    zone_places: dict[str, Place],
) -> matching.Attendee:
    arrival = (
        matching.ArrivalWindow(slot.starts_at, slot.ends_at)
        if registration.arrival_kind == ArrivalKind.SLOT and slot is not None
        else None
    )
    # A neighbourhood or one of the event's zones; a zone removed since counts as none.
    place = zones.resolve_in(registration.destination_place_id, zone_places)
    wants_departure = bool(registration.wants_departure_group and registration.departure_wave_id)
    return matching.Attendee(
        id=str(registration.id),
        arrival=arrival,
        destination=matching.Point(place.lat, place.lon) if place else None,
        transport=matching.Transport(registration.transport or "transit"),
        departure_wave=str(registration.departure_wave_id) if wants_departure else None,
        place_id=place.id if place else None,
        avoid=frozenset(registration_of[p] for p in avoided_people if p in registration_of),
        seats=seats_of(registration),
    )


def seats_of(registration: Registration) -> int:
    """The seats a driver offers to companions of her departure (0: none, or no driver)."""
    if registration.transport != Transport.CAR or not registration.wants_departure_group:
        return 0
    return registration.seats_offered or 0


def departure_class_of(registration: Registration) -> str:
    """Her departure pool: her transport's class, but a driver who offers seats rides with
    people on foot and public transport."""
    return matching.departure_class(
        matching.Attendee(
            id=str(registration.id),
            transport=matching.Transport(registration.transport or "transit"),
            seats=seats_of(registration),
        )
    )


def members_by_group(rows, registrations: dict[str, Registration]) -> dict[int, list[str]]:
    """Active members per group, in position order, among the registrations given."""
    by_group: dict[int, list[tuple[int, int, str]]] = {}
    for group_id, registration_id, position, row_id in rows:
        if str(registration_id) in registrations:
            by_group.setdefault(group_id, []).append((position, row_id, str(registration_id)))
    return {g: [m for *_, m in sorted(rows)] for g, rows in by_group.items()}


def groups_for_engine(
    event: matching.Event,
    groups: list[CompanionGroup],
    members: dict[int, list[str]],
    registrations: dict[str, Registration],
    attendees: dict[str, matching.Attendee],
) -> tuple[list[matching.Group], dict[str, CompanionGroup], list[Leaving]]:
    """Groups as the engine must see them: without the members who no longer fit.

    Each misfit leaves through `matching.cancel`, as she will when the caller writes, so a
    group she leaves too small is not passed on and its other members are back in the pool.
    """
    engine_groups, stored, leaving = [], {}, []
    for group in sorted(groups, key=lambda g: g.id):
        ids = members.get(group.id)
        if not ids:
            continue
        # The members least recently changed come first: they are the group's reference.
        reference = sorted(ids, key=lambda m: (registrations[m].updated_at, int(m)))
        engine_group = to_engine_group(group, tuple(reference), None)
        out = (
            matching.misfits(event, engine_group, attendees)
            if group.status in CHECKED_STATUSES
            else ()
        )
        fitting = [m for m in reference if m not in out]
        transport_class = None
        if engine_group.kind is matching.GroupKind.DEPARTURE:
            first = attendees[fitting[0] if fitting else reference[0]]
            transport_class = matching.departure_class(first)
        current = [replace(engine_group, members=tuple(ids), transport_class=transport_class)]
        for misfit in out:
            current = list(matching.cancel(event, misfit, current).groups)
            leaving.append(Leaving(group.id, int(misfit)))
        for kept in current:
            engine_groups.append(kept)
            stored[kept.id] = group
    return engine_groups, stored, leaving


def to_engine_group(
    group: CompanionGroup, members: tuple[str, ...], transport_class: str | None
) -> matching.Group:
    flags = set()
    if group.oversize:
        flags.add(matching.OVERSIZE)
    if group.wants_volunteer:
        flags.add(matching.WANTS_VOLUNTEER)
    return matching.Group(
        id=f"db-{group.id}",
        kind=matching.GroupKind(group.kind),
        members=members,
        meeting_time=group.meet_at,
        meeting_point_id=str(group.meeting_point_id) if group.meeting_point_id else None,
        wave_id=str(group.departure_wave_id) if group.departure_wave_id else None,
        transport_class=transport_class,
        locked=True,
        flags=frozenset(flags),
    )


# -- a round -----------------------------------------------------------------------------------


@dataclass
class Taken:
    """Who is signed up and who is in which kind of announced group, read inside the write
    transaction: a round computed on older data writes only what still holds."""

    confirmed: set[int]
    grouped: set[tuple[int, GroupKind]]
    locked_groups: set[int]

    @classmethod
    async def load(cls, event_id: int) -> Taken:
        confirmed = await Registration.filter(
            event_id=event_id, status=RegistrationStatus.CONFIRMED
        ).values_list("id", flat=True)
        rows = await GroupMember.filter(
            group__event_id=event_id, group__status__in=LOCKED_STATUSES, status=MemberStatus.ACTIVE
        ).values_list("registration_id", "group__kind", "group_id")
        return cls(
            set(confirmed),
            {(registration_id, GroupKind(kind)) for registration_id, kind, _ in rows},
            {group_id for *_, group_id in rows},
        )

    def free(self, registration_id: int, kind: GroupKind) -> bool:
        return registration_id in self.confirmed and (registration_id, kind) not in self.grouped

    def take(self, registration_ids, kind: GroupKind) -> None:
        self.grouped.update((r, kind) for r in registration_ids)


async def run_round(event_id: int, now: datetime | None = None) -> RoundResult:
    """Match everyone in the pool, store the groups, announce those that are due."""
    now = now or _now()
    async with event_lock(event_id):
        data = await load_input(event_id)
        # The engine is pure and CPU-bound: keep the bot responsive while it works.
        result = await asyncio.to_thread(
            matching.match, data.engine_event, data.attendees, data.locked, None, 0, now
        )
        async with in_transaction():
            await lock_event_row(event_id)
            counts = await write_round(data, result, now)
        await schedule_next_round(data, result, now)
        if counts["skipped"]:
            # Someone changed while the engine worked: the groups that no longer hold wait
            # for a round soon.
            await schedule_round(event_id, now + ROUND_AFTER_SIGNUP)
    return RoundResult(
        counts["announced"], counts["forming"], counts["grown"], counts["unplaced"], result.report
    )


async def write_round(data: MatchingInput, result: matching.Matching, now: datetime) -> dict:
    """Store a round's decisions, writing only what still holds (see `Taken`)."""
    event_id = data.event.id
    for leaving in data.leaving:
        await take_out(leaving.group_id, str(leaving.registration_id), now, moved=True)
    taken = await Taken.load(event_id)
    counts = dict.fromkeys(("announced", "forming", "grown", "skipped", "unplaced"), 0)
    by_id = data.by_id
    fed = {g.id: set(g.members) for g in data.locked}
    await CompanionGroup.filter(event_id=event_id, status=GroupStatus.FORMING).delete()
    for engine_group in result.groups:
        kind = GroupKind(engine_group.kind.value)
        if engine_group.id in data.groups:
            if set(engine_group.members) <= fed[engine_group.id]:
                continue  # an announced group the round did not grow: nothing to write
            group = data.groups[engine_group.id]
            if group.id not in taken.locked_groups:
                counts["skipped"] += 1  # dissolved meanwhile
                continue
            counts["grown"] += await grow(group, engine_group, taken, now)
            continue
        if not all(taken.free(int(m), kind) for m in engine_group.members):
            counts["skipped"] += 1
            continue
        decision = matching.decide_announcement(engine_group, data.engine_event, by_id, now)
        group = await store_group(data, engine_group, announce=decision.announce, now=now)
        if decision.announce:
            counts["announced"] += 1
            taken.take([int(m) for m in engine_group.members], kind)
            await introduce(group, now)
        else:
            counts["forming"] += 1
    unplaced = [
        u for u in result.unplaced if taken.free(int(u.attendee_id), GroupKind(u.kind.value))
    ]
    await record_unplaced(data, tuple(unplaced), now)
    counts["unplaced"] = len(unplaced)
    return counts


async def store_group(
    data: MatchingInput, engine_group: matching.Group, *, announce: bool, now: datetime
) -> CompanionGroup:
    kind = GroupKind(engine_group.kind.value)
    wave_id = int(engine_group.wave_id) if engine_group.wave_id else None
    slot = slot_at(data, engine_group.meeting_time) if kind == GroupKind.ARRIVAL else None
    group = await CompanionGroup.create(
        event=data.event,
        kind=kind,
        status=GroupStatus.ANNOUNCED if announce else GroupStatus.FORMING,
        arrival_slot_id=slot,
        departure_wave_id=wave_id,
        meeting_point_id=meeting_point_for(data, slot, wave_id),
        meet_at=engine_group.meeting_time,
        oversize=matching.OVERSIZE in engine_group.flags,
        wants_volunteer=matching.WANTS_VOLUNTEER in engine_group.flags,
        announced_at=now if announce else None,
    )
    await GroupMember.bulk_create(
        [
            GroupMember(group=group, registration_id=int(member), position=position)
            for position, member in enumerate(engine_group.members)
        ]
    )
    return group


def slot_at(data: MatchingInput, moment: datetime) -> int | None:
    slots = data.engine_event.arrival_slots
    for slot in slots:
        if slot.start <= moment < slot.end:
            return int(slot.id)
    return int(slots[0].id) if slots else None


def meeting_point_for(data: MatchingInput, slot_id: int | None, wave_id: int | None) -> int | None:
    """The slot's or the wave's meeting point, else the event's first one."""
    if slot_id is not None and data.slot_points.get(slot_id):
        return data.slot_points[slot_id]
    if wave_id is not None and data.wave_points.get(wave_id):
        return data.wave_points[wave_id]
    return data.first_point


async def grow(
    group: CompanionGroup, engine_group: matching.Group, taken: Taken | None, now: datetime
) -> int:
    """An announced group the engine made bigger: welcome the newcomers (those still free
    when `taken` is given), and keep the members in the engine's order (drop-off order)."""
    kind = GroupKind(group.kind)
    rows = {m.registration_id: m for m in await GroupMember.filter(group=group)}
    active = {r for r, m in rows.items() if m.status == MemberStatus.ACTIVE}
    newcomers = [
        int(m)
        for m in engine_group.members
        if int(m) not in active and (taken is None or taken.free(int(m), kind))
    ]
    if not newcomers:
        return 0
    order = [int(m) for m in engine_group.members if int(m) in active or int(m) in newcomers]
    for position, registration_id in enumerate(order):
        row = rows.get(registration_id)
        if row is not None and row.status == MemberStatus.ACTIVE and row.position != position:
            row.position = position
            await row.save(update_fields=["position"])
    if taken is not None:
        taken.take(newcomers, kind)
    if group.oversize != (matching.OVERSIZE in engine_group.flags):
        group.oversize = matching.OVERSIZE in engine_group.flags
        await group.save(update_fields=["oversize", "updated_at"])
    for registration_id in newcomers:
        await add_member(group, registration_id, order.index(registration_id), rows, now)
    return len(newcomers)


async def add_member(
    group: CompanionGroup,
    registration_id: int,
    position: int,
    rows: dict[int, GroupMember],
    now: datetime,
) -> None:
    """She joins an announced group (again, if she had left it): the others learn her display
    name, and she gets her introduction."""
    former = rows.get(registration_id)
    if former is None:
        rows[registration_id] = await GroupMember.create(
            group=group, registration_id=registration_id, position=position
        )
        again = ""
    else:
        former.status, former.left_at, former.introduced_at = MemberStatus.ACTIVE, None, None
        former.position = position
        await former.save(update_fields=["status", "left_at", "introduced_at", "position"])
        again = f":{now.isoformat()}"
    await changed(group)
    await group.fetch_related("event")
    newcomer = await Registration.get(id=registration_id).prefetch_related("person")
    for member in await active_members(group):
        if member.registration_id == registration_id:
            continue
        person = member.registration.person
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(NEWCOMER).format(
                name=escape(newcomer.person.display_name),
                kind=t.gettext(KIND_NAMES[GroupKind(group.kind)]),
                event=escape(group.event.localized("name", t.language)),
            ),
            dedupe_key=f"joined:{group.id}:{registration_id}:{member.registration_id}{again}",
        )
    await introduce(group, now, only=registration_id, again=again)


async def active_members(group: CompanionGroup) -> list[GroupMember]:
    return (
        await GroupMember.filter(group=group, status=MemberStatus.ACTIVE)
        .order_by("position", "id")
        .prefetch_related("registration__person")
    )


async def introduce(
    group: CompanionGroup, now: datetime, only: int | None = None, again: str = ""
) -> None:
    """Each member learns the others' display names (nothing else), the place and the time."""
    await group.fetch_related("event", "meeting_point")
    members = await active_members(group)
    for member in members:
        if only is not None and member.registration_id != only:
            continue
        person = member.registration.person
        t = language_of(person)
        others = [m.registration.person.display_name or "?" for m in members if m is not member]
        text = t.gettext(INTRODUCTION[GroupKind(group.kind)]).format(
            event=escape(group.event.localized("name", t.language)),
            names=", ".join(f"<b>{escape(name)}</b>" for name in others),
            point=escape(texts.meeting_place(group.meeting_point, group.event, t.language)),
            time=t.time(group.meet_at, group.event.timezone),
        )
        if group.kind == GroupKind.DEPARTURE:
            text += "".join(f"\n{line}" for line in way_home(t, members, member))
        event_name = group.event.localized("name", t.language)
        await outbox.enqueue(
            person,
            text,
            # Days after her sign-up, maybe: outside WhatsApp's window, its template.
            payload=notices.outside_window(notices.GROUP_INTRODUCTION, event_name),
            dedupe_key=f"intro:{group.id}:{member.registration_id}{again}",
        )
        member.introduced_at = now
        await member.save(update_fields=["introduced_at"])


def way_home(t: Translator, members: list[GroupMember], reader: GroupMember) -> list[str]:
    """Who drives, and in what order the group parts on the way home, for `reader`: display
    names only, and "you" for her. Members come in drop-off order (a driver last)."""
    if len(members) < 2:
        return []
    _ = t.gettext

    def name(member: GroupMember) -> str:
        if member is reader:
            return _(YOU_IN_ORDER)
        return f"<b>{escape(member.registration.person.display_name or '?')}</b>"

    registrations = [m.registration for m in members]
    if all(r.transport == Transport.CAR and not seats_of(r) for r in registrations):
        return [_(CAR_PARK)]
    lines = []
    drivers = [m for m in members if seats_of(m.registration)]
    if drivers:
        driver = drivers[-1]
        if driver is reader:
            riders = [name(m) for m in members if m is not driver]
            lines.append(_(DRIVER_IS_YOU).format(names=", ".join(riders)))
        else:
            lines.append(_(DRIVER_IS).format(driver=name(driver)))
    lines.append(_(DROP_OFF_ORDER).format(order=_(THEN).join(name(m) for m in members)))
    return lines


async def record_unplaced(
    data: MatchingInput, unplaced: tuple[matching.Unplaced, ...], now: datetime
) -> None:
    """Whoever the engine could not place is listed for the volunteers, with the reason."""
    current = {(int(u.attendee_id), GroupKind(u.kind.value)): u.reason.value for u in unplaced}
    # Those waiting for a table are the tables' business (services/tables.py).
    open_rows = await Unplaced.filter(
        Q(registration__online=None) | Q(registration__online=False),
        event_id=data.event.id,
        resolved_at=None,
    )
    for row in open_rows:
        if (row.registration_id, GroupKind(row.kind)) not in current:
            row.resolved_at = now
            await row.save(update_fields=["resolved_at"])
    known = {(row.registration_id, GroupKind(row.kind)) for row in open_rows}
    for (registration_id, kind), reason in current.items():
        if (registration_id, kind) in known:
            await Unplaced.filter(event_id=data.event.id, registration_id=registration_id,
                                  kind=kind, resolved_at=None).update(reason=reason)  # fmt: skip
        else:
            await Unplaced.create(event_id=data.event.id, registration_id=registration_id,
                                  kind=kind, reason=reason)  # fmt: skip


async def schedule_next_round(
    data: MatchingInput, result: matching.Matching, now: datetime
) -> None:
    """The next round: at the next moment a decision changes. Groups are announced at
    deadlines tied to each arrival slot and departure wave (earlier when already good);
    sign-ups and cancellations ask for a round themselves."""
    rules = matching.MatchingRules()
    anchors = [
        (slot.start, rules.announce_lead_arrival) for slot in data.engine_event.arrival_slots
    ]
    anchors += [(wave.time, rules.announce_lead_departure)
                for wave in data.engine_event.departure_waves]  # fmt: skip
    candidates = [
        moment
        for anchor, lead in anchors
        for moment in (anchor - lead, anchor - rules.announce_good_lead)
        if moment > now
    ]
    for group in result.groups:
        if group.id not in data.groups:
            decision = matching.decide_announcement(group, data.engine_event, data.by_id, now)
            if decision.deadline > now:
                candidates.append(decision.deadline)
    if candidates:
        await schedule_round(data.event.id, min(candidates))


async def schedule_round(event_id: int, due_at: datetime) -> None:
    """Ask for a round at `due_at` unless one is already due sooner."""
    pending = await scheduler.pending(f"round:{event_id}")
    if pending is not None and pending.due_at <= due_at:
        return
    await scheduler.schedule(ROUND_TASK, due_at, {"event_id": event_id},
                             dedupe_key=f"round:{event_id}")  # fmt: skip


async def on_round_task(payload: dict, now: datetime) -> None:
    await run_round(int(payload["event_id"]), now)


# -- between rounds ----------------------------------------------------------------------------


@dataclass
class Placement:
    """What placing one person needs: her, the groups she is in, the announced groups she
    could join, and their members."""

    event: matching.Event
    attendee: matching.Attendee
    attendees: dict[str, matching.Attendee]
    groups: list[matching.Group]
    stored: dict[str, CompanionGroup]
    leaving: list[Leaving]


async def place_signup(registration_id: int, now: datetime | None = None) -> None:
    """A confirmed sign-up, new or edited: out of the groups her answers no longer fit, then
    into an announced group that fits for each kind she needs, or the next round."""
    now = now or _now()
    event_id = await event_of(registration_id)
    if event_id is None:
        return
    async with event_lock(event_id), in_transaction():
        await lock_event_row(event_id)
        placement = await load_placement(event_id, registration_id, now)
        if placement is not None:
            await place(placement, now)
    await schedule_round(event_id, now + ROUND_AFTER_SIGNUP)


async def event_of(registration_id: int) -> int | None:
    found = await Registration.filter(id=registration_id).values_list("event_id", flat=True)
    return found[0] if found else None


async def load_placement(event_id: int, registration_id: int, now: datetime) -> Placement | None:
    """Only what placing her needs, in a constant number of queries: her groups, and the
    announced groups still open that her answers could fit, with their members."""
    registration = await Registration.get_or_none(
        id=registration_id, status=RegistrationStatus.CONFIRMED
    )
    if registration is None:
        return None
    event = await Event.get(id=event_id)
    slots = {slot.id: slot for slot in await ArrivalSlot.filter(event_id=event_id)}
    mine = await GroupMember.filter(
        registration_id=registration_id,
        status=MemberStatus.ACTIVE,
        group__status__in=(*CHECKED_STATUSES, GroupStatus.LEFT),
        group__table_id=None,
    ).values_list("group_id", flat=True)
    wanted = Q(id__in=list(mine)) if mine else Q(id=-1)
    deadline = now + matching.MatchingRules().min_notice
    slot = slots.get(registration.arrival_slot_id)
    if registration.arrival_kind == ArrivalKind.SLOT and slot is not None:
        wanted |= Q(
            kind=GroupKind.ARRIVAL,
            table_id=None,
            status=GroupStatus.ANNOUNCED,
            meet_at__gte=max(slot.starts_at, deadline),
            meet_at__lte=slot.ends_at,
        )
    if registration.wants_departure_group and registration.departure_wave_id:
        wanted |= Q(
            kind=GroupKind.DEPARTURE,
            status=GroupStatus.ANNOUNCED,
            departure_wave_id=registration.departure_wave_id,
            meet_at__gte=deadline,
        )
    groups = await CompanionGroup.filter(Q(event_id=event_id) & wanted)
    rows = (
        await GroupMember.filter(
            group_id__in=[g.id for g in groups], status=MemberStatus.ACTIVE
        ).select_related("registration")
        if groups
        else []
    )
    registrations = {str(registration.id): registration}
    registrations.update(
        (str(row.registration_id), row.registration)
        for row in rows
        if row.registration.status == RegistrationStatus.CONFIRMED
    )
    pairs = await Avoidance.filter(
        Q(person_id=registration.person_id) | Q(avoided_id=registration.person_id)
    ).values_list("person_id", "avoided_id")
    people = list(registrations.values())
    zone_places = await zones.places(event_id)
    attendees = {a.id: a for a in attendees_of(people, slots, symmetric(pairs), zone_places)}
    base = sizes_event(event)
    members = members_by_group(
        [(row.group_id, row.registration_id, row.position, row.id) for row in rows], registrations
    )
    engine_groups, stored, leaving = groups_for_engine(
        base, groups, members, registrations, attendees
    )
    return Placement(
        base, attendees[str(registration_id)], attendees, engine_groups, stored, leaving
    )


async def place(placement: Placement, now: datetime) -> None:
    """Inside the event's write transaction: misfits out, then her placement."""
    for leaving in placement.leaving:
        await take_out(leaving.group_id, str(leaving.registration_id), now, moved=True)
    her = placement.attendee
    kinds = {g.kind for g in placement.groups if her.id in g.members}
    newcomer = replace(
        her,
        arrival=None if matching.GroupKind.ARRIVAL in kinds else her.arrival,
        departure_wave=None if matching.GroupKind.DEPARTURE in kinds else her.departure_wave,
    )
    if newcomer.arrival is None and newcomer.departure_wave is None:
        return
    open_groups = [
        g for g in placement.groups if placement.stored[g.id].status == GroupStatus.ANNOUNCED
    ]
    if not open_groups:
        return
    found = matching.place_late_signup(
        placement.event, newcomer, open_groups, placement.attendees, now
    )
    for engine_group in (found.arrival_group, found.departure_group):
        if engine_group is not None:
            await grow(placement.stored[engine_group.id], engine_group, None, now)


async def remove_registration(registration_id: int, now: datetime | None = None) -> None:
    """She cancelled (or was removed): her groups are told only that a member left; a group
    left too small is dissolved and whoever remains goes back to the pool, and is told."""
    await leave_groups(registration_id, None, now)


async def leave_groups(
    registration_id: int,
    kind: GroupKind | None,
    now: datetime | None = None,
    status: MemberStatus = MemberStatus.LEFT,
    *,
    in_person_only: bool = False,
) -> None:
    """Take her out of her groups (of one kind, or all), then re-match soon. REMOVED (by an
    organizer): she stays in the pool, never again with those members (`load_input`).
    `in_person_only`: her online table (services/tables.py) stays."""
    now = now or _now()
    event_id = await event_of(registration_id)
    if event_id is None:
        return
    memberships = GroupMember.filter(registration_id=registration_id, status=MemberStatus.ACTIVE)
    if kind is not None:
        memberships = memberships.filter(group__kind=kind)
    if in_person_only:
        memberships = memberships.filter(group__table_id=None)
    async with in_transaction():
        await lock_event_row(event_id)
        group_ids = await memberships.order_by("group_id").values_list("group_id", flat=True)
        for group_id in group_ids:
            await take_out(group_id, str(registration_id), now, status=status)
    if group_ids:
        await schedule_round(event_id, now + ROUND_AFTER_SIGNUP)


async def take_out(
    group_id: int,
    leaver: str,
    now: datetime,
    *,
    moved: bool = False,
    status: MemberStatus = MemberStatus.LEFT,
) -> None:
    """She leaves the group (her membership ends, if she still has one). `matching.cancel`
    decides what becomes of it: the others hear only that a member left, and the size flag
    follows; or the group is too small now, is dissolved, and whoever remains is back in the
    pool and told. `moved`: her new answers no longer fit the group, and she is told so.
    Call inside the event's write transaction."""
    group = await CompanionGroup.get(id=group_id).prefetch_related("event")
    if group.status == GroupStatus.DISSOLVED:
        return
    members = await active_members(group)
    leaving = next((m for m in members if str(m.registration_id) == leaver), None)
    others = [m for m in members if m is not leaving]
    if leaving is not None:
        leaving.status, leaving.left_at = status, now
        await leaving.save(update_fields=["status", "left_at"])
    if group.status == GroupStatus.FORMING:
        return  # nobody was told about this group yet; the next round redoes it
    if group.table_id is not None:  # an online table: its own rules (services/tables.py)
        await tables.member_left(group.id, leaver, now)
        return
    await changed(group)
    event = group.event
    kind = GroupKind(group.kind)
    stamp = now.isoformat()
    if moved and leaving is not None:
        await tell(leaving, MOVED_OUT, kind, event, f"moved:{group.id}:{leaver}:{stamp}")
    # The others, least recently changed first, set the group's transport class.
    reference = sorted(others, key=lambda m: (m.registration.updated_at, m.registration_id))
    transport_class = None
    if reference and kind == GroupKind.DEPARTURE:
        transport_class = departure_class_of(reference[0].registration)
    before = to_engine_group(
        group, (*(str(m.registration_id) for m in others), leaver), transport_class
    )
    outcome = matching.cancel(sizes_event(event), leaver, [before])
    if outcome.dissolved:
        alone = {x.attendee_id for x in outcome.left_alone}
        for member in others:
            if str(member.registration_id) in alone:
                await tell(member, GROUP_DISSOLVED, kind, event, f"dissolved:{group.id}:{stamp}")
                member.status, member.left_at = MemberStatus.LEFT, now
                await member.save(update_fields=["status", "left_at"])
        group.status = GroupStatus.DISSOLVED
        await group.save(update_fields=["status", "updated_at"])
        return
    for member in others:
        await tell(member, MEMBER_LEFT, kind, event, f"left:{group.id}:{leaver}:{stamp}")
    oversize = matching.OVERSIZE in outcome.changed[0].flags
    if group.oversize != oversize:
        group.oversize = oversize
        await group.save(update_fields=["oversize", "updated_at"])


async def changed(group: CompanionGroup | None) -> None:
    """What the volunteers' cards show of this group changed (who is in it, where a member
    is, whether it left or dissolved): if it has cards, they are redrawn once this
    transaction commits, from what it committed (`closing.on_group_cards`). A burst of
    changes makes one redraw. None (she has no group) changes nothing."""
    if group is None or group.kind != GroupKind.DEPARTURE:
        return
    if await OutboxMessage.exists(coalesce_key__startswith=cards_of(group.id)):
        await scheduler.schedule(CARDS_TASK, _now(), {"group_id": group.id},
                                 dedupe_key=f"cards:{group.id}")  # fmt: skip


def cards_of(group_id: int) -> str:
    """What the outbox coalesce keys of a group's cards start with (`closing.card_key`)."""
    return f"card:{group_id}:"


async def tell(member: GroupMember, message: str, kind: GroupKind, event: Event, key: str) -> None:
    person = member.registration.person
    t = language_of(person)
    await outbox.enqueue(
        person,
        t.gettext(message).format(
            kind=t.gettext(KIND_NAMES[kind]), event=escape(event.localized("name", t.language))
        ),
        dedupe_key=f"{key}:{member.registration_id}",
    )


async def tell_member_left(group_id: int) -> None:
    """After /forget: her membership is gone with her data; the group hears only that."""
    group = await CompanionGroup.get_or_none(id=group_id)
    if group is not None:
        now = _now()
        async with in_transaction():
            await lock_event_row(group.event_id)
            await take_out(group.id, FORGOTTEN, now)
        await schedule_round(group.event_id, now + ROUND_AFTER_SIGNUP)
