"""Sending to WhatsApp: one POST per message to the Graph API's messages endpoint, Meta's
errors turned into exceptions the outbox worker can act on; and the media endpoints a
relayed file needs (upload to the number's media, a media's URL, its download).

Why our own thin client rather than pywa (checked: pywa 4.5.0, the maintained one):
- its base URL is fixed: `GraphAPI.__init__` sets the httpx session's `base_url` to
  `https://graph.facebook.com/v{version}`, so reaching the local emulator would mean
  overwriting a private attribute after construction (`wa.api._session.base_url`);
- its webhook side is built on Flask or FastAPI (starlette, uvicorn), while ours is aiohttp
  and must commit to the inbox before answering Meta: we would use only its sending;
- an error answer that is not JSON (a proxy's 502 page) raises a decoding error, not one of
  its typed errors, and its errors say nothing of what to do (retry, give up, wait for her);
- what we need of it is one POST and a table of a dozen codes: about 100 lines here against
  2 MB of library and the pace of its releases to follow.
So: aiohttp (already ours), message bodies built by `render`, and the classification below.

Classification (Meta's codes, developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes):
- `RetryLater`: throughput (130429), pair rate (131056), spam rate (131048), app or account
  rate limits (4, 80007), Meta's own failures (1, 2, 131000, 131016, any 5xx), network errors
  and time-outs. `retry_after` is the least wait; the outbox backs off from there.
- `OutsideWindow` (131047): free form outside her 24-hour window: send the template instead.
- `Undeliverable` (131026 and kin): her number cannot receive it (not on WhatsApp, blocked
  the business, old app); retrying will not help.
- `Unauthorized` (0, 3, 10, 190, 200-299): the token or its permissions; every message
  fails alike until an operator fixes it.
- `InvalidRequest` (100, 131008, 131009, 131051, other 4xx): this message is wrong; permanent.
  `TemplateRejected` (132xxx) is one: a missing, paused or mismatched template, to report
  to the organizers.
Pacing (WHATSAPP_MESSAGES_PER_SECOND) is the outbox's, shared by every process like
Telegram's rate budget; this client sends when asked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp


class WhatsAppError(Exception):
    """Meta refused a message (or could not be reached). Never holds the phone number."""

    def __init__(
        self,
        code: int | None,
        message: str,
        *,
        status: int | None = None,
        details: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.trace_id = trace_id
        super().__init__(f"WhatsApp error {code}: {message}" + (f" ({details})" if details else ""))


class RetryLater(WhatsAppError):
    def __init__(self, *args: Any, retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class OutsideWindow(WhatsAppError):
    pass


class Undeliverable(WhatsAppError):
    pass


class Unauthorized(WhatsAppError):
    pass


class InvalidRequest(WhatsAppError):
    pass


class TemplateRejected(InvalidRequest):
    pass


# The least wait before trying again, by code (seconds).
RETRY_AFTER = {
    130429: 1.0,  # throughput of the number
    131056: 6.0,  # pair rate: about one message every 6 s to one person
    131048: 600.0,  # spam rate limit
    4: 60.0,  # app rate limit
    80007: 60.0,  # account rate limit
    1: 1.0,
    2: 1.0,
    131000: 1.0,
    131016: 5.0,
}
UNDELIVERABLE = frozenset({131026, 131021, 131030, 131049, 131050, 131031, 130472})
UNAUTHORIZED = frozenset({0, 3, 10, 190, *range(200, 300)})


def classify(status: int, error: Mapping[str, Any] | None) -> WhatsAppError:
    """The exception for an error answer: its HTTP status and Graph API `error` object."""
    error = error or {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    fields = {
        "status": status,
        "details": details if isinstance(details, str) else None,
        "trace_id": error.get("fbtrace_id"),
    }
    message = str(error.get("message") or f"HTTP {status}")
    if code in RETRY_AFTER:
        return RetryLater(code, message, retry_after=RETRY_AFTER[code], **fields)
    if code == 131047:
        return OutsideWindow(code, message, **fields)
    if code in UNDELIVERABLE:
        return Undeliverable(code, message, **fields)
    if code in UNAUTHORIZED or status == 401:
        return Unauthorized(code, message, **fields)
    if code is not None and 132000 <= code < 133000:
        return TemplateRejected(code, message, **fields)
    if status >= 500 or status == 429:
        return RetryLater(code, message, retry_after=1.0, **fields)
    return InvalidRequest(code, message, **fields)


class CloudApiClient:
    """Sends message bodies (`render`) from one business number. `api_url` is the Graph API
    with its version (WHATSAPP_API_URL); tests point it at the emulator."""

    def __init__(
        self,
        api_url: str,
        phone_number_id: str,
        token: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._api = api_url.rstrip("/")
        self._url = f"{self._api}/{phone_number_id}/messages"
        self._media_url = f"{self._api}/{phone_number_id}/media"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:  # never the token
        return f"CloudApiClient({self._url!r})"

    async def __aenter__(self) -> CloudApiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, body: Mapping[str, Any]) -> str:
        """Send one message; its id (wamid) when Meta accepted it, else a `WhatsAppError`."""
        data = await self._json("POST", self._url, json=body)
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):  # accepted or not, we cannot tell
            raise RetryLater(None, "an answer without a message id") from None

    async def upload(self, content: bytes, mime_type: str, filename: str) -> str:
        """Upload a file to the number's media (kept by Meta for 30 days); its media id."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", content, filename=filename, content_type=mime_type)
        data = await self._json("POST", self._media_url, data=form)
        if not isinstance(data, dict) or not data.get("id"):
            raise RetryLater(None, "an upload answer without a media id")
        return str(data["id"])

    async def media(self, media_id: str) -> MediaInfo:
        """Where a file someone sent (or one uploaded) can be downloaded, and what it is."""
        data = await self._json("GET", f"{self._api}/{media_id}")
        try:
            return MediaInfo(str(data["url"]), str(data.get("mime_type") or ""),
                             int(data.get("file_size") or 0))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise InvalidRequest(None, "a media answer without its url") from None

    async def download(self, url: str) -> bytes:
        """The bytes at a media URL (`media`), fetched with the token as Meta requires."""
        return await self._request("GET", url)

    async def _request(self, method: str, url: str, **kwargs: Any) -> bytes:
        """Meta's answer, or its error as a `WhatsAppError`."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.request(
                method, url, headers=self._headers, **kwargs
            ) as answer:
                status, raw = answer.status, await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryLater(None, f"network: {type(exc).__name__}") from exc
        if status >= 400:
            raise classify(status, _error_of(raw))
        return raw

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        """Meta's JSON answer (None: not JSON), or its error as a `WhatsAppError`."""
        raw = await self._request(method, url, **kwargs)
        try:
            return json.loads(raw)
        except ValueError:
            return None


@dataclass(frozen=True)
class MediaInfo:
    url: str
    mime_type: str
    file_size: int


def _error_of(raw: bytes) -> dict[str, Any] | None:
    """The Graph API `error` object in an error answer, if it is one."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else None
