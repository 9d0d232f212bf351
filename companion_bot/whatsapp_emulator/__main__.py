"""`python -m companion_bot.whatsapp_emulator --port 8082 --webhook URL --verify-token T`:
an emulator for manual runs, with the bot's utility templates approved in fr, en and nl."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .server import CloudApiEmulator
from .templates import approve_bot_templates


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Local WhatsApp Cloud API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--webhook", help="the bot's webhook URL (checked with the handshake)")
    parser.add_argument("--verify-token", default="", help="the bot's WHATSAPP_VERIFY_TOKEN")
    return parser.parse_args()


async def _serve(args: argparse.Namespace) -> None:
    emulator = CloudApiEmulator()
    approve_bot_templates(emulator)
    await emulator.start(args.host, args.port)
    if args.webhook:
        await emulator.subscribe(args.webhook, args.verify_token)
    print(
        f"WhatsApp Cloud API emulator listening: WHATSAPP_API_URL={emulator.api_url} "
        f"WHATSAPP_PHONE_NUMBER_ID={emulator.phone_number_id} (token and app secret: the "
        "emulator's defaults, see companion_bot/whatsapp_emulator/server.py)",
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
