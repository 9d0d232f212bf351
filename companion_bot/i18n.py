"""Translations: gettext catalogues in `locales/`, compiled in memory at start-up.

Message ids are the English text. Every user-facing string goes through `Translator.gettext`
(spelled `_` at call sites so `pybabel extract` finds it); `N_` marks strings that are
translated later, when the language is known. A count takes the plural form its number needs
in each language (`ngettext`; `N_plural` marks such a message to translate later, and
`Translator.plural` shows it). Never `gettext.install()`: each person gets her own language.
"""

from __future__ import annotations

import gettext
import html
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
LANGUAGES = ("fr", "en", "nl")
LANGUAGE_NAMES = {"fr": "Français", "en": "English", "nl": "Nederlands"}
# A regular expression alternative matching any supported language code, for button data.
LANGUAGE_CODES = "|".join(LANGUAGES)


def escape(text: object) -> str:
    """User-provided text (names, event names) inside our HTML-formatted messages."""
    return html.escape("" if text is None else str(text), quote=False)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with a count for extraction; `Translator.plural` shows it."""
    return singular, plural


@dataclass(frozen=True)
class Translator:
    """Gettext and locale-aware formatting for one language."""

    language: str
    catalogue: gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.catalogue.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.catalogue.ngettext(singular, plural, count)

    def plural(self, message: tuple[str, str], count: int, **values: object) -> str:
        """A message marked with `N_plural`, in the form `count` needs, with {count} (and
        `values`) filled in."""
        return self.ngettext(*message, count).format(count=count, **values)

    def time(self, moment: datetime, timezone: str) -> str:
        return format_time(moment, "HH:mm", tzinfo=ZoneInfo(timezone), locale=self.language)

    def date(self, moment: datetime, timezone: str) -> str:
        local = moment.astimezone(ZoneInfo(timezone))
        return format_date(local, "EEEE d MMMM", locale=self.language)

    def datetime(self, moment: datetime, timezone: str) -> str:
        return format_datetime(
            moment, "EEEE d MMMM, HH:mm", tzinfo=ZoneInfo(timezone), locale=self.language
        )


def compile_catalogue(po_path: Path) -> gettext.GNUTranslations:
    """Compile a .po file in memory: no stale .mo files, no build step to forget."""
    with po_path.open("rb") as handle:
        catalogue = read_po(handle, locale=po_path.parent.parent.name)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def translator(language: str) -> Translator:
    if language not in LANGUAGES:
        language = LANGUAGES[0]
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    return Translator(language, compile_catalogue(po_path))


def load_all() -> None:
    """Compile every catalogue now, so a broken one stops start-up rather than a handler."""
    for language in LANGUAGES:
        translator(language)


def normalise_language(code: str | None) -> str | None:
    """Map a Telegram `language_code` ("fr", "en-GB", "pt-br"…) to a supported language."""
    if not code:
        return None
    try:
        language = Locale.parse(code.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        language = code.split("-", 1)[0].split("_", 1)[0].lower()
    return language if language in LANGUAGES else None


# What people type instead of tapping a language, in the three languages (without accents).
LANGUAGE_ALIASES = {
    "francais": "fr", "french": "fr", "frans": "fr",
    "anglais": "en", "engels": "en",
    "dutch": "nl", "flemish": "nl", "vlaams": "nl", "neerlandais": "nl", "flamand": "nl",
}  # fmt: skip


def without_accents(text: str) -> str:
    """Lowercase, accents dropped, spaces collapsed: how typed words are compared."""
    text = unicodedata.normalize("NFKD", text.strip().casefold())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def typed_language(text: str) -> str | None:
    """The language she named in words ("Français", "neerlandais", "en"), if one we speak."""
    typed = without_accents(text)
    names = {without_accents(name): code for code, name in LANGUAGE_NAMES.items()}
    return names.get(typed) or LANGUAGE_ALIASES.get(typed) or normalise_language(typed)


def pick_language(saved: str | None, telegram_code: str | None, default: str) -> str:
    """Her saved choice, then her Telegram language, then the bot's default."""
    for candidate in (saved, normalise_language(telegram_code), default):
        if candidate in LANGUAGES:
            return candidate
    return LANGUAGES[0]


def translations_of(message: str, languages: Iterable[str] = LANGUAGES) -> set[str]:
    """Every translation of a message, to recognise a reply-keyboard button's text."""
    return {translator(language).gettext(message) for language in languages}
