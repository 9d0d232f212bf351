"""The attendee's sign-up: `/start <attendee code>` → language → charter → display name →
arrival → destination → transport → departure → summary → confirm.

Each answer is stored at once by the registrations service; the conversation state is
persisted, so a restart resumes at the same step. Input that does not fit the step gets a
clear answer and the step's question again.

Once she is signed up, `/me` (or her link again) shows her registration: a summary, not a
question, so the conversation ends there and what she writes next goes where it would have
gone without it (her group, her commands). Its buttons start the conversation again: an edit
button asks that question, in an "edit" state. An edit takes effect as soon as every answer is
in (no "Done" needed); a command or a reply to a message from her group leaves it, with what she
answered kept and her registration still confirmed.

Where she is lives in one place: the conversation's state (the step, and whether it edits a
confirmed registration). Callbacks read it through `pending`, never from a copy.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Awaitable

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from companion_bot import notices
from companion_bot.actions import (
    Action,
    ActivityPick,
    AnyActivity,
    Arrival,
    ArrivalSlotPick,
    Attendance,
    Charter,
    Confirm,
    DefaultName,
    DestinationPick,
    DestinationPlace,
    DestinationZone,
    Edit,
    SeatsPick,
    SignupLanguage,
    SignupMine,
    TransportPick,
    WavePick,
)
from companion_bot.i18n import LANGUAGE_NAMES, Translator, typed_language
from companion_bot.models import (
    ArrivalKind,
    OutboxMessage,
    Registration,
    RegistrationStatus,
    fetch_missing,
)
from companion_bot.services import (
    outbox,
    people,
    questions,
    registrations,
    tables,
    zones,
)
from companion_bot.services import relay as group_relay
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import help_keyboard
from companion_bot.services.questions import (
    EDITABLE,
    drives_a_car,
)
from companion_bot.services.registrations import Step
from handlers import callbacks, safety
from handlers.callbacks import pattern, unsigned
from handlers.common import (
    Context,
    answer_query,
    close_buttons,
    column,
    esc,
    keyboard,
    remember_language,
    send,
    tr,
)
from handlers.conversation import END, Conversation, hand_over, step_of

CONVERSATION_NAME = "signup"
EVENT_KEY = "signup_event"
PROMPT_KEY = "signup_prompt_row"  # the outbox row of the last question or summary
SUGGESTIONS_KEY = "signup_suggestions"
EDITING = "edit:"  # the state of a question that edits her confirmed registration

# -- finding her registration ---------------------------------------------------------------


async def current_registration(update: Update, context: Context) -> Registration | None:
    event_id = context.user_data.get(EVENT_KEY)
    if event_id is None:
        return None
    return await registrations.get_registration(update.effective_user.id, event_id)


# -- the question of each step ---------------------------------------------------------------


async def ask(
    update: Update, context: Context, step: Step, registration: Registration | None = None
) -> str | int:
    """Send the question of `step` and wait for its answer there. The summary of a confirmed
    registration is no question: it is shown and the conversation ends.
    `registration`: hers, when the caller has just loaded (and saved) it."""
    _ = tr(update, context).gettext
    registration = registration or await current_registration(update, context)
    if registration is None:
        await send(update, context, _("Your sign-up has expired. Open the event's link again."))
        return END
    await retire_previous_prompt(update, context)
    prompt = await ASK[step](update, context, tr(update, context), registration)
    context.user_data[PROMPT_KEY] = prompt.id
    confirmed = registration.status == RegistrationStatus.CONFIRMED
    if confirmed and step == Step.SUMMARY:
        return END
    return state_of(step, editing=confirmed)


def state_of(step: Step, editing: bool) -> str:
    return f"{EDITING}{step.value}" if editing else step.value


def pending(context: Context) -> tuple[Step | None, bool]:
    """The question she was asked and has not answered (None outside the conversation), and
    whether it edits her confirmed registration: the conversation's stored state (a callback
    sees the state before its own answer)."""
    state = step_of(context.user_data, CONVERSATION_NAME)
    if not isinstance(state, str):
        return None, False
    return Step(state.removeprefix(EDITING)), state.startswith(EDITING)


async def is_current_prompt(update: Update, context: Context) -> bool:
    """The tapped message is the last question or summary she was sent (so its event is the
    one she is answering for), or a second copy of it; older ones are stale. (A message sent
    when its process died is sent again: the outbox cannot know the first copy arrived.)"""
    message = update.callback_query.message if update.callback_query else None
    prompt = context.user_data.get(PROMPT_KEY)
    if message is None or not message.is_accessible or prompt is None:
        return False
    row = await outbox.queued(prompt, message.chat.id)
    if row is None:
        return False
    if row.telegram_message_id == message.message_id:
        return True
    markup = message.reply_markup.to_dict() if message.reply_markup else None
    payload = row.payload or {}
    return markup == payload.get("markup") and message.text == plain_text(payload.get("text", ""))


def plain_text(html_text: str) -> str:
    """What a message we send in HTML shows."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


