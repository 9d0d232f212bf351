"""Dutch, the third language (Brussels is bilingual): picked from her Telegram language,
chosen in the sign-up's language question or with /language, and as the bot's default; end
to end through the bot's real HTTP stack against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from companion_bot.i18n import translator
from companion_bot.models import Person, Registration, RegistrationStatus, Transport
from companion_bot.services import messaging
from companion_bot.services.events import create_event
from companion_bot.settings import SettingsError, load_settings
from tests.support import BotHarness, data, event_spec, sign_up, texts_after

LANGUAGE_BUTTONS = ["Français", "English", "Nederlands"]


@pytest_asyncio.fixture
async def brussels_night(db: str):
    """A night in Brussels tomorrow, its meeting points named in Dutch."""
    spec = event_spec(
        datetime.now(UTC) + timedelta(days=1),
        name="Nacht van de Reisgenoten",
        venue_name="De Loods",
        venue_lat=50.8467,
        venue_lon=4.3499,
        timezone="Europe/Brussels",
        meeting_points=["Hoofdingang", "Achterdeur"],
    )
    return await create_event(spec, None)


@pytest.fixture
def default_language_restored() -> Iterator[None]:
    yield
    messaging.configure("fr")


@pytest.mark.parametrize("telegram_language", ["nl", "nl-BE"])
async def test_a_dutch_speaker_signs_up_in_dutch(
    harness: BotHarness, brussels_night, telegram_language
) -> None:
    lotte = harness.user(first_name="Lotte", language_code=telegram_language)

    reply = await harness.say(lotte, f"/start {brussels_night.attendee_code}")
    assert reply.text.startswith("Welke taal heb je het liefst?")
    assert [b.text for b in lotte.inline_buttons()] == ["Français", "English", "✓ Nederlands"]

    reply = await harness.tap(lotte, "✓ Nederlands")
    assert "Welkom bij Nacht van de Reisgenoten!" in reply.text
    reply = await harness.tap(lotte, "✅ Akkoord")
    assert "Welke naam mogen je reisgenoten zien?" in reply.text
    reply = await harness.tap(lotte, "“Lotte” gebruiken")
    assert "Wanneer denk je aan te komen bij De Loods?" in reply.text
    assert [b.text for b in lotte.inline_buttons()][2:] == [
        "Ik ben er al",
        "Ik kom op eigen houtje",
    ]
    reply = await harness.tap(lotte, "23:00 – 00:00")
    assert "Waar ga je naartoe na het evenement?" in reply.text

    before = len(lotte.messages())
    reply = await harness.say(lotte, "Elsene")
    # Elsene is Ixelles: the gazetteer knows Brussels communes by both names (it shows the
    # French one).
    assert texts_after(lotte, before)[0] == "📍 Ixelles"
    assert "Hoe ga je naar huis?" in reply.text
    reply = await harness.tap(lotte, "🚲 Fiets")
    assert "Hoe laat wil je vertrekken?" in reply.text
    reply = await harness.tap(lotte, "06:00 — Achterdeur")
    assert "Kijk alles na en bevestig:" in reply.text
    for line in (
        "Taal: Nederlands",
        "Naam: Lotte",
        "Aankomst: 23:00 – 00:00 (Hoofdingang)",
        "Vervoer: 🚲 Fiets",
        "Vertrek: 06:00 — Achterdeur",
    ):
        assert line in reply.text, reply.text
    assert "Bestemming: Ixelles" in reply.text
    # The date in Dutch ("zaterdag 5 december, 23:00").
    assert translator("nl").datetime(brussels_night.doors_open, "Europe/Brussels") in reply.text

    reply = await harness.tap(lotte, "✅ Bevestigen")
    assert "Je bent ingeschreven voor Nacht van de Reisgenoten!" in reply.text
    registration = await Registration.get(person__telegram_id=lotte.id).prefetch_related("person")
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.person.language == "nl"
    assert registration.transport == Transport.BIKE
    assert registration.destination_place_id == "be-ixelles"

    # The night comes: what the bot tells her on its own is in Dutch too, and the help
    # button under her chat is in Dutch, and works.
    before = len(lotte.messages())
    await harness.travel_to(brussels_night.doors_open)
    night = texts_after(lotte, before)
    assert any(text.startswith("🌙 Nacht van de Reisgenoten is vanavond.") for text in night)
    assert any(
        text.startswith("🚪 We hebben geen aankomstgroep voor je gevonden") for text in night
    )
    reply = await harness.say(lotte, "🆘 Ik heb hulp nodig")
    assert reply.text == "Wat is er aan de hand? De vrijwilligers van dienst komen naar je toe."


@pytest.mark.parametrize("answer", ["tap", "Nederlands", "vlaams", "néerlandais", "nl-BE"])
async def test_choosing_dutch_in_the_language_question(harness: BotHarness, event, answer) -> None:
    """A French-speaking Telegram, but she prefers Dutch: a tap, or typed in any language."""
    jana = harness.user(first_name="Jana", language_code="fr")
    await harness.say(jana, f"/start {event.attendee_code}")
    assert [b.text for b in jana.inline_buttons()] == ["✓ Français", "English", "Nederlands"]

    if answer == "tap":
        reply = await harness.tap(jana, "Nederlands")
    else:
        reply = await harness.say(jana, answer)
    assert "Welkom bij Nuit Compagnonnes!" in reply.text
    assert [b.text for b in reply.inline_buttons()] == ["✅ Akkoord", "Ik ga niet akkoord"]
    assert (await Person.get(telegram_id=jana.id)).language == "nl"


async def test_language_command_offers_dutch(harness: BotHarness, event) -> None:
    chloe = harness.user(first_name="Chloé", language_code="fr")
    await sign_up(harness, chloe, event.attendee_code, language="fr")

    reply = await harness.say(chloe, "/language")
    assert [b.text for b in reply.inline_buttons()] == LANGUAGE_BUTTONS
    reply = await harness.tap(chloe, "Nederlands")
    assert reply.text == "Ik spreek voortaan Nederlands met je."
    reply = await harness.say(chloe, "/me")
    assert "Taal: Nederlands" in reply.text and "Bestemming: Oberkampf" in reply.text
    assert (await Person.get(telegram_id=chloe.id)).language == "nl"

    reply = await harness.say(chloe, "/language")
    reply = await harness.tap(chloe, "Français")
    assert reply.text == "Je te parlerai en français."


async def test_dutch_command_menu_is_published(harness: BotHarness) -> None:
    private_chats = json.dumps({"type": "all_private_chats"})
    menu = harness.emulator.default_bot.commands[(private_chats, "nl")]
    dutch = {command["command"]: command["description"] for command in menu}
    assert dutch["language"] == "Taal wijzigen"
    assert dutch["help"] == "Vraag de vrijwilligers om hulp"


def test_default_language_accepts_dutch() -> None:
    settings = load_settings(DEFAULT_LANGUAGE=" NL ", _env_file=None)
    assert settings.DEFAULT_LANGUAGE == "nl"
    with pytest.raises(SettingsError, match="DEFAULT_LANGUAGE") as error:
        load_settings(DEFAULT_LANGUAGE="de", _env_file=None)
    assert "nl" in str(error.value)


async def test_dutch_as_the_default_language(
    harness: BotHarness, event, default_language_restored
) -> None:
    """DEFAULT_LANGUAGE=nl: someone whose Telegram language the bot does not speak (or who
    has none) is spoken to in Dutch, and so are messages to people who never chose."""
    harness.settings = harness.settings.model_copy(update={"DEFAULT_LANGUAGE": "nl"})
    await harness.restart()

    for code in ("de", None):
        hanna = harness.user(first_name="Hanna", language_code=code)
        reply = await harness.say(hanna, f"/start {event.attendee_code}")
        assert reply.text.startswith("Welke taal heb je het liefst?")
        assert "✓ Nederlands" in [b.text for b in hanna.inline_buttons()]
    assert messaging.default_language() == "nl"

    # Her own Telegram language still comes first.
    maya = harness.user(first_name="Maya", language_code="en")
    reply = await harness.say(maya, f"/start {event.attendee_code}")
    assert reply.text.startswith("Which language do you prefer?")
    await harness.tap(maya, data("su:lang:en"))
