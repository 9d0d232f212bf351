"""Files relayed from one channel to another: a photo, a voice note or a file someone sent
her group on one channel, fetched from that channel when it is sent to a member on another.

The relay (services/relay.py) names the file in its own terms (`notices.media`: the
channel it was sent on, that channel's reference to it, what it is); each channel's sender,
when a member on another channel is to receive it, asks the `Fetcher` of the channel it came
from for its bytes (Telegram: getFile and the file download; WhatsApp: the media URL and its
download) and sends them on as an upload of its own. The bytes stay in memory for that one
send: nothing is stored, and the outbox row keeps only the reference.

A fetch that may work later (a network error, the other channel busy) raises
`MediaUnavailable`: the outbox tries the message again, a few times (FETCH_ATTEMPTS: her
chat's next messages wait behind it meanwhile). One that never will (the file is gone, too
big for the channel it goes to, of a kind it cannot show), or still fails on its last
attempt, raises `MediaGone`: she gets, in her language, a line saying what could not be
passed on (`placeholder`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from companion_bot import notices
from companion_bot.i18n import N_, Translator

# What she gets instead of a file that could not be passed on ({caption}: "<b>Name</b>:
# her words" and a new line, or nothing).
NOT_PASSED_ON = {
    notices.MEDIA_PHOTO: N_("🖼 {caption}(a photo that could not be passed on)"),
    notices.MEDIA_VOICE: N_("🎤 {caption}(a voice note that could not be passed on)"),
    notices.MEDIA_DOCUMENT: N_("📄 {caption}(a file that could not be passed on)"),
}
# What a channel cannot show at all (a Telegram sticker on WhatsApp…).
NOT_SHOWN = N_("🖼 {caption}(a sticker or another message shown only on the other app)")
# Tries of a file that cannot be fetched for now before her placeholder goes instead: with
# the outbox's back-off (2, 4, 8 s), about 15 seconds during which her chat waits.
FETCH_ATTEMPTS = 4


@dataclass(frozen=True)
class MediaFile:
    content: bytes
    mime_type: str
    filename: str


class MediaUnavailable(Exception):
    """The file could not be fetched or sent on now; trying again later may work."""


class MediaGone(Exception):
    """The file will never be passed on: gone, too big, or of a kind the channel refuses."""


class Fetcher(Protocol):
    """Gets the bytes of a file someone sent on one channel: `media` as the relay described
    it (`notices.media`), its `ref` that channel's."""

    async def fetch(self, media: dict, max_bytes: int) -> MediaFile: ...


class Library:
    """The fetchers of the channels set up (companion_bot/app.py `channels`), by channel."""

    def __init__(self) -> None:
        self._fetchers: dict[str, Fetcher] = {}

    def add(self, channel: str, fetcher: Fetcher) -> None:
        self._fetchers[channel] = fetcher

    async def fetch(self, media: dict, max_bytes: int, *, attempts: int = 0) -> MediaFile:
        """The file a notice's `media` names, at most `max_bytes` long; `attempts`: how many
        times its message was tried already (the last one gives up)."""
        fetcher = self._fetchers.get(str(media.get("channel")))
        if fetcher is None or not relayable(media):
            raise MediaGone(f"no way to fetch a file from {media.get('channel')!r}")
        try:
            return await fetcher.fetch(media, max_bytes)
        except MediaUnavailable as error:
            if attempts + 1 < FETCH_ATTEMPTS:
                raise
            raise MediaGone(f"still unavailable after {FETCH_ATTEMPTS} tries: {error}") from error


def placeholder(t: Translator, kind: str | None, caption: str | None) -> str:
    """The line she gets instead of a file (HTML): what it was, with its caption."""
    text = t.gettext(NOT_PASSED_ON.get(kind or "", NOT_SHOWN))
    return text.format(caption=f"{caption}\n" if caption else "")


def relayable(media: object) -> bool:
    """A file another channel can receive (not a sticker or an unknown kind)."""
    return isinstance(media, dict) and media.get("type") in NOT_PASSED_ON and bool(media.get("ref"))
