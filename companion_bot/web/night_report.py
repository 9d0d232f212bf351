"""The board's download of the anonymous morning-after report: `/board/<token>/report.csv`
(see companion_bot/services/incidents.py)."""

from __future__ import annotations

from aiohttp import web

from companion_bot.services import incidents
from companion_bot.web.board import board_event, not_found, request_translator
from companion_bot.web.export import csv_response


def setup(app: web.Application) -> None:
    app.router.add_get("/board/{token}/report.csv", report_csv)


async def report_csv(request: web.Request) -> web.Response:
    event = await board_event(request)
    if event.purged_at is not None:  # its anonymous statistics stay in export.csv
        raise not_found(request)
    found = await incidents.report(event)
    text = incidents.report_csv(request_translator(request), found, event.timezone)
    return csv_response(text, incidents.report_filename(event))
