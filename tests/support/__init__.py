"""What the tests and the benchmarks share: Slack's and Microsoft's clouds faked at the network,
the test bot's fixed configuration, and readers of what the bot sent.

Nothing here imports the rest of `tests/` or `bench/` (an import-linter contract in
pyproject.toml says so), so either may use it without depending on the other.
"""
