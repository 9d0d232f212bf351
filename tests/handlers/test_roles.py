"""Role checks on the server side: every organizer and volunteer action, by command and by
button; button data cannot be forged or replayed to act on another event, group or person."""

from __future__ import annotations

from datetime import timedelta

import pytest

from companion_bot.models import (
    CompanionGroup,
    GroupKind,
    GroupMember,
    GroupStatus,
    HelpAlert,
    MessageReport,
    Registration,
    Role,
)
from companion_bot.services.events import create_event
from companion_bot.signing import sign
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import a_group_of_three, ask_for_help, report_message
from tests.support import BotHarness, event_spec

ORGANIZERS_ONLY = "Only this event's organizers can do this."
TEAM_ONLY = "Only this event's volunteers and organizers can do this."
GONE = "This button is no longer active."


@pytest.mark.parametrize("command", ["/broadcast", "/dashboard", "/departures", "/match"])
async def test_organizer_commands_refuse_others(harness: BotHarness, event, command):
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    reply = await harness.say(volunteer, command)
    assert reply.text == ORGANIZERS_ONLY


async def test_volunteer_commands_refuse_attendees(harness: BotHarness, event):
    ada = harness.user(first_name="Ada", language_code="en")
    reply = await harness.say(ada, "/waves")
    assert reply.text == TEAM_ONLY
    reply = await harness.say(ada, "/duty")
    assert reply.text == "You are not a volunteer at an upcoming event."


async def team_and_group(harness: BotHarness, event):
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    people = await a_group_of_three(harness, event)
    group = await CompanionGroup.filter(event=event, kind=GroupKind.DEPARTURE).first()
    return volunteer, people, group


async def test_a_button_replayed_by_someone_else_is_refused(harness: BotHarness, event):
    volunteer, _people, group = await team_and_group(harness, event)
    other = harness.user(first_name="Other", language_code="en")
    await harness.say(other, f"/start {event.volunteer_code}")
    # The data of a button made for `volunteer`, sent by `other`.
    replayed = sign(volunteer.id, f"vo:left:{group.id}")
    await harness.say(other, "/help")
    await other.tap_data(other.last_message().message_id, replayed)
    await harness.settle()
    assert other.callback_answers()[-1].text == GONE
    assert (await CompanionGroup.get(id=group.id)).status == GroupStatus.ANNOUNCED


async def test_team_of_another_event_cannot_act_here(harness: BotHarness, event):
    _volunteer, _people, group = await team_and_group(harness, event)
    elsewhere = await create_event(event_spec(event.doors_open + timedelta(days=3),
                                              name="Autre nuit"))  # fmt: skip
    stranger = harness.user(first_name="Stranger", language_code="en")
    await harness.say(stranger, f"/start {elsewhere.volunteer_code}")
    await harness.say(stranger, f"/start {elsewhere.organizer_code}")
    await harness.say(stranger, "/help")
    message = stranger.last_message().message_id
    # Validly signed for her, naming this event's group, person or report: refused by role.
    for data in (f"vo:left:{group.id}", f"vo:miss:{group.id}",
                 f"vm:{group.id}:{(await Registration.first()).id}"):  # fmt: skip
        await stranger.tap_data(message, sign(stranger.id, data))
        await harness.settle()
        assert stranger.callback_answers()[-1].text == TEAM_ONLY, data
    for data in (f"ev:bc:{event.id}", f"ev:db:{event.id}", f"ev:mt:{event.id}",
                 f"ev:dp:{event.id}"):  # fmt: skip
        before = len(stranger.messages())
        await stranger.tap_data(message, sign(stranger.id, data))
        await harness.settle()
        assert ORGANIZERS_ONLY in [m.text for m in stranger.messages()[before:]], data
    assert (await CompanionGroup.get(id=group.id)).status == GroupStatus.ANNOUNCED


