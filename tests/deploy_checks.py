"""Render-free checks of the deploy files (Dockerfile, compose, Helm chart).

No Docker daemon and no helm run on the build machines, so these read the files as text and
YAML. Each check returns the problems it finds rather than asserting, so a test can show it
on the real file (no problems) and on a broken copy (the problem named).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import AliasChoices, SecretStr

from bot.config.settings import Settings

# Anything that compiles: none of it belongs in the image that runs the bot.
BUILD_TOOLS = (
    r"\bgcc\b",
    r"\bg\+\+",
    r"\bclang\b",
    r"\bmake\b",
    r"\bbuild-essential\b",
    r"\b[\w.+]+-dev(el)?\b",
)


def settings_variables() -> frozenset[str]:
    """The environment variables Settings reads, from the model's own aliases."""
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            choices = [alias]
        else:
            choices = [info.alias or name]
        names.update(choice.upper() for choice in choices)
    return frozenset(names)


def known_variables() -> frozenset[str]:
    return settings_variables()


def credential_variables() -> frozenset[str]:
    """Variables that hold a secret: every SecretStr setting, and the database URL (its
    password)."""
    names = {"LOOPKEEPER_DATABASE_URL"}
    for info in Settings.model_fields.values():
        if info.annotation is SecretStr or SecretStr in getattr(info.annotation, "__args__", ()):
            alias = info.validation_alias
            assert isinstance(alias, AliasChoices), "a secret setting without its variable name"
            names.add(str(alias.choices[0]).upper())
    return frozenset(names)


# --- Dockerfile ---


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kind, args in self.instructions if kind == keyword]


def dockerfile_stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages in order), continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=_expand(words[0], args), name=name))
        elif not stages and keyword == "ARG":
            key, _, default = rest.partition("=")
            args[key.strip()] = default.strip()
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return args, stages


def _expand(word: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), word)


def _env_pairs(args: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\"[^\"]*\"|\S+)", args))


def dockerfile_problems(text: str) -> list[str]:
    _, stages = dockerfile_stages(text)
    if not stages:
        return ["no FROM"]
    problems: list[str] = []
    final = stages[-1]
    if len(stages) < 2:
        problems.append("one stage: the build tools would ship in the image")
    if not any("--from=" in copy for copy in final.all("COPY")):
        problems.append("the final stage copies nothing from the builder")
    if "slim" not in final.base or not final.base.startswith("python:3."):
        problems.append(f"final base {final.base!r} is not a slim official Python image")
    users = final.all("USER")
    user = users[-1].split(":")[0] if users else "root"
    if user in ("root", "0"):
        problems.append(f"the final stage runs as {user}")
    problems.extend(_healthcheck_problems(final))
    for run in final.all("RUN"):
        problems.extend(
            f"the final stage installs a build tool ({tool}): {run}"
            for tool in BUILD_TOOLS
            if re.search(tool, run)
        )
        if "pip install" in run:
            problems.append(f"the final stage builds packages: {run}")
    command = " ".join(final.all("ENTRYPOINT") + final.all("CMD"))
    if not re.search(r"loopkeeper\W+serve.*--host\W+0\.0\.0\.0", command):
        problems.append(f"the image does not run `loopkeeper serve --host 0.0.0.0`: {command}")
    if "3000" not in final.all("EXPOSE"):
        problems.append("port 3000 is not exposed")
    env = {k: v for line in final.all("ENV") for k, v in _env_pairs(line).items()}
    if env.get("LOOPKEEPER_CONFIG") != "/config/routing.yaml":
        problems.append("LOOPKEEPER_CONFIG is not /config/routing.yaml")
    if not env.get("LOOPKEEPER_DATABASE_URL", "").startswith("sqlite+aiosqlite:////data/"):
        problems.append("the SQLite default is not on the /data volume")
    problems.extend(
        f"ENV {name} is not a setting"
        for name in env
        if name.startswith(("LOOPKEEPER_", "SLACK_", "MICROSOFT_"))
        and name not in known_variables()
    )
    builder_runs = " ".join(run for stage in stages[:-1] for run in stage.all("RUN"))
    extras = {
        e.strip()
        for group in re.findall(r"\.\[([\w, -]+)\]", builder_runs)
        for e in group.split(",")
    }
    if "postgres" not in extras:
        problems.append("the postgres extra (asyncpg) is not installed")
    if "themes" not in extras:
        problems.append(
            "the themes extra (wordllama: themes from the local model) is not installed"
        )
    return problems


def _healthcheck_problems(final: Stage) -> list[str]:
    checks = final.all("HEALTHCHECK")
    if not checks:
        return ["no HEALTHCHECK"]
    check = checks[-1]
    problems = [] if "/healthz" in check else [f"the HEALTHCHECK does not ask /healthz: {check}"]
    if re.search(r"\b(curl|wget)\b", check):
        problems.append("the HEALTHCHECK needs curl or wget, which slim images lack")
    return problems


# --- the Helm chart's templates, read without helm ---


def render_free(template: str) -> str:
    """A template as YAML with every branch kept: lines that are only template actions
    (if/with/end/include ... | nindent) go, inline actions become a placeholder."""
    kept = []
    for line in template.splitlines():
        if re.fullmatch(r"\s*(\{\{.*?\}\}\s*)+", line):
            continue
        kept.append(re.sub(r"\{\{.*?\}\}", "TEMPLATED", line))
    return "\n".join(kept)


def container_env(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document["spec"]["template"]["spec"]
    return [entry for container in spec["containers"] for entry in container.get("env") or []]


def env_problems(entries: list[dict[str, Any]]) -> list[str]:
    """Every variable set is a setting; every credential comes from a Secret."""
    problems = []
    for entry in entries:
        name = entry["name"]
        if name not in known_variables():
            problems.append(f"{name} is not a setting")
        if name in credential_variables():
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if "value" in entry or not ref:
                problems.append(f"{name} is not read from a secretKeyRef")
    return problems


# --- a small JSON Schema subset (jsonschema is not a dependency) ---

SCHEMA_KEYWORDS = frozenset(
    {
        "$schema",
        "title",
        "description",
        "type",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "enum",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "minLength",
    }
)
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False  # True is an int to Python, not to JSON Schema
    return isinstance(value, _TYPES[kind])


def schema_problems(value: Any, schema: dict[str, Any], where: str = "values") -> list[str]:
    """Where `value` breaks `schema`, for the keywords above (any other keyword is itself a
    problem, so the schema cannot outgrow this check unnoticed)."""
    problems = [f"{where}: unchecked keyword {k}" for k in schema if k not in SCHEMA_KEYWORDS]
    kind = schema.get("type")
    if kind and not _is(value, kind):
        return [*problems, f"{where}: {value!r} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value} > {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            problems.append(f"{where}: {value} <= {schema['exclusiveMinimum']}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        problems.append(f"{where}: too short")
    if isinstance(value, dict):
        problems.extend(
            f"{where}.{key}: missing" for key in schema.get("required", []) if key not in value
        )
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                problems.extend(schema_problems(item, properties[key], f"{where}.{key}"))
            elif schema.get("additionalProperties") is False:
                problems.append(f"{where}.{key}: not allowed")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems.extend(schema_problems(item, schema["items"], f"{where}[{index}]"))
    return problems
