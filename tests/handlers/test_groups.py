"""Matching rounds in the running bot: groups stored, members introduced by display name only,
late sign-ups joining, cancellations telling the group only that a member left."""

from __future__ import annotations

from datetime import timedelta

from companion_bot import clock
from companion_bot.models import (
    ArrivalSlot,
    CompanionGroup,
    DepartureWave,
    GroupKind,
    GroupMember,
    GroupStatus,
    MemberStatus,
    Registration,
    Unplaced,
)
from companion_bot.services.groups import ROUND_AFTER_SIGNUP
from tests.support import BotHarness, data, sign_up, texts_after


def ALL_ANNOUNCED(event):
    """Past the deadlines of the first slot (3 h before) and the 03:00 wave (6 h before)."""
    return event.doors_open - timedelta(hours=1, minutes=59)


PLACES = ["Montreuil", "Bagnolet", "Vincennes", "Les Lilas", "Romainville", "Saint-Mandé"]


async def sign_up_people(harness: BotHarness, event, count: int, places=PLACES, **kwargs):
    people = []
    for i in range(count):
        person = harness.user(first_name=f"Amie{i}", language_code="en")
        await sign_up(harness, person, event.attendee_code, destination=places[i % len(places)],
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


# -- answers edited in /me after being grouped -------------------------------------------------


async def edit_in_me(harness: BotHarness, person, step: str, answer) -> None:
    """/me, the edit button of `step`, `answer(person)` gives the new answer, then Done."""
    await harness.say(person, "/me")
    await harness.tap(person, data(f"su:edit:{step}"))
    await answer(person)
    before = len(person.messages())
    await harness.tap(person, data("su:sum:confirm"))
    await harness.drain()
    # Her confirmation, and maybe a queued "no longer in your group" notice, in either order.
    assert any("You're signed up" in text for text in texts_after(person, before))


async def membership(person, kind: GroupKind) -> GroupMember | None:
    """Her live membership of this kind, if any."""
    return await GroupMember.get_or_none(
        registration__person__telegram_id=person.id,
        group__kind=kind,
        group__status=GroupStatus.ANNOUNCED,
        status=MemberStatus.ACTIVE,
    ).prefetch_related("group")


async def members_of(group) -> list[int]:
    return await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).values_list(
        "registration__person__telegram_id", flat=True
    )


def told_since(person, before: int) -> list[str]:
    return texts_of(person)[before:]


async def test_changing_transport_after_being_grouped_moves_her_out_of_her_departure_group(
    harness: BotHarness, event
):
    people = await sign_up_people(harness, event, 4, places=["Montreuil"])
    await harness.travel_to(ALL_ANNOUNCED(event))
    leaver = people[0]
    departure = (await membership(leaver, GroupKind.DEPARTURE)).group
    arrival = (await membership(leaver, GroupKind.ARRIVAL)).group
    others = [p for p in people if p.id in await members_of(departure) and p is not leaver]
    assert others
    before = {p.id: len(texts_of(p)) for p in people}

    async def taxi(person) -> None:
        await harness.tap(person, data("su:tr:taxi"))

    await edit_in_me(harness, leaver, "transport", taxi)

    assert leaver.id not in await members_of(departure)
    assert (await membership(leaver, GroupKind.ARRIVAL)).group.id == arrival.id  # untouched
    assert any("no longer matches your answers" in t for t in told_since(leaver, before[leaver.id]))
    for other in others:
        notices = told_since(other, before[other.id])
        assert notices == ["A member left your departure group for Nuit Compagnonnes."], notices
    # No departure group mixes taxi with transit, now or after the next round.
    await harness.travel_to(clock.now() + ROUND_AFTER_SIGNUP + timedelta(minutes=1))
    for group in await CompanionGroup.filter(event=event, kind=GroupKind.DEPARTURE):
        modes = await GroupMember.filter(group=group, status=MemberStatus.ACTIVE).values_list(
            "registration__transport", flat=True
        )
        assert len(set(modes)) <= 1, modes
    # The only taxi: back in the pool, and the volunteers see why she is alone.
    unplaced = await Unplaced.get(
        registration__person__telegram_id=leaver.id, kind=GroupKind.DEPARTURE, resolved_at=None
    )
    assert unplaced.reason == "no_compatible_companion"


