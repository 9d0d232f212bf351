"""The anonymous relay inside a group: a member writes to the bot and the others receive
"<display name>: …". Copies are made with `copyMessage`, which carries no link to the sender,
so her Telegram account, username, id and phone number are never shown to anyone.

Which copy each member got is remembered (RelayedMessage) so that replies go back to the right
group, reports name the right message, and a live location can be moved and stopped; live
location copies are forgotten when sharing stops (no history kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import Message

from companion_bot import clock
from companion_bot.i18n import N_, escape
from companion_bot.models import (
    CompanionGroup,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    MessageReport,
    OutboxMessage,
    Person,
    RelayedMessage,
    Role,
    RoleKind,
)
from companion_bot.services import groups, outbox
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of, signed_markup

RELAY_PURPOSE = "relay"
LIVE_PERIOD_MAX = 8 * 3600
# A group's chat stays open from a while before it meets until the morning after.
OPEN_BEFORE = timedelta(hours=12)
OPEN_AFTER = timedelta(hours=12)


def _now() -> datetime:
    return clock.now()


@dataclass(frozen=True)
class Membership:
    group: CompanionGroup
    member: GroupMember
    person: Person


async def current_group(telegram_id: int, now: datetime | None = None) -> Membership | None:
    """Her group to talk to now: the departure group once its wave is near, else arrival."""
    now = now or _now()
    members = await GroupMember.filter(
        registration__person__telegram_id=telegram_id,
        status=MemberStatus.ACTIVE,
        group__status__in=[GroupStatus.ANNOUNCED, GroupStatus.LEFT],
        group__meet_at__gte=now - OPEN_AFTER,
        group__meet_at__lte=now + OPEN_BEFORE * 4,
    ).prefetch_related("group__event", "registration__person")
    if not members:
        return None

    def relevance(member: GroupMember) -> tuple:
        group = member.group
        departure_near = group.kind == GroupKind.DEPARTURE and group.meet_at - now < timedelta(
            hours=2
        )
        arrival_done = group.kind == GroupKind.ARRIVAL and group.meet_at < now - timedelta(hours=1)
        return (departure_near, not arrival_done, -abs((group.meet_at - now).total_seconds()))

    best = max(members, key=relevance)
    return Membership(best.group, best, best.registration.person)


async def group_of_reply(telegram_id: int, reply_to_message_id: int) -> Membership | None:
    """A reply to a relayed message goes to the group that message came from."""
    copy = await RelayedMessage.get_or_none(
        recipient__telegram_id=telegram_id, recipient_message_id=reply_to_message_id
    )
    if copy is None:
        return None
    member = await GroupMember.get_or_none(
        group_id=copy.group_id, registration__person__telegram_id=telegram_id,
        status=MemberStatus.ACTIVE,
    ).prefetch_related("group__event", "registration__person")  # fmt: skip
    return Membership(member.group, member, member.registration.person) if member else None


async def recipients(membership: Membership) -> list[Person]:
    """The other active members who have not muted the group."""
    return [
        member.registration.person
        for member in await groups.active_members(membership.group)
        if member.id != membership.member.id and not member.muted
    ]


async def relay(
    membership: Membership,
    message_id: int,
    *,
    text: str | None = None,
    copy: bool = False,
    caption: str | None = None,
    live_location: tuple[float, float, int] | None = None,
) -> int:
    """Queue her message for each other member; returns how many will receive it."""
    sender = membership.person
    name = escape(sender.display_name or "?")
    others = await recipients(membership)
    for person in others:
        reference = {"group": membership.group.id, "sender": sender.id,
                     "sender_message_id": message_id, "recipient": person.id}  # fmt: skip
        key = f"relay:{sender.id}:{message_id}:{person.id}"
        if text is not None:
            await outbox.enqueue(
                person.telegram_id, f"<b>{name}</b>: {escape(text)}", dedupe_key=key,
                purpose=RELAY_PURPOSE, reference=reference | {"kind": "text"},
            )  # fmt: skip
        elif live_location is not None:
            lat, lon, period = live_location
            await outbox.enqueue(
                person.telegram_id,
                language_of(person)
                .gettext(N_("📍 {name} shares her live location:"))
                .format(name=name),
                dedupe_key=key + ":intro",
            )
            await outbox.enqueue(
                person.telegram_id, method="sendLocation",
                payload={"latitude": lat, "longitude": lon,
                         "live_period": min(max(period, 60), LIVE_PERIOD_MAX)},
                dedupe_key=key, purpose=RELAY_PURPOSE, reference=reference | {"kind": "live"},
            )  # fmt: skip
        elif copy:
            payload = {"from_chat_id": sender.telegram_id, "message_id": message_id}
            if caption is not None:
                payload |= {"caption": f"<b>{name}</b>: {escape(caption)}", "parse_mode": "HTML"}
            else:
                await outbox.enqueue(person.telegram_id, f"<b>{name}</b>:",
                                     dedupe_key=key + ":name")  # fmt: skip
            await outbox.enqueue(
                person.telegram_id, method="copyMessage", payload=payload, dedupe_key=key,
                purpose=RELAY_PURPOSE, reference=reference | {"kind": "copy"},
            )  # fmt: skip
    return len(others)


async def remember_copy(row: OutboxMessage, message: Message | None) -> None:
    """After-send hook: which copy each member got (copyMessage returns only an id)."""
    reference = row.reference or {}
    message_id = getattr(message, "message_id", None) if message is not None else None
    if message_id is None:
        message_id = row.telegram_message_id
    if not await CompanionGroup.exists(id=reference.get("group")):
        return
    await RelayedMessage.create(
        group_id=reference["group"],
        sender_id=reference.get("sender"),
        sender_message_id=reference["sender_message_id"],
        recipient_id=reference["recipient"],
        recipient_message_id=message_id,
        kind=reference.get("kind", "text"),
    )


async def move_live_location(telegram_id: int, message_id: int, lat: float, lon: float) -> int:
    copies = await RelayedMessage.filter(
        sender__telegram_id=telegram_id, sender_message_id=message_id, kind="live"
    ).prefetch_related("recipient")
    for copy in copies:
        await outbox.enqueue(
            copy.recipient.telegram_id, method="editMessageLiveLocation",
            payload={"message_id": copy.recipient_message_id, "latitude": lat, "longitude": lon},
        )  # fmt: skip
    return len(copies)


async def stop_live_locations(telegram_id: int) -> int:
    """Stop every live location she shares through the bot and forget the copies."""
    copies = await RelayedMessage.filter(
        sender__telegram_id=telegram_id, kind="live"
    ).prefetch_related("recipient")
    for copy in copies:
        await outbox.enqueue(
            copy.recipient.telegram_id, method="stopMessageLiveLocation",
            payload={"message_id": copy.recipient_message_id},
        )  # fmt: skip
    await RelayedMessage.filter(id__in=[c.id for c in copies]).delete()
    return len(copies)


# -- muting, leaving, reporting ------------------------------------------------------------------


async def set_muted(telegram_id: int, muted: bool) -> Membership:
    membership = await current_group(telegram_id)
    if membership is None:
        raise UserInputError(N_("You are not in a group right now."))
    membership.member.muted = muted
    await membership.member.save(update_fields=["muted"])
    return membership


async def leave_group(telegram_id: int, group_id: int) -> CompanionGroup:
    """She leaves; the others learn only that a member left; no group of that kind for her."""
    member = await GroupMember.get_or_none(
        group_id=group_id, registration__person__telegram_id=telegram_id, status=MemberStatus.ACTIVE
    ).prefetch_related("group", "registration")
    if member is None:
        raise UserInputError(N_("This button is no longer active."))
    await without_groups(member.registration, [GroupKind(member.group.kind)])
    return member.group


async def without_groups(registration, kinds: list[GroupKind]) -> None:
    """Out of her groups of these kinds, and out of the next rounds for them too."""
    if GroupKind.DEPARTURE in kinds:
        registration.wants_departure_group = False
    if GroupKind.ARRIVAL in kinds:
        registration.arrival_kind = "on_my_own"
    await registration.save(update_fields=["wants_departure_group", "arrival_kind"])
    for kind in kinds:
        await groups.leave_groups(registration.id, kind)


REPORT_TO_ORGANIZERS = N_(
    "🚩 A member of a group at {event} reported a message from <b>{name}</b>:\n“{excerpt}”"
)
REMOVE_FROM_GROUP = N_("Remove her from the group")
REMOVE_FROM_EVENT = N_("Remove her from the event")


async def report(telegram_id: int, reply_to_message_id: int) -> MessageReport:
    """She reports a relayed message: organizers see it with the sender's display name."""
    copy = await RelayedMessage.get_or_none(
        recipient__telegram_id=telegram_id, recipient_message_id=reply_to_message_id
    ).prefetch_related("group__event", "sender", "recipient")
    if copy is None:
        raise UserInputError(
            N_("To report a message, reply to it with /report (it must come from your group).")
        )
    sent = await OutboxMessage.filter(
        purpose=RELAY_PURPOSE, telegram_message_id=reply_to_message_id, chat_id=telegram_id
    ).first()
    excerpt = (sent.payload.get("text") or sent.payload.get("caption") or "") if sent else ""
    event = copy.group.event
    entry = await MessageReport.create(
        event=event, reporter=copy.recipient, reported=copy.sender, excerpt=excerpt[:1000] or "—"
    )
    organizers = await Role.filter(event=event, kind=RoleKind.ORGANIZER).prefetch_related("person")
    for role in organizers:
        t = language_of(role.person)
        await outbox.enqueue(
            role.person.telegram_id,
            t.gettext(REPORT_TO_ORGANIZERS).format(
                event=escape(event.name),
                name=escape(copy.sender.display_name if copy.sender else "?"),
                excerpt=excerpt[:500],  # already escaped when it was relayed
            ),
            reply_markup=signed_markup(role.person, [
                [(t.gettext(REMOVE_FROM_GROUP), f"rm:group:{entry.id}")],
                [(t.gettext(REMOVE_FROM_EVENT), f"rm:event:{entry.id}")],
            ]),
            priority=10,
            dedupe_key=f"report:{entry.id}:{role.person_id}",
        )  # fmt: skip
    return entry


