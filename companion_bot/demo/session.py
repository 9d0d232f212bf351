"""One running demo: the emulators (Telegram's, and WhatsApp's Cloud API), the real bot
polling the one and serving the other's webhook, the sample event, the personas' chats as the
page sees them, and the night's clock; `Nights` starts a fresh one on request.

Everything here runs in the task that opened Tortoise (see `open_demo`), like `run_bot`, or
in tasks it started (the page's requests), which share its Tortoise context.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from telegram.ext import Application

from companion_bot import actions, clock
from companion_bot.app import build_application, start_polling, stop_polling
from companion_bot.demo import chat, scenario, timeline
from companion_bot.demo.database import empty_tables
from companion_bot.demo.scenario import PersonaRole, PersonaSpec, Reaction
from companion_bot.demo.whatsapp import WhatsAppChat
from companion_bot.emulator import (
    BotApiEmulator,
    EmulatedUser,
    InlineButton,
    StoredMessage,
    settle,
)
from companion_bot.i18n import N_, N_plural, Translator, translator
from companion_bot.models import ArrivalSlot, DepartureWave, Event, ScheduledTask
from companion_bot.services import board, broadcasts, closing, groups, help, lifecycle, tables
from companion_bot.settings import Settings, load_settings
from companion_bot.signing import data_of
from companion_bot.web.server import serve_web
from companion_bot.whatsapp.webhook import DEFAULT_PATH as WHATSAPP_WEBHOOK_PATH
from companion_bot.whatsapp_emulator import CloudApiEmulator, approve_bot_templates

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
# How long an action waits for the bot's answer before the page gets the state anyway.
ANSWER_TIMEOUT = 10.0
MAX_TEXT = 4096
LOG_SIZE = 40
# While the page waits for a change, "coming next" and the clock are looked at again this
# often: real time flows too, and the bot runs by itself what falls due.
REFRESH_SECONDS = 5.0

# Every kind of task the bot schedules, in words (tests/demo checks none is missing).
TASK_LABELS = {
    groups.ROUND_TASK: N_("Matching round: groups are formed, and announced when it is time."),
    groups.CARDS_TASK: N_("A group changed: the volunteers' cards of it are brought up to date."),
    closing.NIGHT_START_TASK: N_(
        "The night begins: the attendees are reminded that the “I need help” button is there."
    ),
    closing.ARRIVAL_ALONE_TASK: N_(
        "Before the {time} arrivals: whoever has no arrival group is told a volunteer will "
        "welcome her, and the volunteers on duty get her name."
    ),
    closing.WAVE_REMINDER_TASK: N_(
        "Reminder of the {time} departure, to its attendees and the volunteers on duty."
    ),
    closing.HOME_REMINDER_TASK: N_(
        "Check-in time for someone who left: if she has not said she is home, the bot asks her."
    ),
    closing.GROUP_ASK_TASK: N_(
        "Still no news from someone who left: her group is asked whether anyone heard from her."
    ),
    closing.NO_NEWS_TASK: N_(
        "Still no news from someone who left: the volunteers on duty are alerted."
    ),
    closing.NO_SHOW_TASK: N_(
        "The {time} departure: whoever is not at the meeting point while her group is there "
        "is asked where she is, and offered the next departure."
    ),
    closing.ORGANIZER_ALERT_TASK: N_(
        "Still no news from someone who left, after the volunteers: the organizers are alerted."
    ),
    help.ESCALATION_TASK: N_("A help alert nobody claimed goes to the organizers."),
    help.CLAIM_REMINDER_TASK: N_(
        "A help alert taken a while ago is still open: the volunteer who took it is asked "
        "to close it."
    ),
    broadcasts.REPORT_TASK: N_("The organizer gets the delivery report of her message."),
    lifecycle.FOLLOWUP_TASK: N_("The morning after: three quick questions to the attendees."),
    lifecycle.PURGE_TASK: N_(
        "The attendees' personal data is deleted, as announced; anonymous statistics remain."
    ),
    tables.SEAT_TASK: N_(
        "Shortly before the {time} online start: everyone joining then gets a table and its "
        "call link; whoever has none is flagged to the hosts."
    ),
    tables.REMINDER_TASK: N_(
        "The {time} online tables start: a reminder with the link and a “we're in” button."
    ),
}
OTHER_TASK = N_("Something the bot had planned.")
CLOCK_MOVED = N_plural(
    "The clock moves forward {count} minute.", "The clock moves forward {count} minutes."
)
NIGHT_OVER = N_("The night is over: nothing else is planned.")
NEW_NIGHT_STARTING = N_("A new night is starting: try again in a moment.")

SUGGESTIONS = {
    PersonaRole.ATTENDEE: (N_("Open the event link"), ("/me", "/group", "/help")),
    PersonaRole.VOLUNTEER: (N_("Open the volunteer link"), ("/duty", "/waves")),
    PersonaRole.ORGANIZER: (
        N_("Open the organizer link"),
        ("/myevents", "/dashboard", "/waves", "/broadcast"),
    ),
}
# On WhatsApp, words instead of commands (companion_bot/whatsapp/conversation.py), in her
# language; the event link types the event's code in her box.
WHATSAPP_WORDS = {
    "fr": ("menu", "moi", "groupe", "aide"),
    "en": ("menu", "me", "group", "help"),
    "nl": ("menu", "ik", "groep", "hulp"),
}
ON_WHATSAPP = N_("on WhatsApp")
# The bot's own settings for WhatsApp's emulator (nothing secret: all of it stays local).
WHATSAPP_VERIFY_TOKEN = "demo-verify-token"


class DemoError(Exception):
    """Something the page asked cannot be done; the message is an N_() text."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Persona:
    """One column: her Telegram account, or her chat on WhatsApp."""

    spec: PersonaSpec
    user: EmulatedUser | None = None
    whatsapp: WhatsAppChat | None = None


