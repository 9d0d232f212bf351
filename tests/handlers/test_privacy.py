"""Data rights (/mydata, /forget), retention, and "don't group me with her again"."""

from __future__ import annotations

from datetime import timedelta

from companion_bot.models import (
    Avoidance,
    CompanionGroup,
    ConversationState,
    Event,
    GroupMember,
    Person,
    Registration,
    UserData,
)
from companion_bot.services import groups
from companion_bot.services.events import create_event
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import a_group_of_three, received
from tests.support import BotHarness, event_spec, sign_up


async def test_my_data_shows_everything_in_her_language(harness: BotHarness, event):
    ada, _bea, _cleo = await a_group_of_three(harness, event)
    reply = await harness.say(ada, "/mydata")
    text = reply.text
    assert "What this bot keeps about you" in text
    assert str(ada.id) in text  # her own id, shown to her only
    assert "Name your companions see: Ada" in text
    assert "Heading to: Montreuil" in text
    assert "Arrival group at Nuit Compagnonnes" in text
    assert "/forget deletes all of it." in text
    chloe = harness.user(first_name="Chloé", language_code="fr")
    await sign_up(harness, chloe, event.attendee_code, language="fr")
    reply = await harness.say(chloe, "/mydata")
    assert "Ce que ce bot garde sur toi" in reply.text


async def test_forget_deletes_her_and_tells_her_groups_only_that_a_member_left(
    harness: BotHarness, event
):
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "/forget")
    reply = await harness.tap(ada, "Yes, delete everything")
    assert "everything about you is deleted" in reply.text
    await harness.drain()
    assert not await Person.exists(telegram_id=ada.id)
    assert not await Registration.exists(person__telegram_id=ada.id)
    assert not await UserData.exists(telegram_id=ada.id)
    assert not await ConversationState.filter(key__contains=str(ada.id)).exists()
    for other in (bea, cleo):
        notes = [t for t in received(other) if "left your" in t]
        assert notes and all("Ada" not in t for t in notes)
    statistics = (await Event.get(id=event.id)).statistics
    assert statistics["forgotten_registrations"] == 1
    reply = await harness.say(ada, "/mydata")
    assert "I hold no data about you." in reply.text


async def test_forget_can_be_declined(harness: BotHarness, event):
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    await harness.say(ada, "/forget")
    await harness.tap(ada, "No, keep it")
    assert await Person.exists(telegram_id=ada.id)


async def test_event_data_is_purged_after_the_retention_period(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    people = await a_group_of_three(harness, event)
    await harness.travel_to(event.closing + timedelta(days=event.retention_days, minutes=1))
    purged = await Event.get(id=event.id)
    assert purged.purged_at is not None
    assert purged.statistics["registrations"] == {"confirmed": 3}
    assert purged.statistics["arrival_groups"] >= 1
    assert not await Registration.filter(event=event).exists()
    assert not await CompanionGroup.filter(event=event).exists()
    for person in people:
        assert not await Person.exists(telegram_id=person.id)
    assert await Person.exists(telegram_id=orga.id)  # organizers keep their event


async def test_not_grouped_again_with_someone_she_avoids(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    reply = await harness.say(ada, "/companions")
    assert "People you shared a group with" in reply.text
    # A forged id of someone she never met is refused.
    await ada.tap_data(reply.message_id, "av:999999~AAAAAAAAAA")
    await harness.settle()
    assert ada.callback_answers()[-1].text == "This button is no longer active."
    await harness.tap(ada, lambda b: b.text.startswith("Not again with Bea"))
    assert "you will not be grouped with Bea again" in ada.last_text()
    assert await Avoidance.exists(person__telegram_id=ada.id, avoided__telegram_id=bea.id)
    assert not any("Ada" in t and "not" in t.lower() for t in received(bea))

    # At a later event, the engine never puts them together.
    later = await create_event(event_spec(event.doors_open + timedelta(days=7),
                                          name="Nuit suivante"))  # fmt: skip
    for person in (ada, bea):
        await sign_up(harness, person, later.attendee_code, destination="Montreuil")
    await groups.run_round(later.id, ALL_ANNOUNCED(later))
    for group in await CompanionGroup.filter(event=later).prefetch_related(
        "members__registration__person"
    ):
        names = {m.registration.person.telegram_id for m in group.members}
        assert not {ada.id, bea.id} <= names


async def test_others_ids_never_reach_an_attendee(harness: BotHarness, event):
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(bea, "hello all")
    await harness.drain()
    for person in (ada, bea, cleo):
        others = [p for p in (ada, bea, cleo) if p is not person]
        for call in harness.emulator.calls():
            if call.params.get("chat_id") != person.id:
                continue
            flat = str(call.params)
            for other in others:
                assert str(other.id) not in flat
                assert f"{other.first_name.lower()}_tg" not in flat
    memberships = await GroupMember.filter(registration__person__telegram_id=ada.id)
    assert memberships
