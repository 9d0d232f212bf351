"""One night with every safety tool: a test alert before doors open, a no-show placed on the
next departure, the staged "are you home?" up to the organizers, a duress answer, and the
incident log and night report on the board."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from companion_bot.models import CompanionGroup, DepartureWave, GroupKind, Registration
from companion_bot.services import board
from companion_bot.web import create_app
from tests.handlers.test_departures import a_late_leaver
from tests.handlers.test_groups import ALL_ANNOUNCED
from tests.handlers.test_relay import received, volunteer_on_duty
from tests.support import BotHarness, sign_up


def has(person, fragment: str) -> bool:
    return any(fragment in text for text in received(person))


async def test_a_safe_night(harness: BotHarness, event):
    orga = harness.user(first_name="Orla", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    vic = await volunteer_on_duty(harness, event)
    await harness.say(orga, "/testalert")
    await harness.tap(vic, "✅ Received")

    ada, bea, cleo = (
        harness.user(first_name=n, language_code="en") for n in ("Ada", "Bea", "Cleo")
    )
    for person in (ada, bea, cleo):
        await sign_up(harness, person, event.attendee_code, destination="Montreuil")
    await harness.say(ada, "/safeword")
    await harness.say(ada, "Lavender moon")
    await a_late_leaver(harness, event, "Dee")  # on the 06:00 departure, towards Montreuil
    await harness.travel_to(ALL_ANNOUNCED(event))
    first, last = await DepartureWave.filter(event=event).order_by("departs_at")

    # -- departure: Cleo does not show up; the group leaves with the volunteer's agreement ------
    await harness.travel_to(first.departs_at - timedelta(minutes=15))
    await harness.tap(ada, "📍 I'm at the meeting point")
    await harness.tap(bea, "📍 I'm at the meeting point")
    await harness.travel_to(first.departs_at + timedelta(seconds=1))
    assert has(cleo, "It is departure time at Main entrance")
    assert has(ada, "⏳ Cleo is not at the meeting point.")
    await harness.say(vic, "/waves")
    await harness.drain()
    card = next(m for m in reversed(vic.messages()) if "Ada" in (m.text or "")
                and any(b.text == "✅ Group has left" for b in m.inline_buttons()))  # fmt: skip
    await harness.tap(vic, "✅ Group has left", message=card)
    await harness.drain()
    await harness.tap(cleo, "⏭ Take the 06:00 departure")
    await harness.travel_to(last.departs_at - timedelta(minutes=30))
    new_group = await CompanionGroup.get(
        kind=GroupKind.DEPARTURE, departure_wave=last, members__status="active",
        members__registration__person__telegram_id=cleo.id,
    )  # fmt: skip
    assert new_group is not None

    # -- Bea is home; Ada goes quiet: every stage, then her safe word --------------------------
    await harness.tap(bea, "🏠 I'm home")
    left = (await Registration.get(person__telegram_id=ada.id)).left_at
    await harness.travel_to(left + timedelta(minutes=60, seconds=1))
    assert has(ada, "Did you get home safely?")
    await harness.travel_to(left + timedelta(minutes=75, seconds=1))
    assert has(bea, "❓ Has anyone heard from Ada?")
    await harness.tap(bea, "🤷 No news")
    await harness.travel_to(left + timedelta(minutes=105, seconds=1))
    assert has(vic, "⚠️ No news from Ada")
    await harness.travel_to(left + timedelta(minutes=135, seconds=1))
    assert has(orga, "🚨 No news from Ada, even after")
    reply = await harness.say(ada, "lavender MOON")
    assert reply.text == "🏠 Glad you are home! Your group knows. Sleep well."
    await harness.drain()
    for person in (vic, orga):
        assert has(person, "🚨 Ada may be in danger.")
    assert not has(bea, "Lavender") and not has(bea, "lavender")

    # -- the board: the log of the night and its anonymous report ------------------------------
    token = await board.board_token(event)
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        page = await (await c.get(f"/board/{token}", params={"lang": "en"})).text()
        got = await c.get(f"/board/{token}/report.csv", params={"lang": "en"})
        report = (await got.read()).decode("utf-8-sig")
    for line in (
        "🧪 Test alert to the volunteers",
        "❓ No news from Ada: her group asked",
        "⚠️ No news from Ada: volunteers alerted",
        "🚨 No news from Ada: organizers alerted",
        "🚨 Ada answered with her safe word: in danger",
        '<li class="acknowledged">✅ Vic: received at',
    ):
        assert line in page, line
    assert "Departures,03:00,people who left,2" in report.replace("\r", "")
    for name in ("Ada", "Bea", "Cleo", "Dee", "Vic", "Orla"):
        assert name not in report
