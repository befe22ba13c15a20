"""The command line's input flags: standard input, validate, pinned formats and reader options."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from loader.errors import EXIT_CONFIG, EXIT_DATA, EXIT_OK, EXIT_USAGE

from .conftest import Db
from .files import write_numbers


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "loader", *args], input=stdin, capture_output=True, timeout=120)


def test_load_dash_reads_standard_input(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    write_numbers(path, rows=2_000)
    out = cli("--db", db.url, "load", "-", "--table", "piped", stdin=path.read_bytes())
    assert out.returncode == EXIT_OK, out.stderr
    assert db.query("SELECT count(*) FROM ref.piped") == [(2_000,)]
    assert db.tracking()[-1]["file_path"] == "-"


def test_load_dash_without_a_table_is_a_usage_error(sqlite_db: Db) -> None:
    out = cli("--db", sqlite_db.url, "load", "-", stdin=b"a,b\n1,2\n")
    assert out.returncode == EXIT_USAGE and b"--table" in out.stderr


def test_validate_lists_every_error_and_says_it_would_fail(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    write_numbers(path, rows=20_000)
    lines = path.read_text().splitlines(keepends=True)
    lines[9_000], lines[15_000] = "9000,x,abc\n", "x,y,1.5\n"
    path.write_text("".join(lines))
    db = tmp_path / "untouched.db"
    out = cli("--db", f"sqlite:///{db}", "validate", str(path))
    text = out.stdout.decode()
    assert out.returncode == EXIT_DATA, out.stderr
    assert "line 9001, column amount, value 'abc'" in text and "line 15001, column id, value 'x'" in text
    assert "20,000 rows read, 2 bad; would fail" in text and not db.exists()
    doc = json.loads(cli("validate", str(path), "--json").stdout)
    assert doc["exit_code"] == EXIT_DATA and len(doc["errors"]) == 2 and doc["rows_loadable"] == 19_998
    write_numbers(path, rows=10)
    assert cli("validate", str(path)).returncode == EXIT_OK


def test_a_pinned_member_and_format_reach_the_reader(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.csv", "id\n1\n2\n")
        z.writestr("b.csv", "id\n1\n2\n3\n")
    out = cli("--db", sqlite_db.url, "load", str(path), "--member", "b.csv", "--table", "b_only")
    assert out.returncode == EXIT_OK, out.stderr
    assert sqlite_db.query("SELECT count(*) FROM ref.b_only") == [(3,)]
    wrong = cli("--db", sqlite_db.url, "load", str(path), "--format", "parquet")
    assert wrong.returncode == EXIT_DATA and b"parquet" in wrong.stderr.lower()


def test_a_header_only_file_does_not_empty_a_full_table(db: Db, tmp_path: Path) -> None:
    full, empty = tmp_path / "t.csv", tmp_path / "t_empty.csv"
    write_numbers(full, rows=100)
    empty.write_text("id,label,amount\n")
    assert cli("--db", db.url, "load", str(full), "--table", "t").returncode == EXIT_OK
    refused = cli("--db", db.url, "load", str(empty), "--table", "t")
    assert refused.returncode == EXIT_DATA and b"--allow-empty" in refused.stderr
    assert db.query("SELECT count(*) FROM ref.t") == [(100,)]  # nothing replaced
    assert cli("--db", db.url, "load", str(empty), "--table", "t", "--mode", "append").returncode == EXIT_OK
    allowed = cli("--db", db.url, "load", str(empty), "--table", "t", "--allow-empty")
    assert allowed.returncode == EXIT_OK, allowed.stderr
    assert db.query("SELECT count(*) FROM ref.t") == [(0,)]


def test_a_missing_driver_names_the_extra_to_install(tmp_path: Path) -> None:
    """psycopg made unimportable for the child, as on a machine installed without the [postgres] extra."""
    import os

    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'psycopg':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Missing())\n")
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    for url in ("postgresql://u@127.0.0.1:1/db", "postgresql+pyodbc://u@127.0.0.1:1/db"):
        out = subprocess.run([sys.executable, "-m", "loader", "--db", url, "load", str(path)], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 78, out.stderr
        assert "pip install 'loader[postgres]'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("url, said", [
    ("sqlite://data/x.db", "three slashes"),  # two slashes: 'data' would be a host, and a folder 'sqlite:' made
    ("sqlite:////nonexistent/dir/x.db", "does not exist"),  # no folder tree is created behind the user's back
])
def test_a_sqlite_url_that_does_not_name_a_reachable_file_is_a_config_error(tmp_path: Path, url: str,
                                                                            said: str) -> None:
    path = tmp_path / "n.csv"
    write_numbers(path, rows=3)
    out = subprocess.run([sys.executable, "-m", "loader", "--db", url, "load", str(path)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_CONFIG, out.stderr
    assert said in out.stderr
    assert not (tmp_path / "sqlite:").exists() and not Path("/nonexistent").exists()


def test_a_relative_sqlite_url_makes_its_own_folder(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    write_numbers(path, rows=3)
    out = subprocess.run([sys.executable, "-m", "loader", "--db", "sqlite:///data/x.db", "load", str(path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_OK, out.stderr
    assert (tmp_path / "data" / "x.db").is_file()
