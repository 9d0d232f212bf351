"""The live board and the statistics of an event written in French and English: the page, its
live state and the CSV name the event, the venue and the meeting points in the board's
language, also once the event's personal data is purged."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot.services import board, lifecycle
from companion_bot.services.events import create_event
from companion_bot.web import create_app
from tests.handlers.test_texts_in_her_language import bilingual_spec
from tests.support import BotHarness
from tests.web.seed import seed_night


@pytest_asyncio.fixture
async def client(harness: BotHarness) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(harness.application, harness.settings))) as c:
        yield c


async def departures_in_the_csv(client: TestClient, url: str, lang: str) -> set[str]:
    text = (await (await client.get(f"{url}/export.csv", params={"lang": lang})).read()).decode(
        "utf-8-sig"
    )
    return {row[1] for row in csv.reader(io.StringIO(text)) if row[0] in ("Departure", "Départ")}


async def test_the_board_names_things_in_its_language(client: TestClient, db: str) -> None:
    event = await create_event(bilingual_spec())
    await seed_night(event)
    url = f"/board/{await board.board_token(event)}"

    english = await (await client.get(url, params={"lang": "en"})).text()
    assert "Live board — Companions&#x27; night" in english and "The Station" in english
    french = await (await client.get(url, params={"lang": "fr"})).text()
    assert "Nuit des compagnonnes" in french and "La Gare" in french
    assert "Companions" not in french and "The Station" not in french
    for lang, points in (("en", ["Main entrance", "Back door"]),
                         ("fr", ["Entrée principale", "Porte arrière"])):  # fmt: skip
        state = await (await client.get(f"{url}/state.json", params={"lang": lang})).json()
        assert [wave["point"] for wave in state["waves"]] == points

    assert await departures_in_the_csv(client, url, "en") == {
        "03:00 Main entrance",
        "06:00 Back door",
    }
    await lifecycle.purge_event(event.id)
    assert await departures_in_the_csv(client, url, "fr") == {
        "03:00 Entrée principale",
        "06:00 Porte arrière",
    }
    assert await departures_in_the_csv(client, url, "en") == {
        "03:00 Main entrance",
        "06:00 Back door",
    }


async def test_the_board_counts_in_singular_and_plural(client: TestClient, db: str) -> None:
    """7 signed up, 1 waiting for a group, 0 in an arrival group (French: 0 is singular)."""
    event = await create_event(bilingual_spec())
    await seed_night(event)
    url = f"/board/{await board.board_token(event)}"
    for lang, expected, wave in (
        ("en", {"signed_up": "people signed up", "arrival_grouped": "in arrival groups",
                "unplaced": "waiting for a group", "open_alerts": "open help alerts"},
         {"at_meeting_point": "person at the meeting point", "left": "people have left",
          "home": "person home safe", "no_news": "people with no news"}),
        ("fr", {"signed_up": "inscrites", "arrival_grouped": "en groupe d'arrivée",
                "unplaced": "en attente d'un groupe", "open_alerts": "alertes d’aide ouvertes"},
         {"at_meeting_point": "au point de rendez-vous", "left": "parties",
          "home": "bien rentrée", "no_news": "sans nouvelles"}),
    ):  # fmt: skip
        state = await (await client.get(f"{url}/state.json", params={"lang": lang})).json()
        labels = state["count_labels"]
        assert {key: labels[key] for key in expected} == expected
        first = {count["key"]: count["label"] for count in state["waves"][0]["counts"]}
        assert {key: first[key] for key in wave} == wave
        page = await (await client.get(url, params={"lang": lang})).text()
        assert f'data-count-label="unplaced">{expected["unplaced"]}' in page.replace("&#x27;", "'")
