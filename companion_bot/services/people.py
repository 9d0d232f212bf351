"""People: the minimum we keep about someone (her channel and address there, language,
display name).

Services know her as a `Person`. Telegram's edge still hands some of them her Telegram user
id instead (`Who`): `lookup` finds her either way.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from companion_bot import clock, signing
from companion_bot.i18n import LANGUAGES, N_, translator
from companion_bot.models import Avoidance, Channel, Person
from companion_bot.services.errors import UserInputError

DISPLAY_NAME_MAX = 32
_HANDLE = re.compile(r"@\w{3,}")
_LINK = re.compile(r"(https?://|www\.|t\.me/|\w\.(com|fr|be|org|net|me)\b)", re.IGNORECASE)
_MANY_DIGITS = re.compile(r"(\d[\s.\-]?){6,}")
# Shown for a volunteer or organizer whose Telegram first name cannot be used as a name.
TEAM_NAME = N_("Team")


# Who acts: a person, or (from Telegram's edge) her Telegram user id.
Who = Person | int


def lookup(who: Who, path: str = "") -> dict[str, Any]:
    """Filter arguments that find `who` (at `path`: a relation leading to a Person, e.g.
    "registration__person"; none: the Person itself)."""
    if isinstance(who, Person):
        return {f"{path}_id": who.id} if path else {"id": who.id}
    return {f"{path}__telegram_id": who} if path else {"telegram_id": who}


def is_who(person: Person, who: Who) -> bool:
    return person.id == who.id if isinstance(who, Person) else person.telegram_id == who


def address_of(person: Person) -> str:
    """Her address on her channel, as a string (what signatures and keyed hashes bind to);
    a Telegram id stays as it was, so existing signatures and keys still match."""
    if person.channel == Channel.WHATSAPP:
        return f"{Channel.WHATSAPP}:{person.whatsapp_id}"
    return str(person.telegram_id)


async def get_person(who: Who) -> Person | None:
    if isinstance(who, Person):
        return who
    return await Person.get_or_none(telegram_id=who)


async def ensure_person(who: Who, language: str | None = None) -> Person:
    """Her row, created if new; `language` (the one she is spoken to in) is kept if she has
    none yet, so messages queued for her later use it too. Someone coming back after her
    data was deleted is again avoided by whoever asked not to be grouped with her."""
    if isinstance(who, Person):
        person, created = who, False
    else:
        person, created = await Person.get_or_create(telegram_id=who)
    return await _welcome(person, created, language)


async def ensure_whatsapp_person(wa_id: str, language: str | None = None) -> Person:
    """Someone writing on WhatsApp, known by her WhatsApp id (her number as WhatsApp gives
    it; never shown to anyone)."""
    person, created = await Person.get_or_create(channel=Channel.WHATSAPP, whatsapp_id=wa_id)
    return await _welcome(person, created, language)


async def get_whatsapp_person(wa_id: str) -> Person | None:
    return await Person.get_or_none(channel=Channel.WHATSAPP, whatsapp_id=wa_id)


async def _welcome(person: Person, created: bool, language: str | None) -> Person:
    if created:
        await relink_avoidances(person)
    if person.language is None and language in LANGUAGES:
        person.language = language
        await person.save(update_fields=["language", "updated_at"])
    return person


async def set_language(who: Who, language: str) -> Person:
    if language not in LANGUAGES:
        raise UserInputError(N_("Please choose one of the languages offered."))
    person = await ensure_person(who)
    person.language = language
    await person.save(update_fields=["language", "updated_at"])
    return person


def clean_display_name(text: str | None) -> str:
    """The name her companions will see: short, printable, and not a way to reach her.

    A Telegram handle, a link or a phone number would defeat the anonymous relay, so they
    are refused with an explanation rather than stored.
    """
    text = "".join(ch for ch in (text or "") if unicodedata.category(ch)[0] != "C")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise UserInputError(N_("Please type the name your companions will see."))
    if len(text) > DISPLAY_NAME_MAX:
        raise UserInputError(
            N_("That name is too long: {limit} characters at most."), limit=DISPLAY_NAME_MAX
        )
    if _HANDLE.search(text) or _LINK.search(text) or _MANY_DIGITS.search(text):
        raise UserInputError(
            N_(
                "For your safety, don't put a username, a link or a phone number in your "
                "name. A first name or a nickname is perfect."
            )
        )
    if not any(ch.isalpha() for ch in text):
        raise UserInputError(N_("Please use at least one letter in your name."))
    return text


async def set_display_name(who: Who, text: str | None) -> Person:
    name = clean_display_name(text)
    person = await ensure_person(who)
    person.display_name = name
    await person.save(update_fields=["display_name", "updated_at"])
    return person


async def ensure_display_name(who: Who, first_name: str | None) -> Person:
    """A name for volunteers and organizers, who skip the sign-up: their first name when it
    is usable, else a neutral one."""
    person = await ensure_person(who)
    if person.display_name:
        return person
    try:
        person.display_name = clean_display_name(first_name)
    except UserInputError:
        person.display_name = translator(person.language or "fr").gettext(TEAM_NAME)
    await person.save(update_fields=["display_name", "updated_at"])
    return person


async def mark_blocked(telegram_id: int) -> None:
    """She blocked the bot: nothing more is queued for her until she writes again."""
    await Person.filter(telegram_id=telegram_id, blocked_bot_at=None).update(
        blocked_bot_at=clock.now()
    )


async def relink_avoidances(person: Person) -> int:
    """Wishes not to be grouped with her that outlived her deletion apply to her again."""
    if not signing.is_configured() or not await Avoidance.exists(avoided_id=None):
        return 0
    return await Avoidance.filter(
        avoided_id=None, avoided_key=signing.person_key(address_of(person))
    ).update(avoided_id=person.id)
