"""Online gatherings: tables (call links) organizers define, and the groups that sit at them.

An online event (or the online side of a hybrid one) has no venue and no trip home. Each
attendee joining online picks a join slot and, if the tables offer activities, one of them.
Shortly before a slot (`SEAT_BEFORE`), `matching.tables.seat` forms the slot's groups, one per
table, sized to the table; each member gets the introduction with her table's link (the link
goes only to the members of that table's group), and can talk to her group through the usual
anonymous relay (an online group is an arrival group with a table). At the slot's start, a
reminder with the link and a "we're in" button. Whoever could not be seated (nobody else at that
time, or the tables full) is told, and the hosts get her name and the reason. A sign-up after
the slot's groups were formed is seated at once. Hosts may move someone to another table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from companion_bot import actions, clock
from companion_bot.i18n import N_, escape
from companion_bot.models import (
    ArrivalKind,
    ArrivalSlot,
    CompanionGroup,
    Event,
    EventKind,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    OnlineTable,
    Person,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
    Unplaced,
)
from companion_bot.services import outbox, people, scheduler
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who
from matching import tables as seating

SEAT_TASK = "table_seating"
REMINDER_TASK = "table_reminder"
# The slot's groups are formed and introduced this long before it starts.
SEAT_BEFORE = timedelta(minutes=15)
MIN_CAPACITY = 2  # a table of one would leave her alone
MAX_CAPACITY = 50
MAX_TABLES = 30
JOINED_BUTTON = N_("✅ We're in")
ANY_ACTIVITY = ""  # her answer when any activity suits her

INTRODUCTION = N_(
    "👋 Your table for <b>{event}</b> at <b>{time}</b>: <b>{table}</b>{activity}, with "
    "{names}.\nJoin the call here: {link}\n"
    "To talk to your table before, just write here: I pass your messages on, showing only your "
    "display name."
)
NEWCOMER = N_("{name} joins your table for {event}.")
REMINDER = N_(
    "⏰ Your table <b>{table}</b> for <b>{event}</b> starts now: {link}\n"
    "Tap the button once you are in the call."
)
NOT_SEATED = {
    seating.TableReason.ALONE: N_(
        "Nobody else joins <b>{event}</b> at {time} for what you chose, so we have no table for "
        "you yet. The hosts know and will find you a place."
    ),
    seating.TableReason.FULL: N_(
        "Every table of <b>{event}</b> is full at {time}. The hosts know and will find you a place."
    ),
    seating.TableReason.NO_TABLE: N_(
        "No table of <b>{event}</b> offers the activity you chose any more. The hosts know and "
        "will find you a place; you can also pick another activity with /me."
    ),
}
REASONS = {
    seating.TableReason.ALONE: N_("nobody else at that time for that activity"),
    seating.TableReason.FULL: N_("every table is full at that time"),
    seating.TableReason.NO_TABLE: N_("no table offers her activity"),
}
HOSTS_NOT_SEATED = N_("🪑 No table for {name} at {time} ({event}): {reason}. /tables to seat her.")
MEMBER_LEFT = N_("A member left your table for {event}.")


def _now() -> datetime:
    return clock.now()


# -- what organizers give ------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    name: str
    link: str
    capacity: int
    activity: str | None = None


def check_link(text: str) -> str:
    link = (text or "").strip()
    parts = urlsplit(link) if len(link) <= 300 and not re.search(r"\s", link) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserInputError(
            N_("“{link}” is not a call link: it must start with https:// (or http://)."),
            link=link[:60],
        )
    return link


def check_capacity(text: str | int) -> int:
    value = str(text).strip()
    if not value.isdigit() or not MIN_CAPACITY <= int(value) <= MAX_CAPACITY:
        raise UserInputError(
            N_("A table seats {low} to {high} people (not “{value}”)."),
            low=MIN_CAPACITY,
            high=MAX_CAPACITY,
            value=value[:20],
        )
    return int(value)


def clean_label(text: str | None, limit: int = 64) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        raise UserInputError(N_("Please write a name."))
    if len(text) > limit:
        raise UserInputError(N_("That is too long: {limit} characters at most."), limit=limit)
    return text


def parse_table(text: str) -> TableSpec:
    """ "Loup-Garou room; https://meet.jit.si/lg; 10; Loup-Garou" (the activity is optional)."""
    parts = [part.strip() for part in (text or "").split(";")]
    if len(parts) not in (3, 4):
        raise UserInputError(
            N_(
                "A table goes: name; call link; number of seats; activity (optional), like "
                "“Room 1; https://meet.jit.si/room1; 8; quiz”."
            )
        )
    activity = clean_label(parts[3]) if len(parts) == 4 and parts[3] else None
    name, link, capacity = clean_label(parts[0]), check_link(parts[1]), check_capacity(parts[2])
    return TableSpec(name, link, capacity, activity)


def parse_tables(lines: list[str]) -> list[TableSpec]:
    tables = [parse_table(line) for line in lines if line.strip()]
    if not tables:
        raise UserInputError(N_("An online event needs at least one table."))
    if len(tables) > MAX_TABLES:
        raise UserInputError(N_("{limit} items at most, please."), limit=MAX_TABLES)
    names = [table.name.casefold() for table in tables]
    if len(set(names)) != len(names):
        raise UserInputError(N_("Two tables have the same name."))
    return tables


async def store_tables(event: Event, specs: list[TableSpec]) -> None:
    for position, spec in enumerate(specs):
        await OnlineTable.create(
            event=event,
            position=position,
            name=spec.name,
            link=spec.link,
            capacity=spec.capacity,
            activity=spec.activity,
        )


async def schedule(event: Event) -> None:
    """Seating and reminder for each join slot of an online or hybrid event."""
    if event.kind == EventKind.IN_PERSON:
        return
    for slot in await ArrivalSlot.filter(event=event):
        await scheduler.schedule(SEAT_TASK, slot.starts_at - SEAT_BEFORE, {"slot_id": slot.id},
                                 dedupe_key=f"slot:{slot.id}:seat")  # fmt: skip
        await scheduler.schedule(REMINDER_TASK, slot.starts_at, {"slot_id": slot.id},
                                 dedupe_key=f"slot:{slot.id}:tables")  # fmt: skip


# -- what attendees choose -------------------------------------------------------------------


async def activities(event_id: int) -> list[str]:
    """The activities the event's tables offer, in the tables' order."""
    names = await OnlineTable.filter(event_id=event_id, activity__not_isnull=True).values_list(
        "activity", flat=True
    )
    return list(dict.fromkeys(names))


async def set_activity(registration: Registration, text: str) -> None:
    """Her activity, typed or tapped: one a table offers (any case), or any."""
    if text == ANY_ACTIVITY:
        chosen = ANY_ACTIVITY
    else:
        offered = await activities(registration.event_id)
        wanted = re.sub(r"\s+", " ", text or "").strip().casefold()
        chosen = next((name for name in offered if name.casefold() == wanted), None)
        if chosen is None:
            raise UserInputError(
                N_("No table offers “{activity}”. The tables offer: {activities}."),
                activity=(text or "").strip()[:40],
                activities=", ".join(offered) or "—",
            )
    registration.activity = chosen
    await registration.save(update_fields=["activity", "updated_at"])


async def set_online(registration: Registration, online: bool) -> None:
    """Hybrid: she joins online or comes in person; the answers of the other way go (in
    person, her trip home is asked again; her arrival slot stays when it is one)."""
    if registration.online is online:
        return
    registration.online = online
    registration.wants_departure_group = None
    registration.activity = None
    fields = ["online", "wants_departure_group", "activity", "updated_at"]
    if online:
        registration.destination_place_id = None
        registration.transport = None
        registration.departure_wave = None
        if registration.arrival_kind != ArrivalKind.SLOT:
            registration.arrival_kind = None
        fields += ["destination_place_id", "transport", "departure_wave_id", "arrival_kind"]
    await registration.save(update_fields=fields)


# -- seating ----------------------------------------------------------------------------------


async def lock_event_row(event_id: int) -> None:
    await Event.select_for_update().filter(id=event_id).only("id").first()


async def on_seat_task(payload: dict, now: datetime) -> None:
    await seat_slot(int(payload["slot_id"]), now)


async def seat_slot(slot_id: int, now: datetime | None = None) -> None:
    """Seat everyone joining online at this slot who has no table yet, and introduce them."""
    now = now or _now()
    slot = await ArrivalSlot.get_or_none(id=slot_id).prefetch_related("event")
    if slot is None or slot.event.purged_at is not None or slot.ends_at <= now:
        return
    async with in_transaction():
        await lock_event_row(slot.event_id)
        await _seat(slot, now)


def _online() -> Q:
    return Q(online=True, status=RegistrationStatus.CONFIRMED)


async def _seat(slot: ArrivalSlot, now: datetime) -> None:
    event = slot.event
    tables = {t.id: t for t in await OnlineTable.filter(event_id=event.id)}
    people = {
        r.id: r
        for r in await Registration.filter(_online(), event_id=event.id, arrival_slot_id=slot.id)
        .order_by("confirmed_at", "id")
        .prefetch_related("person")
    }
    groups = await CompanionGroup.filter(
        event_id=event.id, arrival_slot_id=slot.id, table_id__not_isnull=True,
        status=GroupStatus.ANNOUNCED,
    )  # fmt: skip
    rows = await GroupMember.filter(
        group_id__in=[g.id for g in groups], status=MemberStatus.ACTIVE
    ).order_by("position", "id")
    members: dict[int, list[str]] = {g.id: [] for g in groups}
    for row in rows:
        members[row.group_id].append(str(row.registration_id))
    by_table = {g.table_id: g for g in groups}
    seated = [
        seating.Seated(str(g.table_id), str(slot.id), tuple(members[g.id]))
        for g in groups
        if g.table_id in tables
    ]
    seekers = [seating.Seeker(str(r.id), str(slot.id), r.activity or None) for r in people.values()]
    plan = seating.seat(
        seekers,
        [seating.Table(str(t.id), t.capacity, t.activity) for t in tables.values()],
        seated,
    )
    before = {s.table: set(s.members) for s in seated}
    for result in plan.groups:
        table = tables[int(result.table)]
        newcomers = [m for m in result.members if m not in before.get(result.table, set())]
        if not newcomers:
            continue
        group = by_table.get(table.id)
        if group is None:
            group = await CompanionGroup.create(
                event=event, kind=GroupKind.ARRIVAL, status=GroupStatus.ANNOUNCED,
                arrival_slot=slot, table=table, meet_at=slot.starts_at, announced_at=now,
            )  # fmt: skip
        for position, member in enumerate(result.members):
            if member in newcomers:
                await join(group, int(member), position, now)
        await Unplaced.filter(
            registration_id__in=[int(m) for m in newcomers], resolved_at=None
        ).update(resolved_at=now)
        await introduce(group, table, event, [int(m) for m in newcomers])
    await _flag(event, slot, plan.unplaced, people, now)


async def join(group: CompanionGroup, registration_id: int, position: int, now: datetime) -> None:
    """She sits at this table's group (again, if she had left it)."""
    existing = await GroupMember.get_or_none(group=group, registration_id=registration_id)
    if existing is None:
        await GroupMember.create(group=group, registration_id=registration_id,
                                 position=position, introduced_at=now)  # fmt: skip
        return
    existing.status, existing.left_at, existing.introduced_at = MemberStatus.ACTIVE, None, now
    await existing.save(update_fields=["status", "left_at", "introduced_at"])


