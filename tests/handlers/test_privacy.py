"""Data rights (/mydata, /forget), retention, and "don't group me with her again"."""

from __future__ import annotations

from datetime import timedelta

from companion_bot import clock
from companion_bot.models import (
    Avoidance,
    CompanionGroup,
    Event,
    FollowupAnswer,
    GroupMember,
    HelpAlert,
    MessageReport,
    OutboxMessage,
    Person,
    Registration,
    RelayedMessage,
    UserData,
)
from companion_bot.services import groups, lifecycle, outbox, relay
from companion_bot.services.events import create_event
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import (
    a_group_of_three,
    ask_for_help,
    received,
    report_message,
    volunteer_on_duty,
)
from tests.support import BotHarness, data, event_spec, sign_up


async def test_my_data_shows_everything_in_her_language(harness: BotHarness, event):
    ada, _bea, _cleo = await a_group_of_three(harness, event)
    reply = await harness.say(ada, "/mydata")
    text = reply.text
    assert "What this bot keeps about you" in text
    assert str(ada.id) in text  # her own id, shown to her only
    assert "Name your companions see: Ada" in text
    assert "Destination: Montreuil" in text
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
    for other in (bea, cleo):
        notes = [t for t in received(other) if "left your" in t]
        assert notes and all("Ada" not in t for t in notes)
    statistics = (await Event.get(id=event.id)).statistics
    assert statistics["forgotten_registrations"] == 1
    reply = await harness.say(ada, "/mydata")
    assert "I hold no data about you." in reply.text


async def test_forget_leaves_no_message_of_hers_nor_her_words(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    vic = await volunteer_on_duty(harness, event)
    ada, bea, _cleo = await a_group_of_three(harness, event)
    ada_id = (await Person.get(telegram_id=ada.id)).id
    bea_id = (await Person.get(telegram_id=bea.id)).id
    await harness.say(ada, "green jacket secret")
    await ada.send_location(48.86, 2.40, live_period=3600)
    await harness.drain()
    await report_message(harness, bea, "green jacket secret")
    await lifecycle.record_followup(ada.id, event.id, "yes", "no", "my private words", True)
    await ask_for_help(harness, ada, "near the bar, red door")
    await ada.send_location(48.8601, 2.3801)  # where she is, for the volunteers
    await harness.drain()
    # Not sent yet: a message for her, and her words on their way to Bea.
    later = clock.now() + timedelta(hours=1)
    await outbox.enqueue(ada.id, "for you later", not_before=later)
    await outbox.enqueue(bea.id, "<b>Ada</b>: queued words", not_before=later,
                         dedupe_key=f"{relay.relay_key_prefix(ada_id)}99999:{bea_id}")  # fmt: skip
    live = [m for m in bea.messages() if m.location and m.location.get("live_period")]
    assert live and not live[-1].live_location_stopped
    assert any("near the bar" in t for t in received(vic))

    await harness.say(ada, "/forget")
    await harness.tap(ada, "Yes, delete everything")
    assert not await OutboxMessage.filter(chat_id=ada.id).exists()
    rows = await OutboxMessage.all()
    stored = " ".join(str(row.payload) for row in rows)
    for words in ("green jacket", "near the bar", "queued words", "for you later", "48.86"):
        assert words not in stored, words
    assert not [r for r in rows if (r.dedupe_key or "").startswith(f"relay:{ada_id}:")]
    assert not [r for r in rows if r.chat_id in (vic.id, orga.id) and "Ada" in str(r.payload)]
    report = await MessageReport.get(event=event)
    assert (report.reported_id, report.excerpt) == (None, "")
    answer = await FollowupAnswer.get(event=event)
    assert (answer.contact_id, answer.report, answer.home_safe) == (None, None, "no")
    alert = await HelpAlert.get(event=event)
    assert (alert.person_id, alert.text, alert.latitude) == (None, None, None)
    assert not await RelayedMessage.filter(sender_id=ada_id).exists()
    await harness.drain()
    assert live[-1].live_location_stopped  # her live location stopped first


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
    await harness.say(orga, "/language")
    await harness.tap(orga, data("lang:en"))  # something of hers in her stored state
    assert await UserData.exists(telegram_id=orga.id)
    await harness.travel_to(event.closing + timedelta(days=event.retention_days, minutes=1))
    purged = await Event.get(id=event.id)
    assert purged.purged_at is not None
    assert purged.statistics["registrations"] == {"confirmed": 3}
    assert purged.statistics["arrival_groups"] >= 1
    assert not await Registration.filter(event=event).exists()
    assert not await CompanionGroup.filter(event=event).exists()
    for person in people:
        assert not await Person.exists(telegram_id=person.id)
        # Her conversation state and scratch data go with her.
        assert not await UserData.exists(telegram_id=person.id)
    assert await Person.exists(telegram_id=orga.id)  # organizers keep their event
    assert await UserData.exists(telegram_id=orga.id)


async def test_retention_period_is_the_event_setting(harness: BotHarness, event):
    short = await create_event(event_spec(event.doors_open + timedelta(days=2), name="Courte",
                                          retention_days=1))  # fmt: skip
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, short.attendee_code)
    await harness.travel_to(short.closing + timedelta(hours=23))
    assert (await Event.get(id=short.id)).purged_at is None
    await harness.travel_to(short.closing + timedelta(days=1, minutes=1))
    assert (await Event.get(id=short.id)).purged_at is not None
    assert not await Person.exists(telegram_id=ada.id)


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


