"""Organizers' material in the chat: `/qr` sends the attendee and volunteer links as QR codes
(two photos, for the flyer and the door), `/export` the event's anonymous statistics as a CSV
file, and the live board's secret link (with `/dashboard`), which an organizer can replace when
it went to the wrong people. With several events she picks one (signed buttons); the organizer
role is checked again when she taps."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from companion_bot import notices
from companion_bot.actions import BoardPick
from companion_bot.i18n import Translator
from companion_bot.models import Event
from companion_bot.services import board, broadcasts, export, outbox, qr
from companion_bot.services.errors import UserInputError
from companion_bot.telegram_links import event_links
from companion_bot.whatsapp import links as whatsapp_links
from handlers.callbacks import button, signed, signed_pattern
from handlers.common import (
    Context,
    answer_query,
    close_buttons,
    column,
    esc,
    send,
    settings_of,
    tr,
)

PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
QR, EXPORT, NEW_BOARD_LINK = "qr", "csv", "newlink"
# Statistics stay wanted long after the night (even once purged): the latest events first.
EXPORT_CHOICES = 8


async def on_qr(update: Update, context: Context) -> None:
    events = await broadcasts.organizer_events(update.effective_user.id)
    await for_event(update, context, QR, events)


async def on_export(update: Update, context: Context) -> None:
    events = await broadcasts.organizer_history(update.effective_user.id, EXPORT_CHOICES)
    await for_event(update, context, EXPORT, events)


async def for_event(update: Update, context: Context, action: str, events: list[Event]) -> None:
    t = tr(update, context)
    _ = t.gettext
    if not events:
        await send(update, context, _("Only this event's organizers can do this."))
        return
    if len(events) == 1:
        await ACTIONS[action](update, context, events[0].id)
        return
    buttons = [
        (event.localized("name", t.language), button(update, BoardPick(action, event.id)))
        for event in events
    ]
    await send(update, context, _("Which event?"), column(buttons))


@signed(BoardPick)
async def on_pick(update: Update, context: Context, pick: BoardPick) -> None:
    await answer_query(update)
    await close_buttons(update)
    await ACTIONS[pick.what](update, context, pick.event)


async def organizer_event(update: Update, context: Context, event_id: int) -> Event | None:
    try:
        return await broadcasts.require_organizer(update.effective_user.id, event_id)
    except UserInputError as error:
        await send(update, context, error.translate(tr(update, context).gettext))
        return None


async def send_qr_codes(update: Update, context: Context, event_id: int) -> None:
    t = tr(update, context)
    _ = t.gettext
    event = await organizer_event(update, context, event_id)
    if event is None:
        return
    for kind in qr.QR_KINDS:
        link, png = qr.invite_qr(event_links(event, context.bot.username), kind)
        await outbox.enqueue(
            update.effective_chat.id,
            kind=notices.PHOTO,
            payload={
                "photo": outbox.attachment(png, qr.qr_filename(event, kind)),
                "caption": _(qr.CAPTIONS[kind]).format(
                    event=esc(event.localized("name", t.language)), link=esc(link)
                ),
            },
            priority=outbox.REPLY_PRIORITY,
        )
    number = settings_of(context).WHATSAPP_NUMBER
    if number:
        link = whatsapp_links.attendee_link(number, event)
        await outbox.enqueue(
            update.effective_chat.id,
            kind=notices.PHOTO,
            payload={
                "photo": outbox.attachment(qr.qr_png(link), f"whatsapp-qr-{event.id}.png"),
                "caption": _(qr.WHATSAPP_CAPTION).format(
                    event=esc(event.localized("name", t.language)), link=esc(link)
                ),
            },
            priority=outbox.REPLY_PRIORITY,
        )


async def send_export(update: Update, context: Context, event_id: int) -> None:
    t = tr(update, context)
    event = await organizer_event(update, context, event_id)
    if event is None:
        return
    text = await export.event_csv(t, event)
    await outbox.enqueue(
        update.effective_chat.id,
        kind=notices.DOCUMENT,
        payload={
            # A byte-order mark, so that spreadsheets open accents as UTF-8.
            "document": outbox.attachment(
                ("\ufeff" + text).encode("utf-8"), export.csv_filename(event)
            ),
            "caption": t.gettext(
                "📊 Anonymous statistics of <b>{event}</b>: counts only, no names, no ids, no "
                "written reports."
            ).format(event=esc(event.localized("name", t.language))),
        },
        priority=outbox.REPLY_PRIORITY,
    )


async def board_line(update: Update, context: Context, t: Translator, event: Event) -> str:
    link = await board.board_link(
        event, settings_of(context), context.bot_data.get(board.WEB_ADDRESS_KEY)
    )
    return t.gettext(
        '🖥 Live board, for the organizers only (a secret link): <a href="{url}">{url}</a>'
    ).format(url=esc(link))


def board_markup(update: Update, t: Translator, event_id: int):
    """Under the board link: replace it, when it reached someone it should not have."""
    label = t.gettext("🔄 New board link (the old one stops working)")
    return column([(label, button(update, BoardPick(NEW_BOARD_LINK, event_id)))])


async def replace_board_link(update: Update, context: Context, event_id: int) -> None:
    t = tr(update, context)
    event = await organizer_event(update, context, event_id)
    if event is None:
        return
    await board.new_board_token(event)
    await send(
        update,
        context,
        t.gettext("The old board link no longer opens.")
        + "\n"
        + await board_line(update, context, t, event),
        board_markup(update, t, event.id),
    )


ACTIONS = {QR: send_qr_codes, EXPORT: send_export, NEW_BOARD_LINK: replace_board_link}


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("qr", on_qr, filters=PRIVATE),
        CommandHandler("export", on_export, filters=PRIVATE),
        CallbackQueryHandler(on_pick, pattern=signed_pattern(BoardPick)),
    ]
