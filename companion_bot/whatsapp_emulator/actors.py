"""People on WhatsApp, as tests and demos drive them: what each sends the bot (through its
signed webhook) and what she received from it."""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import CloudApiEmulator, Contact, SentMessage, WebhookPost


class EmulatedWhatsAppUser:
    def __init__(self, emulator: CloudApiEmulator, contact: Contact) -> None:
        self.emulator = emulator
        self.contact = contact

    @property
    def wa_id(self) -> str:
        return self.contact.wa_id

    @property
    def name(self) -> str:
        return self.contact.name

    def __repr__(self) -> str:
        return f"EmulatedWhatsAppUser({self.name!r})"

    # -------------------------------------------------------------------------- she sends

    async def send_text(self, body: str) -> WebhookPost:
        return await self.emulator.inbound(self.contact, "text", {"body": body})

    async def tap(self, title: str, message: SentMessage | None = None) -> WebhookPost:
        """Tap the reply button or list row titled `title` (or with that id) in `message`,
        by default the latest message that has one."""
        message = message or self._offering(title)
        for choice_id, choice_title, description in message.choices():
            if title in (choice_id, choice_title):
                return await self.reply(choice_id, choice_title, message, description)
        raise LookupError(f"no button or row {title!r} in that message")

    async def reply(
        self,
        choice_id: str,
        title: str,
        message: SentMessage | None = None,
        description: str | None = None,
    ) -> WebhookPost:
        """A button or list reply with this id, whatever the bot sent (forged or replayed
        ids too): a list reply if `message` is a list, else a button reply."""
        interactive = message.interactive if message else None
        if interactive and interactive.get("type") == "list":
            reply: dict[str, Any] = {"id": choice_id, "title": title}
            if description:
                reply["description"] = description
            content = {"type": "list_reply", "list_reply": reply}
        else:
            content = {"type": "button_reply", "button_reply": {"id": choice_id, "title": title}}
        context = message.wamid if message else None
        return await self.emulator.inbound(self.contact, "interactive", content, context)

    async def send_location(
        self,
        latitude: float,
        longitude: float,
        *,
        name: str | None = None,
        address: str | None = None,
    ) -> WebhookPost:
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        location |= {key: value for key, value in (("name", name), ("address", address)) if value}
        return await self.emulator.inbound(self.contact, "location", location)

    async def send_image(self, caption: str | None = None) -> WebhookPost:
        image = _media("image/jpeg") | ({"caption": caption} if caption else {})
        return await self.emulator.inbound(self.contact, "image", image)

    async def send_sticker(self, *, animated: bool = False) -> WebhookPost:
        sticker = _media("image/webp") | {"animated": animated}
        return await self.emulator.inbound(self.contact, "sticker", sticker)

    def block(self) -> None:
        """She blocks the business: whatever it sends her is undeliverable (131026)."""
        self.contact.blocked_business = True

    def unblock(self) -> None:
        self.contact.blocked_business = False

    # ------------------------------------------------------------------------ she received

    def messages(self) -> list[SentMessage]:
        return list(self.contact.received)

    def texts(self) -> list[str]:
        return [message.text for message in self.contact.received]

    def last(self) -> SentMessage:
        if not self.contact.received:
            raise LookupError(f"{self.name} received nothing")
        return self.contact.received[-1]

    def _offering(self, title: str) -> SentMessage:
        for message in reversed(self.contact.received):
            if any(title in (choice[0], choice[1]) for choice in message.choices()):
                return message
        raise LookupError(f"{self.name} received no button or row {title!r}")


def _media(mime_type: str) -> dict[str, Any]:
    content = secrets.token_bytes(32)
    return {
        "mime_type": mime_type,
        "sha256": hashlib.sha256(content).hexdigest(),
        "id": str(secrets.randbelow(10**15) + 10**15),
    }
