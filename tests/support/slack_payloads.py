"""What the fake Slack received, checked as Slack would: Block Kit validity, Slack's documented
limits, and that the only markup in mrkdwn is the bot's own."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.support.bot_settings import ROUTING_FILE
from tests.support.fake_slack import FakeSlack

MESSAGE_METHODS = ("chat.postMessage", "chat.update", "chat.postEphemeral")

_TOKEN = re.compile(r"<([^<>]*)>")
_BOT_TOKENS = (
    re.compile(r"@[UW][A-Z0-9]+"),  # mentions, checked against known ids below
    re.compile(r"!date\^\d+\^\{[a-z_]+\}( \{time\})?\|[^|]*"),
    re.compile(r"https://acme\.slack\.com/archives/[A-Z0-9]+/p\d{16}(\?[^|\s]*)?\|[^|]+"),
    re.compile(r"https://slack\.com/app_redirect\?[^|\s]+\|[^|]+"),
)


@dataclass
class Sent:
    """One payload the bot sent: a message, a view, or a slash command's answer."""

    where: str
    kind: str  # "message" or "view"
    payload: dict[str, Any]


def sent(slack: FakeSlack, answers: list[dict[str, Any]] | None = None) -> list[Sent]:
    found = []
    for i, call in enumerate(slack.calls):
        if call.method in MESSAGE_METHODS:
            found.append(Sent(f"{call.method}#{i}", "message", call.args))
        elif call.method == "views.open":
            view = call.args["view"]
            found.append(
                Sent(f"views.open#{i}", "view", json.loads(view) if isinstance(view, str) else view)
            )
    for i, answer in enumerate(answers or []):
        found.append(Sent(f"answer#{i}", "message", answer))
    return found


def mrkdwn_texts(payload: dict[str, Any], kind: str) -> Iterator[str]:
    """Every string Slack reads as mrkdwn: a message's `text` and every mrkdwn object."""
    if kind == "message" and isinstance(payload.get("text"), str):
        yield payload["text"]
    yield from _mrkdwn_objects(payload.get("blocks") or [])


def _mrkdwn_objects(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield str(node.get("text", ""))
        for value in node.values():
            yield from _mrkdwn_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn_objects(item)


def markup_problems(text: str, known_users: set[str]) -> list[str]:
    """Markup in `text` the bot did not make: any `<…>` but its mentions of known users, its
    dates and its links to Slack, any other `<` or `>` (bar quotes), bidi overrides."""
    problems = []
    for token in _TOKEN.findall(text):
        if not any(p.fullmatch(token) for p in _BOT_TOKENS):
            problems.append(f"foreign markup <{token[:60]}>")
        elif token.startswith("@") and token[1:] not in known_users:
            problems.append(f"mention of unknown user <{token}>")
    for line in _TOKEN.sub("", text).splitlines():
        if "<" in line or ">" in line.lstrip(">"):
            problems.append(f"raw angle bracket in {line[:60]!r}")
    if re.search("[\u202a-\u202e\u2066-\u2069]", text):
        problems.append("bidi override")
    return problems


def limit_problems(payload: dict[str, Any], kind: str) -> list[str]:
    """Slack's documented limits, including the ones slack_sdk does not check."""
    problems = []
    blocks = payload.get("blocks") or []
    most = 50 if kind == "message" else 100
    if len(blocks) > most:
        problems.append(f"{len(blocks)} blocks")
    if kind == "view":
        for part in ("title", "submit", "close"):
            if part in payload and len(payload[part]["text"]) > 24:
                problems.append(f"modal {part} of {len(payload[part]['text'])}")
        if len(payload.get("private_metadata") or "") > 3000:
            problems.append("private_metadata over 3000")
    for path, node in _walk(blocks, "blocks"):
        kind_ = node.get("type")
        text = node.get("text") if isinstance(node.get("text"), dict) else None
        size = len(text["text"]) if text else 0
        if kind_ == "header" and size > 150:
            problems.append(f"{path}: header of {size}")
        if kind_ == "section":
            if size > 3000:
                problems.append(f"{path}: section of {size}")
            fields = node.get("fields") or []
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                problems.append(f"{path}: fields over budget")
        if kind_ == "context":
            elements = node.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append(f"{path}: context of {len(elements)} elements")
            if any(len(e.get("text", "")) > 3000 for e in elements):
                problems.append(f"{path}: context element over 3000")
        if kind_ == "button" and size > 75:
            problems.append(f"{path}: button text of {size}")
        if kind_ in ("static_select", "multi_static_select"):
            options = node.get("options") or []
            groups = node.get("option_groups") or []
            if len(options) > 100 or len(groups) > 100:
                problems.append(f"{path}: too many options")
            for group in groups:
                options = options + group["options"]
                if len(group["options"]) > 100 or len(group["label"]["text"]) > 75:
                    problems.append(f"{path}: option group over budget")
            if any(len(o["text"]["text"]) > 75 for o in options):
                problems.append(f"{path}: option text over 75")
        if kind_ == "plain_text_input" and len(node.get("initial_value") or "") > 3000:
            problems.append(f"{path}: initial_value over 3000")
        if kind_ == "input" and len(node["label"]["text"]) > 2000:
            problems.append(f"{path}: label over 2000")
    return problems


def _walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{path}[{i}]")


def block_kit_errors(item: Sent) -> list[str]:
    """What slack_sdk's models refuse in a payload (they check many of Slack's limits)."""
    errors = []
    try:
        if item.kind == "view":
            View(**item.payload).validate_json()
        for block in item.payload.get("blocks") or []:
            parsed = Block.parse(block)
            if parsed is None:
                errors.append(f"{item.where}: unparsed block {block.get('type')}")
            else:
                parsed.validate_json()
    except Exception as error:  # slack_sdk raises several kinds; any is a broken payload
        errors.append(f"{item.where}: {type(error).__name__}: {error}")
    return errors


def all_problems(items: list[Sent], known_users: set[str]) -> list[str]:
    problems = []
    for item in items:
        problems += block_kit_errors(item)
        problems += [f"{item.where}: {p}" for p in limit_problems(item.payload, item.kind)]
        for text in mrkdwn_texts(item.payload, item.kind):
            problems += [f"{item.where}: {p}" for p in markup_problems(text, known_users)]
    return problems


def write_routing(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The end-to-end tests' routing file, changed by `change`, written to `path`."""
    data = yaml.safe_load(ROUTING_FILE.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path