async def introduce(
    group: CompanionGroup, table: OnlineTable, event: Event, newcomers: list[int]
) -> None:
    """The newcomers get the introduction with the link; those already there, their names."""
    members = await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).prefetch_related(
        "registration__person"
    )
    for member in members:
        person = member.registration.person
        t = language_of(person)
        event_name = escape(event.localized("name", t.language))
        if member.registration_id in newcomers:
            others = [m.registration.person.display_name or "?" for m in members if m is not member]
            text = t.gettext(INTRODUCTION).format(
                event=event_name,
                time=t.time(group.meet_at, event.timezone),
                table=escape(table.name),
                activity=f" ({escape(table.activity)})" if table.activity else "",
                names=", ".join(f"<b>{escape(n)}</b>" for n in others) or "—",
                link=escape(table.link),
            )
            stamp = member.introduced_at.isoformat() if member.introduced_at else ""
            key = f"tableintro:{group.id}:{member.registration_id}:{stamp}"
        else:
            names = [m.registration.person.display_name or "?" for m in members
                     if m.registration_id in newcomers]  # fmt: skip
            text = t.gettext(NEWCOMER).format(
                name=", ".join(escape(n) for n in names), event=event_name
            )
            key = f"tablenew:{group.id}:{member.registration_id}:{min(newcomers)}"
        await outbox.enqueue(person, text, dedupe_key=key)


