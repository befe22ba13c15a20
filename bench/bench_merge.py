"""Merge of a file into a large table, next to append of the same file: python -m bench merge.

A table of BASE rows (id, name, amount) is made by a full load; then a file of ROWS rows, half of
them keys that exist (with changed values) and half new keys, is merged on id, and the same file
appended to a copy of the table. Each is a child `loader load`; the wall time and rows/s of the
file are printed. PostgreSQL by default (an embedded server unless --pg-url), SQLite with --sqlite.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure  # noqa: E402


def write(path: Path, ids: range, tag: str) -> Path:
    with open(path, "w") as f:
        f.write("id,name,amount\n")
        f.writelines(f"{i},{tag} {i},{i % 1000}.25\n" for i in ids)
    return path


def loader(url: str, *args: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "loader", "--db", url, "load", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"loader load {' '.join(args)} failed: {proc.stderr}")
    return time.perf_counter() - started


def run(url: str, base: int, rows: int, work: Path) -> None:
    table = write(work / "base.csv", range(1, base + 1), "base")
    change = write(work / "change.csv", range(base - rows // 2 + 1, base + rows - rows // 2 + 1), "new")
    for name in ("m", "a"):
        loader(url, str(table), "--table", name)
    loader(url, str(change), "--table", "m", "--mode", "merge", "--key", "id")  # first merge makes the index
    loader(url, str(table), "--table", "m")  # back to the base table (the index goes with the old version)
    loader(url, str(table), "--table", "m", "--mode", "merge", "--key", "id")  # index again, no change
    print(f"| mode | table rows | file rows | seconds | rows/s |  ({url.split(':', 1)[0]})")
    for mode, args in (("append", ["--table", "a", "--mode", "append"]),
                       ("merge", ["--table", "m", "--mode", "merge", "--key", "id"])):
        seconds = loader(url, str(change), *args)
        print(f"| {mode} | {base:,} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench merge")
    p.add_argument("--base", type=int, default=10_000_000, help="rows in the table merged into")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the merged file (half updates)")
    p.add_argument("--pg-url", help="a PostgreSQL database (default: an embedded server)")
    p.add_argument("--sqlite", action="store_true", help="measure SQLite instead")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.sqlite:
            run(f"sqlite:///{work}/bench.db", args.base, args.rows, work)
            return 0
        server = None if args.pg_url else measure.start_postgres(work)
        try:
            run(args.pg_url or server.get_uri(), args.base, args.rows, work)
        finally:
            if server is not None:
                server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