async def test_not_again_with_her_even_after_she_deleted_her_data(harness: BotHarness, event):
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "/companions")
    await harness.tap(ada, lambda b: b.text.startswith("Not again with Bea"))
    await harness.say(bea, "/forget")
    await harness.tap(bea, "Yes, delete everything")
    assert not await Person.exists(telegram_id=bea.id)
    wish = await Avoidance.get(person__telegram_id=ada.id)
    assert wish.avoided_id is None and wish.avoided_key
    assert str(bea.id) not in wish.avoided_key  # a keyed hash, not her id

    later = await create_event(event_spec(event.doors_open + timedelta(days=7),
                                          name="Nuit suivante"))  # fmt: skip
    for person in (ada, bea, cleo):
        await sign_up(harness, person, later.attendee_code, destination="Montreuil")
    back = await Person.get(telegram_id=bea.id)
    assert (await Avoidance.get(id=wish.id)).avoided_id == back.id
    await groups.run_round(later.id, ALL_ANNOUNCED(later))
    grouped = await GroupMember.filter(group__event=later).values_list(
        "group_id", "registration__person__telegram_id"
    )
    together = {}
    for group_id, telegram_id in grouped:
        together.setdefault(group_id, set()).add(telegram_id)
    assert together and not any({ada.id, bea.id} <= members for members in together.values())


async def test_my_data_lists_alerts_reports_answers_messages_and_wishes(harness: BotHarness, event):
    await volunteer_on_duty(harness, event)
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "rude words")
    await harness.drain()
    await report_message(harness, bea, "rude words")
    await harness.say(bea, "/companions")
    await harness.tap(bea, lambda b: b.text.startswith("Not again with Cleo"))
    await lifecycle.record_followup(bea.id, event.id, "yes", "no", "the bus never came", True)
    await outbox.enqueue(bea.id, "later", not_before=clock.now() + timedelta(hours=1))
    await ask_for_help(harness, bea, "someone follows me")

    reply = await harness.say(bea, "/mydata")
    text = "\n".join(m.text for m in bea.messages()[-3:] if m.text)
    assert reply.text and "/forget deletes all of it." in text
    for line in (
        "Help request at Nuit Compagnonnes",
        "😟 I feel uncomfortable",
        "Your words: “someone follows me”",
        "You reported a message from Ada at Nuit Compagnonnes",
        "“rude words”",
        "Your answers the morning after Nuit Compagnonnes: group met: Yes; home safe: Not really",
        "What you told the organizers: “the bus never came”",
        "Messages to you: 1 waiting to be sent",
        "You asked not to be grouped again with Cleo",
    ):
        assert line in text, line
    assert str(ada.id) not in text

    await harness.say(bea, "/language")
    await harness.tap(bea, lambda b: b.callback_data.endswith(":fr"))
    await harness.say(bea, "/mydata")
    text = "\n".join(m.text for m in bea.messages()[-3:] if m.text)
    assert "Tu as demandé à ne plus être dans un groupe avec Cleo" in text, text
