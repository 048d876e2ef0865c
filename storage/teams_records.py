"""What the Teams edge keeps besides cases: conversation references and users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, func, select

from handlers.teams.records import TeamsConversation, TeamsRecords, TeamsUser
from storage.sessions import Sessions
from storage.statements import TEAMS_CONVERSATIONS, TEAMS_USERS, insert
from storage.tables import TeamsConversationRow, TeamsUserRow


class SqlTeamsRecords:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def save_teams_conversation(self, conversation: TeamsConversation) -> None:
        values = conversation.model_dump()
        statement = insert(self._db.dialect, TEAMS_CONVERSATIONS).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsConversationRow.id],
            set_={k: statement.excluded[k] for k in values if k != "id"},
        )
        await self._db.write(statement)

    async def teams_conversation(self, conversation_id: str) -> TeamsConversation | None:
        row = await self._db.read_first(
            select(TEAMS_CONVERSATIONS).where(TeamsConversationRow.id == conversation_id)
        )
        return None if row is None else _teams_conversation(row)

    async def personal_teams_conversation(self, user_id: str) -> TeamsConversation | None:
        statement = (
            select(TEAMS_CONVERSATIONS)
            .where(TeamsConversationRow.user_id == user_id, TeamsConversationRow.kind == "personal")
            .order_by(TeamsConversationRow.updated_at.desc())
            .limit(1)
        )
        row = await self._db.read_first(statement)
        return None if row is None else _teams_conversation(row)

    async def latest_teams_conversation(self) -> TeamsConversation | None:
        statement = (
            select(TEAMS_CONVERSATIONS).order_by(TeamsConversationRow.updated_at.desc()).limit(1)
        )
        row = await self._db.read_first(statement)
        return None if row is None else _teams_conversation(row)

    async def save_teams_user(self, user: TeamsUser) -> None:
        values = user.model_dump()
        statement = insert(self._db.dialect, TEAMS_USERS).values(**values)
        keep_if_missing = ("aad_object_id", "name", "email", "tenant_id", "bot_id")
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsUserRow.key],
            set_={
                k: (
                    func.coalesce(statement.excluded[k], getattr(TeamsUserRow, k))
                    if k in keep_if_missing
                    else statement.excluded[k]
                )
                for k in values
                if k != "key"
            },
        )
        await self._db.write(statement)

    async def teams_user(self, key: str) -> TeamsUser | None:
        statement = (
            select(TEAMS_USERS)
            .where((TeamsUserRow.key == key) | (TeamsUserRow.user_id == key))
            .order_by(TeamsUserRow.updated_at.desc())
            .limit(1)
        )
        row = await self._db.read_first(statement)
        return None if row is None else TeamsUser.model_validate(row, from_attributes=True)


def _teams_conversation(row: Row[Any]) -> TeamsConversation:
    return TeamsConversation.model_validate(row, from_attributes=True)


if TYPE_CHECKING:

    def _implements_port(records: SqlTeamsRecords) -> TeamsRecords:
        return records
