"""Data rights: what we hold about a person (/mydata), and forgetting her (/forget).

Forgetting stops the live location she shares, deletes the messages queued or kept for her
and those carrying her words to others (relayed copies, her help alerts, reports of her
messages), then her person row and everything that cascades from it (registrations, roles,
group memberships, relayed-message records, her avoidances, conversation state). Help alerts
and follow-up answers stay as anonymous counts; a wish of someone else not to be grouped with
her keeps only a keyed hash of her Telegram id. Each event she was part of keeps a counter so
its statistics still add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from companion_bot import inbox, persistence, signing
from companion_bot.models import (
    Avoidance,
    Channel,
    Event,
    FollowupAnswer,
    GroupMember,
    HelpAlert,
    MemberStatus,
    MessageReport,
    OutboxMessage,
    OutboxStatus,
    Person,
    RelayedMessage,
    Role,
)
from companion_bot.services import outbox, people, registrations, relay
from companion_bot.services.people import Who
from companion_bot.services.registrations import RegistrationView

WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING)


@dataclass(frozen=True)
class Membership:
    event_name: str
    timezone: str
    kind: str
    meet_at: object
    status: str
    table: str | None = None  # an online group: its table's name


@dataclass(frozen=True)
class AvoidanceShown:
    name: str | None  # None: that person's data was deleted since
    created_at: datetime


@dataclass(frozen=True)
class PersonalData:
    person: Person
    registrations: list[RegistrationView]
    roles: list[Role]
    memberships: list[Membership]
    help_alerts: list[HelpAlert]
    reports_made: list[MessageReport]
    followups: list[FollowupAnswer]
    relayed_messages: int
    messages_waiting: int
    messages_kept: int
    avoidances: list[AvoidanceShown]


async def personal_data(who: Who, language: str) -> PersonalData | None:
    """Everything about her; what organizers wrote (event names…) in `language`."""
    person = await Person.get_or_none(**people.lookup(who))
    if person is None:
        return None
    views = [
        await registrations.view(registration, language)
        for registration in await person.registrations.all().order_by("created_at")
    ]
    roles = await Role.filter(person=person).prefetch_related("event").order_by("created_at")
    members = await GroupMember.filter(registration__person=person).prefetch_related(
        "group__event", "group__table"
    )
    memberships = [
        Membership(
            event_name=member.group.event.localized("name", language),
            timezone=member.group.event.timezone,
            kind=member.group.kind,
            meet_at=member.group.meet_at,
            status=member.status,
            table=member.group.table.name if member.group.table else None,
        )
        for member in members
    ]
    avoidances = await Avoidance.filter(person=person).prefetch_related("avoided").order_by("id")
    to_her = outbox.rows_to(person)
    return PersonalData(
        person=person,
        registrations=views,
        roles=list(roles),
        memberships=memberships,
        help_alerts=list(
            await HelpAlert.filter(person=person).prefetch_related("event").order_by("created_at")
        ),
        reports_made=list(
            await MessageReport.filter(reporter=person)
            .prefetch_related("event", "reported")
            .order_by("created_at")
        ),
        followups=list(
            await FollowupAnswer.filter(contact=person)
            .prefetch_related("event")
            .order_by("created_at")
        ),
        relayed_messages=await RelayedMessage.filter(sender=person).count(),
        messages_waiting=await to_her.filter(status__in=WAITING).count(),
        messages_kept=await to_her.exclude(status__in=WAITING).count(),
        avoidances=[
            AvoidanceShown(a.avoided.display_name if a.avoided else None, a.created_at)
            for a in avoidances
        ],
    )


@dataclass(frozen=True)
class Forgotten:
    """What the caller still has to do: tell these groups that a member left."""

    group_ids: list[int]


async def forget(who: Who) -> Forgotten | None:
    """Delete everything about her; None when we knew nothing about her."""
    async with in_transaction():
        person = await Person.get_or_none(**people.lookup(who))
        if person is None:
            await forget_conversations(who)
            return None
        group_ids = await GroupMember.filter(
            registration__person=person, status=MemberStatus.ACTIVE
        ).values_list("group_id", flat=True)
        for event in await Event.filter(registrations__person=person).distinct():
            statistics = dict(event.statistics or {})
            statistics["forgotten_registrations"] = statistics.get("forgotten_registrations", 0) + 1
            event.statistics = statistics
            await event.save(update_fields=["statistics"])
        # First, while her relayed copies are still known: her live location stops moving.
        await relay.stop_live_locations(who)
        await forget_messages(person)
        await HelpAlert.filter(person=person).update(person_id=None, text=None, latitude=None,
                                                     longitude=None)  # fmt: skip
        await MessageReport.filter(reported=person).update(excerpt="")
        await FollowupAnswer.filter(contact=person).update(report=None)
        await delete_person(person)
    return Forgotten(group_ids=sorted(set(group_ids)))


async def forget_messages(person: Person) -> None:
    """The outbox rows about her: messages to her (waiting or kept), and those carrying her
    name and words to others (her relayed messages, her help alerts, reports of her
    messages, her follow-up answers she asked to be contacted about), whether sent yet or not."""
    # A broadcast's delivery counts stay right: its kept rows lose their recipient and text.
    await (
        outbox.rows_to(person)
        .filter(broadcast_id__not_isnull=True, status__in=outbox.FINISHED)
        .update(chat_id=0, payload={})
    )
    await outbox.rows_to(person).delete()
    alerts = await HelpAlert.filter(person=person).values_list("id", flat=True)
    reports = await MessageReport.filter(reported=person).values_list("id", flat=True)
    prefixes = [relay.relay_key_prefix(person.id)]
    prefixes += [f"help:{alert_id}:" for alert_id in alerts]
    prefixes += [f"{relay.REPORT_KEY}:{report_id}:" for report_id in reports]
    from companion_bot.services import followups  # it imports lifecycle, which imports us

    answers = await FollowupAnswer.filter(contact=person).values_list("id", flat=True)
    prefixes += [followups.thread_key_prefix(answer_id) for answer_id in answers]
    for prefix in prefixes:
        await OutboxMessage.filter(dedupe_key__startswith=prefix).delete()


async def delete_person(person: Person) -> None:
    """Her row goes, with what cascades from it and her conversation state. Someone's wish
    not to be grouped with her keeps a keyed hash of her id, so it holds if she comes back
    (`people.relink_avoidances`)."""
    if await Avoidance.exists(avoided=person, avoided_key=None):  # made before keys existed
        await Avoidance.filter(avoided=person, avoided_key=None).update(
            avoided_key=signing.person_key(people.address_of(person))
        )
    await person.delete()
    await forget_conversations(person)


async def forget_conversations(who: Who) -> None:
    """Her conversation state, and her updates waiting to be handled (they hold her words).
    (On WhatsApp, her conversation state is deleted with her row.)"""
    if isinstance(who, Person) and who.channel == Channel.WHATSAPP:
        await inbox.forget(inbox.key_of(who))
        return
    telegram_id = who.telegram_id if isinstance(who, Person) else who
    await persistence.forget(telegram_id)
    await inbox.forget(inbox.person_key(telegram_id))


# -- "don't group me with her again" ----------------------------------------------------------


@dataclass(frozen=True)
class Companion:
    person_id: int
    name: str
    event: Event
    avoided: bool


async def companions(who: Who) -> list[Companion]:
    """Everyone she shared a group with, most recent events first."""
    person = await Person.get_or_none(**people.lookup(who))
    if person is None:
        return []
    group_ids = await GroupMember.filter(registration__person=person).values_list(
        "group_id", flat=True
    )
    others = (
        await GroupMember.filter(group_id__in=list(group_ids))
        .exclude(registration__person=person)
        .prefetch_related("registration__person", "group__event")
        .order_by("-group__meet_at")
    )
    avoided = set(await Avoidance.filter(person=person).values_list("avoided_id", flat=True))
    seen, found = set(), []
    for member in others:
        other = member.registration.person
        if other.id in seen:
            continue
        seen.add(other.id)
        found.append(Companion(other.id, other.display_name or "?", member.group.event,
                               other.id in avoided))  # fmt: skip
    return found


async def avoid(who: Who, person_id: int) -> Companion:
    """Never group her with this person again; only someone she was grouped with qualifies."""
    from companion_bot.i18n import N_
    from companion_bot.services.errors import UserInputError

    match = next((c for c in await companions(who) if c.person_id == person_id), None)
    if match is None:
        raise UserInputError(N_("This button is no longer active."))
    person = await Person.get(**people.lookup(who))
    avoided = await Person.get(id=person_id)
    await Avoidance.get_or_create(
        person=person, avoided=avoided,
        defaults={"avoided_key": signing.person_key(people.address_of(avoided))},
    )  # fmt: skip
    return match
