"""The load paths measured side by side: the loader and the databases' own bulk tools.

Each path resets its target, gives the command that loads the file, and checks what arrived
(row count; for gen.py files the sums, NULL counts and tricky values of its totals sidecar).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from measure import (
    BENCH_DIR,
    PG_COPY_TABLE,
    PG_DDL,
    PG_SCHEMAS,
    SQLITE_DDL,
    TABLE,
    Context,
    fresh_dir,
    pg_checkpoint,
    pg_fetch,
    pgloader_url,
    run_setup,
    sqlalchemy_url,
)

# -- the paths -------------------------------------------------------------------------------------

class LoadPath:
    """One way of loading the file: reset the target, give the command, check what arrived."""

    name = ""
    target = ""
    what = ""
    slow = False  # loads ctx.small_data (a prefix of the file) and runs --slow-rounds times
    copies = 1  # how many times the file's rows end up in the table (append onto a full load: 2)
    skip_checks: frozenset[str] = frozenset()  # value checks this path cannot pass by design (see `note`)
    note = ""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.stdout = ""

    @property
    def data(self) -> Path:
        return self.ctx.small_data if self.slow and self.ctx.small_data else self.ctx.data

    @property
    def expected_rows(self) -> int:
        return self.ctx.small_rows if self.slow and self.ctx.small_data else self.ctx.expected_rows

    @property
    def totals(self) -> dict | None:
        return self.ctx.small_totals if self.slow and self.ctx.small_data else self.ctx.totals

    def prepare(self, round_no: int) -> list[str]:
        """Reset the target to empty (not measured) and return the command to measure."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def cleanup(self) -> None:
        """Drop what the load made (not measured), so its after-effects do not land in the next path's time."""

    def query(self, sql: str) -> Any:
        raise NotImplementedError

    def table(self) -> str:
        raise NotImplementedError

    def typed(self) -> bool:
        """Whether the path keeps NULLs and exact decimals (the sqlite3 shell does not)."""
        return True

    def amount_sum(self) -> Decimal:
        return Decimal(str(self.query(f"SELECT sum(amount) FROM {self.table()}")))

    def verify(self) -> tuple[int, list[str]]:
        rows = int(self.query(f"SELECT count(*) FROM {self.table()}"))
        want = self.expected_rows * self.copies
        problems = [] if rows == want else [f"rows {rows} != {want}"]
        if self.totals is not None and not problems:
            problems += value_problems(self, self.totals)
        return rows, problems


class LoaderSqlite(LoadPath):
    name, target, what = "loader-sqlite", "sqlite", "`loader load` into SQLite: detect, stage, publish"

    def prepare(self, round_no: int) -> list[str]:
        self.dir = fresh_dir(self.ctx.work / self.name)
        return self.load_command("fullload")

    def load_command(self, mode: str) -> list[str]:
        return [self.ctx.loader, "--db", f"sqlite:///{self.dir / 'bench.db'}", "load", str(self.data),
                "--table", TABLE, "--mode", mode] + (["--force"] if mode == "append" else [])

    def query(self, sql: str) -> Any:
        with contextlib.closing(sqlite3.connect(self.dir / "bench.db")) as conn:
            conn.execute("ATTACH DATABASE ? AS ref", (str(self.dir / "bench.ref.db"),))
            return conn.execute(sql).fetchone()[0]

    def table(self) -> str:
        return f"ref.{TABLE}"

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def amount_sum(self) -> Decimal:
        """Decimals are stored as exact text in SQLite; SQL's sum() would round them to a double."""
        with contextlib.closing(sqlite3.connect(self.dir / "bench.ref.db")) as conn:
            rows = conn.execute(f"SELECT amount FROM {TABLE} WHERE amount IS NOT NULL")
            return sum((Decimal(v) for (v,) in rows), Decimal(0))


class LoaderSqliteAppend(LoaderSqlite):
    name, what = "loader-sqlite-append", "`loader load --mode append --force` onto a table holding the same file"
    copies = 2

    def prepare(self, round_no: int) -> list[str]:
        self.dir = fresh_dir(self.ctx.work / self.name)
        run_setup(self.load_command("fullload"), self.ctx.work, self.env())
        return self.load_command("append")


class LoaderSqliteReplace(LoaderSqlite):
    name, what = "loader-sqlite-replace", "`loader load` fullload replacing a table that holds the same file"

    def prepare(self, round_no: int) -> list[str]:
        self.dir = fresh_dir(self.ctx.work / self.name)
        run_setup(self.load_command("fullload"), self.ctx.work, self.env())
        return self.load_command("fullload")


