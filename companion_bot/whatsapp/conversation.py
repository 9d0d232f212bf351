"""Someone on WhatsApp talking to the bot: the journeys of Telegram's handlers, on the same
services, in what WhatsApp can show.

Each stored message (companion_bot/whatsapp/webhook.py) is handled by the inbox worker, in
the transaction of its effects (`WhatsAppDispatcher`): her person is found or made from her
WhatsApp id, her 24-hour window noted, then what she sent is read (`inbound`) and answered.

- Her event's code (the text a `wa.me/<number>?text=<code>` link puts in her box) starts the
  sign-up; its questions are the Telegram ones (services/questions.py), their choices reply
  buttons or a list, each answer stored by the registrations service at once. Words where a
  choice is expected, a sticker, a photo, a button from an older question: explained, and
  the question asked again. Her display name, a neighbourhood (or a location pin) and a
  number of seats are typed.
- There are no slash commands: words in her language are ("aide"/"help"/"hulp", "moi"/"me",
  "groupe"/"group", "oublier"/"forget", "langue"/"language", "annuler"/"cancel", "menu"), and
  "menu" lists them as choices.
- Once she is in a group, what she writes goes to it (services/relay.py), under her display
  name only; the closing-time buttons (services/night_buttons.py), help with its three levels
  and confirmation (services/help.py) and forgetting her (services/privacy.py) are the
  services Telegram's handlers call. A photo, a voice note or a document goes to her group
  like her words; a sticker, a video or a contact gets an answer saying it cannot.

Where she is (the question waiting for her answer, an edit of her registration) is kept in
`ChatState`, read and written with each message. Volunteers and organizers use Telegram.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from companion_bot import actions, clock, notices
from companion_bot.i18n import N_, Translator, escape, typed_language, without_accents
from companion_bot.models import (
    ArrivalKind,
    ChatState,
    InboxUpdate,
    Person,
    Registration,
    RegistrationStatus,
)
from companion_bot.services import (
    groups,
    night_buttons,
    outbox,
    people,
    privacy,
    questions,
    registrations,
    relay,
    tables,
    zones,
)
from companion_bot.services import (
    help as alerts,
)
from companion_bot.services.errors import UserInputError
from companion_bot.services.events import InviteKind, resolve_invite
from companion_bot.services.messaging import default_language, language_of
from companion_bot.services.registrations import Step
from companion_bot.whatsapp import window
from companion_bot.whatsapp.inbound import CHOICE, LOCATION, TEXT, Inbound, read
from companion_bot.whatsapp.sender import FAREWELL_ADDRESS, release_for_her

GONE = N_("This button is no longer active.")
PICK_ONE = N_("Please answer with one of the buttons below.")
TEXT_ONLY = N_("I can only read text here.")
TEAM_LINK = N_(
    "This link is for the team: volunteers and organizers use the bot on Telegram. Ask the "
    "organizers for the attendees' link if you want to sign up."
)
MENU = N_(
    "What would you like to do? You can also write these words at any time: "
    "“help”, “me”, “group”, “language”, “forget”, “menu”."
)
WRITE_HELP = N_("Write “help” at any moment if you need the volunteers.")
WRITE_TO_GROUP = N_("Write here to talk to them.")
STOPPED = N_("OK, stopped here. Your answers so far are kept: write “me” to go on.")
SIGNED_UP = N_(
    "You're signed up for <b>{event}</b>! We will introduce your companions before the event, "
    "by display name only. Write “me” to see or change your answers."
)
SIGNED_UP_ONLINE = N_(
    "You're signed up for <b>{event}</b>! Shortly before your time we send you your table's "
    "call link and introduce the people at it, by display name only. Write “me” to see or "
    "change your answers."
)
NO_MEDIA = N_(
    "Stickers, videos and contacts cannot be passed on to your group: photos, voice notes "
    "and documents can, or write it in words."
)
NOBODY_IN_GROUP = N_("Nobody else in your group can receive messages right now.")
NOT_UNDERSTOOD = N_(
    "Hello! I help people who come alone to a party find companions to arrive and leave "
    "with, and get home safely. To sign up, open the link the organizers shared (or scan "
    "their QR code). Write “menu” to see what I can do."
)
MENU_ITEMS = {
    "me": N_("📋 My registration"),
    "group": N_("👥 My group"),
    "help": N_("🆘 I need help"),
    "language": N_("🌐 Language"),
    "forget": N_("🗑 Delete my data"),
}
# The words that stand for a command, in every language (compared without accents or case).
WORDS = {
    "help": ("help", "aide", "hulp", "sos", "au secours", "🆘"),
    "me": ("me", "moi", "ik", "mijn inschrijving", "mon inscription", "my registration"),
    "group": ("group", "groupe", "groep"),
    "language": ("language", "langue", "taal"),
    "forget": ("forget", "oublier", "vergeet", "vergeten", "mydata"),
    "menu": ("menu", "?", "commands", "commandes", "start", "hello", "hi", "bonjour", "salut",
             "hallo", "hoi"),
    "cancel": ("cancel", "annuler", "annuleren"),
}  # fmt: skip
# Which question a sign-up choice answers.
STEP_OF: dict[type[actions.Action], Step] = {
    actions.SignupLanguage: Step.LANGUAGE,
    actions.Charter: Step.CHARTER,
    actions.DefaultName: Step.NAME,
    actions.Attendance: Step.ATTENDANCE,
    actions.Arrival: Step.ARRIVAL,
    actions.ArrivalSlotPick: Step.ARRIVAL,
    actions.ActivityPick: Step.ACTIVITY,
    actions.AnyActivity: Step.ACTIVITY,
    actions.DestinationPick: Step.DESTINATION,
    actions.DestinationPlace: Step.DESTINATION,
    actions.TransportPick: Step.TRANSPORT,
    actions.SeatsPick: Step.SEATS,
    actions.WavePick: Step.WAVE,
    actions.Confirm: Step.SUMMARY,
    actions.Edit: Step.SUMMARY,
}
# Her language, guessed from her number's country until she chooses one.
COUNTRY_LANGUAGES = (("33", "fr"), ("32", "fr"), ("352", "fr"), ("41", "fr"), ("31", "nl"),
                     ("44", "en"), ("1", "en"))  # fmt: skip
_CODE = re.compile(r"[A-Za-z0-9_-]{4,64}")


def plain(text: str) -> str:
    """Words as compared with the command words: no accents, no case, no slash."""
    return without_accents(text.strip().lstrip("/"))


COMMANDS = {plain(word): name for name, words in WORDS.items() for word in words}


def is_command(inbound: Inbound) -> bool:
    return plain(inbound.text or "") in COMMANDS


def guess_language(wa_id: str) -> str:
    for prefix, language in COUNTRY_LANGUAGES:
        if wa_id.startswith(prefix):
            return language
    return default_language()


@dataclass
class Chat:
    """One message being answered: who she is, her language, her stored state."""

    person: Person
    message_number: int
    profile_name: str | None
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def t(self) -> Translator:
        return language_of(self.person)

    def _(self, message: str) -> str:
        return self.t.gettext(message)

    async def say(
        self,
        text: str,
        choices: list[list[notices.Choice]] | None = None,
        *,
        ask_location: bool = False,
    ) -> None:
        payload = {"ask_location": True} if ask_location else None
        await outbox.enqueue(
            self.person,
            text,
            choices=choices,
            payload=payload,
            priority=outbox.REPLY_PRIORITY,
            answering=True,
        )

    async def registration(self) -> Registration | None:
        """The registration her sign-up (or edit) is about."""
        event_id = self.state.get("event")
        if event_id is None:
            return None
        registration = await registrations.get_registration(self.person, event_id)
        if registration is None or registration.status == RegistrationStatus.CANCELLED:
            return None
        return registration


class WhatsAppDispatcher:
    """The inbox's WhatsApp side (`companion_bot.workers.inbox.Dispatcher`)."""

    async def handle(self, row: InboxUpdate) -> None:
        inbound = read(row.payload or {})
        if not inbound.wa_id:
            return
        person = await people.ensure_whatsapp_person(inbound.wa_id, guess_language(inbound.wa_id))
        now = clock.now()
        # Notices wait for her reply only while her window is closed (whatsapp/sender.py).
        may_be_waiting = not window.free_form_allowed(person.last_message_at, now)
        await Person.filter(id=person.id).update(last_message_at=now, blocked_bot_at=None)
        person.last_message_at, person.blocked_bot_at = now, None
        stored, _created = await ChatState.get_or_create(person=person)
        chat = Chat(person, row.update_id, inbound.profile_name, dict(stored.data or {}))
        released = may_be_waiting and await release_for_her(person)
        if released and inbound.kind == TEXT and not is_command(inbound):
            pass  # her answer to a template: what it stood for is the answer she gets
        else:
            await respond(chat, inbound)
        if chat.state != (stored.data or {}):
            await ChatState.filter(id=stored.id).update(data=chat.state, updated_at=now)

    async def parked(self, row: InboxUpdate) -> None:
        """Her message failed every time it was tried: say so, so she does not wait."""
        inbound = read(row.payload or {})
        person = await people.get_whatsapp_person(inbound.wa_id) if inbound.wa_id else None
        if person is None:
            return
        _ = language_of(person).gettext
        await outbox.enqueue(
            person,
            _("Sorry, something went wrong on our side. Your answers are saved: please try again."),
            priority=outbox.REPLY_PRIORITY,
        )


