"""French that reads as French around the names people choose, and counts in their plural
forms, in every catalogue.

A name someone chose (an event, a venue, a meeting point, a zone, a display name) can start
with an article or a vowel: "Le Hangar", "Les Halles", "Alix", "Ixelles". No French message
may put « à », « de » (or « du », « au », « aux », « des », « d' ») straight before one:
"arriver à Le Hangar", "Pas de nouvelles de Alix". Every French message with placeholders is
formatted with such names and read back."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from companion_bot.i18n import LANGUAGES, translator
from tests.test_i18n import i18n_script

ROOT = Path(__file__).resolve().parent.parent
NAMES = ("Le Hangar", "Les Halles", "La Station", "L'Usine", "Alix", "Ixelles", "Entrée")
# Placeholders that hold numbers, times or dates, never a name: « à 03:00 » is right.
NOT_NAMES = {
    "count", "minutes", "limit", "days", "max_days", "km", "share", "number", "minimum", "low",
    "high", "maximum", "time", "start", "end", "old", "when", "date", "doors", "lat", "lon",
    "id", "code", "url", "link",
}  # fmt: skip
BEFORE_A_NAME = re.compile(
    r"(?:^|[\s(’'])(?P<word>à|a|de|du|au|aux|des|d[’'])\s*(?:<[^>]+>\s*)*$", re.IGNORECASE
)


def catalogue(language: str):
    with (ROOT / "locales" / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def fields(text: str) -> list[tuple[str, str]]:
    return [(name, spec) for _, name, spec, _ in string.Formatter().parse(text) if name]


def french_messages() -> list[tuple[str, str]]:
    """(msgid, French text) of every French message with placeholders, each plural form."""
    found = []
    for message in catalogue("fr"):
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [(msgid, form) for form in forms if fields(form)]
    return found


def filled(text: str, name: str) -> tuple[str, list[int]]:
    """`text` with `name` in every name placeholder (numbers elsewhere), and where each
    copy of the name starts."""
    values, spans, out, position = {}, [], [], 0
    for literal, field, spec, _conversion in string.Formatter().parse(text):
        out.append(literal)
        position += len(literal)
        if field is None:
            continue
        if field in NOT_NAMES or spec:
            value = format(1.5 if spec else 2, spec or "")
        else:
            value = name
            spans.append(position)
        values[field] = value
        out.append(value)
        position += len(value)
    return "".join(out), spans


def test_the_check_catches_what_users_saw() -> None:
    for wrong in (
        "Rendez-vous à <b>{point}</b>.",
        "Pas de nouvelles de {name}",
        "Arriver à {venue}",
    ):
        text, starts = filled(wrong, "Le Hangar")
        assert any(BEFORE_A_NAME.search(text[:start]) for start in starts), wrong
    for right in ("Rendez-vous : <b>{point}</b>.", "Lieu : {venue}", "Zone « {name} »"):
        text, starts = filled(right, "Le Hangar")
        assert not any(BEFORE_A_NAME.search(text[:start]) for start in starts), right


@pytest.mark.parametrize("name", NAMES)
def test_no_french_message_puts_a_or_de_before_a_chosen_name(name: str) -> None:
    wrong = []
    for msgid, text in french_messages():
        rendered, starts = filled(text, name)
        for start in starts:
            if match := BEFORE_A_NAME.search(rendered[:start]):
                wrong.append(f"{match.group('word')} {name}: {rendered!r}  (msgid {msgid!r})")
    assert wrong == [], "\n".join(wrong)


# -- counts ---------------------------------------------------------------------------------------

# Placeholders that count something: the message must have plural forms (ngettext), unless
# the number is a label's value ("Volunteers (3)") or a fixed limit (always several).
# ({home} and {left} are not here: elsewhere they hold answers, not numbers.)
COUNTS = {"count", "minutes", "days", "confirmed", "drafts", "volunteers", "organizers",
          "announced", "forming", "grown", "unplaced", "signed", "grouped", "at_point",
          "no_news", "arrival", "alerts", "sent", "blocked", "failed", "waiting",
          "kept"}  # fmt: skip
NO_PLURAL_NEEDED = {
    "All attendees ({count})",
    "Volunteers ({count})",
    "Organizers ({count})",
    "Departure {time} ({count})",
    "Messages relayed to your groups: {count}",
    "• {setting}: {minutes} min",
    "Done: {setting}: {minutes} min. Reminders and alerts still to come follow it.",
}


def test_every_count_shown_has_plural_forms() -> None:
    singular_only = []
    for message in i18n_script().extract():
        if not message.id or isinstance(message.id, tuple) or message.id in NO_PLURAL_NEEDED:
            continue
        if {name for name, _spec in fields(message.id)} & COUNTS:
            singular_only.append(message.id)
    assert singular_only == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_takes_the_singular_and_two_the_plural_in_every_catalogue(language: str) -> None:
    """The catalogue's Plural-Forms picks its forms: its first for 1, its second for 2."""
    t = translator(language)
    messages = [m for m in catalogue(language) if m.id and isinstance(m.id, tuple)]
    assert len(messages) > 20
    for message in messages:
        assert t.ngettext(*message.id, 1) == message.string[0], message.id
        assert t.ngettext(*message.id, 2) == message.string[1], message.id


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("en", 1, "1 signed up, 1 signing up, 1 volunteer, 1 organizer"),
        ("en", 2, "2 signed up, 2 signing up, 2 volunteers, 2 organizers"),
        ("fr", 1, "1 inscrit·e, 1 en cours d'inscription, 1 bénévole, 1 organisateur·ice"),
        ("fr", 2, "2 inscrit·es, 2 en cours d'inscription, 2 bénévoles, 2 organisateur·ices"),
    ],
)
def test_singular_and_plural(language: str, count: int, expected: str) -> None:
    from handlers.common import SIGNED_UP
    from handlers.organizer import ORGANIZERS, SIGNING_UP, VOLUNTEERS

    t = translator(language)
    assert ", ".join(
        t.plural(m, count) for m in (SIGNED_UP, SIGNING_UP, VOLUNTEERS, ORGANIZERS)
    ) == (expected)
