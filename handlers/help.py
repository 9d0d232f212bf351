"""Asking for help: `/help` or the persistent "🆘 I need help" button, three levels, one
confirming tap; volunteers claim the alert. These handlers run before every journey: help
must work whatever she was doing, and while her alert is open what she writes goes to it."""

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

from companion_bot.actions import HelpAnswer, HelpCancel, HelpLevelPick, VolunteerHelp
from companion_bot.i18n import translations_of
from companion_bot.models import HelpLevel
from companion_bot.services import help as alerts
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import HELP_BUTTON
from handlers.callbacks import button, pattern, signed, signed_pattern, unsigned
from handlers.common import Context, answer_query, close_buttons, column, send, tr
from handlers.start import welcome_text

HELP_GROUP = -5  # after the flood guard, before every journey
PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


async def on_help(update: Update, context: Context) -> None:
    t = tr(update, context)
    _ = t.gettext
    if await alerts.live_event_of(update.effective_user.id) is None:
        await send(update, context, welcome_text(update, context))
        await send(update, context, _(
            "If you are in danger, call 112 (emergency number in France and Belgium) or go to "
            "a volunteer or the bar."
        ))  # fmt: skip
        raise ApplicationHandlerStop
    buttons = [
        (_(label), HelpLevelPick(level.value).encode())
        for level, label in alerts.LEVEL_NAMES.items()
    ]
    buttons.append((_("Cancel"), HelpCancel().encode()))
    await send(
        update,
        context,
        _("What is happening? The volunteers on duty will come to you."),
        column(buttons),
    )
    raise ApplicationHandlerStop


@unsigned(HelpLevelPick)
async def on_level(update: Update, context: Context, pick: HelpLevelPick) -> None:
    _ = tr(update, context).gettext
    try:
        alert = await alerts.draft(update.effective_user.id, pick.level)
    except UserInputError as error:
        await answer_query(update)
        await send(update, context, error.translate(_))
        raise ApplicationHandlerStop from None
    await answer_query(update)
    await close_buttons(update, _(alerts.LEVEL_NAMES[HelpLevel(alert.level)]))
    await send(
        update,
        context,
        _("Send an alert to the volunteers on duty now?"),
        column([
            (_("🆘 Yes, alert them"), button(update, HelpAnswer("yes", alert.id))),
            (_("Cancel"), button(update, HelpAnswer("no", alert.id))),
        ]),
    )  # fmt: skip
    raise ApplicationHandlerStop


async def on_cancel_menu(update: Update, context: Context) -> None:
    await answer_query(update)
    await close_buttons(update, tr(update, context).gettext("Cancel"))
    raise ApplicationHandlerStop


@signed(HelpAnswer)
async def on_her_button(update: Update, context: Context, answer: HelpAnswer) -> None:
    _ = tr(update, context).gettext
    action, alert_id = answer.what, answer.alert
    user_id = update.effective_user.id
    try:
        if action == "yes":
            sent = await alerts.confirm(user_id, alert_id)
            await answer_query(update)
            await close_buttons(update, _("🆘 Yes, alert them"))
            text = await alerts.sent_text(tr(update, context), sent)
            await send(update, context, text, column(
                [(_("I'm OK now, close it"), button(update, HelpAnswer("close", alert_id)))]
            ))  # fmt: skip
        elif action == "no":
            await alerts.cancel(user_id, alert_id)
            await answer_query(update)
            await close_buttons(update, _("Cancel"))
        elif action == "close":
            await alerts.close(user_id, alert_id)
            await answer_query(update)
            await close_buttons(update, _("I'm OK now, close it"))
            await send(update, context, _("Your help request is closed. Take care!"))
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
    raise ApplicationHandlerStop


@signed(VolunteerHelp)
async def on_volunteer_button(update: Update, context: Context, tapped: VolunteerHelp) -> None:
    t = tr(update, context)
    _ = t.gettext
    action, alert_id = tapped.what, tapped.alert
    user_id = update.effective_user.id
    try:
        if action == "claim":
            claim = await alerts.claim(user_id, alert_id)
            if not claim.first:
                taken = _("Already taken by {name}.").format(name=claim.claimed_by)
                await answer_query(update, taken, alert=True)
                await close_buttons(update, _("Taken by {name}").format(name=claim.claimed_by))
                raise ApplicationHandlerStop
            await answer_query(update)
            await close_buttons(update, _("You have it"))
            await send(
                update,
                context,
                _("Thank you. She knows you are coming. Close the alert once she is safe."),
                column([(_(alerts.CLOSE), button(update, VolunteerHelp("close", alert_id)))]),
            )
        elif action == "close":
            await alerts.close(user_id, alert_id)
            await answer_query(update)
            await close_buttons(update, _(alerts.CLOSE))
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
    raise ApplicationHandlerStop


async def on_detail(update: Update, context: Context) -> None:
    """While her alert is open, her words and location go to whoever handles it."""
    message = update.effective_message
    if message is None or (message.text or "").startswith("/"):
        return
    location = (message.location.latitude, message.location.longitude) if message.location else None
    if message.text is None and location is None:
        return
    alert = await alerts.add_detail(update.effective_user.id, message.text, location)
    if alert is None:
        return
    await send(update, context, tr(update, context).gettext("Passed on to the volunteers."))
    raise ApplicationHandlerStop


def early_handlers() -> list[BaseHandler]:
    """Registered in HELP_GROUP: before the conversations, so help always works."""
    help_texts = sorted(translations_of(HELP_BUTTON))
    return [
        CommandHandler("help", on_help, filters=filters.ChatType.PRIVATE),
        MessageHandler(PRIVATE & filters.Text(help_texts), on_help),
        CallbackQueryHandler(on_level, pattern=pattern(HelpLevelPick)),
        CallbackQueryHandler(on_cancel_menu, pattern=pattern(HelpCancel)),
        CallbackQueryHandler(on_her_button, pattern=signed_pattern(HelpAnswer)),
        CallbackQueryHandler(on_volunteer_button, pattern=signed_pattern(VolunteerHelp)),
        MessageHandler(PRIVATE & (filters.TEXT | filters.LOCATION), on_detail),
    ]
