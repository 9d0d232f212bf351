"""Telegram's commands as WhatsApp's words. Texts shared by both channels name commands the
Telegram way ("/help if you need us"); on WhatsApp she writes words instead ("aide", "help",
"hulp": companion_bot/whatsapp/conversation.py), so the renderer puts the word of her
language, quoted as her language quotes, in place of each command she can use there."""

from __future__ import annotations

import re

from companion_bot.i18n import N_, Translator

# The word she writes for each command, as a text shows it (quoted the way her language does).
SPOKEN = {
    "help": N_("“help”"),
    "me": N_("“me”"),
    "group": N_("“group”"),
    "language": N_("“language”"),
    "forget": N_("“forget”"),
    "mydata": N_("“forget”"),  # on WhatsApp, "forget" shows what is kept and deletes it
    "cancel": N_("“cancel”"),
    "start": N_("“menu”"),
}
# A command word starting a token: "/help", not "https://example.org/help" nor "wa.me/help".
_COMMAND = re.compile(r"(?<![\w/:.])/(" + "|".join(SPOKEN) + r")\b")


def spoken_commands(text: str, t: Translator) -> str:
    """`text` with each command she can use on WhatsApp written as her word for it."""
    return _COMMAND.sub(lambda match: t.gettext(SPOKEN[match.group(1)]), text)
