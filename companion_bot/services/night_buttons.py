"""What an attendee's closing-time buttons do (`actions.Closing`, offered by the
wave reminders and "are you home?" of services/closing.py and services/escalation.py): at the
meeting point, leaving with a later departure, already gone, on her way, leaving without her
group, home. Carried out for whoever tapped them, with the note she gets back; Telegram's and
WhatsApp's edges both call `press`."""

from __future__ import annotations

from companion_bot.actions import Closing
from companion_bot.i18n import N_, Translator
from companion_bot.services import closing, escalation
from companion_bot.services.errors import UserInputError
from companion_bot.services.people import Who


async def press(who: Who, t: Translator, action: Closing) -> str:
    """Raises UserInputError for a button that is not hers or no longer means anything."""
    _ = t.gettext
    what, registration_id = action.what, action.registration
    if what == "at":
        await closing.at_meeting_point(who, registration_id)
        return _("Great: your group and the volunteers can see you are at the meeting point.")
    if what == "later":
        wave = await closing.leave_later(who, registration_id, from_wave_id=action.from_wave)
        await wave.fetch_related("event")
        return _(
            "OK: you now leave with the {time} departure. We will introduce your new group."
        ).format(time=t.time(wave.departs_at, wave.event.timezone))
    if what == "gone":
        await closing.already_left(who, registration_id)
        return _("Noted. Tap “I'm home” when you get there: /me shows the button again.")
    if what == "coming":
        await closing.on_my_way(who, registration_id)
        return _("Your group knows you are on your way.")
    if what == "alone":
        await closing.without_me(who, registration_id)
        return _("OK: your group leaves without you. Take care, and /help if you need us.")
    if what == "home":
        await escalation.she_is_home(who, registration_id)
        return _("🏠 Glad you are home! Your group knows. Sleep well.")
    raise UserInputError(N_("This button is no longer active."))
