"""The bot's aiohttp client for Bot API calls keeps PTB's request contract: form-encoded
parameters (multipart with files), TimedOut on timeouts, NetworkError otherwise."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from companion_bot.telegram_http import AiohttpRequest

parameter = RequestParameter.from_input


async def echo(request: web.Request) -> web.Response:
    form = await request.post()
    fields = {
        name: (value.file.read().decode() if isinstance(value, web.FileField) else value)
        for name, value in form.items()
    }
    return web.json_response({"ok": True, "result": fields}, status=200)


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="{}")


@pytest.fixture
async def server():
    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_post("/slow", slow)
    async with TestServer(app) as running:
        yield running


@pytest.fixture
async def client():
    request = AiohttpRequest(connection_pool_size=4, read_timeout=0.3, write_timeout=0.3)
    await request.initialize()
    yield request
    await request.shutdown()


async def test_parameters_are_form_encoded_and_the_answer_returned(server, client):
    data = RequestData([parameter("chat_id", 42), parameter("text", "Bonsoir é")])
    status, body = await client.do_request(str(server.make_url("/echo")), "POST", data)
    assert status == 200
    assert json.loads(body)["result"] == {"chat_id": "42", "text": "Bonsoir é"}


async def test_files_go_as_multipart(server, client):
    document = InputFile(b"a,b\n1,2\n", filename="stats.csv")
    data = RequestData([parameter("chat_id", 7), parameter("document", document)])
    assert data.contains_files
    status, body = await client.do_request(str(server.make_url("/echo")), "POST", data)
    assert status == 200
    assert json.loads(body)["result"] == {"chat_id": "7", "document": "a,b\n1,2\n"}


async def test_a_slow_answer_is_a_timeout(server, client):
    with pytest.raises(TimedOut):
        await client.do_request(str(server.make_url("/slow")), "POST", RequestData([]))


async def test_nobody_listening_is_a_network_error(client):
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError):
        await client.do_request(f"http://127.0.0.1:{port}/x", "POST", RequestData([]))


async def test_it_must_be_initialized_first():
    with pytest.raises(RuntimeError):
        await AiohttpRequest().do_request("http://127.0.0.1:1/x", "POST")
