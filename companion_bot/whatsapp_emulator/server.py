"""A local fake of WhatsApp's Cloud API, served over real HTTP with aiohttp, and of the
people on WhatsApp who write to the bot.

The bot sends to `POST /{version}/{phone_number_id}/messages` as it would to Meta (point
WHATSAPP_API_URL at `emulator.api_url`); the emulator checks the token, the number, the body
(`validation`), her 24-hour window, the templates it knows and the limits in force, records
what each person received, and answers with Meta's JSON: the message id, or Meta's error
(`errors`). People (`EmulatedWhatsAppUser`) write to the bot through its webhook, posted and
signed as Meta does (`X-Hub-Signature-256`). The window runs on the emulator's own clock,
which `advance` moves forward.

Media as Meta keeps it: the bot uploads a file (`POST /{version}/{phone_number_id}/media`,
multipart) and sends it by the id it gets; a file someone sends (`send_image`…) reaches the
bot's webhook as a media id, whose URL `GET /{version}/{media_id}` gives and whose bytes that
URL gives to the token's bearer. Only uploaded media can be sent by id (what Meta documents).
`fail_next_media` and `expire_media` make fetching fail as it may.

Meta reports some failures (131026 undeliverable, 131047 outside the window) in a `failed`
status webhook after accepting the message; the emulator answers them at once, as Meta also
does for most, so a client sees them where it can act; `post_status` sends statuses when a
test wants them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from companion_bot.emulator.limits import SlidingWindow
from companion_bot.emulator.models import Signal

from . import errors
from .actors import EmulatedWhatsAppUser
from .errors import MetaError
from .validation import MEDIA_KINDS, check, template_params

logger = logging.getLogger(__name__)

VERSION = "v24.0"
DEFAULT_TOKEN = "EAAEmulatedWhatsAppCloudApiToken0000000000"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_DISPLAY_NUMBER = "33170000000"
DEFAULT_BUSINESS_ACCOUNT_ID = "102290129340398"
DEFAULT_APP_SECRET = "0123456789abcdef0123456789abcdef"
WINDOW = timedelta(hours=24)
EMULATOR_KEY = web.AppKey["CloudApiEmulator"]("whatsapp_emulator")
_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")
_BAD_GATEWAY = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Limits:
    """Meta's limits, off unless set: messages per second from the number (Meta's default is
    80: error 130429 past it), and seconds between two messages to one person (Meta advises
    about 6: error 131056)."""

    messages_per_second: float | None = None
    per_person_interval: float | None = None


MB = 1024 * 1024
# What the media endpoint takes, by MIME type, and up to which size (Meta's supported media).
MEDIA_LIMITS = {
    "image/jpeg": 5 * MB, "image/png": 5 * MB, "image/webp": MB // 2,
    "audio/ogg": 16 * MB, "audio/mpeg": 16 * MB, "audio/mp4": 16 * MB, "audio/aac": 16 * MB,
    "audio/amr": 16 * MB, "application/pdf": 100 * MB, "text/plain": 100 * MB,
    "application/msword": 100 * MB,
}  # fmt: skip


@dataclass
class Media:
    """A file Meta keeps: one the business uploaded (it may send it by id), or one someone
    sent the business (it may only download it)."""

    id: str
    content: bytes
    mime_type: str
    uploaded: bool
    filename: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class SentMessage:
    """A message the bot sent and the emulator accepted."""

    wamid: str
    to: str
    kind: str
    body: dict[str, Any]
    at: datetime
    text: str  # what she reads: the text, a caption, a body, a template filled in

    @property
    def interactive(self) -> dict[str, Any] | None:
        return self.body.get("interactive") if self.kind == "interactive" else None

    def choices(self) -> list[tuple[str, str, str | None]]:
        """(id, title, description) of its reply buttons or list rows."""
        interactive = self.interactive or {}
        action = interactive.get("action", {})
        if interactive.get("type") == "button":
            return [(b["reply"]["id"], b["reply"]["title"], None) for b in action["buttons"]]
        if interactive.get("type") == "list":
            return [
                (row["id"], row["title"], row.get("description"))
                for section in action["sections"]
                for row in section["rows"]
            ]
        return []


@dataclass
class RequestRecord:
    at: datetime
    path: str
    status: int
    error_code: int | None
    body: Any


@dataclass
class WebhookPost:
    """One notification posted to the bot: the exact bytes, as signed, and its answer."""

    body: bytes
    signature: str
    status: int
    answer: str

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Contact:
    """A person on WhatsApp."""

    wa_id: str
    name: str
    last_inbound: datetime | None = None
    blocked_business: bool = False
    received: list[SentMessage] = field(default_factory=list)


class CloudApiEmulator:
    """Meta's side of WhatsApp for tests and demos (see the module docstring).

    async with CloudApiEmulator() as meta:
        meta.webhook_url = "http://127.0.0.1:8080/whatsapp"
        marie = meta.user(name="Marie")
        await marie.send_text("NUIT42")      # posted, signed, to the bot's webhook
        marie.last().text                    # what the bot answered
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
        display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
        business_account_id: str = DEFAULT_BUSINESS_ACCOUNT_ID,
        app_secret: str = DEFAULT_APP_SECRET,
        limits: Limits | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.business_account_id = business_account_id
        self.app_secret = app_secret
        self.limits = limits or Limits()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._offset = timedelta(0)
        self._monotonic = monotonic
        self._throughput: SlidingWindow | None = None
        self._pair: dict[str, SlidingWindow] = {}
        self.contacts: dict[str, Contact] = {}
        self.templates: dict[tuple[str, str], str] = {}
        self.sent: list[SentMessage] = []
        self.requests: deque[RequestRecord] = deque(maxlen=100_000)
        self.webhook_url: str | None = None
        self.webhook_posts: list[WebhookPost] = []
        self._failures: deque[int] = deque()
        self.media: dict[str, Media] = {}
        self._media_failures: deque[int] = deque()
        # Wakes `wait_for` whenever a request or a webhook post changed something.
        self.changed = Signal()
        self._numbers = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port: int | None = None

    # ----------------------------------------------------------------------------- clock

    def now(self) -> datetime:
        return self._clock() + self._offset

    def advance(self, delta: timedelta | None = None, **amount: float) -> datetime:
        """Move the emulator's clock forward: `advance(hours=25)` closes every window."""
        step = delta if delta is not None else timedelta(**amount)
        if step < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._offset += step
        return self.now()

    # ---------------------------------------------------------------------------- people

    def user(self, wa_id: str | None = None, name: str = "Marie") -> EmulatedWhatsAppUser:
        """A person on WhatsApp (reused if `wa_id` is known); she has not written yet."""
        if wa_id is None:
            wa_id = f"3361{next(self._numbers):07d}"
        contact = self.contacts.setdefault(wa_id, Contact(wa_id, name))
        return EmulatedWhatsAppUser(self, contact)

    def received(self, wa_id: str) -> list[SentMessage]:
        contact = self.contacts.get(wa_id)
        return list(contact.received) if contact else []

    def window_open(self, wa_id: str) -> bool:
        contact = self.contacts.get(wa_id)
        last = contact.last_inbound if contact else None
        return last is not None and self.now() < last + WINDOW

    # ------------------------------------------------------------------------- templates

    def add_template(self, name: str, language: str, text: str) -> None:
        """An approved template: `text` with {{1}}, {{2}}… for its parameters."""
        self.templates[(name, language)] = text

    # ---------------------------------------------------------------------------- faults

    def fail_next(self, code: int, times: int = 1) -> None:
        """Answer the next `times` send requests with Meta's error `code` (130429, 131056,
        131026, 131047, 131000, 131016, 190), or 502 for a proxy's HTML page."""
        if code != 502 and code not in errors.INJECTABLE:
            raise ValueError(f"no injectable error {code}")
        self._failures.extend([code] * times)

    def fail_next_media(self, code: int = 131000, times: int = 1) -> None:
        """Answer the next `times` media requests (upload, URL, download) with Meta's error
        `code` (131000 by default: Meta's own failure, worth trying again)."""
        if code not in errors.INJECTABLE:
            raise ValueError(f"no injectable error {code}")
        self._media_failures.extend([code] * times)

    # ----------------------------------------------------------------------------- media

    def store_media(
        self, content: bytes, mime_type: str, *, uploaded: bool, filename: str | None = None
    ) -> Media:
        media_id = str(secrets.randbelow(10**15) + 10**15)
        self.media[media_id] = Media(media_id, content, mime_type, uploaded, filename)
        return self.media[media_id]

    def expire_media(self, media_id: str) -> None:
        """Meta no longer has it (a received file is kept 7 days, an upload 30)."""
        self.media.pop(media_id, None)

    def media_sent(self, message: SentMessage) -> Media:
        """The file a sent image, audio or document message carried."""
        return self.media[message.body[message.kind]["id"]]

    # ------------------------------------------------------------------------------ HTTP

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=max(MEDIA_LIMITS.values()) + MB)  # uploads
        app[EMULATOR_KEY] = self
        app.router.add_post("/{version}/{phone_number_id}/messages", self._handle_send)
        app.router.add_post("/{version}/{phone_number_id}/media", self._handle_upload)
        app.router.add_get("/{version}/{media_id}", self._handle_media)
        app.router.add_get("/whatsapp_business/attachments/", self._handle_download)
        return app

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """For WHATSAPP_API_URL: the Graph API base with its version."""
        return f"{self.url}/{VERSION}"

    def bot_settings(self, verify_token: str) -> dict[str, str]:
        """The bot's WhatsApp settings for this emulator (`verify_token`: the one it will be
        subscribed with), to pass to `load_settings`."""
        return {
            "WHATSAPP_TOKEN": self.token,
            "WHATSAPP_PHONE_NUMBER_ID": self.phone_number_id,
            "WHATSAPP_APP_SECRET": self.app_secret,
            "WHATSAPP_VERIFY_TOKEN": verify_token,
            "WHATSAPP_API_URL": self.api_url,
        }

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.host, self.port = self._runner.addresses[0][:2]

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> CloudApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle_send(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        record = RequestRecord(self.now(), request.path, 200, None, body)
        self.requests.append(record)
        try:
            return self._answer(request, body, record)
        finally:
            self.changed.notify()

    def _answer(self, request: web.Request, body: Any, record: RequestRecord) -> web.Response:
        try:
            if self._failures and self._failures[0] == 502:
                self._failures.popleft()
                record.status = 502
                return web.Response(status=502, text=_BAD_GATEWAY, content_type="text/html")
            answer = self._send(request, body)
        except MetaError as error:
            record.status, record.error_code = error.status, error.code
            return web.json_response(error.payload(), status=error.status)
        return web.json_response(answer)

    def _authorize(self, request: web.Request) -> None:
        authorization = request.headers.get("Authorization", "")
        if not hmac.compare_digest(authorization.encode(), f"Bearer {self.token}".encode()):
            raise errors.bad_token()

    def _check_path(self, request: web.Request) -> None:
        self._authorize(request)
        if request.match_info["phone_number_id"] != self.phone_number_id:
            raise errors.unknown_object(request.match_info["phone_number_id"])
        if not re.fullmatch(r"v\d+\.\d+", request.match_info["version"]):
            raise errors.invalid_parameter("Unknown API version.")

    def _send(self, request: web.Request, body: Any) -> dict[str, Any]:
        self._check_path(request)
        if body is None:
            raise errors.invalid_parameter("The request body is not JSON.")
        if self._failures:
            raise errors.INJECTABLE[self._failures.popleft()]()
        to, kind = check(body)
        media_id = body[kind].get("id") if kind in MEDIA_KINDS else None
        if media_id is not None and not getattr(self.media.get(media_id), "uploaded", False):
            raise errors.media_upload(f"No uploaded media with id {media_id}.")
        contact = self.contacts.get(to)
        if contact is None or contact.blocked_business:
            raise errors.undeliverable()
        text = self._template_text(body["template"]) if kind == "template" else None
        if kind != "template" and not self.window_open(to):
            raise errors.outside_window()
        self._check_limits(to)
        wamid = self._wamid(to)
        sent = SentMessage(wamid, to, kind, body, self.now(), text or _shown_text(body))
        self.sent.append(sent)
        contact.received.append(sent)
        message: dict[str, Any] = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": to}],
            "messages": [message],
        }

    async def _media_request(self, request: web.Request, answer) -> web.StreamResponse:
        """A media request (`answer`, given the request): recorded, failed when a test asked
        for it, answered with Meta's error JSON when refused."""
        record = RequestRecord(self.now(), request.path, 200, None, None)
        self.requests.append(record)
        try:
            if self._media_failures:
                raise errors.INJECTABLE[self._media_failures.popleft()]()
            return await answer(request)
        except MetaError as error:
            record.status, record.error_code = error.status, error.code
            return web.json_response(error.payload(), status=error.status)
        finally:
            self.changed.notify()

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        return await self._media_request(request, self._upload)

    async def _upload(self, request: web.Request) -> web.Response:
        self._check_path(request)
        form = await request.post()
        if form.get("messaging_product") != "whatsapp":
            raise errors.invalid_parameter(
                'The parameter messaging_product is required and must be "whatsapp".'
            )
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise errors.missing_parameter("The parameter file is required.")
        mime_type = str(form.get("type") or upload.content_type or "")
        content = upload.file.read()
        limit = MEDIA_LIMITS.get(mime_type.split(";")[0].strip())
        if limit is None:
            raise errors.media_upload(f"Media type {mime_type or '(none)'} is not supported.")
        if len(content) > limit:
            raise errors.media_upload(f"The file is {len(content)} bytes; {limit} at most.")
        media = self.store_media(content, mime_type, uploaded=True, filename=upload.filename)
        return web.json_response({"id": media.id})

    async def _handle_media(self, request: web.Request) -> web.StreamResponse:
        return await self._media_request(request, self._media_url)

    async def _media_url(self, request: web.Request) -> web.Response:
        self._authorize(request)
        media = self.media.get(request.match_info["media_id"])
        if media is None:
            raise errors.unknown_object(request.match_info["media_id"], "get")
        return web.json_response({
            "messaging_product": "whatsapp",
            "url": f"{self.url}/whatsapp_business/attachments/?mid={media.id}"
                   f"&hash={media.sha256[:16]}",
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": len(media.content),
            "id": media.id,
        })  # fmt: skip

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        return await self._media_request(request, self._download)

    async def _download(self, request: web.Request) -> web.Response:
        self._authorize(request)  # the URL alone is not enough: the token must come too
        media = self.media.get(request.query.get("mid", ""))
        if media is None or request.query.get("hash") != media.sha256[:16]:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=media.content, content_type=media.mime_type.split(";")[0])

    def _template_text(self, template: dict[str, Any]) -> str:
        name, code = template["name"], template["language"]["code"]
        text = self.templates.get((name, code))
        if text is None:
            raise errors.template_missing(name, code)
        params = template_params(template)
        expected = len(set(_PLACEHOLDER.findall(text)))
        if len(params) != expected:
            raise errors.template_params(expected, len(params))
        return _PLACEHOLDER.sub(lambda match: params[int(match.group(1)) - 1], text)

    def _check_limits(self, to: str) -> None:
        now = self._monotonic()
        windows = []
        if self.limits.messages_per_second:
            if self._throughput is None:
                self._throughput = SlidingWindow(self.limits.messages_per_second, 1.0)
            if self._throughput.retry_after(now) > 0:
                raise errors.rate_limit()
            windows.append(self._throughput)
        if self.limits.per_person_interval:
            pair = self._pair.setdefault(to, SlidingWindow(1, self.limits.per_person_interval))
            if pair.retry_after(now) > 0:
                raise errors.pair_rate_limit()
            windows.append(pair)
        for window in windows:
            window.record(now)

    def _wamid(self, wa_id: str) -> str:
        raw = f"{wa_id}{secrets.token_hex(8)}{next(self._numbers):08d}".encode()
        return "wamid." + base64.b64encode(b"\x15\x02" + raw).decode()

    # -------------------------------------------------------------------------- webhooks

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def verify_webhook(
        self, url: str, verify_token: str, *, challenge: str | None = None
    ) -> bool:
        """Meta's handshake: GET with hub.mode, hub.verify_token and hub.challenge; the
        webhook passes if it answers 200 with the challenge, exactly."""
        challenge = challenge or str(secrets.randbelow(10**9))
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": verify_token,
            "hub.challenge": challenge,
        }
        async with self._http().get(url, params=params) as answer:
            return answer.status == 200 and await answer.text() == challenge

    async def subscribe(self, url: str, verify_token: str) -> None:
        """Set the bot's webhook, as in Meta's dashboard: refused unless the handshake passes."""
        if not await self.verify_webhook(url, verify_token):
            raise ValueError("the webhook did not answer the verification challenge")
        self.webhook_url = url

    def envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        """A notification as Meta posts it, around one change's `value`."""
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": self.display_phone_number,
                "phone_number_id": self.phone_number_id,
            },
        } | value
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.business_account_id,
                    "changes": [{"value": value, "field": "messages"}],
                }
            ],
        }

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    async def post(self, payload: dict[str, Any]) -> WebhookPost:
        """Post a notification to the bot's webhook, signed with the app secret."""
        body = json.dumps(payload).encode()  # ASCII, \\u escapes, as Meta sends
        return await self.post_raw(body, self.sign(body))

    async def post_raw(self, body: bytes, signature: str | None) -> WebhookPost:
        """Post these exact bytes with this signature header (None: without one)."""
        if self.webhook_url is None:
            raise RuntimeError("no webhook: set webhook_url or call subscribe() first")
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self._http().post(self.webhook_url, data=body, headers=headers) as answer:
            post = WebhookPost(body, signature or "", answer.status, await answer.text())
        self.webhook_posts.append(post)
        self.changed.notify()
        return post

    async def redeliver(self, post: WebhookPost) -> WebhookPost:
        """Post the same notification again, as Meta does until it gets a 200."""
        return await self.post_raw(post.body, post.signature)

    async def post_status(
        self, message: SentMessage, status: str, *, error_code: int | None = None
    ) -> WebhookPost:
        """A status of a message the bot sent: sent, delivered, read or failed."""
        entry: dict[str, Any] = {
            "id": message.wamid,
            "status": status,
            "timestamp": str(int(self.now().timestamp())),
            "recipient_id": message.to,
        }
        if status == "failed":
            error = errors.INJECTABLE.get(error_code or 131026, errors.undeliverable)()
            entry["errors"] = [
                {
                    "code": error.code,
                    "title": error.title,
                    "message": error.title,
                    "error_data": {"details": error.details},
                }
            ]
        return await self.post(self.envelope({"statuses": [entry]}))

    async def inbound(
        self, contact: Contact, kind: str, content: dict[str, Any], context: str | None = None
    ) -> WebhookPost:
        """She sends a message of `kind`: her window opens, the bot's webhook gets it."""
        now = self.now()
        contact.last_inbound = now
        message: dict[str, Any] = {
            "from": contact.wa_id,
            "id": self._wamid(contact.wa_id),
            "timestamp": str(int(now.timestamp())),
            "type": kind,
            kind: content,
        }
        if context is not None:
            message["context"] = {"from": self.display_phone_number, "id": context}
        value = {
            "contacts": [{"profile": {"name": contact.name}, "wa_id": contact.wa_id}],
            "messages": [message],
        }
        return await self.post(self.envelope(value))

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the Telegram emulator
    ) -> None:
        """Wait, without polling, until `predicate()` holds after some request or post."""
        await self.changed.wait_for(predicate, timeout)


def _shown_text(body: dict[str, Any]) -> str:
    kind = body.get("type", "text")
    content = body.get(kind, {})
    if kind == "text":
        return content.get("body", "")
    if kind in ("image", "document"):
        return content.get("caption", "")
    if kind == "interactive":
        return content.get("body", {}).get("text", "")
    if kind == "location":
        return f"📍 {content.get('latitude')}, {content.get('longitude')}"
    return ""
