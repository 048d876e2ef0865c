"""The container image, the compose file and the Helm chart, checked without Docker or helm.

Neither runs on the build machines (.ci/run lints the Dockerfile with hadolint); these read
the files and hold them to what an operator relies on: a non-root image that checks its own
health, a database the bot waits for, and a chart that sets only variables the bot reads and
takes every credential from a Secret. Each check is also shown failing on a broken copy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config.settings import Settings
from tests.deploy_checks import (
    container_env,
    credential_variables,
    dockerfile_problems,
    env_problems,
    known_variables,
    render_free,
    schema_problems,
    settings_variables,
)

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose"
CHART = ROOT / "deploy" / "helm" / "loopkeeper"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a dotenv file (comments and blank lines skipped)."""
    pairs = {}
    for line in read(path).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            pairs[key.strip()] = value.strip()
    return pairs


def compose() -> dict[str, Any]:
    document = yaml.safe_load(read(COMPOSE / "compose.yaml"))
    assert isinstance(document, dict)
    return document


def templates() -> dict[str, list[dict[str, Any]]]:
    """Every chart template as YAML documents, with every conditional branch kept."""
    found = {}
    for path in sorted((CHART / "templates").glob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(render_free(read(path))) if d]
        found[path.name] = documents
    return found


def of_kind(kind: str) -> dict[str, Any]:
    matches = [d for docs in templates().values() for d in docs if d.get("kind") == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


# --- the image ---


def test_the_dockerfile_builds_a_slim_non_root_image_that_checks_healthz() -> None:
    assert dockerfile_problems(read(DOCKERFILE)) == []


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (lambda t: t.replace("USER 10001:10001", "USER root"), "runs as root"),
        (lambda t: re.sub(r"(?m)^USER .*$", "", t), "runs as root"),
        (lambda t: t.replace("/healthz", "/"), "does not ask /healthz"),
        (lambda t: re.sub(r"(?ms)^HEALTHCHECK.*?\]\n", "", t), "no HEALTHCHECK"),
        (
            lambda t: t.replace(
                "COPY --from=builder /opt/venv /opt/venv",
                "RUN apt-get install -y --no-install-recommends gcc libpq-dev",
            ),
            "installs a build tool",
        ),
        (lambda t: t.replace("AS builder", "").split("# --- final")[0], "one stage"),
        (lambda t: t.replace("python:3.11-slim-bookworm", "python:3.12"), "not a slim"),
        (lambda t: t.replace('".[themes,postgres]"', '".[themes]"'), "postgres extra"),
        (lambda t: t.replace('".[themes,postgres]"', '".[postgres]"'), "themes extra"),
        (lambda t: t.replace("EXPOSE 3000", "EXPOSE 8080"), "3000"),
        (lambda t: t.replace("ENV PATH=", "ENV LOOPKEEPER_DEBUG=1 PATH="), "not a setting"),
    ],
)
def test_a_broken_dockerfile_is_caught(breakage: Any, named: str) -> None:
    problems = dockerfile_problems(breakage(read(DOCKERFILE)))
    assert any(named in problem for problem in problems), problems


def test_the_build_context_keeps_secrets_and_databases_out_but_the_sources_in() -> None:
    ignored = {line.strip() for line in read(ROOT / ".dockerignore").splitlines()}
    assert {".git", ".venv", "*.db", ".env", ".pytest_cache", ".mypy_cache"} <= ignored
    copied = re.findall(r"(?m)^COPY (?!--from)(.+) \S+$", read(DOCKERFILE))
    sources = {word for line in copied for word in line.split()}
    assert {"pyproject.toml", "README.md", "bot", "storage"} <= sources
    assert not sources & ignored, "the builder copies a path the build context leaves out"


# --- compose ---


