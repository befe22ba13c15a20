"""`loader backfill` and `loader status` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import Db
from .files import write_numbers


def cli(db: Db, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loader", "--db", db.url, *args], text=True, capture_output=True,
                          timeout=120)


def test_backfill_loads_in_date_order_and_resumes(db: Db, tmp_path: Path) -> None:
    tree = tmp_path / "history"
    days = ["2024-01-03", "2023-12-31", "2024-01-01", "2024-01-02"]
    for n, day in enumerate(days):
        folder = tree / day[:4] / day[5:7]
        folder.mkdir(parents=True, exist_ok=True)
        write_numbers(folder / f"sales_{day.replace('-', '')}.csv", rows=10, start=n * 10)
        os.utime(folder / f"sales_{day.replace('-', '')}.csv", (1e9 - n, 1e9 - n))  # mtime order is the reverse
    (tree / "notes.xlsx").write_text("not a csv")
    first = cli(db, "backfill", str(tree), "--table", "sales", "--mode", "append", "--workers", "2")
    assert first.returncode == 0, first.stderr
    assert "4 loaded" in first.stderr
    rows = [r for r in db.tracking() if r["status"] == "loaded"]
    assert [r["file_name"] for r in sorted(rows, key=lambda r: str(r["started_at"]))] == [
        "sales_20231231.csv", "sales_20240101.csv", "sales_20240102.csv", "sales_20240103.csv"]
    again = cli(db, "backfill", str(tree), "--table", "sales", "--mode", "append")
    assert again.returncode == 0 and "0 loaded, 4 already loaded" in again.stderr, again.stderr
    assert db.query("SELECT count(*), count(DISTINCT id) FROM ref.sales") == [(40, 40)]
    assert sorted(p.name for p in tree.rglob("*.csv")) == sorted(r["file_name"] for r in rows), "nothing moved"
    other = cli(db, "backfill", str(tree), "--table", "sales_copy", "--mode", "append")
    assert other.returncode == 0 and "4 loaded, 0 already loaded" in other.stderr, other.stderr  # another table
    assert db.query("SELECT count(*) FROM ref.sales_copy") == [(40,)]


def test_status_counts_folders_and_loads(sqlite_db: Db, tmp_path: Path) -> None:
    db = sqlite_db
    root = tmp_path / "drop"
    (root / "inbox").mkdir(parents=True)
    write_numbers(root / "inbox" / "a.csv", rows=5)
    assert cli(db, "run", "--root", str(root), "--once", "--workers", "1", "--stable", "0").returncode == 0
    write_numbers(root / "inbox" / "b.csv", rows=5)
    out = cli(db, "status", "--root", str(root), "--json", "--summary")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["folders"][0]["queued"] == 1 and data["folders"][0]["running"] == 0
    assert data["folders"][0]["oldest_waiting_s"] is not None
    assert [t for t in data["totals"] if t["status"] == "loaded"][0]["files"] == 1
    text = cli(db, "status", "--root", str(root))
    assert "1 queued, 0 running" in text.stdout and "tracking: 1 loaded" in text.stdout
