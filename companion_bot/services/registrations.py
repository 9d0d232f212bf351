"""Sign-up: a registration filled step by step, then confirmed, edited or cancelled.

Every answer is stored as soon as it is given (status draft), so an interrupted sign-up
loses nothing and `next_step` tells where to pick it up again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.gazetteer import Gazetteer, LookupResult, Place
from companion_bot.i18n import N_
from companion_bot.models import (
    ArrivalKind,
    ArrivalSlot,
    DepartureWave,
    Event,
    EventKind,
    OnlineTable,
    Person,
    Registration,
    RegistrationStatus,
    Transport,
    fetch_missing,
)
from companion_bot.prepared import Prepared
from companion_bot.services import groups, people, tables, zones
from companion_bot.services.errors import UserInputError
from companion_bot.services.people import Who, ensure_person
from matching import MAX_SEATS

# How far a location pin may be from every known neighbourhood before we ask her to type.
SNAP_MAX_KM = 15.0

STALE_CHOICE = N_("That choice is no longer available. Please pick one of the buttons below.")


class Step(StrEnum):
    LANGUAGE = "language"
    CHARTER = "charter"
    NAME = "name"
    ATTENDANCE = "attendance"  # hybrid: in person or online
    ARRIVAL = "arrival"
    ACTIVITY = "activity"  # online: which activity, when the tables offer some
    DESTINATION = "destination"
    TRANSPORT = "transport"
    SEATS = "seats"
    WAVE = "wave"
    SUMMARY = "summary"


@dataclass(frozen=True)
class RegistrationView:
    """A registration with what is needed to show it, in one language (the organizers'
    texts, like meeting points and zones, are already in it)."""

    registration: Registration
    event: Event
    display_name: str | None
    arrival_slot: ArrivalSlot | None
    destination: Place | None
    departure_wave: DepartureWave | None
    arrival_meeting_point: str | None
    departure_meeting_point: str | None


def gazetteer() -> Gazetteer:
    return Gazetteer.default()


def _now() -> datetime:
    return clock.now()


async def start_signup(who: Who, event: Event) -> Registration:
    """Her registration for this event, created as a draft if new or reopened if cancelled."""
    if event.closing <= _now():
        raise UserInputError(N_("This event is over: sign-ups are closed."))
    person = await ensure_person(who)
    registration, created = await Registration.get_or_create(event=event, person=person)
    if created and event.kind == EventKind.ONLINE:
        registration.online = True
        await registration.save(update_fields=["online", "updated_at"])
    if not created and registration.status == RegistrationStatus.CANCELLED:
        registration.status = RegistrationStatus.DRAFT
        registration.cancelled_at = None
        await registration.save(update_fields=["status", "cancelled_at", "updated_at"])
    return registration


def registration_by(person_field: str) -> Prepared:
    """Her registration for an event, with its event and her person, found by `person_field`
    (`person`: its value): one joined query, built once."""
    return Prepared(
        Registration,
        lambda person, event_id: (
            Registration.filter(event_id=event_id, **{person_field: person})
            .select_related("event", "person")
            .limit(1)
        ),
        person=int,
        event_id=int,
    )


# Every answer she gives starts with it (Telegram's edge knows her by her Telegram id,
# WhatsApp's by her person).
_BY_TELEGRAM_ID = registration_by("person__telegram_id")
_BY_PERSON = registration_by("person_id")


async def get_registration(who: Who, event_id: int) -> Registration | None:
    """Hers for this event, with its event and her person loaded."""
    if isinstance(who, int):
        return await _BY_TELEGRAM_ID.first(person=who, event_id=event_id)
    return await _BY_PERSON.first(person=who.id, event_id=event_id)


async def active_registrations(who: Who) -> list[Registration]:
    """Her registrations for events not over yet (drafts included), soonest first."""
    return (
        await Registration.filter(
            **people.lookup(who, "person"),
            status__in=[RegistrationStatus.DRAFT, RegistrationStatus.CONFIRMED],
            event__closing__gt=_now(),
        )
        .order_by("event__doors_open")
        .prefetch_related("event")
    )


def next_step(
    registration: Registration,
    person: Person,
    has_waves: bool,
    kind: EventKind = EventKind.IN_PERSON,
    has_activities: bool = False,
) -> Step:
    """The first unanswered step; the summary once everything is answered. Online: a join
    slot and maybe an activity, never a neighbourhood or a transport."""
    if registration.consent_at is None:
        return Step.CHARTER
    if not person.display_name:
        return Step.NAME
    if kind == EventKind.HYBRID and registration.online is None:
        return Step.ATTENDANCE
    if kind == EventKind.ONLINE or registration.online:
        if registration.arrival_kind != ArrivalKind.SLOT or registration.arrival_slot_id is None:
            return Step.ARRIVAL
        if has_activities and registration.activity is None:
            return Step.ACTIVITY
        return Step.SUMMARY
    if registration.arrival_kind is None:
        return Step.ARRIVAL
    if registration.wants_departure_group is None:
        return Step.DESTINATION
    if registration.wants_departure_group:
        if registration.transport is None:
            return Step.TRANSPORT
        if registration.transport == Transport.CAR and registration.seats_offered is None:
            return Step.SEATS
        if has_waves and registration.departure_wave_id is None:
            return Step.WAVE
    return Step.SUMMARY


async def step_after_answer(registration: Registration) -> Step:
    await fetch_missing(registration, "person", "event")
    kind = registration.event.kind
    # Each is read only when `next_step` looks at it: the departure step matters to someone
    # who wants a departure group, the activity to someone joining online.
    has_waves = bool(registration.wants_departure_group) and (
        await DepartureWave.filter(event_id=registration.event_id).exists()
    )
    has_activities = (kind == EventKind.ONLINE or bool(registration.online)) and (
        await OnlineTable.filter(event_id=registration.event_id, activity__not_isnull=True).exists()
    )
    return next_step(registration, registration.person, has_waves, kind, has_activities)


async def record_consent(registration: Registration) -> None:
    registration.consent_at = _now()
    await registration.save(update_fields=["consent_at", "updated_at"])


async def set_arrival(registration: Registration, kind: ArrivalKind, slot_id: int | None) -> None:
    if registration.online and kind != ArrivalKind.SLOT:
        raise UserInputError(STALE_CHOICE)  # online: a join slot
    slot = None
    if kind == ArrivalKind.SLOT:
        slot = await ArrivalSlot.get_or_none(id=slot_id, event_id=registration.event_id)
        if slot is None:
            raise UserInputError(STALE_CHOICE)
    registration.arrival_kind = kind
    registration.arrival_slot = slot
    await registration.save(update_fields=["arrival_kind", "arrival_slot_id", "updated_at"])


async def find_destination(text: str, event: Event, language: str) -> LookupResult:
    """Typed destination → a confident match, or up to three suggestions: the event's zones
    first (named in `language`), then the gazetteer's neighbourhoods near the venue
    (`zones.first_zones`)."""
    return await zones.find(text, event, language)


async def snap_location(lat: float, lon: float, event: Event, language: str) -> Place | None:
    """A location pin becomes the event's nearest zone (within `zones.SNAP_KM`), else its
    neighbourhood; the point itself is never stored."""
    zone = await zones.snap(lat, lon, event.id, language)
    return zone or gazetteer().nearest(lat, lon, max_km=SNAP_MAX_KM)


async def set_destination(registration: Registration, place_id: str | None) -> None:
    """A neighbourhood or one of the event's zones for the departure group, or None: no
    departure group for her."""
    if zones.is_zone(place_id):
        # The zone is held until she is saved as heading there: a removal waits, then counts her.
        async with in_transaction():
            if not await zones.lock_for_destination(place_id, registration.event_id):
                raise UserInputError(STALE_CHOICE)
            await save_destination(registration, place_id)
        return
    if place_id is not None and gazetteer().get(place_id) is None:
        raise UserInputError(STALE_CHOICE)
    await save_destination(registration, place_id)


async def save_destination(registration: Registration, place_id: str | None) -> None:
    registration.destination_place_id = place_id
    registration.wants_departure_group = place_id is not None
    if place_id is None:
        registration.transport = None
        registration.seats_offered = None
        registration.departure_wave = None
    await registration.save(
        update_fields=[
            "destination_place_id",
            "wants_departure_group",
            "transport",
            "seats_offered",
            "departure_wave_id",
            "updated_at",
        ]
    )


async def set_transport(registration: Registration, transport: str) -> None:
    try:
        registration.transport = Transport(transport)
    except ValueError:
        raise UserInputError(STALE_CHOICE) from None
    if registration.transport != Transport.CAR:
        registration.seats_offered = None  # only a driver offers seats
    await registration.save(update_fields=["transport", "seats_offered", "updated_at"])


def parse_seats(text: str) -> int:
    """The seats she typed ("2", " 3 "): a whole number from 1 to MAX_SEATS, or a clear
    refusal (0 is "no seat", which has its button; a car has no more than 8 free seats)."""
    text = text.strip()
    if not text.isdecimal():
        raise UserInputError(
            N_("Please type a number of seats from 1 to {limit}, or tap a button."),
            limit=MAX_SEATS,
        )
    seats = int(text)
    if seats == 0:
        raise UserInputError(
            N_(
                "0 seats means you drive alone: tap “No seat: I drive alone” for that, "
                "or type 1 to {limit}."
            ),
            limit=MAX_SEATS,
        )
    if seats > MAX_SEATS:
        raise UserInputError(N_("At most {limit} seats, please."), limit=MAX_SEATS)
    return seats


async def set_seats(registration: Registration, seats: int) -> None:
    """The seats a driver offers to companions heading her way (0: she drives alone)."""
    if not registration.wants_departure_group or registration.transport != Transport.CAR:
        raise UserInputError(
            N_("Seats are for drivers in a departure group: you did not choose the car.")
            if registration.wants_departure_group
            else N_("Seats are for drivers in a departure group: you chose none.")
        )
    if not 0 <= seats <= MAX_SEATS:
        raise UserInputError(N_("At most {limit} seats, please."), limit=MAX_SEATS)
    registration.seats_offered = seats
    await registration.save(update_fields=["seats_offered", "updated_at"])


async def set_departure_wave(registration: Registration, wave_id: int) -> None:
    wave = await DepartureWave.get_or_none(id=wave_id, event_id=registration.event_id)
    if wave is None:
        raise UserInputError(STALE_CHOICE)
    registration.departure_wave = wave
    await registration.save(update_fields=["departure_wave_id", "updated_at"])


async def confirm(registration: Registration) -> Registration:
    if await step_after_answer(registration) != Step.SUMMARY:
        raise UserInputError(N_("A few answers are still missing before you can confirm."))
    if registration.status != RegistrationStatus.CONFIRMED:
        registration.status = RegistrationStatus.CONFIRMED
        registration.confirmed_at = _now()
        await registration.save(update_fields=["status", "confirmed_at", "updated_at"])
    # New answers (or an edit) may change her groups: join one now or at the next round.
    if registration.online:
        # Hybrid: no longer in person.
        await groups.leave_groups(registration.id, None, in_person_only=True)
        await tables.place_signup(registration.id)
    else:
        await tables.leave_tables(registration.id)  # hybrid: no longer online
        await groups.place_signup(registration.id)
    return registration


async def cancel(who: Who, registration_id: int) -> Registration | None:
    """Cancel one of her own registrations; None when it is not hers or already cancelled."""
    async with in_transaction():
        registration = await Registration.get_or_none(
            id=registration_id,
            **people.lookup(who, "person"),
            status__in=[RegistrationStatus.DRAFT, RegistrationStatus.CONFIRMED],
        )
        if registration is None:
            return None
        registration.status = RegistrationStatus.CANCELLED
        registration.cancelled_at = _now()
        await registration.save(update_fields=["status", "cancelled_at", "updated_at"])
        await groups.remove_registration(registration.id)
    await fetch_missing(registration, "event")
    return registration


async def view(registration: Registration, language: str) -> RegistrationView:
    await fetch_missing(
        registration,
        "event",
        "person",
        "arrival_slot__meeting_point",
        "departure_wave__meeting_point",
    )
    slot = registration.arrival_slot
    wave = registration.departure_wave
    # None as well for a zone removed since: the view shows no destination, never fails.
    destination = await zones.resolve(
        registration.destination_place_id, registration.event_id, language
    )
    return RegistrationView(
        registration=registration,
        event=registration.event,
        display_name=registration.person.display_name,
        arrival_slot=slot,
        destination=destination,
        departure_wave=wave,
        arrival_meeting_point=(
            slot.meeting_point.localized("name", language) if slot and slot.meeting_point else None
        ),
        departure_meeting_point=(
            wave.meeting_point.localized("name", language) if wave and wave.meeting_point else None
        ),
    )


_SLOTS = Prepared(
    ArrivalSlot,
    lambda event_id: ArrivalSlot.filter(event_id=event_id).select_related("meeting_point"),
    event_id=int,
)
_WAVES = Prepared(
    DepartureWave,
    lambda event_id: DepartureWave.filter(event_id=event_id).select_related("meeting_point"),
    event_id=int,
)


async def event_choices(event_id: int) -> tuple[list[ArrivalSlot], list[DepartureWave]]:
    """The buttons of the arrival and departure steps (with their meeting points)."""
    return await _SLOTS.all(event_id=event_id), await _WAVES.all(event_id=event_id)
