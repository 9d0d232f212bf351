"""The morning-after follow-up, when she asks to be contacted: the event's organizers get her
answers under her display name (never her Telegram account) with a button to write to her
through the bot, and she can answer the same way. Anonymous answers stay statistics
(`lifecycle.followup_summary`): nobody is told about them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from companion_bot import actions
from companion_bot.i18n import N_, escape
from companion_bot.models import FollowupAnswer, Person, Role, RoleKind
from companion_bot.services import outbox, people
from companion_bot.services.closing import on_duty_team
from companion_bot.services.errors import UserInputError
from companion_bot.services.lifecycle import HOME_ANSWERS, MET_ANSWERS
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who

MAX_TEXT = 3500
CONTACT_REQUEST = N_(
    "📝 Morning-after follow-up of {event}: <b>{name}</b> would like to be contacted.\n"
    "Did her group meet: {met}. Did she get home well: {home}."
)
HER_WORDS = N_("Her words: “{text}”")
REPLY_TO_HER = N_("💬 Reply through the bot")
FROM_ORGANIZER = N_("💬 {name}, from the organizers of {event}:\n\n{text}")
FROM_HER = N_("💬 {name} answers (follow-up of {event}):\n\n{text}")
ANSWER = N_("↩️ Answer")


async def tell_organizers(answer: FollowupAnswer) -> int:
    """She asked to be contacted: every organizer of the event hears it; returns how many."""
    await answer.fetch_related("event", "contact")
    if answer.contact is None:
        return 0
    organizers = await on_duty_team(answer.event_id, kinds=(RoleKind.ORGANIZER,))
    for organizer in organizers:
        t = language_of(organizer)
        lines = [
            t.gettext(CONTACT_REQUEST).format(
                event=escape(answer.event.localized("name", t.language)),
                name=escape(answer.contact.display_name or "?"),
                met=answer_label(t, MET_ANSWERS, answer.group_met),
                home=answer_label(t, HOME_ANSWERS, answer.home_safe),
            )
        ]
        if answer.report:
            lines.append(t.gettext(HER_WORDS).format(text=escape(answer.report)))
        await outbox.enqueue(
            organizer,
            "\n".join(lines),
            choices=[[(t.gettext(REPLY_TO_HER), actions.FollowupContact(answer.id).encode())]],
            dedupe_key=f"{thread_key_prefix(answer.id)}contact:{organizer.id}",
        )  # fmt: skip
    return len(organizers)


def answer_label(t, labels: dict[str, str], value: str | None) -> str:
    return t.gettext(labels[value]) if value in labels else "—"


@dataclass(frozen=True)
class Thread:
    """Who writes to whom about one follow-up answer."""

    answer: FollowupAnswer
    sender: Person
    recipient: Person
    to_her: bool  # an organizer writes to her (else she answers an organizer)


async def thread(who: Who, answer_id: int, organizer_id: int | None) -> Thread:
    """An organizer of the event writing to her (`organizer_id` None), or she answering
    the organizer `organizer_id`; refused to anybody else."""
    answer = await FollowupAnswer.get_or_none(id=answer_id).prefetch_related("event", "contact")
    if answer is None or answer.contact is None:
        raise UserInputError(N_("This button is no longer active."))
    if organizer_id is None:
        role = await Role.get_or_none(
            event_id=answer.event_id, **people.lookup(who, "person"), kind=RoleKind.ORGANIZER
        ).prefetch_related("person")
        if role is None:
            raise UserInputError(N_("Only this event's organizers can do this."))
        return Thread(answer, role.person, answer.contact, to_her=True)
    role = await Role.get_or_none(
        event_id=answer.event_id, person_id=organizer_id, kind=RoleKind.ORGANIZER
    ).prefetch_related("person")
    if not people.is_who(answer.contact, who) or role is None:
        raise UserInputError(N_("This button is no longer active."))
    return Thread(answer, answer.contact, role.person, to_her=False)


async def write(who: Who, answer_id: int, organizer_id: int | None, text: str) -> Thread:
    """Relay one message of the thread, under the sender's display name, with a button to
    answer it."""
    found = await thread(who, answer_id, organizer_id)
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise UserInputError(N_("That is too long: {limit} characters at most."), limit=MAX_TEXT)
    t = language_of(found.recipient)
    if found.to_her:
        template = FROM_ORGANIZER
        data = actions.FollowupContact(answer_id, found.sender.id).encode()
        button = ANSWER
    else:
        template, data, button = FROM_HER, actions.FollowupContact(answer_id).encode(), REPLY_TO_HER
    await outbox.enqueue(
        found.recipient,
        t.gettext(template).format(
            name=escape(found.sender.display_name or "?"),
            event=escape(found.answer.event.localized("name", t.language)),
            text=escape(text),
        ),
        choices=[[(t.gettext(button), data)]],
        # Keyed by the answer, so that /forget finds the thread (`privacy.forget_messages`).
        dedupe_key=f"{thread_key_prefix(answer_id)}{secrets.token_hex(6)}",
    )
    return found


def thread_key_prefix(answer_id: int) -> str:
    """What the dedupe keys of messages about one follow-up answer start with."""
    return f"followup-answer:{answer_id}:"
