"""Refusals at start-up: a misconfiguration the operator fixes, said in one line.

Raised wherever the problem is found (a bind, a lock, Slack's answer to the token) and turned
into one line on stderr and exit code 1 by the command line, never into a traceback: whoever
meets it is setting the bot up, and a page of frames hides the one sentence they need.
"""

from __future__ import annotations


class StartupError(Exception):
    """What is wrong and how to fix it; `str()` is the whole line the operator reads."""

    def __init__(self, line: str) -> None:
        # One line, whatever the parts it was built from (a driver's message may hold several).
        super().__init__(" ".join(line.split()))
