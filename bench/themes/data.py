"""Synthetic weeks of report texts: the demo's topics, said many ways, mostly unique texts.

Each case is about one topic; each report on it rephrases a comment of that topic with a few
words of its own (where, when, which customer), so almost no two texts are the same and the
engine cannot lean on deduplication. A third of the reports also say what the answer should
have been; every case carries its topic's output excerpt.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from digests.demo_comments import GENERIC, TOPICS, Topic
from digests.themes.model import ThemeInput

SYSTEMS = ("support-assistant", "code-helper", "hr-bot", "sales-copilot", "it-helpdesk")
PLACES = (
    "in Berlin",
    "for a customer in Lyon",
    "on the mobile app",
    "in the web chat",
    "on a phone call summary",
    "in the partner portal",
    "for an enterprise account",
)
WHEN = (
    "again today",
    "twice this morning",
    "since Monday",
    "on ticket {n}",
    "in case {n}",
    "after the last update",
    "for the third time",
    "during the night shift",
)
EXPECTED = (
    "it should have said {topic}",
    "the right answer is in the handbook, section {n}",
    "it should have asked a human",
    "should have said it does not know",
)
REPORTS_PER_CASE = 2.5
WEEK_START = datetime(2026, 2, 9, tzinfo=UTC)  # 2026-W07, for the run through SQLite
NOW = datetime(2026, 2, 16, 9, tzinfo=UTC)


def _topics() -> list[tuple[str, Topic]]:
    found = [(category, topic) for category, topics in TOPICS.items() for topic in topics]
    return found + [("other", topic) for topic in GENERIC]


def week_of_reports(reports: int, *, seed: int, first_case: int = 1) -> list[ThemeInput]:
    """`reports` reports on about reports / 2.5 cases, deterministic for a seed."""
    rng = random.Random(seed)
    topics = _topics()
    weights = [topic.weight for _, topic in topics]
    found: list[ThemeInput] = []
    case_id = first_case - 1
    while len(found) < reports:
        case_id += 1
        category, topic = rng.choices(topics, weights=weights)[0]
        system = rng.choice(SYSTEMS)
        for _ in range(min(reports - len(found), 1 + int(rng.expovariate(1 / REPORTS_PER_CASE)))):
            n = rng.randint(100, 99_999)
            comment = " ".join(
                [rng.choice(topic.comments), rng.choice(PLACES), rng.choice(WHEN).format(n=n)]
            )
            expected = None
            if rng.random() < 0.33:
                expected = rng.choice(EXPECTED).format(topic=rng.choice(topic.comments), n=n)
            found.append(
                ThemeInput(
                    report_id=len(found) + 1,
                    case_id=case_id,
                    system_id=system,
                    category_id=category,
                    comment=comment,
                    expected=expected,
                    output=topic.output,
                )
            )
    return found
