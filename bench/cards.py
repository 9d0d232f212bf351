"""Cards benchmark: V volunteers on duty each hold the card of every one of G departure groups
of 4 (sent at the wave's reminder); then every member taps "📍 I'm at the meeting point" at the
same moment. How many card edits does that cost, do they stay within Telegram's limits, and
how long until every card shows everyone at the meeting point?

    python bench/cards.py --groups 10 --volunteers 3
    python bench/cards.py --groups 10 --volunteers 3 --database-url postgres://postgres@127.0.0.1:5432/test

The real bot (`build_application`, polling, its workers) runs as configured in production
(TELEGRAM_RATE_LIMIT=30, TELEGRAM_CHAT_INTERVAL=1) against the Bot API emulator enforcing
Telegram's limits (30 messages/s per bot, 1/s per chat, edits included); the taps are real
callback queries with the signed button data the bot sends. Prints the taps, the edits a
card-per-change approach would make (taps × volunteers) and the edits made, the 429s met in
the volunteers' chats, and the time from the taps to the last card being right, then one JSON
line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta

# bench/ is on sys.path when run as a script
from broadcast import bench_event, database_label, scratch_database

from companion_bot.app import build_application, start_polling, stop_polling
from companion_bot.db import close_database, open_database
from companion_bot.emulator import BotApiEmulator, Limits
from companion_bot.models import (
    CompanionGroup,
    DepartureWave,
    GroupKind,
    GroupMember,
    GroupStatus,
    Person,
    Registration,
    Role,
    RoleKind,
)
from companion_bot.services import closing
from companion_bot.settings import load_settings
from companion_bot.signing import sign
from companion_bot.workers import get_workers

GROUP_SIZE = 4
AT_POINT = "— at the meeting point"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=10, help="departure groups (default 10)")
    parser.add_argument("--volunteers", type=int, default=3, help="on duty (default 3)")
    parser.add_argument("--database-url", default=None, help="postgres://… (default: SQLite)")
    return parser.parse_args()


async def seed(emulator: BotApiEmulator, groups: int, volunteers: int):
    """A wave leaving in 15 minutes with its groups announced, and the volunteers on duty."""
    now = datetime.now(UTC)
    event = await bench_event(now - timedelta(hours=4), now + timedelta(hours=3))
    wave = await DepartureWave.create(event=event, departs_at=now + timedelta(minutes=15))
    team = []
    for i in range(volunteers):
        user = emulator.user(first_name=f"V{i}", language_code="en", started=True)
        person = await Person.create(telegram_id=user.id, language="en", display_name=f"V{i}")
        await Role.create(event=event, person=person, kind=RoleKind.VOLUNTEER, on_duty=True)
        team.append(user)
    people = []
    for g in range(groups):
        group = await CompanionGroup.create(
            event=event, kind=GroupKind.DEPARTURE, status=GroupStatus.ANNOUNCED,
            departure_wave=wave, meet_at=wave.departs_at, announced_at=now,
        )  # fmt: skip
        for position in range(GROUP_SIZE):
            name = f"P{g}-{position}"
            user = emulator.user(first_name=name, language_code="en", started=True)
            person = await Person.create(telegram_id=user.id, language="en", display_name=name)
            registration = await Registration.create(
                event=event, person=person, status="confirmed", consent_at=now,
                arrival_kind="on_my_own", wants_departure_group=True,
                destination_place_id="fr-montreuil", transport="transit", departure_wave=wave,
            )  # fmt: skip
            await GroupMember.create(group=group, registration=registration, position=position)
            people.append((user, registration))
    await wave.fetch_related("event")
    return wave, team, people


def all_cards_final(team, groups: int) -> bool:
    for user in team:
        cards = [m for m in user.messages() if (m.text or "").startswith("Group ")]
        if len(cards) != groups or any(m.text.count(AT_POINT) != GROUP_SIZE for m in cards):
            return False
    return True


async def benchmark(args: argparse.Namespace) -> dict[str, object]:
    async with (
        scratch_database(args.database_url) as database_url,
        BotApiEmulator(limits=Limits.telegram()) as emulator,
    ):
        settings = load_settings(
            TELEGRAM_BOT_TOKEN=emulator.token, TELEGRAM_API_URL=emulator.url,
            DATABASE_URL=database_url, TELEGRAM_RATE_LIMIT=30, TELEGRAM_CHAT_INTERVAL=1,
            _env_file=None,
        )  # fmt: skip
        await open_database(database_url)
        application = build_application(settings)
        try:
            await start_polling(application, poll_interval=0, timeout=5)
            worker = get_workers(application).outbox
            wave, team, people = await seed(emulator, args.groups, args.volunteers)
            await closing.send_wave_to_volunteers(wave, datetime.now(UTC))
            await worker.wait_idle(timeout=args.groups * 3 + 60)
            edits_before = len(emulator.calls("editMessageText"))
            started = time.monotonic()
            for user, registration in people:
                await user.tap_data(1, sign(user.id, f"cl:at:{registration.id}"))
            await emulator.wait_all_delivered(timeout=600)
            await application.update_queue.join()
            taps_handled = time.monotonic() - started
            await emulator.wait_for(lambda: all_cards_final(team, args.groups), timeout=600)
            converged = time.monotonic() - started
        finally:
            await stop_polling(application)
            await close_database()
    team_ids = {str(user.id) for user in team}
    edits = [
        call
        for call in emulator.calls("editMessageText")[edits_before:]
        if str(call.params.get("chat_id")) in team_ids
    ]
    return {
        "database": database_label(database_url),
        "groups": args.groups,
        "volunteers": args.volunteers,
        "taps": len(people),
        "edits_one_per_change": len(people) * args.volunteers,
        "edits_made": sum(1 for call in edits if call.status == 200),
        "http_429_volunteers": sum(emulator.stats.rate_limited[user.id] for user in team),
        "http_429_all": emulator.stats.rate_limited.total(),
        "taps_handled_seconds": round(taps_handled, 2),
        "all_cards_right_after_seconds": round(converged, 2),
    }


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    args = arguments()
    result = asyncio.run(benchmark(args))
    print(f"command:    {' '.join(sys.argv)}")
    print(
        f'{result["taps"]} "at the meeting point" taps at once on {result["database"]}, '
        f"{result['groups']} groups, {result['volunteers']} volunteers holding every card: "
        f"{result['edits_made']} card edits (one per change and card would be "
        f"{result['edits_one_per_change']}), {result['http_429_volunteers']} 429s in the "
        f"volunteers' chats; taps handled in {result['taps_handled_seconds']} s, every card "
        f"right after {result['all_cards_right_after_seconds']} s"
    )
    print(json.dumps(result))
    return 0 if result["http_429_volunteers"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
