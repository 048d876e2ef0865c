"""The digest benchmark: one week's digest over 1,000,000 reports in 200,000 cases.

`build_digest` beside the bare aggregate SQL it needs (same statements, raw driver), and the
measuring process's peak RSS, on PostgreSQL and SQLite. Run `python -m bench.digest --help`.
"""
