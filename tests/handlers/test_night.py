"""A whole night against the emulator: 40 attendees, 3 volunteers and an organizer — sign-ups,
groups, two waves, a late leaver, a missing member, check-ins, an escalation, a claimed help
alert, a broadcast and its report. The bot's clock is moved forward from task to task."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from companion_bot.models import (
    CompanionGroup,
    GroupKind,
    GroupStatus,
    HelpAlert,
    HelpStatus,
    Registration,
)
from tests.support import BotHarness, sign_up_waiting

EAST = ["Montreuil", "Bagnolet", "Vincennes", "Les Lilas", "Romainville", "Saint-Mandé",
        "Fontenay-sous-Bois", "Rosny-sous-Bois", "Noisy-le-Sec", "Pantin"]  # fmt: skip


def texts(person) -> list[str]:
    return [message.text or "" for message in person.messages()]


def has(person, fragment: str) -> bool:
    return any(fragment in text for text in texts(person))


async def test_a_whole_night(harness: BotHarness, event) -> None:
    # -- the team ------------------------------------------------------------------------
    orga = harness.user(first_name="Orga", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    volunteers = [harness.user(first_name=f"Vol{i}", language_code="en") for i in range(3)]
    for volunteer in volunteers:
        await harness.say(volunteer, f"/start {event.volunteer_code}")
        await harness.say(volunteer, "/duty")
        reply = await harness.tap(volunteer, lambda b: b.text.startswith("Go on duty"))
        assert "You are on duty at" in reply.text

    # -- 40 sign-ups, at the same time, on two waves ----------------------------------------
    attendees = [harness.user(first_name=f"Amie{i:02d}", language_code="en") for i in range(40)]
    first_wave, second_wave = attendees[:24], attendees[24:]
    await asyncio.gather(
        *(
            sign_up_waiting(person, event.attendee_code, destination=EAST[i % len(EAST)],
                            wave="03:00" if person in first_wave else "06:00")
            for i, person in enumerate(attendees)
        )
    )  # fmt: skip
    await harness.drain()
    assert await Registration.filter(event=event, status="confirmed").count() == 40

    # -- groups: announced at their deadlines, everyone introduced -----------------------
    wave_one = event.doors_open + timedelta(hours=4)
    await harness.travel_to(wave_one - timedelta(minutes=16))
    departure = await CompanionGroup.filter(event=event, kind=GroupKind.DEPARTURE,
                                            status=GroupStatus.ANNOUNCED)  # fmt: skip
    assert len(departure) >= 8
    for person in attendees:
        assert has(person, "Your departure group") or has(person, "not found a group"), texts(
            person
        )

    # -- the 03:00 reminder --------------------------------------------------------------------
    await harness.travel_to(wave_one - timedelta(minutes=15))
    for person in first_wave:
        assert has(person, "Your departure leaves at 03:00 from Main entrance"), texts(person)
    for person in second_wave:
        assert not has(person, "Your departure leaves at")
    cards = [m for m in volunteers[0].messages() if (m.text or "").startswith("Group ")]
    assert cards and all("03:00, Main entrance" in card.text for card in cards), texts(
        volunteers[0]
    )

    late_leaver, missing, quiet = first_wave[0], first_wave[1], first_wave[2]
    for person in first_wave[1:]:
        if person is not missing:
            await harness.tap(person, "📍 I'm at the meeting point")
    before = len(late_leaver.messages())
    await harness.tap(late_leaver, "⏰ I'm leaving later")
    answers = texts(late_leaver)[before:]  # the answer, then her new group's introduction
    assert any("you now leave with the 06:00 departure" in text for text in answers), answers
    await harness.drain()
    late = await Registration.get(person__telegram_id=late_leaver.id).prefetch_related(
        "departure_wave"
    )
    assert late.departure_wave.departs_at == event.doors_open + timedelta(hours=7)
    assert any(has(p, "Amie00 will leave later") for p in first_wave[1:])

    # -- a missing member ----------------------------------------------------------------------
    vol0 = volunteers[0]
    await harness.say(vol0, "/waves")
    await harness.drain()  # the cards come through the outbox
    missing_card = next(
        m for m in reversed(vol0.messages()) if "Amie01 — not there yet" in (m.text or "")
    )
    await harness.tap(vol0, "❓ Someone is missing", message=missing_card)
    await harness.tap(vol0, "Amie01")
    await harness.drain()
    assert has(vol0, "We asked Amie01 where she is")
    assert has(missing, "Where are you?")
    await harness.tap(missing, "🏃 I'm on my way")
    await harness.drain()
    assert any(has(p, "Amie01 is on her way") for p in first_wave if p is not missing)
    await harness.tap(missing, "📍 I'm at the meeting point")

    # -- two volunteers confirm the same group at once: one confirmation ----------------------
    group_of_missing = await CompanionGroup.get(
        kind=GroupKind.DEPARTURE, members__registration__person__telegram_id=missing.id,
        members__status="active",
    )  # fmt: skip
    for volunteer in volunteers[:2]:
        await harness.say(volunteer, "/waves")
    await harness.drain()
    card_of = {
        v.id: next(m for m in reversed(v.messages())
                   if "Amie01 —" in (m.text or "") and m.inline_buttons())
        for v in volunteers[:2]
    }  # fmt: skip
    await asyncio.gather(
        *(v.tap("✅ Group has left", message=card_of[v.id]) for v in volunteers[:2])
    )
    await harness.drain()
    group_of_missing = await CompanionGroup.get(id=group_of_missing.id).prefetch_related(
        "left_confirmed_by"
    )
    assert group_of_missing.status == GroupStatus.LEFT
    confirmer = group_of_missing.left_confirmed_by.display_name
    assert confirmer in ("Vol0", "Vol1")
    for volunteer in volunteers[:2]:
        card = card_of[volunteer.id]
        answers = [a.text or "" for a in volunteer.callback_answers()]
        assert f"confirmed by {confirmer}" in (card.text or "") or any(
            f"Already confirmed by {confirmer}" in a for a in answers
        )

    # The other 03:00 groups leave too.
    await harness.say(volunteers[2], "/waves")
    await harness.drain()
    for card in [m for m in volunteers[2].messages() if m.inline_buttons()]:
        if any(b.text == "✅ Group has left" for b in card.inline_buttons()):
            await harness.tap(volunteers[2], "✅ Group has left", message=card)
    await harness.drain()
    for person in first_wave[1:]:
        assert has(person, "Your group has left. Have a safe trip!"), texts(person)

    # -- check-ins: everyone home but one ---------------------------------------------------
    for person in first_wave[1:]:
        if person is not quiet:
            await harness.tap(person, "🏠 I'm home")
            assert has(person, "Glad you are home")
    await harness.drain()
    assert any(has(p, "🏠 Amie01 is home.") for p in first_wave if p is not missing)

    left_at = (await Registration.get(person__telegram_id=quiet.id)).left_at
    await harness.travel_to(left_at + timedelta(minutes=60, seconds=1))
    assert has(quiet, "Did you get home safely?")
    await harness.travel_to(left_at + timedelta(minutes=75, seconds=1))
    assert any(has(p, "Has anyone heard from Amie02?") for p in first_wave if p is not quiet)
    await harness.travel_to(left_at + timedelta(minutes=105, seconds=1))
    for person in volunteers:
        alert = [t for t in texts(person) if t.startswith("⚠️ No news from Amie02")]
        assert alert, texts(person)
        assert str(quiet.id) not in alert[0]
    await harness.travel_to(left_at + timedelta(minutes=135, seconds=1))
    assert has(orga, "🚨 No news from Amie02, even after"), texts(orga)

    # -- a help alert, claimed ------------------------------------------------------------------
    asking = second_wave[0]
    await harness.say(asking, "/help")
    await harness.tap(asking, "⚠️ I'm being harassed")
    reply = await harness.tap(asking, "🆘 Yes, alert them")
    assert "Alert sent to 3 volunteers on duty." in reply.text
    await harness.drain()
    for volunteer in volunteers:
        assert has(volunteer, "🆘 ⚠️ I'm being harassed — Amie24 needs help")
    await harness.tap(volunteers[1], "🙋 I'm on it")
    await harness.drain()
    assert has(asking, "Vol1, a volunteer, is on the way to you")
    for volunteer in (volunteers[0], volunteers[2]):
        assert has(volunteer, "Taken by Vol1"), texts(volunteer)
    alert = await HelpAlert.get(person__telegram_id=asking.id)
    assert alert.status == HelpStatus.CLAIMED

    # -- an alert nobody claims goes to the organizers ------------------------------------------
    scared = second_wave[1]
    await harness.say(scared, "/help")
    await harness.tap(scared, "🚨 I'm in danger")
    await harness.tap(scared, "🆘 Yes, alert them")
    await harness.travel_to(harness_now() + timedelta(minutes=1, seconds=1))
    assert (await HelpAlert.get(person__telegram_id=scared.id)).escalated_at is not None
    assert has(orga, "Not claimed yet by a volunteer"), texts(orga)

    # -- a broadcast and its report ---------------------------------------------------------------
    await second_wave[-1].block_bot()
    await harness.settle()
    await harness.say(orga, "/broadcast")
    await harness.tap(orga, lambda b: b.text.startswith("All attendees (40)"))
    reply = await harness.say(orga, "The 06:00 departure will leave from the back door.")
    assert "This goes to 40 people" in reply.text
    await harness.tap(orga, "📣 Send")
    await harness.travel_to(harness_now() + timedelta(seconds=30))
    for person in attendees[:-1]:
        assert has(person, "The 06:00 departure will leave from the back door."), texts(person)
    assert has(
        orga, "Delivery report of your message to 40 people: 39 sent, 1 blocked the bot, 0 failed"
    )

    # -- the dashboard ----------------------------------------------------------------------------
    reply = await harness.say(orga, "/dashboard")
    assert "40 signed up" in reply.text
    assert "1 no news" in reply.text
    assert harness.application.bot_data.get("errors", 0) == 0


def harness_now():
    from companion_bot import clock

    return clock.now()
