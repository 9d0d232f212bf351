"""Online tables in the chat: the attendee's "we're in" tap, the hosts' `/tables` (who sits
at which table, who waits for one) and `/movetable <number> <table>` (seat someone elsewhere),
and the organizers' `/addtable name; link; seats; activity` (one more table).

Hosts are the event's organizers and volunteers; the service checks the role on every action.
They see attendees by display name and by the number of her registration, never her account.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from companion_bot.actions import TableJoined
from companion_bot.services import tables
from companion_bot.services.errors import UserInputError
from handlers.callbacks import signed, signed_pattern
from handlers.common import Context, answer_query, close_buttons, esc, send, tr

PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


@signed(TableJoined)
async def on_joined(update: Update, context: Context, joined: TableJoined) -> None:
    """She is in her table's call."""
    _ = tr(update, context).gettext
    if not await tables.joined(update.effective_user.id, joined.group):
        await answer_query(update, _("This button is no longer active."))
        await close_buttons(update)
        return
    await answer_query(update, _("Have a good time!"))
    await close_buttons(update, _("✅ We're in"))


async def on_tables(update: Update, context: Context) -> None:
    t = tr(update, context)
    _ = t.gettext
    events = await tables.hosted_events(update.effective_user.id)
    if not events:
        await send(update, context, _("You host no online event at the moment."))
        return
    for event in events:
        shown = await tables.view(event.id)
        zone = event.timezone
        lines = [f"<b>{esc(event.localized('name', t.language))}</b>"]
        for row in shown.tables:
            table = row.table
            title = f"🪑 <b>{esc(table.name)}</b>"
            if table.activity:
                title += f" ({esc(table.activity)})"
            lines.append(
                title
                + " — "
                + t.ngettext("{count} seat", "{count} seats", table.capacity).format(
                    count=table.capacity
                )
            )
            if not row.seated:
                lines.append("   " + _("nobody yet"))
            for start, members in row.seated.items():
                names = ", ".join(
                    f"{'✅ ' if joined else ''}{esc(name)} (#{number})"
                    for number, name, joined in members
                )
                lines.append(f"   {t.time(start, zone)}: {names}")
        if shown.waiting:
            lines += ["", _("Waiting for a table:")]
            for number, name, start, reason in shown.waiting:
                when = t.time(start, zone) if start else "—"
                why = tables.REASONS.get(tables.seating.TableReason(reason))
                lines.append(f"   {esc(name)} (#{number}), {when}: {_(why) if why else ''}")
        lines += [
            "",
            _("To seat someone elsewhere: /movetable number table, like /movetable 12 Quiz"),
        ]
        await send(update, context, "\n".join(lines))


async def on_move(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    number, _space, table_name = " ".join(context.args or []).partition(" ")
    if not number.lstrip("#").isdigit() or not table_name.strip():
        await send(
            update,
            context,
            _("Write the number /tables shows and the table, like /movetable 12 Quiz"),
        )
        return
    try:
        registration, table = await tables.move(
            update.effective_user.id, int(number.lstrip("#")), table_name
        )
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return
    await send(
        update,
        context,
        _("{name} now sits at {table}: she got its link.").format(
            name=esc(registration.person.display_name or "?"), table=esc(table.name)
        ),
    )


async def on_add_table(update: Update, context: Context) -> None:
    """`/addtable name; link; seats; activity`: one more table for her next online event."""
    t = tr(update, context)
    _ = t.gettext
    text = " ".join(context.args or [])
    try:
        event, table = await tables.add_table(update.effective_user.id, text)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return
    await send(
        update,
        context,
        _("Table {table} added to {event}.").format(
            table=esc(table.name), event=esc(event.localized("name", t.language))
        ),
    )


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("addtable", on_add_table, filters=PRIVATE),
        CommandHandler("tables", on_tables, filters=PRIVATE),
        CommandHandler("movetable", on_move, filters=PRIVATE),
        CallbackQueryHandler(on_joined, pattern=signed_pattern(TableJoined)),
    ]
