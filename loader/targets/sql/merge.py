"""Merge on keys, spelled per dialect: pure statement builders, each parsed by sqlglot in tests.

A merge publishes staging into ref.T by key, inside the same single transaction as every publish:
rows whose key exists are updated (only where a value differs, so an unchanged row is not
rewritten), new keys inserted, and with delete_missing the rows whose key the file lacks deleted.

Staging carries one extra column, ROW (the data row's number in the file, added to the Arrow
batches as they stream), because "the last row of a key wins" needs the file's order and
staging has none: two COPY streams interleave, and heap order is no promise in any database.

- SQLite and PostgreSQL: INSERT … SELECT … ON CONFLICT (keys) DO UPDATE … WHERE a value differs.
  It needs a unique index on the keys, which the first merge creates (after checking that the
  table's keys are unique, so the failure is ours to explain). PostgreSQL's MVCC shows readers
  the old table until commit; SQLite's rollback journal does the same.
- SQL Server: UPDATE … FROM … JOIN, then INSERT … WHERE NOT EXISTS. MERGE is avoided (its
  documented race and bug history); the UPDATE takes TABLOCKX, held to commit, so a reader at
  READ COMMITTED waits for the whole merge instead of seeing rows before and after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...coltypes import Column
from ..base import PublishPlan, Statement

ROW = "_loader_row"  # staging only: the data row's number in the file, for duplicate keys
DUPLICATE_KEYS = ("last", "first", "fail")  # which row of a repeated key the merge keeps, or refuse the file


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" | "postgres" | "tsql": how the upsert and the DELETE head are spelled
    quote: Callable[[str], str]
    mark: str  # the parameter marker
    create: Callable[[str, str, Sequence[Column]], str]


def index_name(table: str, keys: Sequence[str]) -> str:
    """Stable, short (PostgreSQL allows 63 bytes) and specific to the key columns."""
    digest = hashlib.sha256("\x00".join(keys).encode()).hexdigest()[:8]
    return f"{table[:40]}_key_{digest}"


def _q(d: Dialect, schema: str, table: str) -> str:
    return f"{d.quote(schema)}.{d.quote(table)}"


def _on(d: Dialect, keys: Sequence[str], a: str, b: str) -> str:
    return " AND ".join(f"{a}.{d.quote(k)} = {b}.{d.quote(k)}" for k in keys)


def _cols(d: Dialect, plan: PublishPlan, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{d.quote(c.name)}" for c in plan.columns)


def null_keys(d: Dialect, plan: PublishPlan) -> str:
    """The first data row with an empty key: a key that matches nothing cannot be merged."""
    empty = " OR ".join(f"{d.quote(k)} IS NULL" for k in plan.keys)
    return f"SELECT min({d.quote(ROW)}) FROM {_q(d, plan.stage_schema, plan.stage)} WHERE {empty}"


def stage_index(d: Dialect, plan: PublishPlan) -> str:
    """Keys and row number indexed in staging: finding repeated keys is then a merge join, not n²."""
    cols = ", ".join(d.quote(k) for k in (*plan.keys, ROW))
    name = d.quote(f"{plan.stage}_k")
    if d.name == "sqlite":  # an index lives in its table's attached file
        return f"CREATE INDEX {d.quote(plan.stage_schema)}.{name} ON {d.quote(plan.stage)} ({cols})"
    return f"CREATE INDEX {name} ON {_q(d, plan.stage_schema, plan.stage)} ({cols})"


def _later(d: Dialect, plan: PublishPlan, keep: str, row: str) -> str:
    """Another row of the same key wins over `row`: a later one under 'last', an earlier under 'first'."""
    op = ">" if keep == "last" else "<"
    return (f"EXISTS (SELECT 1 FROM {_q(d, plan.stage_schema, plan.stage)} AS w "
            f"WHERE {_on(d, plan.keys, 'w', row)} AND w.{d.quote(ROW)} {op} {row}.{d.quote(ROW)})")


def duplicates(d: Dialect, plan: PublishPlan, keep: str) -> str:
    """Rows: how many rows lose to another row of their key, and the first of them."""
    return (f"SELECT count(*), min(s.{d.quote(ROW)}) FROM {_q(d, plan.stage_schema, plan.stage)} AS s "
            f"WHERE {_later(d, plan, 'first' if keep == 'fail' else keep, 's')}")


def dedupe(d: Dialect, plan: PublishPlan, keep: str) -> str:
    return _delete(d, plan.stage_schema, plan.stage, _later(d, plan, keep, "s"))


def _repeated(d: Dialect, plan: PublishPlan) -> str:
    """Another row of the file has the same key (duplicate_keys = "reject" sets every one of them aside)."""
    return (f"EXISTS (SELECT 1 FROM {_q(d, plan.stage_schema, plan.stage)} AS w "
            f"WHERE {_on(d, plan.keys, 'w', 's')} AND w.{d.quote(ROW)} <> s.{d.quote(ROW)})")


def repeated_rows(d: Dialect, plan: PublishPlan) -> str:
    """Rows: the row number and the key of every row whose key the file repeats, in file order."""
    keys = ", ".join(f"s.{d.quote(k)}" for k in plan.keys)
    return (f"SELECT s.{d.quote(ROW)}, {keys} FROM {_q(d, plan.stage_schema, plan.stage)} AS s "
            f"WHERE {_repeated(d, plan)} ORDER BY s.{d.quote(ROW)}")


def drop_repeated(d: Dialect, plan: PublishPlan) -> str:
    return _delete(d, plan.stage_schema, plan.stage, _repeated(d, plan))


def _delete(d: Dialect, schema: str, table: str, where: str) -> str:
    if d.name == "tsql":
        return f"DELETE s FROM {_q(d, schema, table)} AS s WHERE {where}"
    return f"DELETE FROM {_q(d, schema, table)} AS s WHERE {where}"


def index_exists(d: Dialect, plan: PublishPlan) -> Statement:
    name = index_name(plan.table, plan.keys)
    if d.name == "sqlite":
        return f"SELECT 1 FROM {d.quote(plan.ref_schema)}.sqlite_master WHERE type = 'index' AND name = ?", (name,)
    if d.name == "postgres":
        return "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND tablename = %s AND indexname = %s", (
            plan.ref_schema, plan.table, name)
    return "SELECT 1 FROM sys.indexes WHERE name = ? AND object_id = OBJECT_ID(?)", (
        name, _q(d, plan.ref_schema, plan.table))


def table_duplicates(d: Dialect, plan: PublishPlan) -> str:
    """Keys that repeat in ref.T already: the unique index cannot be made, and the merge is refused."""
    keys = ", ".join(d.quote(k) for k in plan.keys)
    return (f"SELECT count(*) FROM (SELECT {keys} FROM {_q(d, plan.ref_schema, plan.table)} "
            f"GROUP BY {keys} HAVING count(*) > 1) AS r")


def unique_index(d: Dialect, plan: PublishPlan) -> str:
    keys = ", ".join(d.quote(k) for k in plan.keys)
    name = d.quote(index_name(plan.table, plan.keys))
    if d.name == "sqlite":
        return f"CREATE UNIQUE INDEX {d.quote(plan.ref_schema)}.{name} ON {d.quote(plan.table)} ({keys})"
    return f"CREATE UNIQUE INDEX {name} ON {_q(d, plan.ref_schema, plan.table)} ({keys})"


def create_ref(d: Dialect, plan: PublishPlan) -> str:
    """A first merge: the table as staging would have made it, without the row number."""
    return d.create(plan.ref_schema, plan.table, plan.columns)


def inserted(d: Dialect, plan: PublishPlan) -> str:
    """How many staged keys are new (counted before the upsert, which reports inserts and updates as one)."""
    return (f"SELECT count(*) FROM {_q(d, plan.stage_schema, plan.stage)} AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {_q(d, plan.ref_schema, plan.table)} AS t WHERE {_on(d, plan.keys, 't', 's')})")


def _values(plan: PublishPlan) -> list[str]:
    return [c.name for c in plan.columns if c.name not in plan.keys]


def _compared(plan: PublishPlan) -> list[str]:
    """A row changed when a value of the file differs: lineage (a new load id each time) does not count."""
    return [v for v in _values(plan) if v not in plan.lineage]


def upsert(d: Dialect, plan: PublishPlan) -> str:
    """SQLite and PostgreSQL: one statement, rows counted = inserted + updated."""
    target, values = _q(d, plan.ref_schema, plan.table), _values(plan)
    keys = ", ".join(d.quote(k) for k in plan.keys)
    head = (f"INSERT INTO {target} AS t ({_cols(d, plan)}) SELECT {_cols(d, plan)} "
            f"FROM {_q(d, plan.stage_schema, plan.stage)} WHERE true ON CONFLICT ({keys}) DO ")
    if not values:
        return head + "NOTHING"
    sets = ", ".join(f"{d.quote(v)} = excluded.{d.quote(v)}" for v in values)
    distinct = "IS NOT" if d.name == "sqlite" else "IS DISTINCT FROM"
    changed = " OR ".join(f"t.{d.quote(v)} {distinct} excluded.{d.quote(v)}" for v in _compared(plan))
    return head + f"UPDATE SET {sets}" + (f" WHERE {changed}" if changed else "")


def update(d: Dialect, plan: PublishPlan) -> str | None:
    """SQL Server: rows whose key exists and whose values differ (EXCEPT compares NULLs as equal)."""
    values = _values(plan)
    if not values:
        return None
    sets = ", ".join(f"t.{d.quote(v)} = s.{d.quote(v)}" for v in values)
    mine = ", ".join(f"t.{d.quote(v)}" for v in _compared(plan))
    theirs = ", ".join(f"s.{d.quote(v)}" for v in _compared(plan))
    return (f"UPDATE t SET {sets} FROM {_q(d, plan.ref_schema, plan.table)} AS t WITH (TABLOCKX) "
            f"INNER JOIN {_q(d, plan.stage_schema, plan.stage)} AS s ON {_on(d, plan.keys, 't', 's')}"
            + (f" WHERE EXISTS (SELECT {mine} EXCEPT SELECT {theirs})" if mine else ""))


def insert_new(d: Dialect, plan: PublishPlan) -> str:
    """SQL Server: the keys ref.T does not have yet."""
    return (f"INSERT INTO {_q(d, plan.ref_schema, plan.table)} ({_cols(d, plan)}) "
            f"SELECT {_cols(d, plan, 's.')} FROM {_q(d, plan.stage_schema, plan.stage)} AS s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {_q(d, plan.ref_schema, plan.table)} AS t WHERE {_on(d, plan.keys, 't', 's')})")


def delete_missing(d: Dialect, plan: PublishPlan) -> str:
    """A full sync that keeps row identity: rows whose key the file no longer has go."""
    return _delete(d, plan.ref_schema, plan.table,
                   f"NOT EXISTS (SELECT 1 FROM {_q(d, plan.stage_schema, plan.stage)} AS w "
                   f"WHERE {_on(d, plan.keys, 'w', 's')})")


def all_statements(d: Dialect, plan: PublishPlan) -> list[str]:
    """Every statement text a merge can emit in this dialect, for the parse tests."""
    texts = [null_keys(d, plan), stage_index(d, plan), table_duplicates(d, plan), unique_index(d, plan),
             create_ref(d, plan), inserted(d, plan), delete_missing(d, plan), index_exists(d, plan)[0]]
    texts += [f(d, plan, keep) for keep in ("last", "first") for f in (duplicates, dedupe)]
    texts += [repeated_rows(d, plan), drop_repeated(d, plan)]
    if d.name == "tsql":
        texts += [s for s in (update(d, plan), insert_new(d, plan)) if s]
    else:
        texts.append(upsert(d, plan))
    return texts
