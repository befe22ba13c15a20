"""Many small files: files/s, per-file overhead and latency (file ready -> load start -> committed).

With `loader run` (the service; detected from `loader --help`) the files are dropped into
<root>/inbox and one `loader run --once --root DIR --db URL` loads them all; latency comes from
the tracking table (started_at / finished_at against the moment the file was complete).

Without it (the service is not on this branch yet) each file goes through its own
`loader load` process, one after another: what a cron job calling the CLI would do. Then
"load start" is the process start plus interpreter and imports (wall time minus the in-process
load time that `loader load --json` reports), and "committed" is the process's wall time.
The report says which mode ran.

Prints one line per result: mode=... files=... rows_per_file=... seconds=... files_per_s=...
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gen
import measure as bl


def has_run_command(loader: str) -> bool:
    """`loader --help` lists its commands as {load,status,detect,...}."""
    out = subprocess.run([loader, "--help"], capture_output=True, text=True, env=bl.child_env({})).stdout
    commands = re.search(r"\{([a-z_,-]+)\}", out)
    return commands is not None and "run" in commands.group(1).split(",")


def make_files(folder: Path, files: int, rows: int, seed: int) -> tuple[list[Path], int]:
    """`files` CSVs of `rows` rows each; distinct seeds, so distinct content (no duplicate refusals)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, total = [], 0
    for i in range(files):
        p = folder / f"small_{i:05d}.csv"
        total += gen.generate(str(p), rows, seed + i).rows
        os.remove(gen.totals_path(str(p)))
        paths.append(p)
    return paths, total


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def run_per_process(args: argparse.Namespace, work: Path, files: list[Path]) -> dict:
    """One `loader load --mode append` process per file, in turn, into one SQLite table."""
    db = f"sqlite:///{work / 'db' / 'small.db'}"
    (work / "db").mkdir()
    walls, inproc, peaks, failed = [], [], [], 0
    started = time.perf_counter()
    for p in files:
        argv = [args.loader, "--db", db, "load", str(p), "--table", "small", "--mode", "append", "--json"]
        seconds, peak, code, stdout, err = bl.run_measured(argv, bl.child_env({}), work, args.timeout)
        walls.append(seconds)
        peaks.append(peak)
        if code != 0:
            failed += 1
            print(f"file={p.name} FAILED {err}", file=sys.stderr)
            continue
        with contextlib.suppress(ValueError, KeyError, IndexError):
            inproc.append(float(json.loads(stdout.strip().splitlines()[-1])["seconds"]))
    total = time.perf_counter() - started
    overhead = [w - s for w, s in zip(walls, inproc)] if len(inproc) == len(walls) else []
    return {"mode": "loader load, one process per file", "seconds": total, "failed": failed,
            "to_start": overhead, "to_commit": walls, "peak_rss_mb": max(peaks, default=0.0),
            "rows_loaded": count_sqlite(work / "db" / "small.db")}


def count_sqlite(db: Path) -> int | None:
    """Rows in ref.small, wherever the loader keeps the ref schema's file."""
    for candidate in sorted(db.parent.glob("*.db")):
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(candidate)) as conn:
            row = conn.execute("SELECT count(*) FROM small").fetchone()
            if row:
                return int(row[0])
    return None


def run_service(args: argparse.Namespace, work: Path, files: list[Path], target: str = "sqlite",
                pg_url: str | None = None) -> dict:
    """Drop every file into inbox/, then one `loader run --once --workers N` loads them all."""
    base = work / target
    root = base / "root"
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    (base / "db").mkdir()
    db_file = base / "db" / "small.db"
    ready = {}
    for p in files:
        dst = inbox / p.name
        shutil.copyfile(p, dst)
        ready[p.name] = dt.datetime.fromtimestamp(dst.stat().st_mtime, dt.UTC).replace(tzinfo=None)
    url = f"sqlite:///{db_file}" if target == "sqlite" else str(pg_url)
    env = {} if target == "sqlite" else {f"LOADER_SCHEMAS__{k.upper()}": v for k, v in bl.PG_SCHEMAS.items()}
    if target != "sqlite":
        bl.pg_fetch(pg_url, f"DROP SCHEMA IF EXISTS {', '.join(bl.PG_SCHEMAS.values())} CASCADE")
    argv = [args.loader, "--db", url, "run", "--once", "--root", str(root), "--workers", str(args.workers)]
    seconds, peak, code, _stdout, err = bl.run_measured(argv, bl.child_env(env), work, args.timeout)
    result: dict = {"mode": f"loader run --once --workers {args.workers} ({target})", "seconds": seconds,
                    "peak_rss_mb": peak, "failed": 0 if code == 0 else len(files), "to_start": [], "to_commit": [],
                    "target": target}
    if code != 0:
        print(f"loader run FAILED (exit {code}): {err}", file=sys.stderr)
    rows = tracking_rows(db_file) if target == "sqlite" else bl.pg_fetch(
        pg_url, f"SELECT file_path, started_at, finished_at, status FROM {bl.PG_SCHEMAS['tracking']}.loader_files")
    for name, started, finished, status in rows:
        base_name = Path(str(name)).name
        if base_name in ready and started and finished:
            result["to_start"].append((parse_ts(started) - ready[base_name]).total_seconds())
            result["to_commit"].append((parse_ts(finished) - ready[base_name]).total_seconds())
        if status not in ("loaded", "duplicate"):
            result["failed"] += 1
    result["rows_loaded"] = None
    return result


def run_all_targets(args: argparse.Namespace, work: Path, files: list[Path]) -> list[dict]:
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    server, results = None, []
    try:
        pg_url = args.pg_url
        if "postgresql" in targets and not pg_url:
            server = bl.start_postgres(work)
            pg_url = server.get_uri()
        for target in targets:
            results.append(run_service(args, work, files, target, pg_url))
    finally:
        if server is not None:
            server.cleanup()
    return results


