"""The Bot API emulator, driven by a real python-telegram-bot Application over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from companion_bot.emulator import BotApiEmulator, Limits, settle

KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Oui", callback_data="yes"),
            InlineKeyboardButton("Non", callback_data="no"),
        ]
    ]
)


# ------------------------------------------------------------------------------- the bot


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    payload = " ".join(context.args or []) or "?"
    await update.effective_message.reply_text(
        f"Bienvenue <b>{payload}</b> !", parse_mode=ParseMode.HTML, reply_markup=KEYBOARD
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query.message is None or not query.message.is_accessible:
        await query.answer("Bouton expiré")
        return
    await query.answer(f"Choix : {query.data}")
    await query.edit_message_text(f"Tu as choisi {query.data}")


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    location = update.effective_message.location
    await update.effective_message.reply_text(f"Position {location.latitude:.3f}")


async def on_sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text("Je ne lis pas les autocollants")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"Reçu : {update.effective_message.text}")


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.my_chat_member
    context.bot_data.setdefault("memberships", []).append(
        (change.chat.id, change.new_chat_member.status)
    )


async def record_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs first for every update: proves PTB parsed what the emulator sent."""
    message = update.effective_message
    kind = next(
        (
            k
            for k in ("text", "location", "sticker", "photo", "document", "contact")
            if message is not None and getattr(message, k)
        ),
        None,
    )
    edited = "edited " if update.edited_message else ""
    context.bot_data.setdefault("seen", []).append(f"{edited}{kind}")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    context.bot_data.setdefault("errors", []).append(context.error)


def build_application(emulator: BotApiEmulator) -> Application:
    application = (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(emulator.base_url)
        .base_file_url(emulator.base_file_url)
        .build()
    )
    application.add_handler(TypeHandler(Update, record_update), group=-1)
    application.add_handler(CommandHandler("start", on_start))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.LOCATION, on_location))
    application.add_handler(MessageHandler(filters.Sticker.ALL, on_sticker))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(on_error)
    return application


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def application(emulator: BotApiEmulator) -> AsyncIterator[Application]:
    application = build_application(emulator)
    async with application:
        await application.updater.start_polling(poll_interval=0, timeout=10)
        await application.start()
        yield application
        await application.updater.stop()
        await application.stop()
    assert application.bot_data.get("errors", []) == []


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def clock() -> list[float]:
    """A fake monotonic clock for the flood limits: tests move time by hand."""
    return [1000.0]


async def call(
    http: aiohttp.ClientSession,
    emulator: BotApiEmulator,
    method: str,
    token: str | None = None,
    **params: Any,
) -> tuple[int, dict[str, Any]]:
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    url = f"{emulator.base_url}{token or emulator.token}/{method}"
    async with http.post(url, data=form) as response:
        text = await response.text()
    try:
        return response.status, json.loads(text)
    except ValueError:  # the 502 of an nginx in front of Telegram is HTML
        return response.status, {"html": text}


# ------------------------------------------------------------------- conversation with PTB


async def test_start_payload_keyboard_tap_and_edit(emulator, application) -> None:
    marie = emulator.user(first_name="Marie")
    await marie.start("EVENT42")
    await settle(emulator, application)

    welcome = marie.last_message()
    assert welcome is not None
    assert welcome.text == "Bienvenue EVENT42 !"
    assert welcome.entities == [{"type": "bold", "offset": 10, "length": 7}]
    assert welcome.data["from"]["is_bot"] is True
    assert marie.inline_buttons() == [("Oui", "yes"), ("Non", "no")]

    await marie.tap("Oui")
    await settle(emulator, application)

    assert marie.messages() == [welcome]  # edited in place, not a new message
    assert welcome.text == "Tu as choisi yes" and welcome.edited
    assert marie.inline_buttons() == []  # an edit without reply_markup drops the keyboard
    [answer] = marie.callback_answers()
    assert (answer.answered, answer.text, answer.data) == (True, "Choix : yes", "yes")


async def test_location_sticker_and_text(emulator, application) -> None:
    marie = emulator.user()
    await marie.send_location(48.8566, 2.3522)
    await marie.send_sticker()
    await marie.send_text("123")
    await settle(emulator, application)

    texts = [m.text for m in marie.messages()]
    assert texts == ["Position 48.857", "Je ne lis pas les autocollants", "Reçu : 123"]


