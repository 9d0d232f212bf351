"""The command line, run as a newcomer would: a separate process, settings from the env."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from companion_bot.emulator import BotApiEmulator

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None):
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "companion_bot", *args],
        capture_output=True, text=True, env=environment, cwd=cwd or ROOT, timeout=120,
    )  # fmt: skip


SETTINGS = {
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "COMPANION_ADMINS",
    "DEFAULT_LANGUAGE", "DEFAULT_TIMEZONE", "TELEGRAM_RATE_LIMIT", "WEB_PORT", "WEB_HOST",
    "CALLBACK_SECRET", "WEBHOOK_URL", "PUBLIC_URL",
    "WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
}  # fmt: skip


def test_run_without_a_token_says_what_is_missing_in_one_line(tmp_path):
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0] and "BotFather" in lines[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TELEGRAM_BOT_TOKEN", "123:short"),
        ("COMPANION_ADMINS", "12,abc"),
        ("DEFAULT_TIMEZONE", "Paris"),
        ("DEFAULT_LANGUAGE", "de"),
        ("DATABASE_URL", "mysql://x"),
        ("TELEGRAM_API_URL", "not a url"),
    ],
)
def test_a_malformed_setting_is_named_in_one_line(tmp_path, name, value):
    result = run_cli("run", env={name: value}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr
    if name == "TELEGRAM_BOT_TOKEN":
        assert value not in result.stderr


@pytest.mark.parametrize("args", [[], ["run"], ["migrate"], ["event"], ["event", "create"]])
def test_help_everywhere(args):
    result = run_cli(*args, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: companion-bot")


def test_settings_from_a_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text("DEFAULT_TIMEZONE=Nowhere/Land\n")
    result = run_cli("migrate", cwd=tmp_path)
    assert result.returncode == 2 and "DEFAULT_TIMEZONE" in result.stderr


def test_migrate_then_event_create_prints_three_links(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}"}
    result = run_cli("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_cli(
        "event", "create", "--name", "Nuit test", "--venue", "La Station",
        "--venue-place", "Paris 11e", "--doors-open", "2099-12-05 23:00", "--closing", "06:00",
        "--departure", "03:00", "--departure", "06:00@Back door",
        "--meeting-point", "Entrance", "--meeting-point", "Back door",
        "--bot-username", "compagnonnes_bot", "--creator", "42",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    links = [line for line in result.stdout.splitlines() if "https://t.me/" in line]
    assert len(links) == 3
    assert all("https://t.me/compagnonnes_bot?start=" in line for line in links)


def test_event_create_explains_bad_values(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "en"}
    result = run_cli(
        "event", "create", "--name", "N", "--venue", "V", "--venue-place", "Paris 11e",
        "--doors-open", "2099-12-05 23:00", "--closing", "27:00", "--bot-username", "b",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "27:00" in result.stderr and "is not a time I can read" in result.stderr


async def test_event_create_asks_telegram_for_the_bot_username(tmp_path):
    async with BotApiEmulator(bot_username="night_helper_bot") as emulator:
        env = {
            "DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}",
            "TELEGRAM_BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": emulator.url,
        }
        import asyncio

        result = await asyncio.to_thread(
            run_cli, "event", "create", "--name", "N", "--venue", "V", "--venue-place",
            "Ixelles", "--doors-open", "2099-12-05 23:00", "--closing", "05:00",
            env=env, cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "https://t.me/night_helper_bot?start=" in result.stdout
    assert emulator.token not in result.stdout + result.stderr


REJECTED_TOKEN = "7123456789:AAThisTokenIsNotKnownToTheServer_xyz"


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["event", "create", "--name", "N", "--venue", "V", "--venue-place", "Ixelles",
         "--doors-open", "2099-12-05 23:00", "--closing", "05:00"],
    ],
    ids=["run", "event-create"],
)  # fmt: skip
async def test_a_rejected_token_is_one_line_without_the_token(tmp_path, args):
    """Telegram answers 401 to a token it does not know (the emulator does the same)."""
    import asyncio

    async with BotApiEmulator() as emulator:
        env = {
            "DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}",
            "TELEGRAM_BOT_TOKEN": REJECTED_TOKEN,
            "TELEGRAM_API_URL": emulator.url,
            "WEB_PORT": "0",
        }
        result = await asyncio.to_thread(run_cli, *args, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert REJECTED_TOKEN not in output and REJECTED_TOKEN.split(":")[1] not in output
    assert "Traceback" not in output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("companion-bot: Telegram rejected the bot token (TELEGRAM_BOT_TOKEN)")


def test_event_create_keeps_personal_data_as_long_as_asked(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "en"}
    common = ["event", "create", "--name", "N", "--venue", "V", "--venue-place", "Paris 11e",
              "--doors-open", "2099-12-05 23:00", "--closing", "06:00",
              "--bot-username", "compagnonnes_bot"]  # fmt: skip
    result = run_cli(*common, "--retention-days", "400", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "between 1 and 90 days after closing" in result.stderr
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    result = run_cli(*common, "--retention-days", "3", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    assert database.execute("SELECT retention_days FROM event").fetchall() == [(3,)]
    database.close()


def test_event_create_with_zones(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "en"}
    common = ["event", "create", "--name", "N", "--venue", "V", "--venue-place", "Paris 11e",
              "--doors-open", "2099-12-05 23:00", "--closing", "06:00",
              "--bot-username", "compagnonnes_bot"]  # fmt: skip
    for zone, message in [
        ("Basilique@95.1,2.0", "“95.1,2.0” is not a point on Earth"),
        ("Basilique", "Write a zone as Name@latitude,longitude"),
        ("Basilique@nowhere-known", "is neither coordinates like 48.8566, 2.3522 nor"),
    ]:
        result = run_cli(*common, "--zone", zone, env=env, cwd=tmp_path)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    result = run_cli(*common, "--zone", "Gare@48.88,2.35", "--zone", "gare@48.1,2.1",
                     env={**env, "DEFAULT_LANGUAGE": "fr"}, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "error: Cet événement a déjà une zone qui s'appelle « Gare »."

    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    result = run_cli(*common, "--zone", "Basilique@48.9356, 2.3597", "--zone", "Canal@Stalingrad",
                     env=env, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    rows = database.execute("SELECT name, lat, lon FROM event_zone ORDER BY name").fetchall()
    database.close()
    assert rows[0] == ("Basilique", 48.9356, 2.3597)
    assert rows[1][0] == "Canal" and round(rows[1][1], 2) == 48.88


def test_event_create_speaks_dutch(tmp_path):
    """DEFAULT_LANGUAGE=nl, or --language nl: the default texts and the errors in Dutch."""
    common = ["event", "create", "--name", "N", "--venue", "V", "--venue-place", "Elsene",
              "--doors-open", "2099-12-05 23:00", "--closing", "06:00",
              "--bot-username", "compagnonnes_bot", "--zone", "Flagey"]  # fmt: skip
    dutch = "error: Schrijf een zone als Naam@breedtegraad,lengtegraad"
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "nl"}
    result = run_cli(*common, env=env, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith(dutch), result.stderr
    result = run_cli(*common, "--language", "nl", env={**env, "DEFAULT_LANGUAGE": "en"},
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith(dutch), result.stderr


def test_event_create_takes_texts_in_several_languages(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "en"}
    charter = tmp_path / "charter.txt"
    charter.write_text("Soyons bienveillantes, toujours.\n| en: Let us be kind, always.\n")
    common = ["event", "create", "--venue", "Le Hangar", "--venue-place", "Paris 19e",
              "--doors-open", "2099-12-05 23:00", "--closing", "06:00", "--language", "fr",
              "--bot-username", "compagnonnes_bot"]  # fmt: skip
    result = run_cli(*common, "--name", "Nuit | Night", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: Après « | », commence chaque version par sa langue")
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    result = run_cli(
        *common, "--name", "Nuit | en: Night", "--charter-file", str(charter),
        "--meeting-point", "Entrée principale | en: Main entrance",
        "--departure", "03:00@Main entrance", "--zone", "Navette | en: Shuttle@48.9,2.4",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    event, point, zone = (
        database.execute(f"SELECT name, translations FROM {table}").fetchone()
        for table in ("event", "meeting_point", "event_zone")
    )
    charter_text = database.execute("SELECT charter FROM event").fetchone()[0]
    database.close()
    assert (event[0], json.loads(event[1])["name"]) == ("Nuit", {"fr": "Nuit", "en": "Night"})
    assert json.loads(event[1])["charter"]["en"] == "Let us be kind, always."
    assert charter_text == "Soyons bienveillantes, toujours."
    assert (point[0], json.loads(point[1])) == (
        "Entrée principale",
        {"name": {"fr": "Entrée principale", "en": "Main entrance"}},
    )
    assert (zone[0], json.loads(zone[1])) == (
        "Navette",
        {"name": {"fr": "Navette", "en": "Shuttle"}},
    )


def test_event_create_gives_its_defaults_in_every_language(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "fr"}
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    result = run_cli("event", "create", "--name", "N", "--venue", "V", "--venue-place",
                     "Paris 11e", "--doors-open", "2099-12-05 23:00", "--closing", "06:00",
                     "--bot-username", "compagnonnes_bot", env=env, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    name, versions = database.execute("SELECT name, translations FROM meeting_point").fetchone()
    charter, texts = database.execute("SELECT charter, translations FROM event").fetchone()
    database.close()
    assert json.loads(versions)["name"] == {"fr": name, "en": "Main entrance", "nl": "Hoofdingang"}
    assert charter.startswith("Charte")
    assert "I treat my companions" in json.loads(texts)["charter"]["en"]


def test_event_create_online_with_tables_and_bad_input(tmp_path):
    """Online: no venue, closing or departures; tables with an http(s) link and 2 to 50 seats."""
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "en"}
    common = ["event", "create", "--kind", "online", "--name", "Soirée jeux",
              "--doors-open", "2099-12-05 20:00", "--arrival-slot", "20:00-21:00",
              "--arrival-slot", "21:00-22:00", "--bot-username", "compagnonnes_bot"]  # fmt: skip
    for extra, message in [
        (["--table", "Wolf; ftp://meet.jit.si/wolf; 8"], "is not a call link"),
        (["--table", "Wolf; https://meet.jit.si/wolf; 0"], "A table seats 2 to 50 people"),
        (["--table", "Wolf; https://meet.jit.si/wolf; 500"], "A table seats 2 to 50 people"),
        (["--table", "Wolf; https://meet.jit.si/wolf; 8", "--departure", "23:00"],
         "An online event has no departures"),
        ([], "An online event needs at least one table."),
    ]:  # fmt: skip
        result = run_cli(*common, *extra, env=env, cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines

    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    tables = ["--table", "Wolf; https://meet.jit.si/wolf; 8; Loup-Garou",
              "--table", "Papote; https://meet.jit.si/chat; 4"]  # fmt: skip
    result = run_cli(*common, *tables, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    kind, venue, lat = database.execute("SELECT kind, venue_name, venue_lat FROM event").fetchone()
    rows = database.execute("SELECT name, capacity, activity FROM online_table").fetchall()
    waves = database.execute("SELECT COUNT(*) FROM departure_wave").fetchone()[0]
    database.close()
    assert (kind, venue, lat) == ("online", "Online", 0.0)
    assert rows == [("Wolf", 8, "Loup-Garou"), ("Papote", 4, None)]
    assert waves == 0


def test_event_create_small_preset(tmp_path):
    env = {"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}", "DEFAULT_LANGUAGE": "en"}
    assert run_cli("migrate", env=env, cwd=tmp_path).returncode == 0
    result = run_cli(
        "event", "create", "--preset", "small", "--name", "Jam", "--venue", "Le Local",
        "--venue-place", "Ixelles", "--doors-open", "2099-12-05 19:00", "--closing", "23:00",
        "--bot-username", "compagnonnes_bot", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    database = sqlite3.connect(tmp_path / "bot.sqlite3")
    slots = database.execute("SELECT COUNT(*) FROM arrival_slot").fetchone()[0]
    waves = database.execute("SELECT COUNT(*) FROM departure_wave").fetchone()[0]
    database.close()
    assert (slots, waves) == (1, 1)
