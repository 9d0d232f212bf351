"""The organizers' live board: a web page per event, reached by a secret link, showing who is
where wave by wave and the open help alerts. Read-only. People appear by display name only,
never by Telegram id; once an event is purged only its anonymous statistics remain."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from companion_bot import clock
from companion_bot.models import (
    Event,
    EventKind,
    GroupStatus,
    HelpAlert,
    HelpLevel,
    Registration,
    RegistrationStatus,
)
from companion_bot.services import broadcasts, closing, drills, help, incidents, noshows, tables
from companion_bot.services.broadcasts import Dashboard, WaveCounts
from companion_bot.settings import Settings

# token_urlsafe(24) gives 32 characters; anything not shaped like a token is refused unread.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{24,48}")
BOARD_PATH = "/board/{token}"
# Where the running web server listens, (host, port): in the Application's bot_data.
WEB_ADDRESS_KEY = "web_address"

# A member's state on the board: closing.member_state's, plus "no_news" once the team was
# alerted that she has not said she is home.
NO_NEWS = "no_news"


async def board_token(event: Event) -> str:
    """The event's board token, made on first use; two organizers asking at once get the same."""
    if event.board_token is None:
        await Event.filter(id=event.id, board_token=None).update(
            board_token=secrets.token_urlsafe(24)
        )
        await event.refresh_from_db(fields=["board_token"])
    return event.board_token


async def new_board_token(event: Event) -> str:
    """A new secret for the board: the old link stops working (it was shared too widely)."""
    event.board_token = secrets.token_urlsafe(24)
    await event.save(update_fields=["board_token"])
    return event.board_token


def board_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + BOARD_PATH.format(token=token)


def public_base_url(settings: Settings, listening: tuple[str, int] | None = None) -> str:
    """Where people reach the web server: PUBLIC_URL (behind a reverse proxy), else the
    address it listens on (`listening`, once started: WEB_PORT may be 0), else WEB_HOST:WEB_PORT."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL
    host, port = listening or (settings.WEB_HOST, settings.WEB_PORT)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def board_link(event: Event, settings: Settings, listening: tuple[str, int] | None) -> str:
    return board_url(public_base_url(settings, listening), await board_token(event))


async def event_by_token(token: str) -> Event | None:
    if not _TOKEN_SHAPE.fullmatch(token or ""):
        return None
    return await Event.get_or_none(board_token=token)


@dataclass(frozen=True)
class MemberView:
    name: str
    state: str  # a key of closing.STATUS_ICONS, or NO_NEWS


@dataclass(frozen=True)
class GroupView:
    number: int
    has_left: bool
    left_at: datetime | None
    left_confirmed_by: str | None
    members: list[MemberView]


@dataclass(frozen=True)
class WaveView:
    counts: WaveCounts
    groups: list[GroupView]


@dataclass(frozen=True)
class AlertView:
    level: HelpLevel
    name: str
    claimed_by: str | None
    minutes: int  # since she asked


@dataclass(frozen=True)
class Board:
    event: Event
    now: datetime
    dashboard: Dashboard | None  # None once purged
    waves: list[WaveView]
    alerts: list[AlertView]
    statistics: dict | None  # the anonymous statistics of a purged event
    # Online and hybrid events: who sits at which table (services/tables.py).
    tables: tables.TablesView | None = None
    drill: drills.DrillView | None = None  # the latest test alert to the volunteers
    incidents: list[incidents.Entry] = field(default_factory=list)  # the night's log
    report: incidents.Report | None = None  # the anonymous morning-after report
    repeat_no_shows: list[tuple[str, int]] = field(default_factory=list)  # (name, events)

    @property
    def purged(self) -> bool:
        return self.dashboard is None

    @property
    def departure_grouped(self) -> int:
        return sum(wave.counts.grouped for wave in self.waves)


async def live_board(event: Event, now: datetime | None = None) -> Board:
    now = now or clock.now()
    if event.purged_at is not None:
        return Board(event, now, None, [], [], dict(event.statistics or {}))
    dashboard = await broadcasts.event_dashboard(event)
    no_news = set(
        await Registration.filter(
            event=event,
            status=RegistrationStatus.CONFIRMED,
            no_news_alerted_at__not_isnull=True,
            home_at=None,
        ).values_list("id", flat=True)
    )
    waves = []
    for counts in dashboard.waves:
        views = []
        for state in await closing.wave_groups(counts.wave.id):
            group = state.group
            members = [
                MemberView(m.name, NO_NEWS if m.registration_id in no_news else m.state)
                for m in state.members
            ]
            confirmed_by = group.left_confirmed_by.display_name if group.left_confirmed_by else None
            views.append(
                GroupView(state.number, group.status == GroupStatus.LEFT, group.left_at,
                          confirmed_by, members)
            )  # fmt: skip
        waves.append(WaveView(counts, views))
    seated = await tables.view(event.id) if event.kind != EventKind.IN_PERSON else None
    alerts, drill = await open_alerts(event, now), await drills.latest(event)
    return Board(event, now, dashboard, waves, alerts, None, tables=seated, drill=drill,
                 incidents=await incidents.timeline(event), report=await incidents.report(event),
                 repeat_no_shows=await noshows.repeat_no_shows(event))  # fmt: skip


async def open_alerts(event: Event, now: datetime) -> list[AlertView]:
    alerts = (
        await HelpAlert.filter(event=event, status__in=help.OPEN_STATUSES)
        .order_by("created_at", "id")
        .prefetch_related("person", "claimed_by")
    )
    return [
        AlertView(
            level=HelpLevel(alert.level),
            name=(alert.person.display_name if alert.person else None) or "?",
            claimed_by=(alert.claimed_by.display_name or "?") if alert.claimed_by else None,
            minutes=max(0, int((now - alert.created_at).total_seconds() // 60)),
        )
        for alert in alerts
    ]
