"""Talking to her group through the bot: what a member writes (text, photo, location, live
location…) reaches the others under her display name only. `/group` shows her group with
mute and leave buttons; replying to a relayed message with `/report` reports it. Organizers
remove someone from her group or the event from a report's buttons, or with `/remove <name>`."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from companion_bot import notices
from companion_bot.actions import GroupButton, RemoveRegistration, RemoveReported
from companion_bot.i18n import N_
from companion_bot.models import Channel, GroupKind
from companion_bot.services import duress, relay
from companion_bot.services.errors import UserInputError
from companion_bot.services.groups import KIND_NAMES
from handlers.callbacks import button, signed, signed_pattern
from handlers.common import Context, answer_query, close_buttons, column, esc, send, tr

PRIVATE = filters.ChatType.PRIVATE


async def on_member_message(update: Update, context: Context) -> None:
    """Registered after the journeys: only what no conversation took is relayed."""
    _ = tr(update, context).gettext
    message = update.effective_message
    user_id = update.effective_user.id
    membership = None
    if message.reply_to_message is not None:
        membership = await relay.group_of_reply(user_id, message.reply_to_message.message_id)
    membership = membership or await relay.current_group(user_id)
    if membership is None:
        from handlers.general import on_stray_message

        await on_stray_message(update, context)
        return
    if message.contact is not None:
        await send(
            update, context, _("For your safety, I don't pass on contacts or phone numbers.")
        )
        return
    if message.text:
        relayed = await relay.relay(membership, message.message_id, text=message.text)
    elif message.location is not None and message.location.live_period:
        location = message.location
        # A timedelta: see companion_bot/__init__.py.
        seconds = int(location.live_period.total_seconds())  # type: ignore[union-attr]
        relayed = await relay.relay(membership, message.message_id,
                                    live_location=(location.latitude, location.longitude,
                                                   seconds))  # fmt: skip
    else:
        relayed = await relay.relay(membership, message.message_id, copy=True,
                                    media=media_of(message), caption=message.caption)  # fmt: skip
    if relayed.recipients == 0:
        await send(update, context, _("Nobody else in your group can receive messages right now."))
    elif relayed.parts > 1:
        await send(update, context, tr(update, context).ngettext(
            "Your message was too long for one Telegram message: your group gets it in {count} "
            "part.",
            "Your message was too long for one Telegram message: your group gets it in {count} "
            "parts.",
            relayed.parts,
        ).format(count=relayed.parts))  # fmt: skip


def media_of(message: Message) -> dict:
    """The file her message carries, for members on another channel: a photo's largest size,
    a voice note, a document (a sticker or anything else: only what it is)."""
    channel = Channel.TELEGRAM
    if message.photo:
        return notices.media(channel, notices.MEDIA_PHOTO, message.photo[-1].file_id)
    if message.voice is not None:
        voice = message.voice
        return notices.media(channel, notices.MEDIA_VOICE, voice.file_id, mime_type=voice.mime_type)
    if message.document is not None:
        document = message.document
        return notices.media(channel, notices.MEDIA_DOCUMENT, document.file_id,
                             mime_type=document.mime_type, filename=document.file_name)  # fmt: skip
    if message.sticker is not None:
        return notices.media(channel, notices.MEDIA_STICKER)
    return notices.media(channel, notices.MEDIA_OTHER)


async def on_live_location_moved(update: Update, context: Context) -> None:
    message = update.edited_message
    if message is None or message.location is None:
        return
    where = (message.location.latitude, message.location.longitude)
    await relay.move_live_location(update.effective_user.id, message.message_id, *where)
    # After a safe-word answer, the team alerted follows her too.
    await duress.share_with_team(update.effective_user.id, message.message_id, *where)


async def on_group(update: Update, context: Context) -> None:
    t = tr(update, context)
    _ = t.gettext
    membership = await relay.current_group(update.effective_user.id)
    if membership is None:
        await send(update, context, _("You are not in a group right now."))
        return
    from companion_bot.services.groups import active_members

    group = membership.group
    names = [m.registration.person.display_name or "?" for m in await active_members(group)]
    muted = membership.member.muted
    text = "\n".join([
        _("Your group for {event}: {names}.").format(
            event=esc(group.event.localized("name", t.language)), names=esc(", ".join(names))),
        _("Meeting at {time}.").format(time=t.time(group.meet_at, group.event.timezone)),
        *await table_line(t, group),
        _("Write here to talk to them. To report a message, reply to it with /report."),
    ])  # fmt: skip
    await send(update, context, text, column([
        (_("🔔 Unmute the group") if muted else _("🔕 Mute the group"),
         button(update, GroupButton("unmute" if muted else "mute", group.id))),
        (_("🚪 Leave the group"), button(update, GroupButton("leave", group.id))),
    ]))  # fmt: skip


async def table_line(t, group) -> list[str]:
    """An online group: its table's call link (she is one of its members)."""
    if group.table_id is None:
        return []
    await group.fetch_related("table")
    return [t.gettext("Your table: {table}, {link}").format(
        table=esc(group.table.name), link=esc(group.table.link))]  # fmt: skip


