"""The process's logging: level and format from the settings, context on every line, and no
secret in any line, whoever logs it (our code, aiohttp, slack_sdk, SQLAlchemy, botbuilder).

Composition-root code, imported only by the command line: the JSON formatter comes from
python-json-logger. It is a plain `logging.Formatter`, so every library's records go through
the one handler installed here without wrapping their loggers (structlog would need its own
processor chain in front of the standard library's records to do the same).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pythonjsonlogger.json import JsonFormatter

from bot.config.settings import Settings
from bot.core.log_context import FIELDS, current

if TYPE_CHECKING:
    from rich.console import Console

REDACTED = "[REDACTED]"
MIN_SECRET = 4
"""A shorter value cannot be told from ordinary text; redacting it would garble every line."""

# Slack tokens (bot, user, app-level, refresh) and any bearer credential, whoever's they are:
# a token that is not ours (a user's, pasted into a payload) is just as secret.
_TOKEN_SHAPES = re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]+")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}")

# "Job executed" every tick: at every level, as our own lines say what the ticks did.
_TICKER = "apscheduler"
# "Running upgrade …" at every start: shown at DEBUG only.
_MIGRATIONS = "alembic"
# Two lines per SQL call at DEBUG, with nothing an operator can use.
_CHATTY_AT_DEBUG = ("aiosqlite",)
# SQLAlchemy keeps itself at WARNING unless told; at DEBUG it shows each statement and its
# parameters (INFO; its DEBUG adds every row read, which is the whole database).
_SQL = "sqlalchemy.engine"


class Redactor:
    """Replaces secret values, Slack-token-shaped strings and bearer tokens in text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also redact these: secrets known only later (the webhooks' of the routing file)."""
        known = {*self._secrets, *(s for s in secrets if len(s) >= MIN_SECRET)}
        self._secrets = sorted(known, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _TOKEN_SHAPES.sub(REDACTED, text)
        return _BEARER.sub(rf"\1\2{REDACTED}", text)


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, as it could appear in a log line."""
    found = [
        secret.get_secret_value()
        for secret in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.microsoft_app_password,
            settings.ingest_token,
        )
        if secret is not None
    ]
    password = _url_password(settings.database_url)
    if password:  # as written in the URL (percent-encoded) and as sent to the server
        found += [password, unquote(password)]
    return found


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # an unparseable URL: SQLAlchemy refuses it, it is never logged whole
        return None


class ContextFilter(logging.Filter):
    """Puts the bound log context (bot/core/log_context.py) on each record, as it is where the
    record was made: a handler formats in the same task, but the context is read here."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


def _utc_iso(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class TextLines(logging.Formatter):
    """`time LEVEL logger: message [case=… platform=…]`, for people reading a terminal."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redact

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _utc_iso(record.created)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}" for name in FIELDS if hasattr(record, name)
        )
        if context:
            head, newline, rest = line.partition("\n")  # after the message, before a traceback
            line = f"{head} [{context}]{newline}{rest}"
        return self._redact(line)


class JsonLines(JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context, and for an
    exception its type and its traceback folded into one string (`exc`)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exc"},
            timestamp="time",
            # ASCII only: a lone surrogate from a hostile header, or a stream that is not
            # UTF-8, can never make a line fail to be written.
            json_ensure_ascii=True,
        )
        self._redact = redact

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["time"] = _utc_iso(record.created)
        if record.exc_info and record.exc_info[0] is not None:
            log_data["exc_type"] = record.exc_info[0].__name__

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        first = ("time", "level", "logger", "message", *FIELDS, "exc_type", "exc")
        ordered = {key: log_data[key] for key in first if key in log_data}
        ordered.update(log_data)
        return {key: self._redacted(value) for key, value in ordered.items()}

    def _redacted(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {str(k): self._redacted(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._redacted(v) for v in value]
        # Anything else is written as text: redact that text, not the object's later str().
        return self._redact(value if isinstance(value, str) else str(value))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is written (a test runner may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


_INSTALLED = "_loopkeeper_handler"
_REDACTOR = "_loopkeeper_redactor"


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install the one root handler (replacing one installed before) at the configured level
    and format; returns it. `stream` defaults to stderr."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _INSTALLED, False)]:
        root.removeHandler(old)
    handler: logging.Handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    setattr(handler, _INSTALLED, True)
    handler.addFilter(ContextFilter())
    redact = Redactor(secret_values(settings))
    setattr(handler, _REDACTOR, redact)
    handler.setFormatter(JsonLines(redact) if settings.log_format == "json" else TextLines(redact))
    root.addHandler(handler)
    level = logging.getLevelName(settings.log_level)
    root.setLevel(level)
    debug = level <= logging.DEBUG
    logging.getLogger(_TICKER).setLevel(logging.WARNING)
    logging.getLogger(_MIGRATIONS).setLevel(logging.NOTSET if debug else logging.WARNING)
    logging.getLogger(_SQL).setLevel(logging.INFO if debug else logging.NOTSET)
    for name in _CHATTY_AT_DEBUG:
        logging.getLogger(name).setLevel(logging.INFO)
    # A library's warning would otherwise be printed as text, breaking a JSON log.
    logging.captureWarnings(True)
    return handler


def redact_also(secrets: Iterable[str]) -> None:
    """Add secrets to what the installed handler redacts (none installed: nothing to do)."""
    wanted = list(secrets)
    for handler in logging.getLogger().handlers:
        redact = getattr(handler, _REDACTOR, None)
        if isinstance(redact, Redactor):
            redact.add(wanted)


class _LogLines:
    """A text stream whose every line becomes an INFO record of `logger`."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._logger.info("%s", line)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def console_to_log(console: Console, logger_name: str = "loopkeeper") -> None:
    """Send what `console` prints (the start-up announcements) to the log instead, so that
    in JSON mode every line the process writes is one JSON object."""
    console.file = _LogLines(logging.getLogger(logger_name))  # type: ignore[assignment]
