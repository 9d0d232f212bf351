"""The people on the other side of the bot: users in private chats, groups and channels.

Every action queues the update Telegram would send and returns its update_id, to pass to
`BotApiEmulator.wait_delivered` (or use `harness.settle`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .formatting import utf16_len
from .models import (
    Account,
    BotAccount,
    CallbackQueryRecord,
    Conversation,
    GroupChat,
    InlineButton,
    JSONDict,
    StoredMessage,
    now,
)

if TYPE_CHECKING:
    from .server import BotApiEmulator

ButtonMatcher = str | re.Pattern[str] | Callable[[InlineButton], bool]
MessagePredicate = Callable[[StoredMessage], bool]

_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00emulated photo\xff\xd9"
_FAKE_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 emulated sticker"


def _matches(button: InlineButton, matcher: ButtonMatcher) -> bool:
    if isinstance(matcher, str):
        return button.text == matcher
    if isinstance(matcher, re.Pattern):
        return matcher.search(button.text) is not None
    return matcher(button)


def find_button(
    messages: list[StoredMessage], matcher: ButtonMatcher
) -> tuple[StoredMessage, InlineButton]:
    """The newest message having a matching inline button; LookupError lists what exists."""
    for message in reversed(messages):
        for button in message.inline_buttons():
            if _matches(button, matcher):
                return message, button
    shown = [
        f"message {m.message_id}: {[b.text for b in m.inline_buttons()]}"
        for m in messages[-5:]
        if m.inline_buttons()
    ]
    raise LookupError(
        f"no inline button matching {matcher!r}; buttons of recent bot messages: {shown or 'none'}"
    )


def command_entity(command: str) -> JSONDict:
    return {"type": "bot_command", "offset": 0, "length": utf16_len(command)}


def _message_ref(
    message: StoredMessage | int | None,
    conv: Conversation | None,
) -> StoredMessage | None:
    if message is None or isinstance(message, StoredMessage):
        return message
    found = conv.messages.get(message) if conv else None
    if found is None:
        raise LookupError(f"no message {message} in this chat")
    return found


class _Chatter:
    """What users, groups and channels share: a conversation with one bot."""

    emulator: BotApiEmulator
    bot: BotAccount

    def conversation(self) -> Conversation | None:
        raise NotImplementedError

    def chat_json(self) -> JSONDict:
        """The Bot API Chat object of this chat."""
        raise NotImplementedError

    def messages(self, *, include_deleted: bool = False) -> list[StoredMessage]:
        """What the bot sent here, in order, in its current state (after edits)."""
        conv = self.conversation()
        return conv.bot_messages(include_deleted=include_deleted) if conv else []

    def last_message(self) -> StoredMessage | None:
        messages = self.messages()
        return messages[-1] if messages else None

    def last_text(self) -> str | None:
        """Text (or caption) of the bot's latest message here."""
        message = self.last_message()
        return message.text_or_caption if message else None

    def inline_buttons(self, message: StoredMessage | int | None = None) -> list[InlineButton]:
        """(text, callback_data) of a message's inline keyboard; default the last message."""
        target = _message_ref(message, self.conversation()) or self.last_message()
        return target.inline_buttons() if target else []

    def _callback_query(
        self, account: Account, message: StoredMessage | None, message_id: int, data: str | None
    ) -> int:
        chat = self.chat_json()
        query = self.emulator.new_callback_query(self.bot, account, message, chat["id"], data)
        if message is not None:
            shown: JSONDict = message.data
        else:
            # What Telegram sends for a message the bot can no longer access.
            shown = {"chat": chat, "message_id": message_id, "date": 0}
        payload: JSONDict = {
            "id": query.id,
            "from": account.to_user(),
            "chat_instance": str((self.bot.id * 1_000_003 + chat["id"]) % 2**63),
            "message": shown,
        }
        if data is not None:
            payload["data"] = data
        return self.emulator.enqueue({"callback_query": payload}, self.bot)


