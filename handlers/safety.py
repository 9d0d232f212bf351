"""Safety tools: `/testalert` (an organizer, before doors open, checks that alerts reach the
volunteers on duty) and the volunteers' "Received" answer to it; the attendee's safe word
(offered after sign-up, `/safeword`) and her duress answer to "are you home?"."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from companion_bot.actions import DrillReceived, SafetyTestPick, SafeWord
from companion_bot.i18n import N_
from companion_bot.services import broadcasts, drills, duress
from companion_bot.services.errors import UserInputError
from handlers.callbacks import button, signed, signed_pattern
from handlers.closing import pressed_label
from handlers.common import Context, answer_query, close_buttons, column, send, tr
from handlers.conversation import END, Conversation

PRIVATE = filters.ChatType.PRIVATE


async def on_test_alert(update: Update, context: Context) -> None:
    t = tr(update, context)
    _ = t.gettext
    events = await broadcasts.organizer_events(update.effective_user.id)
    if not events:
        await send(update, context, _("Only this event's organizers can do this."))
    elif len(events) == 1:
        await send_test(update, context, events[0].id)
    else:
        await send(update, context, _("Which event?"), column([
            (event.localized("name", t.language), button(update, SafetyTestPick(event.id)))
            for event in events
        ]))  # fmt: skip


async def send_test(update: Update, context: Context, event_id: int) -> None:
    t = tr(update, context)
    try:
        count = await drills.send_test_alert(update.effective_user.id, event_id)
    except UserInputError as error:
        await send(update, context, error.translate(t.gettext))
        return
    await send(update, context, t.ngettext(
        "🧪 Test alert sent to {count} volunteer on duty. The board shows who received it.",
        "🧪 Test alert sent to {count} volunteers on duty. The board shows who received it.",
        count,
    ).format(count=count))  # fmt: skip


@signed(SafetyTestPick, DrillReceived)
async def on_button(
    update: Update, context: Context, tapped: SafetyTestPick | DrillReceived
) -> None:
    """The organizer picked her event, or a volunteer tapped "Received"."""
    _ = tr(update, context).gettext
    if isinstance(tapped, SafetyTestPick):
        await answer_query(update)
        await close_buttons(update)
        await send_test(update, context, tapped.event)
        return
    try:
        await drills.acknowledge(update.effective_user.id, tapped.receipt)
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return
    await answer_query(update, _("Thank you: the organizers see that alerts reach you."))
    await close_buttons(update, _(drills.RECEIVED))


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("testalert", on_test_alert, filters=PRIVATE),
        CallbackQueryHandler(on_button, pattern=signed_pattern(SafetyTestPick, DrillReceived)),
    ]


# -- the safe word ------------------------------------------------------------------------------

DURESS_GROUP = -6  # after the flood guard, before help and every journey: never relayed
WORD = "safeword_word"
TEXT = PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
OFFER = N_(
    "🔐 Optional: a safe word. If someone ever forces you to say you are home, answer “Did you "
    "get home safely?” by writing this word instead of tapping the button. Your screen will "
    "show the usual answer, but the volunteers and organizers will be alerted that you may be "
    "in danger. Nobody will ever see the word, not even you: only a scrambled form of it is kept."
)
TO_CHOOSE = N_("/safeword to choose one.")
ASK_WORD = N_(
    "Write your safe word: one or a few words nobody would guess, that you will remember. "
    "/cancel to stop."
)
HOME_NOTE = N_("🏠 Glad you are home! Your group knows. Sleep well.")


async def safe_word_offer(update: Update, context: Context) -> str:
    """The paragraph closing her sign-up confirmation: the optional safe word, explained in her
    language ("" once she has one)."""
    if await duress.has_safe_word(update.effective_user.id):
        return ""
    _ = tr(update, context).gettext
    return f"\n\n{_(OFFER)} {_(TO_CHOOSE)}"


async def on_safe_word_command(update: Update, context: Context) -> str | int:
    t = tr(update, context)
    _ = t.gettext
    if await duress.has_safe_word(update.effective_user.id):
        await send(update, context, _("You have a safe word. Change it or remove it?"), column([
            (_("Change it"), button(update, SafeWord("set"))),
            (_("Remove it"), button(update, SafeWord("del"))),
        ]))  # fmt: skip
        return END
    await send(update, context, f"{_(OFFER)}\n\n{_(ASK_WORD)}")
    return WORD


@signed(SafeWord)
async def on_safe_word_button(update: Update, context: Context, tapped: SafeWord) -> str | int:
    _ = tr(update, context).gettext
    await answer_query(update)
    await close_buttons(update, pressed_label(update))
    if tapped.what == "set":
        await send(update, context, _(ASK_WORD))
        return WORD
    await duress.remove_safe_word(update.effective_user.id)
    await send(update, context, _("Your safe word is removed."))
    return END


async def on_word(update: Update, context: Context) -> str | int:
    _ = tr(update, context).gettext
    try:
        await duress.set_safe_word(update.effective_user.id, update.effective_message.text)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return WORD
    await send(update, context, _(
        "🔐 Your safe word is saved. Write it as your answer to “Did you get home safely?” only "
        "if you are in danger. You may delete your message from this chat. /safeword changes "
        "or removes it."
    ))  # fmt: skip
    return END


async def on_not_a_word(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    await send(update, context, _("Write your safe word as a text message, or /cancel."))


async def on_answer(update: Update, context: Context) -> None:
    """Her safe word while "are you home?" waits: the usual answer on her screen, the team
    alerted, and the word goes nowhere else (not to her group, not to a journey)."""
    message = update.effective_message
    if message is None or not await duress.answer(update.effective_user.id, message.text):
        return
    await send(update, context, tr(update, context).gettext(HOME_NOTE))
    raise ApplicationHandlerStop


def early_handlers() -> list[BaseHandler]:
    """Registered in DURESS_GROUP."""
    return [MessageHandler(TEXT, on_answer)]


def conversation(fallbacks: list[BaseHandler]) -> Conversation:
    return Conversation(
        name="safeword",
        entry_points=[
            CommandHandler("safeword", on_safe_word_command, filters=PRIVATE),
            CallbackQueryHandler(on_safe_word_button, pattern=signed_pattern(SafeWord)),
        ],
        states={WORD: [MessageHandler(TEXT, on_word)]},
        fallbacks=[*fallbacks, MessageHandler(PRIVATE & filters.UpdateType.MESSAGE, on_not_a_word)],
    )