@signed(GroupButton)
async def on_group_button(update: Update, context: Context, tapped: GroupButton) -> None:
    _ = tr(update, context).gettext
    action, group_id = tapped.what, tapped.group
    user_id = update.effective_user.id
    try:
        if action in ("mute", "unmute"):
            await relay.set_muted(user_id, group_id, action == "mute")
            note = (
                _("Muted: you no longer receive your group's messages. /group to unmute.")
                if action == "mute"
                else _("Unmuted: you receive your group's messages again.")
            )
        else:
            await relay.leave_group(user_id, group_id)
            note = _("You left the group. The others are only told that a member left.")
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return
    await answer_query(update)
    await close_buttons(update)
    await send(update, context, note)


async def on_report(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    reply = update.effective_message.reply_to_message
    try:
        if reply is None:
            raise UserInputError(
                N_("To report a message, reply to it with /report (it must come from your group).")
            )
        await relay.report(update.effective_user.id, reply.message_id)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return
    await send(
        update, context, _("Thank you. The organizers have the message and will look at it.")
    )


async def on_remove(update: Update, context: Context) -> None:
    """`/remove <display name>`: an organizer removes someone from her group or the event."""
    t = tr(update, context)
    _ = t.gettext
    name = " ".join(context.args or [])
    if not name:
        await send(update, context, _(
            "Write the name the person shows in her group, like: /remove Ada"
        ))  # fmt: skip
        return
    try:
        found = await relay.removal_candidates(update.effective_user.id, name)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return
    if not found:
        await send(update, context, _("Nobody is signed up as “{name}” at your events.").format(
            name=esc(name[:40])))  # fmt: skip
        return
    for item in found:
        registration = item.registration
        zone = registration.event.timezone
        groups = ", ".join(
            _("{kind} at {time}").format(
                kind=_(KIND_NAMES[GroupKind(group.kind)]), time=t.time(group.meet_at, zone)
            )
            for group in item.groups
        )
        reg_id = registration.id
        buttons = [
            (_(relay.REMOVE_FROM_EVENT), button(update, RemoveRegistration("event", reg_id)))
        ]
        if item.groups:
            buttons.insert(0, (_(relay.REMOVE_FROM_GROUP),
                               button(update, RemoveRegistration("group", reg_id))))  # fmt: skip
        await send(update, context, _("<b>{name}</b> at {event}: {groups}").format(
            name=esc(registration.person.display_name),
            event=esc(registration.event.localized("name", t.language)),
            groups=esc(groups) if groups else _("not in a group"),
        ), column(buttons))  # fmt: skip


@signed(RemoveReported, RemoveRegistration)
async def on_remove_button(
    update: Update, context: Context, removal: RemoveReported | RemoveRegistration
) -> None:
    """`RemoveReported` from a report, `RemoveRegistration` from /remove."""
    _ = tr(update, context).gettext
    scope = removal.scope
    try:
        if isinstance(removal, RemoveReported):
            person = await relay.remove_reported(update.effective_user.id, removal.entry, scope)
        else:
            person = await relay.remove_registration(
                update.effective_user.id, removal.registration, scope
            )
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return
    await answer_query(update)
    await close_buttons(update)
    text = _("Done: {name} has been removed and told.").format(name=esc(person.display_name))
    if scope == "group":
        text += "\n" + _("She stays signed up and goes back into the matching for another group.")
    await send(update, context, text)


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("group", on_group, filters=PRIVATE),
        CommandHandler("report", on_report, filters=PRIVATE),
        CallbackQueryHandler(on_group_button, pattern=signed_pattern(GroupButton)),
        CommandHandler("remove", on_remove, filters=PRIVATE),
        CallbackQueryHandler(
            on_remove_button, pattern=signed_pattern(RemoveReported, RemoveRegistration)
        ),
        MessageHandler(
            PRIVATE & filters.UpdateType.EDITED_MESSAGE & filters.LOCATION, on_live_location_moved
        ),
    ]


def relay_handler() -> BaseHandler:
    """Just before the catch-all: messages no journey took go to her group."""
    return MessageHandler(
        PRIVATE & filters.UpdateType.MESSAGE & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
        on_member_message,
    )
