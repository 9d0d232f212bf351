"""`companion-bot run --webhook` as a real process: registers the webhook with its secret,
serves an update posted to it, answers /healthz, stops cleanly on SIGTERM, never prints the
token or the secret."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp

from companion_bot.emulator import BotApiEmulator
from companion_bot.settings import load_settings
from companion_bot.web.webhook import SECRET_HEADER
from tests.test_cli import SETTINGS

WEBHOOK_URL = "https://bot.example.org/tg-hook"


async def read_until(stream: asyncio.StreamReader, pattern: str, seen: list[str]) -> re.Match:
    while line := (await stream.readline()).decode():
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError("the process ended before saying: " + pattern + "\n" + "".join(seen))


async def test_run_webhook_serves_an_update_and_stops_on_sigterm(tmp_path):
    async with BotApiEmulator() as emulator:
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS and "WEB" not in k}
        env.update(
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_URL=emulator.url,
            DATABASE_URL=f"sqlite://{tmp_path / 'bot.sqlite3'}",
            DEFAULT_LANGUAGE="en",
            WEBHOOK_URL=WEBHOOK_URL,
            WEB_PORT="0",  # any free port: the log says which
        )
        secret = load_settings(TELEGRAM_BOT_TOKEN=emulator.token, _env_file=None).webhook_secret
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "companion_bot", "run", "--webhook",
            env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        seen: list[str] = []
        try:
            async with asyncio.timeout(60):
                listening = await read_until(
                    process.stderr, r"listening on (http://127\.0\.0\.1:\d+)", seen
                )
                base = listening.group(1)
                await emulator.wait_for(lambda: bool(emulator.default_bot.webhook.url), 60)
            hook = emulator.default_bot.webhook
            assert (hook.url, hook.secret_token) == (WEBHOOK_URL, secret)
            assert emulator.count_calls("getUpdates") == 0

            marie = emulator.user(first_name="Marie", language_code="en")
            await marie.start()
            [update] = emulator.default_bot.pending
            emulator.default_bot.pending.clear()
            async with aiohttp.ClientSession(base) as http:
                async with http.post("/tg-hook", json=update) as refused:
                    assert refused.status == 403
                headers = {SECRET_HEADER: secret}
                async with http.post("/tg-hook", json=update, headers=headers) as taken:
                    assert taken.status == 200
                reply = await marie.wait_for_message(timeout=60)
                assert "open the link the organizers shared" in reply.text
                async with http.get("/healthz") as health:
                    assert health.status == 200
                    assert (await health.json())["bot"] == "ok"
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, "".join(seen) + stderr.decode()
    output = "".join(seen) + stdout.decode() + stderr.decode()
    assert "Bot stopped" in output
    for hidden in (emulator.token, emulator.token.split(":")[1], secret):
        assert hidden not in output
    assert emulator.count_calls("deleteWebhook") == 0  # stays registered for the next start
