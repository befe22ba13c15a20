"""The tracker's new reads (a load by id, a filtered page, tables, backups, throughput, hosts) on real databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from loader.coltypes import Mode, Status
from loader.targets import Target, open_target
from loader.track import LoadRecord

from .conftest import Db


@pytest.fixture
def target(db: Db) -> Iterator[Target]:
    t = open_target(db.settings())
    t.ensure_ready()
    yield t
    t.close()


def _record(t: Target, i: int, route: str, status: Status, table: str = "t", start: dt.datetime | None = None,
            **extra: object) -> LoadRecord:
    rec = LoadRecord(f"/drop/processing/c{i}/f{i}.csv", "ref", table, Mode.FULLLOAD, route=route,
                     started_at=start or dt.datetime(2026, 1, 1, 10, 0, 0) + dt.timedelta(seconds=i))
    t.tracker.record_start(rec)
    rec.finish(status)
    rec.finished_at = rec.started_at + dt.timedelta(seconds=1)
    rec.rows_loaded = 10 * i
    for k, v in extra.items():
        setattr(rec, k, v)
    t.tracker.record_end(rec)
    return rec


def test_a_page_of_loads_filters_and_pages_newest_first(target: Target) -> None:
    recs = [_record(target, i, "a" if i % 2 else "b", Status.FAILED if i % 3 == 0 else Status.LOADED)
            for i in range(1, 13)]
    tr = target.tracker
    first = tr.loads_page(limit=5)
    assert [r["load_id"] for r in first] == [r.load_id for r in reversed(recs)][:5]
    cursor = (first[-1]["started_at"], str(first[-1]["load_id"]))
    if isinstance(cursor[0], str):
        cursor = (dt.datetime.fromisoformat(cursor[0]), cursor[1])
    second = tr.loads_page(limit=5, before=cursor)  # type: ignore[arg-type]
    assert [r["load_id"] for r in second] == [r.load_id for r in reversed(recs)][5:10]
    only_a = tr.loads_page(route="a", limit=100)
    assert {r["route"] for r in only_a} == {"a"} and len(only_a) == 6
    failed_b = tr.loads_page(route="b", status="failed", limit=100)
    assert sorted(r["load_id"] for r in failed_b) == sorted(r.load_id for r in recs if r.route == "b"
                                                            and r.status == Status.FAILED)
    since = tr.loads_page(since=dt.datetime(2026, 1, 1, 10, 0, 10), limit=100)
    assert len(since) == 3
    assert tr.load_by_id(recs[3].load_id)["file_name"] == "f4.csv"  # type: ignore[index]
    assert tr.load_by_id("nope") is None


def test_tables_backups_counts_throughput_and_hosts(target: Target, db: Db) -> None:
    _record(target, 1, "a", Status.LOADED, table="t1", backup_table="bkp.t1_20260101100001")
    _record(target, 2, "a", Status.LOADED, table="t1", backup_table="bkp.t1_20260101100002")
    _record(target, 3, "a", Status.FAILED, table="t2")
    tr = target.tracker
    tables = tr.tables()
    assert [(s, t, n) for s, t, n, _ in tables] == [("ref", "t1", 2)], "only tables a file was loaded into"
    assert [b for b, _ in tr.backups("ref", "t1", 1)] == ["bkp.t1_20260101100002"]
    assert len(tr.backups("ref", "t1", 5)) == 2 and tr.backups("ref", "t1", 0) == []
    assert tr.count_rows("loader" if db.kind != "sqlite" else "main", "loader_files") == 3
    got = tr.throughput(dt.datetime(2026, 1, 1, 10, 0, 2, 500000))
    assert sorted(rows for _, rows, _ in got) == [20]
    hosts = tr.hosts(dt.datetime(2026, 1, 1))
    assert len(hosts) == 1 and hosts[0][3] == 3