async def respond(chat: Chat, inbound: Inbound) -> None:
    if inbound.forged:
        await chat.say(chat._(GONE))
        await ask_again(chat)
        return
    if inbound.kind == CHOICE and inbound.action:
        await on_action(chat, inbound.action)
        return
    if inbound.kind == TEXT:
        await on_words(chat, (inbound.text or "").strip())
        return
    if inbound.kind == LOCATION:
        await on_location(chat, inbound.latitude, inbound.longitude)
        return
    await on_other(chat, inbound)


# -- words ---------------------------------------------------------------------------------


async def on_words(chat: Chat, text: str) -> None:
    invite = await invite_in(text)
    if invite is not None:
        await on_invite(chat, invite)
        return
    command = COMMANDS.get(plain(text))
    if command is not None:
        await COMMAND_HANDLERS[command](chat)
        return
    if await alerts.add_detail(chat.person, text, None) is not None:
        await chat.say(chat._("Passed on to the volunteers."))
        return
    step = await asked_step(chat)
    if step is not None:
        await on_answer_text(chat, step, text)
        return
    membership = await relay.current_group(chat.person)
    if membership is not None and text:
        relayed = await relay.relay(membership, chat.message_number, text=text)
        if relayed.recipients == 0:
            await chat.say(chat._(NOBODY_IN_GROUP))
        return
    await chat.say(chat._(NOT_UNDERSTOOD))


