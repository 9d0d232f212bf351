"""WhatsApp's settings: off unless its four required settings are all there; a partial or
malformed set stops start-up with one line naming the setting; secrets never shown."""

from __future__ import annotations

import pytest

from companion_bot.settings import SettingsError, load_settings
from tests.test_cli import run_cli

COMPLETE = {
    "WHATSAPP_TOKEN": "EAAsecret-token-value",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "WHATSAPP_APP_SECRET": "app-secret-value-1234",
    "WHATSAPP_VERIFY_TOKEN": "verify-token-value",
}


def test_whatsapp_is_off_unless_its_settings_are_all_set():
    assert load_settings(_env_file=None).whatsapp is None
    whatsapp = load_settings(_env_file=None, **COMPLETE).whatsapp
    assert whatsapp is not None and whatsapp.phone_number_id == "106540352242922"
    assert whatsapp.api_url == "https://graph.facebook.com/v24.0"
    assert whatsapp.messages_per_second == 80
    assert whatsapp.template_languages == {"fr": "fr", "en": "en", "nl": "nl"}
    both = load_settings(_env_file=None, TELEGRAM_BOT_TOKEN="123456:" + "a" * 30, **COMPLETE)
    assert both.whatsapp == whatsapp


def test_whatsapp_alone_signs_buttons_with_a_key_of_its_own():
    mine = load_settings(_env_file=None, **COMPLETE).callback_secret
    other = load_settings(_env_file=None, **(COMPLETE | {"WHATSAPP_APP_SECRET": "x" * 12}))
    assert mine != other.callback_secret != load_settings(_env_file=None).callback_secret
    telegram = "123456:" + "a" * 30
    both = load_settings(_env_file=None, TELEGRAM_BOT_TOKEN=telegram, **COMPLETE)
    alone = load_settings(_env_file=None, TELEGRAM_BOT_TOKEN=telegram)
    assert both.callback_secret == alone.callback_secret  # Telegram's buttons stay valid


@pytest.mark.parametrize("missing", list(COMPLETE))
def test_a_partial_set_names_what_is_missing(missing):
    partial = {name: value for name, value in COMPLETE.items() if name != missing}
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **partial)
    assert str(caught.value).startswith(f"setting {missing} is not set")
    assert all(value not in str(caught.value) for value in COMPLETE.values())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WHATSAPP_TOKEN", "EAA with spaces"),
        ("WHATSAPP_APP_SECRET", "short"),
        ("WHATSAPP_PHONE_NUMBER_ID", "+33 6 12 34 56 78"),
        ("WHATSAPP_API_URL", "https://graph.facebook.com"),
        ("WHATSAPP_MESSAGES_PER_SECOND", "0"),
        ("WHATSAPP_TEMPLATE_WAVE_REMINDER", "Wave Reminder"),
        ("WHATSAPP_TEMPLATE_LANGUAGES", "fr,de"),
        ("WHATSAPP_TEMPLATE_LANGUAGES", "fr,fr_CA"),
    ],
)
def test_a_malformed_setting_is_named(name, value):
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **(COMPLETE | {name: value}))
    assert str(caught.value).startswith(f"setting {name} ")
    if "SECRET" in name or "TOKEN" in name:
        assert value not in str(caught.value)


def test_secrets_are_never_in_a_repr():
    settings = load_settings(_env_file=None, **COMPLETE)
    for shown in (repr(settings), repr(settings.whatsapp), str(settings.whatsapp)):
        for name in ("WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"):
            assert COMPLETE[name] not in shown


def test_run_with_a_partial_set_stops_in_one_line(tmp_path):
    result = run_cli("run", env={"WHATSAPP_TOKEN": COMPLETE["WHATSAPP_TOKEN"]}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "WHATSAPP_PHONE_NUMBER_ID" in lines[0], result.stderr
    assert COMPLETE["WHATSAPP_TOKEN"] not in result.stderr


def test_run_with_whatsapp_and_no_telegram_says_the_team_is_on_telegram(tmp_path):
    result = run_cli("run", env=COMPLETE, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN is not set" in lines[0], result.stderr
    assert "volunteers and organizers who answer them use Telegram" in lines[0]
    for secret in ("WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"):
        assert COMPLETE[secret] not in result.stderr
