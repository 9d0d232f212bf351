"""Organizers during the night: `/broadcast` (audience → text → preview → send, then a
delivery report), `/dashboard`, `/departures` (move, add or remove departure waves),
`/settings` (the closing-time delays) and `/match` (run a matching round by hand). Every step
checks the organizer role for that event."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from companion_bot.actions import (
    Action,
    BroadcastAudience,
    BroadcastPreview,
    DepartureEdit,
    DeparturePoint,
    DepartureRemoval,
    EventPick,
    SettingPick,
    SettingValue,
)
from companion_bot.i18n import N_plural, Translator
from companion_bot.services import broadcasts, groups
from companion_bot.services.broadcasts import Audience
from companion_bot.services.errors import UserInputError
from companion_bot.services.times import next_occurrence, parse_clock
from handlers.board import board_line, board_markup
from handlers.callbacks import button, signed, signed_pattern
from handlers.common import (
    SIGNED_UP,
    Context,
    answer_query,
    close_buttons,
    column,
    esc,
    keyboard,
    send,
    tr,
)
from handlers.conversation import END, Conversation

PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
TEXT = PRIVATE & filters.TEXT & ~filters.COMMAND
DRAFT = "night_draft"
AUDIENCE, WRITING, PREVIEW, WAVE_TIME, WAVE_POINT, NEW_WAVE, WAVE_REMOVE = (
    "audience", "writing", "preview", "wave_time", "wave_point", "new_wave", "wave_remove",
)  # fmt: skip
MAX_TEXT = 3500


async def pick_event(update: Update, context: Context, action: str) -> int | str | None:
    """The organizer's event for `action`: asks which one when she has several."""
    t = tr(update, context)
    _ = t.gettext
    events = await broadcasts.organizer_events(update.effective_user.id)
    if not events:
        await send(update, context, _("Only this event's organizers can do this."))
        return END
    if len(events) == 1:
        return events[0].id
    buttons = [
        (event.localized("name", t.language), button(update, EventPick(action, event.id)))
        for event in events
    ]
    await send(update, context, _("Which event?"), column(buttons))
    return None


async def refuse(update: Update, context: Context, error: UserInputError) -> int:
    _ = tr(update, context).gettext
    await answer_query(update)
    await send(update, context, error.translate(_))
    return END


# -- /broadcast ---------------------------------------------------------------------------------


async def on_broadcast(update: Update, context: Context) -> int | str:
    event_id = await pick_event(update, context, "bc")
    if event_id is None:
        return END
    if event_id == END:
        return event_id
    return await ask_audience(update, context, event_id)


async def ask_audience(update: Update, context: Context, event_id: int) -> int | str:
    t = tr(update, context)
    _ = t.gettext
    try:
        event = await broadcasts.require_organizer(update.effective_user.id, event_id)
    except UserInputError as error:
        return await refuse(update, context, error)
    context.user_data[DRAFT] = {"event": event_id}
    buttons = []
    for audience in (Audience.ATTENDEES, Audience.VOLUNTEERS, Audience.ORGANIZERS):
        count = len(await broadcasts.recipients(event_id, audience, None))
        label = {
            Audience.ATTENDEES: _("All attendees ({count})"),
            Audience.VOLUNTEERS: _("Volunteers ({count})"),
            Audience.ORGANIZERS: _("Organizers ({count})"),
        }[audience].format(count=count)
        buttons.append((label, button(update, BroadcastAudience(audience.value, 0))))
    for wave in await broadcasts.event_waves(event_id):
        count = len(await broadcasts.recipients(event_id, Audience.WAVE, wave.id))
        label = _("Departure {time} ({count})").format(
            time=t.time(wave.departs_at, event.timezone), count=count
        )
        buttons.append((label, button(update, BroadcastAudience(Audience.WAVE.value, wave.id))))
    await send(update, context, _("Who is this message for?"), column(buttons))
    return AUDIENCE


@signed(EventPick)
async def on_event_pick(update: Update, context: Context, pick: EventPick) -> int | str:
    await answer_query(update)
    await close_buttons(update)
    action, event_id = pick.what, pick.event
    if action == "bc":
        return await ask_audience(update, context, event_id)
    if action == "dp":
        return await show_waves(update, context, event_id)
    if action == "db":
        await show_dashboard(update, context, event_id)
    elif action == "mt":
        await run_match(update, context, event_id)
    elif action == "st":
        await show_settings(update, context, event_id)
    return END


