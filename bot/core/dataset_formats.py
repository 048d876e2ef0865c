"""The eval tools' own import formats, each a thin writer over the canonical record.

Every writer takes one canonical record (bot/core/dataset.py) and gives the line to write, or
None when the tool cannot use the case: Inspect, OpenAI Evals and promptfoo run the model on
the input, so a case whose input was never captured is left out of those three (and counted).
The field names are the tools' documented ones; each writer cites where.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import Any, TextIO

Record = dict[str, Any]
Writer = Callable[[Record], Record | None]

METADATA_FIELDS = (
    "case_number", "system", "category", "severity", "status", "resolution", "reason",
    "comment", "trace_id", "prompt_version", "model", "permalink", "created_at",
)  # fmt: skip
"""What goes along as metadata in every tool's format (besides the flagged output)."""

DESCRIPTION_LIMIT = 200


class DatasetFormat(enum.StrEnum):
    jsonl = "jsonl"
    langfuse = "langfuse"
    langsmith = "langsmith"
    openai_evals = "openai-evals"
    promptfoo = "promptfoo"
    inspect = "inspect"


def metadata(record: Record) -> Record:
    """The record's context for a tool's `metadata`, the bad output included."""
    found = {name: record[name] for name in METADATA_FIELDS if record[name] is not None}
    if record["output"] is not None:
        found["flagged_output"] = record["output"]
    return {"loopkeeper_id": record["id"], **found}


def canonical(record: Record) -> Record:
    return record


def langfuse(record: Record) -> Record:
    # Langfuse dataset items (CreateDatasetItemRequest of the public API; the JS SDK's
    # DatasetItem): `input`, `expectedOutput`, `metadata`, `sourceTraceId`. No `id`: Langfuse
    # upserts on it and refuses one reused across datasets, so it stays in the metadata.
    item: Record = {
        "input": record["input"],
        "expectedOutput": record["expected"],
        "metadata": metadata(record),
    }
    if record["trace_id"] is not None:
        item["sourceTraceId"] = record["trace_id"]
    return item


def langsmith(record: Record) -> Record:
    # LangSmith examples ("Example data format" in the LangSmith docs; ExampleCreate of the
    # SDK): `inputs` and `outputs` are maps, the outputs being the reference answer, and
    # `metadata` a map.
    return {
        "inputs": {"input": record["input"]},
        "outputs": {"output": record["expected"]},
        "metadata": metadata(record),
    }


def openai_evals(record: Record) -> Record | None:
    # OpenAI Evals API, a `jsonl` data source (EvalJsonlFileContentSource): one
    # `{"item": {...}}` per line; templates read `{{item.input}}` and graders `{{item.ideal}}`.
    if record["input"] is None:
        return None
    return {
        "item": {
            "input": record["input"],
            "ideal": record["expected"],
            "flagged_output": record["output"],
            **{k: v for k, v in metadata(record).items() if k != "flagged_output"},
        }
    }


def promptfoo(record: Record) -> Record | None:
    # promptfoo test cases ("Test Case Configuration" and "Test assertions" in its docs):
    # `description`, `vars`, `assert` (objects with `type` and `value`), `metadata`. The
    # expected answer is graded with `llm-rubric`; the bad output must not come back, with
    # `not-equals` (any assertion type negates with the `not-` prefix).
    if record["input"] is None:
        return None
    checks: list[Record] = []
    if record["expected"] is not None:
        checks.append({"type": "llm-rubric", "value": _rubric(record["expected"])})
    if record["output"] is not None:
        checks.append({"type": "not-equals", "value": record["output"]})
    return {
        "description": _description(record),
        "vars": {"input": record["input"]},
        "assert": checks,
        "metadata": metadata(record),
    }


def inspect(record: Record) -> Record | None:
    # Inspect samples (inspect_ai.dataset.Sample, "Datasets" in the Inspect docs): `input`
    # (required), `target`, `id`, `metadata`; json_dataset reads them from JSON Lines as is.
    if record["input"] is None:
        return None
    sample: Record = {"id": record["id"], "input": record["input"]}
    if record["expected"] is not None:
        sample["target"] = record["expected"]
    sample["metadata"] = metadata(record)
    return sample


WRITERS: dict[DatasetFormat, Writer] = {
    DatasetFormat.jsonl: canonical,
    DatasetFormat.langfuse: langfuse,
    DatasetFormat.langsmith: langsmith,
    DatasetFormat.openai_evals: openai_evals,
    DatasetFormat.promptfoo: promptfoo,
    DatasetFormat.inspect: inspect,
}


# JSON leaves these raw, but Python's splitlines() and some editors end a line at them: a
# reported text holding one must not split its record in two.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def write_line(line: Record, out: TextIO) -> None:
    """One JSON object on one line: JSON escapes newlines inside strings, and this the other
    characters some readers take as line breaks."""
    out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")).translate(_LINE_BREAKS))
    out.write("\n")


def _rubric(expected: str) -> str:
    return f"The answer agrees with this expected answer: {expected}"


def _description(record: Record) -> str:
    what = record["comment"] or record["category"]
    text = f"loopkeeper case #{record['case_number']} ({record['category']}): {what}"
    flat = " ".join(text.split())
    if len(flat) <= DESCRIPTION_LIMIT:
        return flat
    return flat[: DESCRIPTION_LIMIT - 1] + "…"