async def hosts(event_id: int) -> list[Person]:
    """Whoever runs an online table night: its organizers and volunteers (hosts)."""
    return await Person.filter(roles__event_id=event_id).distinct().order_by("id")


async def _flag(event: Event, slot: ArrivalSlot, unplaced, people: dict, now: datetime) -> None:
    current = {int(pid): reason for pid, reason in unplaced}
    open_rows = await Unplaced.filter(
        event_id=event.id, registration_id__in=list(people), resolved_at=None
    )
    known = {row.registration_id: row for row in open_rows}
    team = await hosts(event.id) if current else []
    for registration_id, reason in current.items():
        row = known.get(registration_id)
        if row is not None and row.reason == reason.value:
            continue  # already told
        if row is None:
            await Unplaced.create(event=event, registration_id=registration_id,
                                  kind=GroupKind.ARRIVAL, reason=reason.value)  # fmt: skip
        else:
            row.reason = reason.value
            await row.save(update_fields=["reason"])
        person = people[registration_id].person
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(NOT_SEATED[reason]).format(
                event=escape(event.localized("name", t.language)),
                time=t.time(slot.starts_at, event.timezone),
            ),
            dedupe_key=f"notseated:{slot.id}:{registration_id}:{reason.value}",
        )
        for host in team:
            h = language_of(host)
            await outbox.enqueue(
                host,
                h.gettext(HOSTS_NOT_SEATED).format(
                    name=escape(person.display_name or "?"),
                    time=h.time(slot.starts_at, event.timezone),
                    event=escape(event.localized("name", h.language)),
                    reason=h.gettext(REASONS[reason]),
                ),
                dedupe_key=f"hostseat:{slot.id}:{registration_id}:{reason.value}:{host.id}",
            )


