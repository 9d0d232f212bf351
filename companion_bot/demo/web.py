"""The demo's web page (aiohttp): one column per persona, each her chat with the bot as
Telegram (or WhatsApp, for the attendee there) would show it, and the night's clock.
Separate from the bot's own web app (which the demo serves elsewhere, for WhatsApp's
webhook), but it serves the organizers' live board too (`companion_bot.web.board`), where
the bot's board links point in the demo.

The page polls `/api/state` (long polling: the answer comes when something changed) and acts
through small JSON endpoints. It is served from this machine only, with everything local.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from companion_bot.demo import scenario
from companion_bot.demo.session import Demo, DemoError, Nights
from companion_bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_, normalise_language, translator
from companion_bot.settings import load_settings
from companion_bot.web import board, export
from companion_bot.web.keys import BOT_USERNAME, SETTINGS

NIGHTS = web.AppKey("nights", Nights)
LANGUAGE = web.AppKey("language", str)
LOOPBACK = web.AppKey("loopback", bool)
STATIC = Path(__file__).resolve().parent / "static"
LONG_POLL_SECONDS = 25.0
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}

LABELS = {
    "title": N_("Compagnonnes de route — demo"),
    "intro": N_(
        "Chat with the bot as several people at once: three attendees on Telegram, one on "
        "WhatsApp, a volunteer and an organizer. Nothing here talks to Telegram or WhatsApp."
    ),
    "clock": N_("Night clock"),
    "doors": N_("Doors open"),
    "play": N_("▶ Play the night"),
    "pause": N_("⏸ Pause"),
    "next": N_("⏭ Next step"),
    "later": N_("+15 min"),
    "coming": N_("Coming next"),
    "log": N_("What happened"),
    "over": N_("The night is over."),
    "new_night": N_("🔄 Start a new night"),
    "starting": N_("A new night is starting…"),
    "board": N_("Opens the live board in a new tab"),
    "placeholder": N_("Write a message or a /command"),
    "send": N_("Send"),
    "location": N_("📍 Location"),
    "location_title": N_("Share a location pin"),
    "sticker_title": N_("Send a sticker"),
    "edited": N_("edited"),
    "document": N_("Document: {name}"),
    "contact": N_("A contact card"),
    "open_link": N_("Opens this link in this person's chat"),
    "open_whatsapp": N_("Opens this link in the chat of the attendee on WhatsApp"),
    "offline": N_("The demo is not answering: is it still running?"),
    "ok": N_("OK"),
    "empty": N_("No messages yet: start with one of the buttons below."),
    "people": N_("People"),
}


def page_language(request: web.Request) -> str:
    """?lang=, else the browser's languages in order of preference, else the default."""
    asked = normalise_language(request.query.get("lang"))
    if asked:
        return asked
    preferences = []
    for position, item in enumerate(request.headers.get("Accept-Language", "").split(",")):
        code, _, parameters = item.strip().partition(";")
        weight = 1.0
        if parameters.strip().startswith("q="):
            try:
                weight = float(parameters.strip()[2:])
            except ValueError:
                weight = 0.0
        preferences.append((-weight, position, code.strip()))
    for _weight, _position, code in sorted(preferences):
        language = normalise_language(code)
        if language:
            return language
    return request.app[LANGUAGE]


def _json_for_script(value: object) -> str:
    """JSON safe inside <script type="application/json">: no "</script>" can close it."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


def current(request: web.Request) -> Demo:
    return request.app[NIGHTS].demo


async def page(request: web.Request) -> web.Response:
    language = page_language(request)
    _ = translator(language).gettext
    config = {
        "lang": language,
        "labels": {key: _(text) for key, text in LABELS.items()},
        "locations": [
            {"key": key, "label": label} for key, (label, *_c) in scenario.LOCATIONS.items()
        ],
        "state": await current(request).state(language),
    }
    switch = " · ".join(
        f'<a href="?lang={code}"{" aria-current=true" if code == language else ""}>'
        f"{html.escape(LANGUAGE_NAMES[code])}</a>"
        for code in LANGUAGES
    )
    body = f"""<!doctype html>
<html lang="{language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(_(LABELS["title"]))}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/demo.css">
<script type="application/json" id="demo-config">{_json_for_script(config)}</script>
<script src="/static/demo.js" defer></script>
</head>
<body>
<header class="top">
  <div class="heading">
    <h1>{html.escape(_(LABELS["title"]))}</h1>
    <p class="intro">{html.escape(_(LABELS["intro"]))}</p>
    <nav class="languages">{switch}</nav>
  </div>
  <section class="night" aria-live="polite">
    <div class="event"></div>
    <div class="clock"><span class="label">{html.escape(_(LABELS["clock"]))}</span>
      <strong id="clock"></strong></div>
    <div class="controls">
      <button type="button" id="play">{html.escape(_(LABELS["play"]))}</button>
      <button type="button" id="next">{html.escape(_(LABELS["next"]))}</button>
      <button type="button" id="later">{html.escape(_(LABELS["later"]))}</button>
      <strong class="over" id="over" hidden>{html.escape(_(LABELS["over"]))}</strong>
      <button type="button" id="new-night" hidden>{html.escape(_(LABELS["new_night"]))}</button>
    </div>
    <div class="coming" id="coming"></div>
    <details class="log"><summary>{html.escape(_(LABELS["log"]))}</summary>
      <ol id="log"></ol></details>
  </section>