@signed(BroadcastAudience)
async def on_audience(update: Update, context: Context, pick: BroadcastAudience) -> str:
    _ = tr(update, context).gettext
    if pick.audience not in {a.value for a in Audience}:
        await answer_query(update, _("This button is no longer active."))
        return AUDIENCE
    draft = context.user_data.setdefault(DRAFT, {})
    draft["audience"], draft["wave"] = pick.audience, pick.wave or None
    await answer_query(update)
    await close_buttons(update, pressed(update))
    await send(update, context, _("Write your message (text only)."))
    return WRITING


async def on_text(update: Update, context: Context) -> str:
    t = tr(update, context)
    _ = t.gettext
    text = (update.effective_message.text or "").strip()
    if not text or len(text) > MAX_TEXT:
        await send(
            update,
            context,
            _("That is too long: {limit} characters at most.").format(limit=MAX_TEXT),
        )
        return WRITING
    draft = context.user_data[DRAFT]
    draft["text"] = text
    count = len(
        await broadcasts.recipients(draft["event"], Audience(draft["audience"]), draft["wave"])
    )
    await send(
        update,
        context,
        t.ngettext("This goes to {count} person:", "This goes to {count} people:", count).format(
            count=count
        )
        + "\n\n"
        + esc(text),
        column([
            (_("📣 Send"), button(update, BroadcastPreview("send", draft["event"]))),
            (_("✏️ Rewrite"), button(update, BroadcastPreview("rewrite", 0))),
            (_("Cancel"), button(update, BroadcastPreview("cancel", 0))),
        ]),
    )  # fmt: skip
    return PREVIEW


@signed(BroadcastPreview)
async def on_preview(update: Update, context: Context, preview: BroadcastPreview) -> int | str:
    _ = tr(update, context).gettext
    await answer_query(update)
    await close_buttons(update, pressed(update))
    if preview.what == "rewrite":
        await send(update, context, _("Write your message (text only)."))
        return WRITING
    if preview.what == "cancel":
        context.user_data.pop(DRAFT, None)
        await send(update, context, _("Nothing was sent."))
        return END
    draft = context.user_data.pop(DRAFT, {})
    try:
        broadcast = await broadcasts.send_broadcast(
            update.effective_user.id, draft["event"], Audience(draft["audience"]),
            draft.get("wave"), draft["text"],
        )  # fmt: skip
    except (UserInputError, KeyError) as error:
        if isinstance(error, UserInputError):
            return await refuse(update, context, error)
        await send(update, context, _("This button is no longer active."))
        return END
    await send(
        update,
        context,
        tr(update, context)
        .ngettext(
            "Sending to {count} person. You will get a delivery report when it is done.",
            "Sending to {count} people. You will get a delivery report when it is done.",
            broadcast.recipients,
        )
        .format(count=broadcast.recipients),
    )
    return END


def pressed(update: Update) -> str | None:
    query = update.callback_query
    markup = query.message.reply_markup if query.message and query.message.is_accessible else None
    for row in markup.inline_keyboard if markup else []:
        for key in row:
            if key.callback_data == query.data:
                return key.text
    return None


# -- /dashboard and /match ----------------------------------------------------------------------


async def for_event(update: Update, context: Context, action: str, show) -> None:
    """`show(update, context, event_id)` for her event; when she has several, she picks one
    first (its button comes back to `on_event_pick` with `action`)."""
    event_id = await pick_event(update, context, action)
    if isinstance(event_id, int) and event_id != END:
        await show(update, context, event_id)


async def on_dashboard(update: Update, context: Context) -> None:
    await for_event(update, context, "db", show_dashboard)


async def show_dashboard(update: Update, context: Context, event_id: int) -> None:
    t = tr(update, context)
    try:
        board = await broadcasts.dashboard(update.effective_user.id, event_id)
    except UserInputError as error:
        await refuse(update, context, error)
        return
    live = await board_line(update, context, t, board.event)
    await send(
        update,
        context,
        dashboard_text(t, board) + "\n\n" + live,
        board_markup(update, t, board.event.id),
    )