async def place_signup(registration_id: int, now: datetime | None = None) -> None:
    """A confirmed online sign-up (new or edited): out of a table of another slot; seated at
    once if her slot's groups are already formed, else at the slot's seating."""
    now = now or _now()
    registration = await Registration.get_or_none(id=registration_id)
    if registration is None or not registration.arrival_slot_id:
        return
    async with in_transaction():
        await lock_event_row(registration.event_id)
        stale = (
            await GroupMember.filter(
                registration_id=registration_id,
                status=MemberStatus.ACTIVE,
                group__table_id__not_isnull=True,
            )
            .exclude(group__arrival_slot_id=registration.arrival_slot_id)
            .prefetch_related("group")
        )
        for member in stale:
            await leave(member, now)
    slot = await ArrivalSlot.get(id=registration.arrival_slot_id)
    if now >= slot.starts_at - SEAT_BEFORE:
        await seat_slot(slot.id, now)


async def leave(member: GroupMember, now: datetime, status=MemberStatus.LEFT) -> None:
    """She leaves her table: the others hear only that a member left."""
    member.status, member.left_at = status, now
    await member.save(update_fields=["status", "left_at"])
    await member_left(member.group_id, str(member.registration_id), now)


async def member_left(group_id: int, leaver: str, now: datetime) -> None:
    """Her table's other members hear only that a member left (also after /forget)."""
    group = await CompanionGroup.get(id=group_id).prefetch_related("event")
    for other in await GroupMember.filter(
        group_id=group_id, status=MemberStatus.ACTIVE
    ).prefetch_related("registration__person"):
        person = other.registration.person
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(MEMBER_LEFT).format(event=escape(group.event.localized("name", t.language))),
            dedupe_key=f"tableleft:{group_id}:{leaver}:{now.isoformat()}:{other.registration_id}",
        )


