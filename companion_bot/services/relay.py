"""The anonymous relay inside a group: a member writes to the bot and the others receive
"<display name>: …". A photo, a voice note or a file is relayed as a COPY notice: members on
her channel get a copy of her message itself, which carries no link to the sender; members
on another channel get the file by its reference, fetched and sent on by their channel's
edge (companion_bot/media.py). Her account, username, id and phone number are never shown
to anyone.

Which copy each member got is remembered (RelayedMessage) so that replies go back to the right
group, reports name the right message, and a live location can be moved and stopped; live
location copies are forgotten when sharing stops (no history kept).
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from companion_bot import actions, clock, notices
from companion_bot.i18n import N_, escape
from companion_bot.models import (
    CompanionGroup,
    Event,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    MessageReport,
    OutboxMessage,
    Person,
    Registration,
    RegistrationStatus,
    RelayedMessage,
    Role,
    RoleKind,
)
from companion_bot.services import groups, locations, outbox, people
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who
from companion_bot.text_limits import CAPTION_LIMIT, TEXT_LIMIT, message_length, split_text

RELAY_PURPOSE = "relay"
REPORT_KEY = "report"
GONE = N_("This button is no longer active.")
LIVE_PERIOD_MAX = 8 * 3600
# Copies of a live location she shares: her group's, and the team's once she answered "are you
# home?" with her safe word (services/duress.py). Both stop when she stops sharing.
TEAM_LIVE_KIND = "team_live"
LIVE_KINDS = ("live", TEAM_LIVE_KIND)
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


async def current_group(who: Who, now: datetime | None = None) -> Membership | None:
    """Her group to talk to now: the departure group once its wave is near, else arrival."""
    now = now or _now()
    members = await GroupMember.filter(
        **people.lookup(who, "registration__person"),
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


async def group_of_reply(who: Who, reply_to_message_id: int) -> Membership | None:
    """A reply to a relayed message goes to the group that message came from."""
    copy = await RelayedMessage.get_or_none(
        **people.lookup(who, "recipient"), recipient_message_id=reply_to_message_id
    )
    if copy is None:
        return None
    member = await GroupMember.get_or_none(
        group_id=copy.group_id, **people.lookup(who, "registration__person"),
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


def relay_key_prefix(sender_id: int) -> str:
    """Every outbox row carrying her words (or her live location) to others starts so."""
    return f"relay:{sender_id}:"


@dataclass(frozen=True)
class Relayed:
    recipients: int  # how many members will receive it
    parts: int  # more than 1: it was too long for one Telegram message


def split_for_relay(name: str, body: str, first_limit: int = TEXT_LIMIT) -> list[str]:
    """Her words in pieces that each fit in one message once "name: " is put before them."""
    prefix = message_length(f"{name}: ")
    return split_text(body, TEXT_LIMIT - prefix, first_limit - prefix)


def part_key(key: str, index: int) -> str:
    return key if index == 0 else f"{key}:{index}"


async def relay(
    membership: Membership,
    message_id: int,
    *,
    text: str | None = None,
    copy: bool = False,
    media: dict | None = None,
    caption: str | None = None,
    live_location: tuple[float, float, int] | None = None,
) -> Relayed:
    """Queue her message for each other member. Text too long for one message once her
    name is put before it (a caption: 1024 characters) goes in several parts.

    `copy`: her message itself can be copied to those on her channel; `media`: the file it
    carries (`notices.media`), for those on another channel."""
    sender = membership.person
    raw_name = sender.display_name or "?"
    name = escape(raw_name)
    others = await recipients(membership)
    if text is not None:
        parts = split_for_relay(raw_name, text)
    elif caption is not None:
        parts = split_for_relay(raw_name, caption, CAPTION_LIMIT)
    else:
        parts = []
    for person in others:
        reference = {"group": membership.group.id, "sender": sender.id,
                     "sender_message_id": message_id, "recipient": person.id}  # fmt: skip
        key = f"{relay_key_prefix(sender.id)}{message_id}:{person.id}"
        texts = list(enumerate(parts))
        if live_location is not None:
            lat, lon, period = live_location
            await outbox.enqueue(
                person,
                language_of(person)
                .gettext(N_("📍 {name} shares her live location:"))
                .format(name=name),
                dedupe_key=key + ":intro",
            )
            await outbox.enqueue(
                person, kind=notices.LOCATION,
                payload={"latitude": lat, "longitude": lon,
                         "live_period": min(max(period, 60), LIVE_PERIOD_MAX)},
                dedupe_key=key, purpose=RELAY_PURPOSE, reference=reference | {"kind": "live"},
            )  # fmt: skip
        elif copy or media:
            payload: dict = {"media": media or notices.media(sender.channel, notices.MEDIA_OTHER)}
            if copy and person.channel == sender.channel:
                payload |= {"from_chat_id": sender.telegram_id, "message_id": message_id}
            if parts:
                payload |= {"caption": f"<b>{name}</b>: {escape(parts[0])}"}
                texts = texts[1:]  # the rest follows as text
            else:
                await outbox.enqueue(person, f"<b>{name}</b>:",
                                     dedupe_key=key + ":name")  # fmt: skip
            await outbox.enqueue(
                person, kind=notices.COPY, payload=payload, dedupe_key=key,
                purpose=RELAY_PURPOSE, reference=reference | {"kind": "copy"},
            )  # fmt: skip
        for index, piece in texts:
            await outbox.enqueue(
                person, f"<b>{name}</b>: {escape(piece)}",
                dedupe_key=part_key(key, index), purpose=RELAY_PURPOSE,
                reference=reference | {"kind": "text"},
            )  # fmt: skip
    return Relayed(len(others), max(len(parts), 1))


async def remember_copy(row: OutboxMessage, delivered: outbox.Delivered) -> None:
    """After-send hook: which copy each member got."""
    reference = row.reference or {}
    message_id = delivered.message_id
    if message_id is None:
        message_id = row.telegram_message_id
    if not await OutboxMessage.exists(id=row.id):
        # Forgotten (/forget) while it was being sent: nothing is recorded, nothing moves.
        recipient = await outbox.recipient(row)
        if reference.get("kind") in LIVE_KINDS and message_id is not None and recipient:
            await stop_copy(recipient, message_id)
        return
    await locations.blank(row)
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


async def move_live_location(who: Who, message_id: int, lat: float, lon: float) -> int:
    copies = await RelayedMessage.filter(
        **people.lookup(who, "sender"), sender_message_id=message_id, kind="live"
    ).prefetch_related("recipient")
    for copy in copies:
        # A key of her own (forgetting her finds it); the point is blanked once sent.
        key = f"{relay_key_prefix(copy.sender_id)}{message_id}:{copy.recipient_id}:"
        await outbox.enqueue(
            copy.recipient, kind=notices.MOVE_LOCATION,
            payload={"message_id": copy.recipient_message_id, "latitude": lat, "longitude": lon},
            dedupe_key=key + secrets.token_hex(6), purpose=locations.PURPOSE,
        )  # fmt: skip
    return len(copies)


async def stop_copy(to: Person, message_id: int) -> None:
    await outbox.enqueue(to, kind=notices.STOP_LOCATION, payload={"message_id": message_id})


async def stop_live_locations(who: Who) -> int:
    """Stop every live location she shares through the bot and forget the copies (and any
    point of hers that could not be sent)."""
    copies = await RelayedMessage.filter(
        **people.lookup(who, "sender"), kind__in=LIVE_KINDS
    ).prefetch_related("recipient")
    for copy in copies:
        await stop_copy(copy.recipient, copy.recipient_message_id)
    await RelayedMessage.filter(id__in=[c.id for c in copies]).delete()
    await locations.blank_finished()
    return len(copies)


# -- muting, leaving, reporting ------------------------------------------------------------------


async def set_muted(who: Who, group_id: int, muted: bool) -> GroupMember:
    """Mute (or unmute) the group the button names; only one she is a member of."""
    member = await GroupMember.get_or_none(
        group_id=group_id, **people.lookup(who, "registration__person"), status=MemberStatus.ACTIVE
    )
    if member is None:
        raise UserInputError(GONE)
    member.muted = muted
    await member.save(update_fields=["muted"])
    return member


async def leave_group(who: Who, group_id: int) -> CompanionGroup:
    """She leaves; the others learn only that a member left; no group of that kind for her."""
    member = await GroupMember.get_or_none(
        group_id=group_id, **people.lookup(who, "registration__person"), status=MemberStatus.ACTIVE
    ).prefetch_related("group", "registration")
    if member is None:
        raise UserInputError(GONE)
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


EXCERPT_SHOWN = 500  # characters of the reported message in the organizers' alert
EXCERPT_KEPT = 1000
_NAME_PREFIX = re.compile(r"^<b>[^<]*</b>:\s?")


def relayed_words(payload: dict) -> str:
    """What she wrote, as plain text, from a relayed copy ("<b>name</b>: escaped words")."""
    shown = payload.get("text") or payload.get("caption") or ""
    return html.unescape(_NAME_PREFIX.sub("", shown))


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


async def report(who: Who, reply_to_message_id: int) -> MessageReport:
    """She reports a relayed message: organizers see it with the sender's display name."""
    copy = await RelayedMessage.get_or_none(
        **people.lookup(who, "recipient"), recipient_message_id=reply_to_message_id
    ).prefetch_related("group__event", "sender", "recipient")
    if copy is None:
        raise UserInputError(
            N_("To report a message, reply to it with /report (it must come from your group).")
        )
    sent = await OutboxMessage.filter(
        purpose=RELAY_PURPOSE, telegram_message_id=reply_to_message_id, chat_id=who
    ).first()
    # Cut the plain text, escape when showing it: never half an HTML entity.
    excerpt = relayed_words(sent.payload)[:EXCERPT_KEPT] if sent else ""
    event = copy.group.event
    entry = await MessageReport.create(
        event=event, reporter=copy.recipient, reported=copy.sender, excerpt=excerpt or "—"
    )
    organizers = await Role.filter(event=event, kind=RoleKind.ORGANIZER).prefetch_related("person")
    for role in organizers:
        t = language_of(role.person)
        await outbox.enqueue(
            role.person,
            t.gettext(REPORT_TO_ORGANIZERS).format(
                event=escape(event.localized("name", t.language)),
                name=escape(copy.sender.display_name if copy.sender else "?"),
                excerpt=escape(shorten(entry.excerpt, EXCERPT_SHOWN)),
            ),
            choices=[
                [(t.gettext(REMOVE_FROM_GROUP),
                  actions.RemoveReported("group", entry.id).encode())],
                [(t.gettext(REMOVE_FROM_EVENT),
                  actions.RemoveReported("event", entry.id).encode())],
            ],
            priority=10,
            dedupe_key=f"{REPORT_KEY}:{entry.id}:{role.person_id}",
        )  # fmt: skip
    return entry


