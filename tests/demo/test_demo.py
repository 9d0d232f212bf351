"""`companion-bot demo`: the page's JSON API driven as the page does (sign up as a persona by
tapping buttons, play the night, see her group's introduction, open the live board, start a
new night), its safety checks, and the real command as a separate process. In a browser:
test_demo_browser.py."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import sys

import aiohttp
from aiohttp.test_utils import TestClient

from companion_bot import clock
from companion_bot.app import register_tasks
from companion_bot.demo.session import TASK_LABELS, Demo, Nights
from companion_bot.i18n import LANGUAGES
from companion_bot.services import closing, scheduler
from tests.qr_decoding import decode_qr
from tests.test_cli import ROOT, SETTINGS, run_cli

JSON = dict
# A task's internal name ("arrival_alone", "help_claim_reminder") shown as is.
INTERNAL_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b")


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


def check_coming_next(state: JSON) -> None:
    """The time "coming next" shows is ahead of the night's clock: a bare time is later
    today, another day is named."""
    coming = state["next"]
    if coming is None:
        return
    clock = state["clock"]  # "Saturday 5 December, 23:45"
    if re.fullmatch(r"\d\d:\d\d", coming["at"]):
        assert coming["at"] >= clock[-5:], (coming, clock)
    else:
        day = coming["at"].split()[0].rstrip(".").lower()  # "Sun 11:00"
        assert not clock.lower().startswith(day), (coming, clock)
    assert not INTERNAL_NAME.search(coming["text"]), coming


async def play_until(client: TestClient, found, steps: int = 12) -> JSON:
    """Press "next step" until `found(state)`."""
    for _ in range(steps):
        state = await act(client, "/api/night/next", {})
        check_coming_next(state)
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


def board_links(state: JSON, key: str) -> list[JSON]:
    """The live board links in her chat, as the page gets them."""
    return [
        piece
        for message in persona(state, key)["chat"]["messages"]
        for piece in message.get("text", [])
        if "href" in piece
    ]


async def test_the_dashboard_link_opens_the_live_board(client: TestClient, demo: Demo) -> None:
    state = await say(client, "jo", "/dashboard")
    links = board_links(state, "jo")
    assert len(links) == 1, bot_texts(state, "jo")[-1]
    # The link the bot wrote points at the demo's own server; the page opens its path.
    assert links[0]["t"] == str(client.make_url(links[0]["href"]))
    page = await client.get(links[0]["href"], params={"lang": "en"})
    assert page.status == 200
    body = await page.text()
    assert f"Live board — {demo.event.localized('name', 'en')}" in body
    assert "open help alert" in body
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]  # the board's own
    live = await client.get(f"{links[0]['href']}/state.json", params={"lang": "en"})
    assert (await live.json())["counts"]["signed_up"] == 8  # the regulars
    # Its QR codes lead to the demo's bot, its statistics download.
    qr = await client.get(f"{links[0]['href']}/qr/attendee.png")
    assert qr.status == 200 and qr.content_type == "image/png"
    assert decode_qr(await qr.read()).endswith(
        f"{demo.bot_username}?start={demo.event.attendee_code}"
    )
    assert (await client.get(f"{links[0]['href']}/export.csv")).status == 200


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


def test_every_task_the_bot_schedules_is_told_in_words() -> None:
    register_tasks()
    kinds = scheduler.registered_kinds()
    assert closing.ARRIVAL_ALONE_TASK in kinds
    assert kinds <= set(TASK_LABELS), sorted(kinds - set(TASK_LABELS))


async def test_moving_the_clock_ending_the_night_and_starting_another(
    client: TestClient, nights: Nights
) -> None:
    first = nights.demo
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
    # Every line in words, in every language of the page.
    for language in LANGUAGES:
        told = await (await client.get(f"/api/state?lang={language}")).json()
        assert len(told["log"]) == len(state["log"])
        for entry in told["log"]:
            assert not INTERNAL_NAME.search(entry["text"]), entry
            assert "Scheduled task" not in entry["text"]

    # A fresh night, without restarting: the page waiting for news hears of it.
    waiting = asyncio.create_task(client.get(f"/api/state?lang=en&after={state['version']}"))
    await asyncio.sleep(0)
    fresh = await act(client, "/api/night/new", {})
    assert fresh["night"] == 2 and not fresh["night_over"]
    assert fresh["log"] == [] and fresh["next"] is not None
    heard = await (await asyncio.wait_for(waiting, timeout=30)).json()
    assert heard["night"] == 2
    assert nights.demo is not first and nights.demo.event.doors_open > clock.now()
    assert persona(fresh, "maya")["chat"]["messages"] == []
    assert any("on duty" in t or "de service" in t for t in bot_texts(fresh, "samira"))
    link = persona(fresh, "maya")["suggestions"][0]["text"]
    assert link == f"/start {nights.demo.event.attendee_code}"
    assert nights.demo.event.attendee_code != first.event.attendee_code  # a new event
    # The new night's bot answers, on Telegram and on WhatsApp.
    fresh = await say(client, "maya", link)
    assert "Which language do you prefer?" in bot_texts(fresh, "maya")[-1]
    fresh = await say(client, "zoe", nights.demo.event.attendee_code)
    [question] = bot_texts(fresh, "zoe")  # her chat is new too
    assert question.startswith("Quelle langue préfères-tu ?")


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


async def test_the_demo_in_dutch(client: TestClient) -> None:
    """The page, its scripted texts and the night's timeline in Dutch (?lang=nl, or a Dutch
    browser); Louise's Telegram speaks Dutch, so the bot answers her in Dutch."""
    page = await (await client.get("/", headers={"Accept-Language": "nl-BE, fr;q=0.8"})).text()
    assert '<html lang="nl">' in page
    for text in ("Compagnonnes de route — demo", "Klok van de nacht", "▶ Speel de nacht af",
                 "⏭ Volgende stap", "Wat er gebeurd is", ">Nederlands</a>"):  # fmt: skip
        assert text in page, text

    response = await client.post("/api/personas/louise/text?lang=nl", json={"text": "/start"})
    state = await response.json()
    louise = persona(state, "louise")
    assert louise["role_label"] == "Deelnemer"
    assert louise["suggestions"][0]["label"] == "De link van het evenement openen"
    assert bot_texts(state, "louise")[-1].startswith("Hallo! Ik help mensen")
    response = await client.post(
        "/api/personas/louise/text?lang=nl", json={"text": louise["suggestions"][0]["text"]}
    )
    state = await response.json()
    assert bot_texts(state, "louise")[-1].startswith("Welke taal heb je het liefst?")

    response = await client.post("/api/night/advance?lang=nl", json={"minutes": 15})
    state = await response.json()
    assert state["log"][-1]["text"] == "De klok gaat 15 minuten vooruit."
    response = await client.post("/api/personas/maya/tap?lang=nl", json={"message_id": 999,
                                                                          "button": 0})  # fmt: skip
    assert response.status == 409
    assert (await response.json())["error"] == "Deze knop is er niet meer."


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
            # The organizer's board link opens the board, on the demo's own port.
            async with session.post(
                f"http://127.0.0.1:{port}/api/personas/jo/text?lang=en", json={"text": "/dashboard"}
            ) as response:
                links = board_links(await response.json(), "jo")
            assert links and links[0]["t"].startswith(f"http://127.0.0.1:{port}/board/"), links
            async with session.get(links[0]["t"], params={"lang": "en"}) as response:
                assert response.status == 200
                assert "Live board" in await response.text()
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert "Demo stopped." in stdout.decode()
    assert "Traceback" not in stderr.decode()


assert ROOT.exists()
