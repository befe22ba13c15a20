"""The one Tracker on every database: the ledger the service recovers from and `loader status` reads."""

from __future__ import annotations

import datetime as dt

from loader.coltypes import Mode, Status
from loader.targets import publish
from loader.track import now

from .conftest import Db
from .fix_targets import opened, staged, started


def test_a_record_starts_loading_and_ends_as_written(service_db: Db) -> None:
    target = opened(service_db)
    try:
        rec = started(target)
        [row] = target.tracker.loads_of_file(rec.file_path)
        assert (row["load_id"], row["status"], row["mode"]) == (rec.load_id, "loading", "fullload")
        assert [r["load_id"] for r in target.tracker.unfinished_loads()] == [rec.load_id]
        rec.rows_read, rec.error = 7, "bad line 3"
        rec.finish(Status.FAILED)
        target.tracker.record_end(rec)
        [row] = target.tracker.loads_of_file(rec.file_path)
        assert (row["status"], row["rows_read"], row["error"]) == ("failed", 7, "bad line 3")
        assert target.tracker.unfinished_loads() == []
    finally:
        target.close()


def test_mark_interrupted_only_once(service_db: Db) -> None:
    target = opened(service_db)
    try:
        rec = started(target)
        assert target.tracker.mark_interrupted(rec.load_id, "process 1 died") is True
        assert target.tracker.mark_interrupted(rec.load_id, "again") is False
        [row] = target.tracker.loads_of_file(rec.file_path)
        assert (row["status"], row["error"]) == ("failed", "process 1 died")
        assert row["finished_at"] is not None and row["rows_loaded"] == 0
    finally:
        target.close()


def test_duplicates_count_only_since_the_last_full_load(service_db: Db) -> None:
    target = opened(service_db)
    try:
        assert target.tracker.find_duplicate("abc", "ref", "t") is None
        first = started(target, mode=Mode.APPEND, sha256="abc")
        publish(target, staged(target, first, range(3)), first)
        assert target.tracker.find_duplicate("abc", "ref", "t") == first.load_id
        assert target.tracker.find_duplicate("abc", "ref", "other") is None
        assert target.tracker.find_duplicate("xyz", "ref", "t") is None
        full = started(target, sha256="def")
        publish(target, staged(target, full, range(2)), full)
        assert target.tracker.find_duplicate("abc", "ref", "t") is None  # that version is gone
    finally:
        target.close()


def test_recent_loads_newest_first_and_limited(service_db: Db) -> None:
    target = opened(service_db)
    try:
        recs = [started(target, table=f"t{i}") for i in range(4)]
        recent = target.tracker.recent_loads(2)
        assert [r["load_id"] for r in recent] == [recs[3].load_id, recs[2].load_id]
    finally:
        target.close()


def test_summary_counts_per_status_in_total_and_recently(service_db: Db) -> None:
    target = opened(service_db)
    try:
        old, new = started(target, table="a"), started(target, table="b")
        for rec, rows in ((old, 10), (new, 5)):
            rec.rows_loaded = rows
            rec.finish(Status.LOADED)
        old.finished_at = now() - dt.timedelta(days=3)
        for rec in (old, new):
            target.tracker.record_end(rec)
        summary = {r["status"]: r for r in target.tracker.summary(now() - dt.timedelta(days=1))}
    finally:
        target.close()
    loaded = summary["loaded"]
    assert (loaded["files"], loaded["rows"], loaded["files_recent"], loaded["rows_recent"]) == (2, 15, 1, 5)