async def test_every_kind_of_user_message_parses_in_ptb(emulator, application) -> None:
    marie = emulator.user(last_name="Curie", username="mcurie")
    await marie.send_location(48.85, 2.35, live_period=900)
    await marie.edit_message(location=(48.86, 2.36))
    await marie.send_photo(caption="le flyer")
    await marie.send_document()
    await marie.send_contact()
    await marie.send_text("coucou")
    await marie.edit_message(text="coucou !")
    await settle(emulator, application)
    assert application.bot_data["seen"] == [
        "location",
        "edited location",
        "photo",
        "document",
        "contact",
        "text",
        "edited text",
    ]
    # PTB's MessageHandler also handles edited messages by default.
    assert [m.text for m in marie.messages()] == [
        "Position 48.850",
        "Position 48.860",
        "Reçu : coucou",
        "Reçu : coucou !",
    ]


async def test_wait_for_message_sees_replies_after_the_last_action(emulator, application):
    marie = emulator.user()
    await marie.send_text("un")
    first = await marie.wait_for_message()
    await marie.send_text("deux")
    second = await marie.wait_for_message(lambda m: "deux" in (m.text or ""))
    assert (first.text, second.text) == ("Reçu : un", "Reçu : deux")
    with pytest.raises(TimeoutError, match="no new matching bot message"):
        await marie.wait_for_message(timeout=0.05)


async def test_forged_and_stale_callbacks_reach_the_bot(emulator, application) -> None:
    marie = emulator.user()
    await marie.start()
    await settle(emulator, application)
    welcome = marie.last_message()
    with pytest.raises(LookupError, match=r"\['Oui', 'Non'\]"):
        await marie.tap("Peut-être")

    await marie.tap_data(welcome.message_id, "forged")
    await marie.tap_data(9999, "stale")
    await settle(emulator, application)

    answers = [(q.data, q.text) for q in marie.callback_answers()]
    assert answers == [("forged", "Choix : forged"), ("stale", "Bouton expiré")]


async def test_blocked_user_gets_nothing_and_bot_gets_403(emulator, application) -> None:
    marie = emulator.user()
    await marie.start()
    await settle(emulator, application)
    await marie.block_bot()
    await settle(emulator, application)
    assert application.bot_data["memberships"] == [(marie.id, "kicked")]

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await application.bot.send_message(marie.chat_id, "Tu es là ?")
    stranger = emulator.user()
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await application.bot.send_message(stranger.chat_id, "Bonjour")
    with pytest.raises(BadRequest, match="Chat not found"):
        await application.bot.send_message(123, "Bonjour")

    await marie.unblock_bot()
    await settle(emulator, application)
    await application.bot.send_message(marie.chat_id, "Re")
    assert marie.last_text() == "Re"