# -- organizers remove someone: after a report, or by her display name --------------------------

REMOVED_FROM_GROUP = N_("An organizer removed you from your group at {event}.")
REMOVED_FROM_EVENT = N_("An organizer removed you from {event}. Your registration is cancelled.")
STILL_SIGNED_UP = N_("You are still signed up: we are looking for another group for you.")
TEAM_TOLD_REMOVED = N_(
    "👤 An organizer took {name} out of her group at {event}. She is back in the matching "
    "for another group; if none fits, /waves lists her among those without a group."
)
SCOPES = ("group", "event")


async def must_organize(who: Who, event_id: int) -> None:
    if not await Role.exists(
        event_id=event_id, **people.lookup(who, "person"), kind=RoleKind.ORGANIZER
    ):
        raise UserInputError(N_("Only this event's organizers can do this."))


async def remove_reported(who: Who, report_id: int, scope: str) -> Person:
    """An organizer acts on a report: the person leaves the group, or the event; she is told."""
    entry = await MessageReport.get_or_none(id=report_id).prefetch_related("event", "reported")
    if entry is None or entry.reported is None or scope not in SCOPES:
        raise UserInputError(GONE)
    await must_organize(who, entry.event_id)
    registration = await Registration.get_or_none(
        event_id=entry.event_id, person=entry.reported, status=RegistrationStatus.CONFIRMED
    ).prefetch_related("event", "person")
    if registration is None:
        raise UserInputError(GONE)
    person = await remove(who, registration, scope)
    entry.handled_at = _now()
    await entry.save(update_fields=["handled_at"])
    return person


