"""Organizers' zones: `/zones` lists an event's own destinations (a station, a district, the
town the coach goes back to), next to the gazetteer's neighbourhoods, with how many attendees
head to each. "➕ Add a zone" asks its name (in one language or several: `Gare du Nord | en:
North station`), then where it is: a location pin, a neighbourhood the gazetteer knows, or
coordinates. "🗑 Remove" removes a zone nobody heads to. With several
events she picks one first. Buttons are signed, and the zones service checks the organizer role
again at every step; `/cancel` leaves."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from companion_bot.actions import ZoneAt, ZoneButton
from companion_bot.i18n import N_
from companion_bot.services import broadcasts, texts, zones
from companion_bot.services.errors import UserInputError
from companion_bot.services.roles import NotOrganizer
from companion_bot.services.texts import Versions
from handlers.callbacks import button, signed, signed_pattern
from handlers.common import (
    Context,
    answer_query,
    close_buttons,
    column,
    esc,
    in_several_languages,
    send,
    tr,
)
from handlers.conversation import END, Conversation
from handlers.general import on_stray_button
from handlers.signup import pressed_label

CONVERSATION_NAME = "zones"
PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
TEXT = PRIVATE & filters.TEXT & ~filters.COMMAND
DRAFT = "zones_draft"  # {"event": id, "name": the new zone's name once typed}
NAME, POINT = "zone_name", "zone_point"
ZONE_EXAMPLE = N_("Coach stop | fr: Arrêt du car")


async def on_zones(update: Update, context: Context) -> int:
    t = tr(update, context)
    _ = t.gettext
    events = await broadcasts.organizer_events(update.effective_user.id)
    if not events:
        await send(update, context, _("Only this event's organizers can do this."))
    elif len(events) == 1:
        await show(update, context, events[0].id)
    else:
        buttons = [
            (event.localized("name", t.language), button(update, ZoneButton("ev", event.id)))
            for event in events
        ]
        await send(update, context, _("Which event?"), column(buttons))
    return END


async def show(update: Update, context: Context, event_id: int) -> None:
    """The event's zones, with a button to add one and one to remove each."""
    t = tr(update, context)
    _ = t.gettext
    try:
        listing = await zones.event_zones(update.effective_user.id, event_id)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return
    lines = [
        _("Zones of <b>{event}</b>").format(event=esc(listing.event.localized("name", t.language))),
        _(
            "Attendees can pick a zone as where they head after the event, like a "
            "neighbourhood: by typing its name, or with a location pin less than {km} km "
            "away. People heading to the same zone leave together."
        ).format(km=f"{zones.SNAP_KM:g}"),
        "",
    ]
    for use in listing.zones:
        line = f"• {esc(texts.versions_of(use.zone, 'name').written())}"
        if use.heading:
            line += " — " + t.ngettext(
                "{count} person heading there", "{count} people heading there", use.heading
            ).format(count=use.heading)
        lines.append(line)
    if not listing.zones:
        lines.append(_("No zone yet."))
    buttons = [(_("➕ Add a zone"), button(update, ZoneButton("add", event_id)))]
    buttons += [
        (
            _("🗑 Remove {name}").format(name=use.zone.localized("name", t.language)),
            button(update, ZoneButton("del", use.zone.id)),
        )
        for use in listing.zones
    ]
    await send(update, context, "\n".join(lines), column(buttons))


@signed(ZoneButton, ZoneAt)
async def on_button(
    update: Update, context: Context, tapped: ZoneButton | ZoneAt
) -> int | str | None:
    """`ZoneButton`: show the event's zones ("ev"), add one ("add"), remove one ("del");
    `ZoneAt`: put the zone being added at a suggested neighbourhood."""
    await answer_query(update)
    if isinstance(tapped, ZoneAt):
        return await at_place(update, context, tapped.place)
    return await BUTTONS[tapped.what](update, context, tapped.target)


async def pick_event(update: Update, context: Context, event_id: int) -> None:
    """Shows the list; a zone being added meanwhile stays where it was (so does `remove`)."""
    await close_buttons(update, pressed_label(update))
    await show(update, context, event_id)


async def ask_name(update: Update, context: Context, event_id: int) -> int | str:
    _ = tr(update, context).gettext
    try:
        await broadcasts.require_organizer(update.effective_user.id, event_id)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return END
    await close_buttons(update, pressed_label(update))
    context.user_data[DRAFT] = {"event": event_id}
    await send(update, context, name_question(update, context))
    return NAME


def name_question(update: Update, context: Context) -> str:
    _ = tr(update, context).gettext
    return "\n".join([
        _(
            "Name of the new zone? Attendees will see it and type it: {limit} characters at "
            "most, like “Gare du Nord” or “Porte de Montreuil”. /cancel to stop."
        ).format(limit=zones.MAX_NAME),
        in_several_languages(_, ZONE_EXAMPLE),
    ])  # fmt: skip


async def remove(update: Update, context: Context, zone_id: int) -> None:
    t = tr(update, context)
    _ = t.gettext
    try:
        zone = await zones.remove(update.effective_user.id, zone_id)
    except zones.ZoneInUse as used:
        text = t.ngettext(
            "“{name}” stays: {count} attendee heads there. It can be removed once nobody does.",
            "“{name}” stays: {count} attendees head there. It can be removed once nobody does.",
            used.count,
        )
        name = used.zone.localized("name", t.language)
        await send(update, context, text.format(name=esc(name), count=used.count))
        return
    except UserInputError as error:
        await close_buttons(update)
        await send(update, context, error.translate(_))
        return
    await close_buttons(update, pressed_label(update))
    await send(
        update,
        context,
        _("Zone “{name}” removed.").format(name=esc(zone.localized("name", t.language))),
    )
    await show(update, context, zone.event_id)


