"""The morning-after follow-up: did your group meet, did you get home well, anything to
report. Anonymous unless she asks to be contacted; then organizers and she write to each
other through the bot ("💬 Reply through the bot", "↩️ Answer")."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from companion_bot.actions import FollowupContact, FollowupDone, FollowupHome, FollowupMet
from companion_bot.services import followups, lifecycle
from companion_bot.services.errors import UserInputError
from handlers.callbacks import button, signed, signed_pattern
from handlers.common import Context, answer_query, close_buttons, column, esc, send, tr
from handlers.conversation import END, Conversation

HOME, REPORT, CONTACT = "followup_home", "followup_report", "followup_contact"
ANSWERS = "followup"
THREAD = "followup_thread"
PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
# Each step takes any of the follow-up's buttons, and refuses those of another step.
FOLLOWUP = (FollowupMet, FollowupHome, FollowupDone)
FollowupButton = FollowupMet | FollowupHome | FollowupDone


@signed(*FOLLOWUP)
async def on_met(update: Update, context: Context, met: FollowupButton) -> str | int:
    _ = tr(update, context).gettext
    if not isinstance(met, FollowupMet) or met.answer not in lifecycle.MET_ANSWERS:
        await answer_query(update, _("This button is no longer active."))
        return END
    context.user_data[ANSWERS] = {"event": met.event, "met": met.answer}
    await answer_query(update)
    await close_buttons(update, _(lifecycle.MET_ANSWERS[met.answer]))
    if met.mark == lifecycle.ONLINE_MARK:  # she joined online: no trip home
        return await ask_report(update, context, met.event)
    await send(update, context, _("Did you get home well?"), column([
        (_(label), button(update, FollowupHome(met.event, value)))
        for value, label in lifecycle.HOME_ANSWERS.items()
    ]))  # fmt: skip
    return HOME


@signed(*FOLLOWUP)
async def on_home(update: Update, context: Context, home: FollowupButton) -> str | int:
    _ = tr(update, context).gettext
    answers = context.user_data.get(ANSWERS)
    if (
        not isinstance(home, FollowupHome)
        or answers is None
        or home.answer not in lifecycle.HOME_ANSWERS
    ):
        await answer_query(update, _("This button is no longer active."))
        return HOME if answers else END
    answers["home"] = home.answer
    await answer_query(update)
    await close_buttons(update, _(lifecycle.HOME_ANSWERS[home.answer]))
    return await ask_report(update, context, answers["event"])


async def ask_report(update: Update, context: Context, event: int) -> str:
    _ = tr(update, context).gettext
    await send(
        update,
        context,
        _("Anything to report? Write it here, or tap a button."),
        column([
            (_("Nothing to report"), button(update, FollowupDone(event, contact=False))),
            (_("I'd like to be contacted"), button(update, FollowupDone(event, contact=True))),
        ]),
    )  # fmt: skip
    return REPORT


async def on_report_text(update: Update, context: Context) -> int:
    context.user_data.setdefault(ANSWERS, {})["report"] = update.effective_message.text
    _ = tr(update, context).gettext
    event = context.user_data[ANSWERS]["event"]
    await send(update, context, _("Thank you. Do you want the organizers to contact you about it?"),
               column([
                   (_("No, stay anonymous"), button(update, FollowupDone(event, contact=False))),
                   (_("I'd like to be contacted"),
                    button(update, FollowupDone(event, contact=True))),
               ]))  # fmt: skip
    return REPORT


@signed(*FOLLOWUP)
async def on_done(update: Update, context: Context, done: FollowupButton) -> int:
    _ = tr(update, context).gettext
    answers = context.user_data.pop(ANSWERS, None)
    await answer_query(update)
    await close_buttons(update)
    if not isinstance(done, FollowupDone) or answers is None:
        return END
    await lifecycle.record_followup(
        update.effective_user.id, answers["event"], answers.get("met", ""),
        answers.get("home", ""), answers.get("report"), contact=done.contact,
    )  # fmt: skip
    await send(update, context, _("Thank you for your answers. See you at the next event!"))
    return END


@signed(FollowupContact)
async def on_contact(update: Update, context: Context, contact: FollowupContact) -> str | int:
    """An organizer writes to her; with `organizer`, she answers that organizer."""
    _ = tr(update, context).gettext
    answer_id, organizer_id = contact.answer, contact.organizer
    try:
        found = await followups.thread(update.effective_user.id, answer_id, organizer_id)
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return END
    context.user_data[THREAD] = [answer_id, organizer_id]
    await answer_query(update)
    await send(update, context, _(
        "Write your message to {name}. It goes through the bot: your Telegram account is not "
        "shown. /cancel to stop."
    ).format(name=esc(found.recipient.display_name or "?")))  # fmt: skip
    return CONTACT


async def on_contact_text(update: Update, context: Context) -> str | int:
    _ = tr(update, context).gettext
    answer_id, organizer_id = context.user_data.get(THREAD) or (None, None)
    if answer_id is None:
        return END
    try:
        found = await followups.write(update.effective_user.id, answer_id, organizer_id,
                                      update.effective_message.text)  # fmt: skip
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return CONTACT
    context.user_data.pop(THREAD, None)
    await send(update, context, _("Sent to {name}.").format(
        name=esc(found.recipient.display_name or "?")))  # fmt: skip
    return END


async def on_unexpected(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    await send(update, context, _("Please answer with one of the buttons below, or /cancel."))


def conversation(fallbacks: list[BaseHandler]) -> Conversation:
    return Conversation(
        name="followup",
        entry_points=[
            CallbackQueryHandler(on_met, pattern=signed_pattern(*FOLLOWUP)),
            CallbackQueryHandler(on_contact, pattern=signed_pattern(FollowupContact)),
        ],
        states={
            HOME: [CallbackQueryHandler(on_home, pattern=signed_pattern(*FOLLOWUP))],
            REPORT: [
                CallbackQueryHandler(on_done, pattern=signed_pattern(*FOLLOWUP)),
                MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, on_report_text),
            ],
            CONTACT: [MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, on_contact_text)],
        },
        fallbacks=[*fallbacks, MessageHandler(PRIVATE, on_unexpected)],
    )
