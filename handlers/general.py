"""Commands that work everywhere (/help, /language, /leave, /cancel), what to say to input
no journey expects, and the error handler."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from companion_bot import persistence
from companion_bot.actions import ChooseLanguage, LeaveConfirm, LeaveKeep, LeavePick
from companion_bot.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    pick_language,
    translator,
)
from companion_bot.services import outbox, people, registrations
from companion_bot.services.errors import UserInputError
from companion_bot.workers.inbox import current_scope
from handlers import relay
from handlers.callbacks import pattern, unsigned
from handlers.common import (
    LANGUAGE_KEY,
    Context,
    answer_query,
    close_buttons,
    column,
    esc,
    remember_language,
    send,
    tr,
)
from handlers.conversation import END
from handlers.start import welcome_text

logger = logging.getLogger(__name__)
PRIVATE = filters.ChatType.PRIVATE
LEAVE = (LeavePick, LeaveConfirm, LeaveKeep)
LeaveButton = LeavePick | LeaveConfirm | LeaveKeep


async def on_language(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    buttons = [(LANGUAGE_NAMES[lang], ChooseLanguage(lang).encode()) for lang in LANGUAGES]
    await send(update, context, _("Choose your language:"), column(buttons))


@unsigned(ChooseLanguage)
async def on_language_button(update: Update, context: Context, choice: ChooseLanguage) -> None:
    language = choice.code
    await people.set_language(update.effective_user.id, language)
    remember_language(context, language)
    _ = tr(update, context).gettext
    await answer_query(update)
    await close_buttons(update, LANGUAGE_NAMES[language])
    await send(update, context, _("I will speak English with you.").format())


async def on_name(update: Update, context: Context) -> None:
    """`/name Sam` changes the name others see; `/name` alone shows it."""
    _ = tr(update, context).gettext
    wanted = " ".join(context.args or [])
    if not wanted:
        person = await people.get_person(update.effective_user.id)
        current = person.display_name if person and person.display_name else "—"
        text = _("Others see you as “{name}”. To change it, send /name followed by the new name.")
        await send(update, context, text.format(name=esc(current)))
        return
    try:
        person = await people.set_display_name(update.effective_user.id, wanted)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return
    await send(update, context, _("Done: others now see you as “{name}”.").format(
        name=esc(person.display_name)))  # fmt: skip


async def on_cancel_in_conversation(update: Update, context: Context) -> int:
    _ = tr(update, context).gettext
    await send(
        update,
        context,
        _("Stopped. Your answers so far are kept: /me shows them, or open the link again."),
    )
    return END


async def on_cancel(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    await send(update, context, _("There is nothing to cancel right now."))


async def on_leave(update: Update, context: Context) -> int:
    t = tr(update, context)
    _ = t.gettext
    mine = await registrations.active_registrations(update.effective_user.id)
    if not mine:
        await send(update, context, _("You are not signed up for any event."))
        return END
    buttons = [
        (
            _("Cancel my registration for {event}").format(
                event=reg.event.localized("name", t.language)
            ),
            LeavePick(reg.id).encode(),
        )
        for reg in mine
    ]
    buttons.append((_("Keep my registration"), LeaveKeep().encode()))
    await send(update, context, _("Which registration do you want to cancel?"), column(buttons))
    return END


@unsigned(*LEAVE)
async def on_leave_button(update: Update, context: Context, choice: LeaveButton) -> None:
    _ = tr(update, context).gettext
    if isinstance(choice, LeaveKeep):
        await answer_query(update)
        await close_buttons(update, _("Keep my registration"))
        return
    if isinstance(choice, LeaveConfirm):
        cancelled = await registrations.cancel(update.effective_user.id, choice.registration)
        if cancelled is None:
            await answer_query(update, _("This button is no longer active."))
            await close_buttons(update)
            return
        await answer_query(update)
        await close_buttons(update)
        await send(
            update,
            context,
            _("Your registration for <b>{event}</b> is cancelled. Take care!").format(
                event=esc(cancelled.event.localized("name", tr(update, context).language))
            ),
        )
        return
    await answer_query(update)
    await close_buttons(update)
    await send(
        update,
        context,
        _("Are you sure? Your companions will no longer count on you."),
        column(
            [
                (_("Yes, cancel it"), LeaveConfirm(choice.registration).encode()),
                (_("No, keep it"), LeaveKeep().encode()),
            ]
        ),
    )


def everywhere() -> list[BaseHandler]:
    """Commands that work in and out of conversations."""
    return [
        CommandHandler("leave", on_leave, filters=PRIVATE),
        CommandHandler("language", on_language, filters=PRIVATE),
        CommandHandler("name", on_name, filters=PRIVATE),
        CallbackQueryHandler(on_language_button, pattern=pattern(ChooseLanguage)),
    ]


def shared_commands() -> list[BaseHandler]:
    """Commands every conversation also accepts (as fallbacks) so they work mid-journey."""
    return [CommandHandler("cancel", on_cancel_in_conversation, filters=PRIVATE), *everywhere()]


# -- input nobody expects ----------------------------------------------------------------------


async def on_stray_button(update: Update, context: Context) -> None:
    await answer_query(update, tr(update, context).gettext("This button is no longer active."))


async def on_stray_message(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    message = update.effective_message
    if message.text and message.text.startswith("/"):
        text = _("I don't know that command.") + "\n\n" + welcome_text(update, context)
    else:
        text = _("I didn't understand that.") + "\n\n" + welcome_text(update, context)
    await send(update, context, text)


async def on_group_message(update: Update, context: Context) -> None:
    """In groups the bot stays silent except to point to the private chat."""
    if update.effective_message and update.effective_message.text:
        _ = tr(update, context).gettext
        await send(
            update,
            context,
            _("I only talk in private, to keep everyone's details safe. Write to me directly."),
            reply_parameters={"message_id": update.effective_message.message_id},
        )


async def on_bot_status(update: Update, context: Context) -> None:
    """She blocked or unblocked the bot: stop or resume queued messages to her."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    if change.new_chat_member.status == "kicked":
        await people.mark_blocked(change.from_user.id)
    elif change.new_chat_member.status == "member":
        await outbox.mark_reachable(change.from_user.id)


