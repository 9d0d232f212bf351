"""The WhatsApp webhook with the emulator posting to it over HTTP, on the test's database:
the handshake, signatures (unsigned, forged, garbled: refused and nothing stored), one inbox
row per message keyed by her wa_id, a redelivery stored once, statuses acknowledged only;
and a whole round: a notice rendered, sent, tapped, stored, its action read back."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion_bot.models import InboxUpdate
from companion_bot.whatsapp.client import CloudApiClient
from companion_bot.whatsapp.render import parse_choice, render
from companion_bot.whatsapp.webhook import WebhookConfig, update_id, whatsapp_routes
from companion_bot.whatsapp_emulator import CloudApiEmulator
from tests.whatsapp.conftest import SECRET

VERIFY_TOKEN = "verify-token-for-tests"


@pytest_asyncio.fixture
async def hook(db: str, meta: CloudApiEmulator) -> AsyncIterator[str]:
    """The bot's webhook route on a real port, subscribed in the emulator."""
    app = web.Application()
    config = WebhookConfig(meta.app_secret, VERIFY_TOKEN, meta.phone_number_id)
    whatsapp_routes(app, config)
    async with TestServer(app) as server:
        url = str(server.make_url("/whatsapp"))
        await meta.subscribe(url, VERIFY_TOKEN)
        yield url


async def stored() -> list[InboxUpdate]:
    return await InboxUpdate.all().order_by("update_id")


async def test_the_handshake_answers_only_the_right_token(meta, hook):
    assert await meta.verify_webhook(hook, VERIFY_TOKEN, challenge="1158201444")
    assert not await meta.verify_webhook(hook, "wrong-token")
    async with aiohttp.ClientSession() as session:
        for params in ({"hub.mode": "subscribe", "hub.challenge": "1"},
                       {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
                        "hub.challenge": "1"}, {}):  # fmt: skip
            async with session.get(hook, params=params) as answer:
                assert answer.status == 403 and "1" not in await answer.text()
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                  "hub.challenge": "1158201444"}  # fmt: skip
        async with session.get(hook, params=params) as answer:
            assert (answer.status, await answer.text()) == (200, "1158201444")


async def test_a_message_is_stored_once_keyed_by_her_number(meta, hook):
    zoe = meta.user(name="Zoé")
    post = await zoe.send_text("NUIT42")
    assert post.status == 200
    [row] = await stored()
    message = post.payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert (row.channel, row.key, row.update_id) == ("whatsapp", zoe.wa_id, update_id(message))
    assert row.payload == {
        "message": message,
        "name": "Zoé",
        "metadata": {"display_phone_number": meta.display_phone_number,
                     "phone_number_id": meta.phone_number_id},
    }  # fmt: skip
    assert (await meta.redeliver(post)).status == 200  # Meta posts it again
    again = await asyncio.gather(meta.redeliver(post), meta.redeliver(post))
    assert [p.status for p in again] == [200, 200]
    assert len(await stored()) == 1


@pytest.mark.parametrize("forgery", ["unsigned", "forged", "other secret", "tampered", "empty"])
async def test_unsigned_or_forged_posts_are_refused_and_nothing_stored(meta, hook, forgery):
    zoe = meta.user(name="Zoé")
    body = json.dumps(meta.envelope({
        "contacts": [{"profile": {"name": "Zoé"}, "wa_id": zoe.wa_id}],
        "messages": [{"from": zoe.wa_id, "id": "wamid.X", "timestamp": "1700000000",
                      "type": "text", "text": {"body": "hi"}}],
    })).encode()  # fmt: skip
    signature = {
        "unsigned": None,
        "forged": "sha256=" + "0" * 64,
        "other secret": CloudApiEmulator(app_secret="another-app-secret-123").sign(body),
        "tampered": meta.sign(body.replace(b"hi", b"ho")),
        "empty": "",
    }[forgery]
    post = await meta.post_raw(body, signature)
    assert post.status == 403
    assert await stored() == []
    assert (await meta.post_raw(body, meta.sign(body))).status == 200  # signed, it goes
    assert len(await stored()) == 1


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b'"a string"', b"[]",
                                  b'{"object": "page", "entry": []}', b'{"object": '
                                  b'"whatsapp_business_account", "entry": 3}'])  # fmt: skip
