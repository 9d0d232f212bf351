"""Settings read from the environment (and an optional `.env` file).

A missing or malformed setting stops start-up with one line that names it
(see `load_settings`); secret values are never echoed back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from companion_bot.i18n import LANGUAGES

TELEGRAM_API_DEFAULT = "https://api.telegram.org"
_TOKEN_SHAPE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
# What Telegram accepts as a webhook secret token.
_WEBHOOK_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
DEFAULT_WEBHOOK_PATH = "/telegram"
# Meta's Graph API with the version the WhatsApp adapter was written against.
WHATSAPP_API_DEFAULT = "https://graph.facebook.com/v24.0"
# WhatsApp is configured when any of these is set; then all of them must be.
WHATSAPP_REQUIRED = (
    "WHATSAPP_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
)
# What Meta accepts as a template name.
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
# A template language code as Meta spells them: fr, en, en_GB, nl, pt_BR…
_TEMPLATE_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


@dataclass(frozen=True)
class WhatsAppConfig:
    """WhatsApp's settings once checked (`Settings.whatsapp`); the secrets never in a repr."""

    token: str = field(repr=False)
    phone_number_id: str
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    api_url: str
    messages_per_second: float
    # The template of each notice that may go outside the 24-hour window, by its purpose
    # (`companion_bot.whatsapp.templates.Purpose`), and the language code of each of our
    # languages they were submitted in.
    templates: dict[str, str]
    template_languages: dict[str, str]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    TELEGRAM_BOT_TOKEN: SecretStr | None = None
    TELEGRAM_API_URL: str = TELEGRAM_API_DEFAULT
    DATABASE_URL: str = "sqlite://data/companion.sqlite3"
    COMPANION_ADMINS: Annotated[frozenset[int], NoDecode] = Field(default_factory=frozenset)
    DEFAULT_LANGUAGE: str = "fr"
    DEFAULT_TIMEZONE: str = "Europe/Paris"
    # Signs button data; derived from the token when unset (see `callback_secret`).
    CALLBACK_SECRET: SecretStr | None = None
    # Telegram allows about 30 messages per second per bot; 0 turns pacing off (tests).
    TELEGRAM_RATE_LIMIT: float = Field(default=30.0, ge=0)
    # Seconds between two queued messages to one chat (Telegram allows about one per second,
    # with short bursts).
    TELEGRAM_CHAT_INTERVAL: float = Field(default=1.0, ge=0)
    # Webhook mode: how long a person's update waits for her earlier one still on its way
    # (Telegram posts in parallel, several processes receive), so hers go in order.
    INBOX_ORDER_WAIT: float = Field(default=1.0, ge=0, le=60)
    # Webhook mode (`run --webhook`, or this set): the public https URL Telegram posts to; its
    # path (default /telegram) is also the route the web server answers on.
    WEBHOOK_URL: str | None = None
    # Telegram sends it back in X-Telegram-Bot-Api-Secret-Token; derived from the token when
    # unset (see `webhook_secret`), so every process of one bot agrees without configuration.
    WEBHOOK_SECRET: SecretStr | None = None
    # Where the web server (webhook, /healthz, /metrics) listens, behind a reverse proxy.
    WEB_HOST: str = "127.0.0.1"
    WEB_PORT: int = 8080
    # How people reach that server from outside (https://board.example.org), for the links
    # the bot gives (the organizers' live board); unset: http://WEB_HOST:WEB_PORT.
    PUBLIC_URL: str | None = None
    # When set, /metrics and /healthz want "Authorization: Bearer <METRICS_TOKEN>".
    METRICS_TOKEN: SecretStr | None = None
    # WhatsApp (docs/whatsapp.md): off unless its four required settings are all set.
    WHATSAPP_TOKEN: SecretStr | None = None
    WHATSAPP_PHONE_NUMBER_ID: str | None = None
    WHATSAPP_APP_SECRET: SecretStr | None = None
    WHATSAPP_VERIFY_TOKEN: SecretStr | None = None
    WHATSAPP_API_URL: str = WHATSAPP_API_DEFAULT
    # The bot's WhatsApp number in international form, digits only (33612345678): the
    # attendees' wa.me link and its QR code. Without it, no WhatsApp link is shown.
    WHATSAPP_NUMBER: str | None = None
    # Meta allows 80 messages per second per number by default (more after an upgrade).
    WHATSAPP_MESSAGES_PER_SECOND: float = Field(default=80.0, gt=0)
    # The utility templates the organizers submitted to Meta (docs/whatsapp.md has their texts).
    WHATSAPP_TEMPLATE_WAVE_REMINDER: str = "wave_reminder"
    WHATSAPP_TEMPLATE_ARE_YOU_HOME: str = "are_you_home"
    WHATSAPP_TEMPLATE_ESCALATION: str = "escalation"
    WHATSAPP_TEMPLATE_MORNING_AFTER: str = "morning_after"
    WHATSAPP_TEMPLATE_GROUP_INTRODUCTION: str = "group_introduction"
    # The language codes they were submitted in, one per language of the bot (fr, en or en_GB…,
    # nl); someone whose language has none gets the first.
    WHATSAPP_TEMPLATE_LANGUAGES: str = "fr,en,nl"

    @field_validator("TELEGRAM_BOT_TOKEN")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not _TOKEN_SHAPE.match(value.get_secret_value().strip()):
            # Never repeat the value: it may be a real token with a typo.
            raise ValueError("does not look like a BotFather token (digits:letters)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("TELEGRAM_API_URL")
    @classmethod
    def _api_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("postgresql://"):
            value = "postgres://" + value.removeprefix("postgresql://")
        if not re.match(r"^(sqlite|postgres|asyncpg|psycopg)://.+", value):
            raise ValueError("must start with sqlite:// or postgres://")
        return value

    @field_validator("COMPANION_ADMINS", mode="before")
    @classmethod
    def _admins(cls, value: object) -> frozenset[int]:
        if value is None or value == "":
            return frozenset()
        if isinstance(value, str):
            items = [item.strip() for item in value.split(",") if item.strip()]
        elif isinstance(value, (list, tuple, set, frozenset)):
            items = [str(item).strip() for item in value]
        else:
            raise ValueError("must be comma-separated Telegram user ids")
        if not all(re.fullmatch(r"\d+", item) for item in items):
            raise ValueError("must be comma-separated Telegram user ids (digits only)")
        return frozenset(int(item) for item in items)

    @field_validator("DEFAULT_LANGUAGE")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("DEFAULT_TIMEZONE")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known time zone such as Europe/Paris") from exc
        return value.strip()

    @field_validator("WEBHOOK_URL")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be a public https URL such as https://bot.example.org/telegram")
        if parts.port not in (None, 443, 80, 88, 8443):
            raise ValueError("must use port 443, 80, 88 or 8443 (the ones Telegram posts to)")
        path = parts.path.rstrip("/") or DEFAULT_WEBHOOK_PATH
        return urlunsplit(("https", parts.netloc, path, "", ""))

    @field_validator("WEBHOOK_SECRET")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not _WEBHOOK_SECRET_SHAPE.match(value.get_secret_value().strip()):
            raise ValueError("must be 1 to 256 characters among A-Z, a-z, 0-9, _ and -")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("PUBLIC_URL")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError("must be an http(s) URL such as https://board.example.org")
        return value.strip().rstrip("/")

    @field_validator("WEB_HOST")
    @classmethod
    def _web_host(cls, value: str) -> str:
        if not value.strip() or any(char.isspace() for char in value.strip()):
            raise ValueError("must be an address to listen on, such as 127.0.0.1 or 0.0.0.0")
        return value.strip()

    @field_validator("WEB_PORT", mode="before")
    @classmethod
    def _web_port(cls, value: object) -> int:
        text = str(value).strip()
        if not text.isdigit() or int(text) > 65535:
            raise ValueError("must be a port number from 0 (any free port) to 65535")
        return int(text)

    @field_validator("WHATSAPP_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")
    @classmethod
    def _whatsapp_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        text = value.get_secret_value().strip()
        if len(text) < 8 or any(char.isspace() or not char.isprintable() for char in text):
            # Never repeat the value: it may be a real secret with a typo.
            raise ValueError("must be at least 8 characters, without spaces")
        return SecretStr(text)

    @field_validator("WHATSAPP_PHONE_NUMBER_ID")
    @classmethod
    def _phone_number_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().isdigit():
            raise ValueError(
                "must be the phone number ID Meta shows (digits), not the phone number itself"
            )
        return value.strip()

    @field_validator("WHATSAPP_NUMBER")
    @classmethod
    def _whatsapp_number(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        digits = re.sub(r"[\s.+-]", "", value)
        if not re.fullmatch(r"[1-9]\d{7,14}", digits):
            raise ValueError("must be the number in international form, digits only (33612345678)")
        return digits

    @field_validator("WHATSAPP_API_URL")
    @classmethod
    def _whatsapp_api_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+/v\d+\.\d+$", value):
            raise ValueError(
                f"must be the Graph API URL with its version, such as {WHATSAPP_API_DEFAULT}"
            )
        return value

    @field_validator(
        "WHATSAPP_TEMPLATE_WAVE_REMINDER",
        "WHATSAPP_TEMPLATE_ARE_YOU_HOME",
        "WHATSAPP_TEMPLATE_ESCALATION",
        "WHATSAPP_TEMPLATE_MORNING_AFTER",
        "WHATSAPP_TEMPLATE_GROUP_INTRODUCTION",
    )
    @classmethod
    def _template_name(cls, value: str) -> str:
        if not _TEMPLATE_NAME.match(value.strip()):
            raise ValueError("must be a template name: lowercase letters, digits and _")
        return value.strip()

    @field_validator("WHATSAPP_TEMPLATE_LANGUAGES")
    @classmethod
    def _template_languages(cls, value: str) -> str:
        codes = [code.strip() for code in value.split(",") if code.strip()]
        if not codes or not all(_TEMPLATE_LANGUAGE.match(code) for code in codes):
            raise ValueError("must be comma-separated language codes such as fr,en_GB,nl")
        ours = [code.split("_", 1)[0] for code in codes]
        if any(language not in LANGUAGES for language in ours) or len(set(ours)) != len(ours):
            raise ValueError(f"must name each of {', '.join(LANGUAGES)} at most once")
        return ",".join(codes)

    @model_validator(mode="after")
    def _whatsapp_complete(self) -> Settings:
        given = [name for name in WHATSAPP_REQUIRED if getattr(self, name) is not None]
        if given and len(given) < len(WHATSAPP_REQUIRED):
            missing = next(name for name in WHATSAPP_REQUIRED if name not in given)
            raise ValueError(
                f"setting {missing} is not set: WhatsApp needs {', '.join(WHATSAPP_REQUIRED)} "
                "together (or none of them for Telegram alone); see docs/whatsapp.md"
            )
        return self

    # -- derived values -------------------------------------------------------------------

    @property
    def whatsapp(self) -> WhatsAppConfig | None:
        """WhatsApp's settings, or None when it is not configured (Telegram alone)."""
        if self.WHATSAPP_TOKEN is None:
            return None
        assert self.WHATSAPP_APP_SECRET and self.WHATSAPP_VERIFY_TOKEN  # _whatsapp_complete
        assert self.WHATSAPP_PHONE_NUMBER_ID
        codes = self.WHATSAPP_TEMPLATE_LANGUAGES.split(",")
        return WhatsAppConfig(
            token=self.WHATSAPP_TOKEN.get_secret_value(),
            phone_number_id=self.WHATSAPP_PHONE_NUMBER_ID,
            app_secret=self.WHATSAPP_APP_SECRET.get_secret_value(),
            verify_token=self.WHATSAPP_VERIFY_TOKEN.get_secret_value(),
            api_url=self.WHATSAPP_API_URL,
            messages_per_second=self.WHATSAPP_MESSAGES_PER_SECOND,
            templates={
                "wave_reminder": self.WHATSAPP_TEMPLATE_WAVE_REMINDER,
                "are_you_home": self.WHATSAPP_TEMPLATE_ARE_YOU_HOME,
                "escalation": self.WHATSAPP_TEMPLATE_ESCALATION,
                "morning_after": self.WHATSAPP_TEMPLATE_MORNING_AFTER,
                "group_introduction": self.WHATSAPP_TEMPLATE_GROUP_INTRODUCTION,
            },
            template_languages={code.split("_", 1)[0]: code for code in codes},
        )

    @property
    def bot_base_url(self) -> str:
        return f"{self.TELEGRAM_API_URL}/bot"

    @property
    def bot_base_file_url(self) -> str:
        return f"{self.TELEGRAM_API_URL}/file/bot"

    @property
    def token(self) -> str:
        if self.TELEGRAM_BOT_TOKEN is None:
            team = (
                " (WhatsApp is for attendees; the volunteers and organizers who answer them "
                "use Telegram: docs/whatsapp.md)"
                if self.WHATSAPP_TOKEN is not None
                else ""
            )
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and put its token "
                f"in TELEGRAM_BOT_TOKEN (environment or .env){team}"
            )
        return self.TELEGRAM_BOT_TOKEN.get_secret_value()

    @property
    def callback_secret(self) -> bytes:
        """Key for signed button data: stable across restarts, never shown to anyone."""
        if self.CALLBACK_SECRET is not None:
            return self.CALLBACK_SECRET.get_secret_value().encode()
        # WhatsApp alone: from its app secret (the Telegram token's derivation is unchanged).
        secret = self.TELEGRAM_BOT_TOKEN or self.WHATSAPP_APP_SECRET
        token = secret.get_secret_value() if secret else ""
        return hashlib.sha256(f"compagnonnes-callbacks|{token}".encode()).digest()

    @property
    def webhook_url(self) -> str:
        if self.WEBHOOK_URL is None:
            raise SettingsError(
                "WEBHOOK_URL is not set: webhook mode needs the public https URL Telegram "
                "posts to, e.g. https://bot.example.org/telegram (environment or .env)"
            )
        return self.WEBHOOK_URL

    @property
    def webhook_path(self) -> str:
        """The route Telegram's posts arrive on (the path of WEBHOOK_URL)."""
        return urlsplit(self.WEBHOOK_URL).path if self.WEBHOOK_URL else DEFAULT_WEBHOOK_PATH

    @property
    def webhook_secret(self) -> str:
        """What Telegram must send in X-Telegram-Bot-Api-Secret-Token: stable across restarts
        and processes, never shown to anyone."""
        if self.WEBHOOK_SECRET is not None:
            return self.WEBHOOK_SECRET.get_secret_value()
        token = self.TELEGRAM_BOT_TOKEN.get_secret_value() if self.TELEGRAM_BOT_TOKEN else ""
        return hashlib.sha256(f"compagnonnes-webhook|{token}".encode()).hexdigest()

    @property
    def shared_database(self) -> bool:
        """PostgreSQL: several bot processes may share it (SQLite is one process)."""
        return not self.DATABASE_URL.startswith("sqlite://")

    def sqlite_directory(self) -> Path | None:
        """The folder a SQLite database file lives in, to create it before first use."""
        if not self.DATABASE_URL.startswith("sqlite://"):
            return None
        path = self.DATABASE_URL.removeprefix("sqlite://").split("?", 1)[0]
        if path in ("", ":memory:"):
            return None
        return Path(path).parent


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a rule across settings: its message names the setting
            raise SettingsError(reason) from None
        name = ".".join(str(part) for part in first["loc"])
        raise SettingsError(f"setting {name} {reason}") from None
