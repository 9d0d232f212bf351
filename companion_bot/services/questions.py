"""The sign-up's questions, in no channel's terms: each is a text and the choices she may tap
(unsigned actions, `su:…`), built from her registration in her language. Telegram's edge
(handlers/signup.py) shows them with an inline keyboard, WhatsApp's
(companion_bot/whatsapp/signup.py) with reply buttons or a list; both read the same answers
back through the registrations service. Also the summary of her registration, shown by both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from companion_bot import actions
from companion_bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_, Translator, escape
from companion_bot.models import (
    ArrivalKind,
    EventKind,
    Registration,
    RegistrationStatus,
    Transport,
    fetch_missing,
)
from companion_bot.notices import Choice
from companion_bot.services import people, registrations, safeplace, tables, zones
from companion_bot.services.errors import UserInputError
from companion_bot.services.registrations import RegistrationView, Step

TRANSPORT_LABELS = {
    Transport.WALK: N_("🚶 On foot"),
    Transport.TRANSIT: N_("🚇 Metro / RER / tram"),
    Transport.NIGHT_BUS: N_("🚌 Night bus"),
    Transport.TAXI: N_("🚕 Taxi / ride-hailing"),
    Transport.BIKE: N_("🚲 Bike"),
    Transport.CAR: N_("🚗 Car"),
}
# One word per answer: the summary's line and the edit button under it say the same.
EDITABLE = {
    Step.LANGUAGE: N_("Language"),
    Step.NAME: N_("Name"),
    Step.ATTENDANCE: N_("Coming"),
    Step.ARRIVAL: N_("Arrival"),
    Step.ACTIVITY: N_("Activity"),
    Step.DESTINATION: N_("Destination"),
    Step.TRANSPORT: N_("Transport"),
    Step.SEATS: N_("Seats"),
    Step.WAVE: N_("Departure"),
}
CONFIRM = actions.Confirm().encode()
NO_DEPARTURE_GROUP = actions.DestinationPick("none").encode()


@dataclass(frozen=True)
class Question:
    text: str
    choices: list[list[Choice]] = field(default_factory=list)
    ask_location: bool = False  # her location answers it too

    def column(self) -> list[list[Choice]]:
        """The choices one per row."""
        return [[choice] for row in self.choices for choice in row]


def language(t: Translator) -> Question:
    buttons = [
        (f"✓ {LANGUAGE_NAMES[code]}" if code == t.language else LANGUAGE_NAMES[code],
         actions.SignupLanguage(code).encode())
        for code in LANGUAGES
    ]  # fmt: skip
    return Question(
        t.gettext("Which language do you prefer? You can change it later with /language."),
        [buttons],
    )


async def charter(t: Translator, reg: Registration) -> Question:
    _ = t.gettext
    await fetch_missing(reg, "event")
    text = _("Welcome to <b>{event}</b>! Before we look for companions, please read the charter:")
    event, language = reg.event, t.language
    place = safeplace.line(t, event)
    return Question(
        f"{text.format(event=escape(event.localized('name', language)))}\n\n"
        f"{escape(event.localized('charter', language))}" + (f"\n\n{place}" if place else ""),
        [
            [(_("✅ I agree"), actions.Charter("yes").encode())],
            [(_("I don't agree"), actions.Charter("no").encode())],
        ],
    )


def name(t: Translator, proposal: str | None) -> Question:
    """`proposal`: the name her account shows, offered when it is fit to be shown."""
    _ = t.gettext
    buttons = []
    try:
        proposal = people.clean_display_name(proposal)
        buttons.append([(_("Use “{name}”").format(name=proposal), actions.DefaultName().encode())])
    except UserInputError:
        pass
    return Question(
        _(
            "What name should your companions see? Type a first name or a nickname. "
            "Never your @username or phone number: the bot keeps those private."
        ),
        buttons,
    )


async def arrival(t: Translator, reg: Registration) -> Question:
    _ = t.gettext
    await fetch_missing(reg, "event")
    slots, _waves = await registrations.event_choices(reg.event_id)
    zone = reg.event.timezone
    buttons = [
        [(f"{t.time(slot.starts_at, zone)} – {t.time(slot.ends_at, zone)}",
          actions.ArrivalSlotPick(slot.id).encode())]
        for slot in slots
    ]  # fmt: skip
    if reg.online or reg.event.kind == EventKind.ONLINE:
        text = _(
            "When will you join? Pick a time: shortly before it, we seat you at a table with "
            "people joining then, and send you its call link."
        )
        return Question(text, buttons)
    buttons += [
        [(_("I'm already there"), actions.Arrival("here").encode())],
        [(_("I'll come on my own"), actions.Arrival("own").encode())],
    ]
    text = _(
        "When do you plan to arrive at {venue}? Pick a slot and we will match you with people "
        "arriving at the same time, to go in together."
    ).format(venue=escape(reg.event.localized("venue_name", t.language)))
    return Question(text, buttons)


async def destination(t: Translator, reg: Registration) -> Question:
    _ = t.gettext
    text = _(
        "Where are you heading after the event? Type a neighbourhood or a commune "
        "(for example 11e, Montreuil, Ixelles), or share a location pin (📎 → Location). "
        "Only the neighbourhood is kept, never the exact point."
    )
    if names := await zones.names(reg.event_id, t.language):
        text += "\n" + _("The organizers' zones: {zones}.").format(
            zones=", ".join(escape(name) for name in names)
        )
    return Question(text, [[(_("No departure group for me"), NO_DEPARTURE_GROUP)]], True)


def transport(t: Translator) -> Question:
    _ = t.gettext
    buttons = [
        (_(label), actions.TransportPick(mode.value).encode())
        for mode, label in TRANSPORT_LABELS.items()
    ]
    return Question(
        _("How will you travel home?"), [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    )


def seats(t: Translator) -> Question:
    _ = t.gettext
    counts = [(str(n), actions.SeatsPick(n).encode()) for n in range(1, 5)]
    return Question(
        _(
            "Can you drive companions home? People of your departure heading your way may "
            "ride with you (you are dropped last, and never take a long detour for them). "
            "Tap how many seats you offer, or type a number up to {limit}."
        ).format(limit=registrations.MAX_SEATS),
        [counts, [(_("No seat: I drive alone"), actions.SeatsPick(0).encode())]],
    )


async def wave(t: Translator, reg: Registration) -> Question:
    await fetch_missing(reg, "event")
    _slots, waves = await registrations.event_choices(reg.event_id)
    return Question(
        t.gettext("Which departure time suits you?"),
        [
            [(wave_label(t, item, reg.event.timezone), actions.WavePick(item.id).encode())]
            for item in waves
        ],
    )


async def summary(t: Translator, reg: Registration) -> Question:
    _ = t.gettext
    shown = await registrations.view(reg, t.language)
    confirmed = reg.status == RegistrationStatus.CONFIRMED
    steps = shown_steps(reg, bool(await tables.activities(reg.event_id)))
    edits = [
        (_("✏️ {what}").format(what=_(EDITABLE[step])), actions.Edit(step.value).encode())
        for step in steps
        if step not in (Step.TRANSPORT, Step.SEATS, Step.WAVE) or reg.wants_departure_group
    ]
    rows = [[(_("✅ Done") if confirmed else _("✅ Confirm"), CONFIRM)]]
    rows += [edits[i : i + 2] for i in range(0, len(edits), 2)]
    return Question(summary_text(t, shown, steps), rows)


async def attendance(t: Translator, reg: Registration) -> Question:
    _ = t.gettext
    await fetch_missing(reg, "event")
    text = _("Will you come to {venue} in person, or join online?").format(
        venue=escape(reg.event.localized("venue_name", t.language))
    )
    return Question(
        text,
        [
            [(_("🚶 In person"), actions.Attendance("person").encode())],
            [(_("💻 Online"), actions.Attendance("online").encode())],
        ],
    )


async def activity(t: Translator, reg: Registration) -> Question:
    _ = t.gettext
    offered = await tables.activities(reg.event_id)
    buttons = [[(name, actions.ActivityPick(index).encode())] for index, name in enumerate(offered)]
    buttons.append([(_("Anything suits me"), actions.AnyActivity().encode())])
    return Question(_("Which activity would you like? Tap one (or type its name)."), buttons)


def drives_a_car(reg: Registration) -> bool:
    return bool(reg.wants_departure_group) and reg.transport == Transport.CAR


def online_steps(reg: Registration) -> set[Step]:
    """The summary's answers of someone joining online: no trip home."""
    steps = {Step.LANGUAGE, Step.NAME, Step.ARRIVAL, Step.ACTIVITY}
    if reg.event.kind == EventKind.HYBRID:
        steps.add(Step.ATTENDANCE)
    return steps


