"""The anonymous relay inside a group, and what members can do with it."""

from __future__ import annotations

from datetime import timedelta

from companion_bot import clock, notices
from companion_bot.models import (
    GroupKind,
    GroupMember,
    MemberStatus,
    MessageReport,
    OutboxMessage,
    Registration,
    Unplaced,
)
from companion_bot.services import groups, relay
from companion_bot.signing import sign
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


async def volunteer_on_duty(harness: BotHarness, event, name: str = "Vic"):
    volunteer = harness.user(first_name=name, language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    await harness.say(volunteer, "/duty")
    await harness.tap(volunteer, lambda b: b.text.startswith("Go on duty"))
    return volunteer


async def ask_for_help(harness: BotHarness, person, words: str | None = None) -> None:
    await harness.say(person, "/help")
    await harness.tap(person, "😟 I feel uncomfortable")
    await harness.tap(person, "🆘 Yes, alert them")
    if words:
        await harness.say(person, words)
    await harness.drain()


async def report_message(harness: BotHarness, reporter, words: str) -> None:
    """She replies /report to the relayed copy containing `words`."""
    copy = next(m for m in reporter.messages() if words in (m.text or ""))
    await reporter.send_text(
        "/report", reply_to=copy, entities=[{"type": "bot_command", "offset": 0, "length": 7}]
    )
    await harness.drain()


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
    ada, bea, _cleo = await a_group_of_three(harness, event)
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
    await bea.send_command("/report")
    await harness.settle()
    assert "reply to it with /report" in bea.last_text()
    await report_message(harness, bea, "rude message")
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
    # Out of her groups, not out of the night: she is still matched for the way home.
    registration = await Registration.get(person__telegram_id=ada.id)
    assert (registration.status, registration.wants_departure_group) == ("confirmed", True)


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


async def test_a_long_message_reaches_the_group_in_parts(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    # Telegram counts a message's length once "&amp;" is read back as "&": this one fits.
    await harness.say(ada, "&" * 4000)
    await harness.drain()
    assert "Ada: " + "&" * 4000 in received(bea)
    # The longest message she can send does not, once "Ada: " is put before it.
    longest = "&" * 4096
    await harness.say(ada, longest)
    await harness.drain()
    parts = [t for t in received(bea)[-2:] if t.startswith("Ada: &")]
    assert len(parts) == 2 and all(len(part) <= 4096 for part in parts)
    assert "".join(part.removeprefix("Ada: ") for part in parts) == longest
    assert "your group gets it in 2 parts" in ada.last_text()
    # A caption holds 1024 characters: the rest follows as a message.
    await ada.send_photo(caption="x" * 1024)
    await harness.drain()
    photo = [m for m in bea.messages() if m.data.get("photo")][-1]
    assert photo.caption.startswith("Ada: x") and len(photo.caption) <= 1024
    rest = bea.messages()[-1].text
    assert rest.startswith("Ada: x")
    assert len(photo.caption) + len(rest) - 2 * len("Ada: ") == 1024


async def test_a_reported_excerpt_is_cut_before_it_is_escaped(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    ada, bea, _cleo = await a_group_of_three(harness, event)
    words = "a&" * 300
    await harness.say(ada, words)
    await harness.drain()
    await report_message(harness, bea, words)
    alert = next(m for m in orga.messages() if "reported a message from Ada" in (m.text or ""))
    assert "“" + "a&" * 250 + "…”" in alert.text
    assert (await MessageReport.get(event=event)).excerpt == words


async def test_mute_acts_on_the_group_the_button_names(harness: BotHarness, event):
    people = await a_group_of_three(harness, event)
    bea = people[1]
    mine = {m.group.kind: m for m in await GroupMember.filter(
        registration__person__telegram_id=bea.id).prefetch_related("group")}  # fmt: skip
    departure = mine[GroupKind.DEPARTURE].group_id
    mate = await GroupMember.filter(group_id=departure).exclude(id=mine[GroupKind.DEPARTURE].id
                                    ).prefetch_related("registration__person").first()  # fmt: skip
    other = next(p for p in people if p.id == mate.registration.person.telegram_id)
    await harness.say(bea, "/group")  # her arrival group, before doors open
    card = bea.last_message().message_id
    await bea.tap_data(card, sign(bea.id, f"gr:mute:{departure}"))
    await harness.settle()
    assert (await GroupMember.get(id=mine[GroupKind.DEPARTURE].id)).muted
    assert not (await GroupMember.get(id=mine[GroupKind.ARRIVAL].id)).muted
    # Not a member (any more): refused, nothing changes.
    await relay.leave_group(other.id, departure)
    await harness.say(other, "/help")
    await other.tap_data(other.last_message().message_id, sign(other.id, f"gr:mute:{departure}"))
    await harness.settle()
    assert other.callback_answers()[-1].text == "This button is no longer active."
    assert not await GroupMember.filter(group_id=departure, muted=True).exclude(
        registration__person__telegram_id=bea.id).exists()  # fmt: skip


async def test_an_organizer_removes_someone_by_her_name(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    vic = await volunteer_on_duty(harness, event)
    ada, bea, cleo = await a_group_of_three(harness, event)
    reply = await harness.say(bea, "/remove Ada")
    assert reply.text == "Only this event's organizers can do this."
    reply = await harness.say(orga, "/remove")
    assert "like: /remove Ada" in reply.text
    reply = await harness.say(orga, "/remove Nobody")
    assert reply.text == "Nobody is signed up as “Nobody” at your events."
    reply = await harness.say(orga, "/remove ada")
    assert reply.text.startswith("Ada at Nuit Compagnonnes: arrival group at")
    registration = await Registration.get(person__telegram_id=ada.id)
    # Her button, replayed by an attendee who signs it for herself: refused by role.
    await harness.say(bea, "/help")
    await bea.tap_data(bea.last_message().message_id, sign(bea.id, f"rr:group:{registration.id}"))
    await harness.settle()
    assert bea.callback_answers()[-1].text == "Only this event's organizers can do this."
    assert await GroupMember.exists(registration=registration, status=MemberStatus.ACTIVE)

    reply = await harness.tap(orga, "Remove her from the group", message=reply)
    assert "Ada has been removed and told" in reply.text
    await harness.drain()
    assert "An organizer removed you from your group" in ada.last_text()
    assert "still signed up" in ada.last_text()
    assert any("took Ada out of her group" in t for t in received(vic))
    for other in (bea, cleo):
        assert any("A member left your" in t for t in received(other))
    refreshed = await Registration.get(id=registration.id)
    assert (refreshed.status, refreshed.wants_departure_group) == ("confirmed", True)
    # The next round keeps her in the matching, never back with them: the team sees her.
    await groups.run_round(event.id, clock.now())
    assert not await GroupMember.exists(registration=registration, status=MemberStatus.ACTIVE)
    assert await Unplaced.exists(registration=registration, kind=GroupKind.DEPARTURE,
                                 resolved_at=None)  # fmt: skip
    await harness.say(vic, "/waves")
    await harness.drain()  # the cards come through the outbox
    assert any("Ada" in t and "keep an eye" in t for t in received(vic)[-3:])

    reply = await harness.say(orga, "/remove Ada")
    assert [b.text for b in orga.inline_buttons(reply)] == ["Remove her from the event"]
    await harness.tap(orga, "Remove her from the event", message=reply)
    await harness.drain()
    assert "Your registration is cancelled." in ada.last_text()
    assert (await Registration.get(id=registration.id)).status == "cancelled"


async def test_coordinates_do_not_stay_in_the_outbox(harness: BotHarness, event):
    await volunteer_on_duty(harness, event)
    ada, _bea, _cleo = await a_group_of_three(harness, event)
    await ada.send_location(48.86, 2.40, live_period=3600)
    await harness.drain()
    await ada.edit_message(location=(48.861, 2.41))
    await harness.drain()
    await ask_for_help(harness, ada)
    await ada.send_location(48.8601, 2.3801)
    await harness.drain()
    rows = await OutboxMessage.filter(method__in=[notices.LOCATION, notices.MOVE_LOCATION])
    assert len(rows) >= 4  # two live copies, a move each, where she is for the volunteer
    for row in rows:
        assert row.status == "sent"
        assert "latitude" not in row.payload and "longitude" not in row.payload
    keys = " ".join(row.dedupe_key or "" for row in await OutboxMessage.all())
    assert "48.8" not in keys and "2.38" not in keys
