"""Permalinks of top-level Slack messages without a Web API call per message."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from digests.links import card_link


class Permalinks:
    """A top-level message's permalink is the workspace's archive URL, its channel and its ts
    (`…/archives/C0123/p1700000000000100`); the workspace URL comes from one `auth.test` per
    process. Replies in threads carry more in their permalinks: ask `chat.getPermalink`."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._archives: str | None = None

    def learn(self, auth_test: Any) -> None:
        """Take the workspace URL from an `auth.test` answer made at start-up."""
        self._archives = f"{str(auth_test['url']).rstrip('/')}/archives"

    def known(self, channel: str, ts: str) -> str | None:
        """The permalink when the workspace URL is known already; None rather than a call."""
        return card_link(channel, ts, self._archives) if self._archives else None

    async def top_level(self, channel: str, ts: str) -> str:
        if self._archives is None:
            self.learn(await self._client.auth_test())
        link = self.known(channel, ts)
        assert link is not None
        return link
