"""Data rights: what we hold about a person (/mydata), and forgetting her (/forget).

Forgetting deletes her person row and everything that cascades from it (registrations,
roles, group memberships, relayed messages, avoidances, conversation state); help alerts and
follow-up answers stay as anonymous counts. Each event she was part of keeps a counter so
its statistics still add up.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from companion_bot.models import (
    Avoidance,
    ConversationState,
    Event,
    GroupMember,
    HelpAlert,
    MemberStatus,
    Person,
    RelayedMessage,
    Role,
    UserData,
)
from companion_bot.services import registrations
from companion_bot.services.registrations import RegistrationView


@dataclass(frozen=True)
class Membership:
    event_name: str
    timezone: str
    kind: str
    meet_at: object
    status: str


@dataclass(frozen=True)
class PersonalData:
    person: Person
    registrations: list[RegistrationView]
    roles: list[Role]
    memberships: list[Membership]
    help_alerts: list[HelpAlert]
    relayed_messages: int
    avoidances: int


async def personal_data(telegram_id: int) -> PersonalData | None:
    person = await Person.get_or_none(telegram_id=telegram_id)
    if person is None:
        return None
    views = [
        await registrations.view(registration)
        for registration in await person.registrations.all().order_by("created_at")
    ]
    roles = await Role.filter(person=person).prefetch_related("event").order_by("created_at")
    members = await GroupMember.filter(registration__person=person).prefetch_related("group__event")
    memberships = [
        Membership(
            event_name=member.group.event.name,
            timezone=member.group.event.timezone,
            kind=member.group.kind,
            meet_at=member.group.meet_at,
            status=member.status,
        )
        for member in members
    ]
    return PersonalData(
        person=person,
        registrations=views,
        roles=list(roles),
        memberships=memberships,
        help_alerts=list(await HelpAlert.filter(person=person).order_by("created_at")),
        relayed_messages=await RelayedMessage.filter(sender=person).count(),
        avoidances=await Avoidance.filter(person=person).count(),
    )


@dataclass(frozen=True)
class Forgotten:
    """What the caller still has to do: tell these groups that a member left."""

    group_ids: list[int]


async def forget(telegram_id: int) -> Forgotten | None:
    """Delete everything about her; None when we knew nothing about her."""
    async with in_transaction():
        person = await Person.get_or_none(telegram_id=telegram_id)
        if person is None:
            await forget_conversations(telegram_id)
            return None
        group_ids = await GroupMember.filter(
            registration__person=person, status=MemberStatus.ACTIVE
        ).values_list("group_id", flat=True)
        for event in await Event.filter(registrations__person=person).distinct():
            statistics = dict(event.statistics or {})
            statistics["forgotten_registrations"] = statistics.get("forgotten_registrations", 0) + 1
            event.statistics = statistics
            await event.save(update_fields=["statistics"])
        await HelpAlert.filter(person=person).update(person_id=None, text=None, latitude=None,
                                                     longitude=None)  # fmt: skip
        await person.delete()
        await forget_conversations(telegram_id)
    return Forgotten(group_ids=sorted(set(group_ids)))


async def forget_conversations(telegram_id: int) -> None:
    await UserData.filter(telegram_id=telegram_id).delete()
    # Conversation keys are [chat_id, user_id]; in private chats both are her id.
    await ConversationState.filter(key=f"[{telegram_id},{telegram_id}]").delete()


# -- "don't group me with her again" ----------------------------------------------------------


@dataclass(frozen=True)
class Companion:
    person_id: int
    name: str
    event_name: str
    avoided: bool


async def companions(telegram_id: int) -> list[Companion]:
    """Everyone she shared a group with, most recent events first."""
    person = await Person.get_or_none(telegram_id=telegram_id)
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
        found.append(Companion(other.id, other.display_name or "?", member.group.event.name,
                               other.id in avoided))  # fmt: skip
    return found


async def avoid(telegram_id: int, person_id: int) -> Companion:
    """Never group her with this person again; only someone she was grouped with qualifies."""
    from companion_bot.i18n import N_
    from companion_bot.services.errors import UserInputError

    match = next((c for c in await companions(telegram_id) if c.person_id == person_id), None)
    if match is None:
        raise UserInputError(N_("This button is no longer active."))
    person = await Person.get(telegram_id=telegram_id)
    await Avoidance.get_or_create(person=person, avoided_id=person_id)
    return match
