"""`/start <code>`: the three invitation links (attendee, volunteer, organizer) land here.

An attendee's link starts (or shows) her sign-up. Anything else — `/start` alone, an unknown
code, a volunteer's or an organizer's link — is answered, then a sign-up she was in the middle
of goes on where it was (`signup.resume`)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, filters

from companion_bot.models import RoleKind
from companion_bot.services import people, registrations, roles
from companion_bot.services.errors import UserInputError
from companion_bot.services.events import InviteKind, resolve_invite
from handlers import signup
from handlers.common import Context, esc, remember_language, send, tr


async def on_start(update: Update, context: Context) -> str | int:
    person = await people.get_person(update.effective_user.id)
    remember_language(context, person.language if person else None)
    _ = tr(update, context).gettext
    language = tr(update, context).language
    code = context.args[0] if context.args else None
    if code is None:
        await send(update, context, welcome_text(update, context))
        return await signup.resume(update, context)
    invite = await resolve_invite(code)
    if invite is None:
        await send(
            update,
            context,
            _(
                "This link is not valid: I don't know the event code “{code}”. Check the link, "
                "or ask the organizers for a new one."
            ).format(code=esc(code[:40])),
        )
        return await signup.resume(update, context)
    event = invite.event
    # Volunteers and organizers skip the sign-up: keep the language we speak to them in, and
    # the first name attendees will see unless they choose another with /name.
    await people.ensure_person(update.effective_user.id, language)
    if invite.kind != InviteKind.ATTENDEE:
        await people.ensure_display_name(update.effective_user.id, update.effective_user.first_name)
    if invite.kind == InviteKind.VOLUNTEER:
        added = await roles.grant(update.effective_user.id, event, RoleKind.VOLUNTEER)
        text = (
            _(
                "Thank you! You are now a volunteer at <b>{event}</b>. Attendees and the team see "
                "you as “{name}” (/name to change it). /duty when your shift starts."
            )
            if added
            else _("You are already a volunteer at <b>{event}</b>.")
        )
        name = (await people.get_person(update.effective_user.id)).display_name
        event_name = esc(event.localized("name", language))
        await send(update, context, text.format(event=event_name, name=esc(name)))
        return await signup.resume(update, context)
    if invite.kind == InviteKind.ORGANIZER:
        added = await roles.grant(update.effective_user.id, event, RoleKind.ORGANIZER)
        text = (
            _("You are now an organizer of <b>{event}</b>. /myevents shows its links and sign-ups.")
            if added
            else _("You are already an organizer of <b>{event}</b>. See /myevents.")
        )
        await send(update, context, text.format(event=esc(event.localized("name", language))))
        return await signup.resume(update, context)
    try:
        registration = await registrations.start_signup(update.effective_user.id, event)
    except UserInputError as error:
        await send(update, context, error.translate(_))
        return await signup.resume(update, context)
    return await signup.begin(update, context, registration)


def welcome_text(update: Update, context: Context) -> str:
    _ = tr(update, context).gettext
    return _(
        "Hello! I help people who come alone to a party find companions to arrive and "
        "leave with, and get home safely.\n\n"
        "To sign up, open the link the organizers shared (or scan their QR code).\n"
        "/me — your registration\n/group — talk to your group\n"
        "/help — ask the volunteers for help\n/leave — cancel your registration\n"
        "/mydata — what I keep about you (/forget deletes it)\n"
        "/language — change language\n/cancel — stop what you are doing"
    )


def start_handler() -> CommandHandler:
    return CommandHandler("start", on_start, filters=filters.ChatType.PRIVATE)
