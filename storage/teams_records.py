"""What the Teams edge keeps: where case cards were posted, conversation references, users."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select

from bot.core.models import Case, TeamsCard, TeamsConversation, TeamsUser
from storage.rows import to_case
from storage.sessions import Sessions
from storage.statements import CASES, TEAMS_CARDS, TEAMS_CONVERSATIONS, TEAMS_USERS, insert
from storage.tables import CaseRow, TeamsCardRow, TeamsConversationRow, TeamsUserRow


class SqlTeamsRecords:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def case_for_teams_card(self, conversation_id: str, activity_id: str) -> Case | None:
        row = await self._db.read_first(
            select(CASES)
            .join(TEAMS_CARDS, TeamsCardRow.case_id == CaseRow.id)
            .where(
                TeamsCardRow.activity_id == activity_id,
                TeamsCardRow.conversation_id == conversation_id,
            )
        )
        return None if row is None else to_case(row)

    async def teams_card(self, case_id: int) -> TeamsCard | None:
        row = await self._db.read_first(select(TEAMS_CARDS).where(TeamsCardRow.case_id == case_id))
        return None if row is None else TeamsCard.model_validate(row, from_attributes=True)

    async def record_teams_card(self, card: TeamsCard) -> None:
        statement = insert(self._db.dialect, TEAMS_CARDS).values(**card.model_dump())
        statement = statement.on_conflict_do_update(
            index_elements=[TeamsCardRow.case_id],
            set_={
                "conversation_id": statement.excluded.conversation_id,
                "activity_id": statement.excluded.activity_id,
                "posted_at": statement.excluded.posted_at,
            },
        )
        await self._db.write(statement)

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
