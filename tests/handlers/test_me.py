"""`/me` after she signed up: her registration is shown, not asked again. What she writes next
goes where it would have gone without `/me` (her group, her commands); only an edit button she
taps makes her next message an answer, and a command or a reply to her group leaves that edit
with what she answered kept. Also: a link that is not a sign-up, in the middle of one, and the
summary's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from companion_bot.i18n import LANGUAGES
from companion_bot.models import GroupKind, Registration, RegistrationStatus
from companion_bot.services.events import create_event
from tests.handlers.test_groups import ALL_ANNOUNCED, members_of, membership, sign_up_people
from tests.handlers.test_relay import a_group_of_three, received
from tests.handlers.test_signup import reach_destination_step, registration_of
from tests.support import BotHarness, data, event_spec, sign_up, texts_after

CAPTURED = ("Please answer with one of the buttons", "You are in the middle of signing up")


def not_captured(person, before: int) -> None:
    for text in texts_after(person, before):
        assert not any(phrase in text for phrase in CAPTURED), text


@pytest.mark.parametrize("shown_by", ["/me", "/start"])
async def test_her_summary_captures_nothing(harness: BotHarness, event, shown_by) -> None:
    ada, bea, cleo = await a_group_of_three(harness, event)
    before = await registration_of(ada)
    reply = await harness.say(ada, "/me" if shown_by == "/me" else f"/start {event.attendee_code}")
    assert "You are signed up" in reply.text
    shown = len(ada.messages())

    await harness.say(ada, "I'm at the bar, green jacket")
    await ada.send_photo(caption="our spot")
    await ada.send_location(48.8649, 2.3800)
    await harness.drain()
    for other in (bea, cleo):
        assert "Ada: I'm at the bar, green jacket" in received(other)
        assert any(m.caption == "Ada: our spot" for m in other.messages())
        assert any(m.location for m in other.messages())
    reply = await harness.say(ada, "/group")
    assert reply.text.startswith("Your group for Nuit Compagnonnes")

    not_captured(ada, shown)
    after = await registration_of(ada)
    assert after.status == RegistrationStatus.CONFIRMED
    assert after.destination_place_id == before.destination_place_id


async def test_an_edit_answers_her_next_message_only(harness: BotHarness, event) -> None:
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "/me")
    reply = await harness.tap(ada, data("su:edit:destination"))
    assert reply.text.startswith("Where are you heading after the event?")

    reply = await harness.say(ada, "Bagnolet")
    assert "Bagnolet" in reply.text and "You are signed up" in reply.text
    assert (await registration_of(ada)).destination_place_id == "fr-bagnolet"
    # Answered: the summary is no question, her next message is for her group again.
    shown = len(ada.messages())
    await harness.say(ada, "see you at the door")
    await harness.drain()
    assert "Ada: see you at the door" in received(bea)
    not_captured(ada, shown)


async def test_a_command_leaves_the_edit_and_does_what_it_says(harness: BotHarness, event) -> None:
    ada, bea, _cleo = await a_group_of_three(harness, event)
    await harness.say(ada, "/me")
    question = await harness.tap(ada, data("su:edit:destination"))

    reply = await harness.say(ada, "/group")
    assert reply.text.startswith("Your group for Nuit Compagnonnes")
    assert question.inline_buttons() == []  # the edit's question is closed
    await harness.say(ada, "Montreuil")
    await harness.drain()
    assert "Ada: Montreuil" in received(bea)
    registration = await registration_of(ada)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.destination_place_id == "fr-montreuil"  # as she signed up


async def test_a_reply_to_her_group_leaves_the_edit(harness: BotHarness, event) -> None:
    ada, bea, cleo = await a_group_of_three(harness, event)
    await harness.say(bea, "Where are you?")
    await harness.drain()
    await harness.say(ada, "/me")
    await harness.tap(ada, data("su:edit:transport"))
    shown = len(ada.messages())

    relayed = next(m for m in ada.messages() if m.text == "Bea: Where are you?")
    await ada.send_text("At the entrance", reply_to=relayed)
    await harness.drain()
    assert "Ada: At the entrance" in received(bea) and "Ada: At the entrance" in received(cleo)
    await harness.say(ada, "coming")
    await harness.drain()
    assert "Ada: coming" in received(bea)
    not_captured(ada, shown)
    assert (await registration_of(ada)).transport == "transit"


async def test_a_reply_to_her_group_mid_sign_up_goes_to_the_group(harness: BotHarness, event):
    """Grouped for one night, signing up for the next: a reply to her group is not an answer,
    and the sign-up's question stays where it was."""
    ada, bea, _cleo = await a_group_of_three(harness, event)
    later = event_spec(datetime.now(UTC) + timedelta(days=3), name="Second Night")
    second = await create_event(later, None)
    await harness.say(bea, "Where are you?")
    await harness.drain()
    await harness.say(ada, f"/start {second.attendee_code}")
    await harness.tap(ada, data("su:lang:en"))
    await harness.tap(ada, data("su:charter:yes"))
    question = await harness.tap(ada, data("su:arr:slot:*"))
    assert question.text.startswith("Where are you heading after the event?")

    relayed = next(m for m in ada.messages() if m.text == "Bea: Where are you?")
    await ada.send_text("At the entrance", reply_to=relayed)
    await harness.drain()
    assert "Ada: At the entrance" in received(bea)
    reply = await harness.say(ada, "Pantin")
    assert reply.text == "How will you travel home?"


