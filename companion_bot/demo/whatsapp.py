"""The demo's attendee on WhatsApp: her chat as the page shows it, and what she does from it.

The Cloud API emulator records what the bot sent her; what she sent is kept here, each with
how many of the bot's messages she had by then, so both sides read in order. The page gets
the same JSON as for a Telegram chat (`chat.message_json`): texts with WhatsApp's styles,
reply buttons and list rows as buttons to tap (a row by its full label when its title is
cut), WhatsApp's "send location" request as the page's location button, templates as they
read. Whatever she does is posted to the bot's webhook, signed, as Meta would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from companion_bot.demo import chat
from companion_bot.demo.chat import JSON, Links
from companion_bot.whatsapp_emulator import EmulatedWhatsAppUser, SentMessage, WebhookPost


@dataclass
class WhatsAppChat:
    user: EmulatedWhatsAppUser
    # What she sent (the webhook's message), after how many of the bot's messages.
    sent: list[tuple[int, JSON]] = field(default_factory=list)

    def timeline(self) -> list[SentMessage | JSON]:
        """Both sides in order: the bot's messages, and hers (dicts) where she sent them.
        Only ever grows at its end, so a message's place (from 1) is its id on the page."""
        received = self.user.messages()
        shown: list[SentMessage | JSON] = []
        position = 0
        for after, message in self.sent:
            shown += received[position:after]
            position = max(position, after)
            shown.append(message)
        return shown + received[position:]

    @staticmethod
    def key(message: SentMessage | JSON) -> tuple[str, str]:
        """A message's key for when it arrived (its WhatsApp id)."""
        return ("whatsapp", message.wamid if isinstance(message, SentMessage) else message["id"])

    def keys(self) -> list[tuple[str, str]]:
        return [self.key(message) for message in self.timeline()]

    def chat_json(
        self, links: Links | None, shown_at: Callable[[tuple[str, str]], str | None]
    ) -> JSON:
        """Her chat as `chat.chat_json` gives a Telegram one (WhatsApp has no keyboard to
        keep under the box, nor answers to taps)."""
        messages = [
            _message_json(index, message, links, shown_at(self.key(message)))
            for index, message in enumerate(self.timeline(), start=1)
        ]
        return {"messages": messages, "keyboard": None, "notice": None}

    def choice(self, message_id: int, index: int) -> tuple[SentMessage, str, str, str | None]:
        """(message, id, title, description) of the button or row at `index` of the bot's
        message `message_id`; LookupError when there is none."""
        shown = self.timeline()
        message = shown[message_id - 1] if 1 <= message_id <= len(shown) else None
        if not isinstance(message, SentMessage):
            raise LookupError(message_id)
        choices = message.choices()
        if not 0 <= index < len(choices):
            raise LookupError(index)
        return (message, *choices[index])

    # -- what she does ---------------------------------------------------------------------

    async def _send(self, posting: Callable[[], Awaitable[WebhookPost]]) -> None:
        before = len(self.user.messages())
        post = await posting()
        if post.status != 200:
            raise RuntimeError(f"the bot's webhook answered {post.status}")
        message = post.payload["entry"][0]["changes"][0]["value"]["messages"][0]
        self.sent.append((before, message))

    async def send_text(self, text: str) -> None:
        await self._send(lambda: self.user.send_text(text))

    async def tap(self, message_id: int, index: int) -> None:
        message, choice_id, title, description = self.choice(message_id, index)
        await self._send(lambda: self.user.reply(choice_id, title, message, description))

    async def send_location(self, latitude: float, longitude: float) -> None:
        await self._send(lambda: self.user.send_location(latitude, longitude))

    async def send_sticker(self) -> None:
        await self._send(self.user.send_sticker)


def _message_json(
    index: int, message: SentMessage | JSON, links: Links | None, shown_at: str | None
) -> JSON:
    if isinstance(message, SentMessage):
        return _from_bot(index, message, links, shown_at)
    item: JSON = {"id": index, "from_bot": False, "at": shown_at}
    kind = message.get("type")
    content: dict[str, Any] = message.get(kind) or {}
    if kind == "text":
        item["text"] = chat.segments(content.get("body", ""), [], None)
    elif kind == "interactive":  # the title of the button or row she tapped
        reply = content.get("button_reply") or content.get("list_reply") or {}
        item["text"] = chat.segments(reply.get("title", ""), [], None)
    elif kind == "location":
        item["location"] = [round(content["latitude"], 4), round(content["longitude"], 4)]
    elif kind == "sticker":
        item["sticker"] = chat.STICKER
    return item


def _from_bot(index: int, message: SentMessage, links: Links | None, shown_at: str | None) -> JSON:
    item: JSON = {"id": index, "from_bot": True, "at": shown_at}
    if message.kind == "location":
        location = message.body["location"]
        item["location"] = [round(location["latitude"], 4), round(location["longitude"], 4)]
        return item
    text = message.text
    if message.kind == "image":
        text = "🖼 " + text
    if text:
        item["text"] = chat.whatsapp_segments(text, links)
    buttons = [
        [{"text": description or title, "index": position, "tap": True}]
        for position, (_id, title, description) in enumerate(message.choices())
    ]
    interactive = message.interactive or {}
    if interactive.get("type") == "location_request_message":
        buttons.append([{"text": "", "index": len(buttons), "location": True}])
    if buttons:
        item["buttons"] = buttons
    return item