async def invite_in(text: str):
    """An event's code in what she wrote (a wa.me link puts the code alone in her box)."""
    for word in text.split()[:3]:
        if _CODE.fullmatch(word):
            invite = await resolve_invite(word)
            if invite is not None:
                return invite
    return None


async def on_invite(chat: Chat, invite) -> None:
    if invite.kind != InviteKind.ATTENDEE:
        await chat.say(chat._(TEAM_LINK))
        return
    try:
        registration = await registrations.start_signup(chat.person, invite.event)
    except UserInputError as error:
        await chat.say(error.translate(chat._))
        return
    chat.state = {"event": registration.event_id}
    if registration.status == RegistrationStatus.CONFIRMED:
        await ask(chat, Step.SUMMARY, registration)
    else:
        await ask(chat, Step.LANGUAGE, registration)


async def on_answer_text(chat: Chat, step: Step, text: str) -> None:
    registration = await chat.registration()
    if registration is None:
        chat.state = {}
        await chat.say(chat._(NOT_UNDERSTOOD))
        return
    try:
        if step == Step.NAME:
            await people.set_display_name(chat.person, text)
        elif step == Step.DESTINATION:
            if not await typed_destination(chat, registration, text):
                return
        elif step == Step.SEATS:
            await registrations.set_seats(registration, registrations.parse_seats(text))
        elif step == Step.ACTIVITY:
            await tables.set_activity(registration, text)
        elif step == Step.LANGUAGE and (language := typed_language(text)) is not None:
            await people.set_language(chat.person, language)
        else:
            await chat.say(chat._(PICK_ONE))
            await ask(chat, step, registration)
            return
    except UserInputError as error:
        await chat.say(error.translate(chat._))
        await ask(chat, step, registration)
        return
    await advance(chat, registration)