IN_ARRIVAL_GROUPS = N_plural("{count} in an arrival group", "{count} in arrival groups")
WAITING_FOR_A_GROUP = N_plural("{count} waiting for a group", "{count} waiting for a group")
OPEN_ALERTS = N_plural("{count} open help alert", "{count} open help alerts")
# Each departure's counts (`broadcasts.WaveCounts`).
WAVE_COUNTS = {
    "signed_up": SIGNED_UP,
    "grouped": N_plural("{count} grouped", "{count} grouped"),
    "at_meeting_point": N_plural("{count} at the meeting point", "{count} at the meeting point"),
    "left": N_plural("{count} left", "{count} left"),
    "home": N_plural("{count} home", "{count} home"),
    "no_news": N_plural("{count} no news", "{count} no news"),
}


def dashboard_text(t: Translator, board: broadcasts.Dashboard) -> str:
    _ = t.gettext
    zone = board.event.timezone
    lines = [
        f"<b>{esc(board.event.localized('name', t.language))}</b>",
        ", ".join([
            t.plural(SIGNED_UP, board.confirmed),
            t.plural(IN_ARRIVAL_GROUPS, board.arrival_grouped),
            t.plural(WAITING_FOR_A_GROUP, board.unplaced),
            t.plural(OPEN_ALERTS, board.open_alerts),
        ]),
    ]  # fmt: skip
    for wave in board.waves:
        point = wave.wave.meeting_point
        lines += [
            "",
            f"<b>{t.time(wave.wave.departs_at, zone)}</b> "
            + esc(point.localized("name", t.language) if point else ""),
            " · ".join(t.plural(label, getattr(wave, measure))
                       for measure, label in WAVE_COUNTS.items()),
        ]  # fmt: skip
    return "\n".join(lines)


async def on_match(update: Update, context: Context) -> None:
    await for_event(update, context, "mt", run_match)


GROUPS_ANNOUNCED = N_plural("{count} group announced", "{count} groups announced")
GROUPS_FORMING = N_plural("{count} group still forming", "{count} groups still forming")
PEOPLE_ADDED = N_plural(
    "{count} person added to an announced group", "{count} people added to announced groups"
)
PEOPLE_WAITING = N_plural(
    "{count} person waiting (the volunteers see her)",
    "{count} people waiting (the volunteers see them)",
)


async def run_match(update: Update, context: Context, event_id: int) -> None:
    t = tr(update, context)
    _ = t.gettext
    try:
        await broadcasts.require_organizer(update.effective_user.id, event_id)
    except UserInputError as error:
        await refuse(update, context, error)
        return
    result = await groups.run_round(event_id)
    report = result.report
    counts = ", ".join(
        [
            t.plural(GROUPS_ANNOUNCED, result.announced),
            t.plural(GROUPS_FORMING, result.forming),
            t.plural(PEOPLE_ADDED, result.grown),
            t.plural(PEOPLE_WAITING, result.unplaced),
        ]
    )
    await send(update, context, _("Matching round done: {counts}. {share}% grouped.").format(
        counts=counts, share=round(100 * report.grouped_share)))  # fmt: skip


# -- /departures -------------------------------------------------------------------------------


async def on_departures(update: Update, context: Context) -> int | str:
    event_id = await pick_event(update, context, "dp")
    if event_id is None or event_id == END:
        return END
    return await show_waves(update, context, event_id)


async def show_waves(update: Update, context: Context, event_id: int) -> int | str:
    t = tr(update, context)
    _ = t.gettext
    try:
        event = await broadcasts.require_organizer(update.effective_user.id, event_id)
    except UserInputError as error:
        return await refuse(update, context, error)
    context.user_data[DRAFT] = {"event": event_id}
    buttons = []
    for wave in await broadcasts.event_waves(event.id):
        point = wave.meeting_point.localized("name", t.language) if wave.meeting_point else ""
        time = t.time(wave.departs_at, event.timezone)
        buttons.append((_("Change {time} — {point}").format(time=time, point=point),
                        button(update, DepartureEdit("wave", wave.id))))  # fmt: skip
        buttons.append(
            (_("🗑 Remove {time}").format(time=time), button(update, DepartureEdit("del", wave.id)))
        )
    buttons.append((_("➕ Add a departure"), button(update, DepartureEdit("add", event_id))))
    await send(update, context, _("Departures of {event}:").format(
        event=esc(event.localized("name", t.language))), column(buttons))  # fmt: skip
    return WAVE_TIME


