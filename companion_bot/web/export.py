"""The board's download of an event's anonymous statistics: `/board/<token>/export.csv` (the
same file as the `/export` command; see companion_bot/services/export.py)."""

from __future__ import annotations

from aiohttp import web

from companion_bot.services import export
from companion_bot.web.board import PRIVATE_HEADERS, board_event, request_translator


def setup(app: web.Application) -> None:
    app.router.add_get("/board/{token}/export.csv", export_csv)


async def export_csv(request: web.Request) -> web.Response:
    event = await board_event(request)
    text = await export.event_csv(request_translator(request), event)
    return csv_response(text, export.csv_filename(event))


def csv_response(text: str, filename: str) -> web.Response:
    """A CSV download, private like the board."""
    return web.Response(
        # A byte-order mark, so that spreadsheets open French accents as UTF-8.
        body=("\ufeff" + text).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers=PRIVATE_HEADERS | {"Content-Disposition": f'attachment; filename="{filename}"'},
    )
