"""The Bot API methods the emulator implements, keyed by lower-case method name.

Each method receives a `Call` and returns the `result` of a successful answer, or raises
`ApiError` with the status and description Telegram uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .formatting import format_text
from .models import (
    DEFAULT_ALLOWED_UPDATES,
    ApiError,
    BotAccount,
    Conversation,
    FileRecord,
    JSONDict,
    StoredMessage,
    Webhook,
    bad_request,
    now,
)
from .params import UploadedFile

if TYPE_CHECKING:
    from .server import BotApiEmulator


@dataclass
class Call:
    """One Bot API call: who calls, with which decoded parameters and uploaded files."""

    emulator: BotApiEmulator
    bot: BotAccount
    method: str
    params: JSONDict
    files: dict[str, UploadedFile]

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def require(self, name: str, missing: str | None = None) -> Any:
        if name not in self.params:
            raise bad_request(missing or f"{name} is empty")
        return self.params[name]

    def conversation(self, *, write: bool = False) -> Conversation:
        chat_id = self.require("chat_id")
        return self.emulator.conversation_for(self.bot, chat_id, write=write)

    def message(self, conv: Conversation, missing: str) -> StoredMessage:
        if "inline_message_id" in self.params:
            raise bad_request("inline messages are not supported by the emulator")
        message = conv.get(self.require("message_id", "message identifier is not specified"))
        if message is None:
            raise bad_request(missing)
        return message


Method = Callable[[Call], Awaitable[Any]]
METHODS: dict[str, Method] = {}


def api_method(*names: str) -> Callable[[Method], Method]:
    def register(func: Method) -> Method:
        for name in names:
            METHODS[name.lower()] = func
        return func

    return register


DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile: bots may download files up to 20 MB
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)

# ------------------------------------------------------------------------------ bot and updates


@api_method("getMe")
async def get_me(call: Call) -> JSONDict:
    return call.bot.to_get_me()


@api_method("logOut", "close")
async def log_out(call: Call) -> bool:
    return True


@api_method("getUpdates")
async def get_updates(call: Call) -> list[JSONDict]:
    if call.bot.webhook.url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    allowed = call.get("allowed_updates")
    if isinstance(allowed, list):
        call.bot.allowed_updates = frozenset(allowed) or DEFAULT_ALLOWED_UPDATES
    limit = min(max(int(call.get("limit", 100)), 1), 100)
    return await call.emulator.long_poll(
        call.bot,
        offset=int(call.get("offset", 0)),
        limit=limit,
        seconds=max(float(call.get("timeout", 0)), 0.0),
    )


@api_method("setWebhook")
async def set_webhook(call: Call) -> bool:
    url = str(call.get("url", ""))
    if url and not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = call.get("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
        raise bad_request("secret token contains unallowed characters")
    allowed = call.get("allowed_updates")
    call.bot.webhook = Webhook(url, secret, int(call.get("max_connections", 40)), allowed)
    if call.get("drop_pending_updates"):
        call.emulator.drop_pending(call.bot)
    return True


@api_method("deleteWebhook")
async def delete_webhook(call: Call) -> bool:
    call.bot.webhook = Webhook()
    if call.get("drop_pending_updates"):
        call.emulator.drop_pending(call.bot)
    return True


@api_method("getWebhookInfo")
async def get_webhook_info(call: Call) -> JSONDict:
    hook = call.bot.webhook
    info: JSONDict = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(call.bot.pending),
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates is not None:
            info["allowed_updates"] = hook.allowed_updates
    return info


# ------------------------------------------------------------------------ commands and menus

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def _commands_key(call: Call) -> tuple[str, str]:
    scope = call.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(call.get("language_code") or "")


@api_method("setMyCommands")
async def set_my_commands(call: Call) -> bool:
    commands = call.require("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command"))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    call.bot.commands[_commands_key(call)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


@api_method("getMyCommands")
async def get_my_commands(call: Call) -> list[JSONDict]:
    return list(call.bot.commands.get(_commands_key(call), []))


@api_method("deleteMyCommands")
async def delete_my_commands(call: Call) -> bool:
    call.bot.commands.pop(_commands_key(call), None)
    return True


@api_method("setChatMenuButton")
async def set_chat_menu_button(call: Call) -> bool:
    chat_id = call.get("chat_id")
    if chat_id is not None:
        call.conversation()
    call.bot.menu_buttons[chat_id] = call.get("menu_button") or {"type": "default"}
    return True


@api_method("getChatMenuButton")
async def get_chat_menu_button(call: Call) -> JSONDict:
    buttons = call.bot.menu_buttons
    button = buttons.get(call.get("chat_id")) or buttons.get(None) or {"type": "commands"}
    return button if button.get("type") != "default" else {"type": "commands"}


# ------------------------------------------------------------------------------------ markup


def _inline_keyboard(markup: JSONDict) -> JSONDict:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard markup JSON object")
    for row in rows:
        for button in row:
            _check_inline_button(button)
    return {"inline_keyboard": rows}


_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _check_inline_button(button: object) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not any(action in button for action in _BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and not 1 <= len(str(data).encode()) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not re.match(r"(https?|tg)://", str(url)):
        raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _reply_keyboard(markup: JSONDict) -> JSONDict:
    rows = markup["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    normalised = [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows]
    if any("text" not in b for row in normalised for b in row):
        raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    return markup | {"keyboard": normalised}


def parse_markup(raw: object) -> tuple[JSONDict | None, JSONDict | None]:
    """Split reply_markup into (inline keyboard for the Message JSON, client-side markup)."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        return _inline_keyboard(raw), None
    if "keyboard" in raw:
        return None, _reply_keyboard(raw)
    if raw.get("remove_keyboard") or raw.get("force_reply"):
        return None, raw
    raise bad_request("can't parse reply keyboard markup JSON object")


