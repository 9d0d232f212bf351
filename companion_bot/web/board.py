"""The organizers' live board on the web: `/board/<token>` (the page), `state.json` (what the
page polls every few seconds: live updates by polling, which any proxy passes), and the
attendee and volunteer QR codes as PNG. Everything is served from here (no CDN); every text is
translated server-side, in the language of ?lang=, else Accept-Language, else the default.

A wrong or unknown token gets the same 404 page as any missing page: it tells nothing about
which events exist. Responses are never cached and send no Referer (the token is the key)."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from string import Template
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_time

from companion_bot import telegram_links
from companion_bot.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    N_,
    N_plural,
    Translator,
    normalise_language,
)
from companion_bot.i18n import translator as translator_for
from companion_bot.models import Event, EventKind
from companion_bot.services import closing, export, help, incidents, qr, safeplace
from companion_bot.services.board import NO_NEWS, Board, event_by_token, live_board
from companion_bot.services.events import InviteKind
from companion_bot.services.texts import meeting_place
from companion_bot.web.keys import BOT_USERNAME, SETTINGS
from companion_bot.whatsapp import links as whatsapp_links

FILES = Path(__file__).resolve().parent / "board"
POLL_SECONDS = 5

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
}

MEMBER_LABELS = closing.MEMBER_STATES | {NO_NEWS: N_("no news")}
# What each count is, after its number: its form follows the number.
COUNT_LABELS = {
    "signed_up": N_plural("person signed up", "people signed up"),
    "departure_grouped": N_plural("in a departure group", "in departure groups"),
    "arrival_grouped": N_plural("in an arrival group", "in arrival groups"),
    "unplaced": N_plural("waiting for a group", "waiting for a group"),
    "open_alerts": N_plural("open help alert", "open help alerts"),
}
WAVE_COUNT_LABELS = {
    "signed_up": COUNT_LABELS["signed_up"],
    "grouped": N_plural("person in a group", "people in groups"),
    "at_meeting_point": N_plural("person at the meeting point", "people at the meeting point"),
    "left": N_plural("person has left", "people have left"),
    "home": N_plural("person home safe", "people home safe"),
    "no_news": N_plural("person with no news", "people with no news"),
}
MEMBER_ICONS = closing.STATUS_ICONS | {NO_NEWS: "⚠️"}
JOINED_LABEL = N_("in the call")
SECTION_TEXTS = {
    "waves": (N_("Departures"), N_("No departure yet."),
              N_("No group announced yet for this departure.")),
    "tables": (N_("Online tables"), N_("No table yet."), N_("Nobody seated at this table yet.")),
}  # fmt: skip
NOT_JOINED_LABEL = N_("not in yet")
QR_KINDS = {kind.value: kind for kind in qr.QR_KINDS}
WHATSAPP = "whatsapp"
FIGURE = Template(
    '<figure>\n      <img src="$src" alt="$alt" width="240" height="240">\n'
    '      <figcaption>$caption · <a href="$src" download>$download</a></figcaption>\n'
    "    </figure>"
)


def setup(app: web.Application) -> None:
    app.router.add_static("/board/assets/", FILES / "assets", append_version=False)
    app.router.add_get("/board/{token}", page)
    app.router.add_get("/board/{token}/state.json", state)
    app.router.add_get("/board/{token}/qr/{kind}.png", qr_code)


# -- language ---------------------------------------------------------------------------------


def request_language(request: web.Request) -> str:
    """?lang=fr|en|nl, then the browser's Accept-Language (by preference), then the default."""
    asked = request.query.get("lang")
    if asked in LANGUAGES:
        return asked
    preferences = []
    for position, item in enumerate(request.headers.get("Accept-Language", "").split(",")[:20]):
        code, _, parameters = item.strip().partition(";")
        weight = 1.0
        if parameters.strip().startswith("q="):
            try:
                weight = float(parameters.strip()[2:])
            except ValueError:
                continue
        if weight > 0:  # q=0 means "not this one"
            preferences.append((-weight, position, code.strip()))
    for _weight, _position, code in sorted(preferences):
        language = normalise_language(code) if code and code != "*" else None
        if language:
            return language
    return request.app[SETTINGS].DEFAULT_LANGUAGE


