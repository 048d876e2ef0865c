"""Reading /metrics as Prometheus does, for the tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.harness import BotUnderTest

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(bot: BotUnderTest) -> Samples:
    response = await bot.http.get(f"{bot.base_url}/metrics")
    assert response.status == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The sample's value; None when /metrics does not have it."""
    return samples.get((name, frozenset(labels.items())))
