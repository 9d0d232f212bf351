"""Telegram handlers, one module per journey. `register_handlers` wires them in order: the
flood guard and help first (they must work whatever she is doing), then the conversations,
then commands and buttons, then the group relay and the catch-alls that see what no journey
took."""

from __future__ import annotations

import warnings

from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from handlers import (
    board,
    closing,
    flood,
    followup,
    general,
    help,
    night,
    online,
    organizer,
    privacy,
    relay,
    safety,
    signup,
    start,
    zones,
)
from handlers.general import on_error


def register_handlers(application: Application) -> None:
    # Our conversations span several messages on purpose (per_message=False).
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    application.add_handler(flood.flood_handler(), group=flood.FLOOD_GROUP)
    application.add_handlers(safety.early_handlers(), group=safety.DURESS_GROUP)
    application.add_handlers(help.early_handlers(), group=help.HELP_GROUP)
    shared = general.shared_commands() + privacy.shared_commands()
    application.add_handlers(
        [
            signup.conversation(start.start_handler(), shared),
            organizer.new_event_conversation(shared),
            night.conversation(shared),
            zones.conversation(shared),
            followup.conversation(shared),
            safety.conversation(shared),
            *organizer.handlers(),
            *night.handlers(),
            *board.handlers(),
            *closing.handlers(),
            *online.handlers(),
            *safety.handlers(),
            *privacy.shared_commands(),
            *privacy.handlers(),
            *relay.handlers(),
            *general.global_handlers(),
        ]
    )
    application.add_error_handler(on_error)