def tracking_rows(db_file: Path) -> list[tuple]:
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db_file)) as conn:
        return conn.execute("SELECT file_path, started_at, finished_at, status FROM loader_files").fetchall()
    return []


def parse_ts(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "")).replace(tzinfo=None)


def summary_lines(r: dict, files: int, rows: int) -> list[str]:
    start, commit = r["to_start"], r["to_commit"]
    line = (f"mode={r['mode'].split(',')[0].replace(' ', '_')} files={files} rows_per_file={rows} "
            f"seconds={r['seconds']:.1f} files_per_s={files / r['seconds']:.2f} "
            f"per_file_ms={1000 * r['seconds'] / files:.0f} failed={r['failed']} peak_rss_mb={r['peak_rss_mb']:.0f}")
    lat = (f"latency_to_start_ms_p50={1000 * pct(start, .5):.0f} p95={1000 * pct(start, .95):.0f} "
           f"latency_to_commit_ms_p50={1000 * pct(commit, .5):.0f} p95={1000 * pct(commit, .95):.0f} "
           f"max={1000 * max(commit, default=float('nan')):.0f}")
    return [line, lat]


def markdown(r: dict, args: argparse.Namespace, service: bool) -> str:
    files, rows = args.files, args.rows
    start, commit = r["to_start"], r["to_commit"]
    target = 20.0 * files / 1000
    lines = [f"## Many small files: {files:,} files × {rows:,} rows, {r.get('target', 'sqlite')}", "",
             f"Mode: **{r['mode']}**." + ("" if service else
             " `loader run` is not available in this loader (no `run` in `loader --help`), so each file is loaded "
             "by its own `loader load --mode append` process, one after another, into one SQLite table. "
             "Load start = process start + interpreter + imports (wall minus the in-process time `--json` reports); "
             "committed = the process's wall time."), "",
             "| files | rows/file | seconds | files/s | per-file ms | ready → load start p50 / p95 ms | "
             "ready → committed p50 / p95 / max ms | peak RSS MB | failed |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {files:,} | {rows:,} | {r['seconds']:.1f} | {files / r['seconds']:.2f} | "
             f"{1000 * r['seconds'] / files:.0f} | {1000 * pct(start, .5):.0f} / {1000 * pct(start, .95):.0f} | "
             f"{1000 * pct(commit, .5):.0f} / {1000 * pct(commit, .95):.0f} / "
             f"{1000 * max(commit, default=float('nan')):.0f} | {r['peak_rss_mb']:.0f} | {r['failed']} |", ""]
    verdict = "met" if r["seconds"] <= target else "MISSED"
    lines.append("Target (issue 12): 1,000 files in under 20 s through `loader run --once` with 2 workers"
                 + (f" (scaled to {files:,} files: {target:.0f} s)" if files != 1000 else "")
                 + f": {verdict} in this mode ({r['seconds']:.1f} s).")
    if r.get("rows_loaded") is not None:
        lines.append(f"Rows in the table afterwards: {r['rows_loaded']:,} (expected {files * rows:,}).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=1000, help="number of files (default 1,000)")
    p.add_argument("--rows", type=int, default=1000, help="rows per file (default 1,000)")
    p.add_argument("--seed", type=int, default=1000, help="seed of the first file; file i uses seed + i")
    p.add_argument("--loader", default=bl.default_loader())
    p.add_argument("--mode", choices=["auto", "run", "load"], default="auto",
                   help="auto: `loader run --once` when the loader has it, else one `loader load` per file")
    p.add_argument("--workdir", default="/tmp")
    p.add_argument("--workers", type=int, default=2, help="loader run --workers (default 2)")
    p.add_argument("--targets", default="sqlite,postgresql", help="comma list of sqlite, postgresql (service mode)")
    p.add_argument("--pg-url", help="PostgreSQL URL (default: an embedded server in the work dir)")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--md", help="write the markdown section here")
    p.add_argument("--json", help="write the result as JSON here")
    args = p.parse_args(argv)
    service = args.mode == "run" or (args.mode == "auto" and has_run_command(args.loader))
    work = Path(tempfile.mkdtemp(prefix="bench_small_", dir=args.workdir))
    try:
        t0 = time.perf_counter()
        files, _ = make_files(work / "files", args.files, args.rows, args.seed)
        print(f"generated files={len(files)} rows_per_file={args.rows} seconds={time.perf_counter() - t0:.1f}",
              flush=True)
        results = run_all_targets(args, work, files) if service else [run_per_process(args, work, files)]
        mds, failed = [], 0
        for r in results:
            for line in summary_lines(r, args.files, args.rows):
                print(line)
            if r.get("rows_loaded") is not None and r["rows_loaded"] != args.files * args.rows:
                print(f"rows_loaded={r['rows_loaded']} expected={args.files * args.rows} verified=FAILED")
                r["failed"] = r["failed"] or -1
            mds.append(markdown(r, args, service))
            failed += r["failed"] != 0
        md = "\n".join(mds)
        if args.md:
            Path(args.md).write_text(md, encoding="utf-8")
        if args.json:
            out = [{k: v for k, v in r.items() if k not in ("to_start", "to_commit")}
                   | {"latency_to_start_p50": pct(r["to_start"], .5), "latency_to_commit_p50": pct(r["to_commit"], .5),
                      "latency_to_commit_p95": pct(r["to_commit"], .95), "files": args.files, "rows": args.rows}
                   for r in results]
            Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")
        print("\n" + md)
        return 0 if failed == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
