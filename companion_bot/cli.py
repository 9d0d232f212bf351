"""`companion-bot`: run the bot, try it without a token, apply migrations, create events from a
script."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from companion_bot import signing, telegram_links
from companion_bot.i18n import LANGUAGES, translator
from companion_bot.services.retention import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS
from companion_bot.settings import Settings, SettingsError, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="companion-bot",
        description="Compagnonnes de route: a Telegram bot that finds travel companions for "
        "people who come alone to parties, and gets everyone home.",
        epilog="Settings come from the environment or a .env file (see the README).",
    )
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    run = commands.add_parser(
        "run",
        help="apply migrations, then serve Telegram (long polling, or a webhook)",
        description="Long polling by default; a webhook server with --webhook or WEBHOOK_URL "
        "set (also serves /healthz and /metrics on WEB_HOST:WEB_PORT).",
    )
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates on WEBHOOK_URL (required) instead of long polling",
    )
    run.set_defaults(handler=command_run)

    demo = commands.add_parser(
        "demo",
        help="try the bot without a token: a local web page to chat as several people",
        description="Run the bot against its built-in Telegram emulator (no token, nothing "
        "sent to Telegram) with a sample event, and serve a web page where you chat as three "
        "attendees, a volunteer and an organizer side by side and play the night forward.",
    )
    demo.add_argument(
        "--port", type=port_number, default=8000, help="port of the web page (default: 8000)"
    )
    demo.add_argument(
        "--host", default="127.0.0.1", help="address of the web page (default: 127.0.0.1)"
    )
    demo.add_argument(
        "--database-url",
        default="sqlite://data/demo.sqlite3",
        metavar="URL",
        help="the demo's own database, emptied at each start (default: "
        "sqlite://data/demo.sqlite3); a PostgreSQL database must be empty",
    )
    demo.add_argument(
        "--evening",
        choices=["in-person", "online", "hybrid", "small"],
        default="in-person",
        help="the sample event: a night out (default), an online game night with tables, a "
        "hybrid evening (some at the venue, some online) or a small jam session (the quick "
        "preset)",
    )
    demo.add_argument(
        "--language",
        choices=LANGUAGES,
        help="language of the page, and the bot's default (default: DEFAULT_LANGUAGE)",
    )
    demo.set_defaults(handler=command_demo)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.add_argument(
        "--to", metavar="MIGRATION", help='stop at a migration, e.g. "models.0001_initial"'
    )
    migrate.set_defaults(handler=command_migrate)

    event = commands.add_parser("event", help="manage events")
    event_commands = event.add_subparsers(dest="event_command", metavar="action", required=True)
    create = event_commands.add_parser(
        "create",
        help="create an event and print its attendee, volunteer and organizer links",
        description="Create an event. Times are local to --timezone; clock times after "
        "midnight belong to the same night. Texts attendees read (name, venue, meeting "
        "points, zones, charter) may come in several languages, each version after '|' and "
        "its language code: 'Entrée principale | en: Main entrance' (a first version without "
        "its code is in --language).",
    )
    create.add_argument("--name", required=True, help="event name, e.g. 'Nuit | en: Night'")
    create.add_argument(
        "--kind",
        choices=["in-person", "online", "hybrid"],
        default="in-person",
        help="in person (default); online: no venue, closing or departures, attendees join "
        "tables (--table); hybrid: each attendee comes in person or joins a table",
    )
    create.add_argument(
        "--preset",
        choices=["small"],
        help="small: a quick small gathering (one arrival slot, one departure at closing, the "
        "standard charter)",
    )
    create.add_argument(
        "--table",
        action="append",
        metavar="'NAME; LINK; SEATS[; ACTIVITY]'",
        help="online and hybrid: repeat, e.g. 'Werewolf; https://meet.jit.si/wolf; 10; "
        "Werewolf' (2 to 50 seats; the activity is optional)",
    )
    create.add_argument("--venue", help="venue name (in person and hybrid)")
    where = create.add_mutually_exclusive_group()
    where.add_argument(
        "--venue-place", metavar="PLACE", help="venue neighbourhood, e.g. 'Paris 11e'"
    )
    where.add_argument("--venue-coordinates", metavar="LAT,LON", help="e.g. '48.8566,2.3522'")
    create.add_argument("--timezone", help="e.g. Europe/Brussels (default: DEFAULT_TIMEZONE)")
    create.add_argument(
        "--doors-open", required=True, metavar="DATE TIME", help="e.g. '2026-12-05 23:00'"
    )
    create.add_argument(
        "--closing",
        metavar="TIME",
        help="e.g. '06:00' (in person and hybrid; online: the end of the last slot)",
    )
    create.add_argument(
        "--meeting-point",
        action="append",
        metavar="NAME",
        help="repeat for several; the first is the default, e.g. 'Entrée principale | en: Main "
        "entrance' (default: Main entrance, in every language)",
    )
    create.add_argument(
        "--arrival-slot",
        action="append",
        metavar="START-END",
        help="repeat, e.g. '23:00-00:00' (default: three one-hour slots)",
    )
    create.add_argument(
        "--departure",
        action="append",
        metavar="TIME[@POINT]",
        help="repeat, e.g. '03:00' or '06:00@Back door' (default: at closing)",
    )
    create.add_argument(
        "--zone",
        action="append",
        metavar="NAME@LAT,LON",
        help="repeat: a destination of your own that attendees can pick next to the "
        "neighbourhoods, e.g. 'Gare du Nord@48.8809,2.3553' (or 'Name@<neighbourhood>')",
    )
    create.add_argument(
        "--group-sizes",
        default="2 3-4 5",
        metavar="'MIN LOW-HIGH MAX'",
        help="minimum, preferred range and maximum group size (default: '2 3-4 5')",
    )
    create.add_argument(
        "--charter-file",
        type=Path,
        help="text file with the charter, its versions separated by '| en:' lines and the "
        "like (default: the standard one, in every language)",
    )
    create.add_argument(
        "--retention-days",
        type=int,
        default=DEFAULT_RETENTION_DAYS,
        metavar="DAYS",
        help="delete attendees' personal data this many days after closing, keeping anonymous "
        f"statistics (1 to {MAX_RETENTION_DAYS}; default: {DEFAULT_RETENTION_DAYS})",
    )
    create.add_argument(
        "--language",
        choices=LANGUAGES,
        help="language of the texts given without a language code, and of messages here "
        "(default: DEFAULT_LANGUAGE)",
    )
    create.add_argument(
        "--safe-place",
        metavar="'NAME; WHERE; HOURS'",
        help="the event's safe place, e.g. 'Welcome tent; behind the bar; 23:00-06:00'",
    )
    create.add_argument(
        "--creator", type=int, metavar="TELEGRAM_ID", help="make this Telegram user an organizer"
    )
    create.add_argument(
        "--bot-username", help="bot username for the links (default: asked from Telegram)"
    )
    create.set_defaults(handler=command_event_create)
    return parser


def command_run(args: argparse.Namespace, settings: Settings) -> int:
    from companion_bot.app import run_bot

    settings.token  # noqa: B018 - fail early, in one line, when the token is missing
    if args.webhook:
        settings.webhook_url  # noqa: B018 - same for webhook mode without its URL
    asyncio.run(run_bot(settings, webhook=args.webhook))
    return 0


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError("must be a port number from 0 (any free port) to 65535")
    return int(text)


def command_demo(args: argparse.Namespace, settings: Settings) -> int:
    from companion_bot.demo.run import check_database, configure_demo_logging, run_demo

    database_url = check_database(args.database_url, settings.DATABASE_URL)
    configure_demo_logging()
    asyncio.run(
        run_demo(
            host=args.host,
            port=args.port,
            database_url=database_url,
            language=args.language or settings.DEFAULT_LANGUAGE,
            evening=args.evening,
        )
    )
    return 0


def command_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from companion_bot.db import apply_migrations, ensure_sqlite_directory

    ensure_sqlite_directory(settings)
    asyncio.run(apply_migrations(settings.DATABASE_URL, target=args.to))
    print("Database is up to date." if args.to is None else f"Database migrated to {args.to}.")
    return 0


def command_event_create(args: argparse.Namespace, settings: Settings) -> int:
    from companion_bot.services.errors import UserInputError

    language = args.language or settings.DEFAULT_LANGUAGE
    try:
        return asyncio.run(_create_event(args, settings, language))
    except UserInputError as error:
        print(f"error: {error.translate(translator(language).gettext)}", file=sys.stderr)
        return 2


async def _create_event(args: argparse.Namespace, settings: Settings, language: str) -> int:
    from companion_bot.db import close_database, start_database
    from companion_bot.models import EventKind
    from companion_bot.services import events

    now = datetime.now(UTC)
    kind = EventKind(args.kind.replace("-", "_"))
    venue = None
    if kind != EventKind.ONLINE or args.venue_place or args.venue_coordinates:
        venue = events.locate_venue(args.venue_place or args.venue_coordinates or "")
    if kind != EventKind.ONLINE and not (args.venue_place or args.venue_coordinates):
        print("error: --venue-place or --venue-coordinates is required", file=sys.stderr)
        return 2
    if venue is not None and not isinstance(venue, events.VenueLocation):
        names = ", ".join(place.name for place in venue) or "-"
        print(
            f"error: unknown venue place {args.venue_place!r}; suggestions: {names}",
            file=sys.stderr,
        )
        return 2
    spec = events.build_spec(
        name=args.name,
        venue_name=args.venue,
        venue=venue,
        timezone=args.timezone or (venue and venue.timezone) or settings.DEFAULT_TIMEZONE,
        doors_open=args.doors_open,
        closing=args.closing,
        meeting_points=args.meeting_point,
        arrival_slots=args.arrival_slot,
        departures=args.departure,
        group_sizes=args.group_sizes,
        charter=args.charter_file.read_text(encoding="utf-8") if args.charter_file else None,
        now=now,
        zone_arguments=args.zone,
        language=language,
        kind=kind,
        table_arguments=args.table,
        small=args.preset == "small",
    )
    spec.retention_days = args.retention_days
    if args.safe_place:
        from companion_bot.services import safeplace

        spec.safe_place = safeplace.parse(args.safe_place)
    events.check_spec(spec)
    username = args.bot_username or await _bot_username(settings)
    signing.configure(settings.callback_secret)  # someone avoided may come back as --creator
    await start_database(settings)
    try:
        event = await events.create_event(spec, args.creator)
    finally:
        await close_database()
    links = telegram_links.event_links(event, username)
    print(f"Created event #{event.id}: {event.name}")
    for kind, link in links.items():
        print(f"{kind.value:>10}: {link}")
    return 0


async def _bot_username(settings: Settings) -> str:
    from telegram import Bot

    async with Bot(settings.token, base_url=settings.bot_base_url) as bot:
        return bot.username


def telegram_error_line(error: Exception, settings: Settings) -> str:
    """One line saying what Telegram answered at start-up, never with the token in it."""
    from telegram.error import InvalidToken, NetworkError

    from companion_bot.logging_setup import RedactTokens

    if isinstance(error, InvalidToken):
        return (
            "Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather, "
            "or ask it for a new one"
        )
    token = settings.TELEGRAM_BOT_TOKEN.get_secret_value() if settings.TELEGRAM_BOT_TOKEN else ""
    detail = RedactTokens([token]).redact(str(error)).replace("\n", " ")
    if isinstance(error, NetworkError):
        return f"cannot reach the Telegram Bot API at {settings.TELEGRAM_API_URL}: {detail}"
    return f"Telegram refused to start the bot: {detail}"


def main(argv: Sequence[str] | None = None) -> int:
    from telegram.error import TelegramError

    args = build_parser().parse_args(argv)
    settings = None
    try:
        settings = load_settings()
        return args.handler(args, settings)
    except SettingsError as error:
        print(f"companion-bot: {error}", file=sys.stderr)
        return 2
    except TelegramError as error:
        print(f"companion-bot: {telegram_error_line(error, settings)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
