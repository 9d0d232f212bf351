"""What organizers write, in the attendee's language, end to end: an event written in French
and English reaches an English attendee in English and a French one in French, from the
charter to the departure reminder; organizers write it that way in /newevent and /zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from companion_bot.models import DepartureWave, Event, MeetingPoint, Zone
from companion_bot.services import texts
from companion_bot.services.events import clean_name, create_event
from companion_bot.services.texts import Versions
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_organizer import in_ten_days
from tests.support import ADMIN_ID, BotHarness, data, event_spec, texts_after


def versions(text: str) -> Versions:
    return texts.parse(text, "fr", clean_name)


def bilingual_spec():
    return event_spec(
        datetime.now(UTC) + timedelta(days=1),
        name=versions("Nuit des compagnonnes | en: Companions' night"),
        venue_name=versions("La Gare | en: The Station"),
        charter=versions(
            "Charte : on prend soin les unes des autres. | en: Charter: we look after each other."
        ),
        meeting_points=[
            versions("Entrée principale | en: Main entrance"),
            versions("Porte arrière | en: Back door"),
        ],
        zones=[(versions("Navette retour | en: Shuttle back"), 48.8850, 2.3950)],
    )


async def sign_up_to_the_shuttle(
    harness: BotHarness, person, language: str, event: Event, typed: str
) -> list[str]:
    """Her sign-up, typing the shuttle's name in `typed`; what the bot said on the way."""
    before = len(person.messages())
    await harness.say(person, f"/start {event.attendee_code}")
    await harness.tap(person, data(f"su:lang:{language}"))
    await harness.tap(person, data("su:charter:yes"))
    await harness.tap(person, data("su:name:default"))
    await harness.tap(person, data("su:arr:slot:*"))
    await harness.say(person, typed)
    await harness.tap(person, data("su:tr:transit"))
    await harness.tap(person, data("su:wave:*"))
    await harness.tap(person, data("su:sum:confirm"))
    return texts_after(person, before)


async def test_each_attendee_reads_the_organizers_texts_in_her_language(
    harness: BotHarness,
) -> None:
    event = await create_event(bilingual_spec())
    maya = harness.user(first_name="Maya", language_code="en")
    lea = harness.user(first_name="Léa", language_code="fr")

    said = "\n".join(await sign_up_to_the_shuttle(harness, maya, "en", event, "Navette retour"))
    for english in (
        "Welcome to Companions' night!",
        "Charter: we look after each other.",
        "When do you plan to arrive at The Station?",
        "The organizers' zones: Shuttle back.",
        "📍 Shuttle back",  # typed in French, found, shown in English
        "03:00 — Main entrance",
        "Arrival: 23:00 – 00:00 (Main entrance)",
        "Destination: Shuttle back",
        "Companions' night — The Station",
        "You're signed up for Companions' night!",
    ):
        assert english in said, english
    for french in ("Nuit des compagnonnes", "on prend soin", "La Gare", "Entrée", "Navette"):
        assert french not in said.replace("Navette retour", "", 1), french

    said = "\n".join(await sign_up_to_the_shuttle(harness, lea, "fr", event, "shuttle back"))
    for french in (
        "Nuit des compagnonnes",
        "Charte : on prend soin les unes des autres.",
        "La Gare",
        "Navette retour",
        "03:00 — Entrée principale",
        "Destination : Navette retour",
    ):
        assert french in said, french
    assert "Main entrance" not in said and "Shuttle" not in said.replace("shuttle back", "", 1)

    # Their groups are introduced, and their departure recalled, in each one's language.
    await harness.travel_to(ALL_ANNOUNCED(event))
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(wave.departs_at - timedelta(minutes=15))
    english = [text for text in texts_after(maya, 0) if "Léa" in text or "03:00" in text]
    assert any(t.startswith("👋 Your arrival group for Companions' night") for t in english)
    assert any("Main entrance" in t and "Your departure group" in t for t in english), english
    assert any("Your departure leaves at 03:00 from Main entrance" in t for t in english), english
    french = "\n".join(texts_after(lea, 0))
    assert "Ton groupe de départ pour Nuit des compagnonnes" in french
    assert "Entrée principale" in french and "Main entrance" not in french


async def test_organizers_write_their_texts_in_several_languages(harness: BotHarness) -> None:
    alex = harness.user(user_id=ADMIN_ID, first_name="Alex", language_code="fr")
    reply = await harness.say(alex, "/newevent")
    assert "Plusieurs langues ?" in reply.text and "Nuit des compagnonnes | en:" in reply.text
    before = len(alex.messages())
    await harness.say(alex, "Nuit du Kilowatt | Kilowatt night")
    assert "Après « | », commence chaque version par sa langue" in texts_after(alex, before)[0]
    await harness.say(alex, "Nuit du Kilowatt | en: Kilowatt night")
    await harness.say(alex, "Le Kilowatt")
    await harness.say(alex, "Ixelles")
    await harness.tap(alex, data("ne:default:timezone"))
    await harness.say(alex, f"{in_ten_days()} 22:00")
    await harness.say(alex, "05:00")
    before = len(alex.messages())
    await harness.say(alex, "Entrée | fr: Porte")
    assert "Deux versions sont dans la même langue (fr)" in texts_after(alex, before)[0]
    await harness.say(alex, "Entrée | en: Entrance\nBar")
    await harness.tap(alex, data("ne:default:slots"))
    await harness.say(alex, "02:00, 05:00 @ Entrance")  # a point named in any of its languages
    await harness.tap(alex, data("ne:default:sizes"))
    reply = await harness.tap(alex, data("ne:default:charter"))
    reply = await harness.tap(alex, data("ne:default:safe"))
    reply = await harness.tap(alex, data("ne:default:retention"))
    for line in (
        "fr: Nuit du Kilowatt | en: Kilowatt night — Le Kilowatt",
        "Points de rendez-vous : fr: Entrée | en: Entrance, Bar",
        "Départs : 02:00 (Entrée), 05:00 (Entrée)",
        "Je traite mes compagnonnes de route avec respect",
        "I treat my companions with respect",  # the standard charter: in every language
    ):
        assert line in reply.text, reply.text
    await harness.tap(alex, data("ne:create"))
    event = await Event.get(name="Nuit du Kilowatt")
    assert event.localized("name", "en") == "Kilowatt night"
    assert "I treat my companions" in event.localized("charter", "en")
    assert "Je traite mes compagnonnes" in event.charter
    points = await MeetingPoint.filter(event=event).order_by("position")
    assert [p.localized("name", "en") for p in points] == ["Entrance", "Bar"]

    # A zone, in two languages, from /zones.
    await harness.say(alex, "/zones")
    await harness.tap(alex, data("zn:add:*"))
    reply = await harness.say(alex, "Arrêt du car | en: Coach stop")
    assert "Où est « Arrêt du car » ?" in reply.text
    reply = await harness.say(alex, "48.8300, 4.3700")
    assert "✅ Zone « Arrêt du car » ajoutée" in texts_after(alex, len(alex.messages()) - 2)[0]
    assert "• fr: Arrêt du car | en: Coach stop" in reply.text
    zone = await Zone.get(event=event)
    assert (zone.name, zone.localized("name", "en")) == ("Arrêt du car", "Coach stop")
