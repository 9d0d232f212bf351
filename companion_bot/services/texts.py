"""Texts organizers write — the event's name, venue and charter, meeting points, zones — in
one language or in several, so that each attendee reads them in hers.

The organizer types the versions one after the other, separated by "|", each after its
language code and a colon:

    Entrée principale | en: Main entrance

The first version may go without its code: it is in the language she uses with the bot
(`--language` for `companion-bot event create`). Any language of `i18n.LANGUAGES` is accepted,
so a language added to the bot is one organizers can write in at once. Each version is checked
like a single text would be (not empty, not too long).

Who reads a text gets the version in her language, else the first one (`models.Translated`,
which also says how versions are stored: the first in the text's own column, all of them
under the row's `translations`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from companion_bot.i18n import LANGUAGES, N_, translator
from companion_bot.models import Event, MeetingPoint, Translated
from companion_bot.services.errors import UserInputError

SEPARATOR = "|"
# "en:" at the start of a version (only the bot's languages: "Info: bar" is a plain text).
_CODE = re.compile(r"\s*([A-Za-z]{2,3})\s*:\s*")

NO_CODE = N_(
    "After “|”, start each version with its language, one of {codes}: like "
    "“Main entrance | fr: Entrée principale”."
)
SAME_LANGUAGE = N_("Two versions are in the same language ({code}): keep one.")


@dataclass(frozen=True)
class Versions:
    """One text in one or more languages, as (language, text) pairs; the first is the one
    whoever has no version of her own reads. A language may be "" (not known): a single
    version needs none."""

    items: tuple[tuple[str, str], ...]

    @classmethod
    def single(cls, text: str) -> Versions:
        return cls((("", text),))

    @classmethod
    def of(cls, value: Versions | str) -> Versions:
        """A plain string is one version (what scripts and tests give)."""
        return value if isinstance(value, Versions) else cls.single(value)

    @classmethod
    def every_language(cls, message: str, first: str) -> Versions:
        """One of our own texts (marked with N_), in every language of the bot, `first`
        first: the standard charter, the default meeting point."""
        order = [first, *(language for language in LANGUAGES if language != first)]
        return cls(tuple((language, translator(language).gettext(message)) for language in order))

    @property
    def first(self) -> str:
        return self.items[0][1]

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(text for _language, text in self.items)

    def in_language(self, language: str) -> str:
        return dict(self.items).get(language) or self.first

    def stored(self) -> dict[str, str] | None:
        """What goes under `translations` for this field: nothing for a single version."""
        if len(self.items) < 2:
            return None
        return dict(self.items)

    def written(self) -> str:
        """As an organizer would type it: `Entrée principale | en: Main entrance`."""
        if len(self.items) == 1:
            return self.first
        return f" {SEPARATOR} ".join(f"{language}: {text}" for language, text in self.items)

    def to_json(self) -> list[list[str]]:
        """For a draft kept between two steps (a list keeps the order; JSON objects may not)."""
        return [[language, text] for language, text in self.items]

    @classmethod
    def from_json(cls, value: list | str) -> Versions:
        """Back from `to_json`; a plain string is what drafts held before versions existed."""
        if isinstance(value, str):
            return cls.single(value)
        return cls(tuple((str(language), str(text)) for language, text in value))


def parse(text: str | None, language: str, clean: Callable[[str], str]) -> Versions:
    """What an organizer typed → its versions, each checked by `clean` (which raises
    UserInputError and returns the text to keep). `language`: hers, for a first version
    written without its code."""
    items: list[tuple[str, str]] = []
    for position, part in enumerate((text or "").split(SEPARATOR)):
        if not part.strip() and position:
            continue  # "Le Hangar |": nothing after the bar
        code, body = _code_of(part)
        if code is None:
            if position:
                raise UserInputError(NO_CODE, codes=", ".join(LANGUAGES))
            code, body = language, part
        if code in (known for known, _text in items):
            raise UserInputError(SAME_LANGUAGE, code=code)
        items.append((code, clean(body)))
    return Versions(tuple(items))


def _code_of(part: str) -> tuple[str | None, str]:
    match = _CODE.match(part)
    if match is None or match.group(1).lower() not in LANGUAGES:
        return None, part
    return match.group(1).lower(), part[match.end() :]


def stored(**fields: Versions) -> dict[str, dict[str, str]] | None:
    """A row's `translations` from its texts' versions; None when each has only one."""
    found = {field: versions.stored() for field, versions in fields.items()}
    return {field: value for field, value in found.items() if value} or None


def all_texts(row: Translated, field: str) -> list[str]:
    """Every version of a stored text, the first one first: to find a meeting point or a
    zone by any of its names."""
    texts = [getattr(row, field)]
    for text in ((row.translations or {}).get(field) or {}).values():
        if text not in texts:
            texts.append(text)
    return texts


def meeting_place(point: MeetingPoint | None, event: Event, language: str) -> str:
    """Where people meet, in `language`: the named meeting point, else the venue itself."""
    if point is not None:
        return point.localized("name", language)
    return event.localized("venue_name", language)


def versions_of(row: Translated, field: str) -> Versions:
    """A stored text as versions again, its first version first."""
    first = getattr(row, field)
    others = dict((row.translations or {}).get(field) or {})
    code = next((code for code, text in others.items() if text == first), "")
    others.pop(code, None)
    return Versions(((code, first), *others.items()))
