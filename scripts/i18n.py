"""Keep the gettext catalogues in step with the code.

    python scripts/i18n.py update   # extract messages, merge them into locales/*/messages.po
    python scripts/i18n.py check    # fail on any message missing or untranslated
    python scripts/i18n.py translate fr new.json   # fill translations from {"msgid": "text"}
                                                    # (plurals: {"singular": ["one", "many"]})

English message ids are the English text, so new English entries start as a copy of their id
(edit them there when the wording for users should differ). The other languages' (French, Dutch)
start empty and the check fails until someone translates them.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing it, too
from companion_bot.i18n import LANGUAGES  # noqa: E402 - the bot's languages are the catalogues

LOCALES = ROOT / "locales"
SOURCE_DIRS = ("companion_bot", "handlers")
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "N_plural": (1, 2)}


def extract() -> Catalog:
    template = Catalog(project="compagnonnes-de-route", charset="utf-8")
    for folder in SOURCE_DIRS:
        method_map = [("**/emulator/**.py", "ignore"), ("**.py", "python")]
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / folder, method_map=method_map, keywords=KEYWORDS
        ):
            template.add(message, None, [(f"{folder}/{filename}", lineno)],
                         auto_comments=comments, context=context)  # fmt: skip
    return template


def po_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / "messages.po"


def read_catalogue(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, charset="utf-8")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def update() -> None:
    template = extract()
    with (LOCALES / "messages.pot").open("wb") as handle:
        write_po(handle, template, sort_output=True, width=100, include_lineno=False)
    for language in LANGUAGES:
        catalogue = read_catalogue(language)
        # A copy: Catalog.update adopts the template's new Message objects, which the English
        # pass below fills with their ids (Dutch, updated after it, would get them too).
        catalogue.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalogue.project, catalogue.version = "compagnonnes-de-route", "0.1"
        catalogue.copyright_holder = "Compagnonnes de route contributors"
        catalogue.fuzzy = False  # the header: a fuzzy header is dropped when compiling
        if language == "en":
            for message in catalogue:
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if message.id and not all(strings):
                    message.string = message.id  # a (singular, plural) pair for plurals
        write_catalogue(language, catalogue)
    print(f"{len(template)} messages extracted")


def translate(language: str, mapping: dict[str, str]) -> list[str]:
    """Fill translations; returns the msgids the catalogue does not have (run update first)."""
    catalogue = read_catalogue(language)
    unknown = []
    for message_id, text in mapping.items():
        message = catalogue.get(message_id)
        if message is None:
            unknown.append(message_id)
            continue
        # Plural messages take a list: [singular, plural].
        message.string = tuple(text) if isinstance(text, list) else text
        message.flags.discard("fuzzy")
    write_catalogue(language, catalogue)
    return unknown


def write_catalogue(language: str, catalogue: Catalog) -> None:
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(
            handle, catalogue, sort_output=True, width=100, ignore_obsolete=True,
            include_lineno=False,
        )  # fmt: skip


# Messages that read the same in every language (a name, a range of times, a setting's line).
SAME_IN_EVERY_LANGUAGE = {
    "Compagnonnes de route — demo",
    "{start} – {end}",
    "• {setting}: {minutes} min",
}


def still_english(message_id: str) -> bool:
    """A sentence left in English: three words or more, and not one of the exceptions."""
    return len(message_id.split()) >= 3 and message_id not in SAME_IN_EVERY_LANGUAGE


def problems() -> list[str]:
    """Every message of the code, in every language, translated and with the same fields."""
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}

    found = []
    template = extract()
    for language in LANGUAGES:
        catalogue = read_catalogue(language)
        for message in template:
            if not message.id:
                continue
            translated = catalogue.get(message.id)
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            if translated is None:
                found.append(f"{language}: missing {ids[0]!r}")
                continue
            strings = (
                translated.string if isinstance(translated.string, tuple) else (translated.string,)
            )
            if translated.fuzzy or not all(strings):
                found.append(f"{language}: untranslated {ids[0]!r}")
                continue
            if language != "en" and strings[0] == ids[0] and still_english(ids[0]):
                found.append(f"{language}: still in English {ids[0]!r}")
                continue
            for text in strings:
                if fields(text) != fields(ids[0]):
                    found.append(f"{language}: placeholders differ in {ids[0]!r}")
    return found


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "update":
        update()
        return 0
    if command == "translate":
        import json

        unknown = translate(sys.argv[2], json.loads(Path(sys.argv[3]).read_text("utf-8")))
        for message_id in unknown:
            print(f"not in the catalogue (run update first): {message_id!r}")
        return 1 if unknown else 0
    issues = problems()
    for line in issues:
        print(line)
    print("catalogues complete" if not issues else f"{len(issues)} problems")
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
