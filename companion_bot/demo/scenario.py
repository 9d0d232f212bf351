"""The demo's night: a sample event in Paris, the people one can chat as, and the extras: a
few attendees already signed up, so that groups form as soon as someone joins, and a second
volunteer, who play their part of the night by themselves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from companion_bot import actions
from companion_bot.emulator import BotApiEmulator, EmulatedUser
from companion_bot.gazetteer import Gazetteer
from companion_bot.i18n import N_
from companion_bot.models import (
    ArrivalKind,
    ArrivalSlot,
    DepartureWave,
    Event,
    EventKind,
    RoleKind,
)
from companion_bot.services import closing, events, people, registrations, roles, tables
from companion_bot.services.texts import Versions

# The organizer's texts, in French and English: each attendee reads them in her language.
EVENT_NAME = Versions((("fr", "Nuit Compagnonnes (démo)"), ("en", "Compagnonnes Night (demo)")))
VENUE_NAME = "Le Hangar"
# By the Canal de l'Ourcq, Paris 19e.
VENUE = (48.8890, 2.3930)
MEETING_POINTS = [
    Versions((("fr", "Entrée principale"), ("en", "Main entrance"))),
    Versions((("fr", "Porte du canal"), ("en", "Canal gate"))),
]


class PersonaRole(StrEnum):
    ATTENDEE = "attendee"
    VOLUNTEER = "volunteer"
    ORGANIZER = "organizer"


ROLE_LABELS = {
    PersonaRole.ATTENDEE: N_("Attendee"),
    PersonaRole.VOLUNTEER: N_("Volunteer"),
    PersonaRole.ORGANIZER: N_("Organizer"),
}


@dataclass(frozen=True)
class PersonaSpec:
    key: str
    telegram_id: int | None  # None: she is on WhatsApp
    first_name: str
    language: str
    role: PersonaRole
    wa_id: str | None = None  # her WhatsApp number, for the one on WhatsApp

    @property
    def on_whatsapp(self) -> bool:
        return self.wa_id is not None


# The columns of the page, in order. Their Telegram apps speak the bot's three languages
# (Louise is from Brussels and writes in Dutch); Zoé writes from WhatsApp, on a French number.
PERSONAS = (
    PersonaSpec("camille", 7001, "Camille", "fr", PersonaRole.ATTENDEE),
    PersonaSpec("maya", 7002, "Maya", "en", PersonaRole.ATTENDEE),
    PersonaSpec("louise", 7003, "Louise", "nl", PersonaRole.ATTENDEE),
    PersonaSpec("zoe", None, "Zoé", "fr", PersonaRole.ATTENDEE, wa_id="33612345678"),
    PersonaSpec("samira", 7101, "Samira", "fr", PersonaRole.VOLUNTEER),
    PersonaSpec("jo", 7201, "Jo", "en", PersonaRole.ORGANIZER),
)
ORGANIZER_ID = next(p.telegram_id for p in PERSONAS if p.role == PersonaRole.ORGANIZER)


@dataclass(frozen=True)
class Reaction:
    """An extra taps a button (the one whose action `taps` picks) this long after it
    arrived."""

    taps: Callable[[actions.Action | None], bool]
    after: timedelta
    # What the night's log says once done ({names}: who did), and before ("coming next").
    done: str
    coming: str


AT_POINT = Reaction(
    lambda action: isinstance(action, actions.Closing) and action.what == "at",
    timedelta(minutes=5),
    N_("At the meeting point: {names}."),
    N_("Attendees reach the meeting point."),
)
HOME = Reaction(
    lambda action: isinstance(action, actions.Closing) and action.what == "home",
    timedelta(minutes=35),
    N_("Home, and said so: {names}."),
    N_("Attendees get home and say so."),
)
# Group cards reach the volunteers with the reminder, 15 minutes before the departure.
GROUP_LEFT = Reaction(
    lambda action: isinstance(action, actions.GroupCard) and action.what == "left",
    timedelta(minutes=15),
    N_("{names}, a volunteer on duty, confirms that the groups have left."),
    N_("A volunteer confirms that the groups have left."),
)


@dataclass(frozen=True)
class Extra:
    """Someone already there when the demo starts, not shown on the page, who plays her part
    of the night by herself: attendees signed up, or a second volunteer on duty."""

    telegram_id: int
    name: str
    language: str
    reactions: tuple[Reaction, ...]
    # Attendees: arrival slot, destination (gazetteer id), transport, departure wave.
    slot: int = 0
    destination: str = ""
    transport: str = "transit"
    wave: int = 0


REGULAR = (AT_POINT, HOME)
# She never says she is home: the bot asks her, then alerts the team.
QUIET = (AT_POINT,)
REGULARS = (
    Extra(7301, "Inès", "fr", REGULAR, 0, "fr-montreuil", "transit", 0),
    Extra(7302, "Jade", "fr", REGULAR, 0, "fr-bagnolet", "transit", 0),
    Extra(7303, "Nora", "fr", REGULAR, 0, "fr-paris-20", "walk", 0),
    Extra(7304, "Alix", "fr", QUIET, 0, "fr-vincennes", "night_bus", 0),
    Extra(7305, "Chloé", "fr", REGULAR, 1, "fr-pantin", "transit", 1),
    Extra(7306, "Sam", "en", REGULAR, 1, "fr-les-lilas", "transit", 1),
    Extra(7307, "Rose", "fr", REGULAR, 1, "fr-paris-19", "walk", 1),
    Extra(7308, "Lina", "fr", REGULAR, 1, "fr-montreuil", "transit", 1),
)
HELPER = Extra(7401, "Awa", "fr", (GROUP_LEFT,))
EXTRAS = (*REGULARS, HELPER)

# The online evening (`companion-bot demo --evening online`): a game night, no venue, no trip
# home; the regulars join tables, each with an activity ("" for any), and tap "we're in".
GAME_NIGHT = Versions((("fr", "Soirée jeux (démo)"), ("en", "Game night (demo)")))
IN_THE_CALL = Reaction(
    lambda action: isinstance(action, actions.TableJoined),
    timedelta(minutes=3),
    N_("In the call: {names}."),
    N_("Attendees join their table's call."),
)
DEMO_TABLES = [
    tables.TableSpec("Loup-Garou", "https://meet.jit.si/demo-loup-garou", 8, "Loup-Garou"),
    tables.TableSpec("Papote", "https://meet.jit.si/demo-papote", 5, None),
]
ACTIVITIES = ("Loup-Garou", "Loup-Garou", "", "Loup-Garou", "", "Loup-Garou", "", "")


# The sample events `companion-bot demo --evening` plays.
IN_PERSON, ONLINE, HYBRID, SMALL = "in-person", "online", "hybrid", "small"
EVENINGS = (IN_PERSON, ONLINE, HYBRID, SMALL)
HYBRID_NIGHT = Versions((("fr", "Soirée hybride (démo)"), ("en", "Hybrid evening (demo)")))
JAM_SESSION = Versions((("fr", "Jam session (démo)"), ("en", "Jam session (demo)")))


def joins_online(evening: str, index: int) -> bool:
    """Does the regular number `index` join online? All of them at the game night; every
    other one at the hybrid evening; nobody elsewhere."""
    return evening == ONLINE or (evening == HYBRID and index % 2 == 1)


def extras_for(evening: str) -> tuple[Extra, ...]:
    """The same people; online, they tap "we're in" instead of walking home."""
    return (
        *(
            replace(extra, reactions=(IN_THE_CALL,)) if joins_online(evening, index) else extra
            for index, extra in enumerate(REGULARS)
        ),
        HELPER,
    )


# Places the page offers to share as a location pin: (label, latitude, longitude).
LOCATIONS = {
    "montreuil": ("Montreuil", 48.8638, 2.4485),
    "belleville": ("Belleville", 48.8718, 2.3810),
    "pantin": ("Pantin", 48.8944, 2.4093),
    "paris-14": ("Paris 14e", 48.8331, 2.3264),
    "ixelles": ("Ixelles", 50.8270, 4.3720),
}


def _round_up(moment: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(-(-moment.timestamp() // seconds) * seconds, UTC)


def event_spec(now: datetime, language: str) -> events.EventSpec:
    """Doors in under an hour, closing six hours later; two arrival slots, two waves."""
    doors = _round_up(now + timedelta(minutes=45), timedelta(minutes=15))
    closing = doors + timedelta(hours=6)
    return events.EventSpec(
        name=EVENT_NAME,
        venue_name=VENUE_NAME,
        venue_lat=VENUE[0],
        venue_lon=VENUE[1],
        timezone="Europe/Paris",
        doors_open=doors,
        closing=closing,
        charter=events.standard_charter(language),
        meeting_points=list(MEETING_POINTS),
        arrival_slots=[
            (doors, doors + timedelta(hours=1), 0),
            (doors + timedelta(hours=1), doors + timedelta(hours=2), 0),
        ],
        departure_waves=[(doors + timedelta(hours=4), 0), (closing, 1)],
    )


def online_spec(now: datetime, language: str) -> events.EventSpec:
    """A game night starting in under an hour: two join slots, two tables, no departures."""
    spec = event_spec(now, language)
    spec.name = GAME_NIGHT
    spec.kind = EventKind.ONLINE
    spec.venue_name = events.online_venue(language)
    spec.venue_lat = spec.venue_lon = 0.0
    spec.closing = spec.doors_open + timedelta(hours=2)
    spec.departure_waves = []
    spec.tables = list(DEMO_TABLES)
    return spec


def hybrid_spec(now: datetime, language: str) -> events.EventSpec:
    """The night out, with the game night's tables for whoever joins online."""
    spec = event_spec(now, language)
    spec.name = HYBRID_NIGHT
    spec.kind = EventKind.HYBRID
    spec.tables = list(DEMO_TABLES)
    return spec


