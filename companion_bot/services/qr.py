"""QR codes of an event's attendee and volunteer links, as PNG (segno: pure Python, writes PNG
without Pillow), for flyers and the door. The organizer link never gets one: it makes
co-organizers and must not end up on a wall."""

from __future__ import annotations

import io

import segno

from companion_bot.i18n import N_
from companion_bot.models import Event
from companion_bot.services.events import InviteKind

QR_KINDS = (InviteKind.ATTENDEE, InviteKind.VOLUNTEER)
CAPTIONS = {
    InviteKind.ATTENDEE: N_(
        "📱 Attendees' QR code for <b>{event}</b>: for the flyer and the door.\n{link}"
    ),
    InviteKind.VOLUNTEER: N_(
        "🦺 Volunteers' QR code for <b>{event}</b>: show it to the trained volunteers only.\n{link}"
    ),
}


WHATSAPP_CAPTION = N_(
    "💬 Attendees' WhatsApp QR code for <b>{event}</b>: it opens a chat with the bot with the "
    "event's code typed in; sending it starts the sign-up.\n{link}"
)


def qr_png(link: str, scale: int = 10) -> bytes:
    """A PNG QR code of `link`; error correction M survives a folded or smudged flyer."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def invite_qr(links: dict[InviteKind, str], kind: InviteKind) -> tuple[str, bytes]:
    """The attendee or volunteer link (of a channel: `links`), with its QR code."""
    if kind not in QR_KINDS:
        raise ValueError(f"no QR code for the {kind} link")
    return links[kind], qr_png(links[kind])


def qr_filename(event: Event, kind: InviteKind) -> str:
    return f"{kind.value}-qr-{event.id}.png"