@dataclass
class LogEntry:
    moment: datetime
    # An N_ text, or an N_plural one whose values give the "count".
    message: str | tuple[str, str]
    values: dict[str, str] = field(default_factory=dict)

    def text(self, t: Translator) -> str:
        if isinstance(self.message, tuple):
            return t.ngettext(*self.message, int(self.values["count"])).format(**self.values)
        return t.gettext(self.message).format(**self.values)


def demo_settings(
    emulator: BotApiEmulator, meta: CloudApiEmulator, database_url: str, language: str = "fr"
) -> Settings:
    """The bot's settings for the demo: the emulators (`meta`: WhatsApp's) instead of
    Telegram and Meta, no token needed, and the organizer persona among the admins; its web
    app (WhatsApp's webhook) on a free port of this machine only. A .env file is not read:
    its tokens (if any) must never be used here."""
    return load_settings(
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_URL=emulator.url,
        DATABASE_URL=database_url,
        COMPANION_ADMINS=str(scenario.ORGANIZER_ID),
        DEFAULT_LANGUAGE=language,
        DEFAULT_TIMEZONE="Europe/Paris",
        # The emulator enforces no limits: answer at once.
        TELEGRAM_RATE_LIMIT=0,
        TELEGRAM_CHAT_INTERVAL=0,
        WEB_HOST="127.0.0.1",
        WEB_PORT=0,
        **meta.bot_settings(WHATSAPP_VERIFY_TOKEN),
        # The organizer gets the event's wa.me link to this number.
        WHATSAPP_NUMBER=meta.display_phone_number,
        _env_file=None,
    )


def action_of(button: Any) -> actions.Action | None:
    """What an inline button does (its signature is not checked: the demo only picks which
    button a persona taps, the bot checks it)."""
    return actions.decode(data_of(button.callback_data or ""))