def _inline_only(call: Call) -> JSONDict | None:
    inline, client = parse_markup(call.get("reply_markup"))
    if client is not None:
        raise bad_request("inline keyboard expected")
    return inline


# ---------------------------------------------------------------------------------- sending


def _reply_to(call: Call, conv: Conversation) -> JSONDict | None:
    parameters = call.get("reply_parameters") or {}
    message_id = parameters.get("message_id", call.get("reply_to_message_id"))
    if message_id is None:
        return None
    target = conv.get(message_id)
    if target is None:
        if parameters.get("allow_sending_without_reply") or call.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return {k: v for k, v in target.data.items() if k != "reply_to_message"}


def _send(call: Call, content: JSONDict, *, markup_allowed: bool = True) -> StoredMessage:
    """Shared tail of every send method: reply, markup, limits, then store the message."""
    conv = call.conversation(write=True)
    data: JSONDict = {"from": call.bot.account.to_user()}
    reply = _reply_to(call, conv)
    if reply is not None:
        data["reply_to_message"] = reply
    inline, client = parse_markup(call.get("reply_markup")) if markup_allowed else (None, None)
    data |= content
    if inline is not None:
        data["reply_markup"] = inline
    if call.get("protect_content"):
        data["has_protected_content"] = True
    message = call.emulator.deliver(call.bot, conv, data)
    message.client_markup = client
    if client is not None and ("keyboard" in client or "remove_keyboard" in client):
        conv.reply_keyboard = client if "keyboard" in client else None
    return message


def _text_content(call: Call) -> JSONDict:
    text, entities = format_text(
        str(call.require("text", "message text is empty")),
        call.get("parse_mode"),
        call.get("entities"),
    )
    content: JSONDict = {"text": text}
    if entities:
        content["entities"] = entities
    if call.get("link_preview_options"):
        content["link_preview_options"] = call.get("link_preview_options")
    return content


