"""`companion-bot demo --evening online`: the demo plays an online game night. A persona signs
up (join time and activity, never a neighbourhood), gets her table's introduction with its link
shortly before her time, then the reminder and "we're in"; the regulars join their calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot.demo.session import Nights, open_nights
from companion_bot.demo.web import create_demo_app
from tests.demo.test_demo import bot_texts, persona, play_until, say, tap


@pytest_asyncio.fixture
async def online_client(db: str) -> AsyncIterator[TestClient]:
    async with open_nights(db, language="en", evening="online") as nights:
        server = TestServer(create_demo_app(nights, language="en"), host="127.0.0.1")
        async with TestClient(server) as running:
            nights.serve_board_at(("127.0.0.1", server.port))
            running.nights = nights
            yield running


async def test_the_demo_plays_an_online_game_night(online_client: TestClient) -> None:
    client = online_client
    nights: Nights = client.nights
    state = await (await client.get("/api/state?lang=en")).json()
    link = persona(state, "maya")["suggestions"][0]
    assert link["text"] == f"/start {nights.demo.event.attendee_code}"
    state = await say(client, "maya", link["text"])
    state = await tap(client, state, "maya", "✓ English")
    state = await tap(client, state, "maya", "✅ I agree")
    state = await tap(client, state, "maya", "Use “Maya”")
    assert "When will you join?" in bot_texts(state, "maya")[-1]
    state = await tap(client, state, "maya", lambda text: "–" in text)  # the first slot
    assert "Which activity would you like?" in bot_texts(state, "maya")[-1]
    state = await tap(client, state, "maya", "Loup-Garou")
    state = await tap(client, state, "maya", "✅ Confirm")
    asked = "\n".join(bot_texts(state, "maya"))
    assert "heading after the event" not in asked and "travel home" not in asked

    state = await play_until(
        client, lambda s: any("Your table for" in t for t in bot_texts(s, "maya"))
    )
    introduction = next(t for t in bot_texts(state, "maya") if "Your table for" in t)
    assert "Game night (demo)" in introduction
    assert "https://meet.jit.si/demo-loup-garou" in introduction
    assert "demo-papote" not in "\n".join(bot_texts(state, "maya"))
    assert any(name in introduction for name in ("Inès", "Jade", "Alix", "Chloé"))
    state = await play_until(client, lambda s: any("starts now" in t for t in bot_texts(s, "maya")))
    state = await tap(client, state, "maya", "✅ We're in")
    state = await play_until(client, lambda s: any("In the call" in e["text"] for e in s["log"]))
    assert not any("departure" in t.lower() for t in bot_texts(state, "maya"))
