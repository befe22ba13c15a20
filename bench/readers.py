"""Rows/s and peak RSS of one reader on a generated file: python -m bench.readers FORMAT [--rows N].

Generates a table of ROWS rows x 6 columns (bigint, decimal, float, boolean, timestamp, text) as
the format asks, detects and streams it through the reader (no database), and prints one line:
format, rows, seconds, rows/s, peak RSS MB (of the whole process, generation included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

from loader.readers import (
    base,
    builtin,  # noqa: F401
)
from loader.rejects import RowPolicy


def table(rows: int) -> pa.Table:
    start = dt.datetime(2024, 1, 1)
    return pa.table({"id": pa.array(range(rows), pa.int64()),
                     "amount": pa.array([f"{i % 100000}.{i % 100:02d}" for i in range(rows)])
                     .cast(pa.decimal128(12, 2)),
                     "ratio": pa.array([i / 7 for i in range(rows)]), "ok": pa.array([i % 2 == 0 for i in range(rows)]),
                     "at": pa.array([start + dt.timedelta(seconds=i) for i in range(rows)], pa.timestamp("us")),
                     "name": pa.array([f"customer {i % 5000}" for i in range(rows)])})


def write(fmt: str, rows: int, folder: str) -> str:
    data = table(rows)
    if fmt == "parquet":
        path = os.path.join(folder, "t.parquet")
        pq.write_table(data, path)
        return path
    path = os.path.join(folder, "t.jsonl")
    with open(path, "w") as f:
        for batch in data.to_batches(100_000):
            for r in batch.to_pylist():
                f.write(json.dumps(r, default=str) + "\n")
    return path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("format", choices=["parquet", "json"])
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write(args.format, args.rows, folder)
        size = os.path.getsize(path)
        source = base.Input.of_path(path)
        started = time.perf_counter()
        reader = base.reader_for(source)
        found = reader.detect(source, base.ReadOptions())
        stream = reader.stream(source, found, base.ReadOptions(), RowPolicy())
        rows = sum(b.num_rows for b in stream.reader())
        seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # includes generating the table
    print(f"format={args.format} rows={rows} seconds={seconds:.2f} rows_per_s={rows / seconds:,.0f} "
          f"peak_rss_mb={rss:.0f} size_mb={size / 1e6:.0f} fast_path={getattr(found.layout, 'fast', None) is not None}")


if __name__ == "__main__":
    main()