class Demo:
    """The page's side of a running demo: what it shows, what it does as each persona, and
    the night's clock (which the extras follow by themselves)."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        meta: CloudApiEmulator,
        application: Application,
        event: Event,
        users: dict[str, EmulatedUser],
        extras: list[EmulatedUser],
        evening: str = scenario.IN_PERSON,
    ) -> None:
        self.emulator = emulator
        self.meta = meta
        self.application = application
        self.event = event
        self.personas = [
            Persona(spec, whatsapp=WhatsAppChat(meta.user(spec.wa_id, spec.first_name)))
            if spec.wa_id
            else Persona(spec, users[spec.key])
            for spec in scenario.PERSONAS
        ]
        self.extras = list(zip(scenario.extras_for(evening), extras, strict=True))
        self.links = chat.Links(
            chat.start_link_pattern(emulator.default_bot.username),
            whatsapp=chat.whatsapp_link_pattern(meta.display_phone_number),
        )
        self.log: list[LogEntry] = []
        self.night_over = False
        self.closing = False
        self.number = 1  # which night of this demo (see Nights)
        self._next: tuple[datetime, str, dict[str, str]] | None = None  # due, label, values
        self._moves = 0  # how many times the clock moved: a slower refresh never wins
        # When each message arrived, on the bot's clock (the emulator stamps real time, which
        # does not follow the night as the clock jumps); extras react after a delay from it.
        self._seen: dict[Hashable, datetime] = {}
        self._reacted: set[tuple[int, int, Reaction]] = set()
        self._clock_lock = asyncio.Lock()
        # The night ends with the morning-after questions (the purge, days later, is not shown).
        self.until = lifecycle.followup_time(event) + timedelta(minutes=1)

    # -- what the page shows -------------------------------------------------------------

    def persona(self, key: str) -> Persona:
        self._check_open()
        found = next((p for p in self.personas if p.spec.key == key), None)
        if found is None:
            raise DemoError(N_("There is nobody of that name in this demo."), 404)
        return found

    def _check_open(self) -> None:
        """A request that reached this night as it closed (a new one is starting)."""
        if self.closing:
            raise DemoError(NEW_NIGHT_STARTING, 503)

    @contextlib.asynccontextmanager
    async def clock_still(self) -> AsyncIterator[None]:
        """Nothing moves the clock meanwhile; a move under way finishes first."""
        async with self._clock_lock:
            yield

    @property
    def bot_username(self) -> str:
        return self.emulator.default_bot.username

    def serve_board_at(self, address: tuple[str, int]) -> None:
        """The page's server (host, port) serves the live board too: the bot's board links
        point there, and the page opens them."""
        settings: Settings = self.application.bot_data["settings"]
        self.application.bot_data[board.WEB_ADDRESS_KEY] = address
        base = board.public_base_url(settings, address)
        self.links = chat.Links(
            self.links.start, chat.board_link_pattern(base), self.links.whatsapp
        )

    def _time(self, moment: datetime) -> str:
        """HH:MM in the event's time zone (the same in every language)."""
        return translator("en").time(moment, self.event.timezone)

    def _when(self, moment: datetime, t: Translator) -> str:
        """HH:MM in the event's time zone, with the day when it is not the night clock's
        day: "Sun 11:00" the morning after, never a bare time that looks past."""
        zone = ZoneInfo(self.event.timezone)
        if moment.astimezone(zone).date() == clock.now().astimezone(zone).date():
            return t.time(moment, self.event.timezone)
        return format_datetime(moment, "EEE HH:mm", tzinfo=zone, locale=t.language)

    def _stamp(self, key: Hashable) -> datetime:
        # To the minute: what one step sends arrives together, and is reacted to together.
        now = clock.now().replace(second=0, microsecond=0)
        return self._seen.setdefault(key, now)

    def _arrived(self, message: StoredMessage) -> datetime:
        return self._stamp((message.chat_id, message.message_id))

    def _shown_at(self, message: StoredMessage) -> str:
        return self._time(self._arrived(message))

    def _shown_at_key(self, key: Hashable) -> str:
        return self._time(self._stamp(key))

    def _note_arrivals(self) -> None:
        """Stamp new messages now: called whenever the bot may have written, before the
        clock moves again."""
        for conversation in self.emulator.conversations.values():
            for message in conversation.messages.values():
                self._arrived(message)
        for persona in self.personas:
            if persona.whatsapp is not None:
                for key in persona.whatsapp.keys():
                    self._stamp(key)

    def _chat_json(self, persona: Persona) -> JSON:
        if persona.whatsapp is not None:
            return persona.whatsapp.chat_json(self.links, self._shown_at_key)
        assert persona.user is not None
        return chat.chat_json(persona.user, self.links, self._shown_at)

    def _suggestions(self, spec: PersonaSpec, t: Translator) -> list[JSON]:
        """The chips under her chat: her link, then her commands (words on WhatsApp)."""
        link_label, commands = SUGGESTIONS[spec.role]
        code = {
            PersonaRole.ATTENDEE: self.event.attendee_code,
            PersonaRole.VOLUNTEER: self.event.volunteer_code,
            PersonaRole.ORGANIZER: self.event.organizer_code,
        }[spec.role]
        if spec.on_whatsapp:
            # What the event's wa.me link types in her box.
            link, commands = code, WHATSAPP_WORDS[spec.language]
        else:
            link = f"/start {code}"
        suggestions = [{"label": t.gettext(link_label), "text": link}]
        return suggestions + [{"label": command, "text": command} for command in commands]

    def snapshot(self, language: str) -> JSON:
        """Everything the page shows, in `language` (the bot's messages are in each
        persona's own language already)."""
        t = translator(language)
        _ = t.gettext
        self._note_arrivals()
        personas = []
        for persona in self.personas:
            spec = persona.spec
            personas.append(
                {
                    "key": spec.key,
                    "name": spec.first_name,
                    "role": spec.role.value,
                    "role_label": _(scenario.ROLE_LABELS[spec.role]),
                    "channel": "whatsapp" if spec.on_whatsapp else "telegram",
                    "channel_label": _(ON_WHATSAPP) if spec.on_whatsapp else None,
                    "language": spec.language,
                    "suggestions": self._suggestions(spec, t),
                    "chat": self._chat_json(persona),
                }
            )
        state: JSON = {
            "night": self.number,
            "clock": t.datetime(clock.now(), self.event.timezone),
            "event": {
                "name": self.event.localized("name", t.language),
                "venue": self.event.localized("venue_name", t.language),
                "doors": t.datetime(self.event.doors_open, self.event.timezone),
            },
            "night_over": self.night_over,
            "next": None,
            "log": [
                {"at": self._when(entry.moment, t), "text": entry.text(t)} for entry in self.log
            ],
            "personas": personas,
        }
        if self._next is not None and not self.night_over:
            due, message, values = self._next
            # Overdue: the bot is running it right now.
            moment = max(due, clock.now())
            state["next"] = {"at": self._when(moment, t), "text": _(message).format(**values)}
        encoded = json.dumps(state, sort_keys=True, ensure_ascii=False).encode()
        state["version"] = hashlib.sha1(encoded, usedforsecurity=False).hexdigest()[:16]
        return state

    async def state(self, language: str) -> JSON:
        """The snapshot, with "coming next" looked at again first."""
        await self.refresh()
        return self.snapshot(language)

    async def wait_for_change(self, language: str, after: str | None, timeout: float) -> JSON:  # noqa: ASYNC109
        """The state once it differs from version `after` (long polling), or after
        `timeout` seconds anyway; also when this night closes."""
        latest: list[JSON] = []

        def changed() -> bool:
            latest[:] = [self.snapshot(language)]
            return self.closing or latest[0]["version"] != after

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.refresh()
            remaining = deadline - loop.time()
            if changed() or remaining <= 0:
                return latest[0]
            with contextlib.suppress(TimeoutError):
                await self.emulator.wait_for(changed, min(remaining, REFRESH_SECONDS))

    # -- acting as a persona -------------------------------------------------------------

    async def _answered(self) -> None:
        """Wait until the bot handled what was sent (it answers within milliseconds)."""
        try:
            await settle(self.emulator, self.application, timeout=ANSWER_TIMEOUT)
        except TimeoutError:
            logger.warning("demo: the bot is slow to answer; the page will catch up")
        self._note_arrivals()
        await self.refresh()

    async def send_text(self, key: str, text: object) -> None:
        persona = self.persona(key)
        if not isinstance(text, str) or not text.strip():
            raise DemoError(N_("Type a message first."))
        text = text.strip()[:MAX_TEXT]
        user = persona.user
        if persona.whatsapp is not None:
            await persona.whatsapp.send_text(text)
        elif text.startswith("/") and len(text) > 1:
            command, _, payload = text.partition(" ")
            await user.send_command(command, payload.strip() or None)
        else:
            await user.send_text(text)
        await self._answered()

    async def tap(self, key: str, message_id: object, index: object) -> None:
        persona = self.persona(key)
        if not isinstance(message_id, int) or not isinstance(index, int):
            raise DemoError(N_("This button is no longer there."), 409)
        if persona.whatsapp is not None:
            try:
                await persona.whatsapp.tap(message_id, index)
            except LookupError:
                raise DemoError(N_("This button is no longer there."), 409) from None
            await self._answered()
            return
        user = persona.user
        button = chat.find_inline_button(user, message_id, index)
        if button is None:
            raise DemoError(N_("This button is no longer there."), 409)
        if "callback_data" in button:
            text, data = button["text"], button["callback_data"]
            await user.tap(lambda b: b.text == text and b.callback_data == data, message_id)
        else:
            match = self.links.start.fullmatch(button.get("url", ""))
            if match is None:
                raise DemoError(N_("Links to other sites do not open in the demo."))
            await user.start(match.group(1))
        await self._answered()

    async def share_location(self, key: str, place: object) -> None:
        persona = self.persona(key)
        if not isinstance(place, str) or place not in scenario.LOCATIONS:
            raise DemoError(N_("Choose one of the places offered."))
        _label, latitude, longitude = scenario.LOCATIONS[place]
        if persona.whatsapp is not None:
            await persona.whatsapp.send_location(latitude, longitude)
        else:
            await persona.user.send_location(latitude, longitude)
        await self._answered()

    async def send_sticker(self, key: str) -> None:
        persona = self.persona(key)
        if persona.whatsapp is not None:
            await persona.whatsapp.send_sticker()
        else:
            await persona.user.send_sticker(chat.STICKER)
        await self._answered()

    # -- the night's clock ---------------------------------------------------------------

    async def next_step(self) -> bool:
        """Jump to the next thing planned (by the bot, or by the extras) and let it happen;
        False once the night is over."""
        async with self._clock_lock:
            self._check_open()
            moved = await self._step(self.until)
            if not moved and not self.night_over:
                self._log(LogEntry(clock.now(), NIGHT_OVER))
            self.night_over = not moved
            await self._refresh_next()
        self.emulator.changed.notify()
        return moved

    async def advance(self, minutes: object) -> None:
        """Move the clock forward, letting everything planned on the way happen in order."""
        if not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
            raise DemoError(N_("Choose a number of minutes between 1 and 1440."))
        async with self._clock_lock:
            self._check_open()
            moment = clock.now() + timedelta(minutes=minutes)
            while await self._step(moment):
                pass
            clock.travel_to(moment)
            timeline.wake(self.application)
            await self._settle_night()
            self._log(LogEntry(moment, CLOCK_MOVED, {"count": str(minutes)}))
            await self._refresh_next()
        self.emulator.changed.notify()

    async def _step(self, limit: datetime) -> bool:
        """To the bot's next task or the extras' next reaction, whichever comes first, if
        it comes by `limit`; False when nothing does."""
        await self._settle_night()
        task = await timeline.next_task(limit)
        reaction = self._next_reaction()
        if (
            reaction is not None
            and reaction[0] <= limit
            and (task is None or reaction[0] < task.due_at)
        ):
            clock.travel_to(reaction[0])
            timeline.wake(self.application)
            await self._settle_night()
            return True
        if task is None:
            return False
        task = await timeline.step(self.emulator, self.application, limit)
        if task is not None:
            self._log(LogEntry(task.due_at, *await self._describe(task)))
        await self._settle_night()
        return True

    async def _settle_night(self) -> None:
        """Everything due has happened, the extras' due reactions included."""
        while True:
            await timeline.drain(self.emulator, self.application)
            self._note_arrivals()
            if not await self._react():
                return

    def _pending_reactions(
        self,
    ) -> Iterator[
        tuple[datetime, scenario.Extra, EmulatedUser, StoredMessage, InlineButton, Reaction]
    ]:
        """(due, extra, account, message, button, reaction) for every button an extra will
        tap, in no order."""
        for extra, user in self.extras:
            for message in user.messages():
                for button in message.inline_buttons():
                    for reaction in extra.reactions:
                        key = (message.chat_id, message.message_id, reaction)
                        if reaction.taps(action_of(button)) and key not in self._reacted:
                            due = self._arrived(message) + reaction.after
                            yield due, extra, user, message, button, reaction

    def _next_reaction(self) -> tuple[datetime, Reaction] | None:
        pending = [(due, reaction) for due, *_, reaction in self._pending_reactions()]
        return min(pending, key=lambda item: item[0]) if pending else None

    async def _react(self) -> bool:
        """The extras tap the buttons they are due to tap; False when none was due."""
        now = clock.now()
        names: dict[Reaction, list[str]] = {}
        for due, extra, user, message, button, reaction in list(self._pending_reactions()):
            if due > now:
                continue
            self._reacted.add((message.chat_id, message.message_id, reaction))
            await user.tap(lambda b, wanted=button: b == wanted, message.message_id)
            if extra.name not in names.setdefault(reaction, []):
                names[reaction].append(extra.name)
        for reaction, who in names.items():
            self._log(LogEntry(now, reaction.done, {"names": ", ".join(who)}))
        return bool(names)

    def _log(self, entry: LogEntry) -> None:
        """One line for the same thing at the same moment (a reminder per person...), with
        everyone's names."""
        last = self.log[-1] if self.log else None
        if last is not None and (last.moment, last.message) == (entry.moment, entry.message):
            if "names" in last.values and "names" in entry.values:
                last.values["names"] += ", " + entry.values["names"]
            return
        self.log.append(entry)
        del self.log[:-LOG_SIZE]

    async def _describe(self, task: ScheduledTask) -> tuple[str, dict[str, str]]:
        """The task in words (an N_() text) and the values it names."""
        payload = task.payload or {}
        moment = None
        if task.kind == closing.WAVE_REMINDER_TASK:
            wave = await DepartureWave.get_or_none(id=payload.get("wave_id"))
            moment = wave.departs_at if wave else None
        elif task.kind in (closing.ARRIVAL_ALONE_TASK, tables.SEAT_TASK, tables.REMINDER_TASK):
            slot = await ArrivalSlot.get_or_none(id=payload.get("slot_id"))
            moment = slot.starts_at if slot else None
        values = {"time": self._time(moment) if moment else "?"}
        return TASK_LABELS.get(task.kind, OTHER_TASK), values

    async def _coming_next(self) -> tuple[datetime, str, dict[str, str]] | None:
        """What "coming next" says: the bot's next task or the extras' next reaction."""
        task = await timeline.next_task(self.until)
        reaction = self._next_reaction()
        if (
            reaction is not None
            and reaction[0] <= self.until
            and (task is None or reaction[0] < task.due_at)
        ):
            return reaction[0], reaction[1].coming, {}
        if task is not None:
            return task.due_at, *await self._describe(task)
        return None

    async def _refresh_next(self) -> None:
        """After the clock moved (holding the clock's lock)."""
        self._next = await self._coming_next()
        self._moves += 1

    async def refresh(self) -> None:
        """Look at "coming next" again: people act, real time flows and the bot runs what
        falls due by itself. Not while the clock moves: it looks again when done."""
        moves = self._moves
        if self._clock_lock.locked():
            return
        coming = await self._coming_next()
        if moves == self._moves and not self._clock_lock.locked():
            self._next = coming

    async def open_chats(self) -> None:
        """The volunteer joins with her link and goes on duty; the organizer opens hers and
        looks at her events: both chats show how it is done."""
        volunteer = next(p.user for p in self.personas if p.spec.role == PersonaRole.VOLUNTEER)
        organizer = next(p.user for p in self.personas if p.spec.role == PersonaRole.ORGANIZER)
        await volunteer.start(self.event.volunteer_code)
        await self._answered()
        await volunteer.send_command("/duty")
        await self._answered()
        await volunteer.tap(lambda b: isinstance(action_of(b), actions.Duty))
        # Her link first: it records the language the bot's alerts will use for her.
        await organizer.start(self.event.organizer_code)
        await self._answered()
        await organizer.send_command("/myevents")
        await self._answered()