def _caption_content(call: Call) -> JSONDict:
    if call.get("caption") is None:
        return {}
    caption, entities = format_text(
        str(call.get("caption")),
        call.get("parse_mode"),
        call.get("caption_entities"),
        caption=True,
    )
    content: JSONDict = {"caption": caption} if caption else {}
    if entities:
        content["caption_entities"] = entities
    return content


@api_method("sendMessage")
async def send_message(call: Call) -> JSONDict:
    return _send(call, _text_content(call)).data


def _location(call: Call) -> JSONDict:
    latitude, longitude = call.require("latitude"), call.require("longitude")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong coordinates")
    location: JSONDict = {"latitude": latitude, "longitude": longitude}
    for key in ("horizontal_accuracy", "heading", "proximity_alert_radius"):
        if call.get(key) is not None:
            location[key] = call.get(key)
    return location


@api_method("sendLocation")
async def send_location(call: Call) -> JSONDict:
    location = _location(call)
    live_period = call.get("live_period")
    if live_period is not None:
        if not (60 <= live_period <= 86400 or live_period == 0x7FFFFFFF):
            raise bad_request("wrong live period specified")
        location["live_period"] = live_period
    return _send(call, {"location": location}).data


def _input_file(call: Call, name: str, kind: str) -> list[FileRecord]:
    """Resolve an uploaded file, an attach:// reference, a URL or a known file_id."""
    emulator = call.emulator
    upload = call.files.get(name)
    value = call.get(name)
    if upload is None and isinstance(value, str) and value.startswith("attach://"):
        upload = call.files.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request(f"wrong file identifier/HTTP URL specified: no {value} part")
    if upload is not None:
        return emulator.store_file(kind, upload.content, upload.filename, upload.content_type)
    if value is None:
        raise bad_request(f"there is no {name} in the request")
    value = str(value)
    if value.startswith(("http://", "https://")):
        file_name = value.rsplit("/", 1)[-1] or None
        return emulator.store_file(kind, f"downloaded from {value}".encode(), file_name, None)
    known = emulator.files_like(value)
    if not known:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return known


@api_method("sendPhoto")
async def send_photo(call: Call) -> JSONDict:
    sizes = _input_file(call, "photo", "photo")
    content: JSONDict = {"photo": call.emulator.photo_sizes(sizes)} | _caption_content(call)
    if call.get("has_spoiler"):
        content["has_media_spoiler"] = True
    return _send(call, content).data


def _file(record: FileRecord) -> JSONDict:
    """A sent file as the message shows it (a Document, a Voice…)."""
    shown: JSONDict = {
        "file_id": record.file_id,
        "file_unique_id": record.file_unique_id,
        "file_size": len(record.content),
    }
    if record.file_name:
        shown["file_name"] = record.file_name
    if record.mime_type:
        shown["mime_type"] = record.mime_type
    return shown


@api_method("sendDocument")
async def send_document(call: Call) -> JSONDict:
    document = _file(_input_file(call, "document", "document")[0])
    return _send(call, {"document": document} | _caption_content(call)).data


@api_method("sendVoice")
async def send_voice(call: Call) -> JSONDict:
    record = _input_file(call, "voice", "voice")[0]
    voice = {"duration": 1, "mime_type": "audio/ogg"} | _file(record)
    voice.pop("file_name", None)  # a voice note has none
    return _send(call, {"voice": voice} | _caption_content(call)).data


_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