@signed(DepartureEdit)
async def on_wave_pick(update: Update, context: Context, edit: DepartureEdit) -> str:
    t = tr(update, context)
    _ = t.gettext
    await answer_query(update)
    await close_buttons(update, pressed(update))
    draft = context.user_data.setdefault(DRAFT, {})
    if edit.what == "del":
        draft["wave"] = edit.target
        await send(update, context, _(
            "Remove this departure? Its groups and people move to the nearest other departure "
            "and are told."
        ), column([
            (_("🗑 Yes, remove it"), button(update, DepartureRemoval("delyes", edit.target))),
            (_("Keep it"), button(update, DepartureRemoval("delno", 0))),
        ]))  # fmt: skip
        return WAVE_REMOVE
    if edit.what == "add":
        draft["wave"] = None
        await send(update, context, _("Time of the new departure? Like 04:30."))
        return NEW_WAVE
    draft["wave"] = edit.target
    await send(update, context, _("New time for this departure? Like 03:30."))
    return NEW_WAVE


async def on_wave_time(update: Update, context: Context) -> int | str:
    t = tr(update, context)
    _ = t.gettext
    draft = context.user_data.get(DRAFT, {})
    try:
        event = await broadcasts.require_organizer(update.effective_user.id, draft["event"])
        departs_at = next_occurrence(parse_clock(update.effective_message.text or ""),
                                     event.doors_open, event.timezone)  # fmt: skip
        broadcasts.check_departure_time(event, departs_at)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return NEW_WAVE
    except KeyError:
        await send(update, context, _("This button is no longer active."))
        return END
    draft["time"] = departs_at.isoformat()
    points = await broadcasts.meeting_points(event.id)
    if not points:
        return await save_wave(update, context, None)
    await send(update, context, _("From which meeting point?"), column(
        [(point.localized("name", t.language), button(update, DeparturePoint(point.id)))
         for point in points]
    ))  # fmt: skip
    return WAVE_POINT


@signed(DeparturePoint)
async def on_wave_point(update: Update, context: Context, pick: DeparturePoint) -> int | str:
    await answer_query(update)
    await close_buttons(update, pressed(update))
    return await save_wave(update, context, pick.point)


async def save_wave(update: Update, context: Context, point_id: int | None) -> int:
    """The new or changed departure, at the time she typed, from `point_id`."""
    from datetime import datetime

    t = tr(update, context)
    _ = t.gettext
    draft = context.user_data.pop(DRAFT, {})
    user_id = update.effective_user.id
    try:
        departs_at = datetime.fromisoformat(draft["time"])
        if draft.get("wave") is None:
            wave = await broadcasts.add_wave(user_id, draft["event"], departs_at, point_id)
            done = _("Departure added at {time}.")
        else:
            wave = await broadcasts.change_wave(user_id, draft["wave"], departs_at, point_id)
            done = _("Done: the departure now leaves at {time}; its people are told.")
    except UserInputError as error:
        return await refuse(update, context, error)
    except KeyError:
        await send(update, context, _("This button is no longer active."))
        return END
    await wave.fetch_related("event")
    await send(update, context, done.format(time=t.time(wave.departs_at, wave.event.timezone)))
    return END


@signed(DepartureRemoval)
async def on_wave_remove(update: Update, context: Context, tapped: DepartureRemoval) -> int | str:
    t = tr(update, context)
    _ = t.gettext
    await answer_query(update)
    await close_buttons(update, pressed(update))
    context.user_data.pop(DRAFT, None)
    if tapped.what == "delno":
        await send(update, context, _("Nothing was changed."))
        return END
    try:
        removal = await broadcasts.remove_wave(update.effective_user.id, tapped.wave)
    except UserInputError as error:
        return await refuse(update, context, error)
    wave = removal.moved_to
    await wave.fetch_related("event")
    await send(update, context, t.ngettext(
        "Departure removed: its {count} person now leaves at {time} and is told.",
        "Departure removed: its {count} people now leave at {time} and are told.",
        removal.people,
    ).format(count=removal.people, time=t.time(wave.departs_at, wave.event.timezone)))  # fmt: skip
    return END


