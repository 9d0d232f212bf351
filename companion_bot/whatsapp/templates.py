"""The utility templates: what the bot sends on WhatsApp when her 24-hour window is closed.

Meta allows a message outside the customer-service window only as a template the business
submitted and Meta approved (category Utility here: about something she signed up for). The
organizers submit these, with these exact texts, in each language they serve
(docs/whatsapp.md lists them; a test keeps it in step with this file); the names and
language codes they chose are settings (WHATSAPP_TEMPLATE_*). A template names no one but her
(the escalation: the member her group asks about) and carries no button: her answer, whatever
it is, opens the window again and the bot goes on in free form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from companion_bot.settings import WhatsAppConfig


class Purpose(StrEnum):
    WAVE_REMINDER = "wave_reminder"
    ARE_YOU_HOME = "are_you_home"
    ESCALATION = "escalation"
    MORNING_AFTER = "morning_after"
    GROUP_INTRODUCTION = "group_introduction"


@dataclass(frozen=True)
class Template:
    purpose: Purpose
    # What each {{n}} stands for, in order (for the docs and the samples Meta asks for).
    params: tuple[str, ...]
    sample: tuple[str, ...]
    texts: dict[str, str]  # by language: fr, en, nl


TEMPLATES: dict[Purpose, Template] = {
    template.purpose: template
    for template in (
        Template(
            Purpose.WAVE_REMINDER,
            ("event name", "departure time", "meeting point"),
            ("Nuit Compagnonnes", "02:30", "the cloakroom"),
            {
                "en": "Reminder for {{1}}: your departure leaves at {{2}} from {{3}}. Reply to "
                "this message to see your group and say you are at the meeting point.",
                "fr": "Rappel pour {{1}} : ton départ est à {{2}}, point de rendez-vous : {{3}}. "
                "Réponds à ce message pour voir ton groupe et dire que tu es au point de "
                "rendez-vous.",
                "nl": "Herinnering voor {{1}}: je vertrek is om {{2}}, verzamelpunt: {{3}}. "
                "Antwoord op dit bericht om je groep te zien en te laten weten dat je op het "
                "verzamelpunt bent.",
            },
        ),
        Template(
            Purpose.ARE_YOU_HOME,
            ("event name",),
            ("Nuit Compagnonnes",),
            {
                "en": "Did you get home safely after {{1}}? Reply to this message to tell us "
                "you are home.",
                "fr": "Après {{1}}, le retour s'est bien passé ? Réponds à ce message pour nous "
                "dire que tu es chez toi.",
                "nl": "Ben je veilig thuisgekomen na {{1}}? Antwoord op dit bericht om te laten "
                "weten dat je thuis bent.",
            },
        ),
        Template(
            Purpose.ESCALATION,
            ("display name of the member", "time she left"),
            ("Ada", "02:30"),
            {
                "en": "Has anyone heard from {{1}}? She left at {{2}} and has not said she is "
                "home yet. Reply to this message to answer.",
                "fr": "Quelqu'une a des nouvelles de {{1}} ? Elle est partie à {{2}} et n'a pas "
                "encore dit qu'elle était rentrée. Réponds à ce message pour répondre.",
                "nl": "Heeft iemand iets gehoord van {{1}}? Ze is om {{2}} vertrokken en heeft "
                "nog niet laten weten dat ze thuis is. Antwoord op dit bericht om te reageren.",
            },
        ),
        Template(
            Purpose.MORNING_AFTER,
            ("event name",),
            ("Nuit Compagnonnes",),
            {
                "en": "Good morning! The organizers of {{1}} have three quick questions about "
                "last night. Reply to this message to answer them.",
                "fr": "Bonjour ! L'équipe d'organisation de {{1}} a trois petites questions sur "
                "la soirée. Réponds à ce message pour y répondre.",
                "nl": "Goedemorgen! De organisatoren van {{1}} hebben drie korte vragen over "
                "gisteravond. Antwoord op dit bericht om ze te beantwoorden.",
            },
        ),
        Template(
            Purpose.GROUP_INTRODUCTION,
            ("event name",),
            ("Nuit Compagnonnes",),
            {
                "en": "Your group for {{1}} is ready. Reply to this message to meet your "
                "companions and see where and when you meet.",
                "fr": "Ton groupe pour {{1}} est prêt. Réponds à ce message pour découvrir tes "
                "compagnonnes de route et savoir où et quand vous vous retrouvez.",
                "nl": "Je groep voor {{1}} staat klaar. Antwoord op dit bericht om je "
                "reisgenoten te ontmoeten en te zien waar en wanneer jullie afspreken.",
            },
        ),
    )
}


def template_notice(
    config: WhatsAppConfig, purpose: Purpose, language: str, params: Sequence[str]
) -> dict:
    """The notice (`render`'s contract) of a template in her language, or in the first
    language the templates were submitted in when hers has none."""
    expected = len(TEMPLATES[purpose].params)
    if len(params) != expected:
        raise ValueError(f"template {purpose} takes {expected} parameters, not {len(params)}")
    codes = config.template_languages
    code = codes.get(language) or next(iter(codes.values()))
    return {
        "kind": "template",
        "name": config.templates[purpose],
        "language": code,
        "params": [str(param) for param in params],
    }