def global_handlers() -> list[BaseHandler]:
    """Registered after the conversations, in the same group: they see what nobody took."""
    return [
        CommandHandler("cancel", on_cancel, filters=PRIVATE),
        *everywhere(),
        CallbackQueryHandler(on_leave_button, pattern=pattern(*LEAVE)),
        CallbackQueryHandler(on_stray_button),
        relay.relay_handler(),
        MessageHandler(PRIVATE & filters.UpdateType.MESSAGE, on_stray_message),
        CommandHandler(["start", "help"], on_group_message, filters=filters.ChatType.GROUPS),
        ChatMemberHandler(on_bot_status, ChatMemberHandler.MY_CHAT_MEMBER),
    ]


def unreachable(error: BaseException | None) -> bool:
    """Telegram refused to deliver our answer: she blocked the bot or the chat is gone.
    Nothing is wrong on our side, and retrying would not help."""
    if isinstance(error, Forbidden):
        return True
    return isinstance(error, BadRequest) and "chat not found" in str(error).lower()


async def on_error(update: object, context: Context) -> None:
    """A handler failed. While an update is being handled (always, in the running bot) the
    inbox worker rolls back its transaction and tries again, then sets it aside and tells
    her (`tell_update_failed`): nothing is said here, nothing is half done."""
    # Counted for /metrics and for the tests that feed the bot hostile input.
    context.application.bot_data["errors"] = context.application.bot_data.get("errors", 0) + 1
    scope = current_scope()
    if scope is not None:
        scope.error = context.error
        return
    if unreachable(context.error):
        user = update.effective_user if isinstance(update, Update) else None
        logger.info("Could not answer %s: %s", "a person" if user else "an update", context.error)
        if user is not None and isinstance(context.error, Forbidden):
            await people.mark_blocked(user.id)
        return
    logger.error("Unhandled error while handling an update", exc_info=context.error)


async def tell_update_failed(update: Update, application: Application) -> None:
    """Her update failed every time it was tried (the inbox set it aside): say so in her
    private chat, so she does not wait for an answer that will not come."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or chat.type != "private":
        return
    saved = (await persistence.load(user.id)).get(LANGUAGE_KEY) if user else None
    default = application.bot_data["settings"].DEFAULT_LANGUAGE
    _ = translator(pick_language(saved, user.language_code if user else None, default)).gettext
    await outbox.enqueue(
        chat.id,
        _("Sorry, something went wrong on our side. Your answers are saved: please try again."),
        priority=outbox.REPLY_PRIORITY,
    )