def test_compose_starts_the_bot_once_postgres_is_healthy() -> None:
    services = compose()["services"]
    bot, db = services["bot"], services["db"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["image"].startswith("postgres:")
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"], "the database is not on a named volume"
    assert (COMPOSE / bot["build"]["context"] / bot["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert bot["env_file"] == ".env"
    assert "./routing.yaml:/config/routing.yaml:ro" in bot["volumes"]
    assert "3000:3000" in bot["ports"]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])


def test_compose_sets_only_variables_the_bot_reads() -> None:
    bot = compose()["services"]["bot"]
    environment = bot.get("environment") or {}
    names = environment if isinstance(environment, dict) else [e.split("=")[0] for e in environment]
    assert set(names) <= known_variables()


def test_the_env_template_lists_exactly_the_settings() -> None:
    template = env_file(COMPOSE / ".env.example")
    assert set(template) - known_variables() == set(), "variables the bot does not read"
    assert settings_variables() - set(template) == set(), "settings the template leaves out"


def test_the_env_template_loads_as_the_bots_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in known_variables():
        monkeypatch.delenv(name, raising=False)
    template = env_file(COMPOSE / ".env.example")
    settings = Settings(_env_file=COMPOSE / ".env.example")
    assert settings.env == "production"
    assert settings.database_url == template["LOOPKEEPER_DATABASE_URL"]
    assert str(settings.config_path) == "/config/routing.yaml"
    assert (settings.host, settings.port, settings.teams) == ("0.0.0.0", 3000, "off")


def test_the_env_template_holds_no_credential() -> None:
    template = env_file(COMPOSE / ".env.example")
    for name in credential_variables() - {"LOOPKEEPER_DATABASE_URL"}:
        assert template[name] == "", f"{name} has a value in the template"
    # The URL names the compose database and a placeholder where its password goes.
    url = re.fullmatch(
        r"postgresql\+asyncpg://(\w+):PASSWORD@(\w+):5432/(\w+)",
        template["LOOPKEEPER_DATABASE_URL"],
    )
    assert url, template["LOOPKEEPER_DATABASE_URL"]
    database = env_file(COMPOSE / "db.env.example")
    assert (url[1], url[3]) == (database["POSTGRES_USER"], database["POSTGRES_DB"])
    assert url[2] in compose()["services"]
    assert database["POSTGRES_PASSWORD"] == "", "a password shipped in the template"


# --- the Helm chart ---


def test_the_chart_and_its_values_parse() -> None:
    chart = yaml.safe_load(read(CHART / "Chart.yaml"))
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "loopkeeper"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert isinstance(yaml.safe_load(read(CHART / "values.yaml")), dict)


def test_the_values_validate_against_the_schema() -> None:
    schema = json.loads(read(CHART / "values.schema.json"))
    assert schema_problems(yaml.safe_load(read(CHART / "values.yaml")), schema) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda v: v.update(replicaCount="two"), "replicaCount"),
        (lambda v: v["securityContext"].update(readOnlyRootFilesystem=False), "readOnlyRoot"),
        (lambda v: v["podSecurityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
        (lambda v: v["secretKeys"].pop("slackBotToken"), "slackBotToken: missing"),
        (lambda v: v.update(slackBotToken="xoxb-literal"), "slackBotToken: not allowed"),
        (lambda v: v.update(port=70000), "port"),
    ],
)
def test_values_that_break_the_schema_are_refused(change: Any, named: str) -> None:
    schema = json.loads(read(CHART / "values.schema.json"))
    values = yaml.safe_load(read(CHART / "values.yaml"))
    change(values)
    problems = schema_problems(values, schema)
    assert any(named in problem for problem in problems), problems


def test_the_chart_sets_only_settings_and_takes_every_credential_from_a_secret() -> None:
    deployment, job = of_kind("Deployment"), of_kind("Job")
    assert env_problems(container_env(deployment)) == []
    assert env_problems(container_env(job)) == []
    # Every credential the bot knows can be given to it.
    assert {e["name"] for e in container_env(deployment)} >= credential_variables()


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"name": "SLACK_BOT_TOKEN", "value": "xoxb-1"}, "not read from a secretKeyRef"),
        (
            {"name": "LOOPKEEPER_DATABASE_URL", "value": "postgresql+asyncpg://u:p@h/d"},
            "secretKeyRef",
        ),
        ({"name": "LOOPKEEPER_SLACK_TOKEN", "value": "x"}, "not a setting"),
    ],
)
def test_a_literal_credential_or_an_unknown_variable_is_caught(entry: Any, named: str) -> None:
    problems = env_problems([*container_env(of_kind("Deployment")), entry])
    assert any(named in problem for problem in problems), problems


def test_the_pods_are_probed_on_healthz_and_readyz() -> None:
    container = of_kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"] == ["serve"]


def test_the_pods_run_non_root_on_a_read_only_filesystem_with_a_writable_tmp() -> None:
    values = yaml.safe_load(read(CHART / "values.yaml"))
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["securityContext"]["runAsNonRoot"] is True
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["securityContext"]["allowPrivilegeEscalation"] is False
    # The templates apply those values (toYaml lines, dropped by the render-free reading).
    deployment_text = read(CHART / "templates" / "deployment.yaml")
    assert "toYaml .Values.podSecurityContext" in deployment_text
    assert "toYaml .Values.securityContext" in deployment_text
    spec = of_kind("Deployment")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/config"]]["configMap"]["items"][0]["key"] == "routing.yaml"


def test_migrations_run_once_per_release_before_the_pods() -> None:
    job = of_kind("Job")
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == {"pre-install", "pre-upgrade"}
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_chart_has_its_service_configmap_and_an_optional_servicemonitor() -> None:
    assert of_kind("Service")["spec"]["ports"][0]["targetPort"] == "http"
    assert "routing.yaml" in of_kind("ConfigMap")["data"]
    monitor = of_kind("ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    values = yaml.safe_load(read(CHART / "values.yaml"))
    assert values["serviceMonitor"]["enabled"] is False
    assert read(CHART / "templates" / "servicemonitor.yaml").startswith(
        "{{- if .Values.serviceMonitor.enabled }}"
    )


def test_values_say_replicas_above_one_need_postgresql() -> None:
    text = read(CHART / "values.yaml")
    comment = text[: text.index("\nreplicaCount:")].rsplit("\n\n", 1)[-1]
    assert "PostgreSQL" in comment and "1" in comment