# -- /settings: the event's closing-time delays ---------------------------------------------------


async def on_settings(update: Update, context: Context) -> None:
    await for_event(update, context, "st", show_settings)


async def show_settings(update: Update, context: Context, event_id: int) -> None:
    t = tr(update, context)
    _ = t.gettext
    try:
        event = await broadcasts.require_organizer(update.effective_user.id, event_id)
    except UserInputError as error:
        await refuse(update, context, error)
        return
    lines = [_("Delays of {event}:").format(event=esc(event.localized("name", t.language)))]
    buttons = []
    for code, setting in broadcasts.EVENT_SETTINGS.items():
        value = getattr(event, setting.field)
        lines.append(_("• {setting}: {minutes} min").format(setting=_(setting.label),
                                                            minutes=value))  # fmt: skip
        buttons.append((_("Change: {setting}").format(setting=_(setting.label)),
                        button(update, SettingPick(event.id, code))))  # fmt: skip
    await send(update, context, "\n".join(lines), column(buttons))


@signed(SettingPick, SettingValue)
async def on_settings_button(
    update: Update, context: Context, tapped: SettingPick | SettingValue
) -> None:
    """`SettingPick` offers the setting's values; `SettingValue` saves one."""
    _ = tr(update, context).gettext
    setting = broadcasts.EVENT_SETTINGS.get(tapped.setting)
    if setting is None:
        await answer_query(update, _("This button is no longer active."))
        return
    event_id = tapped.event
    if isinstance(tapped, SettingPick):
        await answer_query(update)
        await close_buttons(update, _(setting.label))
        await send(update, context, _("{setting}: how many minutes?").format(
            setting=_(setting.label)), keyboard([[
                (str(minutes), button(update, SettingValue(event_id, tapped.setting, minutes)))
                for minutes in setting.choices
            ]]))  # fmt: skip
        return
    try:
        await broadcasts.change_setting(update.effective_user.id, event_id, tapped.setting,
                                        tapped.minutes)  # fmt: skip
    except UserInputError as error:
        await refuse(update, context, error)
        return
    await answer_query(update)
    await close_buttons(update, str(tapped.minutes))
    await send(update, context, _(
        "Done: {setting}: {minutes} min. Reminders and alerts still to come follow it."
    ).format(setting=_(setting.label), minutes=tapped.minutes))  # fmt: skip


async def on_unexpected(update: Update, context: Context) -> None:
    _ = tr(update, context).gettext
    await send(update, context, _("Please answer with one of the buttons below, or /cancel."))


async def on_stale(update: Update, context: Context) -> None:
    await answer_query(update, tr(update, context).gettext("This button is no longer active."))


def signed_handler(callback, kind: type[Action]) -> CallbackQueryHandler:
    return CallbackQueryHandler(callback, pattern=signed_pattern(kind))


def conversation(fallbacks: list[BaseHandler]) -> Conversation:
    return Conversation(
        name="night",
        entry_points=[
            CommandHandler("broadcast", on_broadcast, filters=PRIVATE),
            CommandHandler("departures", on_departures, filters=PRIVATE),
            CallbackQueryHandler(on_event_pick, pattern=signed_pattern(EventPick)),
        ],
        states={
            AUDIENCE: [signed_handler(on_audience, BroadcastAudience)],
            WRITING: [MessageHandler(TEXT, on_text)],
            PREVIEW: [signed_handler(on_preview, BroadcastPreview)],
            WAVE_TIME: [signed_handler(on_wave_pick, DepartureEdit)],
            NEW_WAVE: [MessageHandler(TEXT, on_wave_time)],
            WAVE_POINT: [signed_handler(on_wave_point, DeparturePoint)],
            WAVE_REMOVE: [signed_handler(on_wave_remove, DepartureRemoval)],
        },
        fallbacks=[
            *fallbacks,
            CallbackQueryHandler(on_stale),
            MessageHandler(PRIVATE, on_unexpected),
        ],
    )


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("dashboard", on_dashboard, filters=PRIVATE),
        CommandHandler("match", on_match, filters=PRIVATE),
        CommandHandler("settings", on_settings, filters=PRIVATE),
        CallbackQueryHandler(on_settings_button, pattern=signed_pattern(SettingPick, SettingValue)),
    ]
