"""Texts organizers write in several languages (services/texts.py): how they are read, checked,
stored and shown, with the fallback to the first version; any language the bot speaks."""

from __future__ import annotations

import pytest

from companion_bot.models import Event, MeetingPoint, Zone
from companion_bot.services import events, texts
from companion_bot.services.errors import UserInputError
from companion_bot.services.texts import Versions


def read(text: str, language: str = "fr") -> Versions:
    return texts.parse(text, language, events.clean_name)


def test_versions_are_read_with_their_language_the_first_may_go_without() -> None:
    assert read("Entrée principale | en: Main entrance").items == (
        ("fr", "Entrée principale"),
        ("en", "Main entrance"),
    )
    assert read("en:  Main   entrance |fr:Entrée principale", "fr").items == (
        ("en", "Main entrance"),
        ("fr", "Entrée principale"),
    )
    assert read("Le Hangar").items == (("fr", "Le Hangar"),)
    assert read("Le Hangar |  ").items == (("fr", "Le Hangar"),)
    # Only the bot's languages are codes: "Info: bar" is a name, not German.
    assert read("Info: bar").items == (("fr", "Info: bar"),)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("Entrée | Main entrance", texts.NO_CODE),
        ("Entrée | de: Haupteingang", texts.NO_CODE),
        ("Entrée | fr: Porte", texts.SAME_LANGUAGE),
        ("Entrée | en:", events.EMPTY_NAME),
        ("Entrée | en: " + "x" * 121, "That is too long: {limit} characters at most."),
    ],
)
def test_bad_versions_are_explained(typed: str, message: str) -> None:
    with pytest.raises(UserInputError) as raised:
        read(typed)
    assert raised.value.message == message


def test_any_language_of_the_bot_is_accepted(monkeypatch) -> None:
    """A language added to the bot is one organizers can write in, unchanged; one the bot
    does not have is refused."""
    with pytest.raises(UserInputError):
        read("Entrée | de: Haupteingang")
    monkeypatch.setattr(texts, "LANGUAGES", ("fr", "en", "nl", "de"))
    assert read("Entrée | de: Haupteingang").in_language("de") == "Haupteingang"
    versions = read("Entrée | nl: Hoofdingang | en: Main entrance")
    assert versions.in_language("nl") == "Hoofdingang"
    assert versions.in_language("de") == "Entrée"  # no version of hers: the first


def test_our_own_defaults_come_in_every_language() -> None:
    charter = events.standard_charter("en")
    assert charter.items[0][0] == "en" and "respect and kindness" in charter.first
    assert "respect" in charter.in_language("fr") and charter.in_language("fr") != charter.first
    assert events.default_meeting_points("fr")[0].items == (
        ("fr", "Entrée principale"),
        ("en", "Main entrance"),
        ("nl", "Hoofdingang"),
    )


def test_a_draft_keeps_versions_in_order_and_reads_older_drafts() -> None:
    versions = read("Entrée principale | en: Main entrance")
    assert Versions.from_json(versions.to_json()) == versions
    assert Versions.from_json("Le Hangar").in_language("en") == "Le Hangar"
    assert versions.written() == "fr: Entrée principale | en: Main entrance"


async def test_stored_versions_and_the_fallback(db: str) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.support import event_spec

    spec = event_spec(
        datetime.now(UTC) + timedelta(days=1),
        name=read("Nuit des compagnonnes | en: Companions' night"),
        meeting_points=[read("Entrée principale | en: Main entrance"), "Porte du canal"],
        zones=[(read("Navette | en: Shuttle"), 48.9, 2.4)],
    )
    event = await events.create_event(spec)
    event = await Event.get(id=event.id)
    assert event.name == "Nuit des compagnonnes"  # the first version, in its own column
    assert event.localized("name", "en") == "Companions' night"
    assert event.localized("name", "nl") == "Nuit des compagnonnes"
    assert event.localized("venue_name", "en") == "La Station"  # one version for everyone
    assert event.translations == {
        "name": {"fr": "Nuit des compagnonnes", "en": "Companions' night"}
    }
    points = await MeetingPoint.filter(event=event).order_by("position")
    assert [point.localized("name", "en") for point in points] == [
        "Main entrance",
        "Porte du canal",
    ]
    assert points[1].translations is None
    zone = await Zone.get(event=event)
    assert texts.all_texts(zone, "name") == ["Navette", "Shuttle"]
    assert texts.versions_of(zone, "name").written() == "fr: Navette | en: Shuttle"
