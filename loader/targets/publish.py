"""The publish algorithm, written once: every database runs these steps in its one transaction.

fullload: the old ref.T moves to bkp under a free backup name (or is dropped when no backup is
kept), staging becomes ref.T, backups beyond the newest K are dropped. append: insert-select
from staging into ref.T (a first append creates ref.T as a fullload would). merge: by key
(merging.py). Either way the
tracking row is written in the same transaction, so data and record never disagree. What
differs per database is only how each step is spelled: targets/sql/<dialect>.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ..coltypes import Column, Mode, Status
from ..errors import TableBusyError
from ..track import LoadRecord
from . import merging
from .base import PublishPlan, PublishTx, Statement, Target, backups_to_drop, free_backup_name

log = logging.getLogger("loader")


def publish(target: Target, plan: PublishPlan, rec: LoadRecord, repeated: merging.Repeated | None = None) -> str | None:
    """Swap or append, prune backups and write `rec` in ONE transaction; returns the backup made.

    A transaction that loses a lock race is retried whole, where the target says that helps.
    """
    attempts = target.capabilities.publish_attempts
    for attempt in range(1, attempts + 1):
        try:
            return _publish_once(target, plan, rec, repeated)
        except TableBusyError as e:
            if attempt == attempts:
                raise
            log.warning("publish of %s.%s: %s; retrying (%d/%d)", plan.ref_schema, plan.table, e, attempt, attempts)
            time.sleep(attempt)
    return None  # not reached: the last attempt returns or raises


def _publish_once(target: Target, plan: PublishPlan, rec: LoadRecord, repeated: merging.Repeated | None) -> str | None:
    with target.publishing(plan) as tx:
        current = target.existing_columns(plan.ref_schema, plan.table)
        backup = None
        for col in plan.new_columns if current is not None else ():  # schema_drift = add_columns
            _run(tx, [tx.sql.add_column(plan.ref_schema, plan.table, col)])
        if plan.retype and current is not None:  # widen_types: before any row goes in
            _run(tx, tx.sql.retype(plan, [*current, *plan.new_columns], _indexes(tx, plan)))
        if plan.mode == Mode.MERGE:
            rec.note(merging.merge(tx, plan, current, repeated))  # on the result line and in the tracking row
        elif current is not None and plan.mode == Mode.APPEND:
            widen = sorted(tx.widened & {c.name for c in current})  # the table must hold what staging held
            _run(tx, tx.sql.append(plan, widen))
        else:
            if current is not None:
                backup = _retire(tx, plan, current)
            _run(tx, tx.sql.promote(plan))
        for old in backups_to_drop(plan.table, _tables(tx, plan.bkp_schema), plan.backups_keep):
            _run(tx, [tx.sql.drop(plan.bkp_schema, old)])
        rec.backup_table = f"{plan.bkp_schema}.{backup}" if backup else None
        rec.finish(Status.LOADED)
        target.tracker.record_end(rec)
    return rec.backup_table


def _retire(tx: PublishTx, plan: PublishPlan, current: Sequence[Column]) -> str | None:
    """Move the old ref.T out of the way: to bkp when backups are kept, else dropped."""
    backup = None
    if plan.backups_keep > 0:
        backup = free_backup_name(plan.backup_name, set(_tables(tx, plan.bkp_schema)))
    _run(tx, tx.sql.retire(plan, backup, current))
    return backup


def _indexes(tx: PublishTx, plan: PublishPlan) -> list[str]:
    """The DDL of ref.T's indexes, for a dialect that rebuilds the table to widen a column."""
    if tx.sql.indexes is None:
        return []
    sql, params = tx.sql.indexes(plan.ref_schema, plan.table)
    return [str(r[0]) for r in tx.session.query(sql, params)]


def _tables(tx: PublishTx, schema: str) -> list[str]:
    sql, params = tx.sql.tables(schema)
    return [str(r[0]) for r in tx.session.query(sql, params)]


def _run(tx: PublishTx, statements: Sequence[Statement]) -> None:
    for sql, params in statements:
        tx.session.execute(sql, params)
