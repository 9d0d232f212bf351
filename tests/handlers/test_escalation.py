"""The staged "are you home?": she is asked, then her group ("has anyone heard from her?"),
then the volunteers on duty, then the organizers; "I'm home" (or her group or a volunteer
confirming she is safe) cancels what is left and gives everyone alerted an all-clear."""

from __future__ import annotations

from datetime import timedelta

from companion_bot.models import (
    DepartureWave,
    GroupKind,
    GroupMember,
    Registration,
    ScheduledTask,
    TaskStatus,
)
from companion_bot.signing import sign
from tests.handlers.test_relay import a_group_of_three, received, volunteer_on_duty
from tests.support import BotHarness, data


def has(person, fragment: str) -> bool:
    return any(fragment in text for text in received(person))


async def ada_left(harness: BotHarness, event):
    """Ada, Bea and Cleo in one group, Dana (who wants no departure group) in none; Ada
    leaves on her own before the departure. Returns Ada, Bea, Dana (outside her group), her
    registration."""
    dana = harness.user(first_name="Dana", language_code="en")
    await harness.say(dana, f"/start {event.attendee_code}")
    for step in ("su:lang:en", "su:charter:yes", "su:name:default", "su:arr:slot:*",
                 "su:dest:none", "su:sum:confirm"):  # fmt: skip
        await harness.tap(dana, data(step))
    ada, bea, _cleo = await a_group_of_three(harness, event)
    ada_group = await GroupMember.get(
        registration__person__telegram_id=ada.id, group__kind=GroupKind.DEPARTURE
    )
    assert not await GroupMember.exists(
        registration__person__telegram_id=dana.id, group_id=ada_group.group_id
    )
    wave = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(wave.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "🚪 I've already left")
    await harness.drain()
    registration = await Registration.get(person__telegram_id=ada.id)
    return ada, bea, dana, registration


async def an_organizer(harness: BotHarness, event):
    orga = harness.user(first_name="Orla", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    return orga


async def test_every_stage_then_she_is_home(harness: BotHarness, event):
    orga = await an_organizer(harness, event)
    vic = await volunteer_on_duty(harness, event)
    ada, bea, dana, registration = await ada_left(harness, event)
    left = registration.left_at

    # 1. her reminder, after the check-in delay (60 min), and nobody else yet
    await harness.travel_to(left + timedelta(minutes=60, seconds=1))
    assert has(ada, "Did you get home safely?")
    assert not has(bea, "Has anyone heard from Ada?")
    # 2. her group, 15 min later, with one-tap answers; not her, not the team
    await harness.travel_to(left + timedelta(minutes=75, seconds=1))
    assert has(bea, "❓ Has anyone heard from Ada?"), received(bea)[-4:]
    assert not has(dana, "Has anyone heard from")
    assert not has(ada, "Has anyone heard from")
    assert not has(vic, "No news from Ada")
    reply = await harness.tap(bea, "🤷 No news")
    assert "The volunteers are looking after it" in reply.text
    # 3. the volunteers on duty, 30 min later (the organizer is not bothered yet)
    await harness.travel_to(left + timedelta(minutes=105, seconds=1))
    assert has(vic, "⚠️ No news from Ada")
    assert not has(orga, "No news from Ada")
    # a group member's "no news" now reaches the volunteers alerted
    await harness.tap(bea, "🤷 No news")
    await harness.drain()
    assert has(vic, "Bea, of her group, has no news of Ada either.")
    # 4. the organizers, 30 min after the volunteers
    await harness.travel_to(left + timedelta(minutes=135, seconds=1))
    assert has(orga, "🚨 No news from Ada, even after")

    # She taps "I'm home": all clear to the team alerted, her group hears she is home.
    await harness.tap(ada, "🏠 I'm home")
    await harness.drain()
    for person in (vic, orga):
        assert has(person, "✅ All clear: Ada says she is home."), received(person)
    assert has(bea, "🏠 Ada is home.")
    assert not await ScheduledTask.exists(
        dedupe_key__startswith=f"home:{registration.id}:", status=TaskStatus.PENDING
    )
    # Tapping again (an old button) changes nothing and sends no second all-clear.
    await ada.tap_data(ada.last_message().message_id, sign(ada.id, f"cl:home:{registration.id}"))
    await harness.drain()
    assert sum("All clear" in t for t in received(vic)) == 1


async def test_her_group_says_she_is_fine(harness: BotHarness, event):
    orga = await an_organizer(harness, event)
    vic = await volunteer_on_duty(harness, event)
    _ada, bea, dana, registration = await ada_left(harness, event)
    left = registration.left_at
    await harness.travel_to(left + timedelta(minutes=75, seconds=1))

    # Someone outside her group and the team cannot answer for her, even with a signed button.
    await harness.say(dana, "/me")
    await dana.tap_data(dana.last_message().message_id, sign(dana.id, f"hs:ok:{registration.id}"))
    await harness.settle()
    assert "Only her group and the team of the event can do this." in (
        dana.callback_answers()[-1].text or ""
    )
    assert (await Registration.get(id=registration.id)).home_at is None

    reply = await harness.tap(bea, "✅ She's fine")
    assert reply.text == "✅ Thank you: everyone who was alerted knows Ada is safe."
    await harness.drain()
    assert not has(bea, "All clear")
    # Every later stage is cancelled: nobody of the team is ever alerted.
    await harness.travel_to(left + timedelta(minutes=200))
    assert not has(vic, "No news from Ada")
    assert not has(orga, "No news from Ada")
    registration = await Registration.get(id=registration.id)
    assert registration.home_at is not None and registration.all_clear_at is not None
    # A late "no news" only hears it is all clear.
    await bea.tap_data(bea.last_message().message_id, sign(bea.id, f"hs:no:{registration.id}"))
    await harness.settle()
    assert "all clear" in bea.last_message().text


async def test_a_volunteer_confirms_she_is_safe(harness: BotHarness, event):
    orga = await an_organizer(harness, event)
    vic = await volunteer_on_duty(harness, event)
    _ada, bea, _dana, registration = await ada_left(harness, event)
    await harness.travel_to(registration.left_at + timedelta(minutes=105, seconds=1))
    assert has(vic, "⚠️ No news from Ada")
    await harness.tap(vic, "✅ She is safe")
    await harness.drain()
    assert has(bea, "✅ All clear: Vic confirmed that Ada is safe.")
    await harness.travel_to(registration.left_at + timedelta(minutes=200))
    assert not has(orga, "No news from Ada")


async def test_without_volunteers_on_duty_the_organizers_hear_it_at_the_third_stage(
    harness: BotHarness, event
):
    orga = await an_organizer(harness, event)
    _ada, _bea, _dana, registration = await ada_left(harness, event)
    await harness.travel_to(registration.left_at + timedelta(minutes=105, seconds=1))
    assert has(orga, "⚠️ No news from Ada"), received(orga)