@contextlib.asynccontextmanager
async def open_demo(
    database_url: str, *, language: str = "fr", evening: str = scenario.IN_PERSON
) -> AsyncIterator[Demo]:
    """The emulators, the bot polling Telegram's and serving its web app on a free local
    port (where WhatsApp's posts its signed webhooks), and the seeded event (`evening`: which
    one of scenario.EVENINGS); Tortoise must already be open on `database_url` in this task,
    on an empty database."""
    # Meta's clock is the bot's: her 24-hour window closes as the night goes on.
    async with BotApiEmulator() as emulator, CloudApiEmulator(clock=clock.now) as meta:
        # One signal for both: the page's long poll wakes for either channel.
        meta.changed = emulator.changed
        approve_bot_templates(meta)
        settings = demo_settings(emulator, meta, database_url, language)
        application = build_application(settings)
        users, extras = scenario.open_accounts(emulator)
        async with serve_web(application, settings) as web_app:
            host, port = web_app.address
            await meta.subscribe(
                f"http://{host}:{port}{WHATSAPP_WEBHOOK_PATH}", WHATSAPP_VERIFY_TOKEN
            )
            await start_polling(application, timeout=5)
            try:
                event = await scenario.create_event(clock.now(), language, evening)
                demo = Demo(emulator, meta, application, event, users, extras, evening)
                await demo.open_chats()
                try:
                    yield demo
                finally:
                    demo.closing = True
                    emulator.changed.notify()
            finally:
                await stop_polling(application)


