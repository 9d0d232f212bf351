"""Asking for help: the persistent "🆘 I need help" button, three levels and one confirming
tap, volunteers claiming (first wins, everyone sees who), escalation to the organizers, her
words reaching whoever has it, closing — and every step all-or-nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tortoise.transactions import in_transaction

from companion_bot import clock
from companion_bot.i18n import translator
from companion_bot.models import (
    HelpAlert,
    HelpStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    ScheduledTask,
    TaskStatus,
)
from companion_bot.services import help as alerts
from companion_bot.services import outbox, scheduler
from tests.handlers.test_relay import received
from tests.support import BotHarness, sign_up

HELP = "🆘 I need help"
YES = "🆘 Yes, alert them"


async def the_team(harness: BotHarness, event, volunteers: int):
    """The organizer, and `volunteers` volunteers on duty."""
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    team = []
    for i in range(volunteers):
        volunteer = harness.user(first_name=f"Vol{i}", language_code="en")
        await harness.say(volunteer, f"/start {event.volunteer_code}")
        await harness.say(volunteer, "/duty")
        await harness.tap(volunteer, lambda b: b.text.startswith("Go on duty"))
        team.append(volunteer)
    return orga, team


async def at_the_party(harness: BotHarness, event, name: str = "Ada"):
    """An attendee signed up, on the night (doors open)."""
    person = harness.user(first_name=name, language_code="en")
    await sign_up(harness, person, event.attendee_code)
    await harness.travel_to(event.doors_open)
    return person


async def asks_for_help(harness: BotHarness, person, level: str = "⚠️ I'm being harassed"):
    await harness.say(person, HELP)
    await harness.tap(person, level)
    return await harness.tap(person, YES)


def alert_copy(volunteer):
    return next(m for m in volunteer.messages() if "needs help at" in (m.text or ""))


async def test_the_help_button_stays_under_her_keyboard_and_starts_the_flow(
    harness: BotHarness, event
):
    _orga, (vol,) = await the_team(harness, event, 1)
    ada = harness.user(first_name="Ada", language_code="en")
    await sign_up(harness, ada, event.attendee_code)
    assert ada.reply_keyboard() == [[HELP]]
    signed_up = next(m for m in ada.messages() if "You're signed up" in (m.text or ""))
    assert signed_up.client_markup["keyboard"] == [[{"text": HELP}]]
    assert signed_up.client_markup["is_persistent"] is True

    # An hour before the doors open, the night begins: the button comes with a word.
    await harness.travel_to(event.doors_open - timedelta(minutes=30))
    night = next(m for m in ada.messages() if "is tonight" in (m.text or ""))
    assert night.client_markup["keyboard"] == [[{"text": HELP}]]

    # Tapping it: three levels, then one confirming tap; nothing goes out before it.
    reply = await harness.say(ada, HELP)
    assert "What is happening?" in reply.text
    assert [b.text for b in reply.inline_buttons()] == [
        "😟 I feel uncomfortable", "⚠️ I'm being harassed", "🚨 I'm in danger", "Cancel",
    ]  # fmt: skip
    reply = await harness.tap(ada, "😟 I feel uncomfortable")
    assert "Send an alert to the volunteers on duty now?" in reply.text
    await harness.drain()
    assert not any("needs help" in text for text in received(vol))
    assert (await HelpAlert.get(person__telegram_id=ada.id)).status == HelpStatus.DRAFT
    reply = await harness.tap(ada, YES)
    assert "Alert sent to 1 volunteer on duty." in reply.text
    await harness.drain()
    assert "🆘 😟 I feel uncomfortable — Ada needs help at Nuit Compagnonnes." in received(vol)

    # In French, the button speaks French and works the same.
    bea = harness.user(first_name="Bea", language_code="fr")
    await sign_up(harness, bea, event.attendee_code, language="fr")
    french = translator("fr").gettext
    assert bea.reply_keyboard() == [[french(HELP)]] != [[HELP]]
    reply = await harness.say(bea, french(HELP))
    assert reply.text == french("What is happening? The volunteers on duty will come to you.")


async def test_confirming_is_all_or_nothing_and_a_second_tap_completes_it(
    harness: BotHarness, event, monkeypatch
):
    _orga, team = await the_team(harness, event, 2)
    ada = await at_the_party(harness, event)
    await harness.say(ada, HELP)
    await harness.tap(ada, "🚨 I'm in danger")
    prompt = ada.last_message()
    yes = next(b for b in prompt.inline_buttons() if b.text == YES)

    async def lost_connection(*args, **kwargs):
        raise ConnectionError("database went away")

    # The escalation timer is the last write: it fails after the status and the alerts.
    monkeypatch.setattr(scheduler, "schedule", lost_connection)
    reply = await harness.tap(ada, YES)
    assert "something went wrong" in reply.text
    alert = await HelpAlert.get(person__telegram_id=ada.id)
    assert alert.status == HelpStatus.DRAFT
    assert not await OutboxMessage.filter(dedupe_key__startswith=f"help:{alert.id}:").exists()
    assert not await ScheduledTask.filter(dedupe_key__startswith=f"help:{alert.id}:").exists()

    monkeypatch.undo()
    reply = await harness.tap(ada, YES)
    assert "Alert sent to 2 volunteers on duty." in reply.text
    # Her answer lost, she taps the same button again: told the same, nothing sent twice.
    await ada.tap_data(prompt.message_id, yes.callback_data)
    await harness.drain()
    assert ada.last_text().startswith("Alert sent to 2 volunteers on duty.")
    for volunteer in team:
        assert sum("needs help" in text for text in received(volunteer)) == 1
    assert await scheduler.pending(f"help:{alert.id}:escalation") is not None


async def test_two_volunteers_claim_at_once_one_wins_and_both_see_who(harness: BotHarness, event):
    _orga, team = await the_team(harness, event, 3)
    ada = await at_the_party(harness, event)
    await asks_for_help(harness, ada)
    await harness.drain()
    copies = {volunteer.id: alert_copy(volunteer) for volunteer in team}
    buttons = {v.id: copies[v.id].inline_buttons()[0].callback_data for v in team}
    await asyncio.gather(
        *(v.tap("🙋 I'm on it", message=copies[v.id]) for v in team[:2])
    )  # fmt: skip
    await harness.drain()
    alert = await HelpAlert.get(person__telegram_id=ada.id).prefetch_related("claimed_by")
    assert alert.status == HelpStatus.CLAIMED
    winner = alert.claimed_by.display_name
    assert winner in ("Vol0", "Vol1")
    for volunteer in team[:2]:
        if volunteer.first_name == winner:
            thanks = [t for t in received(volunteer) if t.startswith("Thank you. She knows")]
            assert len(thanks) == 1
            # Pressing her claim again (her answer lost) still says she has it.
            await volunteer.tap_data(copies[volunteer.id].message_id, buttons[volunteer.id])
            await harness.drain()
            assert volunteer.last_text().startswith("Thank you. She knows you are coming")
            assert volunteer.callback_answers()[-1].text is None  # not "Already taken by"
        else:
            answers = [answer.text or "" for answer in volunteer.callback_answers()]
            assert f"Already taken by {winner}." in answers
            assert f"Taken by {winner}" in alert_copy(volunteer).text
    # The third one's copy is edited to say who took it, without its button.
    third = alert_copy(team[2])
    assert f"Taken by {winner} at" in third.text and not third.inline_buttons()
    assert f"🙋 {winner}, a volunteer, is on the way to you." in received(ada)[-1]
    assert await scheduler.pending(f"help:{alert.id}:escalation") is None


async def asks_while_volunteers_wait(person, level: str = "⚠️ I'm being harassed") -> None:
    """`asks_for_help`, waiting for her own answers only: the volunteers' queues are held
    up (`hold_up`), so the bot is never idle."""

    def offers(label: str):
        return lambda message: any(b.text == label for b in message.inline_buttons())

    await person.send_text(HELP)
    await person.wait_for_message(offers(level), timeout=30)
    await person.tap(level)
    await person.wait_for_message(offers(YES), timeout=30)
    await person.tap(YES)
    await person.wait_for_message(lambda m: "volunteers" in (m.text or ""), timeout=30)


async def hold_up(chats: list) -> list[int]:
    """As if these chats' queues were long: a message ahead of theirs (first by priority),
    waiting for a retry in an hour, holds up the rest of each chat (the outbox keeps a
    chat's order)."""
    held = []
    # One transaction: the outbox, woken by the commit, never sees the message due now.
    async with in_transaction():
        for person in chats:
            row = await outbox.enqueue(person.id, "an earlier message", priority=100)
            await OutboxMessage.filter(id=row.id).update(
                attempts=1, not_before=clock.now() + timedelta(hours=1)
            )
            held.append(row.id)
    return held


async def test_copies_not_sent_yet_are_cancelled_once_claimed(harness: BotHarness, event):
    _orga, team = await the_team(harness, event, 2)
    ada = await at_the_party(harness, event)
    await harness.drain()
    held = await hold_up(team)  # her alert's copies wait
    await asks_while_volunteers_wait(ada)
    alert = await HelpAlert.get(person__telegram_id=ada.id)
    copies = OutboxMessage.filter(dedupe_key__startswith=f"help:{alert.id}:vol:")
    assert {row.status for row in await copies} == {OutboxStatus.PENDING}
    claim = await alerts.claim(team[0].id, alert.id)
    assert claim.first
    assert {row.status for row in await copies} == {OutboxStatus.CANCELLED}
    await OutboxMessage.filter(id__in=held).delete()
    await harness.drain()
    assert not any("needs help" in text for text in received(team[1]))
    assert "🙋 Vol0, a volunteer, is on the way to you." in received(ada)[-1]


async def test_a_copy_on_its_way_when_the_alert_is_taken_says_so_once_it_arrives(
    harness: BotHarness, event
):
    _orga, team = await the_team(harness, event, 2)
    ada = await at_the_party(harness, event)
    await harness.drain()
    held = await hold_up(team)
    await asks_while_volunteers_wait(ada)
    alert = await HelpAlert.get(person__telegram_id=ada.id)
    # Vol1's copy is being sent by another process at the moment Vol0 takes the alert.
    vol1 = await Person.get(telegram_id=team[1].id)
    in_flight = await OutboxMessage.get(dedupe_key=alerts.key(alert.id, alerts.VOLUNTEER_COPY,
                                                              vol1.id))  # fmt: skip
    await OutboxMessage.filter(id=in_flight.id).update(
        status=OutboxStatus.SENDING, claimed_by="elsewhere-1-abcdef", claimed_at=clock.now()
    )
    await alerts.claim(team[0].id, alert.id)
    # That process died before it was sent: it goes back to the queue and goes out here.
    await OutboxMessage.filter(id=in_flight.id).update(status=OutboxStatus.PENDING)
    await OutboxMessage.filter(id__in=held).delete()
    await harness.drain()
    copy = alert_copy(team[1])
    assert "Taken by Vol0 at" in copy.text and not copy.inline_buttons()


async def test_she_is_told_when_the_organizers_are_alerted(harness: BotHarness, event):
    orga, team = await the_team(harness, event, 1)
    ada = await at_the_party(harness, event)
    await asks_for_help(harness, ada, "🚨 I'm in danger")
    await harness.travel_to(clock.now() + timedelta(minutes=1, seconds=1))
    assert (
        "⏰ Not claimed yet by a volunteer:\n🆘 🚨 I'm in danger — Ada needs help at"
        in "\n".join(received(orga))
    )
    assert any(t.startswith("⏰ No volunteer has answered yet") for t in received(ada))
    # An organizer may take it from there.
    await harness.tap(orga, "🙋 I'm on it")
    await harness.drain()
    assert "🙋 Orga, a volunteer, is on the way to you." in received(ada)[-1]
    assert "Taken by Orga at" in alert_copy(team[0]).text


async def test_without_a_volunteer_on_duty_the_organizers_are_alerted_at_once(
    harness: BotHarness, event
):
    orga, _ = await the_team(harness, event, 0)
    off_duty = harness.user(first_name="Vic", language_code="en")
    await harness.say(off_duty, f"/start {event.volunteer_code}")  # never goes on duty
    ada = await at_the_party(harness, event)
    reply = await asks_for_help(harness, ada)
    assert "No volunteer is on duty right now: the organizers are alerted." in reply.text
    await harness.drain()  # no clock moved: no timer involved
    assert any(t.startswith("📵 No volunteer is on duty:\n🆘 ⚠️ I'm being harassed — Ada")
               for t in received(orga))  # fmt: skip
    assert not any("needs help" in t for t in received(off_duty))
    alert = await HelpAlert.get(person__telegram_id=ada.id)
    assert alert.escalated_at is not None
    assert not await ScheduledTask.exists(dedupe_key=f"help:{alert.id}:escalation")
    assert not any("No volunteer has answered yet" in t for t in received(ada))


async def test_her_words_reach_whoever_has_it_and_closing_tells_her(harness: BotHarness, event):
    _orga, (vol0, vol1) = await the_team(harness, event, 2)
    ada = await at_the_party(harness, event)
    await asks_for_help(harness, ada)
    await harness.drain()
    reply = await harness.say(ada, "A man keeps following me near the bar")
    assert reply.text == "Passed on to the volunteers."
    await harness.drain()
    for volunteer in (vol0, vol1):
        assert "🆘 Ada adds: “A man keeps following me near the bar”" in received(volunteer)

    await harness.tap(vol1, "🙋 I'm on it", message=alert_copy(vol1))
    await harness.say(ada, "Now by the cloakroom")
    await harness.drain()
    assert "🆘 Ada adds: “Now by the cloakroom”" in received(vol1)
    assert not any("cloakroom" in t for t in received(vol0))

    await harness.tap(vol1, "✅ Close the alert")
    await harness.drain()
    alert = await HelpAlert.get(person__telegram_id=ada.id)
    assert alert.status == HelpStatus.CLOSED and alert.latitude is None
    assert received(ada)[-1].startswith("✅ Your help request is closed.")
    assert "Closed by Vol1 at" in alert_copy(vol0).text
    assert not await ScheduledTask.filter(
        dedupe_key__startswith=f"help:{alert.id}:", status=TaskStatus.PENDING
    ).exists()
    # Once closed, what she writes is no longer an alert's.
    reply = await harness.say(ada, "thanks!")
    assert reply.text != "Passed on to the volunteers."


async def test_whoever_claimed_is_reminded_then_told_when_she_closes_it(harness: BotHarness, event):
    _orga, (vol,) = await the_team(harness, event, 1)
    ada = await at_the_party(harness, event)
    await asks_for_help(harness, ada, "😟 I feel uncomfortable")
    await harness.drain()
    await harness.tap(vol, "🙋 I'm on it")
    await harness.travel_to(clock.now() + alerts.CLAIM_REMINDER_AFTER + timedelta(seconds=1))
    reminder = vol.last_message()
    assert reminder.text.startswith("🆘 Is Ada safe now? Her alert is still open")
    await harness.tap(ada, "I'm OK now, close it")
    await harness.drain()
    assert "✅ Ada closed her help request herself." in received(vol)
    await harness.tap(vol, "✅ Close the alert", message=reminder)
    assert vol.callback_answers()[-1].text == "This button is no longer active."
