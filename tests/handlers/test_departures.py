"""Organizers add, move and remove departure waves and change the closing-time delays;
attendees who already left get the check-in; the morning after, a short follow-up reaches
the organizers as anonymous statistics."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from companion_bot.models import (
    CompanionGroup,
    DepartureWave,
    Event,
    FollowupAnswer,
    GroupKind,
    Registration,
)
from companion_bot.services import scheduler
from companion_bot.services.broadcasts import add_wave, change_wave
from companion_bot.services.errors import UserInputError
from companion_bot.services.lifecycle import followup_summary, followup_time
from companion_bot.signing import sign
from tests.handlers.test_relay import a_group_of_three, received
from tests.support import PARIS, BotHarness, data, sign_up


def local(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%H:%M")


async def a_late_leaver(harness: BotHarness, event, name: str = "Dee"):
    """Signed up, then moved herself to the 06:00 departure from her summary."""
    late = harness.user(first_name=name, language_code="en")
    await sign_up(harness, late, event.attendee_code, destination="Montreuil")
    await harness.say(late, "/me")
    await harness.tap(late, data("su:edit:wave"))
    await harness.tap(late, lambda b: b.text.startswith("06:00"))
    await harness.tap(late, data("su:sum:confirm"))
    return late


async def test_moving_a_wave_tells_only_its_people(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    ada, bea, _cleo = await a_group_of_three(harness, event)  # all on the 03:00 wave
    late = await a_late_leaver(harness, event)

    reply = await harness.say(orga, "/departures")
    assert "Departures of Nuit Compagnonnes" in reply.text
    await harness.tap(orga, lambda b: b.text.startswith("Change 03:00"))
    reply = await harness.say(orga, "25:00")
    assert "“25:00” is not a time I can read" in reply.text
    await harness.say(orga, "03:30")
    reply = await harness.tap(orga, "Back door")
    assert "now leaves at 03:30" in reply.text
    await harness.drain()
    for person in (ada, bea):
        assert "🕒 Change: your departure now leaves at 03:30 from Back door." in received(person)
    assert not any("Change:" in t for t in received(late))
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    assert wave.departs_at == event.doors_open + timedelta(hours=4, minutes=30)
    for group in await CompanionGroup.filter(departure_wave=wave, kind=GroupKind.DEPARTURE):
        assert group.meet_at == wave.departs_at


async def test_adding_a_departure_from_a_chosen_meeting_point(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    await harness.say(orga, "/departures")
    await harness.tap(orga, "➕ Add a departure")
    # Outside the night: said so, in the event's time (Paris), and she can type again.
    reply = await harness.say(orga, "22:00")
    assert reply.text == "The departure at 22:00 would be before the doors open (23:00)."
    reply = await harness.say(orga, "13:00")
    assert reply.text == "The departure at 13:00 comes long after closing."
    reply = await harness.say(orga, "04:30")
    assert reply.text == "From which meeting point?"
    reply = await harness.tap(orga, "Back door")
    assert "Departure added at 04:30" in reply.text
    waves = (
        await DepartureWave.filter(event=event)
        .order_by("departs_at")
        .prefetch_related("meeting_point")
    )
    assert [(local(w.departs_at), w.meeting_point.name) for w in waves] == [
        ("03:00", "Main entrance"), ("04:30", "Back door"), ("06:00", "Back door"),
    ]  # fmt: skip
    assert await scheduler.pending(f"wave:{waves[1].id}:reminder") is not None


async def test_changing_a_departure_refuses_a_time_outside_the_night(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    await harness.say(orga, "/departures")
    await harness.tap(orga, lambda b: b.text.startswith("Change 06:00"))
    reply = await harness.say(orga, "10:30")
    assert reply.text == "The departure at 10:30 comes long after closing."
    with pytest.raises(UserInputError) as refused:
        wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
        await change_wave(orga.id, wave.id, event.doors_open - timedelta(minutes=30), None)
    assert refused.value.translate(lambda message: message) == (
        "The departure at 22:30 would be before the doors open (23:00)."
    )
    with pytest.raises(UserInputError) as refused:
        await add_wave(orga.id, event.id, event.closing + timedelta(hours=4))
    assert refused.value.translate(lambda message: message) == (
        "The departure at 10:00 comes long after closing."
    )
    assert await DepartureWave.filter(event=event).count() == 2


async def test_removing_a_departure_moves_its_groups_to_the_nearest(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    ada, bea, cleo = await a_group_of_three(harness, event)  # the 03:00 departure
    first, last = await DepartureWave.filter(event=event).order_by("departs_at")
    group = await CompanionGroup.get(kind=GroupKind.DEPARTURE, departure_wave=first)

    await harness.say(orga, "/departures")
    await harness.tap(orga, "🗑 Remove 03:00")
    reply = await harness.tap(orga, "Keep it")
    assert reply.text == "Nothing was changed."
    await harness.say(orga, "/departures")
    await harness.tap(orga, "🗑 Remove 03:00")
    reply = await harness.tap(orga, "🗑 Yes, remove it")
    assert reply.text == "Departure removed: its 3 people now leave at 06:00 and are told."
    await harness.drain()
    for person in (ada, bea, cleo):
        assert (
            "🕒 Change: the 03:00 departure is cancelled. You now leave at 06:00 from Back door "
            "(with your group, if you have one)." in received(person)
        )
    assert not await DepartureWave.exists(id=first.id)
    group = await CompanionGroup.get(id=group.id).prefetch_related("meeting_point")
    assert group.departure_wave_id == last.id and group.meet_at == last.departs_at
    assert group.meeting_point.name == "Back door"
    assert await Registration.filter(event=event, departure_wave_id=last.id).count() == 3
    assert await scheduler.pending(f"wave:{first.id}:reminder") is None

    # The last departure cannot go: there would be none.
    await harness.say(orga, "/departures")
    await harness.tap(orga, "🗑 Remove 06:00")
    reply = await harness.tap(orga, "🗑 Yes, remove it")
    assert reply.text == "An event needs at least one departure: change this one instead."


async def test_organizers_change_the_closing_time_delays(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    ada, _bea, _cleo = await a_group_of_three(harness, event)
    first = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(first.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "🚪 I've already left")
    registration = await Registration.get(person__telegram_id=ada.id)

    reply = await harness.say(orga, "/settings")
    assert reply.text == (
        "Delays of Nuit Compagnonnes:\n• Reminder before a departure: 15 min\n"
        "• “Are you home?” after leaving: 60 min\n"
        "• Her group asked “has anyone heard from her?” after that: 15 min\n"
        "• Alert to the volunteers when still no news after that: 30 min\n"
        "• Alert to the organizers when still no news after that: 30 min"
    )
    await harness.tap(orga, "Change: “Are you home?” after leaving")
    reply = await harness.tap(orga, "45")
    assert reply.text.startswith("Done: “Are you home?” after leaving: 45 min.")
    await harness.say(orga, "/settings")
    await harness.tap(orga, "Change: Reminder before a departure")
    await harness.tap(orga, "30")
    event = await Event.get(id=event.id)
    assert (event.reminder_minutes, event.checkin_delay_minutes) == (30, 45)
    # Waiting timers follow: her "are you home?" and the next departure's reminder.
    reminder = await scheduler.pending(f"home:{registration.id}:reminder")
    assert reminder.due_at == registration.left_at + timedelta(minutes=45)
    alert = await scheduler.pending(f"home:{registration.id}:alert")
    assert alert.due_at == registration.left_at + timedelta(minutes=45 + 15 + 30)
    organizers = await scheduler.pending(f"home:{registration.id}:organizers")
    assert organizers.due_at == registration.left_at + timedelta(minutes=45 + 15 + 30 + 30)
    last = await DepartureWave.filter(event=event).order_by("-departs_at").first()
    wave_reminder = await scheduler.pending(f"wave:{last.id}:reminder")
    assert wave_reminder.due_at == last.departs_at - timedelta(minutes=30)

    # Volunteers cannot, even with a button made for them.
    reply = await harness.say(volunteer, "/settings")
    assert reply.text == "Only this event's organizers can do this."
    await volunteer.tap_data(reply.message_id, sign(volunteer.id, f"st:{event.id}:r:5"))
    await harness.settle()
    assert volunteer.callback_answers()[-1].text is None
    assert "Only this event's organizers can do this." in received(volunteer)[-1]
    assert (await Event.get(id=event.id)).reminder_minutes == 30


async def test_already_left_then_home_check_in(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(wave.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "🚪 I've already left")
    await harness.drain()
    assert "Ada has already left." in received(bea)
    await harness.travel_to(wave.departs_at + timedelta(minutes=46))
    assert any(t.startswith("Did you get home safely?") for t in received(ada))
    await harness.tap(ada, "🏠 I'm home")
    await harness.drain()
    assert "🏠 Ada is home." in received(bea)


async def test_leaving_later_is_offered_only_when_a_later_departure_exists(
    harness: BotHarness, event
):
    ada, _bea, _cleo = await a_group_of_three(harness, event)  # the 03:00 departure
    late = await a_late_leaver(harness, event)  # the 06:00 one, the last
    last = await DepartureWave.filter(event=event).order_by("-departs_at").first()
    await harness.travel_to(last.departs_at - timedelta(minutes=15))

    def reminder_buttons(person) -> list[str]:
        reminder = next(m for m in person.messages() if "Your departure leaves at" in m.text)
        return [b.text for b in reminder.inline_buttons()]

    assert "⏰ I'm leaving later" in reminder_buttons(ada)
    assert reminder_buttons(late) == ["📍 I'm at the meeting point", "🚪 I've already left"]


async def test_morning_follow_up_is_anonymous_unless_asked(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await harness.travel_to(followup_time(event) + timedelta(minutes=1))
    assert any("Good morning!" in t for t in received(ada))
    await harness.tap(ada, "Yes")
    await harness.tap(ada, "Yes, all good")
    await harness.tap(ada, "Nothing to report")
    assert "Thank you for your answers" in ada.last_text()

    await harness.tap(bea, "Partly")
    await harness.tap(bea, "Not really")
    await harness.say(bea, "Someone followed us to the metro")
    await harness.tap(bea, "I'd like to be contacted")
    answers = await FollowupAnswer.filter(event=event).prefetch_related("contact")
    assert len(answers) == 2
    anonymous = next(a for a in answers if a.group_met == "yes")
    assert anonymous.contact is None and anonymous.report is None
    summary = await followup_summary(event.id)
    assert summary["group_met"] == {"yes": 1, "partly": 1}
    assert summary["reports"] == ["Someone followed us to the metro"]
    assert summary["contact"] == ["Bea"]


async def test_asking_to_be_contacted_reaches_the_organizers_who_answer_through_the_bot(
    harness: BotHarness, event
):
    orga = harness.user(first_name="Orga", language_code="en", username="orga_tg")
    await harness.say(orga, f"/start {event.organizer_code}")
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await harness.travel_to(followup_time(event) + timedelta(minutes=1))

    # Anonymous answers stay statistics: nobody is told.
    await harness.tap(ada, "No")
    await harness.tap(ada, "Not really")
    await harness.say(ada, "The metro was closed")
    await harness.tap(ada, "No, stay anonymous")
    await harness.drain()
    assert not any("Morning-after follow-up" in t for t in received(orga))

    await harness.tap(bea, "Partly")
    await harness.tap(bea, "Not really")
    await harness.say(bea, "Someone followed us to the metro")
    await harness.tap(bea, "I'd like to be contacted")
    await harness.drain()
    request = next(m for m in orga.messages() if "Morning-after follow-up" in (m.text or ""))
    assert request.text == (
        "📝 Morning-after follow-up of Nuit Compagnonnes: Bea would like to be contacted.\n"
        "Did her group meet: Partly. Did she get home well: Not really.\n"
        "Her words: “Someone followed us to the metro”"
    )
    assert str(bea.id) not in str(request.data) and "bea_tg" not in str(request.data)
    assert not any("Morning-after follow-up" in t for t in received(volunteer))

    # The organizer writes to her through the bot; she answers the same way.
    reply = await harness.tap(orga, "💬 Reply through the bot", message=request)
    assert reply.text.startswith("Write your message to Bea.")
    reply = await harness.say(orga, "Hi Bea, can we call you this afternoon?")
    assert reply.text == "Sent to Bea."
    await harness.drain()
    to_her = bea.last_message()
    assert to_her.text == (
        "💬 Orga, from the organizers of Nuit Compagnonnes:\n\n"
        "Hi Bea, can we call you this afternoon?"
    )
    assert "orga_tg" not in str(to_her.data) and str(orga.id) not in str(to_her.data)
    await harness.tap(bea, "↩️ Answer", message=to_her)
    reply = await harness.say(bea, "Yes, after 3pm")
    assert reply.text == "Sent to Orga."
    await harness.drain()
    assert "💬 Bea answers (follow-up of Nuit Compagnonnes):\n\nYes, after 3pm" in received(orga)

    # Her thread is the organizers' only: a volunteer's forged button is refused.
    answer = await FollowupAnswer.get(contact__telegram_id=bea.id)
    await volunteer.tap_data(request.message_id, sign(volunteer.id, f"fc:{answer.id}"))
    await harness.settle()
    assert volunteer.callback_answers()[-1].text == "Only this event's organizers can do this."


async def test_volunteers_see_who_is_without_a_group(harness: BotHarness, event):
    from tests.handlers.test_groups import ALL_ANNOUNCED

    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    await a_group_of_three(harness, event)
    driver = harness.user(first_name="Dora", language_code="en")
    await harness.say(driver, f"/start {event.attendee_code}")
    for step in ("su:lang:en", "su:charter:yes", "su:name:default", "su:arr:own"):
        await harness.tap(driver, data(step))
    await harness.say(driver, "Montreuil")
    await harness.tap(driver, data("su:tr:car"))
    await harness.tap(driver, data("su:seats:0"))  # she drives alone
    await harness.tap(driver, data("su:wave:*"))
    await harness.tap(driver, data("su:sum:confirm"))
    await harness.travel_to(ALL_ANNOUNCED(event) + timedelta(minutes=5))  # the next round
    await harness.say(volunteer, "/waves")
    await harness.drain()  # the cards come through the outbox
    reply = volunteer.last_message()
    assert "Without a departure group at 03:00" in reply.text
    assert "Dora — nobody else travels her way in this departure" in reply.text
