"""Organizer broadcasts: each audience reaches only its people; the preview can be rewritten
or cancelled; messages to people without a saved language use the bot's default language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from companion_bot import clock
from companion_bot.models import Broadcast, DepartureWave, Person, Registration
from companion_bot.services import messaging
from tests.handlers.test_departures import a_late_leaver
from tests.handlers.test_relay import a_group_of_three, received
from tests.support import BotHarness


async def the_night(harness: BotHarness, event):
    """An organizer and a co-organizer, two volunteers, three attendees leaving at 03:00
    and one at 06:00."""
    orgas = []
    for name in ("Orga", "Coorga"):
        orga = harness.user(first_name=name, language_code="en")
        await harness.say(orga, f"/start {event.organizer_code}")
        orgas.append(orga)
    volunteers = []
    for name in ("Vic", "Val"):
        volunteer = harness.user(first_name=name, language_code="en")
        await harness.say(volunteer, f"/start {event.volunteer_code}")
        volunteers.append(volunteer)
    early = await a_group_of_three(harness, event)
    late = await a_late_leaver(harness, event)
    return orgas, volunteers, early, late


def got(person, text: str) -> bool:
    return any(text in message for message in received(person))


async def broadcast(harness: BotHarness, orga, audience: str, text: str) -> None:
    await harness.say(orga, "/broadcast")
    await harness.tap(orga, lambda b: b.text.startswith(audience))
    reply = await harness.say(orga, text)
    assert reply.text.startswith("This goes to")
    await harness.tap(orga, "📣 Send")
    await harness.drain()


async def test_each_audience_reaches_only_its_people(harness: BotHarness, event):
    (orga, coorga), volunteers, early, late = await the_night(harness, event)
    await harness.say(orga, "/broadcast")
    labels = [b.text for b in orga.last_message().inline_buttons()]
    assert labels == [
        "All attendees (4)", "Volunteers (2)", "Organizers (2)",
        "Departure 03:00 (3)", "Departure 06:00 (1)",
    ]  # fmt: skip
    await harness.say(orga, "/cancel")

    await broadcast(harness, orga, "Departure 06:00", "The 06:00 departure leaves from the back.")
    assert got(late, "📣 From the organizers of Nuit Compagnonnes:\n\nThe 06:00 departure")
    for person in [*early, *volunteers, coorga]:
        assert not got(person, "The 06:00 departure leaves"), person

    await broadcast(harness, orga, "Volunteers", "Briefing at the bar in 10 minutes.")
    for volunteer in volunteers:
        assert got(volunteer, "Briefing at the bar in 10 minutes.")
    for person in [*early, late, coorga]:
        assert not got(person, "Briefing at the bar")

    await broadcast(harness, orga, "Organizers", "Cash box is in the office.")
    assert got(coorga, "Cash box is in the office.") and got(orga, "Cash box is in the office.")
    for person in [*early, late, *volunteers]:
        assert not got(person, "Cash box")

    wave = await DepartureWave.filter(event=event).order_by("-departs_at").first()
    sent = await Broadcast.filter(event=event).order_by("id")
    assert [(b.audience, b.departure_wave_id, b.recipients) for b in sent] == [
        ("wave", wave.id, 1), ("volunteers", None, 2), ("organizers", None, 2),
    ]  # fmt: skip
    await harness.travel_to(clock.now() + timedelta(seconds=30))
    assert got(orga, "Delivery report of your message to 1 person: 1 sent, 0 blocked")


async def test_rewrite_and_cancel_at_the_preview(harness: BotHarness, event):
    (orga, _coorga), volunteers, _early, _late = await the_night(harness, event)
    await harness.say(orga, "/broadcast")
    await harness.tap(orga, lambda b: b.text.startswith("Volunteers"))
    await harness.say(orga, "Meet at the bar at 2")
    reply = await harness.tap(orga, "✏️ Rewrite")
    assert reply.text == "Write your message (text only)."
    reply = await harness.say(orga, "Meet at the bar at 3")
    assert reply.text == "This goes to 2 people:\n\nMeet at the bar at 3"
    await harness.tap(orga, "📣 Send")
    await harness.drain()
    for volunteer in volunteers:
        assert got(volunteer, "Meet at the bar at 3")
        assert not got(volunteer, "Meet at the bar at 2")

    await harness.say(orga, "/broadcast")
    await harness.tap(orga, lambda b: b.text.startswith("All attendees"))
    await harness.say(orga, "Oops, wrong chat")
    reply = await harness.tap(orga, "Cancel")
    assert reply.text == "Nothing was sent."
    await harness.drain()
    assert await Broadcast.filter(event=event).count() == 1
    assert not any(got(person, "Oops") for person in harness.users.values() if person is not orga)


@pytest.fixture
def default_language_restored():
    yield
    messaging.configure("fr")


async def test_people_without_a_language_get_the_default_one(
    harness: BotHarness, event, default_language_restored
):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    quiet = harness.user(first_name="Zoe", language_code="en", started=True)
    person = await Person.create(telegram_id=quiet.id, display_name="Zoe", language=None)
    await Registration.create(event=event, person=person, status="confirmed")

    harness.settings = harness.settings.model_copy(update={"DEFAULT_LANGUAGE": "en"})
    await harness.restart()
    await broadcast(harness, orga, "All attendees", "Doors open in one hour.")
    assert got(quiet, "📣 From the organizers of Nuit Compagnonnes:\n\nDoors open in one hour.")

    harness.settings = harness.settings.model_copy(update={"DEFAULT_LANGUAGE": "fr"})
    await harness.restart()
    await broadcast(harness, orga, "All attendees", "Les portes ouvrent.")
    assert got(quiet, "📣 De la part de l'équipe d'organisation (Nuit Compagnonnes)")
