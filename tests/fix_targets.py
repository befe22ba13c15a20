"""Helpers for driving a target by hand: a staged batch, a plan, a started tracking row."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

import loader.readers  # noqa: F401  first: importing loader.rejects before loader.readers is a cycle
from loader.coltypes import Column, ColumnType, Mode
from loader.targets import PublishPlan, Target, open_target
from loader.targets.base import BACKUP_STAMP, backup_name, stage_name
from loader.track import LoadRecord

from .conftest import Db

COLUMNS = [Column("id", ColumnType("bigint")), Column("name", ColumnType("text"))]


def opened(db: Db) -> Target:
    target = open_target(db.settings())
    target.ensure_ready()
    return target


def started(target: Target, table: str = "t", mode: str = Mode.FULLLOAD, sha256: str = "") -> LoadRecord:
    rec = LoadRecord(file_path=f"/in/{table}.csv", schema_name="ref", table_name=table, mode=Mode(mode),
                     sha256=sha256)
    target.tracker.record_start(rec)
    return rec


def staged(target: Target, rec: LoadRecord, ids: range, keep: int = 3, when: dt.datetime | None = None) -> PublishPlan:
    """Stage rows `ids` for `rec` and return the plan that publishes them."""
    stage = stage_name(rec.table_name, rec.load_id)
    target.create_stage("stage", stage, COLUMNS)
    batch = pa.record_batch([pa.array(list(ids), pa.int64()), pa.array([f"n{i}" for i in ids])],
                            names=["id", "name"])
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch])
    target.write_stage("stage", stage, reader, lambda row, col, why: ValueError(why))
    stamp = (when or dt.datetime.now(dt.UTC)).strftime(BACKUP_STAMP)
    return PublishPlan(str(rec.mode), "ref", "bkp", "stage", rec.table_name, stage, tuple(COLUMNS), keep,
                       backup_name(rec.table_name, stamp))