REMOVED_FROM_GROUP = N_("An organizer removed you from your group at {event}.")
REMOVED_FROM_EVENT = N_("An organizer removed you from {event}. Your registration is cancelled.")


async def remove_reported(telegram_id: int, report_id: int, scope: str) -> Person | None:
    """An organizer acts on a report: the person leaves the group, or the event; she is told."""
    entry = await MessageReport.get_or_none(id=report_id).prefetch_related("event", "reported")
    if entry is None or entry.reported is None:
        raise UserInputError(N_("This button is no longer active."))
    event = entry.event
    if not await Role.exists(event=event, person__telegram_id=telegram_id, kind=RoleKind.ORGANIZER):
        raise UserInputError(N_("Only this event's organizers can do this."))
    from companion_bot.models import Registration, RegistrationStatus

    registration = await Registration.get_or_none(event=event, person=entry.reported)
    if registration is None:
        raise UserInputError(N_("This button is no longer active."))
    person = entry.reported
    t = language_of(person)
    if scope == "event":
        registration.status = RegistrationStatus.CANCELLED
        registration.cancelled_at = _now()
        await registration.save(update_fields=["status", "cancelled_at"])
        await groups.remove_registration(registration.id)
        message = REMOVED_FROM_EVENT
    else:
        await without_groups(registration, [GroupKind.ARRIVAL, GroupKind.DEPARTURE])
        message = REMOVED_FROM_GROUP
    entry.handled_at = _now()
    await entry.save(update_fields=["handled_at"])
    await outbox.enqueue(person.telegram_id, t.gettext(message).format(event=escape(event.name)),
                         dedupe_key=f"removed:{entry.id}:{scope}")  # fmt: skip
    return person
