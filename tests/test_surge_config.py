"""The `surge:` section of routing.yaml: defaults, and mistakes reported by location."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from bot.config.loading import parse_routing
from tests.test_routing import example_data, problems_of


def _parse(data: dict[str, Any]) -> Any:
    return parse_routing(yaml.safe_dump(data, sort_keys=False), "routing.yaml")


def test_example_file_folds_surges_as_the_design_says() -> None:
    surge = _parse(example_data()).surge
    assert surge is not None
    assert (surge.cases, surge.within, surge.quiet) == (
        20,
        timedelta(minutes=10),
        timedelta(minutes=30),
    )


def test_no_surge_section_folds_nothing_and_an_empty_one_takes_the_defaults() -> None:
    data = example_data()
    data.pop("surge")
    assert _parse(data).surge is None
    data["surge"] = {}
    surge = _parse(data).surge
    assert surge is not None and surge.cases == 20 and surge.quiet == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("surge", "expected"),
    [
        ({"cases": 0}, "surge.cases: input should be greater than or equal to 1"),
        ({"cases": "many"}, "surge.cases:"),
        ({"within": "0m"}, "surge.within: must be longer than 0m (e.g. 10m)"),
        ({"quiet": "soon"}, "surge.quiet:"),
        ({"window": "5m"}, "surge.window:"),
    ],
)
def test_surge_mistakes_are_reported_by_location(surge: dict[str, Any], expected: str) -> None:
    data = example_data()
    data["surge"] = surge
    problems = problems_of(data)
    assert any(p.startswith(expected) for p in problems), problems
