"""People on WhatsApp, as tests and demos drive them: what each sends the bot (through its
signed webhook) and what she received from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00emulated WhatsApp photo\xff\xd9"
FAKE_VOICE = b"OggS\x00\x02emulated WhatsApp voice note"
FAKE_PDF = b"%PDF-1.4 emulated WhatsApp document"
FAKE_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 emulated WhatsApp sticker"

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

    async def send_image(
        self, caption: str | None = None, content: bytes = FAKE_JPEG
    ) -> WebhookPost:
        image = self._media(content, "image/jpeg") | ({"caption": caption} if caption else {})
        return await self.emulator.inbound(self.contact, "image", image)

    async def send_voice(self, content: bytes = FAKE_VOICE) -> WebhookPost:
        audio = self._media(content, "audio/ogg; codecs=opus") | {"voice": True}
        return await self.emulator.inbound(self.contact, "audio", audio)

    async def send_document(
        self,
        content: bytes = FAKE_PDF,
        filename: str = "plan.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> WebhookPost:
        document = self._media(content, mime_type, filename) | {"filename": filename}
        document |= {"caption": caption} if caption else {}
        return await self.emulator.inbound(self.contact, "document", document)

    async def send_sticker(self, *, animated: bool = False) -> WebhookPost:
        sticker = self._media(FAKE_WEBP, "image/webp") | {"animated": animated}
        return await self.emulator.inbound(self.contact, "sticker", sticker)

    def _media(self, content: bytes, mime_type: str, filename: str | None = None) -> dict:
        """A file she sends, kept by Meta for the business to download: as the webhook
        names it."""
        media = self.emulator.store_media(content, mime_type, uploaded=False, filename=filename)
        return {"mime_type": mime_type, "sha256": media.sha256, "id": media.id}

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