async def test_changing_departure_wave_moves_her_to_a_group_of_her_new_wave(
    harness: BotHarness, event
):
    waves = await DepartureWave.filter(event=event).order_by("departs_at")
    people = []
    for i in range(6):
        person = harness.user(first_name=f"Amie{i}", language_code="en")
        await sign_up(harness, person, event.attendee_code, destination="Montreuil")
        people.append(person)
        if i >= 3:  # the second half leaves with the last departure
            await edit_in_me(
                harness,
                person,
                "wave",
                lambda p: harness.tap(p, data(f"su:wave:{waves[1].id}")),
            )
    # Past the announcement deadline of the last departure too.
    await harness.travel_to(event.doors_open + timedelta(hours=1, minutes=1))
    mover = people[0]
    first = (await membership(mover, GroupKind.DEPARTURE)).group
    later = (await membership(people[3], GroupKind.DEPARTURE)).group
    assert first.departure_wave_id == waves[0].id and later.departure_wave_id == waves[1].id
    before = {p.id: len(texts_of(p)) for p in people}

    await edit_in_me(
        harness, mover, "wave", lambda p: harness.tap(p, data(f"su:wave:{waves[1].id}"))
    )

    assert mover.id not in await members_of(first)
    assert (await membership(mover, GroupKind.DEPARTURE)).group.id == later.id
    assert any(t.startswith("🌙 Your departure group") for t in told_since(mover, before[mover.id]))
    for person in people[1:3]:
        assert "A member left your departure group" in " ".join(
            told_since(person, before[person.id])
        )
    for person in people[3:]:
        assert any(
            "Amie0 joins your departure group" in t for t in told_since(person, before[person.id])
        )


async def test_changing_arrival_slot_moves_her_to_a_group_of_her_new_slot(
    harness: BotHarness, event
):
    slots = await ArrivalSlot.filter(event=event).order_by("starts_at")
    people = await sign_up_people(harness, event, 6)
    for person in people[3:]:
        await edit_in_me(
            harness, person, "arrival", lambda p: harness.tap(p, data(f"su:arr:slot:{slots[1].id}"))
        )
    await harness.travel_to(ALL_ANNOUNCED(event))
    mover = people[0]
    first = (await membership(mover, GroupKind.ARRIVAL)).group
    later = (await membership(people[3], GroupKind.ARRIVAL)).group
    assert first.id != later.id
    departure = (await membership(mover, GroupKind.DEPARTURE)).group
    before = {p.id: len(texts_of(p)) for p in people}

    await edit_in_me(
        harness, mover, "arrival", lambda p: harness.tap(p, data(f"su:arr:slot:{slots[1].id}"))
    )

    assert mover.id not in await members_of(first)
    assert (await membership(mover, GroupKind.ARRIVAL)).group.id == later.id
    assert (await membership(mover, GroupKind.DEPARTURE)).group.id == departure.id
    for person in people[1:3]:
        assert "A member left your arrival group" in " ".join(told_since(person, before[person.id]))


