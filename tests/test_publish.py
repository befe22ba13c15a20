"""The one publish algorithm on every database: swap with backups, append, the tracking row in the
same transaction, and a failure that leaves the old table and the 'loading' row as they were."""

from __future__ import annotations

import datetime as dt

import pytest

from loader.coltypes import Mode
from loader.errors import LoaderError
from loader.targets import publish
from loader.targets.base import Capabilities

from .conftest import Db
from .fix_targets import opened, staged, started


def status_of(db: Db, load_id: str) -> str:
    return next(r["status"] for r in db.tracking() if r["load_id"] == load_id)


def test_first_fullload_creates_the_table_and_records_it(service_db: Db) -> None:
    target = opened(service_db)
    try:
        rec = started(target)
        assert publish(target, staged(target, rec, range(5)), rec) is None
    finally:
        target.close()
    assert service_db.query("SELECT count(*), sum(id) FROM ref.t") == [(5, 10)]
    assert status_of(service_db, rec.load_id) == "loaded"


def test_fullload_moves_the_old_table_to_bkp_and_prunes(service_db: Db) -> None:
    target = opened(service_db)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    try:
        backups = []
        for n in range(1, 5):
            rec = started(target)
            plan = staged(target, rec, range(n), keep=2, when=start + dt.timedelta(days=n))
            backups.append(publish(target, plan, rec))
            target.drop_stage("stage", plan.stage)
    finally:
        target.close()
    assert backups[0] is None and all(b and b.startswith("bkp.t_2024010") for b in backups[1:])
    assert service_db.query("SELECT count(*) FROM ref.t") == [(4,)]
    assert service_db.tables("bkp") == ["t_20240104000000", "t_20240105000000"]  # the newest 2 of 3
    assert service_db.query("SELECT count(*) FROM bkp.t_20240105000000") == [(3,)]


def test_no_backups_kept_drops_the_old_table(service_db: Db) -> None:
    target = opened(service_db)
    try:
        for n in (2, 3):
            rec = started(target)
            assert publish(target, staged(target, rec, range(n), keep=0), rec) is None
    finally:
        target.close()
    assert service_db.query("SELECT count(*) FROM ref.t") == [(3,)]
    assert service_db.tables("bkp") == []


def test_append_adds_rows_and_keeps_no_backup(service_db: Db) -> None:
    target = opened(service_db)
    try:
        for ids in (range(3), range(3, 10)):
            rec = started(target, mode=Mode.APPEND)
            assert publish(target, staged(target, rec, ids), rec) is None
    finally:
        target.close()
    assert service_db.query("SELECT count(*), sum(id) FROM ref.t") == [(10, 45)]
    assert service_db.tables("bkp") == []


def test_a_failed_publish_leaves_table_and_record_as_they_were(service_db: Db) -> None:
    target = opened(service_db)
    try:
        rec = started(target)
        publish(target, staged(target, rec, range(4)), rec)
        second = started(target)
        plan = staged(target, second, range(9))
        target.drop_stage("stage", plan.stage)  # the promote step now fails, after the old table moved
        with pytest.raises(LoaderError):
            publish(target, plan, second)
    finally:
        target.close()
    assert service_db.query("SELECT count(*) FROM ref.t") == [(4,)]
    assert service_db.tables("bkp") == []
    assert status_of(service_db, second.load_id) == "loading"


def test_capabilities_are_declared_not_asked() -> None:
    from loader.targets.mssql import MssqlTarget
    from loader.targets.pg_odbc import PgOdbcTarget
    from loader.targets.postgres import PostgresTarget
    from loader.targets.sqlite import SqliteTarget

    declared = {cls: cls.capabilities for cls in (SqliteTarget, PostgresTarget, PgOdbcTarget, MssqlTarget)}
    assert all(isinstance(c, Capabilities) for c in declared.values())
    assert [cls for cls, c in declared.items() if c.direct_append] == [PostgresTarget]
    assert declared[MssqlTarget].publish_attempts > 1 and declared[SqliteTarget].publish_attempts == 1
    assert not declared[SqliteTarget].multi_host
    for cls in declared:
        assert not hasattr(cls, "kind") and not hasattr(cls, "direct_append")
