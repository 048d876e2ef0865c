"""The Teams edge's own records and the port that stores them (implemented in storage/).

Conversation references and users are Teams' business alone: the core never sees them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field

from bot.core.ports import CardLocations, CaseCards, CaseStore, DirectoryCache, SurgeReads

TEAMS = "teams"
"""The platform name Teams records (card locations, cached accounts) are kept under."""


class TeamsConversation(BaseModel):
    """Where the bot can post in Teams: a conversation reference, refreshed on every activity."""

    id: str = Field(description="conversation id without a ';messageid=' thread suffix")
    kind: str = Field(default="channel", description="personal, channel or groupChat")
    service_url: str
    tenant_id: str | None = None
    bot_id: str | None = None
    bot_name: str | None = None
    user_id: str | None = Field(default=None, description="the user of a personal (1:1) chat")
    team_id: str | None = None
    updated_at: datetime


class TeamsUser(BaseModel):
    """A Teams user the bot has heard from: enough to open a 1:1 chat with them later."""

    key: str = Field(description="aadObjectId, else Teams user id; reporter ids are teams:<key>")
    user_id: str = Field(description="Teams user id, 29:…")
    aad_object_id: str | None = None
    name: str | None = None
    email: str | None = None
    service_url: str
    tenant_id: str | None = None
    bot_id: str | None = None
    updated_at: datetime


class TeamsRecords(Protocol):
    """What the Teams edge stores besides cases: conversation references and users."""

    async def save_teams_conversation(self, conversation: TeamsConversation) -> None:
        """Insert or refresh a conversation reference."""
        ...

    async def teams_conversation(self, conversation_id: str) -> TeamsConversation | None: ...

    async def personal_teams_conversation(self, user_id: str) -> TeamsConversation | None:
        """The 1:1 chat between the bot and the Teams user `user_id`, if there is one."""
        ...

    async def latest_teams_conversation(self) -> TeamsConversation | None:
        """The most recently refreshed conversation (its service URL reaches the tenant)."""
        ...

    async def save_teams_user(self, user: TeamsUser) -> None:
        """Insert or refresh a user; a known e-mail is kept when the update carries none."""
        ...

    async def teams_user(self, key: str) -> TeamsUser | None:
        """A user by key (aadObjectId, else Teams user id) or by Teams user id."""
        ...


class TeamsStore(CaseStore, CardLocations, DirectoryCache, TeamsRecords, SurgeReads, Protocol):
    """Everything the Teams edge stores: cases, where their cards are, the accounts it looked
    up, and its own records."""


class TeamsAccounts(DirectoryCache, TeamsRecords, Protocol):
    """What the Teams directory reads and keeps: looked-up accounts, users, conversations."""


class TeamsDelivery(CaseCards, TeamsRecords, SurgeReads, Protocol):
    """What delivering Teams notices reads and records: cases, cards, conversations, users,
    and surge cards."""
