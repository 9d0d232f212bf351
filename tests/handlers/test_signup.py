"""The attendee's sign-up, end to end: the bot's real HTTP stack against the emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from companion_bot.i18n import translator
from companion_bot.models import (
    ArrivalKind,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    Transport,
)
from companion_bot.services import outbox
from companion_bot.services.events import create_event
from tests.support import (
    BotHarness,
    conversation_step,
    data,
    event_spec,
    sign_up,
    sign_up_waiting,
    texts_after,
)


async def registration_of(person) -> Registration | None:
    return await Registration.get_or_none(person__telegram_id=person.id).prefetch_related(
        "person", "arrival_slot", "departure_wave"
    )


async def test_sign_up_in_english(harness: BotHarness, event) -> None:
    marie = harness.user(first_name="Marie", language_code="en")

    reply = await harness.say(marie, f"/start {event.attendee_code}")
    assert "Which language" in reply.text
    assert [b.text for b in marie.inline_buttons()] == ["Français", "✓ English", "Nederlands"]

    reply = await harness.tap(marie, "✓ English")
    assert "Welcome to Nuit Compagnonnes" in reply.text
    assert "Be kind. Look out for each other." in reply.text

    reply = await harness.tap(marie, "✅ I agree")
    assert "What name should your companions see?" in reply.text

    reply = await harness.tap(marie, "Use “Marie”")
    assert "When do you plan to arrive at La Station?" in reply.text
    assert [b.text for b in marie.inline_buttons()] == [
        "23:00 – 00:00",
        "00:00 – 01:00",
        "I'm already there",
        "I'll come on my own",
    ]

    reply = await harness.tap(marie, "23:00 – 00:00")
    assert "Where are you heading after the event?" in reply.text

    before = len(marie.messages())
    reply = await harness.say(marie, "Oberkampf")
    assert texts_after(marie, before)[0] == "📍 Oberkampf (Paris 11e)"
    assert "How will you travel home?" in reply.text
    # The typed answer retired the question's "no departure group" button.
    assert marie.messages()[before - 1].inline_buttons() == []

    reply = await harness.tap(marie, "🚇 Metro / RER / tram")
    assert "Which departure time suits you?" in reply.text
    assert [b.text for b in marie.inline_buttons()] == [
        "03:00 — Main entrance",
        "06:00 — Back door",
    ]

    reply = await harness.tap(marie, "03:00 — Main entrance")
    assert "Please check and confirm" in reply.text
    for line in (
        "Name: Marie",
        "Arrival: 23:00 – 00:00 (Main entrance)",
        "Destination: Oberkampf (Paris 11e)",
        "Transport: 🚇 Metro / RER / tram",
        "Departure: 03:00 — Main entrance",
    ):
        assert line in reply.text

    reply = await harness.tap(marie, "✅ Confirm")
    assert "You're signed up for Nuit Compagnonnes!" in reply.text

    registration = await registration_of(marie)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.consent_at is not None
    assert registration.person.display_name == "Marie"
    assert registration.person.language == "en"
    assert registration.arrival_kind == ArrivalKind.SLOT
    assert registration.destination_place_id == "fr-paris-oberkampf"
    assert registration.transport == Transport.TRANSIT
    assert registration.departure_wave.departs_at == event_spec_wave(event, 0)
    # The conversation is over: nothing left in the stored state.
    assert await conversation_step(marie.id, "signup") is None


def event_spec_wave(event, index: int) -> datetime:
    return event.doors_open + timedelta(hours=4 if index == 0 else 7)


@pytest.mark.parametrize(
    ("telegram_language", "expected"),
    [("fr", "✓ Français"), ("en-GB", "✓ English"), ("de", "✓ Français"), (None, "✓ Français")],
)
async def test_language_is_preselected_from_telegram(
    harness: BotHarness, event, telegram_language, expected
) -> None:
    person = harness.user(language_code=telegram_language)
    await harness.say(person, f"/start {event.attendee_code}")
    assert expected in [b.text for b in person.inline_buttons()]


async def test_location_pin_snaps_to_a_neighbourhood_and_is_not_stored(
    harness: BotHarness, event
) -> None:
    lea = harness.user(first_name="Léa", language_code="en")
    await harness.say(lea, f"/start {event.attendee_code}")
    await harness.tap(lea, data("su:lang:en"))
    await harness.tap(lea, data("su:charter:yes"))
    await harness.tap(lea, data("su:name:default"))
    await harness.tap(lea, data("su:arr:here"))

    before = len(lea.messages())
    await lea.send_location(48.8535, 2.3700)  # Bastille area
    await harness.settle()
    snapped = texts_after(lea, before)[0]
    assert snapped.startswith("📍 ") and "exact point is not kept" in snapped
    registration = await registration_of(lea)
    assert registration.destination_place_id is not None
    row = await Registration.filter(id=registration.id).values()
    assert not any("48.85" in str(value) for value in row[0].values())

    before = len(lea.messages())
    await harness.tap(lea, data("su:tr:walk"))
    assert "Which departure" in lea.last_text()


async def test_far_away_pin_asks_to_type(harness: BotHarness, event) -> None:
    zoe = harness.user(first_name="Zoé", language_code="en")
    await reach_destination_step(harness, zoe, event)
    await zoe.send_location(43.2965, 5.3698)  # Marseille
    await harness.settle()
    assert "far from the neighbourhoods I know" in zoe.last_text()
    assert (await registration_of(zoe)).destination_place_id is None
    reply = await harness.say(zoe, "Montreuil")
    assert "How will you travel home?" in reply.text


async def reach_destination_step(harness: BotHarness, person, event) -> None:
    await harness.say(person, f"/start {event.attendee_code}")
    await harness.tap(person, data("su:lang:en"))
    await harness.tap(person, data("su:charter:yes"))
    await harness.tap(person, data("su:name:default"))
    await harness.tap(person, data("su:arr:slot:*"))


async def test_misspelt_neighbourhood_offers_suggestions(harness: BotHarness, event) -> None:
    ines = harness.user(first_name="Inès", language_code="en")
    await reach_destination_step(harness, ines, event)

    reply = await harness.say(ines, "Belvile")
    assert "Did you mean" in reply.text
    labels = [b.text for b in ines.inline_buttons()]
    assert any("Belleville" in label for label in labels)
    assert labels[-2:] == ["None of these: I'll type it again", "No departure group for me"]
    assert 3 <= len(labels) <= 5

    reply = await harness.tap(ines, lambda b: "Belleville" in b.text)
    assert "How will you travel home?" in reply.text
    assert "belleville" in (await registration_of(ines)).destination_place_id


async def test_unknown_neighbourhood_is_explained(harness: BotHarness, event) -> None:
    ines = harness.user(first_name="Inès", language_code="en")
    await reach_destination_step(harness, ines, event)
    reply = await harness.say(ines, "qwxzzk")
    assert "I don't know “qwxzzk”" in reply.text
    assert (await registration_of(ines)).destination_place_id is None
    reply = await harness.say(ines, "Ixelles")
    assert "How will you travel home?" in reply.text


async def test_no_departure_group_skips_transport_and_departure(harness: BotHarness, event) -> None:
    sam = harness.user(first_name="Sam", language_code="en")
    await reach_destination_step(harness, sam, event)
    reply = await harness.tap(sam, data("su:dest:none"))
    assert "Please check and confirm" in reply.text
    assert "Destination: no departure group" in reply.text
    assert not any(b.callback_data == "su:edit:transport" for b in sam.inline_buttons())
    await harness.tap(sam, data("su:sum:confirm"))
    registration = await registration_of(sam)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.wants_departure_group is False
    assert registration.transport is None and registration.departure_wave is None


async def test_refusing_the_charter_ends_without_consent(harness: BotHarness, event) -> None:
    eve = harness.user(first_name="Eve", language_code="en")
    await harness.say(eve, f"/start {event.attendee_code}")
    await harness.tap(eve, data("su:lang:en"))
    reply = await harness.tap(eve, data("su:charter:no"))
    assert "Without agreeing to the charter" in reply.text
    registration = await registration_of(eve)
    assert registration.consent_at is None
    assert registration.status == RegistrationStatus.DRAFT
    # She changes her mind: the same link takes her back.
    await harness.say(eve, f"/start {event.attendee_code}")
    await harness.tap(eve, data("su:lang:en"))
    reply = await harness.tap(eve, data("su:charter:yes"))
    assert "What name should your companions see?" in reply.text


async def test_display_name_that_reveals_contact_details_is_refused(
    harness: BotHarness, event
) -> None:
    nina = harness.user(first_name="Nina", language_code="en")
    await harness.say(nina, f"/start {event.attendee_code}")
    await harness.tap(nina, data("su:lang:en"))
    await harness.tap(nina, data("su:charter:yes"))
    for bad in ("@nina_92", "06 12 34 56 78", "t.me/nina", "x" * 40):
        before = len(nina.messages())
        await harness.say(nina, bad)
        answer = texts_after(nina, before)
        assert any("don't put a username" in text or "too long" in text for text in answer), answer
        assert "What name should your companions see?" in answer[-1]
    assert (await registration_of(nina)).person.display_name is None
    reply = await harness.say(nina, "  Nina   la Nuit ")
    assert "When do you plan to arrive" in reply.text
    assert (await registration_of(nina)).person.display_name == "Nina la Nuit"


async def test_edit_from_summary_and_me(harness: BotHarness, event) -> None:
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)

    reply = await harness.say(ada, "/me")
    assert "You are signed up" in reply.text
    await harness.tap(ada, data("su:edit:destination"))
    reply = await harness.say(ada, "Montreuil")
    assert "You are signed up" in reply.text
    assert "Destination: Montreuil" in reply.text
    await harness.tap(ada, data("su:edit:wave"))
    reply = await harness.tap(ada, lambda b: b.text.startswith("06:00"))
    assert "Departure: 06:00 — Back door" in reply.text
    await harness.tap(ada, data("su:sum:confirm"))
    registration = await registration_of(ada)
    assert registration.destination_place_id == "fr-montreuil"
    assert registration.departure_wave.departs_at == event_spec_wave(event, 1)
    assert registration.status == RegistrationStatus.CONFIRMED


async def test_leave_cancels_her_registration(harness: BotHarness, event) -> None:
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    reply = await harness.say(ada, "/leave")
    assert "Which registration do you want to cancel?" in reply.text
    reply = await harness.tap(ada, data("leave:*"))
    assert "Are you sure?" in reply.text
    reply = await harness.tap(ada, data("leave:yes:*"))
    assert "is cancelled" in reply.text
    assert (await registration_of(ada)).status == RegistrationStatus.CANCELLED
    reply = await harness.say(ada, "/me")
    assert "You are not signed up for any event" in reply.text
    # Signing up again with the link reopens it.
    await harness.say(ada, f"/start {event.attendee_code}")
    assert (await registration_of(ada)).status == RegistrationStatus.DRAFT


async def test_leave_button_of_someone_else_does_nothing(harness: BotHarness, event) -> None:
    ada = harness.user(first_name="Ada", language_code="en")
    eve = harness.user(first_name="Eve", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    await harness.say(eve, "/help")
    victim = await registration_of(ada)
    await eve.tap_data(eve.last_message().message_id, f"leave:yes:{victim.id}")
    await harness.settle()
    assert eve.callback_answers()[-1].text == "This button is no longer active."
    assert (await registration_of(ada)).status == RegistrationStatus.CONFIRMED


async def test_cancel_keeps_answers_and_the_link_resumes(harness: BotHarness, event) -> None:
    uma = harness.user(first_name="Uma", language_code="en")
    await reach_destination_step(harness, uma, event)
    reply = await harness.say(uma, "/cancel")
    assert "Stopped. Your answers so far are kept" in reply.text
    reply = await harness.say(uma, "Montreuil")
    assert "I didn't understand that." in reply.text
    assert (await registration_of(uma)).destination_place_id is None
    # The link again: language, then straight to the first unanswered step.
    await harness.say(uma, f"/start {event.attendee_code}")
    reply = await harness.tap(uma, data("su:lang:en"))
    assert "Where are you heading" in reply.text


async def test_unknown_code_and_plain_start(harness: BotHarness, event) -> None:
    eve = harness.user(language_code="en")
    reply = await harness.say(eve, "/start NOPE-123")
    assert "This link is not valid" in reply.text and "NOPE-123" in reply.text
    reply = await harness.say(eve, "/start")
    assert "open the link the organizers shared" in reply.text
    assert not await Registration.exists()


async def test_volunteer_link_makes_a_volunteer(harness: BotHarness, event) -> None:
    from companion_bot.models import Role, RoleKind

    vic = harness.user(first_name="Vic", language_code="en")
    reply = await harness.say(vic, f"/start {event.volunteer_code}")
    assert "You are now a volunteer at Nuit Compagnonnes" in reply.text
    reply = await harness.say(vic, f"/start {event.volunteer_code}")
    assert "already a volunteer" in reply.text
    assert await Role.filter(person__telegram_id=vic.id, kind=RoleKind.VOLUNTEER).count() == 1
    assert not await Registration.exists()


async def test_sign_up_is_closed_after_the_event(harness: BotHarness) -> None:
    past = await create_event(
        event_spec(datetime.now(UTC) - timedelta(days=3)).__class__(
            **{**event_spec(datetime.now(UTC) + timedelta(days=1)).__dict__}
        )
    )
    await past.filter(id=past.id).update(
        doors_open=datetime.now(UTC) - timedelta(days=2),
        closing=datetime.now(UTC) - timedelta(days=1),
    )
    eve = harness.user(language_code="en")
    reply = await harness.say(eve, f"/start {past.attendee_code}")
    assert "This event is over" in reply.text


async def test_restart_mid_sign_up_resumes_where_she_was(harness: BotHarness, event) -> None:
    lou = harness.user(first_name="Lou", language_code="en")
    await reach_destination_step(harness, lou, event)
    # Written through already, before any shutdown could flush it.
    assert await conversation_step(lou.id, "signup") == "destination"

    await harness.restart()

    reply = await harness.say(lou, "Pantin")
    assert "How will you travel home?" in reply.text
    await harness.tap(lou, data("su:tr:night_bus"))
    await harness.tap(lou, data("su:wave:*"))
    reply = await harness.tap(lou, data("su:sum:confirm"))
    assert "You're signed up" in reply.text
    registration = await registration_of(lou)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.destination_place_id == "fr-pantin"
    assert registration.arrival_kind == ArrivalKind.SLOT


async def test_twenty_attendees_signing_up_at_once(harness: BotHarness, event) -> None:
    places = ["11e", "Montreuil", "Pantin", "Ixelles", "Belleville"]
    people = [
        harness.user(first_name=f"Amie{i}", language_code="en" if i % 2 else "fr")
        for i in range(20)
    ]
    await asyncio.gather(
        *(
            sign_up_waiting(person, event.attendee_code, language="en" if i % 2 else "fr",
                            destination=places[i % len(places)])
            for i, person in enumerate(people)
        )
    )  # fmt: skip
    await harness.settle()
    registrations = await Registration.filter(event=event).prefetch_related("person")
    assert len(registrations) == 20
    by_person = {reg.person.telegram_id: reg for reg in registrations}
    for i, person in enumerate(people):
        registration = by_person[person.id]
        assert registration.status == RegistrationStatus.CONFIRMED
        assert registration.person.display_name == f"Amie{i}"
        assert registration.person.language == ("en" if i % 2 else "fr")
        assert registration.transport == Transport.TRANSIT
        assert registration.destination_place_id is not None


async def test_sign_up_in_french(harness: BotHarness, event) -> None:
    chloe = harness.user(first_name="Chloé", language_code="fr")
    reply = await harness.say(chloe, f"/start {event.attendee_code}")
    assert reply.text.startswith("Quelle langue préfères-tu ?")
    assert [b.text for b in chloe.inline_buttons()] == ["✓ Français", "English", "Nederlands"]
    reply = await harness.tap(chloe, "✓ Français")
    assert "Bienvenue ! Nuit Compagnonnes : avant qu'on te trouve" in reply.text
    reply = await harness.tap(chloe, "✅ J'accepte")
    assert "Quel nom tes compagnonnes de route verront-elles ?" in reply.text
    reply = await harness.say(chloe, "Chloé B.")
    assert "Lieu : La Station. Quand penses-tu arriver ?" in reply.text
    assert [b.text for b in chloe.inline_buttons()][2:] == [
        "Je suis déjà sur place",
        "J'arrive de mon côté",
    ]
    reply = await harness.tap(chloe, "00:00 – 01:00")
    assert "Où vas-tu après l'événement ?" in reply.text
    before = len(chloe.messages())
    reply = await harness.say(chloe, "le 20ème")
    assert texts_after(chloe, before)[0] == "📍 Paris 20e (Ménilmontant)"
    reply = await harness.tap(chloe, "🚌 Noctilien / bus de nuit")
    assert "Quelle heure de départ te convient ?" in reply.text
    reply = await harness.tap(chloe, "06:00 — Back door")
    assert "Vérifie et confirme" in reply.text
    for line in (
        "Langue : Français",
        "Prénom ou pseudo : Chloé B.",
        "Arrivée : 00:00 – 01:00 (Main entrance)",
        "Destination : Paris 20e (Ménilmontant)",
        "Transport : 🚌 Noctilien / bus de nuit",
        "Départ : 06:00 — Back door",
    ):
        assert line in reply.text, reply.text
    # The date in French, in the event's time zone ("samedi 5 décembre, 23:00").
    assert translator("fr").datetime(event.doors_open, "Europe/Paris") in reply.text
    reply = await harness.tap(chloe, "✅ Confirmer")
    assert "Ton inscription est enregistrée : Nuit Compagnonnes !" in reply.text
    registration = await registration_of(chloe)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.person.language == "fr"
    assert registration.destination_place_id == "fr-paris-20"
    assert registration.transport == Transport.NIGHT_BUS


async def test_language_can_be_changed_any_time(harness: BotHarness, event) -> None:
    chloe = harness.user(first_name="Chloé", language_code="fr")
    await sign_up(harness, chloe, event.attendee_code, language="fr")
    reply = await harness.say(chloe, "/language")
    assert "Choisis ta langue" in reply.text
    reply = await harness.tap(chloe, "English")
    assert reply.text == "I will speak English with you."
    reply = await harness.say(chloe, "/me")
    assert "Language: English" in reply.text


async def test_a_second_copy_of_her_question_works_like_the_first(harness: BotHarness, event):
    """A process that dies just after sending a message sends it again on restart (the
    outbox cannot know the first copy arrived): she may tap either copy."""
    marie = harness.user(first_name="Marie", language_code="en")
    await reach_destination_step(harness, marie, event)
    await harness.say(marie, "Pantin")
    await harness.tap(marie, data("su:tr:transit"))
    await harness.tap(marie, data("su:wave:*"))
    first = marie.last_message()
    assert "Please check and confirm" in first.text
    prompt = await OutboxMessage.get(chat_id=marie.id, telegram_message_id=first.message_id)
    copy = await outbox.enqueue(marie.id, payload=prompt.payload)
    await harness.drain()
    second = marie.last_message()
    assert second.message_id != first.message_id and second.text == first.text
    # The outbox kept the second copy's id, as after a resend.
    await OutboxMessage.filter(id=prompt.id).update(
        telegram_message_id=(await OutboxMessage.get(id=copy.id)).telegram_message_id
    )

    reply = await harness.tap(marie, data("su:sum:confirm"), message=first)
    assert "You're signed up" in reply.text
    registration = await Registration.get(person__telegram_id=marie.id)
    assert registration.status == RegistrationStatus.CONFIRMED
