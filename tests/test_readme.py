"""What the README tells a newcomer holds: `.env.example` lists every setting and no secret,
and the `event create` example runs as written, without a token."""

from __future__ import annotations

import re
import shlex
from datetime import date, timedelta
from pathlib import Path
from typing import get_args

from pydantic import SecretStr

from companion_bot.settings import Settings, load_settings
from tests.test_cli import ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = ROOT / ".env.example"
SETTING_LINE = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def example_settings() -> dict[str, str]:
    """Every NAME=value of .env.example, commented out or not."""
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = SETTING_LINE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def test_the_env_example_has_every_setting_and_no_secret(tmp_path: Path) -> None:
    assert ".env.example" in README
    settings = example_settings()
    assert set(settings) == set(Settings.model_fields), set(settings) ^ set(Settings.model_fields)
    fields = Settings.model_fields
    secrets = {name for name, field in fields.items() if SecretStr in get_args(field.annotation)}
    assert secrets >= {
        "TELEGRAM_BOT_TOKEN", "CALLBACK_SECRET", "WEBHOOK_SECRET", "METRICS_TOKEN",
        "WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
    }  # fmt: skip
    assert {name: settings[name] for name in secrets} == dict.fromkeys(secrets, "")
    # Copied to .env as it is, it loads; every example value uncommented loads too.
    assert load_settings(_env_file=ENV_EXAMPLE).TELEGRAM_BOT_TOKEN is None
    uncommented = tmp_path / ".env"
    uncommented.write_text(
        "\n".join(f"{name}={value}" for name, value in settings.items()), encoding="utf-8"
    )
    load_settings(_env_file=uncommented)


def readme_event_create() -> list[str]:
    """The README's `companion-bot event create` example, as arguments."""
    block = re.search(r"```sh\n(\.venv/bin/companion-bot event create .*?)```", README, re.S)
    assert block, "no event create example in the README"
    return shlex.split(block.group(1).replace("\\\n", " "))[1:]


def test_the_readme_event_create_example_runs_without_a_token(tmp_path: Path) -> None:
    args = readme_event_create()
    # The example's date, moved to next year's: a night in the past is refused.
    doors = args.index("--doors-open") + 1
    args[doors] = f"{date.today() + timedelta(days=365):%Y-%m-%d} {args[doors].split()[-1]}"
    result = run_cli(*args, env={"DATABASE_URL": f"sqlite://{tmp_path / 'bot.sqlite3'}"},
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    links = [line for line in result.stdout.splitlines() if "https://t.me/" in line]
    assert len(links) == 3, result.stdout


def test_the_readme_table_has_every_setting():
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", README, re.M))
    assert listed == set(Settings.model_fields), listed ^ set(Settings.model_fields)
