"""Groups: matching rounds, late sign-ups, cancellations, and what members are told.

The matching engine (`matching/`) decides; this module feeds it from the database, stores
what it decided and queues the messages in the outbox, in one transaction, so a crash never
leaves a group announced to half its members. Groups already announced are passed back to
the engine as locked: they keep their members and may only grow.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

import matching
from companion_bot import clock
from companion_bot.gazetteer import Gazetteer
from companion_bot.i18n import N_, escape
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
    Registration,
    RegistrationStatus,
    Unplaced,
)
from companion_bot.services import outbox, scheduler
from companion_bot.services.messaging import language_of

logger = logging.getLogger(__name__)

ROUND_TASK = "matching_round"
# A sign-up or a cancellation asks for a round soon (several in a row make one round).
ROUND_AFTER_SIGNUP = timedelta(minutes=2)
LOCKED_STATUSES = (GroupStatus.ANNOUNCED, GroupStatus.LEFT)

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
NEWCOMER = N_("{name} joins your {kind} for {event}.")
MEMBER_LEFT = N_("A member left your {kind} for {event}.")
GROUP_DISSOLVED = N_(
    "Your {kind} for {event} is too small now. We are looking for new companions for you and "
    "will tell you as soon as we find them."
)
KIND_NAMES = {GroupKind.ARRIVAL: N_("arrival group"), GroupKind.DEPARTURE: N_("departure group")}


@dataclass
class MatchingInput:
    """An event as the engine sees it, with the ways back to database rows."""

    event: Event
    engine_event: matching.Event
    attendees: list[matching.Attendee]
    locked: list[matching.Group]
    registrations: dict[str, Registration]
    groups: dict[str, CompanionGroup]

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


# -- from the database to the engine ---------------------------------------------------------


async def load_input(event_id: int) -> MatchingInput:
    event = await Event.get(id=event_id)
    slots = await ArrivalSlot.filter(event=event)
    waves = await DepartureWave.filter(event=event)
    points = await MeetingPoint.filter(event=event)
    venue = matching.Point(event.venue_lat, event.venue_lon)
    engine_event = matching.Event(
        venue=venue,
        # Meeting points have no coordinates of their own: they are at the venue.
        meeting_points=tuple(matching.MeetingPoint(str(p.id), p.name, venue) for p in points),
        arrival_slots=tuple(matching.ArrivalSlot(str(s.id), s.starts_at, s.ends_at) for s in slots),
        departure_waves=tuple(matching.DepartureWave(str(w.id), w.departs_at) for w in waves),
        sizes=matching.GroupSizes(
            event.min_group_size,
            event.preferred_min_size,
            event.preferred_max_size,
            event.max_group_size,
        ),
    )
    registrations = await Registration.filter(
        event=event, status=RegistrationStatus.CONFIRMED
    ).prefetch_related("arrival_slot", "person")
    by_registration = {str(r.id): r for r in registrations}
    avoid = await avoidances_between([r.person_id for r in registrations])
    person_to_registration = {r.person_id: str(r.id) for r in registrations}
    attendees = [
        to_attendee(r, avoid.get(r.person_id, set()), person_to_registration) for r in registrations
    ]
    apart = await removed_apart(event)
    attendees = [replace(a, avoid=a.avoid | apart[a.id]) if a.id in apart else a
                 for a in attendees]  # fmt: skip
    groups = await CompanionGroup.filter(event=event, status__in=LOCKED_STATUSES)
    locked, stored = [], {}
    for group in groups:
        members = await GroupMember.filter(
            group=group,
            status=MemberStatus.ACTIVE,
            registration_id__in=[r.id for r in registrations],
        ).order_by("position", "id")
        if not members:
            continue
        engine_group = to_engine_group(group, [str(m.registration_id) for m in members],
                                       by_registration)  # fmt: skip
        locked.append(engine_group)
        stored[engine_group.id] = group
    return MatchingInput(event, engine_event, attendees, locked, by_registration, stored)


async def avoidances_between(person_ids: list[int]) -> dict[int, set[int]]:
    """Who each person must not be grouped with, among these people (both directions)."""
    pairs = await Avoidance.filter(person_id__in=person_ids, avoided_id__in=person_ids).values_list(
        "person_id", "avoided_id"
    )
    avoid: dict[int, set[int]] = {}
    for person_id, avoided_id in pairs:
        avoid.setdefault(person_id, set()).add(avoided_id)
        avoid.setdefault(avoided_id, set()).add(person_id)
    return avoid


async def removed_apart(event: Event) -> dict[str, set[str]]:
    """Someone an organizer took out of a group is never put back with its members."""
    removed = await GroupMember.filter(
        group__event=event, status=MemberStatus.REMOVED
    ).values_list("group_id", "registration_id")
    apart: dict[str, set[str]] = {}
    for group_id, registration_id in removed:
        others = await GroupMember.filter(group_id=group_id).exclude(
            registration_id=registration_id
        ).values_list("registration_id", flat=True)
        for other in others:
            apart.setdefault(str(registration_id), set()).add(str(other))
            apart.setdefault(str(other), set()).add(str(registration_id))
    return apart


def to_attendee(
    registration: Registration, avoided_people: set[int], registration_of: dict[int, str]
) -> matching.Attendee:
    slot = registration.arrival_slot
    arrival = (
        matching.ArrivalWindow(slot.starts_at, slot.ends_at)
        if registration.arrival_kind == ArrivalKind.SLOT and slot is not None
        else None
    )
    place = (
        Gazetteer.default().get(registration.destination_place_id)
        if registration.destination_place_id
        else None
    )
    wants_departure = bool(registration.wants_departure_group and registration.departure_wave_id)
    return matching.Attendee(
        id=str(registration.id),
        arrival=arrival,
        destination=matching.Point(place.lat, place.lon) if place else None,
        transport=matching.Transport(registration.transport or "transit"),
        departure_wave=str(registration.departure_wave_id) if wants_departure else None,
        place_id=place.id if place else None,
        avoid=frozenset(registration_of[p] for p in avoided_people if p in registration_of),
    )


def to_engine_group(
    group: CompanionGroup, members: list[str], registrations: dict[str, Registration]
) -> matching.Group:
    kind = matching.GroupKind(group.kind)
    transport_class = None
    if kind is matching.GroupKind.DEPARTURE:
        transport_class = matching.transport_class(
            matching.Transport(registrations[members[0]].transport or "transit")
        )
    flags = set()
    if group.oversize:
        flags.add(matching.OVERSIZE)
    if group.wants_volunteer:
        flags.add(matching.WANTS_VOLUNTEER)
    return matching.Group(
        id=f"db-{group.id}",
        kind=kind,
        members=tuple(members),
        meeting_time=group.meet_at,
        meeting_point_id=str(group.meeting_point_id) if group.meeting_point_id else None,
        wave_id=str(group.departure_wave_id) if group.departure_wave_id else None,
        transport_class=transport_class,
        locked=True,
        flags=frozenset(flags),
    )


# -- a round -----------------------------------------------------------------------------------


async def run_round(event_id: int, now: datetime | None = None) -> RoundResult:
    """Match everyone in the pool, store the groups, announce those that are due."""
    now = now or _now()
    data = await load_input(event_id)
    # The engine is pure and CPU-bound: keep the bot responsive while it works.
    result = await asyncio.to_thread(
        matching.match, data.engine_event, data.attendees, data.locked, None, 0, now
    )
    by_id = data.by_id
    announced = forming = grown = 0
    async with in_transaction():
        await CompanionGroup.filter(event_id=event_id, status=GroupStatus.FORMING).delete()
        for engine_group in result.groups:
            if engine_group.id in data.groups:
                grown += await grow_locked(data, engine_group, now)
                continue
            decision = matching.decide_announcement(engine_group, data.engine_event, by_id, now)
            group = await store_group(data, engine_group, announce=decision.announce, now=now)
            if decision.announce:
                announced += 1
                await introduce(group, now)
            else:
                forming += 1
        await record_unplaced(data, result.unplaced, now)
    await schedule_next_round(data, result, now)
    return RoundResult(announced, forming, grown, len(result.unplaced), result.report)


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
        meeting_point_id=await meeting_point_for(data.event.id, slot, wave_id),
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


async def meeting_point_for(event_id: int, slot_id: int | None, wave_id: int | None) -> int | None:
    if slot_id is not None:
        slot = await ArrivalSlot.get_or_none(id=slot_id)
        if slot and slot.meeting_point_id:
            return slot.meeting_point_id
    if wave_id is not None:
        wave = await DepartureWave.get_or_none(id=wave_id)
        if wave and wave.meeting_point_id:
            return wave.meeting_point_id
    first = await MeetingPoint.filter(event_id=event_id).order_by("position", "id").first()
    return first.id if first else None


async def grow_locked(data: MatchingInput, engine_group: matching.Group, now: datetime) -> int:
    """An announced group that the round made bigger: welcome the newcomers."""
    group = data.groups[engine_group.id]
    known = set(await GroupMember.filter(group=group).values_list("registration_id", flat=True))
    newcomers = [int(m) for m in engine_group.members if int(m) not in known]
    for member in newcomers:
        await add_member(group, member, now)
    return len(newcomers)


async def add_member(group: CompanionGroup, registration_id: int, now: datetime) -> None:
    position = await GroupMember.filter(group=group).count()
    await GroupMember.create(group=group, registration_id=registration_id, position=position)
    await group.fetch_related("event")
    newcomer = await Registration.get(id=registration_id).prefetch_related("person")
    for member in await active_members(group):
        if member.registration_id == registration_id:
            continue
        person = member.registration.person
        _ = language_of(person).gettext
        await outbox.enqueue(
            person.telegram_id,
            _(NEWCOMER).format(
                name=escape(newcomer.person.display_name),
                kind=_(KIND_NAMES[GroupKind(group.kind)]),
                event=escape(group.event.name),
            ),
            dedupe_key=f"joined:{group.id}:{registration_id}:{member.registration_id}",
        )
    await introduce(group, now, only=registration_id)


async def active_members(group: CompanionGroup) -> list[GroupMember]:
    return (
        await GroupMember.filter(group=group, status=MemberStatus.ACTIVE)
        .order_by("position", "id")
        .prefetch_related("registration__person")
    )


async def introduce(group: CompanionGroup, now: datetime, only: int | None = None) -> None:
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
            event=escape(group.event.name),
            names=", ".join(f"<b>{escape(name)}</b>" for name in others),
            point=escape(
                group.meeting_point.name if group.meeting_point else group.event.venue_name
            ),
            time=t.time(group.meet_at, group.event.timezone),
        )
        await outbox.enqueue(
            person.telegram_id, text, dedupe_key=f"intro:{group.id}:{member.registration_id}"
        )
        member.introduced_at = now
        await member.save(update_fields=["introduced_at"])


async def record_unplaced(
    data: MatchingInput, unplaced: tuple[matching.Unplaced, ...], now: datetime
) -> None:
    """Whoever the engine could not place is listed for the volunteers, with the reason."""
    current = {(int(u.attendee_id), GroupKind(u.kind.value)): u.reason.value for u in unplaced}
    open_rows = await Unplaced.filter(event_id=data.event.id, resolved_at=None)
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


async def place_signup(registration_id: int, now: datetime | None = None) -> None:
    """A confirmed sign-up: join an announced group that fits, or wait for the next round."""
    now = now or _now()
    registration = await Registration.get(id=registration_id)
    data = await load_input(registration.event_id)
    newcomer = data.by_id.get(str(registration_id))
    if newcomer is None:
        return
    in_groups = {m for g in data.locked for m in g.members}
    if str(registration_id) not in in_groups and data.locked:
        placement = matching.place_late_signup(
            data.engine_event, newcomer, data.locked, data.by_id, now
        )
        async with in_transaction():
            for engine_group in (placement.arrival_group, placement.departure_group):
                if engine_group is not None:
                    await add_member(data.groups[engine_group.id], registration_id, now)
    await schedule_round(registration.event_id, now + ROUND_AFTER_SIGNUP)


async def remove_registration(registration_id: int, now: datetime | None = None) -> None:
    """She cancelled (or was removed): her groups are told only that a member left; a group
    left too small is dissolved and whoever remains goes back to the pool, and is told."""
    await leave_groups(registration_id, None, now)


async def leave_groups(
    registration_id: int,
    kind: GroupKind | None,
    now: datetime | None = None,
    status: MemberStatus = MemberStatus.LEFT,
) -> None:
    """Take her out of her groups (of one kind, or all), then re-match soon. REMOVED (by an
    organizer): she stays in the pool, never again with those members (`load_input`)."""
    now = now or _now()
    memberships = GroupMember.filter(registration_id=registration_id, status=MemberStatus.ACTIVE)
    if kind is not None:
        memberships = memberships.filter(group__kind=kind)
    event_ids = set()
    async with in_transaction():
        for membership in await memberships.prefetch_related("group__event"):
            membership.status = status
            membership.left_at = now
            await membership.save(update_fields=["status", "left_at"])
            await after_member_left(membership.group, now)
            event_ids.add(membership.group.event_id)
    for event_id in event_ids:
        await schedule_round(event_id, now + ROUND_AFTER_SIGNUP)


async def after_member_left(group: CompanionGroup, now: datetime) -> None:
    if group.status == GroupStatus.FORMING:
        return  # nobody was told about this group yet; the next round redoes it
    event = group.event
    remaining = await active_members(group)
    kind = GroupKind(group.kind)
    dissolved = len(remaining) < event.min_group_size
    for member in remaining:
        person = member.registration.person
        _ = language_of(person).gettext
        message = GROUP_DISSOLVED if dissolved else MEMBER_LEFT
        await outbox.enqueue(
            person.telegram_id,
            _(message).format(kind=_(KIND_NAMES[kind]), event=escape(event.name)),
            dedupe_key=f"left:{group.id}:{len(remaining)}:{member.registration_id}",
        )
        if dissolved:
            member.status = MemberStatus.LEFT
            member.left_at = now
            await member.save(update_fields=["status", "left_at"])
    if dissolved:
        group.status = GroupStatus.DISSOLVED
        await group.save(update_fields=["status", "updated_at"])


async def tell_member_left(group_id: int) -> None:
    """After /forget: her membership is gone with her data; the group hears only that."""
    group = await CompanionGroup.get_or_none(id=group_id).prefetch_related("event")
    if group is not None:
        async with in_transaction():
            await after_member_left(group, _now())
        await schedule_round(group.event_id, _now() + ROUND_AFTER_SIGNUP)
