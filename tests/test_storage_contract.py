"""The storage contract: one suite, run on SQLite and on PostgreSQL (see conftest)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, StatementError

from bot.core.models import (
    Case,
    CaseStatus,
    Channel,
    OutboundMessage,
    Report,
    Role,
    Severity,
    TimelineEntry,
)
from storage.database import create_engine, is_fast_sqlite, redact_url
from storage.group_commit import GroupCommit
from storage.migrate import (
    current_revision,
    head_revision,
    is_up_to_date,
    upgrade,
    upgrade_async,
)
from storage.repository import SqlCaseStore
from storage.sqlite_inline import InlineConnection
from storage.statements import statements
from storage.tables import Base
from tests.conftest import STORAGE_BACKENDS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=STORAGE_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """This suite runs over SQLite plain and fast, and PostgreSQL (tests/conftest.py)."""
    return str(request.param)


T0 = datetime(2025, 3, 10, 9, 30, 15, 123456, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def a_case(key: str = "slack:C0SUPPORT:1700000000.000100", at: datetime = T0, **fields) -> Case:
    values = {
        "output_key": key,
        "system_id": "support-assistant",
        "category_id": "hallucination",
        "severity": Severity.high,
        "owner": "alice",
        "owner_role": Role.validation,
        "output_platform": "slack",
        "output_channel_id": "C0SUPPORT",
        "output_ts": "1700000000.000100",
        "output_excerpt": "The refund window is 90 days.",
        "trace_id": "tr-1",
        "created_at": at,
        "updated_at": at,
        **fields,
    }
    return Case.model_validate(values)


def a_report(
    case_id: int, reporter: str = "slack:U0REPORTER", at: datetime = T0, **fields
) -> Report:
    values = {
        "case_id": case_id,
        "reporter_id": reporter,
        "reporter_slack_id": reporter.removeprefix("slack:"),
        "channel": Channel.slack_reaction,
        "category_id": "hallucination",
        "severity": Severity.high,
        "comment": "wrong",
        "created_at": at,
        "updated_at": at,
        **fields,
    }
    return Report.model_validate(values)


def a_message(key: str, due: datetime = T0, **fields) -> OutboundMessage:
    values = {
        "dedupe_key": key,
        "method": "chat.postMessage",
        "payload": {"channel": "C0TRIAGE", "text": key, "blocks": [{"type": "section"}]},
        "next_attempt_at": due,
        **fields,
    }
    return OutboundMessage.model_validate(values)


async def store_case(store: SqlCaseStore, case: Case) -> Case:
    async with store.transaction() as tx:
        return await tx.new_case(case)


# --- cases and reports ----------------------------------------------------------------------


async def test_create_case_and_report(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        case, created = await tx.lock_or_create_case(a_case())
        assert case.id is not None
        case_id = case.id
        report = await tx.add_report(a_report(case_id))
        case = await tx.save_case(case.model_copy(update={"report_count": 1}))

    assert created
    assert report.id is not None
    assert await store.get_case(case_id) == case
    assert await store.list_cases() == [case]
    assert case.status is CaseStatus.new
    assert (case.severity, case.owner_role, case.report_count) == (
        Severity.high,
        Role.validation,
        1,
    )
    async with store.transaction() as tx:
        assert await tx.case_reports(case_id) == [report]
        assert await tx.find_report(case_id, "slack:U0REPORTER") == report
        assert await tx.find_report(case_id, "slack:U0SOMEONE") is None


async def test_lock_or_create_returns_the_stored_case_unchanged(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        first, created_first = await tx.lock_or_create_case(a_case())
    async with store.transaction() as tx:
        second, created_second = await tx.lock_or_create_case(
            a_case(system_id="other-system", at=T0 + timedelta(hours=1))
        )

    assert (created_first, created_second) == (True, False)
    assert second == first


async def test_new_case_for_free_form_edge_cases(store: SqlCaseStore) -> None:
    one = await store_case(store, a_case("adhoc:1", output_platform=None, output_excerpt=None))
    two = await store_case(store, a_case("adhoc:2", output_platform=None, output_excerpt=None))

    assert one.id is not None and two.id is not None and one.id != two.id
    assert [c.output_key for c in await store.list_cases()] == ["adhoc:1", "adhoc:2"]


async def test_report_upsert_keeps_one_row_per_reporter(store: SqlCaseStore) -> None:
    case = await store_case(store, a_case())
    assert case.id is not None
    later = T0 + timedelta(minutes=5)

    for at, severity, comment in [(T0, Severity.high, "wrong"), (later, Severity.critical, "bad")]:
        async with store.transaction() as tx:
            existing = await tx.find_report(case.id, "slack:U0REPORTER")
            if existing is None:
                await tx.add_report(a_report(case.id, at=at))
            else:
                changes = {"severity": severity, "comment": comment, "updated_at": at}
                await tx.save_report(existing.model_copy(update=changes))

    async with store.transaction() as tx:
        [report] = await tx.case_reports(case.id)
    assert (report.severity, report.comment) == (Severity.critical, "bad")
    assert (report.created_at, report.updated_at) == (T0, later)


async def test_a_second_report_by_one_reporter_on_one_case_is_refused(
    store: SqlCaseStore,
) -> None:
    case = await store_case(store, a_case())
    assert case.id is not None
    async with store.transaction() as tx:
        await tx.add_report(a_report(case.id))

    with pytest.raises(Exception, match="(?i)unique"):
        async with store.transaction() as tx:
            await tx.add_report(a_report(case.id))


async def test_concurrent_reports_on_one_output_share_one_case(store: SqlCaseStore) -> None:
    reporters = [f"slack:U0R{i}" for i in range(5)]

    async def report(reporter: str) -> bool:
        async with store.transaction() as tx:
            case, created = await tx.lock_or_create_case(a_case())
            assert case.id is not None
            await asyncio.sleep(0.01)  # hold the lock while the others pile up
            await tx.add_report(a_report(case.id, reporter))
            count = len(await tx.case_reports(case.id))
            await tx.save_case(case.model_copy(update={"report_count": count}))
            return created

    created = await asyncio.gather(*(report(r) for r in reporters))

    assert sorted(created) == [False, False, False, False, True]
    [case] = await store.list_cases()
    assert case.id is not None and case.report_count == len(reporters)
    async with store.transaction() as tx:
        stored = await tx.case_reports(case.id)
    assert sorted(r.reporter_id for r in stored) == reporters


async def test_save_case_persists_every_field(store: SqlCaseStore) -> None:
    case = await store_case(store, a_case())
    closed = T0 + timedelta(days=1)
    changed = case.model_copy(
        update={
            "status": CaseStatus.resolved,
            "severity": Severity.critical,
            "owner": "bob",
            "owner_role": Role.governance,
            "report_count": 3,
            "acknowledge_due_at": T0 + timedelta(hours=1),
            "resolve_due_at": T0 + timedelta(days=1),
            "closed_at": closed,
            "updated_at": closed,
        }
    )
    async with store.transaction() as tx:
        saved = await tx.save_case(changed)

    assert saved == changed
    assert await store.get_case(saved.id or 0) == changed
    assert await store.list_cases(status=CaseStatus.resolved) == [changed]
    assert await store.list_cases(status=CaseStatus.new) == []


async def test_lock_case(store: SqlCaseStore) -> None:
    case = await store_case(store, a_case())
    async with store.transaction() as tx:
        assert await tx.lock_case(case.id or 0) == case
        assert await tx.lock_case(999_999) is None


async def test_saving_what_was_never_stored_is_an_error(store: SqlCaseStore) -> None:
    with pytest.raises(LookupError):
        async with store.transaction() as tx:
            await tx.save_case(a_case().model_copy(update={"id": 999_999}))
    with pytest.raises(ValueError):
        async with store.transaction() as tx:
            await tx.save_case(a_case())


async def test_list_cases_filters(store: SqlCaseStore) -> None:
    support = await store_case(store, a_case("k1"))
    other = await store_case(store, a_case("k2", system_id="code-helper"))
    acked = await store_case(store, a_case("k3", status=CaseStatus.acknowledged))

    assert await store.list_cases() == [support, other, acked]
    assert await store.list_cases(system_id="code-helper") == [other]
    assert await store.list_cases(status=CaseStatus.acknowledged) == [acked]
    assert await store.list_cases(status=CaseStatus.new, system_id="support-assistant") == [support]
    assert await store.get_case(999_999) is None


async def test_reports_by_newest_first_with_their_cases(store: SqlCaseStore) -> None:
    me, someone = "slack:U0ME", "slack:U0SOMEONE"
    async with store.transaction() as tx:
        for i in range(4):
            case = await tx.new_case(a_case(f"k{i}"))
            assert case.id is not None
            await tx.add_report(a_report(case.id, me, at=T0 + timedelta(hours=i)))
            await tx.add_report(a_report(case.id, someone, at=T0 + timedelta(days=1)))

    mine = await store.reports_by(me)
    latest_two = await store.reports_by(me, limit=2)

    assert [item.case.output_key for item in mine] == ["k3", "k2", "k1", "k0"]
    assert all(item.report.reporter_id == me for item in mine)
    assert all(item.report.case_id == item.case.id for item in mine)
    assert [item.case.output_key for item in latest_two] == ["k3", "k2"]
    assert await store.reports_by("slack:U0NOBODY") == []


async def test_timeline_in_order_with_json_detail(store: SqlCaseStore) -> None:
    case = await store_case(store, a_case())
    assert case.id is not None
    detail: dict[str, object] = {
        "owner": "alice",
        "nested": {"list": [1, 2.5, None, True]},
        "severity": "high",
    }
    async with store.transaction() as tx:
        second = await tx.append_timeline(
            TimelineEntry(case_id=case.id, at=T0 + timedelta(1), actor="a", kind="acked")
        )
        first = await tx.append_timeline(
            TimelineEntry(case_id=case.id, at=T0, actor="slack:U0R", kind="opened", detail=detail)
        )

    assert first.id is not None and second.id is not None
    assert await store.timeline(case.id) == [first, second]
    assert (await store.timeline(case.id))[0].detail == detail
    assert await store.timeline(999_999) == []


# --- time ------------------------------------------------------------------------------------


async def test_datetimes_round_trip_timezone_aware_utc(store: SqlCaseStore) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2025, 6, 1, 12, 0, 0, 654321, tzinfo=paris)
    case = await store_case(store, a_case(at=local, acknowledge_due_at=local + timedelta(hours=1)))

    stored = await store.get_case(case.id or 0)

    assert stored is not None
    for value in (stored.created_at, stored.updated_at, stored.acknowledge_due_at):
        assert value is not None and value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
    assert stored.created_at == local
    assert stored.created_at == datetime(2025, 6, 1, 10, 0, 0, 654321, tzinfo=UTC)
    assert stored.acknowledge_due_at == local + timedelta(hours=1)
    assert stored.closed_at is None


async def test_naive_datetimes_are_refused(store: SqlCaseStore) -> None:
    naive = datetime(2025, 6, 1, 12, 0)
    with pytest.raises(StatementError, match="naive datetime"):
        await store_case(store, a_case().model_copy(update={"created_at": naive}))
    assert await store.list_cases() == []


# --- deliveries ------------------------------------------------------------------------------


async def test_claim_delivery_once(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        first = await tx.claim_delivery("slack:event:Ev1")
    async with store.transaction() as tx:
        again = await tx.claim_delivery("slack:event:Ev1")
        other = await tx.claim_delivery("slack:event:Ev2")

    assert (first, again, other) == (True, False, True)


async def test_claim_delivery_concurrently_only_one_wins(store: SqlCaseStore) -> None:
    async def claim() -> bool:
        async with store.transaction() as tx:
            claimed = await tx.claim_delivery("slack:event:Ev1")
            await asyncio.sleep(0.01)
            return claimed

    results = await asyncio.gather(*(claim() for _ in range(4)))

    assert sorted(results) == [False, False, False, True]


async def test_prune_forgets_old_deliveries(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        await tx.claim_delivery("old")
    assert await store.prune(datetime.now(UTC) + timedelta(seconds=1)) == 1
    async with store.transaction() as tx:
        assert await tx.claim_delivery("old")


# --- outbox ----------------------------------------------------------------------------------


async def test_enqueue_dedupes_by_key(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        first = await tx.enqueue(a_message("confirm:1"))
        same_tx = await tx.enqueue(a_message("confirm:1", method="chat.postEphemeral"))
    async with store.transaction() as tx:
        later_tx = await tx.enqueue(a_message("confirm:1"))

    assert (first, same_tx, later_tx) == (True, False, False)
    assert await store.pending_count() == 1
    [message] = await store.claim_due(T0, LEASE)
    assert message.method == "chat.postMessage"
    assert message.payload == a_message("confirm:1").payload


async def test_enqueue_all_keeps_order_and_skips_known_keys(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        await tx.enqueue(a_message("dm:1"))
    async with store.transaction() as tx:
        added = await tx.enqueue_all(
            [a_message("card:1"), a_message("dm:1"), a_message("reply:1"), a_message("card:1")]
        )

    assert added == 2
    claimed = [m.dedupe_key for m in await store.claim_due(T0, LEASE)]
    assert claimed == ["dm:1", "card:1", "reply:1"]  # delivered in the order queued


async def test_claim_due_leases_messages(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        await tx.enqueue(a_message("m1", due=T0))
        await tx.enqueue(a_message("m2", due=T0 - timedelta(minutes=1)))
        await tx.enqueue(a_message("later", due=T0 + timedelta(hours=1)))

    claimed = await store.claim_due(T0, LEASE)
    during_lease = await store.claim_due(T0 + LEASE - timedelta(seconds=1), LEASE)
    after_lease = await store.claim_due(T0 + LEASE, LEASE)

    assert [m.dedupe_key for m in claimed] == ["m1", "m2"]  # oldest first
    assert all(m.id is not None for m in claimed)
    assert [(m.attempts, m.next_attempt_at) for m in claimed] == [(1, T0 + LEASE)] * 2
    assert during_lease == []
    assert [(m.dedupe_key, m.attempts) for m in after_lease] == [("m1", 2), ("m2", 2)]
    assert await store.pending_count() == 3


async def test_claim_due_respects_the_limit(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        for i in range(5):
            await tx.enqueue(a_message(f"m{i}"))

    first = await store.claim_due(T0, LEASE, limit=3)
    rest = await store.claim_due(T0, LEASE, limit=3)

    assert [m.dedupe_key for m in first] == ["m0", "m1", "m2"]
    assert [m.dedupe_key for m in rest] == ["m3", "m4"]


async def test_concurrent_claims_never_share_a_message(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        for i in range(20):
            await tx.enqueue(a_message(f"m{i}"))

    batches = await asyncio.gather(*(store.claim_due(T0, LEASE, limit=7) for _ in range(4)))

    keys = [m.dedupe_key for batch in batches for m in batch]
    assert sorted(keys) == sorted(f"m{i}" for i in range(20))


async def test_mark_failed_reschedules_and_mark_delivered_finishes(store: SqlCaseStore) -> None:
    async with store.transaction() as tx:
        await tx.enqueue(a_message("m1"))
    [message] = await store.claim_due(T0, LEASE)
    assert message.id is not None
    retry_at = T0 + timedelta(minutes=10)

    await store.mark_failed(message.id, "ratelimited", retry_at)

    assert await store.claim_due(retry_at - timedelta(seconds=1), LEASE) == []
    [again] = await store.claim_due(retry_at, LEASE)
    assert (again.id, again.attempts, again.last_error) == (message.id, 2, "ratelimited")

    await store.mark_delivered([message.id], retry_at)

    assert await store.pending_count() == 0
    assert await store.claim_due(retry_at + timedelta(days=1), LEASE) == []
    assert await store.prune(retry_at + timedelta(seconds=1)) == 1


# --- transactions ----------------------------------------------------------------------------


class Boom(Exception):
    pass


async def test_rollback_on_exception_leaves_nothing_stored(store: SqlCaseStore) -> None:
    with pytest.raises(Boom):
        async with store.transaction() as tx:
            assert await tx.claim_delivery("slack:event:Ev1")
            case, _ = await tx.lock_or_create_case(a_case())
            assert case.id is not None
            await tx.add_report(a_report(case.id))
            await tx.append_timeline(
                TimelineEntry(case_id=case.id, at=T0, actor="x", kind="opened")
            )
            await tx.enqueue(a_message("confirm:1"))
            raise Boom

    assert await store.list_cases() == []
    assert await store.reports_by("slack:U0REPORTER") == []
    assert await store.pending_count() == 0
    async with store.transaction() as tx:
        assert await tx.claim_delivery("slack:event:Ev1")


async def test_returning_early_commits(store: SqlCaseStore) -> None:
    async def file_once() -> bool:
        async with store.transaction() as tx:
            if not await tx.claim_delivery("k"):
                return False
            await tx.new_case(a_case())
            return True

    assert await file_once()
    assert not await file_once()
    assert len(await store.list_cases()) == 1


async def test_a_long_write_lets_a_waiting_ack_through_at_a_checkpoint(
    store: SqlCaseStore,
) -> None:
    async with store.transaction() as tx:
        first = await tx.new_case(a_case("long-1"))
        # An ack's insert arrives while this transaction holds the database.
        ack = asyncio.create_task(store.accept("slack:event:Ev1", "k", {}, T0))
        await asyncio.sleep(0.01)
        if tx.should_checkpoint():  # SQLite's one writer: the ack waits for us
            assert not ack.done()
            await tx.checkpoint()
        assert await ack is True  # through before this transaction ends
        second = await tx.new_case(a_case("long-2"))

    assert [c.id for c in await store.list_cases()] == [first.id, second.id]
    assert await store.inbox_pending() == 1


async def test_a_checkpointed_transaction_that_fails_keeps_only_what_was_committed(
    store: SqlCaseStore,
) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.new_case(a_case("kept"))
            await tx.checkpoint()
            await tx.new_case(a_case("undone"))
            raise RuntimeError("fails after the checkpoint")

    assert [c.output_key for c in await store.list_cases()] == ["kept"]


async def test_two_stores_on_one_database_write_concurrently(
    store: SqlCaseStore, database_url: str, sqlite_fast: bool
) -> None:
    other = SqlCaseStore(create_engine(database_url, sqlite_fast=sqlite_fast))

    async def write(on: SqlCaseStore, key: str) -> None:
        async with on.transaction() as tx:
            await tx.new_case(a_case(key))
            await asyncio.sleep(0.01)
            await tx.enqueue(a_message(key))

    try:
        await asyncio.gather(
            *(write(s, f"{i}-{n}") for n in range(5) for i, s in enumerate([store, other]))
        )
    finally:
        await other.close()

    assert len(await store.list_cases()) == 10
    assert await store.pending_count() == 10


async def test_ping(store: SqlCaseStore) -> None:
    await store.ping()


# --- migrations ------------------------------------------------------------------------------


async def test_migrated_database_is_up_to_date(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
        assert await is_up_to_date(engine)
    finally:
        await engine.dispose()


async def test_migrations_match_the_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []


async def test_empty_database_is_not_up_to_date_until_upgraded(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        assert not await is_up_to_date(engine)

        await upgrade_async(empty_database_url)  # alembic runs its own loop, in a thread

        assert await is_up_to_date(engine)
        store = SqlCaseStore(engine)
        assert await store.list_cases() == []
        await store.close()
    finally:
        await engine.dispose()


async def test_replicas_migrating_at_once_all_succeed(empty_database_url: str) -> None:
    async def replica() -> tuple[int, bytes]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; from storage.migrate import upgrade; upgrade(sys.argv[1])",
            empty_database_url,
            cwd=PROJECT_ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await process.communicate()
        return process.returncode or 0, stderr

    replicas = [asyncio.create_task(replica()) for _ in range(3)]
    await asyncio.gather(*(upgrade_async(empty_database_url) for _ in range(2)))  # threads

    for returncode, stderr in await asyncio.gather(*replicas):
        assert returncode == 0, stderr.decode()
    engine = create_engine(empty_database_url)
    try:
        assert await is_up_to_date(engine)
    finally:
        await engine.dispose()


async def test_upgrade_refuses_to_block_a_running_loop(empty_database_url: str) -> None:
    with pytest.raises(RuntimeError, match="upgrade_async"):
        upgrade(empty_database_url)


def test_redact_url_hides_the_password() -> None:
    url = "postgresql+asyncpg://loopkeeper:s3cr%40t@db.internal:5432/loopkeeper"

    redacted = redact_url(url)

    assert "s3cr" not in redacted
    assert redacted == "postgresql+asyncpg://loopkeeper:***@db.internal:5432/loopkeeper"
    assert (
        redact_url("sqlite+aiosqlite:///./loopkeeper.db") == "sqlite+aiosqlite:///./loopkeeper.db"
    )


async def test_the_inbox_keeps_a_flag_until_processed_and_prune_forgets_it_later(
    store: SqlCaseStore,
) -> None:
    now = datetime.now(UTC)
    assert await store.accept("slack:event:Ev1", "slack.reaction_added", {"n": 1}, now)
    assert not await store.accept("slack:event:Ev1", "slack.reaction_added", {"n": 1}, now)
    assert await store.accept("slack:event:Ev2", "slack.reaction_added", {"n": 2}, now)

    claimed = await store.claim_inbox(now, timedelta(minutes=1))
    assert [item.payload for item in claimed] == [{"n": 1}, {"n": 2}]
    assert await store.claim_inbox(now, timedelta(minutes=1)) == []  # leased
    await store.finish_inbox([claimed[0].id], now)

    assert await store.inbox_pending() == 1
    assert await store.prune(now + timedelta(seconds=1)) == 1  # the processed flag goes
    assert await store.inbox_pending() == 1  # an unprocessed flag is never pruned
    [again] = await store.claim_inbox(now + timedelta(minutes=2), timedelta(minutes=1))
    assert again.payload == {"n": 2} and again.attempts == 2


async def test_a_store_recovers_after_the_server_drops_its_connections(
    store: SqlCaseStore,
) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("only a database server drops connections (SQLite is a file)")
    await store_case(store, a_case("before"))
    await store.get_case(1)  # the pool now holds connections the server is about to drop
    other = create_engine(str(store.engine.url.render_as_string(hide_password=False)))
    try:
        async with other.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await other.dispose()

    failures = 0
    for attempt in range(3):  # the first use of a dropped connection may fail; then it heals
        try:
            await store_case(store, a_case(f"after-{attempt}"))
            break
        except DBAPIError:
            failures += 1
    assert failures <= 1
    stored = {c.output_key for c in await store.list_cases()}
    assert {"before", f"after-{failures}"} <= stored


async def test_acks_arriving_together_are_each_committed_once(store: SqlCaseStore) -> None:
    keys = [f"slack:event:Ev{i}" for i in range(20)] + ["slack:event:Ev3"]  # one retried

    accepted = await asyncio.gather(*(store.accept(key, "k", {"n": 1}, T0) for key in keys))

    assert accepted.count(True) == 20
    assert [accepted[3], accepted[-1]].count(True) == 1  # either of the two, not both
    assert await store.inbox_pending() == 20


async def test_a_write_that_fails_does_not_fail_the_ones_written_with_it(
    store: SqlCaseStore,
) -> None:
    group = GroupCommit(store.engine.begin)
    insert = statements(store.engine.dialect.name).accept

    def row(key: str, payload: dict[str, object]) -> dict[str, object]:
        return {"key": key, "kind": "k", "payload": payload, "received_at": T0, "attempts": 0}

    unstorable = {"at": object()}  # not JSON: this insert cannot be written
    results = await asyncio.gather(
        group.write(insert, row("ok-1", {})),
        group.write(insert, row("bad", unstorable)),
        group.write(insert, row("ok-2", {})),
        return_exceptions=True,
    )
    await group.close()

    assert len(results[0]) == 1 and len(results[2]) == 1  # inserted: RETURNING gave its id
    assert isinstance(results[1], StatementError)
    assert await store.inbox_pending() == 2


async def test_each_backend_runs_the_driver_its_name_says(
    store: SqlCaseStore, backend: str
) -> None:
    async with store.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
    # sqlite-fast runs statements inline on the loop; sqlite-plain through aiosqlite's thread.
    assert isinstance(driver, InlineConnection) is (backend == "sqlite")
    assert is_fast_sqlite(store.engine) is (backend == "sqlite")