def shown_steps(reg: Registration, has_activities: bool) -> list[Step]:
    if reg.online:
        steps = online_steps(reg)
        if not has_activities:
            steps.discard(Step.ACTIVITY)
    else:
        steps = set(EDITABLE) - {Step.ACTIVITY, Step.ATTENDANCE}
        if reg.event.kind == EventKind.HYBRID:
            steps.add(Step.ATTENDANCE)
        if not drives_a_car(reg):
            steps.discard(Step.SEATS)
    return [step for step in EDITABLE if step in steps]


def wave_label(t: Translator, wave, timezone: str) -> str:
    point = wave.meeting_point.localized("name", t.language) if wave.meeting_point else None
    clock = t.time(wave.departs_at, timezone)
    return f"{clock} — {point}" if point else clock


def summary_text(t: Translator, shown: RegistrationView, steps: list[Step] | None = None) -> str:
    _ = t.gettext
    reg, zone = shown.registration, shown.event.timezone
    if reg.arrival_kind == ArrivalKind.SLOT and shown.arrival_slot:
        arrival = _("{start} – {end}").format(
            start=t.time(shown.arrival_slot.starts_at, zone),
            end=t.time(shown.arrival_slot.ends_at, zone),
        )
        if shown.arrival_meeting_point:
            arrival += f" ({escape(shown.arrival_meeting_point)})"
    elif reg.arrival_kind == ArrivalKind.ALREADY_THERE:
        arrival = _("already there")
    else:
        arrival = _("on my own")
    if reg.wants_departure_group and shown.destination:
        destination = escape(shown.destination.name)
        transport = _(TRANSPORT_LABELS[reg.transport]) if reg.transport else "—"
        departure = wave_label(t, shown.departure_wave, zone) if shown.departure_wave else "—"
    else:
        destination, transport, departure = _("no departure group"), "—", "—"
    status = (
        _("✅ You are signed up.")
        if reg.status == RegistrationStatus.CONFIRMED
        else _("Please check and confirm:")
    )
    answers = {
        Step.LANGUAGE: LANGUAGE_NAMES[t.language],
        Step.NAME: escape(shown.display_name or "—"),
        Step.ATTENDANCE: _("online") if reg.online else _("in person"),
        Step.ARRIVAL: arrival,
        Step.ACTIVITY: escape(reg.activity) if reg.activity else _("anything"),
        Step.DESTINATION: destination,
        Step.TRANSPORT: transport,
        Step.SEATS: seats_text(t, reg.seats_offered),
        Step.WAVE: departure,
    }
    steps = steps if steps is not None else shown_steps(reg, reg.activity is not None)
    answers = {step: value for step, value in answers.items() if step in steps}
    lines = [
        f"<b>{escape(shown.event.localized('name', t.language))}</b> — "
        f"{escape(shown.event.localized('venue_name', t.language))}, "
        f"{t.datetime(shown.event.doors_open, zone)}",
        status,
        "",
        *(
            _("{answer}: {value}").format(answer=_(EDITABLE[step]), value=value)
            for step, value in answers.items()
        ),
    ]
    return "\n".join(lines)


def seats_text(t: Translator, seats: int | None) -> str:
    if seats is None:
        return "—"
    if seats == 0:
        return t.gettext("none, I drive alone")
    return t.ngettext("{n} seat for companions", "{n} seats for companions", seats).format(n=seats)


async def ask(
    step: Step, t: Translator, reg: Registration, proposal: str | None = None
) -> Question:
    """The question of `step` for her registration (`proposal`: see `name`)."""
    match step:
        case Step.LANGUAGE:
            return language(t)
        case Step.CHARTER:
            return await charter(t, reg)
        case Step.NAME:
            return name(t, proposal)
        case Step.ATTENDANCE:
            return await attendance(t, reg)
        case Step.ARRIVAL:
            return await arrival(t, reg)
        case Step.ACTIVITY:
            return await activity(t, reg)
        case Step.DESTINATION:
            return await destination(t, reg)
        case Step.TRANSPORT:
            return transport(t)
        case Step.SEATS:
            return seats(t)
        case Step.WAVE:
            return await wave(t, reg)
    return await summary(t, reg)