async def typed_destination(chat: Chat, registration: Registration, text: str) -> bool:
    """Her neighbourhood in words: stored when it is known (True); else the places it may be,
    as choices, or a request to type it again (False: the question is still open)."""
    _ = chat._
    await registration.fetch_related("event")
    found = await registrations.find_destination(text, registration.event, chat.t.language)
    if found.match is not None:
        await registrations.set_destination(registration, found.match.id)
        await chat.say(_("📍 {place}").format(place=escape(found.match.name)))
        return True
    if found.suggestions:
        choices = [
            [(place.name, actions.DestinationPlace(place.id).encode())]
            for place in found.suggestions
        ]
        choices += [
            [(_("None of these: I'll type it again"), actions.DestinationPick("retype").encode())],
            [(_("No departure group for me"), questions.NO_DEPARTURE_GROUP)],
        ]
        question = _("I'm not sure which place “{text}” is. Did you mean:")
        await chat.say(question.format(text=escape(text[:60])), choices)
        return False
    await chat.say(
        _(
            "I don't know “{text}”. Try the name of a neighbourhood, an arrondissement "
            "(like 11e) or a commune, or share a location pin."
        ).format(text=escape(text[:60]))
    )
    return False


async def on_location(chat: Chat, latitude: float | None, longitude: float | None) -> None:
    where = (latitude, longitude)
    if await alerts.add_detail(chat.person, None, where) is not None:
        await chat.say(chat._("Passed on to the volunteers."))
        return
    registration = await chat.registration()
    if registration is not None and await asked_step(chat) == Step.DESTINATION:
        _ = chat._
        await registration.fetch_related("event")
        place = await registrations.snap_location(
            latitude, longitude, registration.event, chat.t.language
        )
        if place is None:
            await chat.say(_(
                "That pin is far from the neighbourhoods I know (Paris, Brussels and Mons "
                "areas). Please type the name of your neighbourhood or commune."
            ))  # fmt: skip
            return
        await registrations.set_destination(registration, place.id)
        note = (
            _("📍 {place} (the organizers' zone nearest to your pin; the exact point is not kept)")
            if zones.is_zone(place.id)
            else _("📍 {place} (nearest neighbourhood; the exact point is not kept)")
        )
        await chat.say(note.format(place=escape(place.name)))
        await advance(chat, registration)
        return
    membership = await relay.current_group(chat.person)
    if membership is not None:
        await relay.relay(membership, chat.message_number, live_location=(latitude, longitude, 60))
        return
    await chat.say(chat._(NOT_UNDERSTOOD))


async def on_other(chat: Chat, inbound: Inbound) -> None:
    """A photo, a sticker, a voice note, a contact…: never where a choice or words are due."""
    step = await asked_step(chat)
    if step is not None:
        wants_text = step in (Step.NAME, Step.DESTINATION, Step.SEATS)
        await chat.say(chat._(TEXT_ONLY if wants_text else PICK_ONE))
        await ask_again(chat)
        return
    membership = await relay.current_group(chat.person)
    if membership is not None and inbound.media is not None:
        relayed = await relay.relay(
            membership, chat.message_number, media=inbound.media, caption=inbound.caption
        )
        if relayed.recipients == 0:
            await chat.say(chat._(NOBODY_IN_GROUP))
        return
    if membership is not None:
        await chat.say(chat._(NO_MEDIA))
        return
    await chat.say(chat._(NOT_UNDERSTOOD))