async def test_group_and_channel_updates(emulator, application) -> None:
    marie = emulator.user()
    group = emulator.group("Soirée du samedi")
    await group.add_bot(by=marie)
    assert await group.send_text(marie, "hello") is None  # privacy mode hides plain chatter
    await group.send_command(marie, "/start", "GROUPE")
    await settle(emulator, application)

    assert application.bot_data["memberships"] == [(group.id, "member")]
    assert group.last_text() == "Bienvenue GROUPE !"
    assert group.messages()[0].data["chat"]["type"] == "supergroup"

    channel = emulator.channel("Annonces")
    await channel.add_bot(by=marie)
    update_id = await channel.post("Départs à 5h")
    assert await emulator.wait_delivered(update_id)
    await application.update_queue.join()

    raw_id = emulator.inject_update(
        {"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
    )
    assert await emulator.wait_delivered(raw_id)


async def test_long_poll_does_not_spin_when_idle(emulator, application) -> None:
    before = emulator.count_calls("getUpdates")
    await asyncio.sleep(1.0)
    assert emulator.count_calls("getUpdates") - before <= 2


async def test_request_log_never_contains_the_token(emulator, application) -> None:
    marie = emulator.user()
    await marie.start("X")
    await settle(emulator, application)
    await marie.tap("Non")
    await settle(emulator, application)
    methods = [r.method for r in emulator.calls() if r.method != "getUpdates"]
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert {"sendMessage", "answerCallbackQuery", "editMessageText"} <= set(methods)
    assert emulator.token not in json.dumps([r.params for r in emulator.calls()])
    assert all(r.bot_id == emulator.default_bot.id for r in emulator.calls())


# --------------------------------------------------------------------- Bot API behaviour


async def test_unknown_token_and_method(emulator, http) -> None:
    status, body = await call(http, emulator, "getMe", token="42:nope")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await call(http, emulator, "GETME")
    assert status == 200 and body["result"]["username"] == "compagnonnes_test_bot"
    status, body = await call(http, emulator, "sendPoll")
    assert status == 404 and body["description"].startswith("Not Found: method not found")

    requests = [HTTPXRequest(), HTTPXRequest()]
    bot = Bot(
        "42:nope", base_url=emulator.base_url, request=requests[0], get_updates_request=requests[1]
    )
    with pytest.raises(InvalidToken):
        await bot.initialize()
    for request in requests:  # a failed initialize() leaves them open
        await request.shutdown()


async def test_text_rules(emulator, http) -> None:
    marie = emulator.user(started=True)
    status, body = await call(http, emulator, "sendMessage", chat_id=marie.id, text="123")
    assert status == 200 and body["result"]["text"] == "123"
    status, body = await call(http, emulator, "sendMessage", chat_id=str(marie.id), text="x" * 4097)
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, body = await call(
        http,
        emulator,
        "sendMessage",
        chat_id=marie.id,
        text="<b>" + "x" * 4096 + "</b>",
        parse_mode="HTML",
    )
    assert status == 200  # the limit applies after entity parsing
    status, body = await call(
        http, emulator, "sendMessage", chat_id=marie.id, text="Je t'aime <3", parse_mode="HTML"
    )
    assert status == 400 and "can't parse entities" in body["description"]
    status, body = await call(
        http, emulator, "sendMessage", chat_id=marie.id, text="Départ 5h.", parse_mode="MarkdownV2"
    )
    assert status == 400 and "'.' is reserved" in body["description"]
    status, body = await call(
        http,
        emulator,
        "sendMessage",
        chat_id=marie.id,
        text="🚶‍♀️ <b>Léa</b> &amp; <i>toi</i>",
        parse_mode="HTML",
    )
    assert body["result"]["text"] == "🚶‍♀️ Léa & toi"
    assert body["result"]["entities"] == [  # offsets in UTF-16 code units, like Telegram
        {"type": "bold", "offset": 6, "length": 3},
        {"type": "italic", "offset": 12, "length": 3},
    ]
    status, body = await call(http, emulator, "sendMessage", chat_id=marie.id, text="  ")
    assert body["description"] == "Bad Request: message text is empty"


async def test_edits_deletes_and_callback_answers(emulator, http) -> None:
    bot = Bot(emulator.token, base_url=emulator.base_url)
    marie = emulator.user(started=True)
    async with bot:
        sent = await bot.send_message(marie.id, "Bonjour", reply_markup=KEYBOARD)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("Bonjour", marie.id, sent.message_id, reply_markup=KEYBOARD)
        with pytest.raises(BadRequest, match="to edit not found"):
            await bot.edit_message_text("Salut", marie.id, 999)
        edited = await bot.edit_message_reply_markup(marie.id, sent.message_id)
        assert edited.reply_markup is None and edited.edit_date is not None

        await marie.tap_data(sent.message_id, "yes")
        query_id = emulator.pending_updates()[-1]["callback_query"]["id"]
        assert await bot.answer_callback_query(query_id, text="ok")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query_id, text="again")

        assert await bot.delete_message(marie.id, sent.message_id)
        assert marie.messages() == [] and len(marie.messages(include_deleted=True)) == 1
        with pytest.raises(BadRequest, match="to delete not found"):
            await bot.delete_message(marie.id, sent.message_id)


