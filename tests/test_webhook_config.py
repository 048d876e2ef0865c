"""The `webhooks:` section checked: each problem one located line, from `check-config` and from
`serve` (run as the operator runs them: the console script in a subprocess, a clean environment)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.errors import RoutingError
from bot.config.loading import parse_routing
from tests.harness import ROUTING_FILE
from tests.test_misconfiguration import run

GOOD_SECRET = "s" * 32


def routing_text(webhooks: str) -> str:
    return ROUTING_FILE.read_text(encoding="utf-8") + "\nwebhooks:\n" + webhooks


def write(tmp_path: Path, webhooks: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(routing_text(webhooks), encoding="utf-8")
    return path


def problems(webhooks: str) -> list[str]:
    with pytest.raises(RoutingError) as raised:
        parse_routing(routing_text(webhooks), "routing.yaml")
    return raised.value.problems


def test_every_problem_of_the_section_is_named_by_its_place() -> None:
    assert problems(
        "  - url: hooks.example.com/x\n"
        "    events: [case.opened, case.resolve, case.sla_breach]\n"
        "    systems: [support-asistant]\n"
        "    secret_env: my secret value\n"
        "  - url: https://hooks.example.com/a\n"
        "    events: [all, case.opened]\n"
        "  - url: https://hooks.example.com/a\n"
        "    secret_env: HOOK_SECRET\n"
        "    sytems: all\n"
    ) == [
        "webhooks[0].url: 'hooks.example.com/x' is not an http(s) URL such as "
        "https://hooks.example.com/x",
        "webhooks[0].events[1]: unknown event 'case.resolve' (did you mean 'case.resolved'?); "
        "use all or any of case.opened, case.acknowledged, case.reassigned, case.needs_info, "
        "case.resolved, case.wont_fix, case.duplicate, case.reopened, case.escalated, "
        "case.sla_breached, digest.posted",
        "webhooks[0].events[2]: unknown event 'case.sla_breach' (did you mean "
        "'case.sla_breached'?); use all or any of case.opened, case.acknowledged, "
        "case.reassigned, case.needs_info, case.resolved, case.wont_fix, case.duplicate, "
        "case.reopened, case.escalated, case.sla_breached, digest.posted",
        "webhooks[0].systems[0]: unknown system 'support-asistant' (did you mean "
        "'support-assistant'?)",
        "webhooks[0].secret_env: 'my secret value' is not an environment variable name: name "
        "the variable that holds the secret (e.g. LOOPKEEPER_WEBHOOK_SECRET), not the secret "
        "itself",
        "webhooks[1].events: all stands alone: list names, or all",
        "webhooks[1].secret_env: required",
        "webhooks[2].url: the same URL as webhooks[1]: merge them",
        "webhooks[2].sytems: unknown key 'sytems' (did you mean 'systems'?)",
    ]


def test_a_url_with_credentials_is_refused_they_belong_in_the_secret() -> None:
    assert problems("  - {url: 'https://me:pw@hooks.example.com/', secret_env: S}\n") == [
        "webhooks[0].url: must not carry a user or password: put the secret in secret_env"
    ]


def test_all_and_single_names_are_accepted() -> None:
    routing = parse_routing(
        routing_text(
            "  - {url: 'https://a.example.com/', events: all, secret_env: A}\n"
            "  - {url: 'https://b.example.com/', events: case.opened, systems: code-helper,"
            " secret_env: B}\n"
        ),
        "routing.yaml",
    )
    first, second = routing.webhooks
    assert first.wants("digest.posted", None) and first.wants("case.opened", ["code-helper"])
    assert second.wants("case.opened", ["code-helper"])
    assert not second.wants("case.opened", ["support-assistant"])
    assert not second.wants("case.resolved", ["code-helper"])


def test_check_config_refuses_plain_http_to_another_machine(tmp_path: Path) -> None:
    path = write(tmp_path, "  - {url: 'http://hooks.example.com/x', secret_env: HOOK_SECRET}\n")
    ran = run(tmp_path, "check-config", str(path), HOOK_SECRET=GOOD_SECRET)
    assert ran.code == 1, ran.stderr
    assert (
        "webhooks[0].url: plain http is only allowed to this machine (localhost); use https"
        in ran.stderr
    )


def test_check_config_allows_http_to_localhost_in_development_only_and_warns_of_a_secret(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "  - {url: 'http://127.0.0.1:9000/hook', secret_env: HOOK_SECRET}\n")
    ran = run(tmp_path, "check-config", str(path))
    assert ran.code == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert (
        "webhooks[0].secret_env: HOOK_SECRET is not set: set it to the secret the receiver "
        "verifies signatures with (serve will refuse to start until it is)"
    ) in " ".join(ran.stderr.split())

    ran = run(tmp_path, "check-config", str(path), LOOPKEEPER_ENV="production")
    assert ran.code == 1
    assert "webhooks[0].url: must use https in production" in ran.stderr


def test_serve_refuses_to_start_without_the_secret(tmp_path: Path) -> None:
    path = write(tmp_path, "  - {url: 'https://hooks.example.com/x', secret_env: HOOK_SECRET}\n")
    line = run(tmp_path, "serve", "--port", "1", LOOPKEEPER_CONFIG=str(path)).refusal()
    assert line == (
        "Refusing to start in development mode: webhooks[0].secret_env: HOOK_SECRET is not "
        "set: set it to the secret the receiver verifies signatures with."
    )


def test_serve_reads_the_secret_from_the_env_file_too(tmp_path: Path) -> None:
    path = write(tmp_path, "  - {url: 'https://hooks.example.com/x', secret_env: HOOK_SECRET}\n")
    (tmp_path / ".env").write_text("HOOK_SECRET=short\n", encoding="utf-8")
    line = run(
        tmp_path,
        "serve",
        "--port",
        "1",
        LOOPKEEPER_CONFIG=str(path),
        LOOPKEEPER_ENV="production",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="signing",
        LOOPKEEPER_TEAMS="off",
    ).refusal()
    assert line == (
        "Refusing to start in production mode: webhooks[0].secret_env: HOOK_SECRET must be at "
        "least 24 characters in production."
    )
