"""The merge step of a publish, written once: checks, dedupe, upsert, delete, all in its transaction.

Order matters. Empty keys and repeated keys are checked in staging before ref.T is touched, so
a refused file changes nothing; the unique index is made before the first upsert (ON CONFLICT
needs it, and it is what keeps the table's keys unique afterwards); new keys are counted before
the upsert, which reports inserts and updates as one number. The statements are in
sql/merge.py, spelled per dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..coltypes import Column
from ..errors import BadInputError
from .base import PublishPlan, PublishTx
from .sql import merge as sql

# duplicate_keys = "reject": told the rows set aside, as (row number, key as text), inside the
# publish transaction, so their rejects file is written before the tracking row that names it
Repeated = Callable[[list[tuple[int, str]]], None]


def merge(tx: PublishTx, plan: PublishPlan, current: Sequence[Column] | None, repeated: Repeated | None = None) -> str:
    """Merge staging into ref.T (made here on a first merge); returns what it did, for the result line."""
    d, ref = tx.sql.merge, f"{plan.ref_schema}.{plan.table}"
    _check_keys(tx, plan, current)
    _run(tx, sql.stage_index(d, plan))
    superseded = _reject(tx, plan, repeated) if plan.duplicate_keys == "reject" else _dedupe(tx, plan, ref)
    if current is None:
        _run(tx, sql.create_ref(d, plan))
    else:
        for statement, params in tx.sql.widen(plan, sorted(tx.widened & {c.name for c in current})):
            tx.session.execute(statement, params)
    _ensure_unique(tx, plan, ref)
    new = _count(tx, sql.inserted(d, plan))
    if d.name == "tsql":
        update = sql.update(d, plan)
        updated = tx.session.execute(update) if update else 0
        tx.session.execute(sql.insert_new(d, plan))
    else:
        updated = tx.session.execute(sql.upsert(d, plan)) - new
    deleted = tx.session.execute(sql.delete_missing(d, plan)) if plan.delete_missing else 0
    said = f"merged on {', '.join(plan.keys)}: {new:,} inserted, {updated:,} updated"
    said += f", {deleted:,} deleted (not in the file)" if plan.delete_missing else ""
    if superseded and plan.duplicate_keys == "reject":
        said += f"; {superseded:,} row(s) of repeated keys rejected (duplicate_keys = \"reject\")"
    elif superseded:
        said += f"; {superseded:,} row(s) superseded by the {plan.duplicate_keys} row of the same key"
    return said


def _check_keys(tx: PublishTx, plan: PublishPlan, current: Sequence[Column] | None) -> None:
    names = [c.name for c in plan.columns]
    missing = [k for k in plan.keys if k not in names]
    if missing:
        raise BadInputError(f"merge key {missing} is not a column of the file (columns: {names})")
    if current is not None and (absent := [k for k in plan.keys if k not in {c.name for c in current}]):
        raise BadInputError(f"merge key {absent} is not a column of {plan.ref_schema}.{plan.table}")
    row = _first(tx, sql.null_keys(tx.sql.merge, plan))
    if row is not None:
        raise BadInputError(f"data row {row}: a merge key ({', '.join(plan.keys)}) is empty; a row without a "
                            "key cannot be merged; nothing merged")


def _dedupe(tx: PublishTx, plan: PublishPlan, ref: str) -> int:
    """Rows of a key repeated in the file: the policy's row stays, or the file is refused."""
    d = tx.sql.merge
    rows = tx.session.query(sql.duplicates(d, plan, plan.duplicate_keys))
    count, first = (int(rows[0][0] or 0), rows[0][1]) if rows else (0, None)
    if not count:
        return 0
    if plan.duplicate_keys == "fail":
        raise BadInputError(f"data row {first} repeats the key ({', '.join(plan.keys)}) of an earlier row "
                            f"({count:,} repeated row(s)); nothing merged into {ref} (duplicate_keys = \"last\" "
                            "or \"first\" keeps one of them)")
    tx.session.execute(sql.dedupe(d, plan, plan.duplicate_keys))
    return count


def _reject(tx: PublishTx, plan: PublishPlan, repeated: Repeated | None) -> int:
    """Every row of a key the file repeats is set aside for the rejects file: which of them is
    right is the sender's call, not the loader's. The other rows merge."""
    d = tx.sql.merge
    rows = tx.session.query(sql.repeated_rows(d, plan))
    if repeated is None:  # no rejects file to put them in (not reached from load.py)
        raise BadInputError("duplicate_keys = \"reject\" needs a rejects file; nothing merged")
    repeated([(int(r[0]), ", ".join(str(v) for v in r[1:])) for r in rows])
    if rows:
        tx.session.execute(sql.drop_repeated(d, plan))
    return len(rows)


def _ensure_unique(tx: PublishTx, plan: PublishPlan, ref: str) -> None:
    """The first merge into a table makes its unique index; a table whose keys repeat is refused."""
    d = tx.sql.merge
    statement, params = sql.index_exists(d, plan)
    if tx.session.query(statement, params):
        return
    repeated = _count(tx, sql.table_duplicates(d, plan))
    if repeated:
        raise BadInputError(f"{ref} has {repeated:,} key(s) ({', '.join(plan.keys)}) that repeat: a merge needs "
                            "unique keys; nothing merged (de-duplicate the table, or load it with fullload)")
    _run(tx, sql.unique_index(d, plan))


def _count(tx: PublishTx, statement: str) -> int:
    return int(_first(tx, statement) or 0)


def _first(tx: PublishTx, statement: str) -> Any:
    rows = tx.session.query(statement)
    return rows[0][0] if rows else None


def _run(tx: PublishTx, statement: str) -> None:
    tx.session.execute(statement)
