"""Hostile files, part 3: secrets and output. Issue 11, items 17 (passwords), 18 (control characters in
human output) and 19 (errors that name the line, and the file as it was dropped); plus the pure
helpers behind items 1 and 16, tested without a file system.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from loader import filenames, logs
from loader.errors import EXIT_CONFIG, EXIT_DATA
from loader.opened import refusal
from loader.redact import redact_url, scrub, secrets_of
from loader.service import claim, folders, work

from .conftest import Db


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loader", *args], text=True, capture_output=True, timeout=120,
                          env=os.environ | (env or {}))


# -- item 17: passwords ----------------------------------------------------------------------------
@pytest.mark.parametrize("url, shown", [
    ("postgresql://bob:pa?ss@db/x", "postgresql://bob:***@db/x"),
    ("postgresql://bob:pa#ss@db:5432/x?sslmode=require", "postgresql://bob:***@db:5432/x?sslmode=require"),
    ("postgresql://bob:a/b?c#d@e@db/x", "postgresql://bob:***@db/x"),
    ("postgresql:bob:hunter2@db/x", "postgresql:bob:***@db/x"),
    ("mssql+pyodbc://sa:x?y@h/db?driver=ODBC+Driver+18&UID=bob@corp", "mssql+pyodbc://sa:***@h/db?driver=ODBC+Driver+18&UID=bob@corp"),
    ("Driver=x;PWD={a;}}b};Server=h", "Driver=x;PWD=***;Server=h"),
])
def test_passwords_are_found_by_parsing_not_by_guessing(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    secret = next(s for s in secrets_of(url) if len(s) > 3)
    assert secret not in redact_url(url)
    assert scrub(f"driver said: bad URL {url!r}", secrets_of(url)).count("***") >= 1
    assert all(s not in scrub(f"error in {url}", secrets_of(url)) for s in secrets_of(url))


@pytest.mark.parametrize("url", ["postgresql:bob:hunter2@127.0.0.1/db", "postgresql://bob:hun?ter2@127.0.0.1:9/db",
                                 "postgresql://bob:hun#ter2@127.0.0.1:9/db"])
def test_a_mistyped_or_odd_url_never_prints_its_password(tmp_path: Path, url: str) -> None:
    data = tmp_path / "f.csv"
    data.write_text("id\n1\n")
    runs = [(["--db", url, "load", str(data)], None), (["load", str(data), "-v"], {"LOADER_DATABASE__URL": url}),
            (["--db", url, "status"], None)]
    for args, env in runs:
        out = cli(*args, env=env)
        assert out.returncode in (EXIT_CONFIG, 69), out
        assert "ter2" not in out.stdout + out.stderr and "hunter2" not in out.stdout + out.stderr, out.stderr


def test_log_lines_and_tracebacks_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    logs.hide("postgresql://u:s3cr?et@h/db")
    record = logging.LogRecord("loader", logging.ERROR, __file__, 1, "connecting to %s", ("u:s3cr?et@h",), None)
    try:
        raise ValueError("driver: invalid dsn postgresql://u:s3cr?et@h/db")
    except ValueError:
        record.exc_info = sys.exc_info()
    for formatter in (logs.HumanFormatter(), logs.JsonFormatter()):
        text = formatter.format(record)
        assert "s3cr?et" not in text and "***" in text, text
        record.exc_text = None


# -- item 18: control characters ---------------------------------------------------------------------
def test_printable_escapes_terminal_commands_newlines_and_bidi() -> None:
    assert logs.printable("plain name.csv") == "plain name.csv"
    assert logs.printable("a\x1b[2Jb\nc\rd\x07") == "a\\x1b[2Jb\\nc\\rd\\x07"
    assert logs.printable("evil\u202eVSC.exe") == "evil\\u202eVSC.exe"
    assert logs.printable("café ü") == "café ü"


def test_status_and_the_human_log_escape_hostile_file_names(tmp_path: Path, sqlite_db: Db) -> None:
    name = "x\x1b]0;owned\x07\nFAKE LOG LINE.csv"
    data = tmp_path / name
    data.write_text("id,label\n1,a\n2,b,c\n")
    assert cli("--db", sqlite_db.url, "load", str(data), "--table", "t").returncode == EXIT_DATA
    out = cli("--db", sqlite_db.url, "status")
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\\x1b]0;owned\\x07\\nFAKE" in out.stdout
    assert len([line for line in out.stdout.splitlines() if "FAKE" in line]) == 1
    record = logging.LogRecord("loader", logging.INFO, __file__, 1, "loaded %s", (name,), None)
    record.fields = {"file": name}
    line = logs.HumanFormatter().format(record)
    assert "\x1b" not in line and "\n" not in line and line.count("\\x1b") == 2


# -- item 19: errors that lead somewhere -------------------------------------------------------------
def test_an_unterminated_quote_deep_in_a_file_names_its_line(tmp_path: Path, sqlite_db: Db) -> None:
    data = tmp_path / "quote.csv"
    with open(data, "w") as f:
        f.write("id,name,amount\n" + "".join(f'{i},"n{i}",{i}.5\n' for i in range(150_000)))
        f.write('150000,"never closed,1.5\n' + "".join(f"{i},n{i},{i}.5\n" for i in range(150_001, 250_000)))
    out = cli("--db", sqlite_db.url, "load", str(data))
    assert out.returncode == EXIT_DATA
    assert "line 150002" in out.stderr and "never closed" in out.stderr and "block_size" not in out.stderr


def test_a_huge_unquoted_field_names_its_line(tmp_path: Path, sqlite_db: Db) -> None:
    data = tmp_path / "wide.csv"
    with open(data, "w") as f:  # after the 4 MiB sample, so the read block is not sized for it
        f.write("id,name,amount\n" + "".join(f"{i},n{i},{i}.5\n" for i in range(300_000)))
        f.write("300000," + "x" * 3_000_000 + ",1.5\n" + "".join(f"{i},n{i},{i}.5\n" for i in range(300_001, 300_100)))
    out = cli("--db", sqlite_db.url, "load", str(data))
    assert out.returncode == EXIT_DATA
    assert "line 300002" in out.stderr and "3,000,0" in out.stderr and "load.block_size" in out.stderr


def test_error_json_names_the_file_as_dropped(tmp_path: Path, sqlite_db: Db) -> None:
    root = tmp_path / "drop"
    folders.ensure_layout(str(root))
    (root / "inbox" / "bad.csv").write_text("id,label\n1,a\n2,b,c\n")
    path = claim.claim(str(root), "bad.csv")
    assert path is not None
    work.process(work.Job(str(path), str(root), "drop", "ref", "bad", "fullload", sqlite_db.settings()))
    record = json.loads((root / "failed" / "bad.csv.error.json").read_text())
    assert record["reason"].startswith("bad.csv, line ") and "processing" not in record["reason"]


# -- pure helpers --------------------------------------------------------------------------------------
def _stat(mode: int, nlink: int = 1, dev: int = 7) -> os.stat_result:
    return os.stat_result((mode, 1, dev, nlink, 0, 0, 10, 0, 0, 0))


def test_refusal_of_an_opened_descriptor() -> None:
    assert refusal(_stat(stat.S_IFREG | 0o644), 7) is None
    assert "hard link" in (refusal(_stat(stat.S_IFREG, nlink=2), 7) or "")
    assert "another filesystem" in (refusal(_stat(stat.S_IFREG, dev=8), 7) or "")
    assert "a FIFO" in (refusal(_stat(stat.S_IFIFO), 7) or "")
    assert refusal(_stat(stat.S_IFREG, nlink=2, dev=8), None) is None  # `loader load FILE`: no root to keep


@pytest.mark.parametrize("name", ["a.csv", "é" * 126 + ".csv", "b" * 255, "x" * 200 + "." + "y" * 54])
def test_derived_names_always_fit_in_255_bytes(name: str) -> None:
    for derived in (filenames.fit(name, ".rejects.csv"), filenames.numbered(name, 12),
                    filenames.numbered(name, 3, reserve=len(".error.json")) + ".error.json"):
        assert len(derived.encode()) <= 255, derived
        derived.encode("utf-8")  # never half a character
    assert filenames.numbered("a.csv", 2) == "a_2.csv" and filenames.fit("a.csv", ".x") == "a.csv.x"
    assert filenames.numbered("é" * 126 + ".csv", 2) != filenames.numbered("é" * 126 + ".csv", 3)
