"""The 24-hour window as pure logic, and the templates the organizers submit: in every
language, with the parameters they name, accepted by the emulator where the window is closed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from companion_bot.settings import load_settings
from companion_bot.whatsapp.client import CloudApiClient
from companion_bot.whatsapp.render import render
from companion_bot.whatsapp.templates import TEMPLATES, Purpose, template_notice
from companion_bot.whatsapp.window import MARGIN, WINDOW, Route, choose, free_form_allowed

NOW = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
TEXT = {"kind": "text", "text": "Your departure leaves at 02:30."}
DOCS = (Path(__file__).resolve().parents[2] / "docs" / "whatsapp.md").read_text(encoding="utf-8")


def config(**overrides):
    values = {"WHATSAPP_TOKEN": "EAAtokentoken", "WHATSAPP_PHONE_NUMBER_ID": "1",
              "WHATSAPP_APP_SECRET": "appsecret1", "WHATSAPP_VERIFY_TOKEN": "verify12"}  # fmt: skip
    return load_settings(_env_file=None, **(values | overrides)).whatsapp


def test_free_form_only_inside_her_window_with_a_margin():
    assert not free_form_allowed(None, NOW)  # she never wrote
    assert free_form_allowed(NOW - timedelta(hours=1), NOW)
    assert free_form_allowed(NOW - WINDOW + MARGIN + timedelta(seconds=1), NOW)
    assert not free_form_allowed(NOW - WINDOW + MARGIN, NOW)
    assert not free_form_allowed(NOW - WINDOW - timedelta(days=3), NOW)
    assert free_form_allowed(NOW - WINDOW + timedelta(seconds=1), NOW, margin=timedelta(0))


def test_free_form_or_template_or_nothing_with_the_reason():
    reminder = template_notice(config(), Purpose.WAVE_REMINDER, "fr", ["La Nuit", "02:30", "Bar"])
    inside = choose(TEXT, last_inbound=NOW - timedelta(hours=2), now=NOW, fallback=reminder)
    assert (inside.route, inside.notice) == (Route.FREE_FORM, TEXT)
    outside = choose(TEXT, last_inbound=NOW - timedelta(hours=30), now=NOW, fallback=reminder)
    assert (outside.route, outside.notice) == (Route.TEMPLATE, reminder)
    nothing = choose(TEXT, last_inbound=NOW - timedelta(hours=30), now=NOW)
    assert (nothing.route, nothing.notice, nothing.reason) == (
        Route.NONE, None, "24-hour window closed")  # fmt: skip
    assert choose(TEXT, last_inbound=None, now=NOW).reason == "never wrote to the bot"
    assert choose(reminder, last_inbound=None, now=NOW).route == Route.TEMPLATE
    with pytest.raises(ValueError):
        choose(TEXT, last_inbound=None, now=NOW, fallback=TEXT)


def test_template_names_and_languages_come_from_the_settings():
    chosen = config(WHATSAPP_TEMPLATE_ARE_YOU_HOME="rentree_ok",
                    WHATSAPP_TEMPLATE_LANGUAGES="nl,en_GB")  # fmt: skip
    notice = template_notice(chosen, Purpose.ARE_YOU_HOME, "en", ["Night"])
    assert notice == {"kind": "template", "name": "rentree_ok", "language": "en_GB",
                      "params": ["Night"]}  # fmt: skip
    # French was not submitted: the first language listed.
    assert template_notice(chosen, Purpose.ARE_YOU_HOME, "fr", ["Nuit"])["language"] == "nl"
    with pytest.raises(ValueError):
        template_notice(chosen, Purpose.ARE_YOU_HOME, "fr", [])


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_template_is_in_every_language_with_its_parameters_and_in_the_docs(purpose):
    template = TEMPLATES[purpose]
    assert set(template.texts) == {"fr", "en", "nl"}
    for text in template.texts.values():
        numbers = sorted({int(n) for n in re.findall(r"\{\{(\d+)\}\}", text)})
        assert numbers == list(range(1, len(template.params) + 1)), text
        assert len(template.sample) == len(template.params)
        # Meta refuses a template that starts or ends with a variable.
        assert not re.match(r"^\s*\{\{", text) and not re.search(r"\}\}\W*$", text)
        assert text in DOCS, f"docs/whatsapp.md lacks: {text}"


@pytest.mark.parametrize("language", ["fr", "en", "nl"])
async def test_each_template_reaches_her_when_her_window_is_closed(meta, language):
    marie = meta.user(name="Marie")
    async with CloudApiClient(meta.api_url, meta.phone_number_id, meta.token) as client:
        for purpose, template in TEMPLATES.items():
            notice = template_notice(config(), purpose, language, template.sample)
            await client.send(render(notice, marie.wa_id, language)[0])
    assert len(marie.messages()) == len(TEMPLATES)
    assert all("{{" not in text for text in marie.texts())