async def test_a_new_neighbourhood_moves_her_only_when_the_group_no_longer_heads_her_way(
    harness: BotHarness, event
):
    people = await sign_up_people(harness, event, 3, places=["Montreuil", "Bagnolet", "Montreuil"])
    await harness.travel_to(ALL_ANNOUNCED(event))
    ada = people[0]
    assert len(await members_of((await membership(ada, GroupKind.DEPARTURE)).group)) == 3
    departure = (await membership(ada, GroupKind.DEPARTURE)).group
    before = {p.id: len(texts_of(p)) for p in people}

    # Next door (Bagnolet instead of Montreuil): she still fits, nobody hears anything.
    await edit_in_me(harness, ada, "destination", lambda p: harness.say(p, "Bagnolet"))
    assert ada.id in await members_of(departure)
    for person in people[1:]:
        assert not any("left your" in t for t in told_since(person, before[person.id]))

    # The other side of Paris: far beyond the detour cap, she leaves the group.
    await edit_in_me(
        harness, ada, "destination", lambda p: harness.say(p, "Saint-Germain-des-Prés")
    )
    assert ada.id not in await members_of(departure)
    assert (await membership(ada, GroupKind.ARRIVAL)) is not None
    for person in people[1:]:
        assert "A member left your departure group" in " ".join(
            told_since(person, before[person.id])
        )


async def test_leaving_a_pair_by_editing_sends_the_other_back_to_the_pool(
    harness: BotHarness, event
):
    ada, bea = await sign_up_people(harness, event, 2, places=["Montreuil"])
    await harness.travel_to(ALL_ANNOUNCED(event))
    departure = (await membership(ada, GroupKind.DEPARTURE)).group
    before = len(texts_of(bea))

    await edit_in_me(harness, ada, "transport", lambda p: harness.tap(p, data("su:tr:bike")))

    await departure.refresh_from_db()
    assert departure.status == GroupStatus.DISSOLVED
    assert await membership(bea, GroupKind.DEPARTURE) is None
    assert any("is too small now" in t for t in told_since(bea, before))
    assert (await membership(bea, GroupKind.ARRIVAL)) is not None  # the arrival pair stays


async def test_whoever_arrives_without_a_group_is_told_and_the_volunteers_welcome_her(
    harness: BotHarness, event
):
    from tests.handlers.test_relay import volunteer_on_duty

    vic = await volunteer_on_duty(harness, event)
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)  # alone in the first arrival slot
    vic_before = len(texts_of(vic))
    await harness.travel_to(event.doors_open - timedelta(minutes=19))

    unplaced = await Unplaced.get(registration__person__telegram_id=ada.id,
                                  kind=GroupKind.ARRIVAL, resolved_at=None)  # fmt: skip
    assert unplaced.reason
    told = [t for t in texts_of(ada) if "not found an arrival group" in t]
    assert told == [
        "🚪 We have not found an arrival group for you between 23:00 and 00:00. The volunteers "
        "know: tell them you are here at Main entrance and one of them will welcome you."
    ], told
    cards = [t for t in texts_of(vic)[vic_before:] if t.startswith("👋 Arriving without a group")]
    assert len(cards) == 1, texts_of(vic)[vic_before:]
    assert "between 23:00 and 00:00" in cards[0] and "• Ada — " in cards[0]
    assert str(ada.id) not in cards[0]
    # Asked again later, /waves lists her too; the attendee herself may not ask.
    await harness.say(vic, "/waves")
    await harness.drain()  # the cards come through the outbox
    assert any("• Ada — " in t and "Arriving without a group" in t for t in texts_of(vic)[-3:])
    await harness.say(ada, "/waves")
    assert "Only this event's volunteers and organizers" in ada.last_text()


async def test_a_departure_group_is_told_in_which_order_its_members_leave_it(
    harness: BotHarness, event
):
    people = await sign_up_people(harness, event, 3, places=["Montreuil", "Vincennes", "Bagnolet"])
    await harness.travel_to(ALL_ANNOUNCED(event))
    (group,) = await CompanionGroup.filter(event=event, kind=GroupKind.DEPARTURE)
    members = (
        await GroupMember.filter(group=group, status=MemberStatus.ACTIVE)
        .order_by("position")
        .prefetch_related("registration__person")
    )
    names = [m.registration.person.display_name for m in members]  # the drop-off order
    for person in people:
        (intro,) = [t for t in texts_of(person) if t.startswith("🌙 Your departure group")]
        expected = ", then ".join("you" if name == person.first_name else name for name in names)
        assert f"On the way home, you part in this order: {expected}." in intro, intro
