"""Settings from the environment (and a `.env` file), named as README → Configuration lists them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./loopkeeper.db"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    # An empty variable means unset: `SLACK_BOT_TOKEN=` in an .env template turns Slack off.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=_env("LOOPKEEPER_DATABASE_URL")
    )
    config_path: Path = Field(Path("./routing.yaml"), validation_alias=_env("LOOPKEEPER_CONFIG"))
    host: str = Field("127.0.0.1", validation_alias=_env("LOOPKEEPER_HOST"))
    port: int = Field(3000, ge=0, le=65535, validation_alias=_env("LOOPKEEPER_PORT"))
    env: Literal["development", "production"] = Field(
        "development", validation_alias=_env("LOOPKEEPER_ENV")
    )
    ingest_token: SecretStr | None = Field(None, validation_alias=_env("LOOPKEEPER_INGEST_TOKEN"))
    public_url: str | None = Field(
        None,
        validation_alias=_env("LOOPKEEPER_PUBLIC_URL"),
        description="the bot's public base URL, e.g. https://loopkeeper.example.com (Teams "
        "digest cards load their chart from <url>/charts/…)",
    )
    tick_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        validation_alias=_env("LOOPKEEPER_TICK_SECONDS"),
        description="how often each process looks for due timers and undelivered messages",
    )
    dead_letter_days: int = Field(
        30,
        ge=1,
        le=3650,
        validation_alias=_env("LOOPKEEPER_DEAD_LETTER_DAYS"),
        description="how long dead-lettered outbox messages and inbox items are kept (for "
        "`loopkeeper outbox retry`) before they are deleted",
    )

    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field("https://slack.com/api/", validation_alias=_env("SLACK_API_URL"))

    teams: Literal["on", "off"] = Field(
        "on",
        validation_alias=_env("LOOPKEEPER_TEAMS"),
        description="serve Teams at POST /api/messages (off: no Teams endpoint at all)",
    )
    microsoft_app_id: str | None = Field(None, validation_alias=_env("MICROSOFT_APP_ID"))
    microsoft_app_password: SecretStr | None = Field(
        None, validation_alias=_env("MICROSOFT_APP_PASSWORD")
    )
    microsoft_app_type: str | None = Field(None, validation_alias=_env("MICROSOFT_APP_TYPE"))
    microsoft_app_tenant_id: str | None = Field(
        None, validation_alias=_env("MICROSOFT_APP_TENANT_ID")
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO",
        validation_alias=_env("LOOPKEEPER_LOG_LEVEL"),
        description="least severe level logged",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        validation_alias=_env("LOOPKEEPER_LOG_FORMAT"),
        description="text for people; json: one object per line, for a log collector",
    )
    access_log: Literal["on", "off"] = Field(
        "off",
        validation_alias=_env("LOOPKEEPER_ACCESS_LOG"),
        description="one log line per HTTP request",
    )

    sqlite_fast: Literal["on", "off"] = Field(
        "on",
        validation_alias=_env("LOOPKEEPER_SQLITE_FAST"),
        description="SQLite's fast paths (statements run on the event loop, prebuilt SQL run "
        "straight on the driver, group commit); off: SQLite through plain SQLAlchemy and "
        "aiosqlite. Ignored on PostgreSQL",
    )

    pacing: Literal["on", "off"] = Field(
        "on",
        validation_alias=_env("LOOPKEEPER_PACING"),
        description="send to each Slack channel and Teams conversation at the platform's rate "
        "(budgets shared by replicas through the database); off: as fast as possible, for "
        "benchmarks against a fake without limits",
    )

    @property
    def sqlite_fast_paths(self) -> bool:
        """Whether engines made from these settings take SQLite's fast paths."""
        return self.sqlite_fast == "on"

    @field_validator(
        "log_level", "log_format", "access_log", "sqlite_fast", "pacing", mode="before"
    )
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        """`debug` means DEBUG and `JSON` json; empty (an `.env` template) means the default."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return cls.model_fields[str(info.field_name)].default
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.strip().rstrip("/") if value is not None else None

    @property
    def slack_http_enabled(self) -> bool:
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def slack_socket_mode(self) -> bool:
        return self.slack_bot_token is not None and self.slack_app_token is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_http_enabled or self.slack_socket_mode

    @property
    def teams_enabled(self) -> bool:
        return self.teams == "on"

    @property
    def teams_emulator_mode(self) -> bool:
        """Teams on without credentials: unauthenticated, loopback-only (local emulator)."""
        return self.teams_enabled and not self.microsoft_app_id

    def problems(self) -> list[str]:
        """Settings that cannot work together; in production also every insecure mode."""
        found: list[str] = []
        if self.slack_bot_token and not (self.slack_signing_secret or self.slack_app_token):
            found.append(
                "SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP) nor "
                "SLACK_APP_TOKEN (Socket Mode) is: Slack cannot reach the bot"
            )
        if (self.slack_signing_secret or self.slack_app_token) and not self.slack_bot_token:
            found.append("SLACK_SIGNING_SECRET/SLACK_APP_TOKEN set without SLACK_BOT_TOKEN")
        app_token = self.slack_app_token.get_secret_value() if self.slack_app_token else ""
        if app_token and not app_token.startswith("xapp-"):
            found.append("SLACK_APP_TOKEN must be an app-level token starting with 'xapp-'")
        if self.teams_enabled and self.microsoft_app_id:
            found.extend(self._teams_credential_problems())
        if self.public_url is not None and not _is_base_url(self.public_url):
            found.append(
                "LOOPKEEPER_PUBLIC_URL must be the bot's base URL, like "
                "https://loopkeeper.example.com (http or https, a host, no query)"
            )
        if self.env == "production":
            found.extend(self._insecure_in_production())
        return found

    def _insecure_in_production(self) -> list[str]:
        found: list[str] = []
        if not self.slack_api_url.startswith("https://"):
            found.append("SLACK_API_URL must use https in production")
        if self.public_url is not None and not self.public_url.startswith("https://"):
            found.append("LOOPKEEPER_PUBLIC_URL must use https in production")
        token = self.ingest_token.get_secret_value() if self.ingest_token else None
        if token is not None and len(token) < 24:
            found.append("LOOPKEEPER_INGEST_TOKEN must be at least 24 characters in production")
        if not self.slack_enabled and not self.teams_enabled:
            found.append(
                "neither Slack nor Teams is on, so the bot would do nothing: set SLACK_BOT_TOKEN "
                "with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN, or MICROSOFT_APP_ID and "
                "MICROSOFT_APP_PASSWORD with LOOPKEEPER_TEAMS=on"
            )
        if self.teams_emulator_mode:
            found.append(
                "Teams would run unauthenticated (local emulator mode: MICROSOFT_APP_ID is not "
                "set): set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD, or turn Teams off with "
                "LOOPKEEPER_TEAMS=off"
            )
        return found

    def _teams_credential_problems(self) -> list[str]:
        found: list[str] = []
        app_type = (self.microsoft_app_type or "MultiTenant").lower()
        if app_type not in ("multitenant", "singletenant", "userassignedmsi"):
            found.append("MICROSOFT_APP_TYPE must be MultiTenant, SingleTenant or UserAssignedMSI")
        if app_type != "userassignedmsi" and not self.microsoft_app_password:
            found.append("MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not")
        if app_type in ("singletenant", "userassignedmsi") and not self.microsoft_app_tenant_id:
            found.append(
                f"MICROSOFT_APP_TYPE={self.microsoft_app_type} needs MICROSOFT_APP_TENANT_ID"
            )
        return found


def _is_base_url(url: str) -> bool:
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.query or parts.fragment or parts.username or parts.password)
        and url.isprintable()
        and " " not in url
    )