async def test_what_she_answered_before_leaving_an_edit_is_kept(harness: BotHarness, event):
    sam = harness.user(first_name="Sam", language_code="en")
    await reach_destination_step(harness, sam, event)
    await harness.tap(sam, data("su:dest:none"))
    await harness.tap(sam, data("su:sum:confirm"))

    await harness.say(sam, "/me")
    await harness.tap(sam, data("su:edit:destination"))
    reply = await harness.say(sam, "Pantin")
    assert reply.text == "How will you travel home?"
    reply = await harness.say(sam, "/group")
    assert reply.text == "You are not in a group right now."
    registration = await registration_of(sam)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.destination_place_id == "fr-pantin"
    reply = await harness.say(sam, "/me")
    assert "Pantin" in reply.text and "Transport: —" in reply.text


async def test_bad_input_during_an_edit_is_answered_and_loses_nothing(harness: BotHarness, event):
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    await harness.say(ada, "/me")
    await harness.tap(ada, data("su:edit:destination"))
    before = len(ada.messages())
    await ada.send_sticker("🦄")
    await harness.settle()
    told = texts_after(ada, before)
    assert told[0] == "I can only read text here."
    assert told[-1].startswith("Where are you heading after the event?")
    reply = await harness.say(ada, "Bagnolet")
    assert "Bagnolet" in reply.text and "You are signed up" in reply.text


async def test_an_older_summary_edits_nothing(harness: BotHarness, event) -> None:
    """Two events: the summary of the first, shown before the second's, is stale; its button
    (forged, since showing the second retired it) must not edit the second registration."""
    later = event_spec(datetime.now(UTC) + timedelta(days=2), name="Second Night")
    second = await create_event(later, None)
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    await sign_up(harness, ada, second.attendee_code, destination="Pantin")
    await harness.say(ada, "/me")
    first_summary = await harness.tap(ada, "Nuit Compagnonnes")
    await harness.say(ada, "/me")
    await harness.tap(ada, "Second Night")
    assert first_summary.inline_buttons() == []

    before = len(ada.messages())
    await ada.tap_data(first_summary.message_id, "su:edit:destination")
    await harness.settle()
    assert ada.callback_answers()[-1].text == "This button is no longer active."
    assert texts_after(ada, before) == []
    reply = await harness.say(ada, "Montreuil")
    assert "I didn't understand that." in reply.text
    destinations = await Registration.filter(person__telegram_id=ada.id).order_by("id")
    assert [r.destination_place_id for r in destinations] == ["fr-paris-oberkampf", "fr-pantin"]


async def test_an_edit_takes_effect_without_tapping_done(harness: BotHarness, event) -> None:
    people = await sign_up_people(harness, event, 4, places=["Montreuil"])
    await harness.travel_to(ALL_ANNOUNCED(event))
    leaver = people[0]
    departure = (await membership(leaver, GroupKind.DEPARTURE)).group

    await harness.say(leaver, "/me")
    await harness.tap(leaver, data("su:edit:transport"))
    await harness.tap(leaver, data("su:tr:taxi"))
    await harness.drain()

    assert leaver.id not in await members_of(departure)
    assert any("no longer matches your answers" in text for text in received(leaver))


# -- /start with a link that is not a sign-up, in the middle of one --------------------------

