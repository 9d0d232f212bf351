"""The board's download of the anonymous morning-after report: `/board/<token>/report.csv`
(see companion_bot/services/incidents.py)."""

from __future__ import annotations

from aiohttp import web

from companion_bot.services import incidents
from companion_bot.web.board import PRIVATE_HEADERS, board_event, not_found, request_translator


def setup(app: web.Application) -> None:
    app.router.add_get("/board/{token}/report.csv", report_csv)


async def report_csv(request: web.Request) -> web.Response:
    event = await board_event(request)
    if event.purged_at is not None:  # its anonymous statistics stay in export.csv
        raise not_found(request)
    found = await incidents.report(event)
    text = incidents.report_csv(request_translator(request), found, event.timezone)
    return web.Response(
        # A byte-order mark, so that spreadsheets open French accents as UTF-8.
        body=("\ufeff" + text).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers=PRIVATE_HEADERS
        | {"Content-Disposition": f'attachment; filename="{incidents.report_filename(event)}"'},
    )
