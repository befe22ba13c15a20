"""`loader config` and the database named in output: a user sees which settings and database are in use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from loader.errors import EXIT_OK

from .test_cli import cli

ROOT = Path(__file__).resolve().parent.parent


def run_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOADER_")} | env
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "loader", *args], text=True, capture_output=True, cwd=folder,
                          env=environ, timeout=120)


def test_config_prints_each_setting_with_its_origin_and_no_secret(tmp_path: Path) -> None:
    conf = tmp_path / "loader.toml"
    conf.write_text("[load]\nbackups_keep = 7\n")
    url = "postgresql://me:s3cret@db.example/x"
    token = "t0ken-t0ken-t0ken-t0ken"
    out = run_in(tmp_path, "--config", str(conf), "config", LOADER_DATABASE__URL=url,
                 LOADER_SERVICE__HTTP_TOKEN=token)
    assert out.returncode == EXIT_OK, out.stderr
    assert "s3cret" not in out.stdout and token not in out.stdout
    line = next(x for x in out.stdout.splitlines() if x.startswith("load.backups_keep"))
    assert "7" in line and str(conf) in line
    assert "LOADER_DATABASE__URL" in next(x for x in out.stdout.splitlines() if x.startswith("database.url"))
    doc = json.loads(run_in(tmp_path, "--config", str(conf), "config", "--json", LOADER_DATABASE__URL=url,
                            LOADER_SERVICE__HTTP_TOKEN=token).stdout)
    assert doc["settings"]["load.backups_keep"] == {"value": 7, "origin": str(conf)}
    assert doc["settings"]["database.url"]["value"] == "postgresql://me:***@db.example/x"
    assert doc["settings"]["service.http_token"]["value"] == "***"
    assert doc["settings"]["schemas.ref"]["origin"] == "defaults"


def test_status_in_an_empty_folder_creates_nothing_and_names_the_database(tmp_path: Path) -> None:
    out = run_in(tmp_path, "status")
    assert out.returncode == EXIT_OK, out.stderr
    assert "sqlite:///data/loader.db" in out.stdout and "no loads yet" in out.stdout
    assert list(tmp_path.iterdir()) == []
    assert json.loads(run_in(tmp_path, "status", "--json").stdout) == []
    assert list(tmp_path.iterdir()) == []


def test_status_names_the_database_it_read(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    url = f"sqlite:///{tmp_path}/x.db"
    assert cli("--db", url, "load", str(path)).returncode == EXIT_OK
    assert f"database {url}" in cli("--db", url, "status").stdout
