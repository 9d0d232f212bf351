"""`python -m companion_bot.emulator --port 8081`: an empty emulator for manual runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .limits import Limits
from .server import DEFAULT_TOKEN, BotApiEmulator


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="token of the default bot")
    parser.add_argument(
        "--telegram-limits",
        action="store_true",
        help="enforce 30 msg/s per bot and 1 msg/s per chat (429s)",
    )
    return parser.parse_args()


async def _serve(args: argparse.Namespace) -> None:
    limits = Limits.telegram() if args.telegram_limits else None
    emulator = BotApiEmulator(token=args.token, limits=limits, access_log=True)
    await emulator.start(args.host, args.port)
    print(
        f"Bot API emulator listening: base_url={emulator.base_url} "
        f"base_file_url={emulator.base_file_url} token={emulator.token}",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_arguments()))


if __name__ == "__main__":
    main()
