"""Data rights: `/mydata` shows everything stored about her, `/forget` deletes it."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    filters,
)

from companion_bot.actions import Avoid, Forget
from companion_bot.i18n import LANGUAGE_NAMES, N_, N_plural, Translator
from companion_bot.models import FollowupAnswer, GroupKind, HelpAlert, HelpLevel
from companion_bot.services import outbox, privacy
from companion_bot.services.errors import UserInputError
from companion_bot.services.groups import KIND_NAMES
from companion_bot.services.help import LEVEL_NAMES
from companion_bot.services.lifecycle import HOME_ANSWERS, MET_ANSWERS
from companion_bot.services.questions import summary_text
from companion_bot.text_limits import split_lines
from handlers.callbacks import button, pattern, signed, signed_pattern, unsigned
from handlers.common import (
    Context,
    answer_query,
    close_buttons,
    column,
    esc,
    send,
    settings_of,
    tr,
)
from handlers.conversation import END

PRIVATE = filters.ChatType.PRIVATE

ROLE_NAMES = {"organizer": N_("organizer"), "volunteer": N_("volunteer")}
MESSAGES_WAITING = N_plural("{count} waiting to be sent", "{count} waiting to be sent")
MESSAGES_KEPT = N_plural(
    "{count} sent and kept until the event's data is deleted",
    "{count} sent and kept until the event's data is deleted",
)
STATUS_NAMES = {
    "draft": N_("not confirmed"),
    "confirmed": N_("confirmed"),
    "cancelled": N_("cancelled"),
}


async def on_my_data(update: Update, context: Context) -> int:
    t = tr(update, context)
    data = await privacy.personal_data(update.effective_user.id, t.language)
    if data is None:
        await send(update, context, t.gettext("I hold no data about you."))
        return END
    zone = settings_of(context).DEFAULT_TIMEZONE
    for text in split_lines(my_data_text(t, data, zone)):
        await send(update, context, text)
    return END


def my_data_text(t: Translator, data: privacy.PersonalData, zone: str) -> str:
    """Everything `personal_data` found, in her language; `zone` for dates with no event."""
    _ = t.gettext
    person = data.person
    lines = [
        _("<b>What this bot keeps about you</b>"),
        _("Telegram account number (to write to you; nobody else sees it): {id}").format(
            id=person.telegram_id
        ),
        _("Language: {value}").format(value=LANGUAGE_NAMES.get(person.language or "", "—")),
        _("Name your companions see: {value}").format(value=esc(person.display_name or "—")),
    ]
    if person.safe_word_hash:
        lines.append(_("A safe word, kept scrambled: nobody can read it (/safeword removes it)"))
    for shown in data.registrations:
        status = _(STATUS_NAMES[shown.registration.status])
        lines += ["", _("Registration ({status}):").format(status=status), summary_text(t, shown)]
    for role in data.roles:
        lines.append(
            _("Role at {event}: {role}").format(
                event=esc(role.event.localized("name", t.language)), role=_(ROLE_NAMES[role.kind])
            )
        )
    for membership in data.memberships:
        if membership.table is not None:
            lines.append(_("Table “{table}” at {event}, {time}").format(
                table=esc(membership.table), event=esc(membership.event_name),
                time=t.datetime(membership.meet_at, membership.timezone)))  # fmt: skip
            continue
        lines.append(
            _("{kind} at {event}, {time}").format(
                kind=_(KIND_NAMES[GroupKind(membership.kind)]).capitalize(),
                event=esc(membership.event_name),
                time=t.datetime(membership.meet_at, membership.timezone),
            )
        )
    lines += help_alert_lines(t, data.help_alerts)
    for report in data.reports_made:
        lines.append(_("You reported a message from {name} at {event}, {time}: “{excerpt}”").format(
            name=esc(report.reported.display_name if report.reported else "?"),
            event=esc(report.event.localized("name", t.language)),
            time=t.datetime(report.created_at, report.event.timezone),
            excerpt=esc(report.excerpt)))  # fmt: skip
    for answer in data.followups:
        lines.append(followup_line(t, answer))
    if data.relayed_messages:
        lines.append(
            _("Messages relayed to your groups: {count}").format(count=data.relayed_messages)
        )
    if data.messages_waiting or data.messages_kept:
        lines.append(_("Messages to you: {counts}").format(counts=", ".join([
            t.plural(MESSAGES_WAITING, data.messages_waiting),
            t.plural(MESSAGES_KEPT, data.messages_kept),
        ])))  # fmt: skip
    for avoided in data.avoidances:
        name = esc(avoided.name) if avoided.name else _("someone whose data is deleted since")
        lines.append(_("You asked not to be grouped again with {name} ({date})").format(
            name=name, date=t.date(avoided.created_at, zone)))  # fmt: skip
    lines += ["", _("/forget deletes all of it.")]
    return "\n".join(lines)


def help_alert_lines(t: Translator, alerts: list[HelpAlert]) -> list[str]:
    _ = t.gettext
    lines = []
    for alert in alerts:
        lines.append(_("Help request at {event}, {time}: {level}").format(
            event=esc(alert.event.localized("name", t.language)),
            time=t.datetime(alert.created_at, alert.event.timezone),
            level=_(LEVEL_NAMES[HelpLevel(alert.level)])))  # fmt: skip
        if alert.text:
            lines.append(_("Your words: “{text}”").format(text=esc(alert.text)))
        if alert.latitude is not None:
            lines.append(_("Your location, kept while the request is open: {lat:.5f}, {lon:.5f}")
                         .format(lat=alert.latitude, lon=alert.longitude))  # fmt: skip
    return lines


def followup_line(t: Translator, answer: FollowupAnswer) -> str:
    _ = t.gettext
    met = MET_ANSWERS.get(answer.group_met or "")
    home = HOME_ANSWERS.get(answer.home_safe or "")
    line = _("Your answers the morning after {event}: group met: {met}; home safe: {home}").format(
        event=esc(answer.event.localized("name", t.language)),
        met=_(met) if met else "—",
        home=_(home) if home else "—",
    )
    if answer.report:
        line += "\n" + _("What you told the organizers: “{text}”").format(text=esc(answer.report))
    return line


async def on_forget(update: Update, context: Context) -> int:
    _ = tr(update, context).gettext
    await send(
        update,
        context,
        _(
            "Delete everything this bot keeps about you? Your registrations are cancelled, your "
            "groups are only told that a member left, and this cannot be undone."
        ),
        column(
            [
                (_("Yes, delete everything"), Forget("yes").encode()),
                (_("No, keep it"), Forget("no").encode()),
            ]
        ),
    )
    return END


@unsigned(Forget)
async def on_forget_button(update: Update, context: Context, forget: Forget) -> None:
    _ = tr(update, context).gettext
    await answer_query(update)
    if forget.answer == "no":
        await close_buttons(update, _("No, keep it"))
        return
    forgotten = await privacy.forget(update.effective_user.id)
    if forgotten is not None:
        await notify_member_left(context, forgotten.group_ids)
    # Queued after her rows were deleted, and erased once sent: nothing of her stays.
    erase = outbox.ERASE_AFTER_SENDING
    await close_buttons(update, _("Yes, delete everything"), purpose=erase)
    await send(
        update, context, _("Done: everything about you is deleted. Take care!"), purpose=erase
    )
    context.user_data.clear()  # her stored conversation state goes too


async def notify_member_left(context: Context, group_ids: list[int]) -> None:
    """Her groups learn only that a member left (wired to the groups service)."""
    from companion_bot.services import groups

    for group_id in group_ids:
        await groups.tell_member_left(group_id)


async def on_companions(update: Update, context: Context) -> int:
    t = tr(update, context)
    _ = t.gettext
    found = await privacy.companions(update.effective_user.id)
    if not found:
        await send(update, context, _("You have not been in a group yet."))
        return END
    lines = [_("People you shared a group with. If you prefer not to be grouped with someone "
               "again, tap her name: she is never told.")]  # fmt: skip
    buttons = []
    for companion in found:
        event_name = companion.event.localized("name", t.language)
        if companion.avoided:
            lines.append(_("🚫 {name} ({event}): never grouped with you again").format(
                name=esc(companion.name), event=esc(event_name)))  # fmt: skip
        else:
            label = _("Not again with {name} ({event})").format(
                name=companion.name, event=event_name
            )
            buttons.append((label, button(update, Avoid(companion.person_id))))
    await send(update, context, "\n".join(lines), column(buttons) if buttons else None)
    return END


@signed(Avoid)
async def on_avoid_button(update: Update, context: Context, avoid: Avoid) -> None:
    _ = tr(update, context).gettext
    try:
        companion = await privacy.avoid(update.effective_user.id, avoid.person)
    except UserInputError as error:
        await answer_query(update, error.translate(_), alert=True)
        return
    await answer_query(update)
    await close_buttons(update)
    await send(update, context, _("Noted: you will not be grouped with {name} again. She is "
                                  "not told.").format(name=esc(companion.name)))  # fmt: skip


def shared_commands() -> list[BaseHandler]:
    return [
        CommandHandler("mydata", on_my_data, filters=PRIVATE),
        CommandHandler("forget", on_forget, filters=PRIVATE),
        CommandHandler("companions", on_companions, filters=PRIVATE),
    ]


def handlers() -> list[BaseHandler]:
    return [
        CallbackQueryHandler(on_forget_button, pattern=pattern(Forget)),
        CallbackQueryHandler(on_avoid_button, pattern=signed_pattern(Avoid)),
    ]
