"""Files someone sent the bot on Telegram, fetched for a member on another channel
(companion_bot/media.py): getFile, then the download from the Bot API's file URL, through
the bot's own HTTP client. Bots may download files up to 20 MB; the bytes stay in memory."""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from companion_bot import notices
from companion_bot.media import MediaFile, MediaGone, MediaUnavailable

# What Telegram's files are when the message said nothing else.
DEFAULTS = {
    notices.MEDIA_PHOTO: ("image/jpeg", "photo.jpg"),
    notices.MEDIA_VOICE: ("audio/ogg", "voice.ogg"),
    notices.MEDIA_DOCUMENT: ("application/octet-stream", "file"),
}


class TelegramFiles:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def fetch(self, media: dict, max_bytes: int) -> MediaFile:
        mime_type, filename = DEFAULTS.get(media.get("type"), DEFAULTS[notices.MEDIA_DOCUMENT])
        try:
            file = await self.bot.get_file(media["ref"])
            if file.file_size is not None and file.file_size > max_bytes:
                raise MediaGone(f"{file.file_size} bytes, more than {max_bytes}")
            content = bytes(await file.download_as_bytearray())
        except BadRequest as error:  # an unknown file, or one too big for bots
            raise MediaGone(error.message) from error
        except TelegramError as error:  # network, time-out, flood wait: later
            raise MediaUnavailable(f"{type(error).__name__}: {error.message}") from error
        if len(content) > max_bytes:
            raise MediaGone(f"{len(content)} bytes, more than {max_bytes}")
        return MediaFile(
            content, media.get("mime_type") or mime_type, media.get("filename") or filename
        )