@api_method("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    call.conversation(write=True)
    if call.get("action") not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


_COPYABLE = (
    "text",
    "entities",
    "photo",
    "caption",
    "caption_entities",
    "document",
    "sticker",
    "contact",
    "location",
    "venue",
    "voice",
    "audio",
    "video",
    "animation",
)


def _source_message(call: Call, what: str) -> StoredMessage:
    source_chat = call.require("from_chat_id")
    conv = call.emulator.conversation_for(call.bot, source_chat)
    message = conv.get(call.require("message_id", "message identifier is not specified"))
    if message is None:
        raise bad_request(f"message to {what} not found")
    if message.data.get("has_protected_content"):
        raise bad_request(
            f"message can't be {what}ed" if what == "forward" else "message can't be copied"
        )
    if not any(key in message.data for key in _COPYABLE):
        raise bad_request(
            f"message can't be {what}ed" if what == "forward" else "message can't be copied"
        )
    return message


def _copied_content(message: StoredMessage) -> JSONDict:
    content = {k: v for k, v in message.data.items() if k in _COPYABLE}
    if "location" in content:
        # A copied live location is a plain pin.
        content["location"] = {
            k: v
            for k, v in content["location"].items()
            if k in ("latitude", "longitude", "horizontal_accuracy")
        }
    return content


@api_method("copyMessage")
async def copy_message(call: Call) -> JSONDict:
    content = _copied_content(_source_message(call, "copy"))
    if "caption" in call.params or "caption_entities" in call.params:
        content = {k: v for k, v in content.items() if k not in ("caption", "caption_entities")}
        content |= _caption_content(call)
    return {"message_id": _send(call, content).message_id}


def _forward_origin(call: Call, message: StoredMessage) -> JSONDict:
    data = message.data
    date = data["date"]
    if "sender_chat" in data:
        chat = data["sender_chat"]
        kind = "channel" if chat.get("type") == "channel" else "chat"
        origin: JSONDict = {"type": kind, "date": date, "chat": chat}
        if kind == "channel":
            origin["message_id"] = message.message_id
        return origin
    sender = data["from"]
    account = call.emulator.accounts.get(sender["id"])
    if account is not None and account.hide_forwards:
        return {"type": "hidden_user", "date": date, "sender_user_name": account.full_name}
    return {"type": "user", "date": date, "sender_user": sender}


@api_method("forwardMessage")
async def forward_message(call: Call) -> JSONDict:
    message = _source_message(call, "forward")
    content = _copied_content(message) | {"forward_origin": _forward_origin(call, message)}
    return _send(call, content, markup_allowed=False).data


# ------------------------------------------------------------------------------------ editing


def _editable(call: Call) -> tuple[Conversation, StoredMessage]:
    conv = call.conversation()
    call.emulator.check_can_write(call.bot, conv.chat_id)
    message = call.message(conv, "message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    call.emulator.check_flood(call.bot, conv.chat_id)  # edits count, as on Telegram
    return conv, message


def _apply_edit(
    call: Call, message: StoredMessage, changes: JSONDict, removed: tuple[str, ...]
) -> JSONDict:
    new = {k: v for k, v in message.data.items() if k not in removed} | changes
    new.pop("edit_date", None)
    old = {k: v for k, v in message.data.items() if k != "edit_date"}
    if new == old:
        raise bad_request(NOT_MODIFIED)
    call.emulator.edit_message(message, new | {"edit_date": now()})
    return message.data


@api_method("editMessageText")
async def edit_message_text(call: Call) -> JSONDict:
    _, message = _editable(call)
    if "text" not in message.data:
        raise bad_request("there is no text in the message to edit")
    changes = _text_content(call)
    # Like Telegram: an edit without reply_markup removes the inline keyboard.
    markup = _inline_only(call)
    if markup is not None:
        changes["reply_markup"] = markup
    return _apply_edit(call, message, changes, ("entities", "reply_markup", "link_preview_options"))


@api_method("editMessageCaption")
async def edit_message_caption(call: Call) -> JSONDict:
    _, message = _editable(call)
    if not any(
        key in message.data for key in ("photo", "document", "video", "audio", "animation", "voice")
    ):
        raise bad_request("there is no caption in the message to edit")
    changes = _caption_content(call)
    markup = _inline_only(call)
    if markup is not None:
        changes["reply_markup"] = markup
    return _apply_edit(call, message, changes, ("caption", "caption_entities", "reply_markup"))


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> JSONDict:
    _, message = _editable(call)
    markup = _inline_only(call)
    return _apply_edit(call, message, {"reply_markup": markup} if markup else {}, ("reply_markup",))


def _live_location(call: Call) -> StoredMessage:
    _, message = _editable(call)
    location = message.data.get("location", {})
    period = location.get("live_period")
    expired = period is not None and message.data["date"] + period < now()
    if period is None or message.live_location_stopped or expired:
        raise bad_request("message can't be edited")
    return message


@api_method("editMessageLiveLocation")
async def edit_message_live_location(call: Call) -> JSONDict:
    message = _live_location(call)
    location = {"live_period": message.data["location"]["live_period"]} | _location(call)
    changes: JSONDict = {"location": location}
    markup = _inline_only(call)
    if markup is not None:
        changes["reply_markup"] = markup
    return _apply_edit(call, message, changes, ("reply_markup",))


@api_method("stopMessageLiveLocation")
async def stop_message_live_location(call: Call) -> JSONDict:
    message = _live_location(call)
    changes: JSONDict = {}
    markup = _inline_only(call)
    if markup is not None:
        changes["reply_markup"] = markup
    message.live_location_stopped = True
    call.emulator.edit_message(
        message,
        {k: v for k, v in message.data.items() if k != "reply_markup"}
        | changes
        | {"edit_date": now()},
    )
    return message.data


@api_method("deleteMessage")
async def delete_message(call: Call) -> bool:
    conv = call.conversation()
    message = call.message(conv, "message to delete not found")
    if conv.chat_id < 0 and not message.from_bot and not call.emulator.is_admin(call.bot, conv):
        raise bad_request("message can't be deleted")
    call.emulator.delete_message(message)
    return True


@api_method("setMessageReaction")
async def set_message_reaction(call: Call) -> bool:
    conv = call.conversation()
    message = call.message(conv, "message to react not found")
    reaction = call.get("reaction") or []
    if not isinstance(reaction, list):
        raise bad_request("can't parse reaction JSON object")
    message.reaction = reaction
    call.emulator.changed.notify()
    return True


# ------------------------------------------------------------------------- callback queries


@api_method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    query = call.emulator.callback_queries.get(str(call.require("callback_query_id")))
    if query is None or query.answered or query.bot_id != call.bot.id:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    query.answered = True
    query.text = call.get("text")
    query.show_alert = bool(call.get("show_alert", False))
    query.url = call.get("url")
    call.emulator.changed.notify()
    return True


# ----------------------------------------------------------------------------- chats & files


@api_method("getChat")
async def get_chat(call: Call) -> JSONDict:
    conv = call.conversation()
    return conv.chat | {
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }


@api_method("getChatMember")
async def get_chat_member(call: Call) -> JSONDict:
    conv = call.conversation()
    user_id = int(call.require("user_id"))
    account = call.emulator.accounts.get(user_id)
    if account is None:
        raise bad_request("user not found")
    if conv.chat_id > 0:
        status = "member" if user_id in (conv.chat_id, call.bot.id) else "left"
    else:
        status = call.emulator.groups[conv.chat_id].members.get(user_id, "left")
    return call.emulator.chat_member(account, status)


@api_method("leaveChat")
async def leave_chat(call: Call) -> bool:
    conv = call.conversation()
    if conv.chat_id > 0:
        raise bad_request("chat member status can't be changed in private chats")
    call.emulator.groups[conv.chat_id].members[call.bot.id] = "left"
    call.emulator.changed.notify()
    return True


@api_method("getFile")
async def get_file(call: Call) -> JSONDict:
    record = call.emulator.files.get(str(call.require("file_id")))
    if record is None:
        raise bad_request("invalid file_id")
    if len(record.content) > DOWNLOAD_LIMIT:
        raise bad_request("file is too big")
    return record.to_file()
