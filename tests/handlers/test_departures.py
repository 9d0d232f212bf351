"""Organizers move departure waves; attendees who already left get the check-in; the morning
after, a short follow-up reaches the organizers as anonymous statistics."""

from __future__ import annotations

from datetime import timedelta

from companion_bot.models import CompanionGroup, DepartureWave, FollowupAnswer, GroupKind
from companion_bot.services.lifecycle import followup_summary, followup_time
from tests.handlers.test_relay import a_group_of_three, received
from tests.support import BotHarness, data, sign_up


async def test_moving_a_wave_tells_only_its_people(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    ada, bea, _cleo = await a_group_of_three(harness, event)  # all on the 03:00 wave
    late = harness.user(first_name="Dee", language_code="en")
    await sign_up(harness, late, event.attendee_code, destination="Montreuil")
    # Dee moves herself to the 06:00 departure from her summary.
    await harness.say(late, "/me")
    await harness.tap(late, data("su:edit:wave"))
    await harness.tap(late, lambda b: b.text.startswith("06:00"))
    await harness.tap(late, data("su:sum:confirm"))

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


async def test_adding_a_departure(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    await harness.say(orga, "/departures")
    await harness.tap(orga, "➕ Add a departure")
    reply = await harness.say(orga, "04:30")
    assert "Departure added at 04:30" in reply.text
    assert await DepartureWave.filter(event=event).count() == 3


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
    await harness.tap(driver, data("su:wave:*"))
    await harness.tap(driver, data("su:sum:confirm"))
    await harness.travel_to(ALL_ANNOUNCED(event) + timedelta(minutes=5))  # the next round
    reply = await harness.say(volunteer, "/waves")
    assert "Without a departure group at 03:00" in reply.text
    assert "Dora — nobody else travels her way in this departure" in reply.text