async def remove_registration(who: Who, registration_id: int, scope: str) -> Person:
    """An organizer removes someone she found by name (`removal_candidates`)."""
    registration = await Registration.get_or_none(
        id=registration_id, status=RegistrationStatus.CONFIRMED
    ).prefetch_related("event", "person")
    if registration is None or scope not in SCOPES:
        raise UserInputError(GONE)
    await must_organize(who, registration.event_id)
    return await remove(who, registration, scope)


async def remove(organizer_telegram_id: int, registration: Registration, scope: str) -> Person:
    """Out of the event (registration cancelled), or out of her groups only: then she stays
    in the matching for another group (never one with the people she was taken from) and the
    team on duty is told, so nobody leaves alone. She is told either way."""
    person, event = registration.person, registration.event
    if scope == "event":
        registration.status = RegistrationStatus.CANCELLED
        registration.cancelled_at = _now()
        await registration.save(update_fields=["status", "cancelled_at"])
        await groups.remove_registration(registration.id)
        messages = [REMOVED_FROM_EVENT]
    else:
        if not await GroupMember.exists(registration=registration, status=MemberStatus.ACTIVE):
            raise UserInputError(N_("She is not in a group right now."))
        await groups.leave_groups(registration.id, None, status=MemberStatus.REMOVED)
        await tell_team_removed(organizer_telegram_id, event, person)
        messages = [REMOVED_FROM_GROUP, STILL_SIGNED_UP]
    t = language_of(person)
    await outbox.enqueue(
        person,
        "\n".join(t.gettext(message) for message in messages).format(
            event=escape(event.localized("name", t.language))
        ),
    )  # a second tap finds her out already: no need for a dedupe key
    return person


