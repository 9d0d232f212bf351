"""One running demo: the emulator, the real bot polling it, the sample event, the personas'
chats as the page sees them, and the night's clock.

Everything here runs in the task that opened Tortoise (see `open_demo`), like `run_bot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram.ext import Application

from companion_bot import clock
from companion_bot.app import build_application, start_polling, stop_polling
from companion_bot.demo import chat, scenario, timeline
from companion_bot.demo.scenario import PersonaRole, PersonaSpec, Reaction
from companion_bot.emulator import (
    BotApiEmulator,
    EmulatedUser,
    InlineButton,
    StoredMessage,
    settle,
)
from companion_bot.i18n import N_, N_plural, Translator, translator
from companion_bot.models import DepartureWave, Event, ScheduledTask
from companion_bot.services import broadcasts, closing, groups, help, lifecycle
from companion_bot.settings import Settings, load_settings

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
# How long an action waits for the bot's answer before the page gets the state anyway.
ANSWER_TIMEOUT = 10.0
MAX_TEXT = 4096
LOG_SIZE = 40

TASK_LABELS = {
    groups.ROUND_TASK: N_("Matching round: groups are formed, and announced when it is time."),
    closing.WAVE_REMINDER_TASK: N_(
        "Reminder of the {time} departure, to its attendees and the volunteers on duty."
    ),
    closing.HOME_REMINDER_TASK: N_(
        "Check-in time for someone who left: if she has not said she is home, the bot asks her."
    ),
    closing.NO_NEWS_TASK: N_(
        "Still no news from someone who left: the volunteers and organizers are alerted."
    ),
    help.ESCALATION_TASK: N_("A help alert nobody claimed goes to the organizers."),
    broadcasts.REPORT_TASK: N_("The organizer gets the delivery report of her message."),
    lifecycle.FOLLOWUP_TASK: N_("The morning after: three quick questions to the attendees."),
}
OTHER_TASK = N_("Scheduled task: {kind}.")
CLOCK_MOVED = N_plural(
    "The clock moves forward {count} minute.", "The clock moves forward {count} minutes."
)
NIGHT_OVER = N_("The night is over: nothing else is planned.")

SUGGESTIONS = {
    PersonaRole.ATTENDEE: (N_("Open the event link"), ("/me", "/group", "/help")),
    PersonaRole.VOLUNTEER: (N_("Open the volunteer link"), ("/duty", "/waves")),
    PersonaRole.ORGANIZER: (
        N_("Open the organizer link"),
        ("/myevents", "/dashboard", "/waves", "/broadcast"),
    ),
}


class DemoError(Exception):
    """Something the page asked cannot be done; the message is an N_() text."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Persona:
    spec: PersonaSpec
    user: EmulatedUser


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


def demo_settings(emulator: BotApiEmulator, database_url: str, language: str = "fr") -> Settings:
    """The bot's settings for the demo: the emulator instead of Telegram, no token needed,
    and the organizer persona among the admins. A .env file is not read: its token (if any)
    must never be used here."""
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
        _env_file=None,
    )