</header>
<nav class="tabs" id="tabs" aria-label="{html.escape(_(LABELS["people"]))}"></nav>
<main class="columns" id="columns"></main>
<div class="offline" id="offline" hidden>{html.escape(_(LABELS["offline"]))}</div>
</body>
</html>
"""
    return web.Response(text=body, content_type="text/html", charset="utf-8")


async def state(request: web.Request) -> web.Response:
    after = request.query.get("after")
    language = page_language(request)
    if after:
        snapshot = await request.app[NIGHTS].wait_for_change(language, after, LONG_POLL_SECONDS)
    else:
        snapshot = await current(request).state(language)
    return web.json_response(snapshot)


async def _body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise DemoError(N_("The page sent something the demo does not understand.")) from None
    if not isinstance(body, dict):
        raise DemoError(N_("The page sent something the demo does not understand."))
    return body


def persona_action(
    act: Callable[[Demo, str, dict], Awaitable[None]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        demo = current(request)
        await act(demo, request.match_info["key"], await _body(request))
        return web.json_response(demo.snapshot(page_language(request)))

    return handle


async def _text(demo: Demo, key: str, body: dict) -> None:
    await demo.send_text(key, body.get("text"))


async def _tap(demo: Demo, key: str, body: dict) -> None:
    await demo.tap(key, body.get("message_id"), body.get("button"))


async def _location(demo: Demo, key: str, body: dict) -> None:
    await demo.share_location(key, body.get("place"))


async def _sticker(demo: Demo, key: str, body: dict) -> None:
    await demo.send_sticker(key)


async def night_next(request: web.Request) -> web.Response:
    demo = current(request)
    await _body(request)
    await demo.next_step()
    return web.json_response(demo.snapshot(page_language(request)))


async def night_advance(request: web.Request) -> web.Response:
    demo = current(request)
    body = await _body(request)
    await demo.advance(body.get("minutes"))
    return web.json_response(demo.snapshot(page_language(request)))


async def night_new(request: web.Request) -> web.Response:
    """A fresh night, without restarting the demo."""
    await _body(request)
    await request.app[NIGHTS].new_night()
    return web.json_response(await current(request).state(page_language(request)))


async def file(request: web.Request) -> web.Response:
    """A picture the bot sent (a QR code...), from the emulator's storage."""
    records = current(request).emulator.files_like(request.match_info["file_id"])
    if not records or not (records[-1].mime_type or "").startswith("image/"):
        raise web.HTTPNotFound()
    return web.Response(body=records[-1].content, content_type=records[-1].mime_type)


@web.middleware
async def protect(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Only this machine's pages may act: JSON posts only (a cross-site form cannot send
    them without asking first), from our own origin, to our own host name."""
    _ = translator(page_language(request)).gettext
    if request.app[LOOPBACK] and (request.url.host or "").strip("[]") not in LOOPBACK_NAMES:
        return web.json_response({"error": _("Open the demo at localhost.")}, status=403)
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if request.content_type != "application/json" or (
            origin and urlsplit(origin).netloc != request.host
        ):
            return web.json_response({"error": _("Refused: not from the demo page.")}, status=403)
    try:
        response = await handler(request)
    except DemoError as error:
        response = web.json_response({"error": _(error.message)}, status=error.status)
    # The live board's pages bring their own, stricter, headers.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.path.startswith("/api/") or request.path == "/":
        response.headers["Cache-Control"] = "no-store"
    return response


def create_demo_app(
    nights: Nights, *, language: str = "fr", loopback: bool = True
) -> web.Application:
    """`loopback`: served on 127.0.0.1, so only "localhost" host names are answered (a web
    site cannot reach the demo by pointing its own name at this machine).

    Once it listens, tell `nights.serve_board_at` where: the bot's board links point there."""
    app = web.Application(middlewares=[protect])
    app[NIGHTS] = nights
    app[LANGUAGE] = language
    app[LOOPBACK] = loopback
    # The live board, as the bot's web server serves it: its default language, and the
    # links of its QR codes to the night's bot.
    app[SETTINGS] = load_settings(DEFAULT_LANGUAGE=language, _env_file=None)
    app[BOT_USERNAME] = lambda: nights.demo.bot_username
    board.setup(app)
    export.setup(app)
    app.router.add_get("/", page)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/api/state", state)
    app.router.add_post("/api/personas/{key}/text", persona_action(_text))
    app.router.add_post("/api/personas/{key}/tap", persona_action(_tap))
    app.router.add_post("/api/personas/{key}/location", persona_action(_location))
    app.router.add_post("/api/personas/{key}/sticker", persona_action(_sticker))
    app.router.add_post("/api/night/next", night_next)
    app.router.add_post("/api/night/advance", night_advance)
    app.router.add_post("/api/night/new", night_new)
    app.router.add_get("/api/files/{file_id}", file)
    return app
