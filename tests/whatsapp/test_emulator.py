"""The WhatsApp emulator answers like Meta: the limits of each kind of message, Meta's error
shapes, the 24-hour window, templates, and webhooks signed with the app secret. Requests go
over HTTP with plain aiohttp here, not with the bot's client (tested against it elsewhere)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from companion_bot.whatsapp_emulator import CloudApiEmulator, Limits

Answer = tuple[int, Any]


async def send(meta: CloudApiEmulator, body: dict, *, token: str | None = None,
               number: str | None = None) -> Answer:  # fmt: skip
    url = f"{meta.api_url}/{number or meta.phone_number_id}/messages"
    headers = {"Authorization": f"Bearer {token or meta.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as answer,
    ):
        text = await answer.text()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text


def message(to: str, kind: str, content: dict) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": kind, kind: content}  # fmt: skip


def buttons(to: str, titles: list[str], ids: list[str] | None = None) -> dict:
    ids = ids or [f"id{n}" for n in range(len(titles))]
    return message(to, "interactive", {
        "type": "button", "body": {"text": "Pick one"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": i, "title": t}}
                               for i, t in zip(ids, titles, strict=True)]},
    })  # fmt: skip


def rows_list(to: str, rows: list[dict], button: str = "Choose") -> dict:
    return message(to, "interactive", {
        "type": "list", "body": {"text": "Pick one"},
        "action": {"button": button, "sections": [{"rows": rows}]},
    })  # fmt: skip


def error_of(answer: Answer) -> tuple[int, int]:
    status, data = answer
    error = data["error"]
    assert set(error) >= {"message", "type", "code", "fbtrace_id"}
    assert error["message"].startswith(f"(#{error['code']})") or error["code"] in (100, 190)
    return status, error["code"]


@pytest_asyncio.fixture
async def marie(meta: CloudApiEmulator):
    """She wrote a minute ago: her window is open (no webhook yet: set directly)."""
    user = meta.user(name="Marie")
    user.contact.last_inbound = meta.now()
    return user


async def test_a_text_inside_the_window_is_accepted_and_recorded(meta, marie):
    status, data = await send(meta, message(marie.wa_id, "text", {"body": "Bonsoir !"}))
    assert status == 200
    assert data["messaging_product"] == "whatsapp"
    assert data["contacts"] == [{"input": marie.wa_id, "wa_id": marie.wa_id}]
    [sent] = marie.messages()
    assert data["messages"] == [{"id": sent.wamid}] and sent.wamid.startswith("wamid.")
    assert marie.texts() == ["Bonsoir !"]


async def test_free_form_outside_the_window_is_refused_templates_go(meta, marie):
    ada = meta.user(name="Ada")  # never wrote
    text = message(ada.wa_id, "text", {"body": "Hello"})
    assert error_of(await send(meta, text)) == (400, 131047)
    meta.advance(hours=23, minutes=59)
    assert (await send(meta, message(marie.wa_id, "text", {"body": "still"})))[0] == 200
    meta.advance(minutes=2)
    status, data = await send(meta, message(marie.wa_id, "text", {"body": "too late"}))
    assert (status, data["error"]["code"]) == (400, 131047)
    assert "24 hours" in data["error"]["error_data"]["details"]
    template = message(marie.wa_id, "template", {
        "name": "are_you_home", "language": {"code": "fr"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "La Nuit"}]}],
    })  # fmt: skip
    status, data = await send(meta, template)
    assert status == 200 and data["messages"][0]["message_status"] == "accepted"
    assert marie.last().text.startswith("Après La Nuit, le retour s'est bien passé ?")
    assert marie.texts() == ["still", marie.last().text]


async def test_templates_must_exist_and_get_their_parameters(meta, marie):
    def template(name: str, code: str, params: list[str]) -> dict:
        parameters = [{"type": "text", "text": p} for p in params]
        return message(marie.wa_id, "template", {
            "name": name, "language": {"code": code},
            "components": [{"type": "body", "parameters": parameters}],
        })  # fmt: skip

    assert error_of(await send(meta, template("nope", "fr", ["x"]))) == (404, 132001)
    assert error_of(await send(meta, template("are_you_home", "de", ["x"]))) == (404, 132001)
    assert error_of(await send(meta, template("are_you_home", "fr", []))) == (400, 132000)
    assert error_of(await send(meta, template("are_you_home", "fr", ["a\nb"])))[1] == 132018
    assert marie.messages() == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (lambda to: buttons(to, ["A", "B", "C", "D"]), 131009),  # 4 buttons
        (lambda to: buttons(to, []), 131009),
        (lambda to: buttons(to, ["x" * 21]), 131009),  # title over 20
        (lambda to: buttons(to, ["Same", "Same"]), 131009),
        (lambda to: buttons(to, ["A", "B"], ["id", "id"]), 131009),
        (lambda to: buttons(to, ["A"], ["i" * 257]), 131009),
        (lambda to: rows_list(to, [{"id": f"r{n}", "title": "Row"} for n in range(11)]), 131009),
        (lambda to: rows_list(to, [{"id": "r", "title": "x" * 25}]), 131009),
        (lambda to: rows_list(to, [{"id": "r", "title": "t", "description": "d" * 73}]), 131009),
        (lambda to: rows_list(to, [{"id": "r", "title": "t"}], button="b" * 21), 131009),
        (lambda to: rows_list(to, [{"id": "r", "title": "t", "colour": "red"}]), 100),
        (lambda to: message(to, "text", {"body": "x" * 4097}), 131009),
        (lambda to: message(to, "text", {}), 131008),
        (lambda to: message(to, "sticker", {"id": "1"}), 100),
        (lambda to: message(to, "image", {"link": "https://x.org/a.jpg", "id": "1"}), 100),
        (lambda to: message(to, "image", {"link": "x.org", "caption": "c"}), 131009),
        (lambda to: message(to, "location", {"latitude": 91, "longitude": 2}), 131009),
        (lambda to: message(to, "interactive", {"type": "location_request_message",
                                                "body": {"text": "Where?"},
                                                "action": {"name": "send_pin"}}), 131009),
        (lambda to: message(to, "interactive", {"type": "button", "body": {"text": "x" * 1025},
                                                "action": {"buttons": [{"type": "reply",
                                                 "reply": {"id": "a", "title": "A"}}]}}), 131009),
        (lambda to: {"to": to, "type": "text", "text": {"body": "x"}}, 100),
        (lambda to: message("not-a-number", "text", {"body": "x"}), 100),
    ],
)  # fmt: skip
async def test_bodies_past_the_limits_get_metas_errors(meta, marie, body, code):
    assert error_of(await send(meta, body(marie.wa_id))) == (400, code)
    assert marie.messages() == []
    assert meta.requests[-1].error_code == code


async def test_what_fits_the_limits_goes(meta, marie):
    uploaded = meta.store_media(b"\xff\xd8 jpeg", "image/jpeg", uploaded=True)
    ok = [
        buttons(marie.wa_id, ["A", "B", "x" * 20]),
        rows_list(marie.wa_id, [{"id": f"r{n}", "title": "x" * 24, "description": "d" * 72}
                                for n in range(10)]),
        message(marie.wa_id, "location", {"latitude": 48.85, "longitude": 2.35, "name": "Bar"}),
        message(marie.wa_id, "image", {"link": "https://x.org/a.jpg", "caption": "c"}),
        message(marie.wa_id, "image", {"id": uploaded.id}),
        message(marie.wa_id, "audio", {"id": uploaded.id}),
        message(marie.wa_id, "document", {"id": uploaded.id, "filename": "a.pdf", "caption": "c"}),
        message(marie.wa_id, "interactive", {"type": "location_request_message",
                                             "body": {"text": "Where are you?"},
                                             "action": {"name": "send_location"}}),
    ]  # fmt: skip
    for body in ok:
        assert (await send(meta, body))[0] == 200, body
    assert len(marie.messages()) == len(ok)


async def test_token_number_and_recipient_errors(meta, marie):
    text = message(marie.wa_id, "text", {"body": "hi"})
    status, data = await send(meta, text, token="EAAwrong")
    assert (status, data["error"]["code"], data["error"]["type"]) == (401, 190, "OAuthException")
    status, data = await send(meta, text, number="999")
    assert (status, data["error"]["code"], data["error"]["error_subcode"]) == (400, 100, 33)
    stranger = message("33699999999", "text", {"body": "hi"})
    assert error_of(await send(meta, stranger)) == (400, 131026)
    marie.block()
    assert error_of(await send(meta, text)) == (400, 131026)
    marie.unblock()
    assert (await send(meta, text))[0] == 200


async def test_throughput_and_pair_rate_limits(meta, marie):
    now = [0.0]
    limited = CloudApiEmulator(limits=Limits(messages_per_second=2, per_person_interval=6),
                               monotonic=lambda: now[0])  # fmt: skip
    async with limited:
        ada, zoe, eve = (limited.user(name=n) for n in ("Ada", "Zoé", "Eve"))
        for person in (ada, zoe, eve):
            person.contact.last_inbound = limited.now()
        to = [message(p.wa_id, "text", {"body": "hi"}) for p in (ada, zoe, eve)]
        assert (await send(limited, to[0]))[0] == 200
        assert error_of(await send(limited, to[0])) == (400, 131056)  # same person at once
        assert (await send(limited, to[1]))[0] == 200
        assert error_of(await send(limited, to[2])) == (400, 130429)  # 2 per second used
        now[0] = 1.5
        assert (await send(limited, to[2]))[0] == 200
        now[0] = 6.5
        assert (await send(limited, to[0]))[0] == 200


async def test_injected_failures(meta, marie):
    text = message(marie.wa_id, "text", {"body": "hi"})
    meta.fail_next(131000)
    meta.fail_next(131016)
    meta.fail_next(502)
    assert error_of(await send(meta, text)) == (500, 131000)
    assert error_of(await send(meta, text)) == (503, 131016)
    status, page = await send(meta, text)
    assert status == 502 and "Bad Gateway" in page
    assert (await send(meta, text))[0] == 200
    with pytest.raises(ValueError):
        meta.fail_next(12345)


class Recorder:
    """A stand-in webhook that keeps what it was sent."""

    def __init__(self, verify_token: str = "verify-me") -> None:
        self.verify_token = verify_token
        self.posts: list[tuple[bytes, str | None]] = []

    async def get(self, request: web.Request) -> web.Response:
        if request.query.get("hub.verify_token") != self.verify_token:
            return web.Response(status=403)
        return web.Response(text=request.query["hub.challenge"])

    async def post(self, request: web.Request) -> web.Response:
        self.posts.append((await request.read(), request.headers.get("X-Hub-Signature-256")))
        return web.Response()


@pytest_asyncio.fixture
async def recorder(meta) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_get("/hook", recorder.get)
    app.router.add_post("/hook", recorder.post)
    async with TestServer(app) as server:
        recorder.url = str(server.make_url("/hook"))
        yield recorder


async def test_the_handshake_checks_a_webhook(meta, recorder):
    assert await meta.verify_webhook(recorder.url, "verify-me")
    assert not await meta.verify_webhook(recorder.url, "wrong")
    with pytest.raises(ValueError):
        await meta.subscribe(recorder.url, "wrong")
    assert meta.webhook_url is None
    await meta.subscribe(recorder.url, "verify-me")
    assert meta.webhook_url == recorder.url


async def test_what_she_sends_is_posted_signed_in_metas_shape(meta, recorder):
    await meta.subscribe(recorder.url, "verify-me")
    zoe = meta.user(name="Zoé")
    assert not meta.window_open(zoe.wa_id)
    post = await zoe.send_text("Bonsoir, NUIT42 ✨")
    assert post.status == 200 and meta.window_open(zoe.wa_id)
    await zoe.send_location(48.85, 2.35, name="Le Hangar")
    await zoe.send_image("moi")
    await zoe.send_sticker()
    kinds = []
    for body, signature in recorder.posts:
        expected = hmac.new(meta.app_secret.encode(), body, hashlib.sha256).hexdigest()
        assert signature == f"sha256={expected}"
        data = json.loads(body)
        assert data["object"] == "whatsapp_business_account"
        [entry] = data["entry"]
        [change] = entry["changes"]
        assert entry["id"] == meta.business_account_id and change["field"] == "messages"
        value = change["value"]
        assert value["messaging_product"] == "whatsapp"
        assert value["metadata"]["phone_number_id"] == meta.phone_number_id
        assert value["contacts"] == [{"profile": {"name": "Zoé"}, "wa_id": zoe.wa_id}]
        [received] = value["messages"]
        assert received["from"] == zoe.wa_id and received["id"].startswith("wamid.")
        assert received["timestamp"].isdigit()
        kinds.append(received["type"])
    assert kinds == ["text", "location", "image", "sticker"]
    text = json.loads(recorder.posts[0][0])["entry"][0]["changes"][0]["value"]["messages"][0]
    assert text["text"] == {"body": "Bonsoir, NUIT42 ✨"}
    assert b"\\u2728" in recorder.posts[0][0]  # escaped as Meta does: sign the raw bytes


async def test_replies_to_buttons_and_rows_and_the_window_clock(meta, recorder, marie):
    await meta.subscribe(recorder.url, "verify-me")
    await send(meta, buttons(marie.wa_id, ["Oui", "Non"], ["yes~x", "no~y"]))
    await send(meta, rows_list(marie.wa_id, [{"id": "r1", "title": "Paris 11e",
                                               "description": "Oberkampf"}]))  # fmt: skip
    list_message = marie.last()
    await marie.tap("Non")
    await marie.tap("Paris 11e")
    await marie.reply("forged~id", "Oui")  # whatever id she (or a forger) puts
    replies = [json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]
               for body, _ in recorder.posts]  # fmt: skip
    assert replies[0]["interactive"] == {
        "type": "button_reply", "button_reply": {"id": "no~y", "title": "Non"}}  # fmt: skip
    assert replies[0]["context"]["id"] == marie.messages()[0].wamid
    assert replies[1]["interactive"] == {"type": "list_reply", "list_reply": {
        "id": "r1", "title": "Paris 11e", "description": "Oberkampf"}}  # fmt: skip
    assert replies[1]["context"]["id"] == list_message.wamid
    assert replies[2]["interactive"]["button_reply"]["id"] == "forged~id"
    with pytest.raises(LookupError):
        await marie.tap("Peut-être")
    meta.advance(hours=25)
    assert not meta.window_open(marie.wa_id)
    with pytest.raises(ValueError):
        meta.advance(hours=-1)


async def test_statuses_are_posted_on_request(meta, recorder, marie):
    await meta.subscribe(recorder.url, "verify-me")
    await send(meta, message(marie.wa_id, "text", {"body": "hi"}))
    await meta.post_status(marie.last(), "delivered")
    await meta.post_status(marie.last(), "failed", error_code=131047)
    statuses = [json.loads(body)["entry"][0]["changes"][0]["value"]["statuses"][0]
                for body, _ in recorder.posts]  # fmt: skip
    assert [s["status"] for s in statuses] == ["delivered", "failed"]
    assert statuses[1]["errors"][0]["code"] == 131047
    assert all(s["id"] == marie.last().wamid for s in statuses)


async def upload(meta: CloudApiEmulator, content: bytes, mime_type: str, *,
                 token: str | None = None) -> Answer:  # fmt: skip
    form = aiohttp.FormData()
    form.add_field("messaging_product", "whatsapp")
    form.add_field("type", mime_type)
    form.add_field("file", content, filename="photo.jpg", content_type=mime_type)
    url = f"{meta.api_url}/{meta.phone_number_id}/media"
    headers = {"Authorization": f"Bearer {token or meta.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=form, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


async def get(url: str, token: str | None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
        return answer.status, await answer.read()


async def test_media_is_uploaded_sent_by_id_and_downloaded_with_the_token(meta, marie):
    status, answer = await upload(meta, b"\xff\xd8 our photo", "image/jpeg")
    assert status == 200
    media_id = answer["id"]
    assert (await send(meta, message(marie.wa_id, "image", {"id": media_id})))[0] == 200
    assert meta.media_sent(marie.last()).content == b"\xff\xd8 our photo"
    status, raw = await get(f"{meta.api_url}/{media_id}", meta.token)
    info = json.loads(raw)
    assert status == 200 and info["mime_type"] == "image/jpeg" and info["file_size"] == 12
    assert info["sha256"] == hashlib.sha256(b"\xff\xd8 our photo").hexdigest()
    assert await get(info["url"], meta.token) == (200, b"\xff\xd8 our photo")
    assert (await get(info["url"], None))[0] == 401  # the URL alone is not enough
    meta.expire_media(media_id)
    assert (await get(info["url"], meta.token))[0] == 404
    status, raw = await get(f"{meta.api_url}/{media_id}", meta.token)
    assert status == 400 and json.loads(raw)["error"]["code"] == 100


async def test_media_uploads_are_checked_and_received_ids_cannot_be_sent(meta, marie):
    assert (await upload(meta, b"x", "image/jpeg", token="wrong"))[0] == 401
    status, answer = await upload(meta, b"x", "video/x-unknown")
    assert (status, answer["error"]["code"]) == (400, 131053)
    status, answer = await upload(meta, b"x" * (5 * 1024 * 1024 + 1), "image/jpeg")
    assert (status, answer["error"]["code"]) == (400, 131053)
    received = meta.store_media(b"hers", "image/jpeg", uploaded=False)
    refused = await send(meta, message(marie.wa_id, "image", {"id": received.id}))
    assert error_of(refused) == (400, 131053)
    meta.fail_next_media(131000)
    status, answer = await upload(meta, b"x", "image/jpeg")
    assert (status, answer["error"]["code"]) == (500, 131000)
    assert (await upload(meta, b"x", "image/jpeg"))[0] == 200
