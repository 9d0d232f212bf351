"""Test alerts: before doors open an organizer sends one to the volunteers on duty; the board
shows who received it and who did not; volunteers and attendees cannot send one."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from companion_bot.models import AlertDrill, AlertDrillReceipt
from companion_bot.services import board, lifecycle
from companion_bot.signing import sign
from companion_bot.web import create_app
from tests.handlers.test_relay import received, volunteer_on_duty
from tests.support import BotHarness, sign_up


async def test_organizers_test_the_volunteers_before_doors_open(harness: BotHarness, event):
    orga = harness.user(first_name="Orla", language_code="en")
    await harness.say(orga, f"/start {event.organizer_code}")
    reply = await harness.say(orga, "/testalert")
    assert reply.text == "No volunteer is on duty: ask them to tap /duty first."
    vic = await volunteer_on_duty(harness, event, "Vic")
    wen = await volunteer_on_duty(harness, event, "Wen")
    off = harness.user(first_name="Off", language_code="fr")
    await harness.say(off, f"/start {event.volunteer_code}")  # a volunteer, not on duty

    reply = await harness.say(orga, "/testalert")
    assert reply.text == (
        "🧪 Test alert sent to 2 volunteers on duty. The board shows who received it."
    )
    await harness.drain()
    for volunteer in (vic, wen):
        assert any(t.startswith("🧪 Test alert for Nuit Compagnonnes, sent by Orla") for t in
                   received(volunteer))  # fmt: skip
    assert not any("Test alert" in t or "Alerte test" in t for t in received(off))
    await harness.tap(vic, "✅ Received")
    assert "the organizers see that alerts reach you" in vic.callback_answers()[-1].text

    token = await board.board_token(event)
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        page = await (await c.get(f"/board/{token}", params={"lang": "en"})).text()
    assert '<li class="acknowledged">✅ Vic: received at' in page
    assert '<li class="waiting">⏳ Wen: not yet</li>' in page
    # The page polls its state: the test alert's answers are in it too.
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        state = await (await c.get(f"/board/{token}/state.json", params={"lang": "en"})).json()
    assert [r["acknowledged"] for r in state["drill"]["receipts"]] == [True, False]
    assert state["drill"]["receipts"][1]["text"] == "⏳ Wen: not yet"
    drill = await AlertDrill.get(event=event)
    assert await AlertDrillReceipt.filter(drill=drill, acknowledged_at__isnull=False).count() == 1

    # Wen cannot acknowledge for Vic with Vic's receipt, even with a button signed for her.
    vic_receipt = await AlertDrillReceipt.get(drill=drill, person__telegram_id=vic.id)
    wen_receipt = await AlertDrillReceipt.get(drill=drill, person__telegram_id=wen.id)
    await wen.tap_data(wen.last_message().message_id, sign(wen.id, f"ta:ack:{vic_receipt.id}"))
    await harness.settle()
    assert wen.callback_answers()[-1].text == "This button is no longer active."
    assert (await AlertDrillReceipt.get(id=wen_receipt.id)).acknowledged_at is None

    # Once doors are open, a test could be taken for a real alert: refused.
    await harness.travel_to(event.doors_open + timedelta(minutes=1))
    reply = await harness.say(orga, "/testalert")
    assert reply.text.startswith("The doors are open: test alerts are for before")
    assert await AlertDrill.filter(event=event).count() == 1
    # The event's purge forgets who was tested and who answered.
    await lifecycle.purge_event(event.id)
    assert not await AlertDrill.exists(event=event)
    assert not await AlertDrillReceipt.exists(person__telegram_id=vic.id)


async def test_volunteers_and_attendees_cannot_send_one(harness: BotHarness, event):
    vic = await volunteer_on_duty(harness, event, "Vic")
    reply = await harness.say(vic, "/testalert")
    assert reply.text == "Only this event's organizers can do this."
    ada = harness.user(first_name="Ada", language_code="fr")
    await sign_up(harness, ada, event.attendee_code, language="fr", destination="Montreuil")
    reply = await harness.say(ada, "/testalert")
    assert reply.text == "Seule l'équipe d'organisation de cet événement peut faire ça."
    # Even with a forged event button.
    await vic.tap_data(vic.last_message().message_id, sign(vic.id, f"ta:ev:{event.id}"))
    await harness.settle()
    assert vic.last_message().text == "Only this event's organizers can do this."
    assert not await AlertDrill.exists(event=event)
