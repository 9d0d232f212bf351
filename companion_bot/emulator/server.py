"""A local, in-process fake of the Telegram Bot API, served over real HTTP with aiohttp.

The bot under test talks to it with its normal HTTP stack; tests and demos drive the other
side (users, groups, channels) through `EmulatedUser` & co. and read what the bot sent.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from .actors import EmulatedChannel, EmulatedGroup, EmulatedUser
from .limits import FloodControl, Limits
from .methods import METHODS, Call
from .models import (
    Account,
    ApiError,
    BotAccount,
    CallbackQueryRecord,
    Conversation,
    DeliveryStats,
    FileRecord,
    GroupChat,
    InjectedFailure,
    JSONDict,
    RequestRecord,
    Signal,
    StoredMessage,
    bad_request,
    forbidden,
)
from .params import read_params

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "7000000001:AAEmulatedDefaultBotTokenForTests_xyz"
EMULATOR_KEY = web.AppKey["BotApiEmulator"]("emulator")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_dumps = functools.partial(json.dumps, ensure_ascii=False)
_BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
# Permissions of a bot promoted to administrator (all required by ChatMemberAdministrator).
_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_post_messages": True,
    "can_edit_messages": True,
}
_DROPPED = 599  # never reaches the client: the connection is closed first
_FILE_PREFIX = {"photo": "AgACAgQAAxkB", "document": "BQACAgQAAxkB", "sticker": "CAACAgIAAxkB",
                "voice": "AwACAgQAAxkB"}  # fmt: skip


class BotApiEmulator:
    """State of a fake Telegram (bots, users, chats, messages, updates) and its HTTP server.

    Use as `async with BotApiEmulator() as emulator:` and point PTB at it with
    `ApplicationBuilder().token(emulator.token).base_url(emulator.base_url)
    .base_file_url(emulator.base_file_url)`. Everything runs in the caller's event loop.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "compagnonnes_test_bot",
        bot_first_name: str = "Compagnonnes de route",
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        request_log_size: int | None = 100_000,
        access_log: bool = False,
    ) -> None:
        self.clock = clock
        self.bots: dict[str, BotAccount] = {}
        self.accounts: dict[int, Account] = {}
        self.groups: dict[int, GroupChat] = {}
        self.conversations: dict[tuple[int, int], Conversation] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self._files_by_path: dict[str, FileRecord] = {}
        self._photo_sets: dict[str, list[str]] = {}
        self.requests: deque[RequestRecord] = deque(maxlen=request_log_size)
        self.stats = DeliveryStats()
        self.limits = limits or Limits()
        self._flood = FloodControl(self.limits, clock)
        # Wakes long-polls and test waiters on any change of state.
        self.changed = Signal()
        self._last_update_id = 0
        self._update_owner: dict[int, BotAccount] = {}
        self._dropped_updates: set[int] = set()
        self._ids = {"user": 100_000_000, "group": 4_000_000_000, "query": 0, "file": 0}
        self._closing = False
        self._access_log = access_log
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.default_bot = self.add_bot(token, username=bot_username, first_name=bot_first_name)

    # ----------------------------------------------------------------------------- bots

    @property
    def token(self) -> str:
        """Token of the default bot."""
        return self.default_bot.token

    def add_bot(
        self,
        token: str | None = None,
        *,
        username: str | None = None,
        first_name: str = "Test bot",
        privacy_mode: bool = True,
    ) -> BotAccount:
        """Register another bot; its id is the numeric part of the token, like Telegram's."""
        if token is None:
            token = f"{7_000_000_001 + len(self.bots)}:AAEmulatedBotToken{len(self.bots):020d}"
        bot_id = int(token.split(":", 1)[0])
        account = Account(bot_id, first_name, username=username or f"test{bot_id}_bot", is_bot=True)
        self.accounts[bot_id] = account
        bot = BotAccount(token, account, privacy_mode=privacy_mode)
        self.bots[token] = bot
        return bot

    def bot(self, token: str | None = None) -> BotAccount:
        return self.default_bot if token is None else self.bots[token]

    def _bot(self, bot: BotAccount | None) -> BotAccount:
        return bot or self.default_bot

    # ------------------------------------------------------------------------ actors

    def _next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def user(
        self,
        user_id: int | None = None,
        first_name: str = "Marie",
        language_code: str | None = "fr",
        username: str | None = None,
        *,
        last_name: str | None = None,
        bot: BotAccount | None = None,
        started: bool = False,
        hide_forwards: bool = False,
    ) -> EmulatedUser:
        """A user talking to `bot` (default bot). Reuses the account if `user_id` is known.

        `started=True` acts as if she had already opened the bot, so the bot may message her
        first; otherwise, like Telegram, it gets 403 until she sends something.
        """
        if user_id is None:
            user_id = self._next_id("user")
        account = self.accounts.get(user_id)
        if account is None:
            account = Account(
                user_id, first_name, last_name, username, language_code, hide_forwards=hide_forwards
            )
            self.accounts[user_id] = account
        bot = self._bot(bot)
        if started:
            self.private_conversation(bot, account)
        return EmulatedUser(self, account, bot)

    def group(
        self,
        title: str = "Groupe de test",
        *,
        supergroup: bool = True,
        username: str | None = None,
        bot: BotAccount | None = None,
    ) -> EmulatedGroup:
        number = self._next_id("group")
        chat_id = -(1_000_000_000_000 + number) if supergroup else -number
        chat = GroupChat(chat_id, "supergroup" if supergroup else "group", title, username)
        self.groups[chat_id] = chat
        return EmulatedGroup(self, chat, self._bot(bot))

    def channel(
        self,
        title: str = "Canal de test",
        *,
        username: str | None = None,
        bot: BotAccount | None = None,
    ) -> EmulatedChannel:
        chat_id = -(1_000_000_000_000 + self._next_id("group"))
        chat = GroupChat(chat_id, "channel", title, username)
        self.groups[chat_id] = chat
        return EmulatedChannel(self, chat, self._bot(bot))

    # ---------------------------------------------------------------- conversations

    def private_conversation(self, bot: BotAccount, account: Account) -> Conversation:
        """The private chat of `account` with `bot`, opened (started) if it was not."""
        bot.started_by.add(account.id)
        return self.conversations.setdefault(
            (bot.id, account.id), Conversation(bot.id, account.to_private_chat())
        )

    def group_conversation(self, bot: BotAccount, group: GroupChat) -> Conversation:
        return self.conversations.setdefault(
            (bot.id, group.id), Conversation(bot.id, group.to_chat())
        )

    def _resolve_chat_id(self, chat_id: int | str) -> int:
        if isinstance(chat_id, int):
            return chat_id
        for group in self.groups.values():
            if group.username and f"@{group.username}".lower() == chat_id.lower():
                return group.id
        raise bad_request("chat not found")

    def conversation_for(
        self, bot: BotAccount, chat_id: int | str, *, write: bool = False
    ) -> Conversation:
        """The conversation the bot addresses by `chat_id`, or the error Telegram gives."""
        resolved = self._resolve_chat_id(chat_id)
        conv = self.conversations.get((bot.id, resolved))
        if write:
            self.check_can_write(bot, resolved)
        if conv is None:
            raise bad_request("chat not found")
        return conv

    def check_can_write(self, bot: BotAccount, chat_id: int) -> None:
        if chat_id > 0:
            self._check_private(bot, chat_id)
        else:
            self._check_group(bot, chat_id)

    def _check_private(self, bot: BotAccount, user_id: int) -> None:
        account = self.accounts.get(user_id)
        if account is None:
            raise bad_request("chat not found")
        if account.is_bot:
            raise forbidden("bot can't send messages to bots")
        if user_id in bot.blocked_by:
            raise forbidden("bot was blocked by the user")
        if user_id not in bot.started_by:
            raise forbidden("bot can't initiate conversation with a user")

    def _check_group(self, bot: BotAccount, chat_id: int) -> None:
        group = self.groups.get(chat_id)
        if group is None:
            raise bad_request("chat not found")
        status = group.members.get(bot.id, "left")
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {group.type} chat")
        if status == "left":
            raise forbidden(f"bot is not a member of the {group.type} chat")
        if group.type == "channel" and status != "administrator":
            raise bad_request("need administrator rights in the channel chat")

    def is_admin(self, bot: BotAccount, conv: Conversation) -> bool:
        group = self.groups.get(conv.chat_id)
        return group is not None and group.members.get(bot.id) == "administrator"

    def messages(self, chat_id: int, bot: BotAccount | None = None) -> list[StoredMessage]:
        """Every message of a chat as the bot sees it (both sides, deleted ones included)."""
        conv = self.conversations.get((self._bot(bot).id, chat_id))
        return list(conv.messages.values()) if conv else []

    def chat_member(self, account: Account, status: str) -> JSONDict:
        member: JSONDict = {"status": status, "user": account.to_user()}
        if status == "administrator":
            member |= _ADMIN_RIGHTS
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # ------------------------------------------------------------------------- messages

    def check_flood(self, bot: BotAccount, chat_id: int) -> None:
        """Count a call that writes to a chat (a new message or an edit, as Telegram counts
        them) against the flood limits in force, or raise the 429 Telegram would answer."""
        try:
            self._flood.check(bot.id, chat_id)
        except ApiError:
            self.stats.rate_limited[chat_id] += 1
            raise

    def deliver(self, bot: BotAccount, conv: Conversation, data: JSONDict) -> StoredMessage:
        """Store a message the bot sends, after Telegram's flood limits and injected faults."""
        chat_id = conv.chat_id
        self.check_flood(bot, chat_id)
        failure = self._flood.draw_failure()
        if failure is not None and failure != "lost_response":
            self.stats.failed[chat_id] += 1
            raise InjectedFailure(failure)
        message = conv.add(data, from_bot=True)
        self.stats.record_delivery(chat_id, message.text_or_caption)
        self.changed.notify()
        if failure == "lost_response":
            self.stats.lost_responses[chat_id] += 1
            raise InjectedFailure(failure)
        return message

    def edit_message(self, message: StoredMessage, data: JSONDict) -> None:
        message.previous_versions.append(message.data)
        message.data = data
        self.changed.notify()

    def delete_message(self, message: StoredMessage) -> None:
        message.deleted = True
        self.changed.notify()

    # ---------------------------------------------------------------------------- files

    def store_file(
        self, kind: str, content: bytes, file_name: str | None, mime_type: str | None
    ) -> list[FileRecord]:
        """Store uploaded content; a photo gets three sizes, each with its own file_id: the
        largest is the content, the smaller ones stand-in thumbnails of it."""
        count = 3 if kind == "photo" else 1
        records = []
        for size in range(count):
            number = self._next_id("file")
            extension = {"photo": "jpg", "sticker": "webp"}.get(kind, "bin")
            if file_name and "." in file_name:
                extension = file_name.rsplit(".", 1)[1]
            record = FileRecord(
                file_id=f"{_FILE_PREFIX.get(kind, 'BQACAgQAAxkB')}{number:012d}",
                file_unique_id=f"AQAD{number:08d}",
                file_path=f"{kind}s/file_{number}.{extension}",
                content=content if size == count - 1 else b"thumbnail %d: " % size + content[:64],
                file_name=file_name,
                mime_type=mime_type,
            )
            self.files[record.file_id] = record
            self._files_by_path[record.file_path] = record
            records.append(record)
        if kind == "photo":
            ids = [r.file_id for r in records]
            self._photo_sets.update(dict.fromkeys(ids, ids))
        return records

    def files_like(self, file_id: str) -> list[FileRecord]:
        """The file with this id (for a photo: every size of it); [] if unknown."""
        ids = self._photo_sets.get(file_id, [file_id] if file_id in self.files else [])
        return [self.files[i] for i in ids]

    @staticmethod
    def photo_sizes(records: list[FileRecord]) -> list[JSONDict]:
        dimensions = [(90, 67), (320, 240), (800, 600), (1280, 960)]
        return [
            {
                "file_id": r.file_id,
                "file_unique_id": r.file_unique_id,
                "file_size": len(r.content),
                "width": w,
                "height": h,
            }
            for r, (w, h) in zip(records, dimensions, strict=False)
        ]

    # -------------------------------------------------------------------------- updates

    def enqueue(self, update: JSONDict, bot: BotAccount | None = None) -> int:
        """Queue an update for a bot; returns its update_id (given, or the next one)."""
        bot = self._bot(bot)
        update_id = update.get("update_id")
        if update_id is None:
            update_id = self._last_update_id + 1
        elif not isinstance(update_id, int) or update_id <= self._last_update_id:
            raise ValueError(f"update_id must be an int above {self._last_update_id}")
        self._last_update_id = update_id
        bot.pending.append({"update_id": update_id} | update)
        self._update_owner[update_id] = bot
        self.changed.notify()
        return update_id

    def inject_update(self, raw: JSONDict, bot: BotAccount | None = None) -> int:
        """Queue an arbitrary raw update (for fuzzing); not reflected in any chat history."""
        return self.enqueue(dict(raw), bot)

    def pending_updates(self, bot: BotAccount | None = None) -> list[JSONDict]:
        return list(self._bot(bot).pending)

    def new_callback_query(
        self,
        bot: BotAccount,
        account: Account,
        message: StoredMessage | None,
        chat_id: int | None,
        data: str | None,
    ) -> CallbackQueryRecord:
        query_id = f"{bot.id}{self._next_id('query'):09d}"
        query = CallbackQueryRecord(
            query_id, bot.id, account.id, chat_id, message.message_id if message else None, data
        )
        self.callback_queries[query_id] = query
        return query

    def drop_pending(self, bot: BotAccount) -> None:
        self._dropped_updates.update(u["update_id"] for u in bot.pending)
        bot.pending.clear()
        self.changed.notify()

    def _confirm(self, bot: BotAccount, offset: int) -> None:
        """Apply getUpdates' offset: older updates are confirmed and forgotten."""
        if offset > 0:
            kept = [u for u in bot.pending if u["update_id"] >= offset]
        elif offset < 0:
            kept = bot.pending[offset:]
        else:
            return
        if len(kept) != len(bot.pending):
            bot.pending[:] = kept
            self.changed.notify()

    def _drop_disallowed(self, bot: BotAccount) -> None:
        disallowed = [u for u in bot.pending if _update_type(u) not in bot.allowed_updates]
        if disallowed:
            self._dropped_updates.update(u["update_id"] for u in disallowed)
            bot.pending[:] = [u for u in bot.pending if u not in disallowed]
            self.changed.notify()

    async def long_poll(
        self, bot: BotAccount, *, offset: int, limit: int, seconds: float
    ) -> list[JSONDict]:
        """getUpdates: wait until an update is pending or `seconds` passed, never spin."""
        self._confirm(bot, offset)
        self._drop_disallowed(bot)
        bot.poll_generation += 1
        bot.last_poll_at = self.clock()
        generation = bot.poll_generation
        self.changed.notify()  # releases an older getUpdates of this bot (409 below)

        def ready() -> bool:
            return bool(bot.pending) or bot.poll_generation != generation or self._closing

        try:
            await self.changed.wait_for(ready, seconds)
        except TimeoutError:
            pass
        if bot.poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure "
                "that only one bot instance is running",
            )
        self._drop_disallowed(bot)
        return [dict(u) for u in bot.pending[:limit]]

    async def wait_delivered(
        self,
        update_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - public API
    ) -> bool:
        """Wait until the bot confirmed `update_id` (a later getUpdates offset passed it).

        Returns False if the update was dropped instead (drop_pending_updates, or a type
        outside the bot's allowed_updates). Raises TimeoutError with a diagnosis otherwise.
        """
        bot = self._update_owner.get(update_id)
        if bot is None:
            raise ValueError(f"unknown update_id {update_id}")

        def gone() -> bool:
            return all(u["update_id"] != update_id for u in bot.pending)

        try:
            await self.changed.wait_for(gone, timeout)
        except TimeoutError:
            raise TimeoutError(self._delivery_diagnosis(bot, update_id, timeout)) from None
        return update_id not in self._dropped_updates

    async def wait_all_delivered(
        self,
        bot: BotAccount | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until every update queued so far for the bot was confirmed or dropped."""
        bot = self._bot(bot)
        for update in list(bot.pending):
            await self.wait_delivered(update["update_id"], timeout)

    def _delivery_diagnosis(self, bot: BotAccount, update_id: int, timeout: float) -> str:
        if bot.last_poll_at is None:
            polled = "the bot never called getUpdates (is the application polling?)"
        else:
            polled = f"last getUpdates {self.clock() - bot.last_poll_at:.1f}s ago"
        return (
            f"update {update_id} not confirmed by bot @{bot.username} within {timeout}s; "
            f"{polled}; {len(bot.pending)} update(s) pending"
        )

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait, without polling, until `predicate()` holds after some change of state."""
        await self.changed.wait_for(predicate, timeout)

    # -------------------------------------------------------------------------- limits

    def set_limits(self, limits: Limits | None = None, **fields: Any) -> Limits:
        """Switch limits on/off: `set_limits(Limits.telegram())`, `set_limits(failure_rate=.1)`.

        Resets the sliding windows and reseeds the failure generator.
        """
        base = limits or Limits()
        self.limits = Limits(**(vars(base) | fields))
        self._flood.reset(self.limits)
        return self.limits

    # ------------------------------------------------------------------------- request log

    def calls(self, method: str | None = None) -> list[RequestRecord]:
        """Logged API calls, optionally of one method (case-insensitive)."""
        if method is None:
            return list(self.requests)
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def count_calls(self, method: str) -> int:
        return len(self.calls(method))

    # ----------------------------------------------------------------------------- HTTP

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app[EMULATOR_KEY] = self
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        return app

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)`; PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._closing = False
        self._runner = web.AppRunner(
            self.make_app(),
            access_log=logging.getLogger("aiohttp.access") if self._access_log else None,
            shutdown_timeout=1.0,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host, self.port = self._runner.addresses[0][:2]

    async def stop(self) -> None:
        """Release pending long-polls, then close the server."""
        self._closing = True
        self.changed.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        bot = self.bots.get(request.match_info["token"])
        method = request.match_info["method"]
        record = RequestRecord(self.clock(), bot.id if bot else None, method, {})
        self.requests.append(record)
        try:
            response = await self._answer(request, bot, method, record)
        finally:
            record.duration = self.clock() - record.time
        # A dropped connection has no status; logged as 0.
        record.status = 0 if response.status == _DROPPED else response.status
        self.changed.notify()
        return response

    async def _answer(
        self, request: web.Request, bot: BotAccount | None, method: str, record: RequestRecord
    ) -> web.StreamResponse:
        try:
            if bot is None:
                raise ApiError(401, "Unauthorized")
            params, files = await read_params(request)
            record.params = params | {k: f"<file {f.filename}>" for k, f in files.items()}
            handler = METHODS.get(method.lower())
            if handler is None:
                raise ApiError(404, f"Not Found: method not found (emulator has no {method})")
            result = await handler(Call(self, bot, method, params, files))
        except ApiError as error:
            record.description = error.description
            return web.json_response(error.payload(), status=error.code, dumps=_dumps)
        except InjectedFailure as failure:
            record.description = f"injected failure: {failure.kind}"
            return self._failure_response(request, failure)
        except Exception as exc:  # an emulator bug or unexpected input: say so loudly
            logger.exception("emulator failed on %s", method)
            record.description = f"emulator error: {exc!r}"
            body = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: emulator error in {method}: {exc!r}",
            }
            return web.json_response(body, status=500, dumps=_dumps)
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    @staticmethod
    def _failure_response(request: web.Request, failure: InjectedFailure) -> web.Response:
        if failure.kind == "500":
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
            return web.json_response(body, status=500)
        if failure.kind == "502":
            return web.Response(status=502, text=_BAD_GATEWAY_PAGE, content_type="text/html")
        # "drop" / "lost_response": close the connection without answering.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=_DROPPED)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self.bots:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        record = self._files_by_path.get(path)
        if record is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(
            body=record.content, content_type=record.mime_type or "application/octet-stream"
        )


def _update_type(update: JSONDict) -> str:
    return next((key for key in update if key != "update_id"), "")
