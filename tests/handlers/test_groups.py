"""Matching rounds in the running bot: groups stored, members introduced by display name only,
late sign-ups joining, cancellations telling the group only that a member left."""

from __future__ import annotations

from datetime import timedelta

from companion_bot.models import (
    CompanionGroup,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    Registration,
    Unplaced,
)
from tests.support import BotHarness, data, sign_up


def ALL_ANNOUNCED(event):
    """Past the deadlines of the first slot (3 h before) and the 03:00 wave (6 h before)."""
    return event.doors_open - timedelta(hours=1, minutes=59)


PLACES = ["Montreuil", "Bagnolet", "Vincennes", "Les Lilas", "Romainville", "Saint-Mandé"]


async def sign_up_people(harness: BotHarness, event, count: int, **kwargs):
    people = []
    for i in range(count):
        person = harness.user(first_name=f"Amie{i}", language_code="en")
        await sign_up(harness, person, event.attendee_code, destination=PLACES[i % len(PLACES)],
                      **kwargs)  # fmt: skip
        people.append(person)
    return people


def texts_of(person) -> list[str]:
    return [message.text or "" for message in person.messages()]


async def test_round_announces_groups_and_introduces_members(harness: BotHarness, event):
    people = await sign_up_people(harness, event, 6)
    await harness.travel_to(ALL_ANNOUNCED(event))

    groups = await CompanionGroup.filter(event=event).prefetch_related("members")
    assert {g.status for g in groups} == {GroupStatus.ANNOUNCED}
    assert {g.kind for g in groups} == {GroupKind.ARRIVAL, GroupKind.DEPARTURE}
    for person in people:
        texts = texts_of(person)
        arrival = [t for t in texts if t.startswith("👋 Your arrival group")]
        departure = [t for t in texts if t.startswith("🌙 Your departure group")]
        assert len(arrival) == 1 and len(departure) == 1, texts
        # Only display names: never a Telegram id or username of another member.
        others = [p for p in people if p is not person]
        for text in arrival + departure:
            assert person.first_name not in text.split(":", 1)[1].split(".")[0]
            assert any(other.first_name in text for other in others)
            assert not any(str(other.id) in text for other in others)
    assert not await Unplaced.filter(event=event, resolved_at=None).exists()


async def test_late_sign_up_joins_an_announced_group(harness: BotHarness, event):
    people = await sign_up_people(harness, event, 4)
    await harness.travel_to(ALL_ANNOUNCED(event))
    late = harness.user(first_name="Tardive", language_code="en")
    await sign_up(harness, late, event.attendee_code, destination="Oberkampf")
    await harness.drain()

    registration = await Registration.get(person__telegram_id=late.id)
    memberships = await GroupMember.filter(registration=registration).prefetch_related("group")
    assert {m.group.kind for m in memberships} == {GroupKind.ARRIVAL, GroupKind.DEPARTURE}
    assert any(t.startswith("👋 Your arrival group") for t in texts_of(late))
    told = [p for p in people if any("Tardive joins your" in t for t in texts_of(p))]
    assert told, "the group was not told about the newcomer"


async def test_cancellation_tells_the_group_only_that_a_member_left(harness: BotHarness, event):
    people = await sign_up_people(harness, event, 3)
    await harness.travel_to(ALL_ANNOUNCED(event))
    leaver = people[0]
    await harness.say(leaver, "/leave")
    await harness.tap(leaver, data("leave:*"))
    await harness.tap(leaver, data("leave:yes:*"))
    await harness.drain()
    for person in people[1:]:
        notices = [t for t in texts_of(person) if "left your" in t]
        assert notices, texts_of(person)
        assert all(leaver.first_name not in t for t in notices)
    memberships = await GroupMember.filter(registration__person__telegram_id=leaver.id)
    assert {m.status for m in memberships} == {MemberStatus.LEFT}


async def test_organizer_runs_a_round_by_hand(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    await sign_up_people(harness, event, 4)
    reply = await harness.say(orga, "/match")
    assert reply.text.startswith("Matching round done:")
    assert "% grouped" in reply.text
    assert await CompanionGroup.filter(event=event).exists()
