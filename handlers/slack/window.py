"""Slack's 3-second window: what a listener may wait for before its answer, and after it.

With `process_before_response` bolt answers Slack when the listener returns, so a listener
returns fast: it acks, and hands the Web API calls to the runtime's Background. A modal is
opened right after the ack, because its `trigger_id` expires 3 seconds after the click.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.background import Background

ANSWER_BUDGET = 1.0
"""Seconds a listener may wait for work whose result belongs in its answer (a modal's inline
errors, a command's reply) before it answers without it and sends the result afterwards."""

LOOKUP_BUDGET = 1.0
"""Seconds opening a modal may wait to learn who clicked (so a stranger is told, not shown a
form) before it opens the modal anyway and checks afterwards, within the trigger's 3 s."""


def open_modal(
    background: Background, client: AsyncWebClient, trigger_id: Any, view: dict[str, Any]
) -> None:
    """`views.open` right after the ack."""
    if not isinstance(trigger_id, str) or not trigger_id:
        return  # nothing to open it with; the payload was not one Slack sends

    async def open_it() -> None:
        await client.views_open(trigger_id=trigger_id, view=view)

    background.spawn(open_it(), f"opening modal {view.get('callback_id')}")
