"""The anonymous relay inside a group, and what members can do with it."""

from __future__ import annotations

from datetime import timedelta

from companion_bot.models import GroupMember, MemberStatus, MessageReport, Registration
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.support import BotHarness, sign_up

EAST = ["Montreuil", "Bagnolet", "Vincennes"]


async def a_group_of_three(harness: BotHarness, event, names=("Ada", "Bea", "Cleo")):
    people = []
    for i, name in enumerate(names):
        person = harness.user(first_name=name, language_code="en", username=f"{name.lower()}_tg")
        await sign_up(harness, person, event.attendee_code, destination=EAST[i % len(EAST)])
        people.append(person)
    await harness.travel_to(ALL_ANNOUNCED(event))
    return people


def received(person) -> list[str]:
    return [m.text or m.caption or "" for m in person.messages()]


async def test_text_is_relayed_under_the_display_name_only(harness: BotHarness, event):
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "I'm at the bar, green jacket")
    await harness.drain()
    for other in (bea, cleo):
        relayed = [t for t in received(other) if "green jacket" in t]
        assert relayed == ["Ada: I'm at the bar, green jacket"]
    requests = harness.emulator.calls()
    for call in requests:
        if call.params.get("chat_id") in (bea.id, cleo.id):
            flat = str(call.params)
            assert "ada_tg" not in flat and str(ada.id) not in flat


async def test_photos_are_copied_without_a_link_to_the_sender(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await ada.send_photo(caption="our spot")
    await harness.drain()
    copies = [m for m in bea.messages() if m.data.get("photo")]
    assert copies and copies[-1].caption == "Ada: our spot"
    assert "forward_origin" not in copies[-1].data and "forward_from" not in copies[-1].data


async def test_a_reply_goes_back_to_the_group(harness: BotHarness, event):
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "Where are you?")
    await harness.drain()
    copy = next(m for m in bea.messages() if "Where are you?" in (m.text or ""))
    await bea.send_text("At the entrance", reply_to=copy)
    await harness.drain()
    assert "Bea: At the entrance" in received(ada)
    assert "Bea: At the entrance" in received(cleo)


async def test_contacts_are_never_relayed(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await ada.send_contact("+33612345678")
    await harness.drain()
    assert "don't pass on contacts" in ada.last_text()
    assert not any("+33612345678" in str(m.data) for m in bea.messages())


async def test_live_location_is_relayed_moved_and_stopped_at_home(harness: BotHarness, event):
    ada, bea, cleo = await a_group_of_three(harness, event)
    await ada.send_location(48.86, 2.40, live_period=3600)
    await harness.drain()
    live = [m for m in bea.messages() if m.location]
    assert live and live[-1].location["live_period"] == 3600
    await ada.edit_message(location=(48.861, 2.41))
    await harness.drain()
    assert abs(live[-1].location["longitude"] - 2.41) < 1e-6
    # Home: the live copies stop and their mapping is forgotten (no history kept).
    from companion_bot.models import RelayedMessage
    from companion_bot.services import closing

    registration = await Registration.get(person__telegram_id=ada.id)
    await closing.home(ada.id, registration.id)
    await harness.drain()
    assert live[-1].live_location_stopped
    assert not await RelayedMessage.filter(kind="live").exists()


async def test_mute_and_leave(harness: BotHarness, event):
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(bea, "/group")
    assert "Your group for Nuit Compagnonnes" in bea.last_text()
    await harness.tap(bea, "🔕 Mute the group")
    await harness.say(ada, "anyone?")
    await harness.drain()
    assert "Ada: anyone?" not in received(bea)
    assert "Ada: anyone?" in received(cleo)

    await harness.say(cleo, "/group")
    await harness.tap(cleo, "🚪 Leave the group")
    await harness.drain()
    for other in (ada, bea):
        notes = [t for t in received(other) if "left your" in t]
        assert notes and all("Cleo" not in t for t in notes)
    # She left her arrival group and will not be put in another one.
    assert not await GroupMember.exists(
        registration__person__telegram_id=cleo.id, status=MemberStatus.ACTIVE, group__kind="arrival"
    )
    registration = await Registration.get(person__telegram_id=cleo.id)
    assert registration.arrival_kind == "on_my_own"


async def test_report_reaches_organizers_who_can_remove_her(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "rude message")
    await harness.drain()
    copy = next(m for m in bea.messages() if "rude message" in (m.text or ""))
    await bea.send_command("/report")
    await harness.settle()
    assert "reply to it with /report" in bea.last_text()
    await bea.send_text(
        "/report", reply_to=copy, entities=[{"type": "bot_command", "offset": 0, "length": 7}]
    )
    await harness.drain()
    assert "The organizers have the message" in bea.last_text()
    assert await MessageReport.exists(reporter__telegram_id=bea.id)
    alert = next(m for m in orga.messages() if "reported a message from Ada" in (m.text or ""))
    assert "rude message" in alert.text and str(ada.id) not in alert.text
    # A forged removal button for another report id is refused.
    await orga.tap_data(alert.message_id, "rm:event:999")
    await harness.settle()
    assert orga.callback_answers()[-1].text == "This button is no longer active."
    await harness.tap(orga, "Remove her from the group", message=alert)
    await harness.drain()
    assert "An organizer removed you from your group" in ada.last_text()
    assert not await GroupMember.exists(registration__person__telegram_id=ada.id,
                                        status=MemberStatus.ACTIVE)  # fmt: skip


async def test_nothing_is_relayed_without_a_group(harness: BotHarness, event):
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    reply = await harness.say(ada, "hello?")
    assert "I didn't understand that." in reply.text


async def test_the_group_chat_closes_the_morning_after(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await harness.travel_to(event.closing + timedelta(hours=20))
    reply = await harness.say(ada, "still there?")
    assert "I didn't understand that." in reply.text
    assert not any("still there?" in t for t in received(bea))
