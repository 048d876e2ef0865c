"""Permalinks of top-level Slack messages without a Web API call per message."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from digests.links import card_link


class Permalinks:
    """A top-level message's permalink is the workspace's archive URL, its channel and its ts
    (`…/archives/C0123/p1700000000000100`); the workspace URL comes from one `auth.test` per
    process. Replies in threads carry more in their permalinks: ask `chat.getPermalink`."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._archives: str | None = None

    async def top_level(self, channel: str, ts: str) -> str:
        if self._archives is None:
            found = await self._client.auth_test()
            self._archives = f"{str(found['url']).rstrip('/')}/archives"
        link = card_link(channel, ts, self._archives)
        assert link is not None
        return link
