"""What every notification needs: the recipient's language, and the "🆘 I need help" keyboard
that stays under an attendee's chat during her event."""

from __future__ import annotations

from companion_bot import notices
from companion_bot.i18n import LANGUAGES, N_, Translator, translator
from companion_bot.models import Person

HELP_BUTTON = N_("🆘 I need help")

# The bot's DEFAULT_LANGUAGE setting, for people who never chose a language; set at start-up
# (build_application), like the signing key.
_default_language = LANGUAGES[0]


def configure(default_language: str) -> None:
    global _default_language
    if default_language not in LANGUAGES:
        raise ValueError(f"unsupported language {default_language!r}")
    _default_language = default_language


def default_language() -> str:
    return _default_language


def language_of(person: Person) -> Translator:
    """Her saved language, else the bot's default."""
    return translator(person.language or _default_language)


def help_keyboard(t: Translator) -> dict[str, str]:
    """Notice fields that keep "🆘 I need help" under her chat all night: one tap away from
    help (handlers/help.py answers the button's text in every language)."""
    return {"keyboard": notices.HELP_KEYBOARD, "keyboard_label": t.gettext(HELP_BUTTON)}