async def tell_team_removed(organizer_telegram_id: int, event: Event, person: Person) -> None:
    from companion_bot.services.closing import on_duty_team

    for member in await on_duty_team(event.id):
        if member.telegram_id == organizer_telegram_id:
            continue
        t = language_of(member)
        await outbox.enqueue(
            member,
            t.gettext(TEAM_TOLD_REMOVED).format(
                name=escape(person.display_name or "?"),
                event=escape(event.localized("name", t.language)),
            ),
            priority=10,
        )


@dataclass(frozen=True)
class Removable:
    """Someone an organizer may remove, with what tells her apart from a namesake."""

    registration: Registration
    groups: list[CompanionGroup]


async def removal_candidates(who: Who, name: str) -> list[Removable]:
    """Who signed up under this display name at the events she organizes (not purged)."""
    event_ids = await Role.filter(
        **people.lookup(who, "person"), kind=RoleKind.ORGANIZER, event__purged_at=None
    ).values_list("event_id", flat=True)
    if not event_ids:
        raise UserInputError(N_("Only this event's organizers can do this."))
    wanted = " ".join(name.split()).casefold()
    registrations = await Registration.filter(
        event_id__in=list(event_ids), status=RegistrationStatus.CONFIRMED
    ).prefetch_related("person", "event")
    found = []
    for registration in registrations:
        if (registration.person.display_name or "").casefold() != wanted:
            continue
        members = (
            await GroupMember.filter(registration=registration, status=MemberStatus.ACTIVE)
            .prefetch_related("group")
            .order_by("group__meet_at")
        )
        found.append(Removable(registration, [member.group for member in members]))
    return found
