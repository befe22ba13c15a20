"""The command line as a user runs it: output, exit codes, status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from loader.errors import EXIT_CONFIG, EXIT_DATA, EXIT_DUPLICATE, EXIT_NOINPUT, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE

from .conftest import Db
from .files import write_numbers


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loader", *args], text=True, capture_output=True, cwd=cwd, timeout=120)


def test_load_prints_rows_speed_table_and_backup(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    write_numbers(path, rows=1234)
    first = cli("--db", db.url, "load", str(path), "--table", "customers")
    assert first.returncode == EXIT_OK, first.stderr
    assert "-> ref.customers: 1,234 rows in" in first.stdout and "rows/s" in first.stdout
    second = cli("load", str(path), "--table", "customers", "--mode", "fullload", "--db", db.url)  # flag after
    assert "previous version kept as bkp.customers_" in second.stdout


def test_status_lists_the_last_loads(db: Db, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    write_numbers(good, rows=10)
    bad.write_text("id,label\n1,a\n2,b\n3,c\n4,d,extra\n5,e\n")
    cli("--db", db.url, "load", str(good), "--table", "t")
    assert cli("--db", db.url, "load", str(bad), "--table", "t").returncode == EXIT_DATA
    out = cli("--db", db.url, "status").stdout.splitlines()
    assert out[0].split()[:3] == ["started", "(UTC)", "file"]
    assert "bad.csv" in out[1] and "failed" in out[1] and "line 5" in out[1] and "expected 2 fields, found 3" in out[1]
    assert "good.csv" in out[2] and "loaded" in out[2] and "10" in out[2]
    rows = json.loads(cli("--db", db.url, "status", "--json").stdout)
    assert [r["status"] for r in rows] == ["failed", "loaded"]


def test_exit_codes(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_numbers(path, rows=5)
    assert cli("--db", db.url, "load", str(path), "--mode", "append").returncode == EXIT_OK
    dup = cli("--db", db.url, "load", str(path), "--mode", "append")
    assert dup.returncode == EXIT_DUPLICATE and "--force" in dup.stderr
    assert cli("--db", db.url, "load", str(tmp_path / "missing.csv")).returncode == EXIT_NOINPUT
    assert cli("--db", db.url, "load").returncode == EXIT_USAGE
    assert cli("--db", db.url, "load", str(path), "--mode", "merge").returncode == EXIT_USAGE


def test_unreachable_database_and_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_numbers(path, rows=5)
    down = cli("--db", "postgresql://someone:s3cret@127.0.0.1:9/nowhere", "load", str(path))
    assert down.returncode == EXIT_UNAVAILABLE
    assert "s3cret" not in down.stderr + down.stdout
    unknown = cli("--db", "oracle://x", "load", str(path))
    assert unknown.returncode == EXIT_CONFIG and "unsupported scheme" in unknown.stderr
    conf = tmp_path / "loader.toml"
    conf.write_text("[load]\nbackups_keep = 'many'\n")
    bad = cli("--config", str(conf), "load", str(path))
    assert bad.returncode == EXIT_CONFIG
    assert "load.backups_keep" in bad.stderr and str(conf) in bad.stderr


def test_detect_prints_json(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("\ufeffid;Name;amount\n1;a;1.5\n2;b;2.25\n".encode())
    out = json.loads(cli("detect", "--json", str(path)).stdout)
    assert out["delimiter"] == ";" and out["has_header"] is True and out["bom"] is True
    assert [(c["name"], c["source_name"], c["type"]) for c in out["columns"]] == [
        ("id", "id", "bigint"), ("name", "Name", "text"), ("amount", "amount", "decimal(18,2)")]


def test_detect_on_a_missing_file_or_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.csv", tmp_path):
        out = cli("detect", str(path))
        assert out.returncode == EXIT_NOINPUT
        assert f"{path}: cannot read the file" in out.stderr and "Traceback" not in out.stderr