class EmulatedUser(_Chatter):
    """A person in her private chat with a bot."""

    def __init__(self, emulator: BotApiEmulator, account: Account, bot: BotAccount) -> None:
        self.emulator = emulator
        self.account = account
        self.bot = bot
        # Index (among bot messages) from which wait_for_message looks for new ones.
        self._cursor = 0

    def __repr__(self) -> str:
        return f"<EmulatedUser {self.account.id} {self.account.first_name!r}>"

    @property
    def id(self) -> int:
        return self.account.id

    @property
    def chat_id(self) -> int:
        return self.account.id

    @property
    def first_name(self) -> str:
        return self.account.first_name

    def conversation(self) -> Conversation | None:
        return self.emulator.conversations.get((self.bot.id, self.account.id))

    def chat_json(self) -> JSONDict:
        return self.account.to_private_chat()

    def _mark(self) -> None:
        """Remember where we are: wait_for_message waits for messages after this action."""
        conv = self.conversation()
        self._cursor = len(conv.bot_messages(include_deleted=True)) if conv else 0

    def _open(self) -> Conversation:
        if self.account.id in self.bot.blocked_by:
            raise RuntimeError(f"{self} blocked the bot: call unblock_bot() before writing")
        self._mark()
        return self.emulator.private_conversation(self.bot, self.account)

    async def _send(self, content: JSONDict, reply_to: StoredMessage | int | None = None) -> int:
        conv = self._open()
        data: JSONDict = {"from": self.account.to_user(), "date": now()}
        target = _message_ref(reply_to, conv)
        if target is not None:
            data["reply_to_message"] = {
                k: v for k, v in target.data.items() if k != "reply_to_message"
            }
        message = conv.add(data | content, from_bot=False)
        return self.emulator.enqueue({"message": message.data}, self.bot)

    # --------------------------------------------------------------------------- actions

    async def send_text(
        self,
        text: str,
        *,
        reply_to: StoredMessage | int | None = None,
        entities: list[JSONDict] | None = None,
    ) -> int:
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        return await self._send(content, reply_to)

    async def send_command(self, command: str, payload: str | None = None) -> int:
        """`/start payload`-style message with its bot_command entity."""
        command = command if command.startswith("/") else f"/{command}"
        text = f"{command} {payload}" if payload else command
        return await self._send({"text": text, "entities": [command_entity(command)]})

    async def start(self, payload: str | None = None) -> int:
        """What tapping a `t.me/<bot>?start=<payload>` link sends."""
        return await self.send_command("/start", payload)

    async def send_location(
        self,
        latitude: float,
        longitude: float,
        *,
        live_period: int | None = None,
        horizontal_accuracy: float | None = None,
    ) -> int:
        location: JSONDict = {"latitude": latitude, "longitude": longitude}
        if live_period is not None:
            location["live_period"] = live_period
        if horizontal_accuracy is not None:
            location["horizontal_accuracy"] = horizontal_accuracy
        return await self._send({"location": location})

    async def send_sticker(self, emoji: str = "👍") -> int:
        record = self.emulator.store_file("sticker", _FAKE_WEBP, None, "image/webp")[0]
        sticker = {
            "file_id": record.file_id,
            "file_unique_id": record.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": len(record.content),
        }
        return await self._send({"sticker": sticker})

    async def send_photo(self, caption: str | None = None, content: bytes = _FAKE_JPEG) -> int:
        records = self.emulator.store_file("photo", content, None, "image/jpeg")
        data: JSONDict = {"photo": self.emulator.photo_sizes(records)}
        if caption is not None:
            data["caption"] = caption
        return await self._send(data)

    async def send_document(
        self,
        file_name: str = "document.pdf",
        content: bytes = b"%PDF-1.4 emulated",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> int:
        record = self.emulator.store_file("document", content, file_name, mime_type)[0]
        data: JSONDict = {
            "document": {
                "file_id": record.file_id,
                "file_unique_id": record.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": len(content),
            }
        }
        if caption is not None:
            data["caption"] = caption
        return await self._send(data)

    async def send_voice(self, content: bytes = b"OggS emulated voice note") -> int:
        record = self.emulator.store_file("voice", content, None, "audio/ogg")[0]
        voice = {"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                 "duration": 2, "mime_type": "audio/ogg", "file_size": len(content)}  # fmt: skip
        return await self._send({"voice": voice})

    async def send_contact(
        self, phone_number: str = "+33612345678", *, first_name: str | None = None, own: bool = True
    ) -> int:
        """Share a contact card; `own=True` is the "share my phone number" button."""
        contact: JSONDict = {
            "phone_number": phone_number,
            "first_name": first_name or self.account.first_name,
        }
        if own:
            contact["user_id"] = self.account.id
            if self.account.last_name:
                contact["last_name"] = self.account.last_name
        return await self._send({"contact": contact})

    async def edit_message(
        self,
        message: StoredMessage | int | None = None,
        *,
        text: str | None = None,
        location: tuple[float, float] | None = None,
    ) -> int:
        """Edit one of her messages (default: her latest), e.g. move a live location."""
        conv = self._open()
        target = _message_ref(message, conv) or next(
            (m for m in reversed(conv.messages.values()) if not m.from_bot and not m.deleted),
            None,
        )
        if target is None or target.from_bot:
            raise LookupError("no message of hers to edit")
        changes: JSONDict = {"edit_date": now()}
        if text is not None:
            changes["text"] = text
        if location is not None:
            changes["location"] = target.data.get("location", {}) | {
                "latitude": location[0],
                "longitude": location[1],
            }
        self.emulator.edit_message(target, target.data | changes)
        return self.emulator.enqueue({"edited_message": target.data}, self.bot)

    async def tap(self, button: ButtonMatcher, message: StoredMessage | int | None = None) -> int:
        """Tap an inline button, found by text (exact), regex or predicate.

        Looks in `message`, or else in the newest bot message that has such a button.
        """
        self._mark()
        conv = self.conversation()
        target = _message_ref(message, conv)
        found_in, found = find_button([target] if target else self.messages(), button)
        if found.callback_data is None:
            raise LookupError(f"button {found.text!r} has no callback_data (URL button?)")
        return self._callback_query(
            self.account, found_in, found_in.message_id, found.callback_data
        )

    async def tap_data(self, message_id: int, data: str) -> int:
        """Forge a callback query with arbitrary data (stale or tampered buttons)."""
        self._mark()
        conv = self.conversation()
        message = conv.get(message_id) if conv else None
        return self._callback_query(self.account, message, message_id, data)

    async def block_bot(self, *, announce: bool = True) -> int | None:
        """She blocks the bot. `announce=False` withholds the my_chat_member update (Telegram
        may deliver it late), so the bot learns it only from a refused message."""
        self.bot.blocked_by.add(self.account.id)
        return self._my_chat_member("member", "kicked") if announce else None

    async def unblock_bot(self) -> int:
        self.bot.blocked_by.discard(self.account.id)
        self.emulator.private_conversation(self.bot, self.account)
        return self._my_chat_member("kicked", "member")

    def _my_chat_member(self, old: str, new: str) -> int:
        bot_account = self.emulator.accounts[self.bot.id]
        update = {
            "my_chat_member": {
                "chat": self.account.to_private_chat(),
                "from": self.account.to_user(),
                "date": now(),
                "old_chat_member": self.emulator.chat_member(bot_account, old),
                "new_chat_member": self.emulator.chat_member(bot_account, new),
            }
        }
        return self.emulator.enqueue(update, self.bot)

    # --------------------------------------------------------------------------- reading

    def reply_keyboard(self) -> list[list[str]] | None:
        """Button texts of the reply keyboard she currently sees (None: none shown)."""
        conv = self.conversation()
        if conv is None or conv.reply_keyboard is None:
            return None
        return [[button["text"] for button in row] for row in conv.reply_keyboard["keyboard"]]

    def callback_answers(self) -> list[CallbackQueryRecord]:
        """Her callback queries in order, each with the bot's answer (text, show_alert...)."""
        return [
            q
            for q in self.emulator.callback_queries.values()
            if q.user_id == self.account.id and q.bot_id == self.bot.id
        ]

    async def wait_for_message(
        self,
        predicate: MessagePredicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - public API
    ) -> StoredMessage:
        """The first bot message after her last action (or the last message this returned)
        that matches `predicate`; waits for it without polling."""
        found: list[StoredMessage] = []

        def arrived() -> bool:
            conv = self.conversation()
            candidates = conv.bot_messages(include_deleted=True)[self._cursor :] if conv else []
            for index, message in enumerate(candidates, start=self._cursor):
                if not message.deleted and (predicate is None or predicate(message)):
                    found.append(message)
                    self._cursor = index + 1
                    return True
            return False

        try:
            await self.emulator.wait_for(arrived, timeout)
        except TimeoutError:
            recent = self.messages()[-3:]
            raise TimeoutError(
                f"no new matching bot message for {self} within {timeout}s; "
                f"latest messages: {recent}"
            ) from None
        return found[0]


class EmulatedGroup(_Chatter):
    """A group or supergroup; users post in it, the bot may be added or removed."""

    def __init__(self, emulator: BotApiEmulator, chat: GroupChat, bot: BotAccount) -> None:
        self.emulator = emulator
        self.chat = chat
        self.bot = bot

    def __repr__(self) -> str:
        return f"<EmulatedGroup {self.chat.id} {self.chat.title!r}>"

    @property
    def id(self) -> int:
        return self.chat.id

    def conversation(self) -> Conversation:
        return self.emulator.group_conversation(self.bot, self.chat)

    def chat_json(self) -> JSONDict:
        return self.chat.to_chat()

    @property
    def bot_status(self) -> str:
        return self.chat.members.get(self.bot.id, "left")

    def _membership_change(self, by: EmulatedUser, new: str) -> int:
        bot_account = self.emulator.accounts[self.bot.id]
        old = self.bot_status
        self.chat.members[self.bot.id] = new
        update = {
            "my_chat_member": {
                "chat": self.chat.to_chat(),
                "from": by.account.to_user(),
                "date": now(),
                "old_chat_member": self.emulator.chat_member(bot_account, old),
                "new_chat_member": self.emulator.chat_member(bot_account, new),
            }
        }
        return self.emulator.enqueue(update, self.bot)

    async def add_bot(self, by: EmulatedUser, *, admin: bool = False) -> int:
        """`by` adds the bot: my_chat_member, then the new_chat_members service message."""
        self.chat.members.setdefault(by.id, "creator")
        self._membership_change(by, "administrator" if admin else "member")
        service = self.conversation().add(
            {
                "from": by.account.to_user(),
                "new_chat_members": [self.emulator.accounts[self.bot.id].to_user()],
            },
            from_bot=False,
        )
        return self.emulator.enqueue({"message": service.data}, self.bot)

    async def promote_bot(self, by: EmulatedUser) -> int:
        return self._membership_change(by, "administrator")

    async def remove_bot(self, by: EmulatedUser, *, kick: bool = True) -> int:
        return self._membership_change(by, "kicked" if kick else "left")

    def _bot_sees(self, message: StoredMessage) -> bool:
        """Whether Telegram hands this message to the bot (membership, privacy mode)."""
        status = self.bot_status
        if status not in ("member", "administrator", "creator"):
            return False
        if not self.bot.privacy_mode or status in ("administrator", "creator"):
            return True
        text = message.text or ""
        replied = message.data.get("reply_to_message", {}).get("from", {}).get("id")
        return (
            text.startswith("/")
            or replied == self.bot.id
            or f"@{self.bot.username}".lower() in text.lower()
        )

    async def _post(
        self, user: EmulatedUser, content: JSONDict, reply_to: StoredMessage | int | None
    ) -> int | None:
        self.chat.members.setdefault(user.id, "member")
        conv = self.conversation()
        data: JSONDict = {"from": user.account.to_user()}
        target = _message_ref(reply_to, conv)
        if target is not None:
            data["reply_to_message"] = {
                k: v for k, v in target.data.items() if k != "reply_to_message"
            }
        message = conv.add(data | content, from_bot=False)
        if not self._bot_sees(message):
            return None
        return self.emulator.enqueue({"message": message.data}, self.bot)

    async def send_text(
        self, user: EmulatedUser, text: str, *, reply_to: StoredMessage | int | None = None
    ) -> int | None:
        """Post as `user`; None when the bot would not receive it (not a member, privacy)."""
        return await self._post(user, {"text": text}, reply_to)

    async def send_command(
        self,
        user: EmulatedUser,
        command: str,
        payload: str | None = None,
        *,
        mention_bot: bool = True,
    ) -> int | None:
        command = command if command.startswith("/") else f"/{command}"
        if mention_bot:
            command = f"{command}@{self.bot.username}"
        text = f"{command} {payload}" if payload else command
        return await self._post(user, {"text": text, "entities": [command_entity(command)]}, None)

    async def tap(
        self, user: EmulatedUser, button: ButtonMatcher, message: StoredMessage | int | None = None
    ) -> int:
        target = _message_ref(message, self.conversation())
        found_in, found = find_button([target] if target else self.messages(), button)
        if found.callback_data is None:
            raise LookupError(f"button {found.text!r} has no callback_data (URL button?)")
        return self._callback_query(
            user.account, found_in, found_in.message_id, found.callback_data
        )


class EmulatedChannel(_Chatter):
    """A channel: the bot, as administrator, receives its posts."""

    def __init__(self, emulator: BotApiEmulator, chat: GroupChat, bot: BotAccount) -> None:
        self.emulator = emulator
        self.chat = chat
        self.bot = bot

    @property
    def id(self) -> int:
        return self.chat.id

    def conversation(self) -> Conversation:
        return self.emulator.group_conversation(self.bot, self.chat)

    def chat_json(self) -> JSONDict:
        return self.chat.to_chat()

    async def add_bot(self, by: EmulatedUser, *, admin: bool = True) -> int:
        bot_account = self.emulator.accounts[self.bot.id]
        old = self.chat.members.get(self.bot.id, "left")
        new = "administrator" if admin else "member"
        self.chat.members[self.bot.id] = new
        self.chat.members.setdefault(by.id, "creator")
        return self.emulator.enqueue(
            {
                "my_chat_member": {
                    "chat": self.chat.to_chat(),
                    "from": by.account.to_user(),
                    "date": now(),
                    "old_chat_member": self.emulator.chat_member(bot_account, old),
                    "new_chat_member": self.emulator.chat_member(bot_account, new),
                }
            },
            self.bot,
        )

    def _bot_sees(self) -> bool:
        return self.chat.members.get(self.bot.id) == "administrator"

    async def post(self, text: str) -> int | None:
        """A channel post; None if the bot is not an administrator of the channel."""
        chat = self.chat.to_chat()
        message = self.conversation().add({"sender_chat": chat, "text": text}, from_bot=False)
        if not self._bot_sees():
            return None
        return self.emulator.enqueue({"channel_post": message.data}, self.bot)

    async def edit_post(self, message_id: int, text: str) -> int | None:
        message = self.conversation().messages[message_id]
        self.emulator.edit_message(message, message.data | {"text": text, "edit_date": now()})
        if not self._bot_sees():
            return None
        return self.emulator.enqueue({"edited_channel_post": message.data}, self.bot)