class Demo:
    """The page's side of a running demo: what it shows, what it does as each persona, and
    the night's clock (which the extras follow by themselves)."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        application: Application,
        event: Event,
        users: dict[str, EmulatedUser],
        extras: list[EmulatedUser],
    ) -> None:
        self.emulator = emulator
        self.application = application
        self.event = event
        self.personas = [Persona(spec, users[spec.key]) for spec in scenario.PERSONAS]
        self.extras = list(zip(scenario.EXTRAS, extras, strict=True))
        self.start_link = chat.start_link_pattern(emulator.default_bot.username)
        self.log: list[LogEntry] = []
        self.night_over = False
        self.closing = False
        self._next: tuple[datetime, str, dict[str, str]] | None = None  # due, label, values
        # When each message arrived, on the bot's clock (the emulator stamps real time, which
        # does not follow the night as the clock jumps); extras react after a delay from it.
        self._seen: dict[tuple[int, int], datetime] = {}
        self._reacted: set[tuple[int, int, str]] = set()
        self._clock_lock = asyncio.Lock()
        # The night ends with the morning-after questions (the purge, days later, is not shown).
        self.until = lifecycle.followup_time(event) + timedelta(minutes=1)

    # -- what the page shows -------------------------------------------------------------

    def persona(self, key: str) -> Persona:
        found = next((p for p in self.personas if p.spec.key == key), None)
        if found is None:
            raise DemoError(N_("There is nobody of that name in this demo."), 404)
        return found

    def _time(self, moment: datetime) -> str:
        """HH:MM in the event's time zone (the same in French and English)."""
        return translator("en").time(moment, self.event.timezone)

    def _arrived(self, message: StoredMessage) -> datetime:
        # To the minute: what one step sends arrives together, and is reacted to together.
        now = clock.now().replace(second=0, microsecond=0)
        return self._seen.setdefault((message.chat_id, message.message_id), now)

    def _shown_at(self, message: StoredMessage) -> str:
        return self._time(self._arrived(message))

    def _note_arrivals(self) -> None:
        """Stamp new messages now: called whenever the bot may have written, before the
        clock moves again."""
        for conversation in self.emulator.conversations.values():
            for message in conversation.messages.values():
                self._arrived(message)

    def snapshot(self, language: str) -> JSON:
        """Everything the page shows, in `language` (the bot's messages are in each
        persona's own language already)."""
        t = translator(language)
        _ = t.gettext
        self._note_arrivals()
        personas = []
        for persona in self.personas:
            spec = persona.spec
            link_label, commands = SUGGESTIONS[spec.role]
            code = {
                PersonaRole.ATTENDEE: self.event.attendee_code,
                PersonaRole.VOLUNTEER: self.event.volunteer_code,
                PersonaRole.ORGANIZER: self.event.organizer_code,
            }[spec.role]
            suggestions = [{"label": _(link_label), "text": f"/start {code}"}]
            suggestions += [{"label": command, "text": command} for command in commands]
            personas.append(
                {
                    "key": spec.key,
                    "name": spec.first_name,
                    "role": spec.role.value,
                    "role_label": _(scenario.ROLE_LABELS[spec.role]),
                    "language": spec.language,
                    "suggestions": suggestions,
                    "chat": chat.chat_json(persona.user, self.start_link, self._shown_at),
                }
            )
        state: JSON = {
            "clock": t.datetime(clock.now(), self.event.timezone),
            "event": {
                "name": self.event.localized("name", t.language),
                "venue": self.event.localized("venue_name", t.language),
                "doors": t.datetime(self.event.doors_open, self.event.timezone),
            },
            "night_over": self.night_over,
            "next": None,
            "log": [
                {"at": self._time(entry.moment), "text": entry.text(t)}
                for entry in self.log
            ],
            "personas": personas,
        }
        if self._next is not None and not self.night_over:
            due, message, values = self._next
            state["next"] = {"at": self._time(due), "text": _(message).format(**values)}
        encoded = json.dumps(state, sort_keys=True, ensure_ascii=False).encode()
        state["version"] = hashlib.sha1(encoded, usedforsecurity=False).hexdigest()[:16]
        return state

    async def wait_for_change(self, language: str, after: str | None, timeout: float) -> JSON:  # noqa: ASYNC109
        """The state once it differs from version `after` (long polling), or after
        `timeout` seconds anyway."""
        latest: list[JSON] = []

        def changed() -> bool:
            latest[:] = [self.snapshot(language)]
            return self.closing or latest[0]["version"] != after

        with contextlib.suppress(TimeoutError):
            await self.emulator.wait_for(changed, timeout)
        return latest[0] if latest else self.snapshot(language)

    # -- acting as a persona -------------------------------------------------------------

    async def _answered(self) -> None:
        """Wait until the bot handled what was sent (it answers within milliseconds)."""
        try:
            await settle(self.emulator, self.application, timeout=ANSWER_TIMEOUT)
        except TimeoutError:
            logger.warning("demo: the bot is slow to answer; the page will catch up")
        self._note_arrivals()
        await self._refresh_next()

    async def send_text(self, key: str, text: object) -> None:
        user = self.persona(key).user
        if not isinstance(text, str) or not text.strip():
            raise DemoError(N_("Type a message first."))
        text = text.strip()[:MAX_TEXT]
        if text.startswith("/") and len(text) > 1:
            command, _, payload = text.partition(" ")
            await user.send_command(command, payload.strip() or None)
        else:
            await user.send_text(text)
        await self._answered()

    async def tap(self, key: str, message_id: object, index: object) -> None:
        user = self.persona(key).user
        if not isinstance(message_id, int) or not isinstance(index, int):
            raise DemoError(N_("This button is no longer there."), 409)
        button = chat.find_inline_button(user, message_id, index)
        if button is None:
            raise DemoError(N_("This button is no longer there."), 409)
        if "callback_data" in button:
            text, data = button["text"], button["callback_data"]
            await user.tap(lambda b: b.text == text and b.callback_data == data, message_id)
        else:
            match = self.start_link.fullmatch(button.get("url", ""))
            if match is None:
                raise DemoError(N_("Links to other sites do not open in the demo."))
            await user.start(match.group(1))
        await self._answered()

    async def share_location(self, key: str, place: object) -> None:
        user = self.persona(key).user
        if not isinstance(place, str) or place not in scenario.LOCATIONS:
            raise DemoError(N_("Choose one of the places offered."))
        _label, latitude, longitude = scenario.LOCATIONS[place]
        await user.send_location(latitude, longitude)
        await self._answered()

    async def send_sticker(self, key: str) -> None:
        await self.persona(key).user.send_sticker("🦄")
        await self._answered()

    # -- the night's clock ---------------------------------------------------------------

    async def next_step(self) -> bool:
        """Jump to the next thing planned (by the bot, or by the extras) and let it happen;
        False once the night is over."""
        async with self._clock_lock:
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
                        key = (message.chat_id, message.message_id, reaction.button)
                        if (button.callback_data or "").startswith(reaction.button) and (
                            key not in self._reacted
                        ):
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
            self._reacted.add((message.chat_id, message.message_id, reaction.button))
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
        values = {"kind": task.kind, "time": ""}
        if task.kind == closing.WAVE_REMINDER_TASK:
            wave = await DepartureWave.get_or_none(id=(task.payload or {}).get("wave_id"))
            values["time"] = self._time(wave.departs_at) if wave else "?"
        return TASK_LABELS.get(task.kind, OTHER_TASK), values

    async def _refresh_next(self) -> None:
        """What "coming next" says: the bot's next task or the extras' next reaction."""
        task = await timeline.next_task(self.until)
        reaction = self._next_reaction()
        if (
            reaction is not None
            and reaction[0] <= self.until
            and (task is None or reaction[0] < task.due_at)
        ):
            self._next = (reaction[0], reaction[1].coming, {})
        elif task is not None:
            self._next = (task.due_at, *await self._describe(task))
        else:
            self._next = None

    async def open_chats(self) -> None:
        """The volunteer joins with her link and goes on duty; the organizer opens hers and
        looks at her events: both chats show how it is done."""
        volunteer = next(p.user for p in self.personas if p.spec.role == PersonaRole.VOLUNTEER)
        organizer = next(p.user for p in self.personas if p.spec.role == PersonaRole.ORGANIZER)
        await volunteer.start(self.event.volunteer_code)
        await self._answered()
        await volunteer.send_command("/duty")
        await self._answered()
        await volunteer.tap(lambda b: (b.callback_data or "").startswith("du:"))
        # Her link first: it records the language the bot's alerts will use for her.
        await organizer.start(self.event.organizer_code)
        await self._answered()
        await organizer.send_command("/myevents")
        await self._answered()


@contextlib.asynccontextmanager
async def open_demo(database_url: str, *, language: str = "fr") -> AsyncIterator[Demo]:
    """The emulator, the bot polling it and the seeded event; Tortoise must already be open
    on `database_url` in this task, on an empty database."""
    async with BotApiEmulator() as emulator:
        settings = demo_settings(emulator, database_url, language)
        application = build_application(settings)
        users, extras = scenario.open_accounts(emulator)
        await start_polling(application, poll_interval=0, timeout=5)
        try:
            event = await scenario.create_event(clock.now(), language)
            demo = Demo(emulator, application, event, users, extras)
            await demo.open_chats()
            try:
                yield demo
            finally:
                demo.closing = True
                emulator.changed.notify()
        finally:
            await stop_polling(application)
