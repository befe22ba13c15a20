"""Invariant 3: a load's peak memory does not grow with the file's size."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from loader.errors import EXIT_OK

from .conftest import Db
from .files import write_numbers


def peak_rss_mb(db: Db, path: Path, table: str) -> float:
    """Run one load in a child process and read that child's own peak RSS from wait4."""
    proc = subprocess.Popen([sys.executable, "-m", "loader", "--db", db.url, "load", str(path), "--table", table],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == EXIT_OK, proc.stderr.read() if proc.stderr else ""
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def test_peak_memory_does_not_grow_with_the_file(db: Db, tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    write_numbers(small, rows=db.rows(100_000))
    write_numbers(large, rows=db.rows(1_000_000))  # ~30 MB (at scale 1): ten times the rows
    small_mb = peak_rss_mb(db, small, "small")
    large_mb = peak_rss_mb(db, large, "large")
    file_mb = large.stat().st_size / 2**20
    growth = f"peak RSS {small_mb:.0f} MB -> {large_mb:.0f} MB for a {file_mb:.0f} MB file"
    assert large_mb < small_mb * 1.2 + 15, growth
    assert db.query("SELECT count(*) FROM ref.large") == [(db.rows(1_000_000),)]
