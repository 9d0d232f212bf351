"""Organizers: `/newevent` (bot admins) asks for the same fields as `companion-bot event create`,
step by step (each with a default to accept where there is a sensible one, like how many days
personal data is kept after closing); `/myevents` lists her events with their links and sign-up
counts.

What attendees will read (name, venue, meeting points, charter) may be typed in several
languages (`Entrée principale | en: Main entrance`, services/texts.py); a version without its
language code is in hers. The draft keeps them as `Versions.to_json()` lists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from companion_bot import clock
from companion_bot.actions import (
    Action,
    NewEventCreate,
    NewEventDefault,
    NewEventKind,
    NewEventPlace,
    NewEventRestart,
)
from companion_bot.i18n import LANGUAGES, N_, N_plural, Translator
from companion_bot.models import Event, EventKind
from companion_bot.services import roles, safeplace, tables
from companion_bot.services.errors import UserInputError
from companion_bot.services.events import (
    EMPTY_VENUE_NAME,
    ONLINE_LENGTH,
    EventSpec,
    InviteKind,
    VenueLocation,
    check_timezone,
    closing_after,
    create_event,
    default_arrival_slots,
    default_meeting_points,
    locate_venue,
    one_slot,
    online_venue,
    organizer_overview,
    parse_arrival_slots,
    parse_departure_waves,
    parse_group_sizes,
    parse_meeting_points,
    read_charter,
    standard_charter,
    venue_from_place_id,
)
from companion_bot.services.events import read_name as read_event_name
from companion_bot.services.retention import (
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    parse_retention_days,
)
from companion_bot.services.texts import Versions
from companion_bot.services.times import parse_local_datetime
from companion_bot.telegram_links import event_links
from companion_bot.whatsapp import links as whatsapp_links
from handlers.callbacks import pattern, unsigned
from handlers.common import (
    SIGNED_UP,
    Context,
    answer_query,
    close_buttons,
    column,
    esc,
    in_several_languages,
    send,
    settings_of,
    tr,
)
from handlers.conversation import END, Conversation

CONVERSATION_NAME = "newevent"
DRAFT_KEY = "newevent_draft"
STEP_KEY = "newevent_step"
REVIEW = "review"
PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE

Draft = dict  # JSON-serialisable: it is persisted with her user data between steps.


def _now() -> datetime:
    return clock.now()


def _at(draft: Draft, key: str) -> datetime:
    return datetime.fromisoformat(draft[key])


def new_draft(context: Context, t: Translator) -> Draft:
    """`language`: hers, the language of what she types without saying which."""
    return {"default_timezone": settings_of(context).DEFAULT_TIMEZONE, "language": t.language}


def draft_language(draft: Draft) -> str:
    return draft.get("language") or LANGUAGES[0]  # drafts begun before it was kept


def kind_of(draft: Draft) -> EventKind:
    return EventKind(draft.get("kind", EventKind.IN_PERSON))


def closing_of(draft: Draft) -> datetime:
    """Online: no closing asked; the last join slot ends the evening (3 hours by default)."""
    if "closing" in draft:
        return _at(draft, "closing")
    if draft.get("arrival_slots"):
        return max(datetime.fromisoformat(b) for _a, b, _i in draft["arrival_slots"])
    return _at(draft, "doors_open") + ONLINE_LENGTH


# Fields an online event skips (no venue, no closing, no trip home, no safe place to walk to),
# and those the quick small preset fills itself (one arrival slot, one departure at closing,
# the standard charter).
SKIPPED = {
    EventKind.ONLINE: {"venue", "where", "closing", "points", "waves", "safe"},
    EventKind.HYBRID: set(),
    EventKind.IN_PERSON: {"tables"},
}
SMALL_SKIPPED = {"points", "slots", "waves", "sizes", "charter", "retention", "tables"}
KIND_BUTTONS = [
    (N_("💻 Online event"), "online"),
    (N_("🔀 Hybrid event"), "hybrid"),
    (N_("⚡ Small gathering, quick setup"), "small"),
]


def skipped(draft: Draft) -> set[str]:
    return SMALL_SKIPPED if draft.get("small") else SKIPPED[kind_of(draft)]


def versions(draft: Draft, key: str) -> Versions:
    return Versions.from_json(draft[key])


def point_versions(draft: Draft) -> list[Versions]:
    return [Versions.from_json(point) for point in draft["meeting_points"]]


# -- each field: its question, how to read a typed answer, and an optional default ------------


@dataclass(frozen=True)
class Field:
    key: str
    question: str
    read: Callable[[str, Draft], None]
    # Its button; a (singular, plural) pair when it shows a count of days.
    default_label: str | tuple[str, str] | None = None
    default: Callable[[Draft, Translator], None] | None = None
    # For texts attendees read: an example of the same in several languages (an N_ text).
    several_languages: str | None = None


def read_name(text: str, draft: Draft) -> None:
    draft["name"] = read_event_name(text, draft_language(draft)).to_json()


def read_venue(text: str, draft: Draft) -> None:
    venue = read_event_name(text, draft_language(draft), empty=EMPTY_VENUE_NAME)
    draft["venue_name"] = venue.to_json()


def read_where(text: str, draft: Draft) -> None:
    found = locate_venue(text)
    if isinstance(found, VenueLocation):
        set_venue_location(draft, found)
        return
    draft["where_suggestions"] = [place.id for place in found]
    raise UserInputError(
        N_(
            "I could not place “{text}”. Pick a suggestion, send a location pin, or type "
            "coordinates like 48.8566, 2.3522."
        ),
        text=text[:60],
    )


def set_venue_location(draft: Draft, found: VenueLocation) -> None:
    draft["venue_lat"], draft["venue_lon"] = found.lat, found.lon
    draft["timezone_hint"] = found.timezone
    draft.pop("where_suggestions", None)


def read_timezone(text: str, draft: Draft) -> None:
    draft["timezone"] = check_timezone(text)


def default_timezone(draft: Draft, t: Translator) -> None:
    draft["timezone"] = draft.get("timezone_hint") or draft["default_timezone"]


def read_doors(text: str, draft: Draft) -> None:
    draft["doors_open"] = parse_local_datetime(text, draft["timezone"], _now()).isoformat()


def read_closing(text: str, draft: Draft) -> None:
    closing = closing_after(text, _at(draft, "doors_open"), draft["timezone"])
    draft["closing"] = closing.isoformat()


def read_points(text: str, draft: Draft) -> None:
    draft["meeting_points"] = [
        point.to_json() for point in parse_meeting_points(text, draft_language(draft))
    ]


def default_points(draft: Draft, t: Translator) -> None:
    draft["meeting_points"] = [point.to_json() for point in default_meeting_points(t.language)]


def read_slots(text: str, draft: Draft) -> None:
    opens = _at(draft, "doors_open")
    limit = _at(draft, "closing") if "closing" in draft else opens + timedelta(hours=24)
    slots = parse_arrival_slots(text, opens, limit, draft["timezone"])
    draft["arrival_slots"] = [[a.isoformat(), b.isoformat(), i] for a, b, i in slots]


def default_slots(draft: Draft, t: Translator) -> None:
    slots = default_arrival_slots(_at(draft, "doors_open"), closing_of(draft))
    draft["arrival_slots"] = [[a.isoformat(), b.isoformat(), i] for a, b, i in slots]


def read_waves(text: str, draft: Draft) -> None:
    waves = parse_departure_waves(
        text,
        _at(draft, "doors_open"),
        _at(draft, "closing"),
        draft["timezone"],
        point_versions(draft),
    )
    draft["departure_waves"] = [[when.isoformat(), i] for when, i in waves]


def default_waves(draft: Draft, t: Translator) -> None:
    draft["departure_waves"] = [[draft["closing"], 0]]


def read_tables(text: str, draft: Draft) -> None:
    found = tables.parse_tables(text.splitlines())
    draft["tables"] = [[t.name, t.link, t.capacity, t.activity] for t in found]


def read_sizes(text: str, draft: Draft) -> None:
    draft["sizes"] = list(parse_group_sizes(text))


def default_sizes(draft: Draft, t: Translator) -> None:
    draft["sizes"] = [2, 3, 4, 5]


def read_charter_text(text: str, draft: Draft) -> None:
    draft["charter"] = read_charter(text, draft_language(draft)).to_json()


def default_charter(draft: Draft, t: Translator) -> None:
    draft["charter"] = standard_charter(t.language).to_json()


def read_safe_place(text: str, draft: Draft) -> None:
    place = safeplace.parse(text)
    draft["safe_place"] = place.to_json() if place else None


def no_safe_place(draft: Draft, t: Translator) -> None:
    draft["safe_place"] = None


def read_retention(text: str, draft: Draft) -> None:
    draft["retention_days"] = parse_retention_days(text)


def default_retention(draft: Draft, t: Translator) -> None:
    draft["retention_days"] = DEFAULT_RETENTION_DAYS


FIELDS = [
    Field(
        "name",
        N_("Let's create an event. What is its name?"),
        read_name,
        several_languages=N_("Companions' night | fr: Nuit des compagnonnes"),
    ),
    Field("venue", N_("What is the venue called?"), read_venue),
    Field(
        "where",
        N_(
            "Where is the venue? Send its location pin (📎 → Location), type its neighbourhood "
            "(like Paris 11e or Ixelles), or coordinates like 48.8566, 2.3522."
        ),
        read_where,
    ),
    Field(
        "timezone",
        N_("Time zone of the event? Type one like Europe/Brussels, or keep the proposed one."),
        read_timezone,
        N_("Keep {timezone}"),
        default_timezone,
    ),
    Field(
        "doors",
        N_("When do doors open? Date and time, like 2026-12-05 23:00 or 05/12/2026 23:00."),
        read_doors,
    ),
    Field("closing", N_("What time does it close? Like 06:00."), read_closing),
    Field(
        "points",
        N_("Meeting points, one per line (the first is used unless a time says otherwise)."),
        read_points,
        N_("One meeting point: “Main entrance”"),
        default_points,
        several_languages=N_("Main entrance | fr: Entrée principale"),
    ),
    Field(
        "slots",
        N_("Arrival slots, like 23:00-00:00, 00:00-01:00."),
        read_slots,
        N_("Three one-hour slots from doors open"),
        default_slots,
    ),
    Field(
        "waves",
        N_("Departure times, like 03:00, 06:00 @ Back door (after @: its meeting point)."),
        read_waves,
        N_("One departure at closing time"),
        default_waves,
    ),
    Field(
        "tables",
        N_(
            "Tables for those joining online, one per line: name; call link; seats; activity "
            "(optional). Like:\nLoup-Garou; https://meet.jit.si/wolf; 10; Loup-Garou\n"
            "Papote; https://meet.jit.si/chat; 5"
        ),
        read_tables,
    ),
    Field(
        "sizes",
        N_("Group sizes: minimum, preferred range, maximum, like 2 3-4 5."),
        read_sizes,
        N_("Keep 2 / 3–4 / 5"),
        default_sizes,
    ),
    Field(
        "charter",
        N_("The charter attendees agree to. Type it, or use the standard one."),
        read_charter_text,
        N_("Use the standard charter"),
        default_charter,
        several_languages=N_("Be kind. … | fr: Soyons bienveillantes. …"),
    ),
    Field(
        "safe",
        N_(
            "The safe place, where someone who does not feel safe finds the team: its name, "
            "where it is and its hours, separated by semicolons, like: Welcome tent; behind the "
            "bar, left of the stage; 23:00–06:00."
        ),
        read_safe_place,
        N_("No safe place"),
        no_safe_place,
    ),
    Field(
        "retention",
        N_(
            "How many days after closing should attendees' personal data be deleted? "
            "Anonymous statistics stay. Type a number of days (1 to {max_days}), or keep the "
            "proposed one."
        ),
        read_retention,
        N_plural("Keep {count} day", "Keep {count} days"),
        default_retention,
    ),
]
FIELD_BY_KEY = {field.key: field for field in FIELDS}


# -- the conversation --------------------------------------------------------------------------


async def on_new_event(update: Update, context: Context) -> str | int:
    _ = tr(update, context).gettext
    if not roles.is_admin(settings_of(context), update.effective_user.id):
        await send(
            update,
            context,
            _(
                "Only the bot's administrators can create events. To help run an event, ask "
                "its organizers for their organizer link."
            ),
        )
        return END
    context.user_data[DRAFT_KEY] = new_draft(context, tr(update, context))
    return await ask(update, context, FIELDS[0].key)


async def ask(update: Update, context: Context, key: str) -> str:
    t = tr(update, context)
    _ = t.gettext
    context.user_data[STEP_KEY] = key
    draft = context.user_data[DRAFT_KEY]
    if key == REVIEW:
        await send(
            update,
            context,
            review_text(t, draft),
            column(
                [
                    (_("✅ Create the event"), NewEventCreate().encode()),
                    (_("Start again"), NewEventRestart().encode()),
                ]
            ),
        )
        return key
    field = FIELD_BY_KEY[key]
    buttons = []
    if field.default_label:
        timezone = draft.get("timezone_hint") or draft.get("default_timezone")
        label = (
            t.plural(field.default_label, DEFAULT_RETENTION_DAYS)
            if isinstance(field.default_label, tuple)
            else _(field.default_label).format(timezone=timezone)
        )
        buttons.append((label, NewEventDefault(key).encode()))
    if key == "name" and "kind" not in draft:
        buttons += [(_(label), NewEventKind(value).encode()) for label, value in KIND_BUTTONS]
    if key == "where":
        buttons += [
            (place_name, NewEventPlace(place_id).encode())
            for place_id, place_name in suggestion_names(draft)
        ]
    question = _(field.question).format(max_days=MAX_RETENTION_DAYS)
    if key == "name" and "kind" not in draft:
        question += "\n" + _("In person by default; tap below for another kind of event.")
    if field.several_languages:
        question += "\n" + in_several_languages(_, field.several_languages)
    await send(update, context, question, column(buttons) if buttons else None)
    return key


def suggestion_names(draft: Draft) -> list[tuple[str, str]]:
    names = []
    for place_id in draft.get("where_suggestions", []):
        found = venue_from_place_id(place_id)
        if found is not None:
            names.append((place_id, found.label))
    return names


def next_key(key: str, draft: Draft | None = None) -> str:
    """The next field to ask, past those this kind of event does without."""
    keys = [field.key for field in FIELDS]
    left = skipped(draft or {})
    for following in keys[keys.index(key) + 1 :]:
        if following not in left:
            return following
    return REVIEW


async def on_text(update: Update, context: Context) -> str:
    key = context.user_data.get(STEP_KEY, FIELDS[0].key)
    draft = context.user_data[DRAFT_KEY]
    try:
        FIELD_BY_KEY[key].read(update.effective_message.text or "", draft)
    except UserInputError as error:
        await send(update, context, error.translate(tr(update, context).gettext))
        return await ask(update, context, key)
    return await ask(update, context, next_key(key, draft))


@unsigned(NewEventKind)
async def on_kind(update: Update, context: Context, tapped: NewEventKind) -> str:
    """A kind of event tapped under the first question: asked again, for that kind."""
    choice = tapped.kind
    draft = context.user_data[DRAFT_KEY]
    if context.user_data.get(STEP_KEY) != "name" or "kind" in draft:
        return await stale(update, context)
    draft["kind"] = EventKind.IN_PERSON.value if choice == "small" else choice
    draft["small"] = choice == "small"
    await answer_query(update)
    await close_buttons(update, pressed(update))
    return await ask(update, context, "name")


@unsigned(NewEventDefault)
async def on_default(update: Update, context: Context, tapped: NewEventDefault) -> str:
    key = tapped.key
    field = FIELD_BY_KEY.get(key)
    if key != context.user_data.get(STEP_KEY) or field is None or field.default is None:
        return await stale(update, context)
    field.default(context.user_data[DRAFT_KEY], tr(update, context))
    await answer_query(update)
    await close_buttons(update, pressed(update))
    return await ask(update, context, next_key(key, context.user_data[DRAFT_KEY]))


async def on_location(update: Update, context: Context) -> str:
    location = update.effective_message.location
    draft = context.user_data[DRAFT_KEY]
    set_venue_location(draft, VenueLocation(location.latitude, location.longitude, ""))
    return await ask(update, context, next_key("where", draft))


@unsigned(NewEventPlace)
async def on_where_pick(update: Update, context: Context, tapped: NewEventPlace) -> str:
    place_id = tapped.place
    draft = context.user_data[DRAFT_KEY]
    found = venue_from_place_id(place_id)
    if found is None or place_id not in draft.get("where_suggestions", []):
        return await stale(update, context)
    set_venue_location(draft, found)
    await answer_query(update)
    await close_buttons(update, found.label)
    return await ask(update, context, next_key("where", draft))


async def on_create(update: Update, context: Context) -> int:
    _ = tr(update, context).gettext
    draft = context.user_data[DRAFT_KEY]
    try:
        event = await create_event(spec_from_draft(draft), update.effective_user.id)
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return await ask(update, context, REVIEW)
    await answer_query(update)
    await close_buttons(update)
    context.user_data.pop(DRAFT_KEY, None)
    context.user_data.pop(STEP_KEY, None)
    links = event_links(event, context.bot.username)
    await send(
        update,
        context,
        _("Event created!")
        + "\n\n"
        + links_text(tr(update, context), event, links, settings_of(context).WHATSAPP_NUMBER),
    )
    return END


async def on_restart(update: Update, context: Context) -> str:
    await answer_query(update)
    await close_buttons(update)
    context.user_data[DRAFT_KEY] = new_draft(context, tr(update, context))
    return await ask(update, context, FIELDS[0].key)


async def on_not_text(update: Update, context: Context) -> str:
    _ = tr(update, context).gettext
    message = update.effective_message
    if message.text and message.text.startswith("/"):
        text = _("You are creating an event. Finish it, or send /cancel to stop.")
    elif context.user_data.get(STEP_KEY) == REVIEW:
        text = _("Please answer with one of the buttons below.")
    else:
        text = _("I can only read text here.")
    await send(update, context, text)
    return await ask(update, context, context.user_data.get(STEP_KEY, FIELDS[0].key))


async def stale(update: Update, context: Context) -> str:
    await answer_query(update, tr(update, context).gettext("This button is no longer active."))
    return await ask(update, context, context.user_data.get(STEP_KEY, FIELDS[0].key))


def pressed(update: Update) -> str | None:
    query = update.callback_query
    for row in query.message.reply_markup.inline_keyboard if query.message.reply_markup else []:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


def complete(draft: Draft) -> None:
    """What the skipped fields stand for: an online event's "venue", the small preset's
    defaults (one arrival slot, one departure at closing, the standard charter)."""
    language = draft_language(draft)
    online = kind_of(draft) == EventKind.ONLINE
    if online:
        draft.setdefault("venue_name", online_venue(language).to_json())
        draft.setdefault("venue_lat", 0.0)
        draft.setdefault("venue_lon", 0.0)
        draft.setdefault("departure_waves", [])
    draft.setdefault("meeting_points", [p.to_json() for p in default_meeting_points(language)])
    if "arrival_slots" not in draft:
        slots = (one_slot if draft.get("small") else default_arrival_slots)(
            _at(draft, "doors_open"), closing_of(draft)
        )
        draft["arrival_slots"] = [[a.isoformat(), b.isoformat(), i] for a, b, i in slots]
    if online:
        draft["closing"] = closing_of(draft).isoformat()
    draft.setdefault("departure_waves", [[draft["closing"], 0]])
    draft.setdefault("sizes", [2, 3, 4, 5])
    draft.setdefault("charter", standard_charter(language).to_json())


def spec_from_draft(draft: Draft) -> EventSpec:
    complete(draft)
    minimum, preferred_min, preferred_max, maximum = draft["sizes"]
    return EventSpec(
        name=versions(draft, "name"),
        venue_name=versions(draft, "venue_name"),
        venue_lat=draft["venue_lat"],
        venue_lon=draft["venue_lon"],
        timezone=draft["timezone"],
        doors_open=_at(draft, "doors_open"),
        closing=_at(draft, "closing"),
        charter=versions(draft, "charter"),
        meeting_points=point_versions(draft),
        arrival_slots=[
            (datetime.fromisoformat(a), datetime.fromisoformat(b), i)
            for a, b, i in draft["arrival_slots"]
        ],
        departure_waves=[(datetime.fromisoformat(w), i) for w, i in draft["departure_waves"]],
        min_group_size=minimum,
        preferred_min_size=preferred_min,
        preferred_max_size=preferred_max,
        max_group_size=maximum,
        retention_days=draft.get("retention_days", DEFAULT_RETENTION_DAYS),
        kind=kind_of(draft),
        tables=[tables.TableSpec(*row) for row in draft.get("tables", [])],
        safe_place=safeplace.SafePlace(*draft["safe_place"]) if draft.get("safe_place") else None,
    )


def safe_place_line(t: Translator, draft: Draft) -> str:
    if not draft.get("safe_place"):
        return t.gettext("No safe place")
    name, where, hours = (esc(part) for part in draft["safe_place"])
    return t.gettext(safeplace.SAFE_PLACE).format(name=name, where=where, hours=hours)


def review_text(t: Translator, draft: Draft) -> str:
    _ = t.gettext
    complete(draft)
    zone = draft["timezone"]
    points = point_versions(draft)
    slots = ", ".join(
        f"{t.time(datetime.fromisoformat(a), zone)}–{t.time(datetime.fromisoformat(b), zone)}"
        for a, b, _i in draft["arrival_slots"]
    )
    waves = ", ".join(
        f"{t.time(datetime.fromisoformat(w), zone)} ({esc(points[i].in_language(t.language))})"
        for w, i in draft["departure_waves"]
    )
    minimum, preferred_min, preferred_max, maximum = draft["sizes"]
    lines = [
        _("Please check the event:"),
        "",
        f"<b>{esc(versions(draft, 'name').written())}</b> — "
        f"{esc(versions(draft, 'venue_name').written())}",
        _("Doors open: {when}").format(when=t.datetime(_at(draft, "doors_open"), zone)),
        _("Closing: {when}").format(when=t.datetime(_at(draft, "closing"), zone)),
        _("Time zone: {zone}").format(zone=esc(zone)),
        *(
            [
                _("Meeting points: {points}").format(
                    points=esc(", ".join(point.written() for point in points))
                )
            ]
            if kind_of(draft) != EventKind.ONLINE
            else [_("Online event: no venue, no departures.")]
        ),
        _("Arrival slots: {slots}").format(slots=slots),
        *([_("Departures: {waves}").format(waves=waves)] if waves else []),
        _("Group sizes: {minimum} minimum, {low}–{high} preferred, {maximum} maximum").format(
            minimum=minimum, low=preferred_min, high=preferred_max, maximum=maximum
        ),
        *(
            _("Table: {name}, {seats} seats{activity}: {link}").format(
                name=esc(name),
                seats=seats,
                activity=f" ({esc(activity)})" if activity else "",
                link=esc(link),
            )
            for name, link, seats, activity in draft.get("tables", [])
        ),
        t.ngettext(
            "Personal data deleted {days} day after closing",
            "Personal data deleted {days} days after closing",
            draft.get("retention_days", DEFAULT_RETENTION_DAYS),
        ).format(days=draft.get("retention_days", DEFAULT_RETENTION_DAYS)),
        safe_place_line(t, draft),
        "",
        _("Charter:"),
        esc(versions(draft, "charter").written()),
    ]
    return "\n".join(lines)


def links_text(
    t: Translator, event: Event, links: dict[InviteKind, str], whatsapp_number: str | None = None
) -> str:
    """The event's links; with the bot's WhatsApp number, the attendees' WhatsApp link too."""
    _ = t.gettext
    lines = [
        f"<b>{esc(event.localized('name', t.language))}</b>",
        _("Attendees: {link}").format(link=links[InviteKind.ATTENDEE]),
    ]
    if whatsapp_number:
        link = whatsapp_links.attendee_link(whatsapp_number, event)
        lines.append(_("Attendees on WhatsApp: {link}").format(link=link))
    lines += [
        _("Volunteers: {link}").format(link=links[InviteKind.VOLUNTEER]),
        _("Co-organizers: {link}").format(link=links[InviteKind.ORGANIZER]),
    ]
    return "\n".join(lines)


