"""The directory cache: a person's chat-platform user id, as looked up (None = not found)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.sessions import Sessions
from storage.statements import DIRECTORY, insert
from storage.tables import DirectoryRow


class SqlDirectoryCache:
    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def cached_user(self, person_id: str, platform: str) -> tuple[bool, str | None]:
        row = await self._db.read_first(
            self._db.sql.cached_user, {"person_id": person_id, "platform": platform}
        )
        return (False, None) if row is None else (True, row.user_id)

    async def cache_user(
        self, person_id: str, platform: str, user_id: str | None, at: datetime
    ) -> None:
        statement = insert(self._db.dialect, DIRECTORY).values(
            person_id=person_id, platform=platform, user_id=user_id, looked_up_at=at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[DirectoryRow.person_id, DirectoryRow.platform],
            set_={"user_id": user_id, "looked_up_at": at},
        )
        await self._db.write(statement)

    async def cached_person(self, platform: str, user_id: str) -> str | None:
        found = await self._db.read_scalar(
            select(DirectoryRow.person_id).where(
                DirectoryRow.platform == platform, DirectoryRow.user_id == user_id
            )
        )
        return None if found is None else str(found)
