"""Every user-facing message exists, translated, in every language (French, English, Dutch)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest

from companion_bot.i18n import (
    LANGUAGES,
    compile_catalogue,
    normalise_language,
    pick_language,
    typed_language,
)

ROOT = Path(__file__).resolve().parent.parent


def i18n_script():
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_catalogues_are_complete_and_consistent():
    """Extracted from the code now: a new string without its translations fails here."""
    assert i18n_script().problems() == []


def test_extraction_finds_the_messages():
    template = i18n_script().extract()
    ids = {message.id for message in template if message.id}
    assert len(ids) > 100
    assert "This button is no longer active." in ids


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_compiles(language):
    catalogue = compile_catalogue(ROOT / "locales" / language / "LC_MESSAGES" / "messages.po")
    assert catalogue.gettext("This button is no longer active.")


def test_french_is_really_french():
    from companion_bot.i18n import translator

    assert translator("fr").gettext("✅ Confirm") == "✅ Confirmer"
    assert translator("en").gettext("✅ Confirm") == "✅ Confirm"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("fr", "fr"), ("fr-CA", "fr"), ("en-GB", "en"), ("pt-br", None), ("", None), (None, None),
     ("zz-invalid-!!", None), ("nl", "nl"), ("nl-BE", "nl"), ("nl_NL", "nl"), ("NL-be", "nl")],
)  # fmt: skip
def test_telegram_language_codes(code, expected):
    assert normalise_language(code) == expected


def test_language_choice_order():
    assert pick_language("en", "fr", "fr") == "en"
    assert pick_language(None, "en-US", "fr") == "en"
    assert pick_language(None, "de", "en") == "en"
    assert pick_language("xx", None, "fr") == "fr"
    assert pick_language(None, "nl-BE", "fr") == "nl"
    assert pick_language(None, "de", "nl") == "nl"


def test_dutch_is_really_dutch_with_its_plural_forms():
    from companion_bot.i18n import translator

    dutch = translator("nl")
    assert dutch.gettext("✅ Confirm") == "✅ Bevestigen"
    assert dutch.ngettext("{count} person", "{count} people", 1) == "{count} persoon"
    assert dutch.ngettext("{count} person", "{count} people", 0) == "{count} mensen"
    assert dutch.ngettext("{count} person", "{count} people", 2) == "{count} mensen"
    assert dutch.date(datetime(2026, 12, 5, 22, 0, tzinfo=UTC), "Europe/Brussels") == (
        "zaterdag 5 december"
    )


@pytest.mark.parametrize(
    ("typed", "language"),
    [("Français", "fr"), ("  FRANCAIS ", "fr"), ("néerlandais", "nl"), ("Vlaams", "nl"),
     ("English", "en"), ("engels", "en"), ("nl", "nl"), ("en-GB", "en"), ("Deutsch", None),
     ("", None), ("🇫🇷", None)],
)  # fmt: skip
def test_a_language_typed_in_words(typed: str, language: str | None) -> None:
    assert typed_language(typed) == language
