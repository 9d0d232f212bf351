"""Application wiring: the PTB Application that routes updates to our handlers, the workers,
and the run loop, receiving updates by long polling or through the web server's webhook.

Received updates are stored in the inbox first (companion_bot/inbox.py); the inbox worker
hands each to the application, with the person's state read from the database
(companion_bot/telegram_updates.py). PTB's Updater, persistence and update queue are not
used: they keep what matters in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from telegram import BotCommand, BotCommandScopeAllPrivateChats, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, Defaults

from companion_bot import signing
from companion_bot.db import close_database, start_database
from companion_bot.i18n import LANGUAGES, N_, load_all, translator
from companion_bot.logging_setup import configure_logging
from companion_bot.media import Library
from companion_bot.models import Channel
from companion_bot.services import messaging, outbox, scheduler
from companion_bot.services.board import WEB_ADDRESS_KEY
from companion_bot.settings import Settings, SettingsError
from companion_bot.telegram_files import TelegramFiles
from companion_bot.telegram_http import AiohttpRequest
from companion_bot.telegram_sender import TelegramSender
from companion_bot.telegram_updates import TelegramDispatcher, poll
from companion_bot.web.webhook import WEBHOOK_MODE_KEY, register_webhook
from companion_bot.whatsapp.client import CloudApiClient
from companion_bot.whatsapp.conversation import WhatsAppDispatcher
from companion_bot.whatsapp.files import WhatsAppFiles
from companion_bot.whatsapp.sender import WhatsAppSender
from companion_bot.workers import Dispatcher, SharedRateLimiter, start_workers, stop_workers
from companion_bot.workers.outcomes import ChannelSender
from companion_bot.workers.ratelimit import DatabaseBudget
from handlers import register_handlers

logger = logging.getLogger(__name__)

# Shown in Telegram's command menu, per language.
COMMANDS = [
    ("me", N_("Your registration")),
    ("leave", N_("Cancel your registration")),
    ("language", N_("Change language")),
    ("help", N_("Ask the volunteers for help")),
    ("group", N_("Your group")),
    ("mydata", N_("What this bot keeps about you")),
    ("cancel", N_("Stop what you are doing")),
]


POLLING_KEY = "polling"


def build_application(settings: Settings, *, webhook: bool = False) -> Application:
    """The bot; with `webhook`, updates come from the web server's webhook route
    (companion_bot/web/webhook.py), else from our long-polling loop."""
    signing.configure(settings.callback_secret)
    messaging.configure(settings.DEFAULT_LANGUAGE)
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.bot_base_url)
        .base_file_url(settings.bot_base_file_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .updater(None)
        # One connection (PTB's default) would queue every reply behind the others; aiohttp
        # costs a quarter of httpx's CPU per call (companion_bot/telegram_http.py).
        .request(AiohttpRequest(connection_pool_size=32))
    )
    if settings.TELEGRAM_RATE_LIMIT > 0:
        # One budget for handlers' replies and the outbox (see SharedRateLimiter).
        builder = builder.rate_limiter(
            SharedRateLimiter(
                settings.TELEGRAM_RATE_LIMIT,
                max_retries=3,
                # Processes sharing PostgreSQL share Telegram's limit too.
                budget=DatabaseBudget(settings.TELEGRAM_RATE_LIMIT)
                if settings.shared_database
                else None,
            )
        )
    application = builder.build()
    application.bot_data["settings"] = settings
    application.bot_data[WEBHOOK_MODE_KEY] = webhook
    register_handlers(application)
    register_tasks()
    return application


def register_tasks() -> None:
    """What the scheduler runs and what the outbox does after sending, by name: the rows
    that name them survive restarts, the functions are bound again at each start."""
    from companion_bot.services import (
        broadcasts,
        closing,
        escalation,
        groups,
        help,
        lifecycle,
        locations,
        noshows,
        relay,
        tables,
    )

    scheduler.register(groups.ROUND_TASK, groups.on_round_task)
    scheduler.register(groups.CARDS_TASK, closing.on_group_cards)
    scheduler.register(closing.WAVE_REMINDER_TASK, closing.on_wave_reminder)
    scheduler.register(closing.HOME_REMINDER_TASK, closing.on_home_reminder)
    scheduler.register(closing.GROUP_ASK_TASK, escalation.on_group_ask)
    scheduler.register(closing.NO_NEWS_TASK, escalation.on_volunteers)
    scheduler.register(closing.ORGANIZER_ALERT_TASK, escalation.on_organizers)
    scheduler.register(closing.NO_SHOW_TASK, noshows.on_no_show_check)
    scheduler.register(closing.NIGHT_START_TASK, closing.on_night_start)
    scheduler.register(closing.ARRIVAL_ALONE_TASK, closing.on_arrival_alone)
    scheduler.register(help.ESCALATION_TASK, help.on_escalation)
    scheduler.register(help.CLAIM_REMINDER_TASK, help.on_claim_reminder)
    scheduler.register(broadcasts.REPORT_TASK, broadcasts.on_report_task)
    scheduler.register(lifecycle.FOLLOWUP_TASK, lifecycle.on_followup)
    scheduler.register(lifecycle.PURGE_TASK, lifecycle.on_purge)
    scheduler.register(tables.SEAT_TASK, tables.on_seat_task)
    scheduler.register(tables.REMINDER_TASK, tables.on_reminder_task)
    outbox.register_after_send(relay.RELAY_PURPOSE, relay.remember_copy)
    outbox.register_after_send(locations.PURPOSE, locations.blank)


async def publish_commands(application: Application) -> None:
    for language in LANGUAGES:
        _ = translator(language).gettext
        await application.bot.set_my_commands(
            [BotCommand(name, _(description)) for name, description in COMMANDS],
            scope=BotCommandScopeAllPrivateChats(),
            language_code=language,
        )


def channels(application: Application) -> tuple[dict[str, Dispatcher], list[ChannelSender]]:
    """Each channel the settings set up: what reads its updates, what sends its messages
    (Telegram's first), and what fetches the files sent on it for members on another
    (companion_bot/media.py), shared by the senders."""
    settings: Settings = application.bot_data["settings"]
    files = Library()
    files.add(Channel.TELEGRAM, TelegramFiles(application.bot))
    dispatchers: dict[str, Dispatcher] = {Channel.TELEGRAM: TelegramDispatcher(application)}
    senders: list[ChannelSender] = [TelegramSender(application.bot, files)]
    config = settings.whatsapp
    if config is not None:
        client = CloudApiClient(config.api_url, config.phone_number_id, config.token)
        files.add(Channel.WHATSAPP, WhatsAppFiles(client))
        dispatchers[Channel.WHATSAPP] = WhatsAppDispatcher()
        senders.append(WhatsAppSender(client, config, files))
    return dispatchers, senders


async def start_bot(application: Application, **polling: object) -> None:
    """Initialise, publish the command menus, start the workers (inbox, outbox, scheduler),
    start receiving updates (register the webhook, or long polling): one path for both
    modes.

    Not `run_polling()`/`run_webhook()`: Tortoise's context must be the one of the task that
    runs the bot.
    """
    try:
        await application.initialize()
    except Exception:
        # Telegram refused (a wrong token, unreachable): close the HTTP sessions it opened.
        await application.bot.shutdown()
        raise
    await publish_commands(application)
    await application.start()
    webhook = application.bot_data[WEBHOOK_MODE_KEY]
    await start_workers(application, *channels(application), in_order=not webhook)
    if webhook:
        await register_webhook(application, application.bot_data["settings"])
    else:
        await application.bot.delete_webhook()
        stop = asyncio.Event()
        task = asyncio.create_task(poll(application, stop, **polling), name="long polling")
        application.bot_data[POLLING_KEY] = (stop, task)


async def stop_bot(application: Application) -> None:
    """Stop receiving, stop the workers (what is in hand finishes, the rest waits in the
    database), shut down. The webhook stays registered: Telegram keeps updates for the next
    start (or another process)."""
    if polling := application.bot_data.pop(POLLING_KEY, None):
        stop, task = polling
        stop.set()
        task.cancel()  # a long poll in progress: its answer would be fetched again later
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await stop_workers(application)
    if application.running:
        await application.stop()
    await application.shutdown()


async def start_polling(application: Application, **polling: object) -> None:
    await start_bot(application, **polling)


async def stop_polling(application: Application) -> None:
    await stop_bot(application)


async def serve_polling(application: Application, stop: asyncio.Event) -> None:
    """Run until `stop` is set; Tortoise must already be open in this task.

    The web server (the organizers' live board, /healthz, /metrics) runs alongside; when it
    cannot listen (WEB_PORT taken) the bot goes on without it: getting people home comes first.
    """
    from companion_bot.web.server import serve_web

    settings: Settings = application.bot_data["settings"]
    async with contextlib.AsyncExitStack() as web_server:
        try:
            server = await web_server.enter_async_context(serve_web(application, settings))
        except SettingsError as error:
            logger.warning("No web server, so no live board: %s", error)
        else:
            application.bot_data[WEB_ADDRESS_KEY] = server.address
            logger.info("Web server listening on http://%s:%s", *server.address)
        await start_bot(application)
        try:
            await stop.wait()
        finally:
            await stop_bot(application)


async def serve_webhook(application: Application, stop: asyncio.Event) -> None:
    """Serve the web app (webhook, /healthz, /metrics) until `stop` is set.

    The server listens before the webhook is registered, so Telegram's first posts find it
    (they wait in the update queue until the bot has started); at the end it stops taking
    updates first, then the bot handles what it accepted and stops.
    """
    from companion_bot.web.server import serve_web

    settings: Settings = application.bot_data["settings"]
    async with serve_web(application, settings) as server:
        logger.info("Web server listening on http://%s:%s", *server.address)
        application.bot_data[WEB_ADDRESS_KEY] = server.address
        try:
            await start_bot(application)
            await stop.wait()
        finally:
            await server.close()
            await stop_bot(application)


async def run_bot(settings: Settings, *, webhook: bool = False) -> None:
    """Run until SIGINT or SIGTERM; in webhook mode when asked or WEBHOOK_URL is set."""
    configure_logging(settings)
    load_all()
    webhook = webhook or settings.WEBHOOK_URL is not None
    if webhook:
        settings.webhook_url  # noqa: B018 - fail before anything starts when it is missing
    application = build_application(settings, webhook=webhook)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await start_database(settings)
    try:
        if webhook:
            logger.info("Bot starting (webhook)")
            await serve_webhook(application, stop)
        else:
            logger.info("Bot starting (long polling)")
            await serve_polling(application, stop)
    finally:
        await close_database()
    logger.info("Bot stopped")