# -- the sign-up's questions ------------------------------------------------------------------


async def asked_step(chat: Chat) -> Step | None:
    """The question waiting for her answer (None: none is)."""
    asked = chat.state.get("asking")
    if asked is None or await chat.registration() is None:
        return None
    return Step(asked) if asked != Step.SUMMARY else None


async def ask(chat: Chat, step: Step, registration: Registration) -> None:
    question = await questions.ask(step, chat.t, registration, proposal=chat.profile_name)
    chat.state["event"] = registration.event_id
    chat.state["asking"] = step.value
    await chat.say(question.text, question.choices, ask_location=question.ask_location)


async def ask_again(chat: Chat) -> None:
    registration = await chat.registration()
    asked = chat.state.get("asking")
    if registration is not None and asked is not None:
        await ask(chat, Step(asked), registration)


async def advance(chat: Chat, registration: Registration) -> None:
    # Read again, with her person: an answer may have changed either through another object.
    registration = await chat.registration() or registration
    step = await registrations.step_after_answer(registration)
    if step == Step.SUMMARY and registration.status == RegistrationStatus.CONFIRMED:
        await registrations.confirm(registration)  # an edit counts once every answer is in
    await ask(chat, step, registration)


async def on_signup_choice(chat: Chat, action: actions.Action) -> None:
    registration = await chat.registration()
    step = STEP_OF[type(action)]
    if registration is None or chat.state.get("asking") != step.value:
        await chat.say(chat._(GONE))
        await ask_again(chat)
        return
    try:
        if not await save_choice(chat, registration, action):
            return
    except UserInputError as error:
        await chat.say(error.translate(chat._))
        await ask(chat, step, registration)
        return
    await advance(chat, registration)


async def save_choice(chat: Chat, registration: Registration, action: actions.Action) -> bool:
    """Store a tapped answer; False when the conversation goes on otherwise."""
    _ = chat._
    match action:
        case actions.SignupLanguage(code=code):
            await people.set_language(chat.person, code)
        case actions.Charter(answer="no"):
            chat.state = {}
            await chat.say(_(
                "Without agreeing to the charter we cannot introduce you to companions. "
                "If you change your mind, open the event's link again."
            ))  # fmt: skip
            return False
        case actions.Charter():
            await registrations.record_consent(registration)
        case actions.DefaultName():
            name = chat.person.display_name or chat.profile_name
            await people.set_display_name(chat.person, name)
        case actions.Attendance(how=how):
            await tables.set_online(registration, how == "online")
        case actions.Arrival(how=how):
            kind = ArrivalKind.ALREADY_THERE if how == "here" else ArrivalKind.ON_MY_OWN
            await registrations.set_arrival(registration, kind, None)
        case actions.ArrivalSlotPick(slot=slot):
            await registrations.set_arrival(registration, ArrivalKind.SLOT, slot)
        case actions.AnyActivity():
            await tables.set_activity(registration, tables.ANY_ACTIVITY)
        case actions.ActivityPick(index=index):
            offered = await tables.activities(registration.event_id)
            if index >= len(offered):
                raise UserInputError(GONE)
            await tables.set_activity(registration, offered[index])
        case actions.DestinationPick(what="retype"):
            await chat.say(_("OK, type your neighbourhood or commune again."))
            return False
        case actions.DestinationPick():
            await registrations.set_destination(registration, None)
        case actions.DestinationPlace(place=place):
            await registrations.set_destination(registration, place)
        case actions.TransportPick(mode=mode):
            await registrations.set_transport(registration, mode)
        case actions.SeatsPick(count=count):
            await registrations.set_seats(registration, count)
        case actions.WavePick(wave=wave):
            await registrations.set_departure_wave(registration, wave)
        case actions.Edit(step=value):
            step = Step(value) if value in {s.value for s in Step} else Step.SUMMARY
            if step in (Step.TRANSPORT, Step.SEATS) and not registration.wants_departure_group:
                step = Step.DESTINATION
            elif step == Step.SEATS and not questions.drives_a_car(registration):
                step = Step.TRANSPORT
            await ask(chat, step, registration)
            return False
        case actions.Confirm():
            await confirm(chat, registration)
            return False
        case _:
            raise UserInputError(GONE)
    return True


