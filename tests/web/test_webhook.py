"""Webhook mode: Telegram's posts reach the handlers, replies reach the emulator, and posts
without the secret, or that are not updates, are refused without touching the bot."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from companion_bot.app import build_application
from companion_bot.emulator import EmulatedUser
from companion_bot.i18n import LANGUAGES
from companion_bot.models import InboxUpdate
from companion_bot.settings import SettingsError, load_settings
from companion_bot.web import create_app
from companion_bot.web.webhook import SECRET_HEADER
from companion_bot.workers import get_workers
from tests.support import conversation_step, data
from tests.test_cli import run_cli
from tests.web.webhook_support import WEBHOOK_URL, WebhookHarness, start_webhook_harness

TOKEN = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"


@pytest_asyncio.fixture
async def hook(db: str) -> AsyncIterator[WebhookHarness]:
    async with start_webhook_harness(db) as running:
        yield running


async def start_update(hook: WebhookHarness) -> tuple[dict, EmulatedUser]:
    """A /start from a new person, not posted yet; and her."""
    zoe = hook.user(first_name="Zoé", language_code="en")
    await zoe.start()
    [update] = hook.take_pending()
    return update, zoe


async def test_the_webhook_is_registered_with_its_secret_and_no_polling(hook: WebhookHarness):
    stored = hook.emulator.default_bot.webhook
    assert stored.url == WEBHOOK_URL
    assert stored.secret_token == hook.settings.webhook_secret
    assert "message" in stored.allowed_updates and "callback_query" in stored.allowed_updates
    assert hook.emulator.count_calls("getUpdates") == 0
    assert hook.emulator.count_calls("setMyCommands") == len(LANGUAGES)  # menus published here too


async def test_sign_up_steps_through_the_webhook(hook: WebhookHarness, event):
    marie = hook.user(first_name="Marie", language_code="en")

    reply = await hook.say(marie, f"/start {event.attendee_code}")
    assert "Which language" in reply.text

    reply = await hook.tap(marie, data("su:lang:en"))
    assert "Welcome to Nuit Compagnonnes" in reply.text
    reply = await hook.tap(marie, data("su:charter:yes"))
    assert "What name should your companions see?" in reply.text
    # Written through to the database like in polling mode.
    assert await conversation_step(marie.id, "signup") == "name"
    assert hook.application.bot_data.get("errors", 0) == 0


async def test_a_post_without_the_right_secret_is_refused(hook: WebhookHarness):
    update, zoe = await start_update(hook)
    for secret in (None, "", "wrong", hook.settings.webhook_secret[:-1]):
        response = await hook.post(update, secret=secret)
        assert response.status == 403
        assert hook.settings.webhook_secret not in await response.text()
    await get_workers(hook.application).wait_idle()
    assert zoe.messages() == []
    # The right secret: the same update is taken.
    assert (await hook.post(update)).status == 200
    await get_workers(hook.application).wait_idle()
    assert zoe.messages() != []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"text"',
        b'{"message": {}}',
        b'{"update_id": "7"}',
        b'{"update_id": 7, "message": "x"}',
        b'{"update_id": 7, "callback_query": []}',
    ],
)
async def test_a_post_that_is_not_an_update_is_a_bad_request(hook: WebhookHarness, body: bytes):
    response = await hook.post(None, raw=body)
    assert response.status == 400
    await get_workers(hook.application).wait_idle()
    assert hook.application.bot_data.get("errors", 0) == 0
    # The bot still serves the next real update.
    update, zoe = await start_update(hook)
    assert (await hook.post(update)).status == 200
    await get_workers(hook.application).wait_idle()
    assert zoe.messages() != []


async def test_an_update_posted_twice_is_handled_once(hook: WebhookHarness):
    update, zoe = await start_update(hook)
    assert (await hook.post(update)).status == 200
    assert (await hook.post(update)).status == 200
    await get_workers(hook.application).wait_idle()
    assert len(zoe.messages()) == 1


async def test_in_polling_mode_there_is_no_webhook_route(db: str):
    settings = load_settings(TELEGRAM_BOT_TOKEN=TOKEN, DATABASE_URL=db, _env_file=None)
    application = build_application(settings)
    chat = {"id": 2, "type": "private"}
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": chat, "text": "/"}}
    async with TestClient(TestServer(create_app(application, settings))) as client:
        response = await client.post(
            settings.webhook_path, json=update, headers={SECRET_HEADER: settings.webhook_secret}
        )
        assert response.status in (404, 405)
    assert not await InboxUpdate.exists()  # nothing was stored


def test_webhook_settings_are_checked_and_the_secret_is_derived_from_the_token():
    settings = load_settings(
        TELEGRAM_BOT_TOKEN=TOKEN, WEBHOOK_URL="https://bot.example.org", _env_file=None
    )
    assert settings.WEBHOOK_URL == "https://bot.example.org/telegram"
    assert settings.webhook_path == "/telegram"
    assert (settings.WEB_HOST, settings.WEB_PORT) == ("127.0.0.1", 8080)
    secret = settings.webhook_secret
    assert secret == load_settings(TELEGRAM_BOT_TOKEN=TOKEN, _env_file=None).webhook_secret
    assert TOKEN not in secret and TOKEN.split(":")[1] not in secret
    assert secret != hashlib.sha256(b"").hexdigest()
    assert secret != settings.callback_secret.hex()
    other = load_settings(TELEGRAM_BOT_TOKEN=TOKEN.replace("AA", "BB"), _env_file=None)
    assert other.webhook_secret != secret
    chosen = load_settings(WEBHOOK_SECRET="my-own_secret", _env_file=None)
    assert chosen.webhook_secret == "my-own_secret"
    path = load_settings(WEBHOOK_URL="https://b.example.org:8443/hooks/tg/", _env_file=None)
    assert path.webhook_path == "/hooks/tg"

    for name, value in [
        ("WEBHOOK_URL", "http://bot.example.org/telegram"),
        ("WEBHOOK_URL", "https://bot.example.org:8080/telegram"),
        ("WEBHOOK_URL", "https:///telegram"),
        ("WEBHOOK_SECRET", "has spaces and é"),
        ("WEB_PORT", "70000"),
        ("WEB_PORT", "http"),
        ("WEB_HOST", "two words"),
    ]:
        with pytest.raises(SettingsError) as raised:
            load_settings(**{name: value}, _env_file=None)
        message = str(raised.value)
        assert name in message and "\n" not in message
        if name == "WEBHOOK_SECRET":
            assert value not in message
    with pytest.raises(SettingsError, match="WEBHOOK_URL is not set"):
        load_settings(_env_file=None).webhook_url  # noqa: B018


def test_run_webhook_without_its_url_says_so_in_one_line(tmp_path):
    result = run_cli("run", "--webhook", env={"TELEGRAM_BOT_TOKEN": TOKEN}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "WEBHOOK_URL" in lines[0], result.stderr
    assert TOKEN.split(":")[1] not in result.stderr
