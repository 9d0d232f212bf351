"""Organizer-defined zones, end to end: `/zones` (add with a pin, with a typed neighbourhood,
remove, bad input at every step, non-organizers and forged buttons refused), attendees
finding a zone by a misspelt name or a pin near it, and people heading to one zone leaving
together after a matching round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from companion_bot.gazetteer import Gazetteer
from companion_bot.models import (
    CompanionGroup,
    GroupKind,
    GroupMember,
    MemberStatus,
    Registration,
    Zone,
)
from companion_bot.services.events import create_event
from companion_bot.signing import sign
from tests.support import BotHarness, data, event_spec, sign_up, texts_after

ORGANIZERS_ONLY = "Only this event's organizers can do this."
NO_LONGER_ACTIVE = "This button is no longer active."
RECYCLERIE = (48.8973, 2.3441)  # a venue of the 18e, by Porte de Clignancourt
BASILIQUE = (48.9356, 2.3597)  # Saint-Denis, north of Paris


async def organizer_of(harness: BotHarness, event, language: str = "en"):
    orga = harness.user(first_name="Orga", language_code=language)
    await harness.say(orga, f"/start {event.organizer_code}")
    return orga


async def zone_named(event, name: str) -> Zone:
    return await Zone.get(event=event, name=name)


async def registration_of(person) -> Registration:
    return await Registration.get(person__telegram_id=person.id)


async def reach_destination_step(harness: BotHarness, person, event, language="en") -> None:
    await harness.say(person, f"/start {event.attendee_code}")
    await harness.tap(person, data(f"su:lang:{language}"))
    await harness.tap(person, data("su:charter:yes"))
    await harness.tap(person, data("su:name:default"))
    await harness.tap(person, data("su:arr:slot:*"))


# -- organizers --------------------------------------------------------------------------------


async def test_organizer_adds_a_zone_with_a_pin_then_one_at_a_typed_neighbourhood(
    harness: BotHarness, event
) -> None:
    orga = await organizer_of(harness, event)
    reply = await harness.say(orga, "/zones")
    assert reply.text.startswith("Zones of Nuit Compagnonnes")
    assert "No zone yet." in reply.text
    assert [b.text for b in reply.inline_buttons()] == ["➕ Add a zone"]

    reply = await harness.tap(orga, "➕ Add a zone")
    assert reply.text.startswith("Name of the new zone?")
    reply = await harness.say(orga, "  La   Recyclerie ")
    assert reply.text.startswith("Where is “La Recyclerie”?")
    before = len(orga.messages())
    await orga.send_location(*RECYCLERIE)
    await harness.settle()
    added, listing = texts_after(orga, before)
    assert added == "✅ Zone “La Recyclerie” added at 48.89730, 2.34410."
    assert "• La Recyclerie" in listing
    zone = await zone_named(event, "La Recyclerie")
    assert (zone.lat, zone.lon) == RECYCLERIE

    await harness.tap(orga, "➕ Add a zone")
    await harness.say(orga, "Canal")
    before = len(orga.messages())
    await harness.say(orga, "Stalingard")  # misspelt: the gazetteer's Stalingrad
    assert texts_after(orga, before)[0].startswith("✅ Zone “Canal” added at")
    stalingrad = Gazetteer.default().get("fr-paris-stalingrad")
    zone = await zone_named(event, "Canal")
    assert (zone.lat, zone.lon) == (stalingrad.lat, stalingrad.lon)
    assert [b.text for b in orga.inline_buttons()] == [
        "➕ Add a zone",
        "🗑 Remove Canal",
        "🗑 Remove La Recyclerie",
    ]


async def test_organizer_adds_a_zone_in_french(harness: BotHarness, event) -> None:
    orga = await organizer_of(harness, event, "fr")
    reply = await harness.say(orga, "/zones")
    assert reply.text.startswith("Zones — Nuit Compagnonnes")
    assert "Pas encore de zone." in reply.text
    reply = await harness.tap(orga, "➕ Ajouter une zone")
    assert reply.text.startswith("Nom de la nouvelle zone ?")
    await orga.send_sticker()
    await harness.settle()
    assert orga.last_text() == "Écris le nom de la zone dans un message texte."
    reply = await harness.say(orga, "Navette")
    assert reply.text.startswith("Où est « Navette » ?")
    reply = await harness.say(orga, "91.0, 2.0")
    assert reply.text.startswith("« 91.0, 2.0 » n'est pas un point sur Terre")
    before = len(orga.messages())
    await harness.say(orga, "48.8809, 2.3553")
    added, listing = texts_after(orga, before)
    assert added == "✅ Zone « Navette » ajoutée au point 48.88090, 2.35530."
    assert "• Navette" in listing
    assert [b.text for b in orga.inline_buttons()][-1] == "🗑 Supprimer Navette"


async def test_bad_input_while_adding_a_zone_is_explained_and_loses_nothing(
    harness: BotHarness, event
) -> None:
    await Zone.create(event=event, name="La Recyclerie", lat=RECYCLERIE[0], lon=RECYCLERIE[1])
    orga = await organizer_of(harness, event)
    await harness.say(orga, "/zones")
    await harness.tap(orga, "➕ Add a zone")

    await orga.send_sticker()
    await harness.settle()
    assert orga.last_text() == "Please type the zone's name as a text message."
    reply = await harness.say(orga, "  \u00a0 ")
    assert reply.text.startswith("Please type the zone's name.")
    reply = await harness.say(orga, "x" * 65)
    assert reply.text.startswith("That is too long: 64 characters at most.")
    reply = await harness.say(orga, "!!! ???")
    assert reply.text.startswith("A zone's name needs letters or digits")
    reply = await harness.say(orga, "la recyclérie")
    assert reply.text.startswith("This event already has a zone called “La Recyclerie”.")
    reply = await harness.say(orga, "/dashboard")
    assert reply.text == "You are adding a zone: answer the question above, or /cancel."

    reply = await harness.say(orga, "Basilique")
    assert reply.text.startswith("Where is “Basilique”?")
    await orga.send_sticker()
    await harness.settle()
    assert orga.last_text().startswith("Please share a location pin")
    reply = await harness.say(orga, "qwxzzk")
    assert reply.text.startswith("“qwxzzk” is neither coordinates like 48.8566, 2.3522 nor")
    reply = await harness.say(orga, "95.5, 200.1")
    assert reply.text.startswith("“95.5, 200.1” is not a point on Earth")
    reply = await harness.say(orga, "Belvile")
    assert "Did you mean:" in reply.text
    assert any("Belleville" in b.text for b in reply.inline_buttons())
    assert await Zone.filter(event=event).count() == 1

    before = len(orga.messages())
    await harness.tap(orga, lambda b: b.text.startswith("Belleville"))
    assert texts_after(orga, before)[0].startswith("✅ Zone “Basilique” added at")
    belleville = Gazetteer.default().get("fr-paris-belleville")
    zone = await zone_named(event, "Basilique")
    assert (zone.lat, zone.lon) == (belleville.lat, belleville.lon)

    # /cancel leaves, and adds nothing.
    await harness.tap(orga, "➕ Add a zone")
    await harness.say(orga, "Nation")
    reply = await harness.say(orga, "/cancel")
    assert reply.text == "Stopped: no zone was added."
    assert await Zone.filter(event=event).count() == 2
    await orga.send_location(48.85, 2.39)
    await harness.settle()
    assert await Zone.filter(event=event).count() == 2


async def test_volunteers_and_attendees_cannot_use_zones(harness: BotHarness, event) -> None:
    zone = await Zone.create(event=event, name="Basilique", lat=BASILIQUE[0], lon=BASILIQUE[1])
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    assert (await harness.say(volunteer, "/zones")).text == ORGANIZERS_ONLY
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    assert (await harness.say(ada, "/zones")).text == ORGANIZERS_ONLY
    camille = harness.user(first_name="Camille", language_code="fr")
    reply = await harness.say(camille, "/zones")
    assert reply.text == "Seule l'équipe d'organisation de cet événement peut faire ça."

    # Buttons signed for themselves: the signature is right, the role is not.
    for data_ in (f"zn:del:{zone.id}", f"zn:add:{event.id}", f"zn:ev:{event.id}"):
        before = len(volunteer.messages())
        await volunteer.tap_data(volunteer.last_message().message_id, sign(volunteer.id, data_))
        await harness.settle()
        assert texts_after(volunteer, before) == [ORGANIZERS_ONLY]
    # A forged signature.
    await ada.tap_data(ada.last_message().message_id, f"zn:del:{zone.id}~forged0000")
    await harness.settle()
    assert ada.callback_answers()[-1].text == NO_LONGER_ACTIVE
    assert await Zone.exists(id=zone.id)


async def test_a_zone_is_removed_only_once_nobody_heads_there(harness: BotHarness, event) -> None:
    zone = await Zone.create(
        event=event, name="La Recyclerie", lat=RECYCLERIE[0], lon=RECYCLERIE[1]
    )
    ada, bea = (harness.user(first_name=name, language_code="en") for name in ("Ada", "Bea"))
    for person in (ada, bea):
        await sign_up(harness, person, event.attendee_code, destination="La Recyclerie")
    orga = await organizer_of(harness, event)
    reply = await harness.say(orga, "/zones")
    assert "• La Recyclerie — 2 people heading there" in reply.text
    listing = reply

    reply = await harness.tap(orga, "🗑 Remove La Recyclerie", message=listing)
    assert reply.text == (
        "“La Recyclerie” stays: 2 attendees head there. It can be removed once nobody does."
    )
    assert await Zone.exists(id=zone.id)

    # Ada heads elsewhere; Bea cancels (a cancelled registration does not hold the zone).
    await harness.say(ada, "/me")
    await harness.tap(ada, data("su:edit:destination"))
    await harness.say(ada, "Montreuil")
    await harness.tap(ada, data("su:sum:confirm"))
    await harness.say(bea, "/leave")
    await harness.tap(bea, data("leave:*"))
    await harness.tap(bea, data("leave:yes:*"))

    before = len(orga.messages())
    await harness.tap(orga, "🗑 Remove La Recyclerie", message=listing)
    removed, shown = texts_after(orga, before)
    assert removed == "Zone “La Recyclerie” removed."
    assert "No zone yet." in shown
    assert not await Zone.exists(id=zone.id)
    assert (await registration_of(bea)).destination_place_id is None
    # Bea comes back: asked again where she heads, nothing crashes.
    await harness.say(bea, f"/start {event.attendee_code}")
    reply = await harness.tap(bea, data("su:lang:en"))
    assert reply.text.startswith("Where are you heading after the event?")
    assert "organizers' zones" not in reply.text
    # The removal button again (a double tap, an old message).
    await orga.tap_data(listing.message_id, sign(orga.id, f"zn:del:{zone.id}"))
    await harness.settle()
    assert orga.last_text() == "This zone no longer exists."
    assert harness.application.bot_data.get("errors", 0) == 0


# -- attendees ---------------------------------------------------------------------------------


async def test_attendee_types_a_misspelt_zone_in_french(harness: BotHarness, event) -> None:
    zone = await Zone.create(
        event=event, name="La Recyclerie", lat=RECYCLERIE[0], lon=RECYCLERIE[1]
    )
    chloe = harness.user(first_name="Chloé", language_code="fr")
    await reach_destination_step(harness, chloe, event, language="fr")
    assert "Les zones de l'équipe d'organisation : La Recyclerie." in chloe.last_text()

    before = len(chloe.messages())
    await harness.say(chloe, "recylerie")
    assert texts_after(chloe, before)[:2] == ["📍 La Recyclerie", "Comment rentres-tu chez toi ?"]
    assert (await registration_of(chloe)).destination_place_id == f"zone:{zone.id}"

    await harness.tap(chloe, data("su:tr:walk"))
    reply = await harness.tap(chloe, data("su:wave:*"))
    assert "Destination : La Recyclerie" in reply.text
    await harness.tap(chloe, data("su:sum:confirm"))
    assert "Destination : La Recyclerie" in (await harness.say(chloe, "/me")).text
    before = len(chloe.messages())
    await harness.say(chloe, "/mydata")
    assert any("La Recyclerie" in text for text in texts_after(chloe, before))


async def test_a_pin_near_a_zone_snaps_to_it(harness: BotHarness, event) -> None:
    zone = await Zone.create(event=event, name="Basilique", lat=BASILIQUE[0], lon=BASILIQUE[1])
    lea = harness.user(first_name="Léa", language_code="en")
    await reach_destination_step(harness, lea, event)
    before = len(lea.messages())
    await lea.send_location(BASILIQUE[0] + 0.01, BASILIQUE[1] - 0.01)  # about 1.3 km away
    await harness.settle()
    assert texts_after(lea, before)[0] == (
        "📍 Basilique (the organizers' zone nearest to your pin; the exact point is not kept)"
    )
    assert (await registration_of(lea)).destination_place_id == f"zone:{zone.id}"
    # Far from every zone: the gazetteer's neighbourhood, as before.
    await harness.say(lea, "/me")
    await harness.tap(lea, data("su:edit:destination"))
    before = len(lea.messages())
    await lea.send_location(48.8535, 2.3700)  # Bastille area
    await harness.settle()
    assert "nearest neighbourhood" in texts_after(lea, before)[0]
    assert not (await registration_of(lea)).destination_place_id.startswith("zone:")


async def test_suggestions_mix_zones_and_neighbourhoods(harness: BotHarness, event) -> None:
    """A typo ("Bellevile") of the gazetteer's Belleville, close to the zone Bellevue too:
    she picks, the zone first; its button is signed."""
    zone = await Zone.create(event=event, name="Bellevue", lat=48.87, lon=2.39)
    ines = harness.user(first_name="Inès", language_code="en")
    await reach_destination_step(harness, ines, event)
    reply = await harness.say(ines, "Bellevile")
    assert "Did you mean" in reply.text
    buttons = reply.inline_buttons()
    assert [b.text for b in buttons] == [
        "Bellevue",
        "Belleville (Paris 20e)",
        "None of these: I'll type it again",
        "No departure group for me",
    ]
    assert buttons[0].callback_data.startswith(f"sz:{zone.id}~")
    reply = await harness.tap(ines, "Bellevue")
    assert "How will you travel home?" in reply.text
    assert (await registration_of(ines)).destination_place_id == f"zone:{zone.id}"


async def test_forged_or_foreign_zone_buttons_are_refused(harness: BotHarness, event) -> None:
    other = await create_event(
        event_spec(datetime.now(UTC) + timedelta(days=2), name="Nuit Deux"), None
    )
    foreign = await Zone.create(event=other, name="Ailleurs", lat=48.9, lon=2.3)
    mine = await Zone.create(event=event, name="Basilique", lat=BASILIQUE[0], lon=BASILIQUE[1])
    ines = harness.user(first_name="Inès", language_code="en")
    await reach_destination_step(harness, ines, event)
    prompt = ines.last_message().message_id

    await ines.tap_data(prompt, f"sz:{mine.id}~forged0000")
    await harness.settle()
    assert ines.callback_answers()[-1].text == NO_LONGER_ACTIVE
    await ines.tap_data(prompt, f"su:dest:place:zone:{mine.id}")  # unsigned
    await harness.settle()
    assert ines.callback_answers()[-1].text == NO_LONGER_ACTIVE
    await ines.tap_data(prompt, sign(ines.id, f"sz:{foreign.id}"))  # another event's zone
    await harness.settle()
    assert ines.callback_answers()[-1].text.startswith("That choice is no longer available.")
    assert (await registration_of(ines)).destination_place_id is None
    # Still at the same step: the real answer works.
    reply = await harness.say(ines, "Basilique")
    assert "How will you travel home?" in reply.text


# -- matching ----------------------------------------------------------------------------------


def ALL_ANNOUNCED(event):
    return event.doors_open - timedelta(hours=1, minutes=59)


async def test_people_heading_to_one_zone_leave_together(harness: BotHarness, event) -> None:
    """Two head to a zone north of Paris, two to Vitry, south: two departure groups. Were
    the zone's point lost, its people could go with anyone at no cost."""
    await Zone.create(event=event, name="Basilique", lat=BASILIQUE[0], lon=BASILIQUE[1])
    people = {}
    for name, destination in (
        ("Ada", "Basilique"),
        ("Vera", "Vitry-sur-Seine"),
        ("Bea", "basillique"),
        ("Vic", "Vitry-sur-Seine"),
    ):
        person = harness.user(first_name=name, language_code="en")
        await sign_up(harness, person, event.attendee_code, destination=destination)
        people[name] = await registration_of(person)
    await harness.travel_to(ALL_ANNOUNCED(event))

    def group_of(name: str) -> set[int]:
        return next(
            {m.registration_id for m in group.members if m.status == MemberStatus.ACTIVE}
            for group in departure
            if people[name].id in {m.registration_id for m in group.members}
        )

    departure = await CompanionGroup.filter(event=event, kind=GroupKind.DEPARTURE).prefetch_related(
        "members"
    )
    assert group_of("Ada") == {people["Ada"].id, people["Bea"].id}
    assert group_of("Vera") == {people["Vera"].id, people["Vic"].id}
    assert await GroupMember.filter(group__kind=GroupKind.DEPARTURE).count() == 4


@pytest.mark.parametrize("language", ["en"])
async def test_zones_asks_which_event(harness: BotHarness, event, language) -> None:
    other = await create_event(
        event_spec(datetime.now(UTC) + timedelta(days=2), name="Nuit Deux"), None
    )
    orga = await organizer_of(harness, event, language)
    await harness.say(orga, f"/start {other.organizer_code}")
    reply = await harness.say(orga, "/zones")
    assert reply.text == "Which event?"
    reply = await harness.tap(orga, "Nuit Deux")
    assert reply.text.startswith("Zones of Nuit Deux")