async def test_signed_but_garbled_posts_are_400_and_nothing_stored(meta, hook, body):
    post = await meta.post_raw(body, meta.sign(body))
    assert post.status == 400
    assert await stored() == []


async def test_statuses_are_acknowledged_not_stored_a_failure_logged_without_her_number(
    meta, hook, caplog
):
    marie = meta.user(name="Marie")
    await marie.send_text("hello")
    async with CloudApiClient(meta.api_url, meta.phone_number_id, meta.token) as client:
        await client.send(render({"kind": "text", "text": "Bonsoir"}, marie.wa_id, "fr")[0])
    with caplog.at_level(logging.INFO):
        for status in ("sent", "delivered", "read"):
            assert (await meta.post_status(marie.last(), status)).status == 200
        assert (await meta.post_status(marie.last(), "failed", error_code=131026)).status == 200
    assert len(await stored()) == 1  # her "hello" only
    assert "131026" in caplog.text and marie.wa_id not in caplog.text


async def test_her_messages_keep_their_order_and_people_their_keys(meta, hook):
    ada, zoe = meta.user(name="Ada"), meta.user(name="Zoé")
    await ada.send_text("one")
    meta.advance(seconds=1)
    await zoe.send_text("hers")
    await ada.send_location(48.85, 2.35)
    meta.advance(seconds=2)
    await ada.send_image("three")
    await ada.send_sticker()
    rows = [row for row in await stored() if row.key == ada.wa_id]
    kinds = [row.payload["message"]["type"] for row in rows]
    # By the second she sent them (Meta's timestamps); within one second, in a fixed order.
    assert kinds[:2] == ["text", "location"] and set(kinds[2:]) == {"image", "sticker"}
    assert {row.key for row in await stored()} == {ada.wa_id, zoe.wa_id}


async def test_a_message_for_another_number_is_not_ours(meta, hook):
    body = json.dumps(meta.envelope({
        "metadata": {"display_phone_number": "3200000", "phone_number_id": "999"},
        "messages": [{"from": "33600000001", "id": "wamid.Y", "timestamp": "1700000000",
                      "type": "text", "text": {"body": "hi"}}],
    })).encode()  # fmt: skip
    assert (await meta.post_raw(body, meta.sign(body))).status == 200
    assert await stored() == []


async def test_a_notice_goes_out_and_her_tap_comes_back_as_its_action(meta, hook):
    """Render, send through the client, she taps, the webhook stores it, the id verifies."""
    marie = meta.user(name="Marie")
    await marie.send_text("NUIT42")
    notice = {"kind": "text", "text": "Did you get home <b>safely</b>?",
              "choices": [[["🏠 I'm home", "cl:home:12"]], [["🆘 Help", "help:ask"]]]}  # fmt: skip
    async with CloudApiClient(meta.api_url, meta.phone_number_id, meta.token) as client:
        for body in render(notice, marie.wa_id, "en", secret=SECRET):
            await client.send(body)
    assert marie.last().text == "Did you get home *safely*?"
    await marie.tap("🏠 I'm home")
    await meta.user(name="Eve").reply(marie.last().choices()[0][0], "🏠 I'm home")  # replayed
    rows = await stored()
    taps = [row for row in rows if row.payload["message"]["type"] == "interactive"]
    assert len(taps) == 2
    read = {
        row.key: parse_choice(
            row.key, row.payload["message"]["interactive"]["button_reply"]["id"], SECRET
        )
        for row in taps
    }
    eve = next(key for key in read if key != marie.wa_id)
    assert read == {marie.wa_id: "cl:home:12", eve: None}  # her tap; a replay by Eve refused
