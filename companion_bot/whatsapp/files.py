"""Files someone sent the bot on WhatsApp, fetched for another member
(companion_bot/media.py): the media's URL from the Graph API, then its download with the
token. Meta keeps a received file for 7 days; the bytes stay in memory."""

from __future__ import annotations

from companion_bot import notices
from companion_bot.media import MediaFile, MediaGone, MediaUnavailable
from companion_bot.whatsapp.client import CloudApiClient, RetryLater, Unauthorized, WhatsAppError

# Names for the file she gets, from what it is (WhatsApp gives a document's own name).
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "audio/ogg": "ogg", "audio/mpeg": "mp3",
              "audio/mp4": "m4a", "audio/aac": "aac", "audio/amr": "amr",
              "application/pdf": "pdf"}  # fmt: skip
BASENAMES = {notices.MEDIA_PHOTO: "photo", notices.MEDIA_VOICE: "voice"}


class WhatsAppFiles:
    def __init__(self, client: CloudApiClient) -> None:
        self.client = client

    async def fetch(self, media: dict, max_bytes: int) -> MediaFile:
        try:
            info = await self.client.media(media["ref"])
            if info.file_size > max_bytes:
                raise MediaGone(f"{info.file_size} bytes, more than {max_bytes}")
            content = await self.client.download(info.url)
        except (RetryLater, Unauthorized) as error:
            raise MediaUnavailable(str(error)) from error
        except WhatsAppError as error:  # unknown or expired media
            raise MediaGone(str(error)) from error
        if len(content) > max_bytes:
            raise MediaGone(f"{len(content)} bytes, more than {max_bytes}")
        mime_type = info.mime_type or media.get("mime_type") or "application/octet-stream"
        mime_type = mime_type.split(";")[0].strip()
        return MediaFile(content, mime_type, media.get("filename") or filename(media, mime_type))


def filename(media: dict, mime_type: str) -> str:
    base = BASENAMES.get(media.get("type"), "file")
    extension = EXTENSIONS.get(mime_type)
    return f"{base}.{extension}" if extension else base
