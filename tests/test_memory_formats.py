"""Peak memory stays flat with the file's size for every streamed format, not only CSV.

Each format's file is written row by row (the test's own memory stays small too), loaded into SQLite
by a child `loader load`, and that child's peak RSS read from wait4. Ten times the rows (both files
past the warm-up of buffers and read-ahead) must not cost more than a fifth more memory plus 15 MB.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loader.errors import EXIT_OK

from .conftest import Db


def rows(n: int) -> Iterator[tuple[int, str, str]]:
    for i in range(n):
        yield i, f"customer {i % 5000}", f"{i % 100000}.{i % 100:02d}"


def write_jsonl(f: IO[str], n: int) -> None:
    for i, name, amount in rows(n):
        f.write(json.dumps({"id": i, "name": name, "amount": amount}) + "\n")


def write_array(f: IO[str], n: int) -> None:
    f.write("[")
    for i, name, amount in rows(n):
        f.write(("," if i else "") + json.dumps({"id": i, "name": name, "amount": amount}) + "\n")
    f.write("]")


def write_xml(f: IO[str], n: int) -> None:
    f.write("<export><orders>")
    for i, name, amount in rows(n):
        f.write(f'<order id="{i}"><name>{name}</name><amount>{amount}</amount></order>\n')
    f.write("</orders></export>")


def write_csv(f: IO[str], n: int) -> None:
    f.write("id,name,amount\n")
    for i, name, amount in rows(n):
        f.write(f"{i},{name},{amount}\n")


def write_parquet(path: Path, n: int) -> None:
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("amount", pa.string())])
    with pq.ParquetWriter(path, schema) as w:
        for start in range(0, n, 100_000):
            chunk = list(rows(min(n, start + 100_000)))[start:]
            w.write_table(pa.table(list(zip(*chunk, strict=True)), schema=schema))


TEXT: dict[str, tuple[str, Callable[[IO[str], int], None]]] = {
    "jsonl": ("t.jsonl", write_jsonl), "json array": ("t.json", write_array), "xml": ("t.xml", write_xml)}


def make(fmt: str, folder: Path, n: int) -> Path:
    folder.mkdir()
    if fmt == "parquet":
        write_parquet(path := folder / "t.parquet", n)
    elif fmt == "gzip csv":
        with gzip.open(path := folder / "t.csv.gz", "wt", compresslevel=1) as f:
            write_csv(f, n)
    else:
        name, writer = TEXT[fmt]
        with open(path := folder / name, "w") as f:
            writer(f, n)
    return path


def peak_rss_mb(db: Db, path: Path) -> float:
    """The child's VmHWM, sampled while it runs: wait4's ru_maxrss would start from this process's
    own high-water mark (it survives vfork + exec), and the test process grows writing the files."""
    proc = subprocess.Popen([sys.executable, "-m", "loader", "--db", db.url, "load", str(path), "--table", "t"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm_kb(proc.pid))
        time.sleep(0.02)
    assert proc.returncode == EXIT_OK, proc.stderr.read() if proc.stderr else ""
    return peak / 1024


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except (OSError, ValueError):
        return 0


@pytest.mark.slow  # about 20 s a format: make test-all
@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "json array", "gzip csv", "xml"])
def test_peak_memory_is_flat_for_every_format(sqlite_db: Db, tmp_path: Path, fmt: str) -> None:
    small_n, large_n = 300_000, 3_000_000  # both past the warm-up of buffers and read-ahead
    small = peak_rss_mb(sqlite_db, make(fmt, tmp_path / "small", small_n))
    large_path = make(fmt, tmp_path / "large", large_n)
    large = peak_rss_mb(sqlite_db, large_path)
    print(f"{fmt}: peak RSS {small:.0f} MB -> {large:.0f} MB")
    growth = f"{fmt}: peak RSS {small:.0f} MB -> {large:.0f} MB for {large_path.stat().st_size >> 20} MB"
    assert large < small * 1.2 + 15, growth
    assert sqlite_db.query("SELECT count(*) FROM ref.t") == [(large_n,)]
