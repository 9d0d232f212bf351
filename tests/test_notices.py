"""Services speak in notices, and only channel edges know a channel: the rule checked on the
source, and the Telegram rendering of each notice kind."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from companion_bot import notices, signing, telegram_render

SERVICES = Path(__file__).resolve().parent.parent / "companion_bot" / "services"
CHANNEL_LIBRARIES = ("telegram", "pywa")
# Our own channel edges: companion_bot.telegram_render, companion_bot.whatsapp…, handlers.
CHANNEL_MODULES = ("companion_bot.telegram", "companion_bot.whatsapp", "handlers")
# A Bot API (or Graph API) call named in a string: sendMessage, editMessageText, copyMessage…
API_METHOD = re.compile(r"^(send|edit|copy|forward|stop|answer|delete|get|set)[A-Z]\w*$")
SECRET = b"k" * 32


def is_channel(module: str) -> bool:
    top = module.split(".")[0]
    return top in CHANNEL_LIBRARIES or module.startswith(CHANNEL_MODULES)


def service_modules() -> list[Path]:
    return sorted(SERVICES.glob("*.py"))


@pytest.mark.parametrize("path", service_modules(), ids=lambda path: path.name)
def test_a_service_imports_no_channel(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            assert not is_channel(name), f"{path.name} imports {name}"


@pytest.mark.parametrize("path", service_modules(), ids=lambda path: path.name)
def test_a_service_names_no_channel_api_method(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not API_METHOD.match(node.value), f"{path.name} names {node.value!r}"


def test_the_rule_catches_a_telegram_import(tmp_path):
    """The checks above would see a regression (not vacuous)."""
    source = "from telegram import Message\nmethod = 'sendLocation'\n"
    tree = ast.parse(source)
    imports = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert [is_channel(name) for name in imports] == [True] and API_METHOD.match(strings[0])
    assert not is_channel("companion_bot.wakeups") and is_channel("telegram.helpers")


def test_choices_are_signed_for_the_recipient_when_rendered():
    signing.configure(SECRET)
    method, arguments = telegram_render.render(
        notices.TEXT, {"text": "Home?", "choices": [[["I'm home", "cl:home:4"]]]}, chat_id=42
    )
    assert method == "sendMessage"
    assert arguments["parse_mode"] == "HTML"
    assert arguments["link_preview_options"] == {"is_disabled": True}
    [[button]] = arguments["reply_markup"]["inline_keyboard"]
    assert button["text"] == "I'm home"
    assert signing.verify(42, button["callback_data"]) == "cl:home:4"
    assert signing.verify(43, button["callback_data"]) is None  # nobody else can send it
    assert "choices" not in arguments


def test_the_help_keyboard_and_edits_render_as_telegram_calls():
    signing.configure(SECRET)
    _, arguments = telegram_render.render(
        notices.TEXT,
        {"text": "Tonight", "keyboard": notices.HELP_KEYBOARD, "keyboard_label": "🆘 Aide"},
        chat_id=1,
    )
    assert arguments["reply_markup"] == {
        "keyboard": [[{"text": "🆘 Aide"}]],
        "resize_keyboard": True,
        "is_persistent": True,
    }
    method, arguments = telegram_render.render(notices.EDIT_CHOICES, {"message_id": 9}, chat_id=1)
    assert (method, arguments) == ("editMessageReplyMarkup", {"message_id": 9})
    method, arguments = telegram_render.render(
        notices.MOVE_LOCATION, {"message_id": 9, "latitude": 48.8, "longitude": 2.3}, chat_id=1
    )
    assert method == "editMessageLiveLocation" and arguments["latitude"] == 48.8


def test_every_kind_has_a_telegram_method():
    assert set(telegram_render.METHODS) == notices.KINDS


def test_a_call_queued_before_notices_goes_out_as_it_was_stored():
    payload = {"text": "old", "parse_mode": "HTML"}
    assert telegram_render.render("sendMessage", payload, chat_id=1) == ("sendMessage", payload)


def test_every_short_message_a_notice_may_name_is_a_whatsapp_template():
    from companion_bot.whatsapp.templates import Purpose

    named = {notices.WAVE_REMINDER, notices.ARE_YOU_HOME, notices.ESCALATION,
             notices.MORNING_AFTER, notices.GROUP_INTRODUCTION}  # fmt: skip
    assert named == {purpose.value for purpose in Purpose}
    assert notices.outside_window(notices.ESCALATION, "Ada <3", "02:30") == {
        "template": {"purpose": "escalation", "params": ["Ada &lt;3", "02:30"]}
    }


@pytest.mark.parametrize(
    "module",
    ["companion_bot.telegram_sender", "companion_bot.whatsapp.sender", "companion_bot.workers"],
)
def test_each_channel_module_imports_first_on_its_own(module):
    """No import cycle between the workers and the channels' senders (a process that starts
    with one of them, like tests/outbox_process.py, would fail)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-500:]
