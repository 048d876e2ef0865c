"""Reading routing.yaml: the file, its YAML (1.2 scalars, duplicate keys caught), then the schema.

`load_routing` / `parse_routing` return a frozen `Routing`, or raise `RoutingError` listing every
problem with its location. The cross-references are checked once, on the raw data, so they are
reported even when the structure has problems of its own.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config.errors import RoutingError, describe, in_document_order
from bot.core.routing_references import reference_problems
from bot.core.routing_rules import SKIP_REFERENCES, Routing


def load_routing(path: str | Path) -> Routing:
    """Read and validate a routing file; RoutingError lists every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoutingError(
            [f"{path}: file not found (run `loopkeeper init` to write an example)"]
        ) from None
    except IsADirectoryError:
        raise RoutingError([f"{path}: is a directory, not a routing file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RoutingError([f"{path}: cannot read ({error})"]) from None
    return parse_routing(text, str(path))


def parse_routing(text: str, source: str) -> Routing:
    """Validate routing YAML; `source` names it in file-level problems."""
    data, duplicates = _read_yaml(text, source)
    problems = reference_problems(data)
    routing: Routing | None = None
    try:
        routing = Routing.model_validate(data, context={SKIP_REFERENCES: True})
    except ValidationError as error:
        problems.extend(describe(e) for e in error.errors(include_url=False))
    if routing is None or problems or duplicates:
        raise RoutingError(duplicates + in_document_order(problems, data))
    return routing


class _Loader(yaml.SafeLoader):
    """YAML 1.2 scalars (no `on`/`no` booleans, no 10:30 sexagesimal numbers); duplicate keys."""

    duplicates: list[str]


_REPLACED_TAGS = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, typing.Hashable):
            continue
        if key in seen:
            mark = key_node.start_mark
            loader.duplicates.append(
                f"{mark.name}:{mark.line + 1}:{mark.column + 1}: duplicate key '{key}'"
                " (each key may appear once in a mapping)"
            )
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)  # type: ignore[arg-type]


_YAML_HINTS = {
    "'\\t'": " (indent with spaces, not tabs)",
    "expected <block end>": " (check the indentation of this line and the one above)",
    "mapping values are not allowed": " (quote a value that contains ': ', or check indentation)",
    "could not find expected ':'": " (a key needs ': ' after it, or a line is mis-indented)",
}


def _read_yaml(text: str, source: str) -> tuple[dict[str, Any], list[str]]:
    """The top-level mapping of a routing file, and its duplicate-key problems."""
    loader = _Loader(text)
    loader.name = source
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        detail = error.problem or error.context or "cannot parse"
        detail += next((hint for clue, hint in _YAML_HINTS.items() if clue in detail), "")
        raise RoutingError([f"{where}: invalid YAML: {detail}"]) from None
    except yaml.YAMLError as error:
        raise RoutingError([f"{source}: invalid YAML: {error}"]) from None
    finally:
        loader.dispose()
    if data is None:
        raise RoutingError(
            [f"{source}: the file is empty (run `loopkeeper init` to write an example)"]
        )
    if not isinstance(data, dict):
        found = "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
        raise RoutingError(
            [
                f"{source}: the top level must be a mapping of sections "
                f"(people:, categories:, systems:, …), not {found}"
            ]
        )
    return data, loader.duplicates
