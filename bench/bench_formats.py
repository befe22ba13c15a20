"""Rows/s and peak RSS of `loader load` per input format, for the same table: python -m bench formats.

The same ROWS rows (id bigint, name text, amount decimal) are written as CSV, gzip CSV, Parquet,
JSON lines, a JSON array and XML (the generators of tests/test_memory_formats.py, row by row), then
each file is loaded into a fresh SQLite database (and PostgreSQL with --pg-url) by a child
`loader load`; its wall time and peak RSS (wait4) are printed, one line a format, CSV first as the
reference. Run it on a quiet machine: the figures are one process's, and other work skews them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import PeakRss  # noqa: E402

from tests.test_memory_formats import make  # noqa: E402

FORMATS = ["csv", "gzip csv", "parquet", "jsonl", "json array", "xml"]


def write(fmt: str, folder: Path, rows: int) -> Path:
    if fmt != "csv":
        return make(fmt, folder, rows)
    from tests.test_memory_formats import write_csv

    folder.mkdir()
    with open(path := folder / "t.csv", "w") as f:
        write_csv(f, rows)
    return path


def load(url: str, path: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (VmHWM sampled: wait4's ru_maxrss would carry this process's own)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "loader", "--db", url, "load", str(path), "--table", "t"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = PeakRss(proc.pid)
    _, err = proc.communicate()
    seconds, rss = time.perf_counter() - started, peak.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{path.name}: load failed: {err.decode()}")
    return seconds, rss


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench formats")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--pg-url", help="also load into this PostgreSQL database")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"sqlite": f"sqlite:///{tmp}/bench.db", **({"postgresql": args.pg_url} if args.pg_url else {})}
        print(f"| format | file MB | target | seconds | rows/s | peak RSS MB |  ({args.rows:,} rows)")
        for fmt in FORMATS:
            path = write(fmt, Path(tmp) / fmt.replace(" ", "_"), args.rows)
            for name, url in targets.items():
                seconds, rss = load(url, path)
                print(f"| {fmt} | {path.stat().st_size / 1e6:.0f} | {name} | {seconds:.2f} | "
                      f"{args.rows / seconds:,.0f} | {rss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