async def leave_tables(registration_id: int, now: datetime | None = None) -> None:
    """Hybrid: she comes in person after all; her table hears only that a member left."""
    now = now or _now()
    members = await GroupMember.filter(
        registration_id=registration_id, status=MemberStatus.ACTIVE,
        group__table_id__not_isnull=True,
    )  # fmt: skip
    if not members:
        return
    async with in_transaction():
        group = await CompanionGroup.get(id=members[0].group_id)
        await lock_event_row(group.event_id)
        for member in members:
            await leave(member, now)


# -- the slot's start ---------------------------------------------------------------------------


async def on_reminder_task(payload: dict, now: datetime) -> None:
    slot = await ArrivalSlot.get_or_none(id=payload["slot_id"]).prefetch_related("event")
    if slot is None or slot.event.purged_at is not None or slot.ends_at <= now:
        return
    event = slot.event
    members = await GroupMember.filter(
        group__arrival_slot_id=slot.id, group__table_id__not_isnull=True,
        group__status=GroupStatus.ANNOUNCED, status=MemberStatus.ACTIVE,
    ).prefetch_related("registration__person", "group__table")  # fmt: skip
    for member in members:
        person = member.registration.person
        t = language_of(person)
        table = member.group.table
        await outbox.enqueue(
            person,
            t.gettext(REMINDER).format(
                table=escape(table.name),
                event=escape(event.localized("name", t.language)),
                link=escape(table.link),
            ),
            choices=[[(t.gettext(JOINED_BUTTON), actions.TableJoined(member.group_id).encode())]],
            dedupe_key=f"tablereminder:{member.group_id}:{member.registration_id}",
        )


async def joined(who: Who, group_id: int, now: datetime | None = None) -> bool:
    """Her "we're in": False if she is not (any more) at that table."""
    member = await GroupMember.get_or_none(
        group_id=group_id, **people.lookup(who, "registration__person"),
        status=MemberStatus.ACTIVE,
    ).prefetch_related("registration")  # fmt: skip
    if member is None:
        return False
    registration = member.registration
    if registration.joined_table_at is None:
        registration.joined_table_at = now or _now()
        await registration.save(update_fields=["joined_table_at"])
    return True


# -- what hosts see and do ------------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    table: OnlineTable
    # Per slot start: (registration id, display name, joined) of its members.
    seated: dict[datetime, list[tuple[int, str, bool]]]


@dataclass(frozen=True)
class TablesView:
    event: Event
    tables: list[TableRow]
    # (registration id, display name, slot start, reason) of those without a table.
    waiting: list[tuple[int, str, datetime | None, str]]


async def must_host(who: Who, event_id: int) -> None:
    if not await Role.exists(event_id=event_id, **people.lookup(who, "person")):
        raise UserInputError(N_("Only the event's organizers and volunteers can do this."))


async def hosted_events(who: Who) -> list[Event]:
    """Online and hybrid events she hosts, not over yet, soonest first."""
    return (
        await Event.filter(
            **people.lookup(who, "roles__person"),
            kind__in=[EventKind.ONLINE, EventKind.HYBRID],
            closing__gt=_now(),
        )
        .distinct()
        .order_by("doors_open")
    )


async def add_table(who: Who, text: str) -> tuple[Event, OnlineTable]:
    """An organizer adds a table to her next online or hybrid event (`/addtable`)."""
    event = await Event.filter(
        **people.lookup(who, "roles__person"), roles__kind=RoleKind.ORGANIZER,
        kind__in=[EventKind.ONLINE, EventKind.HYBRID], closing__gt=_now(),
    ).order_by("doors_open").first()  # fmt: skip
    if event is None:
        raise UserInputError(N_("You organize no online or hybrid event at the moment."))
    spec = parse_table(text)
    async with in_transaction():
        await lock_event_row(event.id)
        existing = await OnlineTable.filter(event=event)
        if any(table.name.casefold() == spec.name.casefold() for table in existing):
            raise UserInputError(N_("Two tables have the same name."))
        if len(existing) >= MAX_TABLES:
            raise UserInputError(N_("{limit} items at most, please."), limit=MAX_TABLES)
        table = await OnlineTable.create(
            event=event, position=len(existing), name=spec.name, link=spec.link,
            capacity=spec.capacity, activity=spec.activity,
        )  # fmt: skip
    return event, table


