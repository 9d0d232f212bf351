"""`companion-bot demo --evening hybrid|small`: the demo plays a hybrid evening (one persona
joins a table online, another comes in person and goes home with a departure group; the
regulars do both) and a small jam session (the quick preset: one arrival slot, one departure
at closing)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot.demo import scenario
from companion_bot.demo.session import Nights, open_nights
from companion_bot.demo.web import create_demo_app
from companion_bot.models import ArrivalSlot, DepartureWave, EventKind, Registration
from tests.demo.test_demo import bot_texts, persona, play_until, say, tap


@pytest_asyncio.fixture
async def evening_client(db: str, request) -> AsyncIterator[TestClient]:
    async with open_nights(db, language="en", evening=request.param) as nights:
        server = TestServer(create_demo_app(nights, language="en"), host="127.0.0.1")
        async with TestClient(server) as running:
            nights.serve_board_at(("127.0.0.1", server.port))
            running.nights = nights
            yield running


async def start(client: TestClient, key: str) -> dict:
    """Her link, English (whatever her Telegram language), the charter, her name."""
    state = await (await client.get("/api/state?lang=en")).json()
    link = persona(state, key)["suggestions"][0]
    state = await say(client, key, link["text"])
    state = await tap(client, state, key, lambda text: text.endswith("English"))
    state = await tap(client, state, key, "✅ I agree")
    return await tap(client, state, key, lambda text: text.startswith("Use “"))


@pytest.mark.parametrize("evening_client", [scenario.HYBRID], indirect=True)
async def test_the_demo_plays_a_hybrid_evening(evening_client: TestClient) -> None:
    client = evening_client
    nights: Nights = client.nights
    assert nights.demo.event.kind == EventKind.HYBRID
    online_regulars = await Registration.filter(event=nights.demo.event, online=True).count()
    in_person_regulars = await Registration.filter(event=nights.demo.event, online=False).count()
    assert online_regulars and in_person_regulars

    state = await start(client, "maya")
    assert "in person, or join online?" in bot_texts(state, "maya")[-1]
    state = await tap(client, state, "maya", "💻 Online")
    state = await tap(client, state, "maya", lambda text: "–" in text)  # the first slot
    state = await tap(client, state, "maya", "Loup-Garou")
    state = await tap(client, state, "maya", "✅ Confirm")

    state = await start(client, "louise")
    state = await tap(client, state, "louise", lambda text: text.startswith("🚶"))
    state = await tap(client, state, "louise", lambda text: "–" in text)
    state = await say(client, "louise", "Montreuil")
    state = await tap(client, state, "louise", lambda text: text.startswith("🚇"))
    state = await tap(client, state, "louise", lambda text: "—" in text)  # the first departure
    state = await tap(client, state, "louise", lambda text: text.startswith("✅"))

    state = await play_until(
        client, lambda s: any("Your table for" in t for t in bot_texts(s, "maya"))
    )
    introduction = next(t for t in bot_texts(state, "maya") if "Your table for" in t)
    assert "https://meet.jit.si/demo-loup-garou" in introduction
    state = await play_until(
        client, lambda s: any(t.startswith("🌙") for t in bot_texts(s, "louise")), steps=20
    )
    assert not any("meet.jit.si" in t for t in bot_texts(state, "louise"))
    assert not any(t.startswith("🌙") for t in bot_texts(state, "maya"))


@pytest.mark.parametrize("evening_client", [scenario.SMALL], indirect=True)
async def test_the_demo_plays_a_small_jam_session(evening_client: TestClient) -> None:
    client = evening_client
    event = client.nights.demo.event
    assert await ArrivalSlot.filter(event=event).count() == 1
    assert [w.departs_at for w in await DepartureWave.filter(event=event)] == [event.closing]

    state = await start(client, "maya")
    state = await tap(client, state, "maya", lambda text: "–" in text)  # the one slot
    state = await say(client, "maya", "Montreuil")
    state = await tap(client, state, "maya", lambda text: text.startswith("🚇"))
    state = await tap(client, state, "maya", lambda text: "—" in text)
    state = await tap(client, state, "maya", "✅ Confirm")
    assert "Jam session (demo)" in "\n".join(bot_texts(state, "maya"))
    state = await play_until(
        client, lambda s: any(t.startswith("🌙 Your departure group") for t in
                              bot_texts(s, "maya")), steps=20,
    )  # fmt: skip
    introduction = next(t for t in bot_texts(state, "maya") if t.startswith("🌙"))
    assert "Jam session (demo)" in introduction