class Nights:
    """The night the page shows, and a fresh one on request: the bot, its emulator and the
    database start again in this process, so the page, its address and its live board stay
    where they are. Open with `open_nights`."""

    def __init__(self, database_url: str, language: str, evening: str = scenario.IN_PERSON) -> None:
        self.database_url = database_url
        self.language = language
        self.evening = evening
        self.closing = False
        self._web_address: tuple[str, int] | None = None
        self._night: contextlib.AsyncExitStack | None = None
        self._demo: Demo | None = None
        self._ready = asyncio.Event()  # clear while a new night starts
        self._lock = asyncio.Lock()
        self._count = 0

    @property
    def demo(self) -> Demo:
        if self._demo is None:
            raise DemoError(NEW_NIGHT_STARTING, 503)
        return self._demo

    def serve_board_at(self, address: tuple[str, int]) -> None:
        """Where the page's server listens: it serves every night's live board."""
        self._web_address = address
        if self._demo is not None:
            self._demo.serve_board_at(address)

    async def _open_night(self) -> None:
        night = contextlib.AsyncExitStack()
        demo = await night.enter_async_context(
            open_demo(self.database_url, language=self.language, evening=self.evening)
        )
        if self._web_address is not None:
            demo.serve_board_at(self._web_address)
        self._count += 1
        demo.number = self._count
        self._night, self._demo = night, demo
        self._ready.set()

    async def _close_night(self) -> None:
        self._ready.clear()
        night, self._night, demo, self._demo = self._night, None, self._demo, None
        if night is not None and demo is not None:
            async with demo.clock_still():
                await night.aclose()

    async def new_night(self) -> None:
        """End this night and start a fresh one: empty database, the clock back to now,
        new chats, the sample event again."""
        async with self._lock:
            await self._close_night()
            await empty_tables()
            clock.reset()
            await self._open_night()

    async def wait_for_change(self, language: str, after: str | None, timeout: float) -> JSON:  # noqa: ASYNC109
        """The current night's `wait_for_change`; when a new night starts meanwhile, its
        first state."""
        demo = self._demo
        if demo is not None:
            state = await demo.wait_for_change(language, after, timeout)
            if not demo.closing or self.closing:
                return state
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return await self.demo.state(language)

    async def close(self) -> None:
        self.closing = True
        async with self._lock:
            await self._close_night()


@contextlib.asynccontextmanager
async def open_nights(
    database_url: str, *, language: str = "fr", evening: str = scenario.IN_PERSON
) -> AsyncIterator[Nights]:
    """The first night open (`evening`: which sample event); Tortoise must already be open on
    `database_url` in this task, on an empty database."""
    nights = Nights(database_url, language, evening)
    await nights._open_night()
    try:
        yield nights
    finally:
        await nights.close()
