"""`companion-bot run` as a real process: migrates, serves the emulator, stops on SIGTERM,
and never prints the token."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from companion_bot.emulator import BotApiEmulator
from companion_bot.i18n import LANGUAGES
from tests.test_cli import SETTINGS


async def test_run_serves_updates_and_stops_cleanly(tmp_path):
    async with BotApiEmulator() as emulator:
        env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
        env.update(
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_URL=emulator.url,
            DATABASE_URL=f"sqlite://{tmp_path / 'data' / 'bot.sqlite3'}",
            DEFAULT_LANGUAGE="en",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "companion_bot", "run",
            env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            marie = emulator.user(first_name="Marie", language_code="en")
            await marie.start()
            reply = await marie.wait_for_message(timeout=60)
            assert "open the link the organizers shared" in reply.text
            assert emulator.count_calls("setMyCommands") == len(LANGUAGES)  # a menu per language
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    output = stdout.decode() + stderr.decode()
    assert "Bot stopped" in output
    assert emulator.token not in output
    assert emulator.token.split(":")[1] not in output
    assert (tmp_path / "data" / "bot.sqlite3").exists()