async def confirm(chat: Chat, registration: Registration) -> None:
    _ = chat._
    await registrations.confirm(registration)
    chat.state = {}
    await registration.fetch_related("event")
    signed_up = _(SIGNED_UP_ONLINE if registration.online else SIGNED_UP)
    event = escape(registration.event.localized("name", chat.t.language))
    await chat.say(signed_up.format(event=event) + "\n\n" + _(WRITE_HELP))


# -- commands -----------------------------------------------------------------------------


async def on_menu(chat: Chat) -> None:
    choices = [
        [(chat._(label), actions.MenuItem(name).encode())] for name, label in MENU_ITEMS.items()
    ]
    await chat.say(chat._(MENU), choices)


async def on_me(chat: Chat) -> None:
    mine = await registrations.active_registrations(chat.person)
    if not mine:
        await chat.say(
            chat._("You are not signed up for any event. Open the link the organizers shared.")
        )
        return
    await ask(chat, Step.SUMMARY, mine[0])


async def on_group(chat: Chat) -> None:
    t, _ = chat.t, chat._
    membership = await relay.current_group(chat.person)
    if membership is None:
        await chat.say(_("You are not in a group right now."))
        return
    group = membership.group
    names = [m.registration.person.display_name or "?" for m in await groups.active_members(group)]
    muted = membership.member.muted
    text = "\n".join([
        _("Your group for {event}: {names}.").format(
            event=escape(group.event.localized("name", t.language)),
            names=escape(", ".join(names))),
        _("Meeting at {time}.").format(time=t.time(group.meet_at, group.event.timezone)),
        _(WRITE_TO_GROUP),
    ])  # fmt: skip
    await chat.say(text, [
        [(_("🔔 Unmute the group") if muted else _("🔕 Mute the group"),
          actions.GroupButton("unmute" if muted else "mute", group.id).encode())],
        [(_("🚪 Leave the group"), actions.GroupButton("leave", group.id).encode())],
    ])  # fmt: skip


async def on_group_choice(chat: Chat, action: actions.GroupButton) -> None:
    _ = chat._
    if action.what == "leave":
        await relay.leave_group(chat.person, action.group)
        await chat.say(_("You left the group. The others are only told that a member left."))
        return
    await relay.set_muted(chat.person, action.group, action.what == "mute")
    await chat.say(
        _("Muted: you no longer receive your group's messages. /group to unmute.")
        if action.what == "mute"
        else _("Unmuted: you receive your group's messages again.")
    )


async def on_language(chat: Chat) -> None:
    question = questions.language(chat.t)
    choices = [
        [(label, actions.SpeakLanguage(chosen.code).encode())]
        for row in question.choices
        for label, action in row
        if (chosen := actions.decode_as(actions.SignupLanguage, action)) is not None
    ]
    await chat.say(question.text, choices)


async def on_forget(chat: Chat) -> None:
    _ = chat._
    await chat.say(
        _(
            "Delete everything this bot keeps about you? Your registrations are cancelled, your "
            "groups are only told that a member left, and this cannot be undone."
        ),
        [
            [(_("Yes, delete everything"), actions.Forget("yes").encode())],
            [(_("No, keep it"), actions.Forget("no").encode())],
        ],
    )