async def at_place(update: Update, context: Context, place_id: str) -> int | str:
    return await save(
        update,
        context,
        lambda user, draft: zones.add_at_place(user, draft["event"], draft_name(draft), place_id),
    )


BUTTONS = {"ev": pick_event, "add": ask_name, "del": remove}


async def on_name(update: Update, context: Context) -> int | str:
    _ = tr(update, context).gettext
    draft = context.user_data.get(DRAFT)
    if not draft:
        return await expired(update, context)
    try:
        name = await zones.check_new_name(
            update.effective_user.id,
            draft["event"],
            update.effective_message.text,
            tr(update, context).language,
        )
    except NotOrganizer as error:
        return await stop(update, context, error)
    except UserInputError as error:
        await send(update, context, error.translate(_) + "\n" + name_question(update, context))
        return NAME
    draft["name"] = name.to_json()
    await send(update, context, point_question(update, context, draft["name"]))
    return POINT


def point_question(update: Update, context: Context, name: list | str) -> str:
    """`name`: the zone's name as kept in her draft (`Versions.to_json`)."""
    t = tr(update, context)
    return t.gettext(
        "Where is “{name}”? Share a location pin (📎 → Location), or type a neighbourhood "
        "I know (like Montreuil or Paris 18e) or coordinates like 48.8809, 2.3553."
    ).format(name=esc(Versions.from_json(name).in_language(t.language)))


async def on_not_a_name(update: Update, context: Context) -> str:
    _ = tr(update, context).gettext
    await send(update, context, _("Please type the zone's name as a text message."))
    return NAME


async def on_pin(update: Update, context: Context) -> int | str:
    location = update.effective_message.location
    return await save(
        update,
        context,
        lambda user, draft: zones.add(
            user, draft["event"], draft_name(draft), location.latitude, location.longitude
        ),
    )


async def on_point_text(update: Update, context: Context) -> int | str:
    text = update.effective_message.text or ""
    return await save(
        update,
        context,
        lambda user, draft: zones.add_from_text(user, draft["event"], draft_name(draft), text),
    )


def draft_name(draft: dict) -> Versions:
    return Versions.from_json(draft["name"])


async def save(update: Update, context: Context, adding) -> int | str:
    """`adding(telegram_id, draft)` stores the zone; a refusal says why and asks again."""
    t = tr(update, context)
    _ = t.gettext
    draft = context.user_data.get(DRAFT)
    if not draft or "name" not in draft:
        return await expired(update, context)
    try:
        zone = await adding(update.effective_user.id, draft)
    except NotOrganizer as error:
        return await stop(update, context, error)
    except zones.NotAPlace as error:
        buttons = [(place.name, button(update, ZoneAt(place.id))) for place in error.suggestions]
        hint = _("Did you mean:") if buttons else point_question(update, context, draft["name"])
        markup = column(buttons) if buttons else None
        await send(update, context, error.translate(_) + "\n" + hint, markup)
        return POINT
    except UserInputError as error:
        if error.message == zones.DUPLICATE:  # added meanwhile, by someone else
            draft.pop("name", None)
            await send(update, context, error.translate(_) + "\n" + name_question(update, context))
            return NAME
        await send(update, context, error.translate(_))
        return POINT
    context.user_data.pop(DRAFT, None)
    await close_buttons(update, pressed_label(update))
    await send(
        update,
        context,
        _("✅ Zone “{name}” added at {point}.").format(
            name=esc(zone.localized("name", t.language)), point=f"{zone.lat:.5f}, {zone.lon:.5f}"
        ),
    )
    await show(update, context, zone.event_id)
    return END


async def on_not_a_point(update: Update, context: Context) -> str:
    _ = tr(update, context).gettext
    await send(
        update,
        context,
        _("Please share a location pin (📎 → Location), or type a neighbourhood or coordinates."),
    )
    return POINT


async def expired(update: Update, context: Context) -> int:
    """Her draft is gone (she started again elsewhere, or /forget): nothing to add to."""
    _ = tr(update, context).gettext
    if update.callback_query is not None:  # already answered by `on_button`
        await close_buttons(update)
        await send(update, context, _("This button is no longer active."))
    else:
        await send(update, context, _("No zone is being added: send /zones to start again."))
    return END


async def stop(update: Update, context: Context, error: UserInputError) -> int:
    context.user_data.pop(DRAFT, None)
    await send(update, context, error.translate(tr(update, context).gettext))
    return END


async def on_cancel(update: Update, context: Context) -> int:
    context.user_data.pop(DRAFT, None)
    await send(update, context, tr(update, context).gettext("Stopped: no zone was added."))
    return END


async def on_unexpected(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    await send(update, context, _("You are adding a zone: answer the question above, or /cancel."))


def conversation(fallbacks: list[BaseHandler]) -> Conversation:
    not_a_command = PRIVATE & ~filters.COMMAND
    return Conversation(
        name=CONVERSATION_NAME,
        allow_reentry=True,
        entry_points=[
            CommandHandler("zones", on_zones, filters=PRIVATE),
            CallbackQueryHandler(on_button, pattern=signed_pattern(ZoneButton, ZoneAt)),
        ],
        states={
            NAME: [MessageHandler(TEXT, on_name), MessageHandler(not_a_command, on_not_a_name)],
            POINT: [
                MessageHandler(PRIVATE & filters.LOCATION, on_pin),
                MessageHandler(TEXT, on_point_text),
                MessageHandler(not_a_command, on_not_a_point),
            ],
        },
        fallbacks=[
            CommandHandler("cancel", on_cancel, filters=PRIVATE),
            *fallbacks,
            CallbackQueryHandler(on_stray_button),
            MessageHandler(PRIVATE, on_unexpected),
        ],
    )