def request_translator(request: web.Request) -> Translator:
    return translator_for(request_language(request))


# -- pages ------------------------------------------------------------------------------------


@cache
def template(name: str) -> Template:
    return Template((FILES / name).read_text(encoding="utf-8"))


def _html(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def not_found(request: web.Request) -> web.HTTPNotFound:
    _ = request_translator(request).gettext
    body = template("not_found.html").substitute(
        lang=request_language(request),
        title=_html(_("Page not found")),
        text=_html(_("This link does not lead anywhere. Ask the organizers for the right one.")),
    )
    return web.HTTPNotFound(text=body, content_type="text/html", headers=PRIVATE_HEADERS)


async def board_event(request: web.Request) -> Event:
    """The event of the token in the URL, or the 404 page."""
    event = await event_by_token(request.match_info.get("token", ""))
    if event is None:
        raise not_found(request)
    return event


async def page(request: web.Request) -> web.Response:
    event = await board_event(request)
    t = request_translator(request)
    board = await live_board(event)
    response = web.Response(
        text=render_page(t, board, request.app[SETTINGS].WHATSAPP_NUMBER),
        content_type="text/html",
        headers=PRIVATE_HEADERS,
    )
    response.headers["Vary"] = "Accept-Language"
    return response


async def state(request: web.Request) -> web.Response:
    event = await board_event(request)
    board = await live_board(event)
    return web.json_response(
        board_state(request_translator(request), board), headers=PRIVATE_HEADERS
    )


async def qr_code(request: web.Request) -> web.Response:
    event = await board_event(request)
    name = request.match_info["kind"]
    kind = QR_KINDS.get(name)
    number = request.app[SETTINGS].WHATSAPP_NUMBER
    if event.purged_at is not None or (kind is None and not (name == WHATSAPP and number)):
        raise not_found(request)
    if kind is None:  # the attendees' WhatsApp link: wa.me with the event's code
        png, filename = qr.qr_png(whatsapp_links.attendee_link(number, event)), name
    else:
        try:
            username = request.app[BOT_USERNAME]()
        except RuntimeError:  # the bot has not introduced itself to Telegram yet (starting up)
            raise web.HTTPServiceUnavailable(headers={"Retry-After": "5"}) from None
        _link, png = qr.invite_qr(telegram_links.event_links(event, username), kind)
        filename = kind.value
    return web.Response(
        body=png,
        content_type="image/png",
        headers=PRIVATE_HEADERS
        | {"Content-Disposition": f'inline; filename="{filename}-qr-{event.id}.png"'},
    )


def qr_figures(t: Translator, token: str, whatsapp_number: str | None) -> str:
    """The attendees' and volunteers' QR codes, and the attendees' WhatsApp one when the
    collective has a WhatsApp number."""
    _ = t.gettext
    figures = [
        (InviteKind.ATTENDEE.value, N_("QR code of the attendees' link"),
         N_("Attendees: for the flyer and the door")),
        (InviteKind.VOLUNTEER.value, N_("QR code of the volunteers' link"),
         N_("Volunteers only")),
    ]  # fmt: skip
    if whatsapp_number:
        figures.append((WHATSAPP, N_("QR code of the attendees' WhatsApp link"),
                        N_("Attendees on WhatsApp: for the flyer and the door")))  # fmt: skip
    return "\n    ".join(
        FIGURE.substitute(
            src=f"{_html(token)}/qr/{name}.png",
            alt=_html(_(alt)),
            caption=_html(_(caption)),
            download=_html(_("Download (PNG)")),
        )
        for name, alt, caption in figures
    )


# -- what the page shows ------------------------------------------------------------------------


def board_state(t: Translator, board: Board) -> dict:
    """The board as JSON, its texts already translated; display names only, no ids."""
    _ = t.gettext
    zone = board.event.timezone
    if board.purged:
        rows = export.statistics_rows(t, board.statistics or {}, zone)
        return {"purged": True, "statistics": [[r.section, r.detail, r.measure, r.value]
                                               for r in rows]}  # fmt: skip
    dashboard = board.dashboard
    waves = []
    for wave in board.waves:
        departure = wave.counts.wave
        point = meeting_place(departure.meeting_point, board.event, t.language)
        groups = []
        for group in wave.groups:
            note = None
            if group.has_left and group.left_at:
                note = _("Left at {time}, confirmed by {name}").format(
                    time=t.time(group.left_at, zone), name=group.left_confirmed_by or "?"
                )
            groups.append({
                "title": _("Group {number}").format(number=group.number),
                "left": group.has_left,
                "note": note,
                "members": [
                    {"name": m.name, "state": m.state, "label": _(MEMBER_LABELS[m.state]),
                     "icon": MEMBER_ICONS[m.state]}
                    for m in group.members
                ],
            })  # fmt: skip
        waves.append({
            "time": t.time(departure.departs_at, zone),
            "point": point,
            "counts": [wave_count(t, key, getattr(wave.counts, key))
                       for key in export.WAVE_MEASURES],
            "groups": groups,
        })  # fmt: skip
    alerts = [
        {
            "level": alert.level.value,
            "label": _(help.LEVEL_NAMES[alert.level]),
            "name": alert.name,
            "claimed": alert.claimed_by is not None,
            "claim": _("Taken by {name}").format(name=alert.claimed_by)
            if alert.claimed_by is not None
            else _("Nobody has taken it yet"),
            "since": t.ngettext("{count} minute ago", "{count} minutes ago", alert.minutes).format(
                count=alert.minutes
            ),
        }
        for alert in board.alerts
    ]
    counts = {
        "signed_up": dashboard.confirmed,
        "departure_grouped": board.departure_grouped,
        "arrival_grouped": dashboard.arrival_grouped,
        "unplaced": dashboard.unplaced,
        "open_alerts": dashboard.open_alerts,
    }
    return {
        "purged": False,
        "updated": format_time(board.now, "HH:mm:ss", tzinfo=ZoneInfo(zone), locale=t.language),
        "counts": counts,
        "count_labels": {
            key: t.ngettext(*COUNT_LABELS[key], value) for key, value in counts.items()
        },
        "waves": waves,
        "alerts": alerts,
        "tables": table_cards(t, board),
        "drill": drill_state(t, board),
    }


def table_cards(t: Translator, board: Board) -> list[dict]:
    """Online tables, shaped like departures: a card per join slot, "in" once she tapped."""
    _ = t.gettext
    if board.tables is None:
        return []
    zone = board.event.timezone
    cards = []
    for row in board.tables.tables:
        table = row.table
        name = f"{table.name} ({table.activity})" if table.activity else table.name
        seats = t.ngettext("{count} seat", "{count} seats", table.capacity)
        cards.append({
            "time": name,
            "point": seats.format(count=table.capacity),
            "counts": [],
            "groups": [
                {"title": t.time(start, zone), "left": False, "note": None,
                 "members": [
                     {"name": member_name, "state": "at_point" if joined else "waiting",
                      "label": _(JOINED_LABEL if joined else NOT_JOINED_LABEL),
                      "icon": "✅" if joined else "⏳"}
                     for _number, member_name, joined in members
                 ]}
                for start, members in row.seated.items()
            ],
        })  # fmt: skip
    return cards


def section(t: Translator, box: str) -> str:
    """A section board.js fills: departures, or online tables (drawn the same way)."""
    title, empty, no_groups = (_html(t.gettext(text)) for text in SECTION_TEXTS[box])
    return (
        f"<section>\n  <h2>{title}</h2>\n"
        f'  <div id="{box}" data-empty="{empty}" data-no-groups="{no_groups}"></div>\n'
        "</section>"
    )


def waves_section(t: Translator, board: Board) -> str:
    """Departures, but for an online event (nobody travels home together)."""
    return "" if board.event.kind == EventKind.ONLINE else section(t, "waves")


def tables_section(t: Translator, board: Board) -> str:
    """Online tables, for online and hybrid events."""
    return "" if board.event.kind == EventKind.IN_PERSON else section(t, "tables")


def wave_count(t: Translator, key: str, value: int) -> dict:
    return {"key": key, "label": t.ngettext(*WAVE_COUNT_LABELS[key], value), "value": value}


def _json_for_script(data: dict) -> str:
    """JSON inside <script>: no "</script>" or "<!--" can come out of a display name."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def safe_place_html(t: Translator, event: Event) -> str:
    """The safe place under the event's name (its line is already HTML-escaped)."""
    line = safeplace.line(t, event)
    return f'<p class="meta safe-place">{line}</p>' if line else ""


def drill_state(t: Translator, board: Board) -> dict | None:
    """Who received the latest test alert (`/testalert`) and who has not yet."""
    _ = t.gettext
    if board.drill is None:
        return None
    zone = board.event.timezone
    return {
        "title": _("Test alert of {time}").format(time=t.time(board.drill.sent_at, zone)),
        "receipts": [
            {"acknowledged": True,
             "text": "✅ " + _("{name}: received at {time}").format(
                 name=r.name, time=t.time(r.acknowledged_at, zone))}
            if r.acknowledged_at
            else {"acknowledged": False, "text": "⏳ " + _("{name}: not yet").format(name=r.name)}
            for r in board.drill.receipts
        ],
    }  # fmt: skip


def drill_html(t: Translator, board: Board) -> str:
    """The test alert's section, hidden until there is one (board.js fills it as it polls)."""
    drill = drill_state(t, board)
    if drill is None:
        return '<section id="drill" hidden>\n  <h2></h2>\n  <ul></ul>\n</section>'
    items = "\n".join(
        f'<li class="{"acknowledged" if r["acknowledged"] else "waiting"}">{_html(r["text"])}</li>'
        for r in drill["receipts"]
    )
    return (
        f'<section id="drill">\n  <h2>{_html(drill["title"])}</h2>\n  <ul>{items}</ul>\n</section>'
    )


def incidents_html(t: Translator, board: Board) -> str:
    """The night's incident log, oldest first (this board is for the organizers only)."""
    _ = t.gettext
    zone = board.event.timezone
    items = "\n".join(
        f"<li><time>{_html(t.time(entry.at, zone))}</time> {_html(entry.text(t))}</li>"
        for entry in board.incidents
    )
    nothing, title = _("Nothing yet."), _("Incident log")
    body = f'<ol class="incidents">{items}</ol>' if items else f"<p>{_html(nothing)}</p>"
    return f'<section id="incidents">\n  <h2>{_html(title)}</h2>\n  {body}\n</section>'


def no_shows_html(t: Translator, board: Board) -> str:
    """People of this event who did not show up at departure at several events."""
    if not board.repeat_no_shows:
        return ""
    items = "\n".join(
        "<li>" + _html(t.ngettext("{name}: {count} event", "{name}: {count} events", count)
                       .format(name=name, count=count)) + "</li>"
        for name, count in board.repeat_no_shows
    )  # fmt: skip
    title = t.gettext("Repeat no-shows at departure")
    return f'<section id="no-shows">\n  <h2>{_html(title)}</h2>\n  <ul>{items}</ul>\n</section>'


def bars(rows: list[tuple[str, int]], label: str) -> str:
    """A horizontal bar chart in SVG (attributes only: the page's CSP forbids inline styles)."""
    if not rows:
        return ""
    top, height, width = max(value for _label, value in rows) or 1, 22, 360
    parts = []
    for index, (name, value) in enumerate(rows):
        y = index * height
        length = round(200 * value / top)
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="13">{_html(name)}</text>'
            f'<rect x="80" y="{y + 3}" width="{length}" height="{height - 6}" '
            'fill="currentColor" />'
            f'<text x="{86 + length}" y="{y + 15}" font-size="13">{value}</text>'
        )
    return (
        f'<svg class="chart" role="img" aria-label="{_html(label)}" width="{width}" '
        f'height="{height * len(rows)}" viewBox="0 0 {width} {height * len(rows)}">'
        + "".join(parts)
        + "</svg>"
    )


