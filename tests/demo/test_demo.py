"""`companion-bot demo`: the page's JSON API driven as the page does (sign up as a persona by
tapping buttons, play the night, see her group's introduction), its safety checks, and the
real command as a separate process."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot.demo.session import Demo, open_demo
from companion_bot.demo.web import create_demo_app
from tests.test_cli import ROOT, SETTINGS, run_cli

JSON = dict


@pytest_asyncio.fixture
async def demo(db: str) -> AsyncIterator[Demo]:
    async with open_demo(db, language="en") as running:
        yield running


@pytest_asyncio.fixture
async def client(demo: Demo) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_demo_app(demo, language="en"))) as running:
        yield running


def persona(state: JSON, key: str) -> JSON:
    return next(p for p in state["personas"] if p["key"] == key)


def text_of(message: JSON) -> str:
    return "".join(piece["t"] for piece in message.get("text", []))


def bot_texts(state: JSON, key: str) -> list[str]:
    return [text_of(m) for m in persona(state, key)["chat"]["messages"] if m["from_bot"]]


async def act(client: TestClient, path: str, body: JSON, status: int = 200) -> JSON:
    response = await client.post(f"{path}?lang=en", json=body)
    assert response.status == status, await response.text()
    return await response.json()


async def say(client: TestClient, key: str, text: str) -> JSON:
    return await act(client, f"/api/personas/{key}/text", {"text": text})


async def tap(client: TestClient, state: JSON, key: str, label) -> JSON:
    """Tap the button of her newest message that has one matching `label` (text, or a
    predicate on the text), as a click on the page does."""
    for message in reversed(persona(state, key)["chat"]["messages"]):
        for row in message.get("buttons", []):
            for button in row:
                if label(button["text"]) if callable(label) else button["text"] == label:
                    body = {"message_id": message["id"], "button": button["index"]}
                    return await act(client, f"/api/personas/{key}/tap", body)
    raise AssertionError(f"no button {label!r} for {key}: {bot_texts(state, key)[-2:]}")


async def play_until(client: TestClient, found, steps: int = 12) -> JSON:
    """Press "next step" until `found(state)`."""
    for _ in range(steps):
        state = await act(client, "/api/night/next", {})
        if found(state):
            return state
        assert not state["night_over"], state["log"]
    raise AssertionError(f"not reached after {steps} steps: {state['log']}")


async def test_sign_up_as_a_persona_then_play_the_night(client: TestClient, demo: Demo) -> None:
    state = await (await client.get("/api/state?lang=en")).json()
    maya = persona(state, "maya")
    assert maya["chat"]["messages"] == []
    link = maya["suggestions"][0]
    assert link["label"] == "Open the event link"
    assert link["text"] == f"/start {demo.event.attendee_code}"
    # The team's chats were opened at start: the volunteer is on duty, the organizer sees
    # her event's links, which open in a persona's chat.
    assert any(
        "You are on duty" in t or "Tu es de service" in t for t in bot_texts(state, "samira")
    )
    links = [
        piece["start"]
        for message in persona(state, "jo")["chat"]["messages"]
        for piece in message.get("text", [])
        if "start" in piece
    ]
    assert demo.event.attendee_code in links

    state = await say(client, "maya", link["text"])
    assert "Which language do you prefer?" in bot_texts(state, "maya")[-1]
    state = await tap(client, state, "maya", "✓ English")
    state = await tap(client, state, "maya", "✅ I agree")
    state = await tap(client, state, "maya", "Use “Maya”")
    state = await tap(client, state, "maya", lambda text: "–" in text)  # the first slot
    state = await say(client, "maya", "Montreuil")
    state = await tap(client, state, "maya", "🚇 Metro / RER / tram")
    state = await tap(client, state, "maya", lambda text: text.startswith(tuple("0123456789")))
    state = await tap(client, state, "maya", "✅ Confirm")
    assert "/leave" in bot_texts(state, "maya")[-1]
    # A tapped question is edited in place to say what she chose.
    assert any(m.get("edited") for m in persona(state, "maya")["chat"]["messages"])

    state = await play_until(
        client, lambda s: any("Your arrival group" in t for t in bot_texts(s, "maya"))
    )
    introduction = next(t for t in bot_texts(state, "maya") if "Your arrival group" in t)
    assert "Compagnonnes Night (demo)" in introduction  # the event's name in her language
    assert any(name in introduction for name in ("Inès", "Jade", "Nora", "Alix"))
    assert "7301" not in introduction  # display names only, never Telegram ids
    assert any("Matching round" in entry["text"] for entry in state["log"])

    # Later in the night: the reminder of her departure, with its buttons, and the group
    # cards for the volunteer on duty.
    state = await play_until(
        client, lambda s: any("Your departure leaves at" in t for t in bot_texts(s, "maya"))
    )
    cards = [t for t in bot_texts(state, "samira") if t.startswith("Groupe ")]
    assert any("Maya — pas encore là" in card for card in cards), cards
    state = await tap(client, state, "maya", "📍 I'm at the meeting point")
    assert "Great: your group and the volunteers can see" in bot_texts(state, "maya")[-1]


async def test_the_page_hears_of_changes_by_long_polling(client: TestClient) -> None:
    state = await (await client.get("/api/state?lang=en")).json()
    waiting = asyncio.create_task(client.get(f"/api/state?lang=en&after={state['version']}"))
    await asyncio.sleep(0)
    assert not waiting.done()
    await say(client, "camille", "/start")
    changed = await (await asyncio.wait_for(waiting, timeout=10)).json()
    assert changed["version"] != state["version"]
    # The first change it hears of: her own message, the bot's answer comes with the next.
    assert text_of(persona(changed, "camille")["chat"]["messages"][0]) == "/start"


async def test_moving_the_clock_and_ending_the_night(client: TestClient) -> None:
    before = await (await client.get("/api/state?lang=en")).json()
    state = await act(client, "/api/night/advance", {"minutes": 15})
    assert state["clock"] != before["clock"]
    assert "The clock moves forward 15 minutes." in state["log"][-1]["text"]
    await act(client, "/api/night/advance", {"minutes": "soon"}, status=400)
    state = await play_until(client, lambda s: s["night_over"], steps=40)
    # The extras played their part: at the meeting point, the groups' departures confirmed
    # by the other volunteer, home; the one who never said so is asked, then the team alerted.
    log = [entry["text"] for entry in state["log"]]
    assert log[-1] == "The night is over: nothing else is planned."
    assert any(line.startswith("At the meeting point: Inès") for line in log), log
    assert "Awa, a volunteer on duty, confirms that the groups have left." in log
    assert any(line.startswith("Home, and said so: Inès") for line in log), log
    assert any("No news from Alix" in t for t in bot_texts(state, "jo")), bot_texts(state, "jo")
    assert any("Toujours pas de nouvelles : Alix" in t for t in bot_texts(state, "samira"))


async def test_what_people_type_stays_text_and_the_page_is_local(client: TestClient) -> None:
    hostile = "</script><script>alert(1)</script><b>hi</b>"
    state = await say(client, "camille", hostile)
    mine = [m for m in persona(state, "camille")["chat"]["messages"] if not m["from_bot"]]
    assert text_of(mine[-1]) == hostile
    page = await client.get("/?lang=fr")
    body = await page.text()
    assert page.status == 200
    assert "<script>alert" not in body and "</script><script>" not in body
    assert "Compagnonnes de route — démo" in body  # French labels from the catalogue
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]*)"', body)
    assert assets and all(a.startswith(("/", "?")) for a in assets), assets  # nothing remote
    assert (await client.get("/static/demo.js")).status == 200
    assert (await client.get("/static/demo.css")).status == 200


async def test_refusals_are_explained_in_the_page_language(client: TestClient) -> None:
    response = await client.post("/api/personas/maya/tap?lang=fr", json={"message_id": 999,
                                                                          "button": 0})  # fmt: skip
    assert response.status == 409
    assert (await response.json())["error"] == "Ce bouton n'existe plus."
    response = await client.post("/api/personas/nobody/text?lang=en", json={"text": "hi"})
    assert response.status == 404
    response = await client.post("/api/personas/maya/text?lang=en", json={"text": "  "})
    assert response.status == 400 and "Type a message first" in (await response.json())["error"]
    # Another site's page cannot act: no JSON content type, or a foreign origin.
    response = await client.post("/api/personas/maya/text", data='{"text": "hi"}')
    assert response.status == 403
    response = await client.post(
        "/api/personas/maya/text", json={"text": "hi"}, headers={"Origin": "http://evil.test"}
    )
    assert response.status == 403
    response = await client.get("/api/state", headers={"Host": "evil.test"})
    assert response.status == 403
    state = await (await client.get("/api/state")).json()
    assert persona(state, "maya")["chat"]["messages"] == []


async def test_location_and_sticker_get_answers(client: TestClient) -> None:
    state = await act(client, "/api/personas/louise/location", {"place": "montreuil"})
    messages = persona(state, "louise")["chat"]["messages"]
    assert messages[0]["location"] and not messages[0]["from_bot"]
    assert len(messages) >= 2 and messages[-1]["from_bot"]
    state = await act(client, "/api/personas/louise/sticker", {})
    messages = persona(state, "louise")["chat"]["messages"]
    assert any(m.get("sticker") for m in messages) and messages[-1]["from_bot"]
    await act(client, "/api/personas/louise/location", {"place": "mars"}, status=400)


def test_demo_help_describes_it() -> None:
    result = run_cli("demo", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--port", "--database-url", "without a token"):
        assert option in result.stdout or option in run_cli("--help").stdout


def test_the_demo_never_empties_the_bots_database(tmp_path) -> None:
    url = "sqlite://data/bot.sqlite3"
    result = run_cli("demo", "--database-url", url, env={"DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_the_demo_command_serves_its_page_and_stops_on_sigterm(
    tmp_path, database_template
) -> None:
    database = tmp_path / "data" / "demo.sqlite3"
    database.parent.mkdir()
    if database_template.kind == "sqlite":
        shutil.copy(database_template.template, database)  # migrated: a quicker start
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "companion_bot", "demo", "--port", str(port),
        "--database-url", f"sqlite://{database}",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        ready = await asyncio.wait_for(process.stdout.readline(), timeout=90)
        assert f"http://127.0.0.1:{port}/" in ready.decode(), ready
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/?lang=en") as response:
                assert response.status == 200
                assert "Play the night" in await response.text()
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert "Demo stopped." in stdout.decode()
    assert "Traceback" not in stderr.decode()


assert ROOT.exists()
