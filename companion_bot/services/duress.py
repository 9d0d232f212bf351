"""The duress answer. At sign-up she may choose a safe word: if someone forces her to say she is
home, she answers "are you home?" by writing it instead of tapping the button. Her screen
shows the usual "glad you are home", but the volunteers on duty and the organizers get an
"in danger" alert (with a word about her live location when she shares one with her group).

The word is kept only as a salted hash (PBKDF2) on her person row: never shown to anyone, not
even to her, and never relayed to her group. Common answers ("ok", "oui", "home"…) are
refused: she could write one by chance. Someone without a safe word writing anything gets
nothing special.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import unicodedata
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from companion_bot import clock, notices
from companion_bot.i18n import N_, escape
from companion_bot.models import Person, Registration, RegistrationStatus, RelayedMessage, RoleKind
from companion_bot.services import closing, escalation, locations, outbox, people, relay, scheduler
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who

MIN_LENGTH, MAX_LENGTH = 3, 40
ITERATIONS = 100_000
SCHEME = "pbkdf2_sha256"
# Answers she could write without meaning it, in every language of the bot (and a few more).
COMMON_WORDS = frozenset({
    "ok", "okay", "oki", "okok", "kk", "yes", "yep", "yeah", "no", "nope", "oui", "ouais", "non",
    "ja", "nee", "neen", "jawel", "home", "at home", "im home", "i'm home", "i am home", "safe",
    "fine", "good", "great", "thanks", "thank you", "thx", "merci", "bien", "tres bien", "ca va",
    "cava", "maison", "a la maison", "chez moi", "rentree", "bien rentree", "je suis rentree",
    "goed", "prima", "thuis", "ik ben thuis", "dank je", "dankjewel", "bedankt", "hello", "hi",
    "salut", "coucou", "hallo", "bonjour", "bonsoir", "cancel", "annuler", "stop", "help",
    "aide", "hulp", "sos", "123", "1234", "12345", "0000", "password", "motdepasse",
})  # fmt: skip

IN_DANGER = N_(
    "🚨 <b>{name} may be in danger.</b> She answered “are you home?” with her safe word: "
    "someone may be forcing her to say she is fine. She left at {time} ({group}). Do not "
    "write to her about it: her screen says all is well. Go to her or call 112."
)
SHARING_LIVE = N_(
    "📍 She shares her live location with her group ({names}): it follows here as soon as she "
    "moves."
)
TEAM_LIVE = N_("📍 Live location of {name} (the safe-word alert):")
# How long after her safe word her live location goes to the team too.
TEAM_LIVE_FOR = timedelta(hours=12)
NOT_SHARING = N_("📍 She does not share her live location.")


def normalise(text: str) -> str:
    """Case, accents, punctuation and spacing do not count."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    letters = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.split())


def check(word: str) -> str:
    """The normalised safe word, or UserInputError saying why not."""
    normal = normalise(word)
    if normal in COMMON_WORDS or normal.replace(" ", "") in COMMON_WORDS:
        raise UserInputError(
            N_(
                "“{word}” is too common: you might write it without meaning it. Choose a word "
                "nobody would guess, that you will remember."
            ),
            word=escape(word.strip()[:MAX_LENGTH]),
        )
    if not MIN_LENGTH <= len(normal) <= MAX_LENGTH:
        raise UserInputError(
            N_("A safe word has {low} to {high} letters or digits."),
            low=MIN_LENGTH,
            high=MAX_LENGTH,
        )
    return normal


