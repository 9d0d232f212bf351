"""Meta's webhook: the GET handshake that proves the URL is ours, then signed POSTs of what
people sent, each message committed to the inbox before Meta gets its 200.

- GET `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`: the challenge back only
  with our verify token (WHATSAPP_VERIFY_TOKEN), else 403.
- POST: accepted only with `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with
  the app secret>` (compared in constant time, over the bytes as they came); anything else
  is 403 and nothing is read further. A signed body that is not JSON, or not a WhatsApp
  Business Account notification, is 400. Otherwise each message becomes an inbox row:
  channel "whatsapp", `update_id` from the message (`update_id`), `key` her wa_id (one
  person's messages are handled one at a time, in order), payload the message with her
  profile name and the metadata, nothing more. Meta sends a webhook again until it gets a
  200, and a message stored already is not stored twice: a redelivery changes nothing.
  The 200 goes only after the commit; a database that cannot store answers 500 and Meta
  tries again.
- Statuses (sent, delivered, read, failed) are answered 200 and not stored; a failed one is
  logged with its error code, without the phone number. So are other fields Meta may post.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from tortoise.exceptions import IntegrityError

from companion_bot import inbox
from companion_bot.inbox import Received
from companion_bot.whatsapp import CHANNEL

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
DEFAULT_PATH = "/whatsapp"


@dataclass(frozen=True)
class WebhookConfig:
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    # Messages to another number of the same Meta app are not ours (None: take all).
    phone_number_id: str | None = None


WEBHOOK_CONFIG = web.AppKey("whatsapp_webhook", WebhookConfig)


def signature(app_secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends with `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signed_by(app_secret: str, body: bytes, header: str | None) -> bool:
    expected = signature(app_secret, body).encode()
    return hmac.compare_digest((header or "").strip().encode(), expected)


def update_id(message: dict[str, Any]) -> int:
    """A stable 63-bit id for a message: its timestamp (seconds, 32 bits) then 31 bits of a
    hash of its wamid. The same message gives the same id (a redelivery is a no-op); her
    messages sort by when she sent them, as the inbox handles a person's rows in `update_id`
    order (within one second, in an arbitrary but fixed order). Meta numbers nothing."""
    stamp = message.get("timestamp")
    seconds = int(stamp) if isinstance(stamp, str) and stamp.isdigit() else 0
    digest = hashlib.sha256(str(message["id"]).encode()).digest()
    return (min(seconds, 2**32 - 1) << 31) | (int.from_bytes(digest[:4], "big") >> 1)


def sender_key(wa_id: str) -> str:
    """The inbox key of her messages (they are handled one at a time, in order)."""
    return wa_id


def received_messages(data: dict[str, Any], phone_number_id: str | None) -> list[Received]:
    """The messages of a notification, as inbox rows; statuses and other fields are left."""
    found: list[Received] = []
    for entry in data.get("entry") or ():
        for change in (entry.get("changes") or ()) if isinstance(entry, dict) else ():
            if not isinstance(change, dict) or change.get("field") != "messages":
                continue
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            if phone_number_id and metadata.get("phone_number_id") != phone_number_id:
                logger.warning("WhatsApp webhook: a notification for another number, ignored")
                continue
            _log_failures(value.get("statuses"))
            names = {
                contact.get("wa_id"): (contact.get("profile") or {}).get("name")
                for contact in value.get("contacts") or ()
                if isinstance(contact, dict) and isinstance(contact.get("profile") or {}, dict)
            }
            for message in value.get("messages") or ():
                if not (
                    isinstance(message, dict)
                    and isinstance(message.get("id"), str)
                    and isinstance(message.get("from"), str)
                ):
                    logger.warning("WhatsApp webhook: a message without id or sender, ignored")
                    continue
                payload = {
                    "message": message,
                    "name": names.get(message["from"]),
                    "metadata": metadata,
                }
                found.append(Received(update_id(message), sender_key(message["from"]), payload))
    return found


def _log_failures(statuses: object) -> None:
    for status in statuses if isinstance(statuses, list) else ():
        if isinstance(status, dict) and status.get("status") == "failed":
            codes = [e.get("code") for e in status.get("errors") or () if isinstance(e, dict)]
            logger.warning("WhatsApp: a message failed after it was accepted (errors %s)", codes)


async def verify(request: web.Request) -> web.Response:
    config = request.app[WEBHOOK_CONFIG]
    query = request.query
    token = query.get("hub.verify_token", "").encode()
    if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
        token, config.verify_token.encode()
    ):
        return web.Response(status=403, text="wrong verify token\n")
    return web.Response(text=query.get("hub.challenge", ""))


async def receive(request: web.Request) -> web.Response:
    config = request.app[WEBHOOK_CONFIG]
    body = await request.read()
    if not signed_by(config.app_secret, body, request.headers.get(SIGNATURE_HEADER)):
        return web.Response(status=403, text="wrong or missing signature\n")
    try:
        data = json.loads(body)
    except ValueError:  # UnicodeDecodeError is one
        return web.Response(status=400, text="body is not JSON\n")
    if not (
        isinstance(data, dict)
        and data.get("object") == "whatsapp_business_account"
        and isinstance(data.get("entry"), list)
    ):
        return web.Response(status=400, text="not a WhatsApp Business Account notification\n")
    batch = received_messages(data, config.phone_number_id)
    try:
        await inbox.store_many(CHANNEL, batch)
    except IntegrityError:  # the same message posted twice at once: one at a time, then
        for item in batch:
            await inbox.store(CHANNEL, item)
    return web.Response()


def whatsapp_routes(app: web.Application, config: WebhookConfig, path: str = DEFAULT_PATH) -> None:
    """Add the webhook's GET and POST on `path` to `app` (the bot's web app)."""
    app[WEBHOOK_CONFIG] = config
    app.router.add_get(path, verify)
    app.router.add_post(path, receive)