def small_spec(now: datetime, language: str) -> events.EventSpec:
    """A jam session as the quick preset makes it: four hours, one arrival slot, one departure
    at closing."""
    spec = event_spec(now, language)
    spec.name = JAM_SESSION
    spec.closing = spec.doors_open + timedelta(hours=4)
    spec.meeting_points = list(MEETING_POINTS[:1])
    spec.arrival_slots = events.one_slot(spec.doors_open, spec.closing)
    spec.departure_waves = [(spec.closing, 0)]
    return spec


SPECS = {IN_PERSON: event_spec, ONLINE: online_spec, HYBRID: hybrid_spec, SMALL: small_spec}


async def create_event(now: datetime, language: str, evening: str = IN_PERSON) -> Event:
    """The sample event of this `evening` (see EVENINGS), organized by the organizer persona,
    with its regulars signed up and a volunteer on duty."""
    spec = SPECS[evening](now, language)
    event = await events.create_event(spec, ORGANIZER_ID)
    await roles.grant(HELPER.telegram_id, event, RoleKind.VOLUNTEER)
    await people.ensure_person(HELPER.telegram_id, HELPER.language)
    await people.ensure_display_name(HELPER.telegram_id, HELPER.name)
    await closing.set_duty(HELPER.telegram_id, event.id, True)
    slots = await ArrivalSlot.filter(event=event).order_by("starts_at")
    waves = await DepartureWave.filter(event=event).order_by("departs_at")
    for index, regular in enumerate(REGULARS):
        online = joins_online(evening, index)
        if not online and Gazetteer.default().get(regular.destination) is None:
            continue  # a gazetteer without this place: one regular fewer
        await people.ensure_person(regular.telegram_id, regular.language)
        await people.set_display_name(regular.telegram_id, regular.name)
        registration = await registrations.start_signup(regular.telegram_id, event)
        await registrations.record_consent(registration)
        if evening == HYBRID:
            await tables.set_online(registration, online)
        slot = slots[min(regular.slot, len(slots) - 1)]
        await registrations.set_arrival(registration, ArrivalKind.SLOT, slot.id)
        if online:
            await tables.set_activity(registration, ACTIVITIES[index])
        else:
            await registrations.set_destination(registration, regular.destination)
            await registrations.set_transport(registration, regular.transport)
            wave = waves[min(regular.wave, len(waves) - 1)]
            await registrations.set_departure_wave(registration, wave.id)
        await registrations.confirm(registration)
    return event


def open_accounts(emulator: BotApiEmulator) -> tuple[dict[str, EmulatedUser], list[EmulatedUser]]:
    """Everyone's Telegram account (personas on Telegram by key, extras in order); all have
    opened the bot, so it may write to them first."""
    personas = {
        spec.key: emulator.user(spec.telegram_id, spec.first_name, spec.language, started=True)
        for spec in PERSONAS
        if spec.telegram_id is not None
    }
    extras = [
        emulator.user(extra.telegram_id, extra.name, extra.language, started=True)
        for extra in EXTRAS
    ]
    return personas, extras
