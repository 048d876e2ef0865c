"""A fixed week of report texts with three recurring complaints across systems, and the week
before it: the themes tests' fixture."""

from __future__ import annotations

from digests.themes.model import ThemeInput

S, C, H = "support-assistant", "code-helper", "hr-bot"

REFUND = (
    "[demo] cited a refund policy we don't have",
    "made up a 60 day refund policy",
    "the refund policy it quoted does not exist",
    "promised a full refund, our refund policy says store credit",
)
CASUAL = (
    "answered an upset customer in a very casual tone",
    "way too casual tone for a complaint",
    "casual tone with slang in a formal reply",
)
LANGUAGE = (
    "replied in English to a French question",
    "answered in English although the customer wrote in French",
    "the French customer got an English reply",
)
LONE = "the chart colours are hard to read"

# (case, system, category, comments of its reports)
CURRENT_CASES = [
    (1, S, "hallucination", (REFUND[0], REFUND[1], REFUND[0])),
    (2, C, "hallucination", (REFUND[2],)),
    (3, S, "hallucination", (REFUND[3],)),
    (4, H, "hallucination", (REFUND[1],)),
    (5, S, "bad_format", (CASUAL[0],)),
    (6, C, "bad_format", (CASUAL[1], CASUAL[2])),
    (7, H, "bad_format", (CASUAL[2],)),
    (8, S, "bad_format", (LANGUAGE[0],)),
    (9, C, "edge_case", (LANGUAGE[1],)),
    (10, S, "bad_format", (LANGUAGE[2],)),
    (11, H, "edge_case", (LONE,)),
]
PREVIOUS_CASES = [
    (20, S, "hallucination", (REFUND[0],)),
    (21, C, "hallucination", (REFUND[2],)),
    (22, S, "bad_format", (LANGUAGE[0], LANGUAGE[1])),
    (23, C, "edge_case", (LANGUAGE[2],)),
    (24, H, "bad_format", (LANGUAGE[1],)),
    (25, H, "edge_case", (LONE,)),
]


def inputs(cases: list[tuple[int, str, str, tuple[str, ...]]], first_id: int) -> list[ThemeInput]:
    found = []
    for case_id, system, category, comments in cases:
        for comment in comments:
            found.append(
                ThemeInput(
                    report_id=first_id + len(found),
                    case_id=case_id,
                    system_id=system,
                    category_id=category,
                    comment=comment,
                )
            )
    return found


CURRENT = inputs(CURRENT_CASES, 1)
PREVIOUS = inputs(PREVIOUS_CASES, 100)
