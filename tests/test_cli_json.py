"""`--json` means JSON on stdout whatever happens: results, usage and configuration errors alike."""

from __future__ import annotations

import json
from pathlib import Path

from loader.errors import EXIT_CONFIG, EXIT_DATA, EXIT_OK, EXIT_USAGE

from .test_cli import cli


def test_usage_and_config_errors_are_json_on_stdout(tmp_path: Path) -> None:
    usage = cli("status", "--json", "--limit", "many")
    assert usage.returncode == EXIT_USAGE
    doc = json.loads(usage.stdout)
    assert doc["exit_code"] == EXIT_USAGE and "--limit" in doc["error"]
    conf = tmp_path / "loader.toml"
    conf.write_text("[load]\nbackups_keep = 'many'\n")
    bad = cli("--config", str(conf), "status", "--json")
    assert bad.returncode == EXIT_CONFIG
    doc = json.loads(bad.stdout)
    assert doc["exit_code"] == EXIT_CONFIG and "load.backups_keep" in doc["error"]
    secret = cli("--db", "postgresql://u:s3cret@127.0.0.1:1/db?sslmode=nonsense", "--config", str(conf),
                 "load", "--json", str(conf))
    assert "s3cret" not in secret.stdout + secret.stderr


def test_status_json_holds_detected_format_as_an_object(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a;b\n1;x\n")
    url = f"sqlite:///{tmp_path}/x.db"
    assert cli("--db", url, "load", str(path)).returncode == EXIT_OK
    rows = json.loads(cli("--db", url, "status", "--json").stdout)
    assert rows[0]["detected_format"]["delimiter"] == ";"
    summary = json.loads(cli("--db", url, "status", "--json", "--summary").stdout)
    assert summary["recent"][0]["detected_format"]["format"] == "csv"


def test_backfill_json_prints_its_summary_as_an_object(tmp_path: Path) -> None:
    tree = tmp_path / "hist"
    tree.mkdir()
    (tree / "bf_2024-01-01.csv").write_text("id\n1\n2\n")
    (tree / "bf_2024-01-02.csv").write_text("id\n3\nnot a number, with, commas\n")
    url = f"sqlite:///{tmp_path}/x.db"
    out = cli("--db", url, "backfill", str(tree), "--table", "bf", "--mode", "append", "--json")
    doc = json.loads(out.stdout)
    assert doc["loaded"] + doc["failed"] == 2 and doc["exit_code"] == out.returncode
    assert out.returncode in (EXIT_OK, EXIT_DATA)