async def test_keyboards_locations_files_copy_and_forward(emulator) -> None:
    bot = Bot(emulator.token, base_url=emulator.base_url, base_file_url=emulator.base_file_url)
    marie = emulator.user(first_name="Marie")
    lea = emulator.user(first_name="Léa", started=True, hide_forwards=True)
    await marie.send_text("Coucou le groupe")
    async with bot:
        await bot.send_message(
            marie.id,
            "Où vas-tu ?",
            reply_markup=ReplyKeyboardMarkup([["Paris 11e", "Paris 20e"]], one_time_keyboard=True),
        )
        assert marie.reply_keyboard() == [["Paris 11e", "Paris 20e"]]
        await bot.send_message(marie.id, "Merci", reply_markup=ReplyKeyboardRemove())
        assert marie.reply_keyboard() is None

        live = await bot.send_location(marie.id, 48.85, 2.35, live_period=60)
        moved = await bot.edit_message_live_location(
            marie.id, live.message_id, latitude=48.86, longitude=2.36
        )
        assert moved.location.latitude == 48.86
        assert marie.messages()[-1].location["live_period"] == 60
        await bot.stop_message_live_location(marie.id, live.message_id)
        with pytest.raises(BadRequest, match="can't be edited"):
            await bot.edit_message_live_location(
                marie.id, live.message_id, latitude=1.0, longitude=1.0
            )

        photo = await bot.send_photo(marie.id, b"\x89PNG fake image", caption="Le lieu")
        assert photo.caption == "Le lieu" and len(photo.photo) == 3
        again = await bot.send_photo(lea.id, photo.photo[-1].file_id)
        assert again.photo[-1].file_id == photo.photo[-1].file_id
        file = await bot.get_file(photo.photo[-1].file_id)
        assert await file.download_as_bytearray() == b"\x89PNG fake image"
        document = await bot.send_document(marie.id, b"a,b\n", filename="export.csv")
        assert document.document.file_name == "export.csv"

        copied = await bot.copy_message(lea.id, marie.id, 1)
        assert lea.messages()[-1].message_id == copied.message_id
        assert lea.last_text() == "Coucou le groupe"
        assert "forward_origin" not in lea.messages()[-1].data
        forwarded = await bot.forward_message(marie.id, lea.id, copied.message_id)
        assert forwarded.forward_origin.sender_user.is_bot

        update_id = await lea.send_text("Je pars à 5h")
        own = emulator.pending_updates()[-1]["message"]
        assert emulator.pending_updates()[-1]["update_id"] == update_id
        forwarded = await bot.forward_message(marie.id, lea.id, own["message_id"])
        assert forwarded.forward_origin.sender_user_name == "Léa"  # forward privacy


async def test_commands_menu_chat_and_webhook(emulator) -> None:
    bot = Bot(emulator.token, base_url=emulator.base_url)
    marie = emulator.user(started=True)
    async with bot:
        await bot.set_my_commands([BotCommand("start", "Commencer")])
        await bot.set_my_commands([BotCommand("aide", "Aide")], language_code="fr")
        await bot.set_my_commands(
            [BotCommand("depart", "Départs")], scope=BotCommandScopeChat(marie.id)
        )
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        assert [c.command for c in await bot.get_my_commands(language_code="fr")] == ["aide"]
        scoped = await bot.get_my_commands(scope=BotCommandScopeChat(marie.id))
        assert [c.command for c in scoped] == ["depart"]
        await bot.delete_my_commands(language_code="fr")
        assert await bot.get_my_commands(language_code="fr") == ()
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Start", "x")])

        await bot.set_chat_menu_button()
        chat = await bot.get_chat(marie.id)
        assert chat.first_name == "Marie" and chat.type == "private"
        await bot.send_chat_action(marie.id, "typing")
        sent = await bot.send_message(marie.id, "Bien arrivée ?")
        await bot.set_message_reaction(marie.id, sent.message_id, "👍")
        assert marie.last_message().reaction == [{"type": "emoji", "emoji": "👍"}]

        assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
        assert (await bot.get_webhook_info()).url == "https://example.org/hook"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook()


# ------------------------------------------------------------------------------- updates


async def test_get_updates_offset_limit_and_confirmation(emulator, http) -> None:
    marie = emulator.user()
    ids = [await marie.send_text(f"m{i}") for i in range(3)]
    await marie.tap_data(1, "x")
    _, body = await call(http, emulator, "getUpdates", limit=2, timeout=5)
    assert [u["update_id"] for u in body["result"]] == ids[:2]
    assert body["result"][0]["message"]["text"] == "m0"

    waiter = asyncio.create_task(emulator.wait_delivered(ids[1]))
    await asyncio.sleep(0)
    assert not waiter.done()
    _, body = await call(http, emulator, "getUpdates", offset=ids[2], allowed_updates=["message"])
    assert await waiter is True
    assert [u["update_id"] for u in body["result"]] == [ids[2]]  # callback_query filtered
    _, body = await call(http, emulator, "getUpdates", offset=ids[2] + 1, timeout=0)
    assert body["result"] == []