class SqliteImport(LoadPath):
    name, target, what = "sqlite3-import", "sqlite", "sqlite3 shell `.import --csv` into a pre-created table"

    def prepare(self, round_no: int) -> list[str]:
        self.db = fresh_dir(self.ctx.work / self.name) / "bench.db"
        columns = ", ".join(f'"{n}" {SQLITE_DDL[kind_of(t)]}' for n, t in self.ctx.columns)
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            conn.execute(f"CREATE TABLE {TABLE} ({columns})")
        return [self.ctx.sqlite3, "-bail", str(self.db), f'.import --csv --skip 1 "{self.data}" {TABLE}']

    def query(self, sql: str) -> Any:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql).fetchone()[0]

    def table(self) -> str:
        return TABLE

    def cleanup(self) -> None:
        shutil.rmtree(self.db.parent, ignore_errors=True)

    def typed(self) -> bool:
        return False


class PostgresPath(LoadPath):
    """Shared by both PostgreSQL paths: resets and checks over short control connections."""

    target = "postgresql"

    def query(self, sql: str) -> Any:
        return pg_fetch(self.ctx.pg_url, sql)[0][0]


class LoaderPostgres(PostgresPath):
    name, what = "loader-pg", "`loader load` into PostgreSQL: detect, stage, publish"

    def prepare(self, round_no: int) -> list[str]:
        self.cleanup()
        return self.load_command("fullload")

    def load_command(self, mode: str) -> list[str]:
        return [self.ctx.loader, "--db", str(self.ctx.pg_url), "load", str(self.data),
                "--table", TABLE, "--mode", mode] + (["--force"] if mode == "append" else [])

    def env(self) -> dict[str, str]:
        return {f"LOADER_SCHEMAS__{k.upper()}": v for k, v in PG_SCHEMAS.items()}

    def table(self) -> str:
        return f"{PG_SCHEMAS['ref']}.{TABLE}"

    def cleanup(self) -> None:
        """Dropping the table also cancels the autovacuum that a million new rows start."""
        pg_fetch(self.ctx.pg_url, f"DROP SCHEMA IF EXISTS {', '.join(PG_SCHEMAS.values())} CASCADE")
        pg_checkpoint(self.ctx.pg_url)


class LoaderPostgresAppend(LoaderPostgres):
    name, what = "loader-pg-append", "`loader load --mode append --force` onto a table holding the same file"
    copies = 2

    def prepare(self, round_no: int) -> list[str]:
        self.cleanup()
        run_setup(self.load_command("fullload"), self.ctx.work, self.env())
        pg_checkpoint(self.ctx.pg_url)
        return self.load_command("append")


class LoaderPostgresBinary(LoaderPostgres):
    name, what = "loader-pg-binary", "`loader load` with database.raw_copy = false: binary COPY from Arrow (ADBC)"

    def env(self) -> dict[str, str]:
        return super().env() | {"LOADER_DATABASE__RAW_COPY": "false"}


