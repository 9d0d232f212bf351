"""Compagnonnes de route: a Telegram bot for people who come alone to parties.

python-telegram-bot 22 is moving its time periods (a flood wait's `retry_after`, a live
location's `live_period`...) from whole seconds to `datetime.timedelta`, and until a program
opts in it warns at every read, its own included: building a `RetryAfter` reads one. We opt in
to that future behaviour here, before anything of ours or of PTB's reads one, and read them as
timedeltas (`workers.retry_after_seconds`, handlers/relay.py).
"""

import os

os.environ["PTB_TIMEDELTA"] = "1"
