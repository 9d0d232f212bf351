"""Signed button data: a button that names an event, a group or a person carries a short
HMAC bound to the person it was sent to, so its data cannot be forged, nor replayed by
someone else. Buttons are made by handlers and by services (reminders queued in the outbox),
so the key is configured once at start-up.

The person is her Telegram user id (an int, signed as it always was), or the address of her
on another channel (a str such as "whatsapp:33612345678"): an address is signed under its
own prefix, so it can never stand for a Telegram id made of the same digits.

The same key makes `person_key`, a keyed hash of a Telegram id: it lets a "don't group me
with her again" wish outlive the deletion of the person it names, without keeping her id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SEPARATOR = "~"
MAC_LENGTH = 10  # characters of base64url: 60 bits, plenty against guessing
MAX_DATA = 64 - len(SEPARATOR) - MAC_LENGTH  # Telegram allows 64 bytes of callback data

_secret: bytes | None = None


def configure(secret: bytes) -> None:
    global _secret
    _secret = secret


def _key(secret: bytes | None) -> bytes:
    key = secret if secret is not None else _secret
    if key is None:
        raise RuntimeError("signing key not configured (build_application configures it)")
    return key


# Whom a button is for: a Telegram user id, or an address on another channel.
Recipient = int | str


def _subject(recipient: Recipient) -> str:
    if isinstance(recipient, bool) or not isinstance(recipient, (int, str)):
        raise TypeError(f"a button is signed for a user id or an address, not {recipient!r}")
    if isinstance(recipient, int):
        return str(recipient)  # Telegram: unchanged, so buttons already sent stay valid
    if not recipient:
        raise ValueError("a button is signed for an address, not an empty string")
    return f"address:{recipient}"


def _mac(secret: bytes, recipient: Recipient, data: str) -> str:
    message = f"{_subject(recipient)}|{data}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_LENGTH]


def sign(
    recipient: Recipient, data: str, secret: bytes | None = None, *, max_data: int = MAX_DATA
) -> str:
    """`data` with its signature for `recipient`; `max_data`: how long the data may be
    (Telegram's by default; WhatsApp's ids are longer)."""
    if len(data.encode()) > max_data or SEPARATOR in data:
        raise ValueError(f"callback data too long or malformed: {data!r}")
    return f"{data}{SEPARATOR}{_mac(_key(secret), recipient, data)}"


def verify(recipient: Recipient, signed: str | None, secret: bytes | None = None) -> str | None:
    """The data if the signature is right for this person, else None."""
    if not signed or SEPARATOR not in signed:
        return None
    data, _, mac = signed.rpartition(SEPARATOR)
    expected = _mac(_key(secret), recipient, data)
    return data if hmac.compare_digest(mac.encode(), expected.encode()) else None


def data_of(signed: str) -> str:
    """The data of a button, without its signature, if it has one: NOT verified, for sorting
    buttons only, never to act on them."""
    return signed.rpartition(SEPARATOR)[0] if SEPARATOR in signed else signed


def is_configured() -> bool:
    return _secret is not None


def person_key(address: int | str, secret: bytes | None = None) -> str:
    """A keyed hash (HMAC-SHA256, hex) of her address (a Telegram id, or "whatsapp:<id>",
    see `people.address_of`): the same person gives the same key while the secret stays the
    same; without the secret it cannot be traced back to her."""
    message = f"person|{address}".encode()
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()
