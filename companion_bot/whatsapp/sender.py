"""The outbox's WhatsApp side: a notice to someone on WhatsApp, rendered as Cloud API message
bodies (`render`), inside her 24-hour window or as its template outside it (`window`), sent
through the client, and Meta's answer read as an outcome the outbox worker records
(`companion_bot.workers.outcomes`), like Telegram's.

What WhatsApp cannot do is not pretended: a sent message cannot be edited (a new text is
sent as a new message, a change that only takes buttons away sends nothing), a business
cannot share a live location (moves and stops send nothing). A photo, a voice note or a file
relayed from her group is fetched from the channel it was sent on (companion_bot/media.py),
uploaded to the number's media and sent by its media id (even one sent on WhatsApp: Meta
documents sending uploaded media by id, not the ids of received media); a sticker, or a
file that can never be passed on, is announced in words.

A notice that may reach her outside the window carries its template (`template`: purpose
and parameters, see `notices.outside_window`); one that has none is never sent as free form
outside it: it fails with the reason, counted in the outbox's report. A relayed file is
fetched and uploaded only once her window allows it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from companion_bot import actions, clock, notices
from companion_bot.i18n import N_, escape, translator
from companion_bot.media import Library, MediaGone, MediaUnavailable, placeholder, relayable
from companion_bot.models import Channel, Event, OutboxMessage, OutboxStatus, Person, Role, RoleKind
from companion_bot.services import outbox
from companion_bot.services.messaging import language_of
from companion_bot.settings import WhatsAppConfig
from companion_bot.whatsapp import render, window
from companion_bot.whatsapp.client import (
    RETRY_AFTER,
    CloudApiClient,
    InvalidRequest,
    OutsideWindow,
    RetryLater,
    TemplateRejected,
    Unauthorized,
    Undeliverable,
    WhatsAppError,
)
from companion_bot.whatsapp.templates import Purpose, template_notice
from companion_bot.workers.outcomes import Blocked, Failed, FloodWait, Outcome, Sent, Transient

logger = logging.getLogger(__name__)

# Meta's upload limits by what the file is (images 5 MB, audio 16 MB, documents 100 MB).
UPLOAD_LIMITS = {
    notices.MEDIA_PHOTO: 5 * 1024 * 1024,
    notices.MEDIA_VOICE: 16 * 1024 * 1024,
    notices.MEDIA_DOCUMENT: 100 * 1024 * 1024,
}
RELAYED_FILE = "relayed file"  # a notice kind of this module: fetched and uploaded when sent
# Edits that only change what Telegram can change in place: nothing to send on WhatsApp.
NOTHING_TO_SEND = frozenset(
    {notices.EDIT_CHOICES, notices.EDIT_CAPTION, notices.MOVE_LOCATION, notices.STOP_LOCATION}
)
NO_TEMPLATE = "outside her 24-hour window and no template for it"
# The last words to someone who was just forgotten carry her number (nothing else does).
FAREWELL_ADDRESS = "address"
# The menu's "I need help" (whatsapp/conversation.py answers it).
HELP_ACTION = actions.MenuItem("help").encode()
# A notice said by its template: kept for when she answers it, that long at most.
AFTER_HER_REPLY = "waits for her reply to its template"
TEMPLATE_SENT = "template_sent"  # in a notice waiting for her reply: the template sent
KEPT_FOR_HER_REPLY = timedelta(days=7)
GONE = "she is no longer known"
TEMPLATE_REFUSED = "template refused"
UNDELIVERED = N_(
    "⚠️ A message to {name} on WhatsApp could not be sent: her 24-hour window is closed and "
    "WhatsApp has no approved template for it (docs/whatsapp.md). The outbox's report counts "
    "it; reach her through a volunteer if it matters tonight."
)


class Unshowable(Exception):
    """A notice WhatsApp cannot show: the message fails with this reason."""


class WhatsAppSender:
    channel = Channel.WHATSAPP

    async def close(self) -> None:
        await self.client.close()

    def __init__(
        self, client: CloudApiClient, config: WhatsAppConfig, media: Library | None = None
    ) -> None:
        self.client = client
        self.config = config
        self.media = media or Library()
        self._interval = 1.0 / config.messages_per_second if config.messages_per_second else 0.0
        self._next_at = 0.0
        self._pace = asyncio.Lock()

    async def send(self, row: OutboxMessage) -> Outcome:
        person = await Person.get_or_none(id=row.chat_id, channel=Channel.WHATSAPP)
        if person is None:
            person = farewell_recipient(row)
        if person is None or not person.whatsapp_id:
            return Failed(GONE)
        try:
            notice = self.notice(row, person)
        except Unshowable as error:
            return Failed(str(error))
        if notice is None:
            return Sent(outbox.Delivered(None))
        fallback = self.fallback(row, person)
        delivery = window.choose(
            notice, last_inbound=person.last_message_at, now=clock.now(), fallback=fallback
        )
        if delivery.notice is None:
            await tell_organizers(person)
            return Failed(f"{NO_TEMPLATE} ({delivery.reason})")
        try:
            if delivery.route == window.Route.TEMPLATE and notice.get("kind") != "template":
                await self._template_instead(delivery.notice, row, person)
            else:
                await self._send_all(delivery.notice, person, row.attempts)
        except OutsideWindow:
            # Meta's clock says her window closed: the template, if there is one.
            if fallback is None:
                await tell_organizers(person)
                return Failed(NO_TEMPLATE)
            try:
                await self._template_instead(fallback, row, person)
            except WhatsAppError as error:
                return await self._refused(error, person)
        except WhatsAppError as error:
            return await self._refused(error, person)
        except MediaUnavailable as error:
            return Transient(error)
        return Sent(outbox.Delivered(None))

    async def _template_instead(
        self, template: dict[str, Any], row: OutboxMessage, person: Person
    ) -> None:
        """Her window is closed: the notice's template goes, and the notice waits for her
        reply. One template asks her to reply; the same again (her arrival group, then her
        departure group) would only repeat it."""
        if not await template_awaits_her_reply(row):
            await self._send_all(template, person)
        await keep_for_her_reply(row)

    async def _refused(self, error: WhatsAppError, person: Person) -> Outcome:
        if isinstance(error, TemplateRejected):
            await tell_organizers(person)
        return self._outcome(error)

    def notice(self, row: OutboxMessage, person: Person) -> dict[str, Any] | None:
        """The notice as the renderer takes it; None when WhatsApp has nothing to do (a
        change to a message it cannot edit); `Unshowable` for what it cannot show at all (a
        Bot API call queued before notices, a document: the team's, on Telegram)."""
        kind, payload = row.method, dict(row.payload or {})
        payload.pop(TEMPLATE_SENT, None)
        payload.pop(FAREWELL_ADDRESS, None)
        if kind in NOTHING_TO_SEND:
            return None
        if kind == notices.EDIT_TEXT:
            kind = notices.TEXT  # WhatsApp cannot edit: the new state as a new message
        if kind == notices.COPY:
            media = payload.get("media") or {}
            if relayable(media):
                return {"kind": RELAYED_FILE, "media": media, "caption": payload.get("caption")}
            text = placeholder(language_of(person), media.get("type"), payload.get("caption"))
            return {"kind": notices.TEXT, "text": text}
        if kind not in (notices.TEXT, notices.LOCATION, notices.PHOTO):
            raise Unshowable(f"not a notice WhatsApp can show: {kind}")
        payload["kind"] = kind
        if payload.pop("keyboard", None) == notices.HELP_KEYBOARD:
            # No keyboard stays under a WhatsApp chat: "I need help" is a button under this
            # message (she can also write "help" or open the menu).
            label = payload.pop("keyboard_label", None)
            if label and not payload.get("choices"):
                payload["choices"] = [[(label, HELP_ACTION)]]
        return payload

    def fallback(self, row: OutboxMessage, person: Person) -> dict[str, Any] | None:
        """The notice's template, for when her window is closed (None: it has none)."""
        wanted = (row.payload or {}).get("template")
        if not isinstance(wanted, dict):
            return None
        try:
            purpose = Purpose(wanted.get("purpose"))
        except ValueError:
            return None
        if purpose not in self.config.templates:
            return None
        return template_notice(
            self.config, purpose, person.language or "fr", wanted.get("params") or []
        )

    async def _send_all(self, notice: dict[str, Any], person: Person, attempts: int = 0) -> None:
        language = person.language or translator("fr").language
        if notice.get("kind") == RELAYED_FILE:
            notice = await self._uploaded(notice, person, attempts)
        for body in render.render(notice, person.whatsapp_id, language):
            await self._paced()
            await self.client.send(body)

    async def _uploaded(
        self, notice: dict[str, Any], person: Person, attempts: int
    ) -> dict[str, Any]:
        """A relayed file as a media notice WhatsApp can send: fetched from the channel it was
        sent on and uploaded to the number's media. When it never can be, the line saying
        what it was; when it may later, `MediaUnavailable` or Meta's `RetryLater`."""
        media, caption = notice["media"], notice.get("caption")
        kind = media["type"]
        try:
            file = await self.media.fetch(media, UPLOAD_LIMITS[kind], attempts=attempts)
            media_id = await self.client.upload(file.content, file.mime_type, file.filename)
        except (MediaGone, InvalidRequest) as error:
            logger.info("WhatsApp: a relayed %s could not be passed on: %s", kind, error)
            return {"kind": notices.TEXT, "text": placeholder(language_of(person), kind, caption)}
        return {"kind": kind, "id": media_id, "caption": caption, "filename": file.filename}

    async def _paced(self) -> None:
        """WHATSAPP_MESSAGES_PER_SECOND for the number, over all of this process's sends."""
        if not self._interval:
            return
        async with self._pace:
            now = time.monotonic()
            wait = self._next_at - now
            self._next_at = max(now, self._next_at) + self._interval
        if wait > 0:
            await asyncio.sleep(wait)

    @staticmethod
    def _outcome(error: WhatsAppError) -> Outcome:
        if isinstance(error, RetryLater):
            if error.code in RETRY_AFTER:  # Meta's rate limits: everyone waits
                return FloodWait(error.retry_after)
            return Transient(error)
        if isinstance(error, Undeliverable):
            return Blocked(str(error))
        if isinstance(error, Unauthorized):
            logger.error("WhatsApp: the token was refused (%s); messages wait", error.code)
            return Transient(error)
        if isinstance(error, TemplateRejected):
            return Failed(f"{TEMPLATE_REFUSED}: {error}")
        return Failed(str(error))


def template_of(row: OutboxMessage) -> dict[str, Any] | None:
    """The template that stands for this notice outside her window (its purpose and
    parameters: `notices.outside_window`); for a notice already waiting for her reply, the
    template that was sent for it."""
    payload = row.payload or {}
    wanted = payload.get("template") or payload.get(TEMPLATE_SENT)
    return wanted if isinstance(wanted, dict) else None


async def template_awaits_her_reply(row: OutboxMessage) -> bool:
    """Was the very same template (same purpose, same words) already sent to her for
    another notice, still unanswered? Then her reply will bring this notice too."""
    template = template_of(row)
    waiting = await OutboxMessage.filter(
        channel=Channel.WHATSAPP,
        chat_id=row.chat_id,
        status=OutboxStatus.PENDING,
        error=AFTER_HER_REPLY,
    ).values_list("payload", flat=True)
    return template is not None and any(
        (payload or {}).get(TEMPLATE_SENT) == template for payload in waiting
    )


async def keep_for_her_reply(row: OutboxMessage) -> None:
    """Her window was closed, so the template went instead of the notice: the notice itself
    waits for her answer (`release_for_her`), a week at most; then, still unanswered, it is
    tried once more and fails for want of a window (no template the second time)."""
    payload = {key: value for key, value in (row.payload or {}).items() if key != "template"}
    payload[TEMPLATE_SENT] = template_of(row)
    await OutboxMessage.create(
        channel=Channel.WHATSAPP,
        chat_id=row.chat_id,
        method=row.method,
        payload=payload,
        priority=row.priority,
        not_before=clock.now() + KEPT_FOR_HER_REPLY,
        purpose=row.purpose,
        reference=row.reference,
        error=AFTER_HER_REPLY,
    )


async def release_for_her(person: Person) -> int:
    """She wrote: what waited for her reply goes now, in the order it was queued."""
    released = await OutboxMessage.filter(
        channel=Channel.WHATSAPP,
        chat_id=person.id,
        status=OutboxStatus.PENDING,
        error=AFTER_HER_REPLY,
    ).update(not_before=clock.now(), error=None)
    if released:
        outbox.NEW_WORK.notify()
    return released


def farewell_recipient(row: OutboxMessage) -> Person | None:
    """Her last message after she was forgotten: to the number it carries, once, in the
    window her "forget" opened; the row is erased when sent."""
    address = (row.payload or {}).get(FAREWELL_ADDRESS)
    if row.purpose != outbox.ERASE_AFTER_SENDING or not isinstance(address, str):
        return None
    return Person(channel=Channel.WHATSAPP, whatsapp_id=address, last_message_at=clock.now())


async def tell_organizers(person: Person) -> None:
    """A notice that could not reach her on WhatsApp: the organizers of her events not over
    yet are told (once a day for her), by her display name."""
    if person.id is None:
        return
    now = clock.now()
    events = await Event.filter(
        registrations__person_id=person.id, closing__gt=now - timedelta(hours=12)
    ).distinct()
    for event in events:
        for role in await Role.filter(event=event, kind=RoleKind.ORGANIZER).prefetch_related(
            "person"
        ):
            t = language_of(role.person)
            await outbox.enqueue(
                role.person,
                t.gettext(UNDELIVERED).format(name=escape(person.display_name or "?")),
                dedupe_key=f"waundelivered:{event.id}:{person.id}:{role.person_id}:{now.date()}",
            )
