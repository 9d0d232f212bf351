"""Actions: what a button or a choice does, typed, and the one codec of their data.

A choice she may tap carries a short string (Telegram's callback data, at most 64 bytes with
its signature; a WhatsApp reply id): the action. Each kind of action is a small frozen
dataclass below, declaring its prefix and its typed fields; `encode()` gives its data, and
`decode(data)` the action back, or None for data that is unknown, malformed or foreign (it
never raises). Services put encoded actions in notices (companion_bot/notices.py);
Telegram's handlers and WhatsApp's conversation build and read them here only, never by
hand.

The data is the prefix and the fields joined by ":" — `cl:later:12:7` — exactly the strings
the bot sent before this module existed, so buttons already in chats and notices already
queued keep working. A field is an `int` (digits), a `bool` ("1" or "0"), a `Literal` of
words, a `str` of the `Word` shape, or another `Shape`. A last field typed `X | None`
(default None) may be left out.

Signing is not done here: companion_bot/signing.py binds data to the person it is sent to,
and `pattern(kind, signed=True)` routes signed data of one kind to its Telegram handler.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from companion_bot.i18n import LANGUAGE_CODES
from companion_bot.signing import MAC_LENGTH, SEPARATOR


@dataclass(frozen=True)
class Shape:
    """What a `str` field may hold, as a regular expression (never ":" unless said, never
    the signature's separator)."""

    regex: str


Word = Annotated[str, Shape(r"[a-z0-9_]{1,24}")]  # a code: a setting, a step, a language…
Language = Annotated[str, Shape(LANGUAGE_CODES)]  # one of the bot's languages
Place = Annotated[str, Shape(r"[a-z0-9][a-z0-9:-]{0,59}")]  # a gazetteer id, or "zone:<id>"

_INT = r"(?:0|[1-9]\d{0,9})"  # no leading zeros: one text per value
MAX_INT = 2**31 - 1  # ids are the database's 32-bit integers


def _int(text: str) -> int:
    value = int(text)
    if value > MAX_INT:
        raise ValueError(f"{text} is out of range")
    return value


@dataclass(frozen=True)
class _Field:
    name: str
    regex: str
    parse: Callable[[str], Any]
    show: Callable[[Any], str]
    optional: bool


def _field(name: str, hint: Any) -> _Field:
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    if optional:
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    if hint is int:
        return _Field(name, _INT, _int, str, optional)
    if hint is bool:
        return _Field(name, "[01]", lambda text: text == "1", lambda v: "1" if v else "0", optional)
    if get_origin(hint) is Literal:
        words = "|".join(re.escape(str(word)) for word in get_args(hint))
        return _Field(name, f"(?:{words})", str, str, optional)
    if get_origin(hint) is Annotated:
        shape = next(arg for arg in get_args(hint)[1:] if isinstance(arg, Shape))
        return _Field(name, f"(?:{shape.regex})", str, str, optional)
    raise TypeError(f"an action field is int, bool, a Literal or a Shape, not {hint!r}")


class Action:
    """One kind of action: a frozen dataclass whose subclass names its `prefix`."""

    prefix: ClassVar[str]

    def __init_subclass__(cls, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.prefix = prefix
        KINDS.append(cls)
        _BY_HEAD.setdefault(prefix.partition(":")[0], []).append(cls)

    def encode(self) -> str:
        """Its data; ValueError for fields no button could carry back (a word of the wrong
        shape, a value out of range)."""
        parts = [self.prefix]
        for spec in _fields(type(self)):
            value = getattr(self, spec.name)
            if value is None and spec.optional:
                break
            parts.append(spec.show(value))
        data = ":".join(parts)
        if decode(data) != self:
            raise ValueError(f"{self!r} cannot be carried by a button")
        return data


KINDS: list[type[Action]] = []
_BY_HEAD: dict[str, list[type[Action]]] = {}  # the kinds by their prefix's first word


@functools.cache
def _fields(kind: type[Action]) -> tuple[_Field, ...]:
    hints = get_type_hints(kind, include_extras=True)
    return tuple(_field(f.name, hints[f.name]) for f in dataclasses.fields(kind))


@functools.cache
def _body(kind: type[Action], named: bool) -> str:
    """The data of `kind` as a regular expression; `named`: each field a named group."""
    body = re.escape(kind.prefix)
    for spec in _fields(kind):
        part = f":(?P<{spec.name}>{spec.regex})" if named else f":{spec.regex}"
        body += f"(?:{part})?" if spec.optional else part
    return body


@functools.cache
def _regex(kind: type[Action]) -> re.Pattern[str]:
    return re.compile(_body(kind, named=True))


def pattern(kind: type[Action], *, signed: bool = False) -> re.Pattern[str]:
    """What the data of `kind` looks like (signed: followed by a signature), for routing a
    Telegram callback query to its handler."""
    mac = f"{re.escape(SEPARATOR)}[A-Za-z0-9_-]{{{MAC_LENGTH}}}" if signed else ""
    return re.compile(rf"^{_body(kind, named=False)}{mac}\Z")


def decode(data: object) -> Action | None:
    """The action `data` stands for; None when it stands for none (never raises)."""
    if not isinstance(data, str) or len(data) > 256:
        return None
    for kind in _BY_HEAD.get(data.partition(":")[0], ()):
        match = _regex(kind).fullmatch(data)
        if match is not None:
            return _build(kind, match)
    return None


def _build(kind: type[Action], match: re.Match[str]) -> Action | None:
    try:
        values = {
            spec.name: spec.parse(match[spec.name])
            for spec in _fields(kind)
            if match[spec.name] is not None
        }
    except ValueError:
        return None
    return kind(**values)


A = TypeVar("A", bound=Action)


def decode_as(kind: type[A], data: object) -> A | None:
    """The action of `kind` that `data` stands for, else None."""
    action = decode(data)
    return action if isinstance(action, kind) else None


# -- an attendee at closing time (services/closing.py, escalation.py, night_buttons.py) --------


@dataclass(frozen=True)
class Closing(Action, prefix="cl"):
    """At the meeting point, leaving later (with the departure she leaves from), already gone,
    on her way, leaving without her group, home."""

    what: Literal["at", "later", "gone", "coming", "alone", "home"]
    registration: int
    from_wave: int | None = None


@dataclass(frozen=True)
class SafeAnswer(Action, prefix="hs"):
    """Her group or the team: she is safe ("ok"), or no news from her either ("no")."""

    what: Literal["ok", "no"]
    registration: int


# -- volunteers at closing time ----------------------------------------------------------------


@dataclass(frozen=True)
class Duty(Action, prefix="du"):
    event: int
    on_duty: bool


@dataclass(frozen=True)
class GroupCard(Action, prefix="vo"):
    """A departure group's card: it has left, or someone is missing."""

    what: Literal["left", "miss"]
    group: int


@dataclass(frozen=True)
class MissingPick(Action, prefix="vm"):
    group: int
    registration: int


# -- help ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HelpLevelPick(Action, prefix="hp:lvl"):
    level: Word


@dataclass(frozen=True)
class HelpCancel(Action, prefix="hp:cancel"):
    pass


@dataclass(frozen=True)
class HelpAnswer(Action, prefix="hp"):
    """Hers: send the drafted alert, cancel it, close it."""

    what: Literal["yes", "no", "close"]
    alert: int


@dataclass(frozen=True)
class VolunteerHelp(Action, prefix="vh"):
    what: Literal["claim", "close"]
    alert: int


# -- her group, privacy ------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupButton(Action, prefix="gr"):
    what: Literal["mute", "unmute", "leave"]
    group: int


@dataclass(frozen=True)
class RemoveReported(Action, prefix="rm"):
    """Take a reported sender out of her group or of the event (the relay entry reported)."""

    scope: Literal["group", "event"]
    entry: int


@dataclass(frozen=True)
class RemoveRegistration(Action, prefix="rr"):
    scope: Literal["group", "event"]
    registration: int


@dataclass(frozen=True)
class TableJoined(Action, prefix="tin"):
    group: int


@dataclass(frozen=True)
class Forget(Action, prefix="fg"):
    answer: Literal["yes", "no"]


@dataclass(frozen=True)
class Avoid(Action, prefix="av"):
    person: int


@dataclass(frozen=True)
class ChooseLanguage(Action, prefix="lang"):
    code: Language


@dataclass(frozen=True)
class LeaveKeep(Action, prefix="leave:no"):
    pass


@dataclass(frozen=True)
class LeavePick(Action, prefix="leave"):
    registration: int


@dataclass(frozen=True)
class LeaveConfirm(Action, prefix="leave:yes"):
    registration: int


# -- the morning after ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupMet(Action, prefix="fu:met"):
    event: int
    answer: Word
    mark: Literal["o"] | None = None  # lifecycle.ONLINE_MARK: she joined online


@dataclass(frozen=True)
class FollowupHome(Action, prefix="fu:home"):
    event: int
    answer: Word


@dataclass(frozen=True)
class FollowupDone(Action, prefix="fu:done"):
    event: int
    contact: bool


@dataclass(frozen=True)
class FollowupContact(Action, prefix="fc"):
    """Answer a follow-up's thread (to the organizer who wrote, when one did)."""

    answer: int
    organizer: int | None = None


# -- safety tests, safe word -------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyTestPick(Action, prefix="ta:ev"):
    event: int


@dataclass(frozen=True)
class DrillReceived(Action, prefix="ta:ack"):
    receipt: int


@dataclass(frozen=True)
class SafeWord(Action, prefix="sw"):
    what: Literal["set", "del"]


# -- organizers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventPick(Action, prefix="ev"):
    """Which event an organizer's command is for: /broadcast ("bc"), /departures ("dp"),
    /dashboard ("db"), /match ("mt"), /settings ("st")."""

    what: Literal["bc", "dp", "db", "mt", "st"]
    event: int


@dataclass(frozen=True)
class BoardPick(Action, prefix="bo"):
    """Which event an organizer's QR codes, export or new board link are for."""

    what: Literal["qr", "csv", "newlink"]
    event: int


@dataclass(frozen=True)
class BroadcastAudience(Action, prefix="bc:to"):
    audience: Word
    wave: int  # 0: no departure


@dataclass(frozen=True)
class BroadcastPreview(Action, prefix="bc"):
    what: Literal["send", "rewrite", "cancel"]
    event: int  # 0 but for "send"


@dataclass(frozen=True)
class DepartureEdit(Action, prefix="dp"):
    """Change a departure ("wave"), remove it ("del"), or add one to the event ("add")."""

    what: Literal["wave", "del", "add"]
    target: int


@dataclass(frozen=True)
class DeparturePoint(Action, prefix="dp:point"):
    point: int


@dataclass(frozen=True)
class DepartureRemoval(Action, prefix="dp"):
    what: Literal["delyes", "delno"]
    wave: int  # 0 with "delno"


@dataclass(frozen=True)
class SettingPick(Action, prefix="st"):
    event: int
    setting: Word


@dataclass(frozen=True)
class SettingValue(Action, prefix="st"):
    event: int
    setting: Word
    minutes: int


@dataclass(frozen=True)
class ZoneButton(Action, prefix="zn"):
    """Show an event's zones ("ev"), add one to it ("add"), remove a zone ("del")."""

    what: Literal["ev", "add", "del"]
    target: int


@dataclass(frozen=True)
class ZoneAt(Action, prefix="zn:at"):
    place: Place


@dataclass(frozen=True)
class NewEventCreate(Action, prefix="ne:create"):
    pass


@dataclass(frozen=True)
class NewEventRestart(Action, prefix="ne:restart"):
    pass


@dataclass(frozen=True)
class NewEventDefault(Action, prefix="ne:default"):
    key: Word


@dataclass(frozen=True)
class NewEventKind(Action, prefix="ne:kind"):
    kind: Literal["online", "hybrid", "small"]


@dataclass(frozen=True)
class NewEventPlace(Action, prefix="ne:where"):
    place: Place


# -- sign-up (services/questions.py) -----------------------------------------------------------


@dataclass(frozen=True)
class SignupMine(Action, prefix="su:me"):
    event: int


@dataclass(frozen=True)
class SignupLanguage(Action, prefix="su:lang"):
    code: Language


@dataclass(frozen=True)
class Charter(Action, prefix="su:charter"):
    answer: Literal["yes", "no"]


@dataclass(frozen=True)
class DefaultName(Action, prefix="su:name:default"):
    pass


@dataclass(frozen=True)
class Attendance(Action, prefix="su:att"):
    how: Literal["person", "online"]


@dataclass(frozen=True)
class Arrival(Action, prefix="su:arr"):
    how: Literal["here", "own"]


@dataclass(frozen=True)
class ArrivalSlotPick(Action, prefix="su:arr:slot"):
    slot: int


@dataclass(frozen=True)
class ActivityPick(Action, prefix="su:act"):
    index: int


@dataclass(frozen=True)
class AnyActivity(Action, prefix="su:act:any"):
    pass


@dataclass(frozen=True)
class DestinationPick(Action, prefix="su:dest"):
    """No departure group for her ("none"), or she types her neighbourhood again."""

    what: Literal["none", "retype"]


@dataclass(frozen=True)
class DestinationPlace(Action, prefix="su:dest:place"):
    place: Place


@dataclass(frozen=True)
class DestinationZone(Action, prefix="sz"):
    """One of the organizers' zones (signed: zones are the event's own)."""

    number: int


@dataclass(frozen=True)
class TransportPick(Action, prefix="su:tr"):
    mode: Word


@dataclass(frozen=True)
class SeatsPick(Action, prefix="su:seats"):
    count: int


@dataclass(frozen=True)
class WavePick(Action, prefix="su:wave"):
    wave: int


@dataclass(frozen=True)
class Edit(Action, prefix="su:edit"):
    step: Word


@dataclass(frozen=True)
class Confirm(Action, prefix="su:sum:confirm"):
    pass


# -- WhatsApp's own ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuItem(Action, prefix="wm"):
    command: Word


@dataclass(frozen=True)
class SpeakLanguage(Action, prefix="wl"):
    code: Language
