"""What an invoke is answered with when the bot could not handle it: each invoke's own way of
saying "that did not work", so the user sees a message instead of Teams' generic failure."""

from __future__ import annotations

from typing import Any

MESSAGE = "loopkeeper couldn't handle that request; try again from a fresh message or card."
ERROR_TYPE = "application/vnd.microsoft.error"


def refusal(name: object) -> dict[str, Any]:
    """The body of a 200 invoke response for an invoke named `name` that failed."""
    if name == "adaptiveCard/action":  # the Universal Actions error response
        return {
            "statusCode": 400,
            "type": ERROR_TYPE,
            "value": {"code": "BadRequest", "message": MESSAGE},
        }
    if isinstance(name, str) and name.startswith("composeExtension/"):
        return {"task": {"type": "message", "value": MESSAGE}}
    return {}
