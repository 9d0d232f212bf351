"""Safety tools of the team: `/testalert` (an organizer, before doors open, checks that alerts
reach the volunteers on duty) and the volunteers' "Received" answer to it."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from companion_bot.services import broadcasts, drills
from companion_bot.services.errors import UserInputError
from companion_bot.signing import signed_pattern
from handlers.callbacks import button, signed
from handlers.common import Context, answer_query, close_buttons, column, send, tr

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
            (event.localized("name", t.language), button(update, f"ta:ev:{event.id}"))
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


@signed
async def on_button(update: Update, context: Context, parts: list[str]) -> None:
    """`ta:ev:<event>`: the organizer picked her event; `ta:ack:<receipt>`: "Received"."""
    _ = tr(update, context).gettext
    if parts[1] == "ev":
        await answer_query(update)
        await close_buttons(update)
        await send_test(update, context, int(parts[2]))
        return
    try:
        await drills.acknowledge(update.effective_user.id, int(parts[2]))
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return
    await answer_query(update, _("Thank you: the organizers see that alerts reach you."))
    await close_buttons(update, _(drills.RECEIVED))


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("testalert", on_test_alert, filters=PRIVATE),
        CallbackQueryHandler(on_button, pattern=signed_pattern("ta")),
    ]
