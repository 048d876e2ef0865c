"""A webhook's signing secret is redacted from the log like Slack's and Teams' secrets are,
in both log formats, once `serve` has read the routing file that names its variable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app.cli_webhooks import redact_webhook_secrets
from bot.config.loading import load_routing
from tests.harness import ROUTING_FILE
from tests.test_logs import captured, logging_settings

HOOK_SECRET = "canary-webhook-secret-Rt58kWq"
OTHER_SECRET = "canary-second-hook-Pz03"


def _routing(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(
        ROUTING_FILE.read_text(encoding="utf-8")
        + "\nwebhooks:\n"
        + "  - url: https://hooks.example.com/loopkeeper\n"
        + "    secret_env: CANARY_HOOK_SECRET\n"
        + "  - url: https://audit.example.com/in\n"
        + "    secret_env: CANARY_AUDIT_SECRET\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_line_holding_a_webhook_secret_is_written_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_format: str
) -> None:
    monkeypatch.setenv("CANARY_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("CANARY_AUDIT_SECRET", OTHER_SECRET)
    routing = load_routing(_routing(tmp_path))

    with captured(logging_settings(log_format=log_format)) as logs:
        redact_webhook_secrets(routing, env_file=None)
        logging.getLogger("some.library").warning(
            "signing with %s, then %s", HOOK_SECRET, {"secret": OTHER_SECRET}
        )

    written = logs.stream.getvalue()
    assert "signing with" in written
    assert HOOK_SECRET not in written
    assert OTHER_SECRET not in written
    assert written.count("[REDACTED]") == 2