async def on_forget_choice(chat: Chat, action: actions.Forget) -> None:
    _ = chat._
    if action.answer != "yes":
        return
    done = _("Done: everything about you is deleted. Take care!")
    person = chat.person
    forgotten = await privacy.forget(person)
    if forgotten is not None:
        for group_id in forgotten.group_ids:
            await groups.tell_member_left(group_id)
    chat.state = {}
    # Her last message: her row is gone, so it carries her number, and it is erased once
    # sent (`outbox.ERASE_AFTER_SENDING`): nothing of her stays.
    await outbox.enqueue(
        person, done, payload={FAREWELL_ADDRESS: person.whatsapp_id},
        priority=outbox.REPLY_PRIORITY, purpose=outbox.ERASE_AFTER_SENDING, answering=True,
    )  # fmt: skip


async def on_cancel(chat: Chat) -> None:
    asked = chat.state.pop("asking", None)
    if asked is None:
        await chat.say(chat._("There is nothing to cancel right now."))
        return
    await chat.say(chat._(STOPPED))


# -- help -------------------------------------------------------------------------------------


async def on_help(chat: Chat) -> None:
    _ = chat._
    if await alerts.live_event_of(chat.person) is None:
        await chat.say(_(NOT_UNDERSTOOD))
        await chat.say(_(
            "If you are in danger, call 112 (emergency number in France and Belgium) or go to "
            "a volunteer or the bar."
        ))  # fmt: skip
        return
    choices = [
        [(_(label), actions.HelpLevelPick(level.value).encode())]
        for level, label in alerts.LEVEL_NAMES.items()
    ]
    choices.append([(_("Cancel"), actions.HelpCancel().encode())])
    await chat.say(_("What is happening? The volunteers on duty will come to you."), choices)


async def on_help_choice(chat: Chat, action: actions.Action) -> None:
    _ = chat._
    match action:
        case actions.HelpLevelPick(level=level):
            alert = await alerts.draft(chat.person, level)
            await chat.say(_("Send an alert to the volunteers on duty now?"), [
                [(_("🆘 Yes, alert them"), actions.HelpAnswer("yes", alert.id).encode())],
                [(_("Cancel"), actions.HelpAnswer("no", alert.id).encode())],
            ])  # fmt: skip
        case actions.HelpAnswer(what="yes", alert=alert_id):
            sent = await alerts.confirm(chat.person, alert_id)
            text = await alerts.sent_text(chat.t, sent)
            close = actions.HelpAnswer("close", alert_id).encode()
            await chat.say(text, [[(_("I'm OK now, close it"), close)]])
        case actions.HelpAnswer(what="no", alert=alert_id):
            await alerts.cancel(chat.person, alert_id)
            await chat.say(_("Cancel"))
        case actions.HelpAnswer(what="close", alert=alert_id):
            await alerts.close(chat.person, alert_id)
            await chat.say(_("Your help request is closed. Take care!"))


# -- choices ----------------------------------------------------------------------------------


async def on_action(chat: Chat, data: str) -> None:
    action = actions.decode(data)
    try:
        match action:
            case _ if type(action) in STEP_OF:
                await on_signup_choice(chat, action)
            case actions.MenuItem(command=command) if command in COMMAND_HANDLERS:
                await COMMAND_HANDLERS[command](chat)
            case actions.SpeakLanguage(code=code):
                await people.set_language(chat.person, code)
                await chat.say(chat._("I will speak English with you."))
            case actions.Closing():
                await chat.say(await night_buttons.press(chat.person, chat.t, action))
            case actions.HelpLevelPick() | actions.HelpCancel() | actions.HelpAnswer():
                await on_help_choice(chat, action)
            case actions.GroupButton():
                await on_group_choice(chat, action)
            case actions.Forget():
                await on_forget_choice(chat, action)
            case _:
                raise UserInputError(GONE)
    except UserInputError as error:
        await chat.say(error.translate(chat._))


COMMAND_HANDLERS = {
    "help": on_help,
    "me": on_me,
    "group": on_group,
    "language": on_language,
    "forget": on_forget,
    "menu": on_menu,
    "cancel": on_cancel,
}