async def test_attendee_buttons_only_act_on_her_own_registration(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    bea_registration = await Registration.get(person__telegram_id=bea.id)
    await harness.say(ada, "/help")
    message = ada.last_message().message_id
    for action in ("at", "later", "gone", "home", "coming", "alone"):
        await ada.tap_data(message, sign(ada.id, f"cl:{action}:{bea_registration.id}"))
        await harness.settle()
        assert ada.callback_answers()[-1].text == GONE, action
    refreshed = await Registration.get(id=bea_registration.id)
    assert refreshed.home_at is None and refreshed.left_at is None
    assert refreshed.at_meeting_point_at is None


async def test_help_alerts_are_claimed_only_by_the_team(harness: BotHarness, event):
    volunteer, (ada, bea, _cleo), _group = await team_and_group(harness, event)
    await harness.say(volunteer, "/duty")
    await harness.tap(volunteer, lambda b: b.text.startswith("Go on duty"))
    await harness.travel_to(event.doors_open)
    await harness.say(ada, "/help")
    await harness.tap(ada, "😟 I feel uncomfortable")
    await harness.tap(ada, "🆘 Yes, alert them")
    from companion_bot.models import HelpAlert

    alert = await HelpAlert.get(person__telegram_id=ada.id)
    await harness.say(bea, "/help")
    await bea.tap_data(bea.last_message().message_id, sign(bea.id, f"vh:claim:{alert.id}"))
    await harness.settle()
    assert bea.callback_answers()[-1].text == TEAM_ONLY
    assert (await HelpAlert.get(id=alert.id)).status == "open"
    await harness.drain()
    await harness.tap(volunteer, "🙋 I'm on it")
    assert (await HelpAlert.get(id=alert.id)).claimed_by_id is not None


async def test_report_removal_is_for_organizers_only(harness: BotHarness, event):
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    volunteer, (ada, bea, cleo), _group = await team_and_group(harness, event)
    await harness.say(ada, "rude message")
    await harness.drain()
    await report_message(harness, bea, "rude message")
    report = await MessageReport.get(event=event)
    # An attendee (even the one who reported) and a volunteer: signed for themselves, the
    # button names a real report, and the role check refuses them.
    for person in (bea, cleo, volunteer):
        await harness.say(person, "/help")
        for scope in ("event", "group"):
            await person.tap_data(person.last_message().message_id,
                                  sign(person.id, f"rm:{scope}:{report.id}"))  # fmt: skip
            await harness.settle()
            assert person.callback_answers()[-1].text == ORGANIZERS_ONLY, (person, scope)
    await harness.drain()
    registration = await Registration.get(person__telegram_id=ada.id)
    assert registration.status == "confirmed" and registration.wants_departure_group
    assert await GroupMember.filter(registration=registration, status="active").count() == 2
    assert (await MessageReport.get(id=report.id)).handled_at is None
    assert not any("removed you" in (m.text or "") for m in ada.messages())


async def test_a_duty_button_naming_another_event_is_refused(harness: BotHarness, event):
    volunteer = harness.user(first_name="Vic", language_code="en")
    await harness.say(volunteer, f"/start {event.volunteer_code}")
    elsewhere = await create_event(event_spec(event.doors_open + timedelta(days=3),
                                              name="Autre nuit"))  # fmt: skip
    await harness.say(volunteer, "/duty")
    card = volunteer.last_message().message_id
    await volunteer.tap_data(card, sign(volunteer.id, f"du:{elsewhere.id}:1"))
    await harness.settle()
    assert TEAM_ONLY in [volunteer.callback_answers()[-1].text, volunteer.last_text()]
    assert not await Role.filter(event=elsewhere).exists()
    assert not await Role.filter(on_duty=True).exists()


async def test_an_outsider_cannot_close_a_help_alert(harness: BotHarness, event):
    volunteer, (ada, _bea, _cleo), _group = await team_and_group(harness, event)
    await harness.say(volunteer, "/duty")
    await harness.tap(volunteer, lambda b: b.text.startswith("Go on duty"))
    await ask_for_help(harness, ada, "please come")
    alert = await HelpAlert.get(person__telegram_id=ada.id)
    elsewhere = await create_event(event_spec(event.doors_open + timedelta(days=3),
                                              name="Autre nuit"))  # fmt: skip
    outsider = harness.user(first_name="Out", language_code="en")
    await harness.say(outsider, f"/start {elsewhere.volunteer_code}")
    await harness.say(outsider, "/help")
    for action in ("close", "claim"):
        await outsider.tap_data(outsider.last_message().message_id,
                                sign(outsider.id, f"vh:{action}:{alert.id}"))  # fmt: skip
        await harness.settle()
        assert outsider.callback_answers()[-1].text == TEAM_ONLY, action
    refreshed = await HelpAlert.get(id=alert.id)
    assert (refreshed.status, refreshed.closed_at, refreshed.claimed_by_id) == ("open", None, None)


async def test_forged_signature_is_refused(harness: BotHarness, event):
    volunteer, _people, group = await team_and_group(harness, event)
    await harness.say(volunteer, "/waves")
    await harness.drain()  # the cards come through the outbox
    card = next(m for m in reversed(volunteer.messages()) if m.inline_buttons())
    await volunteer.tap_data(card.message_id, f"vo:left:{group.id}~AAAAAAAAAA")
    await harness.settle()
    assert volunteer.callback_answers()[-1].text == GONE
    assert (await CompanionGroup.get(id=group.id)).status == GroupStatus.ANNOUNCED
    # The real button works.
    await harness.travel_to(ALL_ANNOUNCED(event) + timedelta(minutes=1))
    await volunteer.tap("✅ Group has left", message=card)
    await harness.settle()
    assert (await CompanionGroup.get(id=group.id)).status == GroupStatus.LEFT
