"""The duress answer: a safe word chosen at sign-up (common words refused), written as the
answer to "are you home?", looks normal on her screen but alerts the volunteers and the
organizers; never stored in clear, never relayed; a decoy without a safe word does nothing."""

from __future__ import annotations

from datetime import timedelta

from companion_bot import notices
from companion_bot.models import DepartureWave, OutboxMessage, Person, Registration
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import EAST, received, volunteer_on_duty
from tests.support import BotHarness, data

SAFE_WORD = "Pistache violette"


async def sign_up_offered(
    harness: BotHarness, person, code: str, destination: str, language: str = "en"
) -> None:
    """The sign-up of tests.support, stopping at the safe word offer."""
    await harness.say(person, f"/start {code}")
    await harness.tap(person, data(f"su:lang:{language}"))
    await harness.tap(person, data("su:charter:yes"))
    await harness.tap(person, data("su:name:default"))
    await harness.tap(person, data("su:arr:slot:*"))
    await harness.say(person, destination)
    await harness.tap(person, data("su:tr:transit"))
    await harness.tap(person, data("su:wave:*"))
    await harness.tap(person, data("su:sum:confirm"))


async def test_the_safe_word_raises_the_alarm_and_looks_normal(harness: BotHarness, event):
    orga = harness.user(first_name="Orla", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    vic = await volunteer_on_duty(harness, event)
    ada = harness.user(first_name="Ada", language_code="fr")
    await sign_up_offered(harness, ada, event.attendee_code, EAST[0], "fr")
    # Explained in her language, at the end of her sign-up's confirmation.
    confirmation = ada.last_message().text
    assert "\n\n🔐 Facultatif : un mot de sécurité." in confirmation
    assert confirmation.endswith("/safeword pour en choisir un.")
    reply = await harness.say(ada, "/safeword")
    assert reply.text.endswith(
        "Écris ton mot de sécurité : un ou quelques mots que personne ne devinerait et dont tu te "
        "souviendras. /cancel pour arrêter."
    )
    for common in ("OK", "oui", "Home", "Ja", "non !", "chez moi"):
        reply = await harness.say(ada, common)
        assert "trop courant" in reply.text, (common, reply.text)
    reply = await harness.say(ada, "ab")
    assert "de 3 à 40 lettres ou chiffres" in reply.text
    reply = await harness.say(ada, SAFE_WORD)
    assert reply.text.startswith("🔐 Ton mot de sécurité est enregistré.")
    reply = await harness.say(ada, "/mydata")
    assert "Un mot de sécurité, gardé brouillé : personne ne peut le lire" in reply.text
    assert "pistache" not in reply.text.lower()
    stored = (await Person.get(telegram_id=ada.id)).safe_word_hash
    assert stored and "pistache" not in stored.lower() and stored.startswith("pbkdf2_sha256$")

    bea = harness.user(first_name="Bea", language_code="en")
    await sign_up_offered(harness, bea, event.attendee_code, EAST[1])
    await harness.travel_to(ALL_ANNOUNCED(event))
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(wave.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "🚪 Je suis déjà partie")
    await harness.drain()
    registration = await Registration.get(person__telegram_id=ada.id)
    await harness.travel_to(registration.left_at + timedelta(minutes=60, seconds=1))
    assert any(t.startswith("Le retour s'est bien passé ?") for t in received(ada))

    # Written in another case, with an accent-free spelling: still her word.
    reply = await harness.say(ada, "  pistache VIOLETTE ")
    assert reply.text == "🏠 Ouf, te voilà chez toi ! Ton groupe est au courant. Dors bien."
    await harness.drain()
    for person in (vic, orga):
        alert = [t for t in received(person) if t.startswith("🚨 Ada may be in danger.")]
        assert alert, received(person)
        assert "pistache" not in alert[0].lower()
    # Nobody else sees the word: not her group, not anyone's messages in the outbox.
    assert not any("pistache" in t.lower() for t in received(bea))
    for row in await OutboxMessage.all():
        assert "pistache" not in str(row.payload).lower()
    registration = await Registration.get(id=registration.id)
    assert registration.duress_at is not None and registration.home_at is None
    # The stages are over: nobody is asked again about her.
    await harness.travel_to(registration.left_at + timedelta(minutes=200))
    assert not any("Has anyone heard from Ada" in t for t in received(bea))
    assert sum(t.startswith("🚨 Ada may be in danger.") for t in received(vic)) == 1


async def test_a_decoy_without_a_safe_word_does_nothing_special(harness: BotHarness, event):
    vic = await volunteer_on_duty(harness, event)
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up_offered(harness, ada, event.attendee_code, EAST[0])  # no safe word chosen
    bea = harness.user(first_name="Bea", language_code="en")
    await sign_up_offered(harness, bea, event.attendee_code, EAST[1])
    await harness.travel_to(ALL_ANNOUNCED(event))
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(wave.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "🚪 I've already left")
    registration = await Registration.get(person__telegram_id=ada.id)
    await harness.travel_to(registration.left_at + timedelta(minutes=60, seconds=1))
    await harness.say(ada, SAFE_WORD)  # somebody else's word, or anything: just a message
    await harness.drain()
    assert not any("may be in danger" in t for t in received(vic))
    assert (await Registration.get(id=registration.id)).duress_at is None
    assert not any("Glad you are home" in t for t in received(ada))


async def test_safeword_changes_and_removes_it(harness: BotHarness, event):
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up_offered(harness, ada, event.attendee_code, EAST[0])
    await harness.say(ada, "/safeword")
    reply = await harness.say(ada, "/cancel")
    assert (await Person.get(telegram_id=ada.id)).safe_word_hash is None
    await harness.say(ada, "/safeword")
    await harness.say(ada, SAFE_WORD)
    first = (await Person.get(telegram_id=ada.id)).safe_word_hash
    reply = await harness.say(ada, "/safeword")
    assert reply.text == "You have a safe word. Change it or remove it?"
    await harness.tap(ada, "Change it")
    reply = await harness.say(ada, "yes")
    assert "too common" in reply.text
    await harness.say(ada, "Another secret")
    assert (await Person.get(telegram_id=ada.id)).safe_word_hash not in (None, first)
    await harness.say(ada, "/safeword")
    reply = await harness.tap(ada, "Remove it")
    assert reply.text == "Your safe word is removed."
    assert (await Person.get(telegram_id=ada.id)).safe_word_hash is None


async def test_after_her_safe_word_the_team_follows_her_live_location(harness: BotHarness, event):
    from companion_bot.models import RelayedMessage
    from companion_bot.services import relay

    vic = await volunteer_on_duty(harness, event)
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up_offered(harness, ada, event.attendee_code, EAST[0])
    await harness.say(ada, "/safeword")
    await harness.say(ada, SAFE_WORD)
    bea = harness.user(first_name="Bea", language_code="en")
    await sign_up_offered(harness, bea, event.attendee_code, EAST[1])
    await harness.travel_to(ALL_ANNOUNCED(event))
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(wave.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "🚪 I've already left")
    await ada.send_location(48.86, 2.40, live_period=3600)  # to her group
    await harness.drain()
    # Moving before any alert: only her group follows.
    await ada.edit_message(location=(48.861, 2.405))
    await harness.drain()
    assert not any(m.location for m in vic.messages())

    registration = await Registration.get(person__telegram_id=ada.id)
    await harness.travel_to(registration.left_at + timedelta(minutes=60, seconds=1))
    await harness.say(ada, SAFE_WORD)
    await harness.drain()
    alert = next(t for t in received(vic) if t.startswith("🚨 Ada may be in danger."))
    assert "📍 She shares her live location with her group (Bea): it follows here" in alert

    await ada.edit_message(location=(48.862, 2.41))
    await harness.drain()
    assert "📍 Live location of Ada (the safe-word alert):" in received(vic)
    (copy,) = [m for m in vic.messages() if m.location]
    assert copy.location["live_period"] >= 3600
    assert abs(copy.location["longitude"] - 2.41) < 1e-6
    await ada.edit_message(location=(48.863, 2.42))
    await harness.drain()
    (copy,) = [m for m in vic.messages() if m.location]  # moved, not sent again
    assert abs(copy.location["longitude"] - 2.42) < 1e-6
    # No point is kept once sent; when she stops sharing, the team's copy stops too.
    for row in await OutboxMessage.filter(
        chat_id=vic.id, method__in=[notices.LOCATION, notices.MOVE_LOCATION]
    ):
        assert "latitude" not in (row.payload or {})
    await relay.stop_live_locations(ada.id)
    await harness.drain()
    assert copy.live_location_stopped
    assert not await RelayedMessage.filter(kind=relay.TEAM_LIVE_KIND).exists()