QUESTIONS = {
    "language": "Which language do you prefer?",
    "arrival": "When do you plan to arrive at La Station?",
    "destination": "Where are you heading after the event?",
}


async def reach(harness: BotHarness, person, event, step: str) -> None:
    await harness.say(person, f"/start {event.attendee_code}")
    if step == "language":
        return
    await harness.tap(person, data("su:lang:en"))
    await harness.tap(person, data("su:charter:yes"))
    await harness.tap(person, data("su:name:default"))
    if step == "destination":
        await harness.tap(person, data("su:arr:slot:*"))


@pytest.mark.parametrize("step", list(QUESTIONS))
async def test_an_unknown_link_mid_sign_up_asks_her_question_again(
    harness: BotHarness, event, step
) -> None:
    lou = harness.user(first_name="Lou", language_code="en")
    await reach(harness, lou, event, step)
    before = len(lou.messages())
    await harness.say(lou, "/start NOPE-123")
    told = texts_after(lou, before)
    assert "This link is not valid" in told[0] and "NOPE-123" in told[0]
    assert told[-1].startswith(QUESTIONS[step]), told
    await finish(harness, lou, step)


async def finish(harness: BotHarness, person, step: str) -> None:
    if step == "language":
        await harness.tap(person, data("su:lang:en"))
        await harness.tap(person, data("su:charter:yes"))
        await harness.tap(person, data("su:name:default"))
    if step in ("language", "arrival"):
        await harness.tap(person, data("su:arr:slot:*"))
    await harness.say(person, "Montreuil")
    await harness.tap(person, data("su:tr:walk"))
    await harness.tap(person, data("su:wave:*"))
    reply = await harness.tap(person, data("su:sum:confirm"))
    assert "You're signed up" in reply.text
    assert (await registration_of(person)).status == RegistrationStatus.CONFIRMED


@pytest.mark.parametrize("link", ["plain", "volunteer"])
async def test_other_starts_mid_sign_up_keep_it_going(harness: BotHarness, event, link) -> None:
    lou = harness.user(first_name="Lou", language_code="en")
    await reach(harness, lou, event, "destination")
    before = len(lou.messages())
    await harness.say(lou, "/start" if link == "plain" else f"/start {event.volunteer_code}")
    told = texts_after(lou, before)
    assert len(told) >= 2 and told[-1].startswith(QUESTIONS["destination"]), told
    await finish(harness, lou, "destination")


async def test_an_unknown_link_during_an_edit_leaves_it(harness: BotHarness, event) -> None:
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    await harness.say(ada, "/me")
    question = await harness.tap(ada, data("su:edit:destination"))
    reply = await harness.say(ada, "/start NOPE-123")
    assert "This link is not valid" in reply.text
    assert question.inline_buttons() == []
    reply = await harness.say(ada, "Montreuil")
    assert "I didn't understand that." in reply.text
    assert (await registration_of(ada)).destination_place_id == "fr-paris-oberkampf"


# -- the summary's words -----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_each_answer_has_one_name_in_the_summary_and_on_its_button(
    harness: BotHarness, event, language
) -> None:
    ada = harness.user(first_name="Ada", language_code=language)
    await sign_up(harness, ada, event.attendee_code, language=language)
    summary = await harness.say(ada, "/me")
    labels = {line.split(":")[0].strip() for line in summary.text.splitlines() if ":" in line}
    edits = [b.text.removeprefix("✏️ ") for b in summary.inline_buttons() if b.text.startswith("✏️")]
    assert len(edits) == 6
    for edit in edits:
        assert edit in labels, (edit, summary.text)


# Where Telegram's apps put "send a location": the attachment menu (📎), item "Location" in
# English, "Position" in French (Telegram's own French strings: "Position", "Envoyer votre
# position actuelle"), "Locatie" in Dutch. Every message that points there says it the same way.
ATTACHMENT_LOCATION = {"en": "(📎 → Location)", "fr": "(📎 → Position)", "nl": "(📎 → Locatie)"}
LOCALES = Path(__file__).resolve().parents[2] / "locales"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_attachment_menu_is_named_as_telegram_names_it(language) -> None:
    from babel.messages.pofile import read_po

    with (LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    pointing = [m for m in catalogue if m.id and "📎" in str(m.id)]
    assert len(pointing) >= 5
    for message in pointing:
        assert ATTACHMENT_LOCATION["en"] in message.id
        assert ATTACHMENT_LOCATION[language] in message.string, message.string
