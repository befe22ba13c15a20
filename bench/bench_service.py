"""Measure `loader run`: latency from a settled file to its load start, and many-small-files throughput.

Latency: files are dropped one at a time (written in place, so the stability window counts from
the last write); for each, latency = tracking started_at - (mtime + stable_s), i.e. the time from
the moment the file had been quiet for the whole window to the moment its load began. Measured
with native events (polling slowed down) and with polling only.
Throughput: N files of R rows each are dropped at once (renamed into inbox/); files/s is N over
the time from the drop to the last file archived; per-file overhead is the mean of each load's
own `seconds` minus its rows at the single-file rate. Prints one parseable line per result.

  python bench/bench_service.py --db sqlite --files 1000 --rows 1000 --workers 2
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write(path: Path, rows: int, start: int) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "label", "amount", "day"])
        w.writerows([i, f"row {i}", f"{i}.25", "2024-01-02"] for i in range(start, start + rows))


def service(db_url: str, root: Path, *flags: str) -> subprocess.Popen[bytes]:
    log = open(root.parent / f"service-{time.time_ns()}.log", "wb")  # noqa: SIM115 - lives as long as the child
    proc = subprocess.Popen([sys.executable, "-m", "loader", "--db", db_url, "run", "--root", str(root),
                             "--log-format", "json", *flags], stdout=log, stderr=subprocess.STDOUT)
    time.sleep(3)  # imports and worker start-up are not part of what we measure
    return proc


def tracking(db_url: str) -> dict[str, dict[str, object]]:
    path = db_url.split("sqlite:///", 1)[1]
    if not os.path.exists(path):
        return {}
    with sqlite3.connect(path, timeout=30) as conn:
        rows = conn.execute("SELECT file_name, started_at, seconds, status FROM loader_files").fetchall()
    return {r[0]: {"started_at": r[1], "seconds": r[2], "status": r[3]} for r in rows}


def latency(db_url: str, root: Path, label: str, flags: list[str], stable_s: float, n: int) -> None:
    proc = service(db_url, root, "--stable", str(stable_s), *flags)
    try:
        values = []
        for i in range(n):
            name = f"lat_{label}_{i}.csv"
            path = root / "inbox" / name
            write(path, 100, 0)
            mtime = os.stat(path).st_mtime
            while name not in (seen := tracking(db_url)):
                time.sleep(0.02)
            started = dt.datetime.fromisoformat(str(seen[name]["started_at"])).replace(tzinfo=dt.UTC).timestamp()
            values.append(started - (mtime + stable_s))
            time.sleep(0.3)
        print(f"latency mode={label} stable_s={stable_s} flags={' '.join(flags)} n={n} "
              f"median_s={statistics.median(values):.3f} max_s={max(values):.3f} min_s={min(values):.3f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def throughput(db_url: str, root: Path, files: int, rows: int, workers: int) -> None:
    out = root.parent / "outgoing"
    out.mkdir(exist_ok=True)
    for i in range(files):
        write(out / f"many_{i:05d}.csv", rows, i * rows)
    past = time.time() - 60
    for p in out.iterdir():
        os.utime(p, (past, past))
    proc = service(db_url, root, "--workers", str(workers), "--stable", "0.5", "--poll", "0.5")
    try:
        t0 = time.monotonic()
        for p in sorted(out.iterdir()):
            os.rename(p, root / "inbox" / p.name)
        while sum(1 for r in tracking(db_url).values() if r["status"] == "loaded" and True) < files:
            time.sleep(0.2)
        archive = root / "archive"
        while sum(1 for _ in archive.rglob("many_*.csv")) < files:
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        seconds = [float(str(r["seconds"])) for k, r in tracking(db_url).items() if k.startswith("many_")]
        print(f"throughput files={files} rows_per_file={rows} workers={workers} elapsed_s={elapsed:.1f} "
              f"files_per_s={files / elapsed:.1f} rows_per_s={files * rows / elapsed:,.0f} "
              f"load_seconds_median={statistics.median(seconds):.3f} "
              f"wall_per_file_ms={1000 * elapsed / files:.1f}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--rows", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--latency-n", type=int, default=10)
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="loader-bench-service-") as tmp:
        for label, flags, stable in (("events", ["--poll", "30"], 0.5), ("polling", ["--no-events", "--poll", "2"],
                                                                           2.0)):
            root = Path(tmp, label, "drop")
            (root / "inbox").mkdir(parents=True)
            latency(f"sqlite:///{tmp}/{label}/db/loader.db", root, label, flags, stable, args.latency_n)
        if not args.skip_throughput:
            root = Path(tmp, "many", "drop")
            (root / "inbox").mkdir(parents=True)
            throughput(f"sqlite:///{tmp}/many/db/loader.db", root, args.files, args.rows, args.workers)


if __name__ == "__main__":
    main()