async def view(event_id: int) -> TablesView:
    event = await Event.get(id=event_id)
    tables = await OnlineTable.filter(event_id=event_id)
    members = await GroupMember.filter(
        group__event_id=event_id, group__table_id__not_isnull=True,
        group__status=GroupStatus.ANNOUNCED, status=MemberStatus.ACTIVE,
    ).prefetch_related("registration__person", "group").order_by("position", "id")  # fmt: skip
    rows = []
    for table in tables:
        seated: dict[datetime, list[tuple[int, str, bool]]] = {}
        for member in members:
            if member.group.table_id == table.id:
                registration = member.registration
                seated.setdefault(member.group.meet_at, []).append(
                    (registration.id, registration.person.display_name or "?",
                     registration.joined_table_at is not None)
                )  # fmt: skip
        rows.append(TableRow(table, dict(sorted(seated.items()))))
    waiting_rows = await Unplaced.filter(
        event_id=event_id, resolved_at=None, registration__online=True,
        registration__status=RegistrationStatus.CONFIRMED,
    ).prefetch_related("registration__person", "registration__arrival_slot")  # fmt: skip
    waiting = [
        (
            row.registration_id,
            row.registration.person.display_name or "?",
            row.registration.arrival_slot.starts_at if row.registration.arrival_slot else None,
            row.reason,
        )
        for row in waiting_rows
    ]
    return TablesView(event, rows, waiting)


async def move(
    host_telegram_id: int, registration_id: int, table_name: str, now: datetime | None = None
) -> tuple[Registration, OnlineTable]:
    """A host seats her (by the number the hosts' view shows) at another table for her slot,
    room permitting."""
    now = now or _now()
    registration = await Registration.get_or_none(_online(), id=registration_id).prefetch_related(
        "person", "event"
    )
    if registration is None or registration.arrival_slot_id is None:
        raise UserInputError(N_("Nobody with the number {number} joins online."),
                             number=registration_id)  # fmt: skip
    event_id = registration.event_id
    await must_host(host_telegram_id, event_id)
    wanted = clean_label(table_name).casefold()
    table = next(
        (t for t in await OnlineTable.filter(event_id=event_id) if t.name.casefold() == wanted),
        None,
    )
    if table is None:
        raise UserInputError(N_("No table is called “{name}”."), name=table_name.strip()[:40])
    slot = await ArrivalSlot.get(id=registration.arrival_slot_id)
    async with in_transaction():
        await lock_event_row(event_id)
        group = await CompanionGroup.get_or_none(
            event_id=event_id, arrival_slot_id=slot.id, table=table,
            status=GroupStatus.ANNOUNCED,
        )  # fmt: skip
        if group is not None:
            count = await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).count()
            if await GroupMember.exists(
                group=group, registration_id=registration_id, status=MemberStatus.ACTIVE
            ):
                raise UserInputError(N_("She is already at that table."))
            if count >= table.capacity:
                raise UserInputError(N_("That table is full at that time."))
        for member in await GroupMember.filter(
            registration_id=registration_id, status=MemberStatus.ACTIVE,
            group__table_id__not_isnull=True,
        ):  # fmt: skip
            await leave(member, now, status=MemberStatus.REMOVED)
        if group is None:
            group = await CompanionGroup.create(
                event_id=event_id, kind=GroupKind.ARRIVAL, status=GroupStatus.ANNOUNCED,
                arrival_slot=slot, table=table, meet_at=slot.starts_at, announced_at=now,
            )  # fmt: skip
        await join(group, registration_id, await GroupMember.filter(group=group).count(), now)
        await Unplaced.filter(registration_id=registration_id, resolved_at=None).update(
            resolved_at=now
        )
        await introduce(group, table, registration.event, [registration_id])
    return registration, table