def _digest(normal: str, salt: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", normal.encode(), salt, ITERATIONS).hex()


def hashed(word: str) -> str:
    normal = check(word)
    salt = secrets.token_bytes(16)
    return f"{SCHEME}${salt.hex()}${_digest(normal, salt)}"


def matches(stored: str | None, text: str) -> bool:
    if not stored or not text:
        return False
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != SCHEME:
        return False
    return hmac.compare_digest(_digest(normalise(text), bytes.fromhex(salt)), digest)


async def set_safe_word(who: Who, word: str) -> None:
    stored = hashed(word)
    await Person.filter(**people.lookup(who)).update(safe_word_hash=stored)


async def remove_safe_word(who: Who) -> bool:
    return bool(
        await Person.filter(**people.lookup(who), safe_word_hash__isnull=False).update(
            safe_word_hash=None
        )
    )


async def has_safe_word(who: Who) -> bool:
    return await Person.exists(**people.lookup(who), safe_word_hash__isnull=False)


async def asked_home(who: Who) -> Registration | None:
    """Her registration whose "are you home?" is waiting for her answer, if she has a safe
    word (else None: nothing she writes is special)."""
    return (
        await Registration.filter(
            **people.lookup(who, "person"),
            person__safe_word_hash__isnull=False,
            status=RegistrationStatus.CONFIRMED,
            left_at__isnull=False,
            home_at=None,
            duress_at=None,
        )
        .order_by("-left_at")
        .prefetch_related("person", "event")
        .first()
    )


async def answer(who: Who, text: str, now: datetime | None = None) -> bool:
    """Her written answer while "are you home?" waits: True when it is her safe word (the team
    is alerted; she must be answered as if she had tapped "I'm home")."""
    registration = await asked_home(who)
    if registration is None:
        return False
    if not await asyncio.to_thread(matches, registration.person.safe_word_hash, text):
        return False
    now = now or clock.now()
    async with in_transaction():
        done = await Registration.filter(id=registration.id, duress_at=None).update(duress_at=now)
        if not done:
            return True
        # The stages of "are you home?" would only ask her again: the whole team is told now.
        await scheduler.cancel_prefix(f"home:{registration.id}:")
        await alert_team(registration, now)
    return True


async def alert_team(registration: Registration, now: datetime) -> int:
    event = registration.event
    team = await closing.on_duty_team(event.id, kinds=(RoleKind.VOLUNTEER, RoleKind.ORGANIZER))
    group = await closing.departure_group_of(registration.id)
    names = await closing.other_names(group, registration.id) if group else []
    sharing = await RelayedMessage.exists(sender_id=registration.person_id, kind="live")
    for person in team:
        t = language_of(person)
        lines = [
            t.gettext(IN_DANGER).format(
                name=escape(registration.person.display_name or "?"),
                time=t.time(registration.left_at or now, event.timezone),
                group=escape(", ".join(names)) if names else t.gettext(escalation.NO_GROUP),
            ),
            t.gettext(SHARING_LIVE).format(names=escape(", ".join(names)))
            if sharing and names
            else t.gettext(NOT_SHARING),
        ]
        await outbox.enqueue(
            person,
            "\n\n".join(lines),
            priority=closing.URGENT,
            dedupe_key=f"duress:{registration.id}:{person.id}",
        )
    return len(team)


async def share_with_team(who: Who, message_id: int, lat: float, lon: float) -> int:
    """She moved while sharing her live location with her group, after a safe-word answer:
    the team alerted follows her too (a live location of their own, moved with hers).
    Returns how many of the team it reached; 0 when no safe-word alert of hers is open."""
    now = clock.now()
    registration = (
        await Registration.filter(
            **people.lookup(who, "person"), duress_at__gte=now - TEAM_LIVE_FOR
        )
        .order_by("-duress_at")
        .prefetch_related("person", "event")
        .first()
    )
    if registration is None:
        return 0
    group = await closing.departure_group_of(registration.id)
    if group is None:
        return 0  # she shares her location through her group only
    sender = registration.person
    team = await closing.on_duty_team(
        registration.event_id, kinds=(RoleKind.VOLUNTEER, RoleKind.ORGANIZER)
    )
    copies = {
        copy.recipient_id: copy
        for copy in await RelayedMessage.filter(
            sender=sender, sender_message_id=message_id, kind=relay.TEAM_LIVE_KIND
        )
    }
    key = f"{relay.relay_key_prefix(sender.id)}{message_id}:"
    for person in team:
        copy = copies.get(person.id)
        if copy is not None and copy.recipient_message_id is not None:
            await outbox.enqueue(
                person, kind=notices.MOVE_LOCATION,
                payload={"message_id": copy.recipient_message_id, "latitude": lat,
                         "longitude": lon},
                dedupe_key=f"{key}{person.id}:{secrets.token_hex(6)}", purpose=locations.PURPOSE,
                priority=closing.URGENT,
            )  # fmt: skip
            continue
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(TEAM_LIVE).format(name=escape(sender.display_name or "?")),
            priority=closing.URGENT,
            dedupe_key=f"{key}{person.id}:team:intro",
        )
        await outbox.enqueue(
            person, kind=notices.LOCATION,
            payload={"latitude": lat, "longitude": lon, "live_period": relay.LIVE_PERIOD_MAX},
            priority=closing.URGENT, dedupe_key=f"{key}{person.id}:team",
            purpose=relay.RELAY_PURPOSE,
            reference={"group": group.id, "sender": sender.id, "sender_message_id": message_id,
                       "recipient": person.id, "kind": relay.TEAM_LIVE_KIND},
        )  # fmt: skip
    return len(team)
