"""The event's safe place: in the charter message, in the help flow ("come to the safe place"
or "stay where you are"), on the organizers' board, and set by `event create`."""

from __future__ import annotations

import sqlite3

from aiohttp.test_utils import TestClient, TestServer

from companion_bot.models import Event
from companion_bot.services import board
from companion_bot.web import create_app
from tests.handlers.test_relay import received, volunteer_on_duty
from tests.support import BotHarness, sign_up
from tests.test_cli import run_cli


async def with_safe_place(event: Event) -> Event:
    event.safe_place_name = "Welcome tent"
    event.safe_place_where = "behind the bar"
    event.safe_place_hours = "23:00–06:00"
    await event.save()
    return event


async def test_the_charter_message_and_the_help_flow_show_it(harness: BotHarness, event):
    await with_safe_place(event)
    await volunteer_on_duty(harness, event)
    ada = harness.user(first_name="Ada", language_code="fr")
    await harness.say(ada, f"/start {event.attendee_code}")
    await harness.tap(ada, "✓ Français")
    charter = next(t for t in received(ada) if "charte" in t)
    assert "🏠 Lieu sûr : Welcome tent — behind the bar (23:00–06:00)." in charter

    bea = harness.user(first_name="Bea", language_code="en")
    await sign_up(harness, bea, event.attendee_code, destination="Montreuil")
    await harness.travel_to(event.doors_open)
    await harness.say(bea, "/help")
    await harness.tap(bea, "😟 I feel uncomfortable")
    reply = await harness.tap(bea, "🆘 Yes, alert them")
    assert "Alert sent to 1 volunteer on duty." in reply.text
    assert (
        "If you can get there safely, come to the safe place: Welcome tent — behind the bar "
        "(23:00–06:00). Otherwise stay where you are: someone is coming."
    ) in reply.text


async def test_without_a_safe_place_nothing_is_made_up(harness: BotHarness, event):
    await volunteer_on_duty(harness, event)
    bea = harness.user(first_name="Bea", language_code="en")
    await sign_up(harness, bea, event.attendee_code, destination="Montreuil")
    await harness.travel_to(event.doors_open)
    assert not any("Safe place" in t for t in received(bea))
    await harness.say(bea, "/help")
    await harness.tap(bea, "😟 I feel uncomfortable")
    reply = await harness.tap(bea, "🆘 Yes, alert them")
    assert "safe place" not in reply.text


async def test_the_board_shows_it(harness: BotHarness, event):
    await with_safe_place(event)
    token = await board.board_token(event)
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        page = await (await c.get(f"/board/{token}", params={"lang": "nl"})).text()
    assert "🏠 Veilige plek: <b>Welcome tent</b> — behind the bar (23:00–06:00)." in page


def test_event_create_sets_it_and_explains_a_bad_one(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "en"}
    common = ["event", "create", "--name", "N", "--venue", "V", "--venue-place", "Paris 11e",
              "--doors-open", "2099-12-05 23:00", "--closing", "06:00",
              "--bot-username", "compagnonnes_bot"]  # fmt: skip
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    result = run_cli(*common, "--safe-place", "Welcome tent", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "separated by semicolons" in result.stderr
    result = run_cli(*common, "--safe-place", "Welcome tent; behind the bar; 23:00-06:00",
                     env=env, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    assert database.execute(
        "SELECT safe_place_name, safe_place_where, safe_place_hours FROM event"
    ).fetchall() == [("Welcome tent", "behind the bar", "23:00-06:00")]
    database.close()
