"""State records of the emulated Telegram: accounts, chats, messages, queries, files, logs."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

JSONDict = dict[str, Any]

# Update types Telegram delivers when a bot never set `allowed_updates` (Bot API docs).
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class ApiError(Exception):
    """A Bot API error answer: `{"ok": false, "error_code": code, "description": ...}`."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


FailureKind = Literal["500", "502", "drop", "lost_response"]


class InjectedFailure(Exception):
    """Raised inside a send method to make the HTTP layer fail the way Telegram sometimes does.

    "lost_response" is raised *after* the message was delivered: the bot sees a dropped
    connection although the user got the message, which is how retries create duplicates.
    """

    def __init__(self, kind: FailureKind) -> None:
        super().__init__(kind)
        self.kind = kind


class Signal:
    """Wakes every waiter whenever the emulator state changes; waiters re-check a predicate.

    Callable from synchronous code (no lock), so any state change can notify.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], seconds: float | None) -> None:
        """Return when `predicate()` is true; raise TimeoutError after `seconds`."""
        async with asyncio.timeout(seconds):
            while not predicate():
                await self._event.wait()


@dataclass
class Account:
    """A Telegram user (or bot) account."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    # Forward privacy: forwards show only the name ("hidden_user" origin).
    hide_forwards: bool = False

    def to_user(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def to_private_chat(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            data["last_name"] = self.last_name
        if self.username is not None:
            data["username"] = self.username
        return data

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class GroupChat:
    """A group, supergroup or channel; `members` maps user id → status ("member", ...)."""

    id: int
    type: Literal["group", "supergroup", "channel"]
    title: str
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)

    def to_chat(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type, "title": self.title}
        if self.username is not None:
            data["username"] = self.username
        return data


@dataclass
class StoredMessage:
    """One message of a conversation, as Telegram holds it; `data` is the current Bot API JSON.

    The returned object is live: later edits and deletions show up on it.
    """

    chat_id: int
    message_id: int
    data: JSONDict
    from_bot: bool
    deleted: bool = False
    # Reply keyboards / force reply are not part of the Message JSON but the client shows them.
    client_markup: JSONDict | None = None
    previous_versions: list[JSONDict] = field(default_factory=list)
    live_location_stopped: bool = False
    reaction: list[JSONDict] = field(default_factory=list)

    @property
    def text(self) -> str | None:
        return self.data.get("text")

    @property
    def caption(self) -> str | None:
        return self.data.get("caption")

    @property
    def text_or_caption(self) -> str | None:
        return self.data.get("text", self.data.get("caption"))

    @property
    def entities(self) -> list[JSONDict]:
        return self.data.get("entities", self.data.get("caption_entities", []))

    @property
    def reply_markup(self) -> JSONDict | None:
        return self.data.get("reply_markup")

    @property
    def location(self) -> JSONDict | None:
        return self.data.get("location")

    @property
    def edited(self) -> bool:
        return bool(self.previous_versions)

    def inline_buttons(self) -> list[InlineButton]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [InlineButton(b["text"], b.get("callback_data")) for row in rows for b in row]

    def __repr__(self) -> str:
        state = " deleted" if self.deleted else (" edited" if self.edited else "")
        content = self.text_or_caption
        if content is None:
            content = "<" + ",".join(k for k in _CONTENT_KEYS if k in self.data) + ">"
        return f"<Message {self.chat_id}/{self.message_id}{state} {content!r}>"


_CONTENT_KEYS = ("location", "photo", "document", "sticker", "contact", "new_chat_members")


@dataclass
class Conversation:
    """What one bot sees of one chat: the messages (both sides) with their own id sequence."""

    bot_id: int
    chat: JSONDict
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    # The reply keyboard the client currently shows (None: the default keyboard).
    reply_keyboard: JSONDict | None = None

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    def add(self, data: JSONDict, *, from_bot: bool) -> StoredMessage:
        """Store a new message; `data` gets its message_id, chat and date."""
        message_id = self.next_message_id
        self.next_message_id += 1
        data = {"message_id": message_id} | data | {"chat": self.chat}
        data.setdefault("date", now())
        message = StoredMessage(self.chat_id, message_id, data, from_bot)
        self.messages[message_id] = message
        return message

    def get(self, message_id: object) -> StoredMessage | None:
        """The message if it exists and was not deleted."""
        message = self.messages.get(message_id) if isinstance(message_id, int) else None
        return None if message is None or message.deleted else message

    def bot_messages(self, *, include_deleted: bool = False) -> list[StoredMessage]:
        return [
            m for m in self.messages.values() if m.from_bot and (include_deleted or not m.deleted)
        ]


class InlineButton(NamedTuple):
    text: str
    callback_data: str | None


@dataclass
class CallbackQueryRecord:
    """A callback query sent by a user's tap, and how the bot answered it."""

    id: str
    bot_id: int
    user_id: int
    chat_id: int | None
    message_id: int | None
    data: str | None
    answered: bool = False
    text: str | None = None
    show_alert: bool = False
    url: str | None = None


@dataclass
class FileRecord:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def to_file(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None


@dataclass
class BotAccount:
    """A bot: its account, token, pending updates and the settings it stored."""

    token: str
    account: Account
    # Privacy mode (Telegram's default): in groups where it is not admin the bot only
    # receives commands, replies to its messages and mentions.
    privacy_mode: bool = True
    pending: list[JSONDict] = field(default_factory=list)
    allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
    poll_generation: int = 0
    last_poll_at: float | None = None
    webhook: Webhook = field(default_factory=Webhook)
    commands: dict[tuple[str, str], list[JSONDict]] = field(default_factory=dict)
    menu_buttons: dict[int | None, JSONDict] = field(default_factory=dict)
    blocked_by: set[int] = field(default_factory=set)
    started_by: set[int] = field(default_factory=set)

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def username(self) -> str:
        return self.account.username or ""

    def to_get_me(self) -> JSONDict:
        return self.account.to_user() | {
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass
class RequestRecord:
    """One HTTP call to the Bot API. The token is deliberately not recorded."""

    time: float
    bot_id: int | None
    method: str
    params: JSONDict
    status: int = 0
    description: str | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class DeliveryStats:
    """Message delivery counters per chat id, for broadcast tests and benchmarks."""

    delivered: Counter[int] = field(default_factory=Counter)
    rate_limited: Counter[int] = field(default_factory=Counter)
    failed: Counter[int] = field(default_factory=Counter)
    # Delivered, but the bot saw a dropped connection (injected "lost_response").
    lost_responses: Counter[int] = field(default_factory=Counter)
    duplicates: Counter[int] = field(default_factory=Counter)
    _seen_texts: set[tuple[int, str]] = field(default_factory=set, repr=False)

    def record_delivery(self, chat_id: int, text: str | None) -> None:
        self.delivered[chat_id] += 1
        if text is None:
            return
        if (chat_id, text) in self._seen_texts:
            self.duplicates[chat_id] += 1
        self._seen_texts.add((chat_id, text))

    @property
    def rejected(self) -> Counter[int]:
        """Requests refused by a 429 or an injected failure (messages not delivered)."""
        return self.rate_limited + self.failed

    @property
    def total_delivered(self) -> int:
        return self.delivered.total()

    @property
    def total_rejected(self) -> int:
        return self.rejected.total()

    @property
    def total_duplicates(self) -> int:
        return self.duplicates.total()


def now() -> int:
    """Unix time for message `date` fields."""
    return int(time.time())