SIGNING_UP = N_plural("{count} signing up", "{count} signing up")
VOLUNTEERS = N_plural("{count} volunteer", "{count} volunteers")
ORGANIZERS = N_plural("{count} organizer", "{count} organizers")


async def on_my_events(update: Update, context: Context) -> None:
    t = tr(update, context)
    _ = t.gettext
    overviews = await organizer_overview(update.effective_user.id)
    volunteering = await roles.volunteer_events(update.effective_user.id)
    if not overviews and not volunteering:
        await send(update, context, _("You don't organize or volunteer at any event yet."))
        return
    blocks = []
    for item in overviews:
        counts = ", ".join([
            t.plural(SIGNED_UP, item.confirmed),
            t.plural(SIGNING_UP, item.drafts),
            t.plural(VOLUNTEERS, item.volunteers),
            t.plural(ORGANIZERS, item.organizers),
        ])  # fmt: skip
        when = t.datetime(item.event.doors_open, item.event.timezone)
        links = event_links(item.event, context.bot.username)
        listed = links_text(t, item.event, links, settings_of(context).WHATSAPP_NUMBER)
        blocks.append(f"{listed}\n{when}\n{counts}")
    for event in volunteering:
        blocks.append(
            _("Volunteer at <b>{event}</b>, {when}").format(
                event=esc(event.localized("name", t.language)),
                when=t.datetime(event.doors_open, event.timezone),
            )
        )
    await send(update, context, "\n\n".join(blocks))


def new_event_conversation(fallbacks: list[BaseHandler]) -> Conversation:
    text = PRIVATE & filters.TEXT & ~filters.COMMAND

    def button(callback: Callable[..., Awaitable], kind: type[Action]) -> CallbackQueryHandler:
        return CallbackQueryHandler(callback, pattern=pattern(kind))

    states: dict[object, list[BaseHandler]] = {
        field.key: [MessageHandler(text, on_text), button(on_default, NewEventDefault)]
        for field in FIELDS
    }
    states["name"].append(button(on_kind, NewEventKind))
    states["where"] += [
        MessageHandler(PRIVATE & filters.LOCATION, on_location),
        button(on_where_pick, NewEventPlace),
    ]
    states[REVIEW] = [button(on_create, NewEventCreate), button(on_restart, NewEventRestart)]
    return Conversation(
        name=CONVERSATION_NAME,
        entry_points=[CommandHandler("newevent", on_new_event, filters=PRIVATE)],
        states=states,
        fallbacks=[
            *fallbacks,
            CallbackQueryHandler(stale),
            MessageHandler(PRIVATE, on_not_text),
        ],
    )


def handlers() -> list[BaseHandler]:
    return [CommandHandler("myevents", on_my_events, filters=PRIVATE)]