async def test_long_poll_wakes_on_update_conflict_and_stop(emulator, http) -> None:
    marie = emulator.user()
    first = asyncio.create_task(call(http, emulator, "getUpdates", timeout=30))
    await emulator.wait_for(lambda: emulator.count_calls("getUpdates") == 1)
    second = asyncio.create_task(call(http, emulator, "getUpdates", timeout=30))
    status, body = await first
    assert status == 409 and "terminated by other getUpdates" in body["description"]

    await marie.send_text("réveil")
    status, body = await second
    assert body["result"][0]["message"]["text"] == "réveil"

    stopped = asyncio.create_task(call(http, emulator, "getUpdates", offset=99, timeout=30))
    await emulator.wait_for(lambda: emulator.count_calls("getUpdates") == 3)
    async with asyncio.timeout(2):
        await emulator.stop()
        status, body = await stopped
    assert body == {"ok": True, "result": []}


# ------------------------------------------------------------------- limits and failures


async def test_flood_limits_answer_429(http, clock) -> None:
    async with BotApiEmulator(limits=Limits.telegram(), clock=lambda: clock[0]) as emulator:
        users = [emulator.user(started=True) for _ in range(29)]
        for text in "abc":  # a short burst to one chat is allowed…
            status, _ = await call(http, emulator, "sendMessage", chat_id=users[0].id, text=text)
            assert status == 200
        # …not a fourth message within three seconds.
        status, body = await call(http, emulator, "sendMessage", chat_id=users[0].id, text="d")
        assert (status, body["parameters"]) == (429, {"retry_after": 3})
        assert body["description"] == "Too Many Requests: retry after 3"
        for user in users[1:28]:
            status, _ = await call(http, emulator, "sendMessage", chat_id=user.id, text="c")
            assert status == 200
        status, _ = await call(http, emulator, "sendMessage", chat_id=users[28].id, text="d")
        assert status == 429  # 30 messages in this second already

        bot = Bot(emulator.token, base_url=emulator.base_url)
        async with bot:
            with pytest.raises(RetryAfter):
                await bot.send_message(users[28].id, "e")
            clock[0] += 1.0
            await bot.send_message(users[28].id, "e")
        assert emulator.stats.total_delivered == 31
        assert emulator.stats.rate_limited[users[0].id] == 1
        assert emulator.stats.total_rejected == 3

        # An edit writes to the chat too: it counts against the same limits.
        _, body = await call(http, emulator, "sendMessage", chat_id=users[1].id, text="f")
        shown = body["result"]["message_id"]
        status, _ = await call(http, emulator, "sendMessage", chat_id=users[1].id, text="g")
        assert status == 200  # "c", "f", "g": three within three seconds
        edit = {"chat_id": users[1].id, "message_id": shown, "text": "h"}
        status, _ = await call(http, emulator, "editMessageText", **edit)
        assert status == 429
        clock[0] += 2.0  # "c" is three seconds old
        status, _ = await call(http, emulator, "editMessageText", **edit)
        assert status == 200


async def test_failure_injection_is_seeded_and_counted(http) -> None:
    async def outcomes(kinds: tuple[str, ...], rate: float, seed: int) -> list[int]:
        limits = Limits(failure_rate=rate, failure_kinds=kinds, seed=seed)  # type: ignore[arg-type]
        async with BotApiEmulator(limits=limits) as emulator:
            marie = emulator.user(started=True)
            statuses = []
            for i in range(20):
                try:
                    status, _ = await call(
                        http, emulator, "sendMessage", chat_id=marie.id, text=f"{i}"
                    )
                except aiohttp.ClientError:
                    status = 0
                statuses.append(status)
            assert emulator.stats.total_delivered == statuses.count(200)
            assert emulator.stats.failed[marie.id] == 20 - statuses.count(200)
            return statuses

    mixed = await outcomes(("500", "502", "drop"), 0.5, seed=1)
    assert mixed == await outcomes(("500", "502", "drop"), 0.5, seed=1)
    assert {200, 500, 502, 0} <= set(mixed)

    async with BotApiEmulator(
        limits=Limits(failure_rate=1.0, failure_kinds=("lost_response",))
    ) as emulator:
        marie = emulator.user(started=True)
        bot = Bot(emulator.token, base_url=emulator.base_url)
        async with bot:
            for _ in range(2):
                with pytest.raises(NetworkError):
                    await bot.send_message(marie.id, "Départ à 5h")
        # Delivered twice although the bot saw two failures: what naive retries cause.
        assert [m.text for m in marie.messages()] == ["Départ à 5h"] * 2
        assert emulator.stats.duplicates[marie.id] == 1
        assert emulator.stats.lost_responses[marie.id] == 2
