"""Closing time in the chat: attendees' departure buttons and "I'm home", volunteers' `/duty`,
`/waves` with each group's card ("Group has left", "Someone is missing"; the cards themselves
are sent and kept up to date by `services.closing`)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from companion_bot.actions import Closing, Duty, GroupCard, MissingPick, SafeAnswer
from companion_bot.services import closing, escalation, night_buttons
from companion_bot.services.errors import UserInputError
from handlers.callbacks import button, signed, signed_pattern
from handlers.common import Context, answer_query, close_buttons, column, esc, send, tr

PRIVATE = filters.ChatType.PRIVATE


async def refuse(update: Update, context: Context, error: UserInputError) -> None:
    await answer_query(update, error.translate(tr(update, context).gettext), alert=True)


# -- attendee --------------------------------------------------------------------------------


@signed(Closing)
async def on_attendee_button(update: Update, context: Context, action: Closing) -> None:
    try:
        note = await night_buttons.press(update.effective_user.id, tr(update, context), action)
    except UserInputError as error:
        await refuse(update, context, error)
        return
    await answer_query(update)
    await close_buttons(update, pressed_label(update))
    await send(update, context, note)


def pressed_label(update: Update) -> str | None:
    query = update.callback_query
    message = query.message
    if message is None or not message.is_accessible or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for key in row:
            if key.callback_data == query.data:
                return key.text
    return None


# -- volunteer -------------------------------------------------------------------------------


async def on_duty(update: Update, context: Context) -> None:
    t = tr(update, context)
    _ = t.gettext
    roles = await closing.duty_roles(update.effective_user.id)
    if not roles:
        await send(update, context, _("You are not a volunteer at an upcoming event."))
        return
    buttons = []
    for role in roles:
        label = (_("Go off duty at {event}") if role.on_duty
                 else _("Go on duty at {event}")).format(
                     event=role.event.localized("name", t.language))  # fmt: skip
        buttons.append((label, button(update, Duty(role.event_id, not role.on_duty))))
    lines = [
        (_("🟢 On duty at {event}") if role.on_duty else _("⚪ Off duty at {event}")).format(
            event=esc(role.event.localized("name", t.language))
        )
        for role in roles
    ]
    await send(update, context, "\n".join(lines), column(buttons))


@signed(Duty)
async def on_duty_button(update: Update, context: Context, action: Duty) -> None:
    _ = tr(update, context).gettext
    try:
        role = await closing.set_duty(update.effective_user.id, action.event, action.on_duty)
    except UserInputError as error:
        await refuse(update, context, error)
        return
    await answer_query(update)
    await close_buttons(update)
    text = (
        _("🟢 You are on duty at {event}: you will get help alerts and each departure's groups.")
        if role.on_duty
        else _("⚪ You are off duty at {event}. Thank you!")
    )
    await send(
        update,
        context,
        text.format(event=esc(role.event.localized("name", tr(update, context).language))),
    )


async def on_waves(update: Update, context: Context) -> None:
    """A volunteer or organizer asks for the groups of the next departures. Their cards come
    through the outbox, like those of the reminders, so they are kept up to date too."""
    t = tr(update, context)
    _ = t.gettext
    shown = await closing.send_waves(update.effective_user.id, t.language)
    if shown is None:
        await send(update, context, _("Only this event's volunteers and organizers can do this."))
    elif not shown:
        await send(update, context, _("No departure group yet."))


@signed(GroupCard)
async def on_volunteer_button(update: Update, context: Context, card: GroupCard) -> None:
    t = tr(update, context)
    _ = t.gettext
    group_id, user_id = card.group, update.effective_user.id
    try:
        if card.what == "left":
            # Every card of the group, this one too, then says who confirmed it, without
            # buttons (through the outbox).
            done = await closing.confirm_group_left(user_id, group_id)
            await answer_query(
                update,
                _("✅ Noted: the group has left. Its members are told.")
                if done.first
                else _("Already confirmed by {name}.").format(name=done.confirmed_by),
            )
            return
        candidates = await closing.missing_candidates(user_id, group_id)
    except UserInputError as error:
        await refuse(update, context, error)
        return
    await answer_query(update)
    if not candidates:
        await send(update, context, _("Everyone in this group is accounted for."))
        return
    buttons = [
        (member.name, button(update, MissingPick(group_id, member.registration_id)))
        for member in candidates
    ]
    await send(update, context, _("Who is missing?"), column(buttons))


@signed(MissingPick)
async def on_missing_pick(update: Update, context: Context, pick: MissingPick) -> None:
    _ = tr(update, context).gettext
    try:
        registration = await closing.flag_missing(
            update.effective_user.id, pick.group, pick.registration
        )
    except UserInputError as error:
        await refuse(update, context, error)
        return
    await answer_query(update)
    await close_buttons(update, registration.person.display_name)
    await send(
        update,
        context,
        _("We asked {name} where she is; her group will know her answer.").format(
            name=esc(registration.person.display_name)
        ),
    )


@signed(SafeAnswer)
async def on_safe_button(update: Update, context: Context, answer: SafeAnswer) -> None:
    """She is safe ("ok", from her group or the team), or a member of her group has no news
    either ("no")."""
    _ = tr(update, context).gettext
    user_id, registration_id = update.effective_user.id, answer.registration
    try:
        if answer.what == "ok":
            registration = await escalation.confirm_safe(user_id, registration_id)
            note = _("✅ Thank you: everyone who was alerted knows {name} is safe.")
        else:
            registration = await escalation.no_news(user_id, registration_id)
            note = (_("Thank you. She has said she is safe since: all clear.")
                    if registration.home_at else
                    _("Thank you. The volunteers are looking after it; tap “She's fine” if you "
                      "hear from {name}."))  # fmt: skip
    except UserInputError as error:
        await refuse(update, context, error)
        return
    await answer_query(update)
    if answer.what == "ok":
        await close_buttons(update, pressed_label(update))
    await send(update, context, note.format(name=esc(registration.person.display_name or "?")))


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("duty", on_duty, filters=PRIVATE),
        CommandHandler("waves", on_waves, filters=PRIVATE),
        CallbackQueryHandler(on_attendee_button, pattern=signed_pattern(Closing)),
        CallbackQueryHandler(on_duty_button, pattern=signed_pattern(Duty)),
        CallbackQueryHandler(on_volunteer_button, pattern=signed_pattern(GroupCard)),
        CallbackQueryHandler(on_missing_pick, pattern=signed_pattern(MissingPick)),
        CallbackQueryHandler(on_safe_button, pattern=signed_pattern(SafeAnswer)),
    ]
