"""The staged "are you home?" after she left: she is asked (`closing.on_home_reminder`), then
her departure group ("has anyone heard from her?", one tap: she's fine / no news), then the
volunteers on duty, then the organizers. Each stage is a scheduled task (`closing.
schedule_check_in`, delays from the event's settings) and is skipped once she is safe.

She is safe when she taps "I'm home", or when a member of her group or someone of the team
confirms it: every waiting stage is cancelled and whoever was alerted gets an all-clear. Who
was alerted is read from the outbox keys of the alerts (`nonews:`, `homeorga:`, `homegroup:`).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from companion_bot import actions, clock, notices
from companion_bot.i18n import N_, escape
from companion_bot.models import (
    GroupMember,
    MemberStatus,
    OutboxMessage,
    Person,
    Registration,
    RegistrationStatus,
    Role,
    RoleKind,
)
from companion_bot.services import closing, groups, outbox, people, relay, scheduler
from companion_bot.services.errors import UserInputError
from companion_bot.services.messaging import language_of
from companion_bot.services.people import Who

URGENT = closing.URGENT

GROUP_ASK = N_(
    "❓ Has anyone heard from <b>{name}</b>? She left at {time} and has not said she is home "
    "yet. Tap an answer."
)
SHE_IS_FINE = N_("✅ She's fine")
NO_NEWS_ANSWER = N_("🤷 No news")
NO_NEWS = N_(
    "⚠️ No news from <b>{name}</b>: she left at {time} ({group}) and has not said she is home. "
    "Please check on her through her group or the organizers."
)
NO_NEWS_ORGANIZERS = N_(
    "🚨 No news from <b>{name}</b>, even after the volunteers were alerted: she left at {time} "
    "({group}) and has not said she is home. Please take it from here."
)
NO_GROUP = N_("no group")
SHE_IS_SAFE = N_("✅ She is safe")
ALL_CLEAR_HOME = N_("✅ All clear: <b>{name}</b> says she is home.")
ALL_CLEAR_CONFIRMED = N_("✅ All clear: {who} confirmed that <b>{name}</b> is safe.")
GROUP_SAID_NO_NEWS = N_("🤷 {who}, of her group, has no news of <b>{name}</b> either.")

# The outbox keys of the stages' alerts: `<prefix><registration>:<recipient person>`.
GROUP_KEY, VOLUNTEER_KEY, ORGANIZER_KEY = "homegroup:", "nonews:", "homeorga:"


def _now() -> datetime:
    return clock.now()


async def _gone(registration_id: int) -> Registration | None:
    """Her registration while a stage still has to run: she left and is not known safe."""
    registration = await Registration.get_or_none(
        id=registration_id, status=RegistrationStatus.CONFIRMED
    ).prefetch_related("person", "event")
    if registration is None or registration.home_at is not None or registration.left_at is None:
        return None
    return registration


async def _group_label(t, registration: Registration) -> str:
    group = await closing.departure_group_of(registration.id)
    names = await closing.other_names(group, registration.id) if group else []
    return escape(", ".join(names)) if names else t.gettext(NO_GROUP)


# -- the stages --------------------------------------------------------------------------------


async def on_group_ask(payload: dict, now: datetime) -> None:
    """Stage 2: the other members of her departure group are asked about her."""
    registration = await _gone(payload["registration_id"])
    if registration is None:
        return
    group = await closing.departure_group_of(registration.id)
    members = [m for m in await groups.active_members(group) if m.registration_id !=
               registration.id] if group else []  # fmt: skip
    for member in members:
        person = member.registration.person
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(GROUP_ASK).format(
                name=escape(registration.person.display_name or "?"),
                time=t.time(registration.left_at, registration.event.timezone),
            ),
            choices=[
                [
                    (t.gettext(SHE_IS_FINE), actions.SafeAnswer("ok", registration.id).encode()),
                    (t.gettext(NO_NEWS_ANSWER), actions.SafeAnswer("no", registration.id).encode()),
                ]
            ],
            payload=notices.outside_window(
                notices.ESCALATION,
                registration.person.display_name or "?",
                t.time(registration.left_at, registration.event.timezone),
            ),
            priority=URGENT,
            dedupe_key=f"{GROUP_KEY}{registration.id}:{person.id}",
        )
    registration.group_asked_at = now
    await registration.save(update_fields=["group_asked_at"])


async def on_volunteers(payload: dict, now: datetime) -> None:
    """Stage 3: the volunteers on duty (the organizers when none is on duty)."""
    registration = await _gone(payload["registration_id"])
    if registration is None:
        return
    event = registration.event
    team = await closing.on_duty_team(event.id, kinds=(RoleKind.VOLUNTEER,))
    if not team:
        team = await closing.on_duty_team(event.id, kinds=(RoleKind.ORGANIZER,))
    await _alert(registration, team, NO_NEWS, VOLUNTEER_KEY, now)
    registration.no_news_alerted_at = now
    await registration.save(update_fields=["no_news_alerted_at"])


async def on_organizers(payload: dict, now: datetime) -> None:
    """Stage 4: every organizer of the event."""
    registration = await _gone(payload["registration_id"])
    if registration is None:
        return
    organizers = await closing.on_duty_team(registration.event_id, kinds=(RoleKind.ORGANIZER,))
    await _alert(registration, organizers, NO_NEWS_ORGANIZERS, ORGANIZER_KEY, now)
    registration.organizers_alerted_at = now
    await registration.save(update_fields=["organizers_alerted_at"])


async def _alert(registration: Registration, team: list[Person], template: str, key: str,
                 now: datetime) -> None:  # fmt: skip
    event = registration.event
    for person in team:
        t = language_of(person)
        await outbox.enqueue(
            person,
            t.gettext(template).format(
                name=escape(registration.person.display_name or "?"),
                time=t.time(registration.left_at or now, event.timezone),
                group=await _group_label(t, registration),
            ),
            choices=[
                [(t.gettext(SHE_IS_SAFE), actions.SafeAnswer("ok", registration.id).encode())]
            ],
            priority=URGENT,
            dedupe_key=f"{key}{registration.id}:{person.id}",
        )


# -- she is safe ---------------------------------------------------------------------------------


async def she_is_home(who: Who, registration_id: int, now: datetime | None = None):
    """She taps "I'm home": `closing.home`, then the all-clear to whoever was alerted."""
    now = now or _now()
    async with in_transaction():
        registration = await closing.home(who, registration_id, now)
        await all_clear(registration, now, confirmed_by=None)
    return registration


async def confirm_safe(who: Who, registration_id: int, now: datetime | None = None):
    """A member of her departure group, or a volunteer or organizer of the event, says she is
    safe. Returns her registration; refused to anybody else."""
    now = now or _now()
    registration = await Registration.get_or_none(id=registration_id).prefetch_related(
        "person", "event"
    )
    if registration is None:
        raise UserInputError(N_("This button is no longer active."))
    who = await _may_confirm(who, registration)
    async with in_transaction():
        if registration.home_at is None:
            registration.home_at = now
            await registration.save(update_fields=["home_at"])
            await scheduler.cancel_prefix(f"home:{registration.id}:")
            await relay.stop_live_locations(registration.person.telegram_id)
            await groups.changed(await closing.departure_group_of(registration.id))
        await all_clear(registration, now, confirmed_by=who)
    return registration


async def _may_confirm(who: Who, registration: Registration) -> Person:
    role = await Role.filter(
        event_id=registration.event_id, **people.lookup(who, "person"),
        kind__in=[RoleKind.VOLUNTEER, RoleKind.ORGANIZER],
    ).prefetch_related("person").first()  # fmt: skip
    if role is not None:
        return role.person
    group = await closing.departure_group_of(registration.id)
    member = None
    if group is not None:
        member = (
            await GroupMember.filter(
                group=group,
                status=MemberStatus.ACTIVE,
                **people.lookup(who, "registration__person"),
            )
            .exclude(registration_id=registration.id)
            .prefetch_related("registration__person")
            .first()
        )
    if member is None:
        raise UserInputError(N_("Only her group and the team of the event can do this."))
    return member.registration.person


async def no_news(who: Who, registration_id: int) -> Registration:
    """A member of her group has no news either: the volunteers already alerted hear it."""
    registration = await Registration.get_or_none(id=registration_id).prefetch_related(
        "person", "event"
    )
    if registration is None:
        raise UserInputError(N_("This button is no longer active."))
    who = await _may_confirm(who, registration)
    if registration.home_at is not None:
        return registration
    for person in await _alerted(registration.id, (VOLUNTEER_KEY, ORGANIZER_KEY)):
        await outbox.enqueue(
            person,
            language_of(person)
            .gettext(GROUP_SAID_NO_NEWS)
            .format(
                who=escape(who.display_name or "?"),
                name=escape(registration.person.display_name or "?"),
            ),
            priority=URGENT,
            dedupe_key=f"homenonews:{registration.id}:{who.id}:{person.id}",
        )
    return registration


async def _alerted(registration_id: int, prefixes: tuple[str, ...]) -> list[Person]:
    """The people who got an alert of these stages about her, in the order they got it."""
    rows = []
    for prefix in prefixes:
        rows += await OutboxMessage.filter(
            dedupe_key__startswith=f"{prefix}{registration_id}:"
        ).order_by("id")
    found = await outbox.recipients(rows)
    people: dict[int, Person] = {}
    for row in rows:
        person = found.get((row.channel, row.chat_id))
        if person is not None:
            people.setdefault(person.id, person)
    return list(people.values())


async def all_clear(registration: Registration, now: datetime, confirmed_by: Person | None) -> int:
    """Once: everyone alerted about her hears she is safe (her group was told "she is home"
    by `closing.home` when she tapped it herself). Returns how many were told."""
    done = await Registration.filter(id=registration.id, all_clear_at=None).update(all_clear_at=now)
    if not done:
        return 0
    await registration.fetch_related("person")
    prefixes = (VOLUNTEER_KEY, ORGANIZER_KEY) if confirmed_by is None else (
        GROUP_KEY, VOLUNTEER_KEY, ORGANIZER_KEY)  # fmt: skip
    told = 0
    for person in await _alerted(registration.id, prefixes):
        if confirmed_by is not None and person.id == confirmed_by.id:
            continue
        t = language_of(person)
        text = (t.gettext(ALL_CLEAR_HOME) if confirmed_by is None
                else t.gettext(ALL_CLEAR_CONFIRMED)).format(
            name=escape(registration.person.display_name or "?"),
            who=escape(confirmed_by.display_name or "?") if confirmed_by else "",
        )  # fmt: skip
        await outbox.enqueue(person, text, priority=URGENT,
                             dedupe_key=f"allclear:{registration.id}:{person.id}")  # fmt: skip
        told += 1
    return told
