"""Notices: what the bot tells someone, in words every channel can render.

Services never name a channel's API. They queue *notices* in the outbox (services/outbox.py):
a kind and its fields, stored as the row's `method` and `payload`, and each channel's sender
renders them with what that channel can do when it sends them — Telegram as Bot API calls
(companion_bot/telegram_render.py: inline keyboards, message edits), WhatsApp as Cloud API
messages (reply buttons or lists, a new message where Telegram would edit one).

The kinds and their fields (all JSON):

- TEXT: `text` (HTML: <b>, <i>, <u>, <s>, <code>, <pre>, <a href>, with &amp; &lt; &gt;
  escapes), optional `choices` (rows of `[label, action]`: the buttons she may tap; `action`
  is unsigned action data (an encoded action, companion_bot/actions.py), signed for the
  recipient by the channel when rendered, so that only she can send it back — see
  companion_bot/signing.py), optional `keyboard`
  (HELP_KEYBOARD: the "🆘 I need help" button kept under her chat, with its label in
  `keyboard_label`; REMOVE_KEYBOARD: take it away), optional `ask_location` (true: her
  location is what is asked for).
- LOCATION: `latitude`, `longitude`, optional `live_period` (seconds: a live location that
  MOVE_LOCATION updates and STOP_LOCATION ends).
- PHOTO / DOCUMENT: `photo` / `document` (a file, see `outbox.attachment`), optional
  `caption` (HTML) and `choices`.
- COPY: a message someone sent the bot, relayed to her group (a photo, a voice note, a file,
  a sticker), without its sender's name or account: `media` (see `media`: the channel it was
  sent on, that channel's reference to its file, what it is), optional `caption` (HTML),
  and for a recipient on the sender's own channel `from_chat_id` and `message_id`, the
  message itself to copy. A channel that cannot copy it fetches the file by its reference
  (companion_bot/media.py), or says in words what it was.
- Changes to a notice already queued or sent (`outbox.edit`): EDIT_TEXT (`text`, `choices`),
  EDIT_CAPTION (`caption`, `choices`), EDIT_CHOICES (`choices`), MOVE_LOCATION (`latitude`,
  `longitude`), STOP_LOCATION. A channel that cannot change a sent message sends the new
  state as a new one, or nothing where the change only takes buttons away.

A notice that may reach her long after she last wrote (a reminder, "are you home?") may carry
`template`: which pre-approved message says it in short (`outside_window`), for a channel
that only lets such messages through after a while (WhatsApp, 24 hours after her last
message).

Every kind that shows buttons may carry, instead of `choices`, a `markup`: buttons already in
a channel's own form, made by that channel's edge (handlers/ for Telegram make inline
keyboards whose data they sign themselves) and rendered as they are. An edit that does not
say which buttons the message keeps takes them away.

Rows queued before notices existed hold a Telegram Bot API call (its method name as kind);
the Telegram sender still sends them as they are.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

TEXT = "text"
LOCATION = "location"
PHOTO = "photo"
DOCUMENT = "document"
COPY = "copy"
EDIT_TEXT = "edit_text"
EDIT_CAPTION = "edit_caption"
EDIT_CHOICES = "edit_choices"
MOVE_LOCATION = "move_location"
STOP_LOCATION = "stop_location"

NEW = frozenset({TEXT, LOCATION, PHOTO, DOCUMENT, COPY})
EDITS = frozenset({EDIT_TEXT, EDIT_CAPTION, EDIT_CHOICES, MOVE_LOCATION, STOP_LOCATION})
KINDS = NEW | EDITS

# What each edit changes in a notice: folded into a notice not sent yet, and compared with
# what the notice shows to skip an edit that would change nothing.
EDITED_FIELDS: dict[str, tuple[str, ...]] = {
    EDIT_TEXT: ("text", "choices", "markup"),
    EDIT_CAPTION: ("caption", "choices", "markup"),
    EDIT_CHOICES: ("choices", "markup"),
    MOVE_LOCATION: ("latitude", "longitude"),
}
# Which notices an edit can be folded into before they are sent.
FOLDS_INTO: dict[str, frozenset[str]] = {
    EDIT_TEXT: frozenset({TEXT}),
    EDIT_CAPTION: frozenset({PHOTO, DOCUMENT}),
    EDIT_CHOICES: frozenset({TEXT, PHOTO, DOCUMENT}),
}

# What a short pre-approved message may say (WhatsApp's templates, by these names).
WAVE_REMINDER = "wave_reminder"
ARE_YOU_HOME = "are_you_home"
ESCALATION = "escalation"
MORNING_AFTER = "morning_after"
GROUP_INTRODUCTION = "group_introduction"

# What a relayed file is (`media`'s `type`).
MEDIA_PHOTO = "photo"
MEDIA_VOICE = "voice"
MEDIA_DOCUMENT = "document"
MEDIA_STICKER = "sticker"
MEDIA_OTHER = "other"

HELP_KEYBOARD = "help"
REMOVE_KEYBOARD = "remove"

Choice = tuple[str, str]  # (label, action)


def choices(rows: Sequence[Sequence[Choice]]) -> list[list[list[str]]]:
    """Rows of (label, action) as stored in a notice."""
    return [[[label, action] for label, action in row] for row in rows]


def outside_window(purpose: str, *params: object) -> dict[str, Any]:
    """Notice fields naming the short message that says it when only such a message may go
    to her; `params` fill it in (plain text, HTML-escaped like every notice text)."""
    return {"template": {"purpose": purpose, "params": [html.escape(str(p)) for p in params]}}


def media(channel: str, kind: str, ref: str | None = None, **details: str | None) -> dict[str, Any]:
    """A relayed file in no channel's API terms: the channel it was sent on (a `Channel`
    value), what it is (MEDIA_PHOTO…), that channel's reference to its file (None: nothing
    to fetch, a sticker), and `details` such as `mime_type` or `filename`."""
    described = {"channel": str(channel), "type": kind, "ref": ref}
    return described | {key: value for key, value in details.items() if value}


def is_notice(kind: str) -> bool:
    return kind in KINDS