class PgCopy(PostgresPath):
    name, what = "pg-copy", "PostgreSQL server-side `COPY ... FROM 'file'` into a pre-created table"

    def create_table(self) -> None:
        columns = ", ".join(f'"{n}" {pg_type(t)}' for n, t in self.ctx.columns)
        pg_fetch(self.ctx.pg_url, f"DROP TABLE IF EXISTS {PG_COPY_TABLE}; CREATE TABLE {PG_COPY_TABLE} ({columns})")
        pg_checkpoint(self.ctx.pg_url)

    def prepare(self, round_no: int) -> list[str]:
        self.create_table()
        literal = "'" + str(self.data).replace("'", "''") + "'"
        sql = f"COPY {PG_COPY_TABLE} FROM {literal} (FORMAT csv, HEADER true)"
        return [str(self.ctx.psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", str(self.ctx.pg_url), "-c", sql]

    def table(self) -> str:
        return PG_COPY_TABLE

    def cleanup(self) -> None:
        pg_fetch(self.ctx.pg_url, f"DROP TABLE IF EXISTS {PG_COPY_TABLE}")
        pg_checkpoint(self.ctx.pg_url)


class PsqlCopy(PgCopy):
    name, what = "psql-copy", "`psql \\copy ... FROM 'file'`: psql reads the file and streams it (COPY FROM STDIN)"

    def prepare(self, round_no: int) -> list[str]:
        self.create_table()
        literal = "'" + str(self.data).replace("'", "''") + "'"
        sql = f"\\copy {PG_COPY_TABLE} FROM {literal} WITH (FORMAT csv, HEADER true)"
        return [str(self.ctx.psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", str(self.ctx.pg_url), "-c", sql]


class PandasPg(PgCopy):
    name, what = "pandas-pg", ("pandas `read_csv(chunksize=50000)` + `to_sql(method='multi', chunksize=1000)` "
                               "via SQLAlchemy + psycopg into a pre-created table")
    slow = True
    skip_checks = frozenset({"NULLs in comment"})
    note = "pandas reads a quoted empty string as NaN, so it stores NULL where the file says \"\" (check skipped)"

    def prepare(self, round_no: int) -> list[str]:
        self.create_table()
        kinds = {n: kind_of(t) for n, t in self.ctx.columns}
        decimals = ";".join(f"{n}={t.split('(', 1)[1].rstrip(')')}" for n, t in self.ctx.columns
                            if kinds[n] == "decimal")
        dates = ",".join(n for n, k in kinds.items() if k in ("date", "timestamp"))
        return [sys.executable, str(BENCH_DIR / "pandas_load.py"), str(self.data),
                "--url", sqlalchemy_url(self.ctx.pg_url), "--table", PG_COPY_TABLE,
                "--text", ",".join(n for n, k in kinds.items() if k == "text"),
                "--decimals", decimals, "--dates", dates]


class Pgloader(PgCopy):
    name, what = "pgloader", "pgloader (Debian) `LOAD CSV` command file into a pre-created table"
    slow = True

    def prepare(self, round_no: int) -> list[str]:
        self.create_table()
        command = self.ctx.work / "pgloader.load"
        command.write_text(f"""LOAD CSV
     FROM '{self.data}'
     INTO {pgloader_url(self.ctx.pg_url)}
     TARGET TABLE {PG_COPY_TABLE}
     WITH skip header = 1,
          fields optionally enclosed by '"',
          fields escaped by double-quote,
          fields terminated by ',';
""", encoding="utf-8")
        return [str(self.ctx.pgloader), "--no-ssl-cert-verification", str(command)]


class ArrowParse(LoadPath):
    name, target = "pyarrow-parse", "parse"
    what = "`pyarrow.csv.open_csv` streaming parse alone, types inferred, no database"

    def prepare(self, round_no: int) -> list[str]:
        return [sys.executable, "-c", ARROW_PARSE, str(self.data)]

    def verify(self) -> tuple[int, list[str]]:
        rows = int(self.stdout.split("rows=", 1)[1].split()[0])
        return rows, [] if rows == self.expected_rows else [f"rows {rows} != {self.expected_rows}"]


ARROW_PARSE = """
import sys, pyarrow.csv as c
r = c.open_csv(sys.argv[1], parse_options=c.ParseOptions(newlines_in_values=True))
print(f"rows={sum(b.num_rows for b in r)}")
"""

PATHS: list[type[LoadPath]] = [LoaderSqlite, LoaderSqliteAppend, LoaderSqliteReplace, SqliteImport, LoaderPostgres,
                               LoaderPostgresAppend, LoaderPostgresBinary,
                               PgCopy, PsqlCopy, PandasPg, Pgloader, ArrowParse]


def value_problems(path: LoadPath, totals: dict) -> list[str]:
    """Compare sums, NULL counts and tricky values with gen.py's totals; returns the mismatches."""
    t = path.table()
    checks: list[tuple[str, Callable[[], object], object]] = [
        ("sum(id)", lambda: path.query(f"SELECT sum(id) FROM {t}"), totals["id_sum"]),
        ("codes with leading zeros", lambda: path.query(f"SELECT count(*) FROM {t} WHERE code LIKE '00%'"),
         totals["rows"]),
        ("rows in 東京", lambda: path.query(f"SELECT count(*) FROM {t} WHERE city = '東京'"), totals["tokyo"]),
        ("customers with a quote", lambda: path.query(f"SELECT count(*) FROM {t} WHERE customer LIKE '%\"%'"),
         totals["quoted_customers"]),
    ]
    if path.typed():
        checks.append(("sum(amount)", path.amount_sum, Decimal(totals["amount_sum"])))
        checks += [(f"NULLs in {c}", null_counter(path, c), n) for c, n in totals["nulls"].items()]
    problems = []
    for label, get, expected in checks:
        if label in path.skip_checks:
            continue
        got = get()
        if got is None or Decimal(str(got)) != Decimal(str(expected)) * path.copies:
            problems.append(f"{label} {got} != {expected}")
    return problems


def null_counter(path: LoadPath, column: str) -> Callable[[], object]:
    return lambda: path.query(f'SELECT count(*) FROM {path.table()} WHERE "{column}" IS NULL')


# -- helpers -----------------------------------------------------------------------------------------

def kind_of(logical: str) -> str:
    return logical.split("(", 1)[0]


def pg_type(logical: str) -> str:
    return logical.replace("decimal", "numeric") if kind_of(logical) == "decimal" else PG_DDL[logical]