async def retire_previous_prompt(update: Update, context: Context) -> None:
    """A typed answer leaves the question's buttons behind: remove them, they are stale now
    (from a question not delivered yet, before it goes)."""
    previous = context.user_data.pop(PROMPT_KEY, None)
    if previous is None:
        return
    tapped = update.callback_query.message if update.callback_query else None
    if tapped is not None and tapped.message_id == await outbox.sent_message_id(
        previous, tapped.chat.id
    ):
        return  # the tapped question: close_buttons says what she chose there
    await outbox.edit(previous, kind=notices.EDIT_CHOICES, priority=outbox.REPLY_PRIORITY)


async def show(update: Update, context: Context, question: questions.Question) -> OutboxMessage:
    """A sign-up question in her chat, its choices as inline buttons."""
    markup = keyboard(question.choices) if question.choices else None
    return await send(update, context, question.text, markup)


async def ask_language(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, questions.language(t))


async def ask_charter(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, await questions.charter(t, reg))


async def ask_name(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    await fetch_missing(reg, "person")
    proposal = reg.person.display_name or update.effective_user.first_name
    return await show(update, context, questions.name(t, proposal))


async def ask_arrival(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, await questions.arrival(t, reg))


async def ask_destination(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, await questions.destination(t, reg))


async def ask_transport(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, questions.transport(t))


async def ask_seats(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, questions.seats(t))


async def ask_wave(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, await questions.wave(t, reg))


async def ask_summary(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, await questions.summary(t, reg))


# -- online and hybrid events: in person or online, and the activity -------------------------


async def ask_attendance(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, await questions.attendance(t, reg))


async def ask_activity(
    update: Update, context: Context, t: Translator, reg: Registration
) -> OutboxMessage:
    return await show(update, context, await questions.activity(t, reg))


@unsigned(Attendance)
async def on_attendance(update: Update, context: Context, tapped: Attendance) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    await tables.set_online(registration, tapped.how == "online")
    await answer_query(update)
    await close_buttons(update, pressed_label(update))
    return await advance(update, context, registration)


@unsigned(ActivityPick, AnyActivity)
async def on_activity(
    update: Update, context: Context, tapped: ActivityPick | AnyActivity
) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    offered = await tables.activities(registration.event_id)
    if isinstance(tapped, AnyActivity):
        chosen = tables.ANY_ACTIVITY
    elif tapped.index < len(offered):
        chosen = offered[tapped.index]
    else:
        return await stale_button(update, context)
    return await save_choice(update, context, registration,
                             tables.set_activity(registration, chosen))  # fmt: skip


async def on_activity_text(update: Update, context: Context) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    try:
        await tables.set_activity(registration, update.effective_message.text or "")
    except UserInputError as error:
        return await refuse(update, context, error)
    return await advance(update, context, registration)


ASK = {
    Step.LANGUAGE: ask_language,
    Step.ATTENDANCE: ask_attendance,
    Step.ACTIVITY: ask_activity,
    Step.CHARTER: ask_charter,
    Step.NAME: ask_name,
    Step.ARRIVAL: ask_arrival,
    Step.DESTINATION: ask_destination,
    Step.TRANSPORT: ask_transport,
    Step.SEATS: ask_seats,
    Step.WAVE: ask_wave,
    Step.SUMMARY: ask_summary,
}


# -- moving on after an answer -------------------------------------------------------------


async def save_choice(
    update: Update, context: Context, registration: Registration, save: Awaitable[None]
) -> str | int:
    """A tapped answer: `save` (the service call) stores it, her button closes showing what
    she tapped, the next question comes; an answer the service refuses is explained and its
    question asked again."""
    try:
        await save
    except UserInputError as error:
        return await refuse(update, context, error)
    await answer_query(update)
    await close_buttons(update, pressed_label(update))
    return await advance(update, context, registration)


async def advance(update: Update, context: Context, registration: Registration) -> str | int:
    step = await registrations.step_after_answer(registration)
    if step == Step.SUMMARY and registration.status == RegistrationStatus.CONFIRMED:
        # An edit of her registration counts once every answer is in: her groups follow now,
        # not when she taps "Done" (the summary shown next is no question).
        await registrations.confirm(registration)
    return await ask(update, context, step, registration)


async def refuse(update: Update, context: Context, error: UserInputError) -> str | int:
    """A choice the service rejected: say why, ask the step's question again."""
    message = error.translate(tr(update, context).gettext)
    if update.callback_query is not None:
        await answer_query(update, message, alert=True)
    else:
        await send(update, context, message)
    step, _editing = pending(context)
    return await ask(update, context, step or Step.SUMMARY)


async def registration_or_expire(update: Update, context: Context) -> Registration | None:
    registration = await current_registration(update, context)
    if registration is None or registration.status == RegistrationStatus.CANCELLED:
        _ = tr(update, context).gettext
        await answer_query(update)
        await send(update, context, _("Your sign-up has expired. Open the event's link again."))
        return None
    return registration


# -- entry: a registration to fill in ---------------------------------------------------------


async def begin(update: Update, context: Context, registration: Registration) -> str | int:
    """Called by /start with an attendee code: language first, or the summary if done."""
    context.user_data[EVENT_KEY] = registration.event_id
    if registration.status == RegistrationStatus.CONFIRMED:
        return await ask(update, context, Step.SUMMARY)
    return await ask(update, context, Step.LANGUAGE)


async def resume(update: Update, context: Context) -> str | int:
    """Called by /start when it started no sign-up (no code, an unknown one, a volunteer's
    link…): a sign-up she was in goes on with its question again; an edit is left."""
    step, editing = pending(context)
    if step is None:
        return END
    if editing:
        await retire_previous_prompt(update, context)
        return END
    return await ask(update, context, step)


# -- what is meant for somewhere else -----------------------------------------------------------


async def leave_edit(update: Update, context: Context) -> int:
    """A command while she edits her registration: the edit is left as it is (what she
    answered is kept, the registration stays confirmed), its question closed, and the command
    does what it does anywhere else."""
    await retire_previous_prompt(update, context)
    hand_over(context)
    return END


def unless_for_her_group(callback):
    """A message callback of the conversation, except for a reply to a message relayed from
    her group: that goes to the group, at any step. An edit is left; a sign-up question stays
    where it was."""

    @functools.wraps(callback)
    async def answer(update: Update, context: Context) -> str | int | None:
        reply = update.effective_message.reply_to_message
        if (
            reply is None
            or await group_relay.group_of_reply(update.effective_user.id, reply.message_id) is None
        ):
            return await callback(update, context)
        _step, editing = pending(context)
        if editing:
            return await leave_edit(update, context)
        hand_over(context)
        return None  # the sign-up stays at her question

    return answer


async def on_me(update: Update, context: Context) -> str | int:
    _ = tr(update, context).gettext
    mine = await registrations.active_registrations(update.effective_user.id)
    if not mine:
        await send(
            update,
            context,
            _("You are not signed up for any event. Open the link the organizers shared."),
        )
        return END
    if len(mine) == 1:
        context.user_data[EVENT_KEY] = mine[0].event_id
        return await ask(update, context, Step.SUMMARY)
    language = tr(update, context).language
    buttons = [
        (reg.event.localized("name", language), SignupMine(reg.event_id).encode()) for reg in mine
    ]
    await send(update, context, _("Which event?"), column(buttons))
    return END


@unsigned(SignupMine)
async def on_me_pick(update: Update, context: Context, tapped: SignupMine) -> str | int:
    event_id = tapped.event
    registration = await registrations.get_registration(update.effective_user.id, event_id)
    if registration is None or registration.status == RegistrationStatus.CANCELLED:
        await answer_query(update, tr(update, context).gettext("This button is no longer active."))
        return END
    await answer_query(update)
    await close_buttons(update)
    context.user_data[EVENT_KEY] = event_id
    return await ask(update, context, Step.SUMMARY)


# -- answers -----------------------------------------------------------------------------------


@unsigned(SignupLanguage)
async def on_language(update: Update, context: Context, tapped: SignupLanguage) -> str | int:
    return await choose_language(update, context, tapped.code)


async def on_language_text(update: Update, context: Context) -> str | int:
    language = typed_language(update.effective_message.text or "")
    if language is None:
        return await unexpected_input(update, context)
    return await choose_language(update, context, language)


async def choose_language(update: Update, context: Context, language: str) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    registration.person = await people.set_language(update.effective_user.id, language)
    remember_language(context, language)
    await answer_query(update)
    await close_buttons(update, LANGUAGE_NAMES[language])
    return await advance(update, context, registration)


@unsigned(Charter)
async def on_charter(update: Update, context: Context, tapped: Charter) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    _ = tr(update, context).gettext
    await answer_query(update)
    if tapped.answer == "no":
        await close_buttons(update, _("I don't agree"))
        await send(
            update,
            context,
            _(
                "Without agreeing to the charter we cannot introduce you to companions. "
                "If you change your mind, open the event's link again."
            ),
        )
        return END
    await close_buttons(update, _("✅ I agree"))
    await registrations.record_consent(registration)
    return await advance(update, context, registration)


async def on_default_name(update: Update, context: Context) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    await fetch_missing(registration, "person")
    name = registration.person.display_name or update.effective_user.first_name
    return await save_name(update, context, registration, name)


async def on_name_text(update: Update, context: Context) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    return await save_name(update, context, registration, update.effective_message.text)


async def save_name(
    update: Update, context: Context, registration: Registration, name: str | None
) -> str | int:
    try:
        person = await people.set_display_name(update.effective_user.id, name)
    except UserInputError as error:
        return await refuse(update, context, error)
    registration.person = person  # her registration's copy shows the new name
    await answer_query(update)
    await close_buttons(update, person.display_name)
    return await advance(update, context, registration)


async def on_name_not_text(update: Update, context: Context) -> str | int:
    _ = tr(update, context).gettext
    await send(update, context, _("Please type your name as a text message."))
    return await ask(update, context, Step.NAME)


@unsigned(Arrival, ArrivalSlotPick)
async def on_arrival(
    update: Update, context: Context, tapped: Arrival | ArrivalSlotPick
) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    if isinstance(tapped, ArrivalSlotPick):
        kind, slot_id = ArrivalKind.SLOT, tapped.slot
    else:
        kind = ArrivalKind.ALREADY_THERE if tapped.how == "here" else ArrivalKind.ON_MY_OWN
        slot_id = None
    return await save_choice(
        update, context, registration, registrations.set_arrival(registration, kind, slot_id)
    )


async def on_destination_text(update: Update, context: Context) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    _ = tr(update, context).gettext
    text = update.effective_message.text or ""
    await fetch_missing(registration, "event")
    found = await registrations.find_destination(
        text, registration.event, tr(update, context).language
    )
    if found.match is not None:
        try:
            await registrations.set_destination(registration, found.match.id)
        except UserInputError as error:  # a zone removed since she typed
            return await refuse(update, context, error)
        await send(update, context, _("📍 {place}").format(place=esc(found.match.name)))
        return await advance(update, context, registration)
    if found.suggestions:
        buttons = [(place.name, destination_button(update, place)) for place in found.suggestions]
        buttons += [
            (_("None of these: I'll type it again"), DestinationPick("retype").encode()),
            (_("No departure group for me"), questions.NO_DEPARTURE_GROUP),
        ]
        await send(
            update,
            context,
            _("I'm not sure which place “{text}” is. Did you mean:").format(text=esc(text[:60])),
            column(buttons),
        )
        return Step.DESTINATION.value
    await send(
        update,
        context,
        _(
            "I don't know “{text}”. Try the name of a neighbourhood, an arrondissement "
            "(like 11e) or a commune, or share a location pin."
        ).format(text=esc(text[:60])),
    )
    return Step.DESTINATION.value


async def on_destination_location(update: Update, context: Context) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    _ = tr(update, context).gettext
    location = update.effective_message.location
    await fetch_missing(registration, "event")
    place = await registrations.snap_location(
        location.latitude, location.longitude, registration.event, tr(update, context).language
    )
    if place is None:
        await send(
            update,
            context,
            _(
                "That pin is far from the neighbourhoods I know (Paris, Brussels and Mons areas). "
                "Please type the name of your neighbourhood or commune."
            ),
        )
        return Step.DESTINATION.value
    try:
        await registrations.set_destination(registration, place.id)
    except UserInputError as error:  # a zone removed since she shared the pin
        return await refuse(update, context, error)
    note = (
        _("📍 {place} (the organizers' zone nearest to your pin; the exact point is not kept)")
        if zones.is_zone(place.id)
        else _("📍 {place} (nearest neighbourhood; the exact point is not kept)")
    )
    await send(update, context, note.format(place=esc(place.name)))
    return await advance(update, context, registration)


def destination_button(update: Update, place) -> str:
    """A suggested neighbourhood's button, or a zone's: signed, since it names the zone."""
    number = zones.zone_id(place.id)
    if number is None:
        return DestinationPlace(place.id).encode()
    return callbacks.button(update, DestinationZone(number))


@callbacks.signed(DestinationZone)
async def on_destination_zone(
    update: Update, context: Context, tapped: DestinationZone
) -> str | int:
    """A suggested zone: it must still be one of her event's zones."""
    return await pick_destination(update, context, zones.place_id(tapped.number))


@unsigned(DestinationPick, DestinationPlace)
async def on_destination_pick(
    update: Update, context: Context, tapped: DestinationPick | DestinationPlace
) -> str | int:
    if isinstance(tapped, DestinationPlace) and zones.is_zone(tapped.place):
        return await stale_button(update, context)  # a zone comes signed (`DestinationZone`)
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    _ = tr(update, context).gettext
    if isinstance(tapped, DestinationPick) and tapped.what == "retype":
        await answer_query(update)
        await close_buttons(update)
        await send(update, context, _("OK, type your neighbourhood or commune again."))
        return Step.DESTINATION.value
    place = tapped.place if isinstance(tapped, DestinationPlace) else None
    return await pick_destination(update, context, place, registration)


async def pick_destination(
    update: Update,
    context: Context,
    place_id: str | None,
    registration: Registration | None = None,
) -> str | int:
    """A destination button: a suggestion, or no departure group."""
    registration = registration or await registration_or_expire(update, context)
    if registration is None:
        return END
    return await save_choice(update, context, registration,
                             registrations.set_destination(registration, place_id))  # fmt: skip


@unsigned(TransportPick)
async def on_transport(update: Update, context: Context, tapped: TransportPick) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    return await save_choice(update, context, registration,
                             registrations.set_transport(registration, tapped.mode))  # fmt: skip


@unsigned(SeatsPick)
async def on_seats(update: Update, context: Context, tapped: SeatsPick) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    return await save_choice(update, context, registration,
                             registrations.set_seats(registration, tapped.count))  # fmt: skip


async def on_seats_text(update: Update, context: Context) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    try:
        seats = registrations.parse_seats(update.effective_message.text)
        await registrations.set_seats(registration, seats)
    except UserInputError as error:
        return await refuse(update, context, error)
    await retire_previous_prompt(update, context)
    return await advance(update, context, registration)


@unsigned(WavePick)
async def on_wave(update: Update, context: Context, tapped: WavePick) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    saving = registrations.set_departure_wave(registration, tapped.wave)
    return await save_choice(update, context, registration, saving)


async def on_edit(update: Update, context: Context, step: Step) -> str | int:
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    await answer_query(update)
    await close_buttons(update)
    if step in (Step.TRANSPORT, Step.SEATS) and not registration.wants_departure_group:
        step = Step.DESTINATION
    elif step == Step.SEATS and not drives_a_car(registration):
        step = Step.TRANSPORT
    return await ask(update, context, step)


async def on_confirm(update: Update, context: Context) -> str | int:
    if not await is_current_prompt(update, context):
        return await stale_button(update, context)
    registration = await registration_or_expire(update, context)
    if registration is None:
        return END
    _ = tr(update, context).gettext
    try:
        await registrations.confirm(registration)
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return await advance(update, context, registration)
    await answer_query(update)
    await close_buttons(update)
    await fetch_missing(registration, "event")
    signed_up = (
        _(
            "You're signed up for <b>{event}</b>! Shortly before your time we send you your "
            "table's call link and introduce the people at it, by display name only. /me shows "
            "or edits your answers, /leave cancels your registration."
        )
        if registration.online
        else _(
            "You're signed up for <b>{event}</b>! We will introduce your companions before "
            "the event, by display name only. /me shows or edits your answers, /leave cancels "
            "your registration."
        )
    )
    # A safe word answers "are you home?": nobody joining online is asked that.
    offer = "" if registration.online else await safety.safe_word_offer(update, context)
    await send(
        update,
        context,
        signed_up.format(
            event=esc(registration.event.localized("name", tr(update, context).language))
        )
        + offer,
        # From now on, "🆘 I need help" stays under her keyboard (handlers/help.py).
        **help_keyboard(tr(update, context)),
    )
    context.user_data.pop(PROMPT_KEY, None)  # answered: a second tap of it is stale
    return END


def pressed_label(update: Update) -> str | None:
    """The label of the button she tapped, to echo her choice in the message."""
    query = update.callback_query
    message = query.message if query else None
    if message is None or not message.is_accessible or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


# -- input that does not fit the step ---------------------------------------------------------


async def unexpected_input(update: Update, context: Context) -> str | int:
    """Free text, a sticker, a photo, a command of another journey: explain, ask again."""
    _ = tr(update, context).gettext
    message = update.effective_message
    step = pending(context)[0] or Step.SUMMARY
    if message is not None and message.text and message.text.startswith("/"):
        text = _(
            "You are in the middle of signing up. Finish it, or send /cancel to stop here "
            "(your answers so far are kept)."
        )
    elif step in (Step.NAME, Step.DESTINATION) and (message is None or not message.text):
        text = _("I can only read text here.")
    else:
        text = _("Please answer with one of the buttons below.")
    await send(update, context, text)
    return await ask(update, context, step)


async def stale_button(update: Update, context: Context) -> str | int:
    """A button of an earlier question (or a forged one): say so, ask the current question."""
    await answer_query(update, tr(update, context).gettext("This button is no longer active."))
    step, _editing = pending(context)
    if step is None:  # an old summary's button: tidy it away
        await close_buttons(update)
        return END
    return await ask(update, context, step)


def conversation(start_handler: BaseHandler, fallbacks: list[BaseHandler]) -> Conversation:
    """The sign-up conversation; `/start` dispatching and shared commands come from outside.

    Each step has two states: answering it in the sign-up, and answering it to edit a
    confirmed registration, where a command (but /cancel, /start, /me) leaves the edit."""
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    text = private & filters.TEXT & ~filters.COMMAND

    def button(callback, *kinds: type[Action]) -> CallbackQueryHandler:
        return CallbackQueryHandler(callback, pattern=pattern(*kinds))

    again = [
        start_handler,
        CommandHandler("me", on_me, filters=private),
        button(on_me_pick, SignupMine),
    ]
    summary = [
        button(on_confirm, Confirm),
        button(on_edit_checked, Edit),
    ]
    return Conversation(
        name=CONVERSATION_NAME,
        # Her summary's buttons work outside the conversation too: it ends on showing it.
        entry_points=[*again, *summary],
        states=with_edit_states(
            {
                Step.LANGUAGE.value: [
                    button(on_language, SignupLanguage),
                    MessageHandler(text, on_language_text),
                ],
                Step.CHARTER.value: [button(on_charter, Charter)],
                Step.NAME.value: [
                    button(on_default_name, DefaultName),
                    MessageHandler(text, on_name_text),
                    MessageHandler(private & ~filters.COMMAND, on_name_not_text),
                ],
                Step.ARRIVAL.value: [button(on_arrival, Arrival, ArrivalSlotPick)],
                Step.ATTENDANCE.value: [button(on_attendance, Attendance)],
                Step.ACTIVITY.value: [
                    button(on_activity, ActivityPick, AnyActivity),
                    MessageHandler(text, on_activity_text),
                ],
                Step.DESTINATION.value: [
                    MessageHandler(text, on_destination_text),
                    MessageHandler(private & filters.LOCATION, on_destination_location),
                    button(on_destination_pick, DestinationPick, DestinationPlace),
                    CallbackQueryHandler(
                        on_destination_zone, pattern=callbacks.signed_pattern(DestinationZone)
                    ),
                ],
                Step.TRANSPORT.value: [button(on_transport, TransportPick)],
                Step.SEATS.value: [
                    button(on_seats, SeatsPick),
                    MessageHandler(text, on_seats_text),
                ],
                Step.WAVE.value: [button(on_wave, WavePick)],
                Step.SUMMARY.value: summary,
            }
        ),
        fallbacks=[
            *again,
            *fallbacks,
            CallbackQueryHandler(stale_button),
            MessageHandler(
                filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE,
                unless_for_her_group(unexpected_input),
            ),
        ],
    )


def with_edit_states(states: dict[str, list[BaseHandler]]) -> dict[str, list[BaseHandler]]:
    """The sign-up's states, and the same steps editing a confirmed registration, where a
    command (but /cancel, /start and /me) leaves the edit. Messages of either are checked for
    replies to her group first."""
    for handler in (handler for handlers in states.values() for handler in handlers):
        if isinstance(handler, MessageHandler):
            handler.callback = unless_for_her_group(handler.callback)
    staying = filters.Regex(r"^/(cancel|start|me)(@\w+)?(\s|$)")
    leave = MessageHandler(
        filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.COMMAND & ~staying,
        leave_edit,
    )
    editing = {
        state_of(Step(step), editing=True): [leave, *handlers]
        for step, handlers in states.items()
        if step != Step.SUMMARY.value  # a confirmed registration's summary is no state
    }
    return states | editing


@unsigned(Edit)
async def on_edit_checked(update: Update, context: Context, tapped: Edit) -> str | int:
    if tapped.step not in {s.value for s in EDITABLE}:
        return await stale_button(update, context)
    if not await is_current_prompt(update, context):
        return await stale_button(update, context)
    return await on_edit(update, context, Step(tapped.step))
