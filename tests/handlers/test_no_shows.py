"""No-shows at departure: her group (there) hears it and may wait or leave with a volunteer's
agreement; she is asked where she is and offered the next departure, where she is placed in a
group; answering after her group left is explained; organizers, never attendees, see repeat
no-shows across events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer

from companion_bot.models import DepartureWave, Event, Person, Registration
from companion_bot.services import board, noshows
from companion_bot.services.events import create_event
from companion_bot.web import create_app
from tests.handlers.test_departures import a_late_leaver
from tests.handlers.test_relay import a_group_of_three, received, volunteer_on_duty
from tests.support import BotHarness, event_spec


async def test_a_no_show_is_asked_and_placed_on_the_next_departure(harness: BotHarness, event):
    vic = await volunteer_on_duty(harness, event)
    ada, bea, _cleo = await a_group_of_three(harness, event)  # Ada and Bea leave together
    late = await a_late_leaver(harness, event, "Dee")  # the 06:00 departure
    first, last = await DepartureWave.filter(event=event).order_by("departs_at")
    await harness.travel_to(first.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "📍 I'm at the meeting point")
    await harness.travel_to(first.departs_at + timedelta(seconds=1))
    assert any(t.startswith("❓ It is departure time at Main entrance and your group is there, "
                            "but not you.") for t in received(bea))  # fmt: skip
    assert "⏳ Bea is not at the meeting point. You can wait a few minutes for her" in "\n".join(
        received(ada)
    )
    assert (await Registration.get(person__telegram_id=bea.id)).no_show_at is not None

    # The group leaves with a volunteer's agreement; Bea stays behind, out of the group.
    await harness.say(vic, "/waves")
    await harness.drain()
    card = next(m for m in reversed(vic.messages()) if "Ada" in (m.text or "")
                and any(b.text == "✅ Group has left" for b in m.inline_buttons()))  # fmt: skip
    await harness.tap(vic, "✅ Group has left", message=card)
    await harness.drain()
    assert any("Your group has left. Have a safe trip!" in t for t in received(ada))
    assert not any("Have a safe trip" in t for t in received(bea))
    assert any(t.startswith("🚶 Your group has left without you. Take the next departure (06:00)")
               for t in received(bea))  # fmt: skip
    assert (await Registration.get(person__telegram_id=bea.id)).left_at is None

    # Her late "on my way" (an older button) is explained, not passed on.
    await bea.tap("🏃 I'm on my way")
    await harness.settle()
    assert bea.callback_answers()[-1].text == (
        "Your group has already left. Take the next departure, or ask a volunteer."
    )
    # She takes the next departure and is placed in a group there, with Dee.
    await harness.tap(bea, "⏭ Take the 06:00 departure")
    await harness.travel_to(last.departs_at - timedelta(minutes=30))
    registration = await Registration.get(person__telegram_id=bea.id)
    assert registration.departure_wave_id == last.id
    assert any("Dee" in t for t in received(bea)[-6:]), received(bea)[-6:]
    assert any("Bea" in t for t in received(late))


async def test_organizers_see_repeat_no_shows(harness: BotHarness, event):
    ada, bea, _cleo = await a_group_of_three(harness, event)
    first = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(first.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "📍 I'm at the meeting point")
    await harness.travel_to(first.departs_at + timedelta(seconds=1))
    # Bea did not show up at an earlier event either (its data still kept: purged after that).
    earlier = await create_event(event_spec(datetime.now(UTC) - timedelta(days=2)), None)
    await Registration.create(
        event=earlier, person=await Person.get(telegram_id=bea.id), status="confirmed",
        no_show_at=earlier.closing,
    )  # fmt: skip
    assert await noshows.repeat_no_shows(event) == [("Bea", 2)]
    token = await board.board_token(await Event.get(id=event.id))
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        page = await (await c.get(f"/board/{token}", params={"lang": "en"})).text()
    assert "<li>Bea: 2 events</li>" in page
    assert "Ada:" not in page.split('id="no-shows"')[1].split("</section>")[0]
    for person in (ada, bea):
        assert not any("no-show" in t.lower() for t in received(person))


async def test_nobody_is_a_no_show_when_her_group_is_not_gathering(harness: BotHarness, event):
    _ada, bea, _cleo = await a_group_of_three(harness, event)
    first = await DepartureWave.filter(event=event).order_by("departs_at").first()
    await harness.travel_to(first.departs_at + timedelta(seconds=1))
    assert not any("It is departure time" in t for t in received(bea))
    assert (await Registration.get(person__telegram_id=bea.id)).no_show_at is None
