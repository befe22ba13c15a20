"""The statements a database source runs, as pure functions per source dialect (parsed in tests).

A source's own query is wrapped, never edited: `SELECT … FROM (<query>) AS q WHERE q.col > ?`,
so a user's query (joins, CTE-free selects, views) keeps its meaning and the window is added by
the loader. Identifiers (a table, a watermark column) are validated and quoted; watermark values
only ever travel as parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import UsageError
from ..naming import check_identifier


@dataclass(frozen=True)
class SourceDialect:
    name: str  # the sqlglot dialect the tests parse with
    quote: Callable[[str], str]
    marks: Callable[[int], str]  # the i-th (1-based) placeholder


def _dq(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bracket(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


DIALECTS = {
    "postgres": SourceDialect("postgres", _dq, lambda i: f"${i}"),  # ADBC PostgreSQL binds $n
    "sqlite": SourceDialect("sqlite", _dq, lambda i: "?"),
    "snowflake": SourceDialect("snowflake", _dq, lambda i: "?"),
    "tsql": SourceDialect("tsql", _bracket, lambda i: "?"),
    "odbc": SourceDialect("postgres", _dq, lambda i: "?"),  # ODBC to a non-SQL-Server database: ANSI quoting
}


def check_query(query: str) -> str:
    """One SELECT without its trailing semicolon: it becomes a derived table."""
    q = query.strip().rstrip(";").strip()
    if not q:
        raise UsageError("the source query is empty")
    if ";" in _without_strings(q):
        raise UsageError("the source query must be a single statement (it holds a ';')")
    return q


def _without_strings(q: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "''", q)


def table_query(d: SourceDialect, qualified: str) -> str:
    """`schema.name` (or `name`) as a query; each part validated, then quoted."""
    parts = qualified.split(".")
    if not 1 <= len(parts) <= 3:
        raise UsageError(f"--source-table {qualified!r}: expected name, schema.name or database.schema.name")
    return "SELECT * FROM " + ".".join(d.quote(check_identifier(p, "source table")) for p in parts)


def window(d: SourceDialect, query: str, column: str | None, lower: bool, upper: bool,
           select: Sequence[str] | None = None) -> str:
    """The rows of the source in (lower, upper] of the watermark column; `select` the expressions to read."""
    cols = ", ".join(select) if select else "*"
    conditions = []
    if column is not None:
        col = f"q.{d.quote(column)}"
        if lower:
            conditions.append(f"{col} > {d.marks(1)}")
        if upper:
            conditions.append(f"{col} <= {d.marks(len(conditions) + 1)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {cols} FROM ({query}) AS q{where}"


def empty(d: SourceDialect, query: str, select: Sequence[str] | None = None) -> str:
    """No rows, every column: the schema of the query (and what an empty window reads)."""
    return window(d, query, None, False, False, select) + " WHERE 1 = 0"


def bounds(d: SourceDialect, query: str, column: str) -> str:
    """The window's end and the rows it could never hold: max(column), and how many rows have NULL there."""
    col = f"q.{d.quote(column)}"
    return f"SELECT max({col}), sum(CASE WHEN {col} IS NULL THEN 1 ELSE 0 END) FROM ({query}) AS q"


def as_text(d: SourceDialect, names: Sequence[str], booleans: Sequence[str] = ()) -> list[str]:
    """SQLite: every column read as its text, so one odd value never changes a column's Arrow type
    mid-stream; the loader's own casts then type it (and name the value that does not fit).
    Booleans stored as 0/1 become 'false'/'true'; any other value stays as written (and fails)."""
    out = []
    for n in names:
        col = f"q.{d.quote(n)}"
        if n in booleans:
            out.append(f"CASE WHEN {col} IN (1, '1') THEN 'true' WHEN {col} IN (0, '0') THEN 'false' "
                       f"ELSE CAST({col} AS TEXT) END AS {d.quote(n)}")
        else:
            out.append(f"CAST({col} AS TEXT) AS {d.quote(n)}")
    return out


PROBE_VIEW = "loader_source_probe"


def probe_view(query: str) -> list[str]:
    """SQLite: a temporary view over the query shows the declared types of its columns."""
    return [f"DROP VIEW IF EXISTS temp.{_dq(PROBE_VIEW)}", f"CREATE TEMP VIEW {_dq(PROBE_VIEW)} AS {query}",
            f"PRAGMA temp.table_info({_dq(PROBE_VIEW)})"]
