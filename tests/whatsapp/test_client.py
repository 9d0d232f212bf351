"""The bot's WhatsApp client against the emulator, through real HTTP: a message id when Meta
accepts, and each of Meta's refusals as the exception the outbox worker acts on."""

from __future__ import annotations

import socket

import pytest

from companion_bot.whatsapp.client import (
    CloudApiClient,
    InvalidRequest,
    OutsideWindow,
    RetryLater,
    TemplateRejected,
    Unauthorized,
    Undeliverable,
    WhatsAppError,
    classify,
)
from companion_bot.whatsapp.render import render


def client_for(meta, **overrides) -> CloudApiClient:
    values = {"api_url": meta.api_url, "phone_number_id": meta.phone_number_id,
              "token": meta.token} | overrides  # fmt: skip
    return CloudApiClient(**values)


def text(to: str, body: str = "Bonsoir") -> dict:
    return render({"kind": "text", "text": body}, to, "fr")[0]


@pytest.fixture
def marie(meta):
    user = meta.user(name="Marie")
    user.contact.last_inbound = meta.now()
    return user


async def test_an_accepted_message_gives_its_id(meta, marie):
    async with client_for(meta) as client:
        wamid = await client.send(text(marie.wa_id, "<b>Bonsoir</b> &amp; bienvenue"))
    assert wamid == marie.last().wamid
    assert marie.texts() == ["*Bonsoir* & bienvenue"]


async def test_outside_the_window_then_the_template(meta, marie):
    meta.advance(hours=25)
    async with client_for(meta) as client:
        with pytest.raises(OutsideWindow) as caught:
            await client.send(text(marie.wa_id))
        assert caught.value.code == 131047 and caught.value.status == 400
        template = {"kind": "template", "name": "are_you_home", "language": "nl",
                    "params": ["De Nacht"]}  # fmt: skip
        await client.send(render(template, marie.wa_id, "nl")[0])
    assert marie.texts() == ["Ben je veilig thuisgekomen na De Nacht? Antwoord op dit bericht "
                             "om te laten weten dat je thuis bent."]  # fmt: skip


@pytest.mark.parametrize(
    ("code", "kind", "retry_after"),
    [
        (130429, RetryLater, 1.0),
        (131056, RetryLater, 6.0),
        (131000, RetryLater, 1.0),
        (131016, RetryLater, 5.0),
        (502, RetryLater, 1.0),
        (131026, Undeliverable, None),
        (190, Unauthorized, None),
    ],
)
async def test_metas_errors_become_typed_exceptions(meta, marie, code, kind, retry_after):
    meta.fail_next(code)
    async with client_for(meta) as client:
        with pytest.raises(kind) as caught:
            await client.send(text(marie.wa_id))
        if retry_after is not None:
            assert caught.value.retry_after == retry_after
        assert marie.wa_id not in str(caught.value)
        await client.send(text(marie.wa_id))  # the next one goes
    assert len(marie.messages()) == 1


async def test_permanent_refusals(meta, marie):
    too_many = {"kind": "text", "text": "x", "choices": [[("a", "a")]]}
    body = render(too_many, marie.wa_id, "fr", secret=b"k" * 32)[0]
    body["interactive"]["action"]["buttons"] *= 4  # 4 buttons, same ids
    missing = {"kind": "template", "name": "nope", "language": "fr", "params": []}
    async with client_for(meta) as client:
        with pytest.raises(InvalidRequest) as caught:
            await client.send(body)
        assert caught.value.code == 131009 and "Buttons count" in caught.value.details
        with pytest.raises(TemplateRejected) as template:
            await client.send(render(missing, marie.wa_id, "fr")[0])
        assert template.value.code == 132001
        marie.block()
        with pytest.raises(Undeliverable):
            await client.send(text(marie.wa_id))
    async with client_for(meta, token="EAAwrongwrongwrong") as client:
        with pytest.raises(Unauthorized):
            await client.send(text(marie.wa_id))
    async with client_for(meta, phone_number_id="42") as client:
        with pytest.raises(InvalidRequest) as caught:
            await client.send(text(marie.wa_id))
        assert caught.value.code == 100
    assert marie.messages() == []


async def test_no_answer_is_retried_later(marie):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with CloudApiClient(f"http://127.0.0.1:{port}/v24.0", "1", "t" * 20) as client:
        with pytest.raises(RetryLater) as caught:
            await client.send(text(marie.wa_id))
    assert caught.value.code is None


def test_the_token_is_never_shown():
    client = CloudApiClient("https://graph.facebook.com/v24.0", "123", "EAAsecretsecret")
    assert "EAAsecretsecret" not in repr(client)


def test_classification_of_codes_the_emulator_does_not_give():
    assert isinstance(classify(400, {"code": 4, "message": "(#4) Too many calls"}), RetryLater)
    assert isinstance(classify(400, {"code": 131048}), RetryLater)
    assert isinstance(classify(400, {"code": 131047}), OutsideWindow)
    assert isinstance(classify(403, {"code": 200}), Unauthorized)
    assert isinstance(classify(400, {"code": 132015}), TemplateRejected)
    assert isinstance(classify(400, {"code": 131051}), InvalidRequest)
    assert isinstance(classify(504, None), RetryLater)
    assert isinstance(classify(429, None), RetryLater)
    assert type(classify(418, None)) is InvalidRequest
    error = classify(400, {"code": 100, "message": "(#100) Invalid parameter",
                           "error_data": {"details": "bad"}, "fbtrace_id": "T"})  # fmt: skip
    assert isinstance(error, WhatsAppError) and (error.details, error.trace_id) == ("bad", "T")


async def test_media_round_trip_and_its_refusals(meta, marie):
    async with client_for(meta) as client:
        media_id = await client.upload(b"\xff\xd8 photo", "image/jpeg", "photo.jpg")
        info = await client.media(media_id)
        assert (info.mime_type, info.file_size) == ("image/jpeg", 8)
        assert await client.download(info.url) == b"\xff\xd8 photo"
        image = render({"kind": "photo", "id": media_id}, marie.wa_id, "fr")[0]
        assert await client.send(image) == marie.last().wamid
        with pytest.raises(InvalidRequest):  # 131053: a type Meta does not take
            await client.upload(b"x", "video/x-unknown", "clip")
        meta.expire_media(media_id)
        with pytest.raises(InvalidRequest):  # 100: no such media (any more)
            await client.media(media_id)
        with pytest.raises(InvalidRequest):  # 404 from the download URL
            await client.download(info.url)
        meta.fail_next_media(131000)
        with pytest.raises(RetryLater):
            await client.upload(b"\xff\xd8", "image/jpeg", "photo.jpg")
    async with client_for(meta, token="wrong") as client:
        with pytest.raises(Unauthorized):
            await client.upload(b"\xff\xd8", "image/jpeg", "photo.jpg")