def report_html(t: Translator, board: Board) -> str:
    """The anonymous morning-after report: its table, two charts and its CSV."""
    _ = t.gettext
    if board.report is None:
        return ""
    zone = board.event.timezone
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{_html(cell)}</td>" for cell in row) + "</tr>"
        for row in incidents.report_rows(t, board.report, zone)
    )
    head = "".join(f"<th>{_html(_(column))}</th>" for column in incidents.COLUMNS)
    left_chart = bars(
        [(t.time(w.departs_at, zone), w.left) for w in board.report.waves],
        _("People who left, per departure"),
    )
    home_chart = bars(
        [(t.time(hour, zone), count) for hour, count in board.report.home_by_hour],
        _("People who got home, per hour"),
    )
    token = _html(board.event.board_token)
    title, download = _("Night report (anonymous)"), _("Download the report (CSV)")
    return (
        f'<section id="report">\n  <h2>{_html(title)}</h2>\n'
        f"  {left_chart}\n  {home_chart}\n"
        f"  <table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>\n"
        f'  <p><a href="{token}/report.csv" download>{_html(download)}</a></p>\n</section>'
    )


def render_page(t: Translator, board: Board, whatsapp_number: str | None = None) -> str:
    _ = t.gettext
    event, token = board.event, board.event.board_token
    zone = event.timezone
    state_data = board_state(t, board)
    if board.purged:
        rows = "\n".join(
            "<tr>" + "".join(f"<td>{_html(cell)}</td>" for cell in row) + "</tr>"
            for row in state_data["statistics"]
        )
        body = template("purged.html").substitute(
            notice=_html(_("The personal data of this event has been deleted, as announced. "
                           "Only anonymous statistics remain.")),
            title=_html(_("Anonymous statistics")),
            section_label=_html(_(export.COLUMNS[0])),
            detail_label=_html(_(export.COLUMNS[1])),
            measure_label=_html(_(export.COLUMNS[2])),
            value_label=_html(_(export.COLUMNS[3])),
            rows=rows,
        )  # fmt: skip
    else:
        counts, labels = state_data["counts"], state_data["count_labels"]
        body = template("live.html").substitute(
            # Coloured only when there is something to see to: zero is not an alarm.
            unplaced_tone=" warn" if counts["unplaced"] else "",
            open_alerts_tone=" alert" if counts["open_alerts"] else "",
            counts_label=_html(_("Counts")),
            **counts,
            **{f"{key}_label": _html(label) for key, label in labels.items()},
            alerts_title=_html(_("Help alerts")),
            no_alerts=_html(_("No open help alert.")),
            waves_section=waves_section(t, board),
            tables_section=tables_section(t, board),
            qr_title=_html(_("QR codes")),
            qr_figures=qr_figures(t, token, whatsapp_number),
            drill=drill_html(t, board),
            incidents=incidents_html(t, board),
            no_shows=no_shows_html(t, board),
            report=report_html(t, board),
        )
    languages = " ".join(
        f'<a href="?lang={code}" hreflang="{code}" lang="{code}"'
        + (' aria-current="true"' if code == t.language else "")
        + f">{_html(LANGUAGE_NAMES[code])}</a>"
        for code in LANGUAGES
    )
    name = event.localized("name", t.language)
    meta = " · ".join([
        event.localized("venue_name", t.language),
        t.date(event.doors_open, zone),
        f"{t.time(event.doors_open, zone)}–{t.time(event.closing, zone)}",
    ])  # fmt: skip
    return template("board.html").substitute(
        lang=t.language,
        title=_html(_("Live board — {event}").format(event=name)),
        token=_html(token),
        poll_seconds=POLL_SECONDS,
        offline=_html(_("Connection lost: trying again…")),
        updated_label=_html(_("Updated at {time}")),
        event_name=_html(name),
        event_meta=_html(meta),
        safe_place=safe_place_html(t, event),
        language_label=_html(_("Language")),
        language_links=languages,
        body=body,
        export_label=_html(_("Download the anonymous statistics (CSV)")),
        noscript=_html(_("This page updates itself with JavaScript; without it, reload the page "
                         "to see the latest.")),
        state_json=_json_for_script(state_data),
    )  # fmt: skip
