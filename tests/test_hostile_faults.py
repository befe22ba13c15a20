"""Hostile files, part 2: faults that are not the data, and names the file system cannot hold.

Issue 11, items 6 (archive/ on another filesystem), 7 (full disks), 8 (an unclaimable file),
9 (a killed `loader load`), 12 (SQLite's reserved names and column limit) and 16 (long names,
links). Full disks are real: a small tmpfs mounted for the test (root only; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loader.coltypes import Action
from loader.errors import EXIT_DATA, EXIT_IOERR, EXIT_TEMPFAIL, EXIT_USAGE, ConfigError
from loader.load import LoadRequest, load_file
from loader.service import claim, folders, work

from .conftest import Db
from .service import Service, files_in, tracking, wait_until


def _job(root: Path, path: Path, db: Db, table: str = "t", **kw: object) -> work.Job:
    return work.Job(str(path), str(root), "drop", "ref", table, "fullload", db.settings(), **kw)  # type: ignore[arg-type]


def _drop(root: Path, name: str, text: str) -> Path:
    folders.ensure_layout(str(root))
    (root / "inbox" / name).write_text(text)
    path = claim.claim(str(root), name)
    assert path is not None
    return path


GOOD = "id,label\n" + "".join(f"{i},x\n" for i in range(50))
BAD = GOOD + "50,x,one too many\n"  # line 52: a ragged row, whatever the detector samples


@contextlib.contextmanager
def tiny_fs(where: Path, size: str) -> Iterator[Path]:
    """A real, small filesystem (tmpfs) at `where`: fills up for real."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(fs: Path, leave: int = 0) -> Path:
    """Fill the filesystem to the last byte (or leave `leave` bytes)."""
    filler = fs / "filler"
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as f:
        while True:
            f.write(b"\0" * 4096)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loader", *args], text=True, capture_output=True, timeout=120)


# -- item 6: archive/ and failed/ on another filesystem ----------------------------------------
def _elsewhere(root: Path) -> Path:
    other = Path("/dev/shm") / f"loader-test-{uuid.uuid4().hex[:8]}"
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(root).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the tests' tmp folder")
    other.mkdir()
    return other


def test_archive_and_failed_on_another_filesystem_are_copied_then_removed(tmp_path: Path, sqlite_db: Db) -> None:
    root = tmp_path / "drop"
    root.mkdir()
    other = _elsewhere(tmp_path)
    try:
        for sub in ("archive", "failed"):
            (other / sub).mkdir()
            (root / sub).symlink_to(other / sub)
        good, bad = _drop(root, "good.csv", GOOD), _drop(root, "bad.csv", BAD)
        assert work.process(_job(root, good, sqlite_db, "good")).action == Action.ARCHIVED
        out = work.process(_job(root, bad, sqlite_db, "bad"))
        assert out.action == Action.FAILED, out
        assert files_in(root, "processing") == [] and list((root / "processing").iterdir()) == []
        assert [p.read_text() for p in (other / "archive").rglob("good.csv")] == [GOOD]
        assert (other / "failed" / "bad.csv").read_text() == BAD
        assert json.loads((other / "failed" / "bad.csv.error.json").read_text())["line"] == 52
        assert not [p for p in other.rglob(".*") if p.is_file()], "no temporary copies left"
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_processing_on_another_filesystem_is_refused_at_start(tmp_path: Path) -> None:
    root = tmp_path / "drop"
    (root / "inbox").mkdir(parents=True)
    other = _elsewhere(tmp_path)
    try:
        (root / "processing").symlink_to(other)
        with pytest.raises(ConfigError, match="different filesystems"):
            folders.ensure_layout(str(root))
    finally:
        shutil.rmtree(other, ignore_errors=True)


# -- item 7: full disks ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", ["1m", "6m"])  # full while staging / full while publishing
def test_a_full_sqlite_filesystem_is_the_databases_failure_not_bad_data(tmp_path: Path, size: str) -> None:
    with tiny_fs(tmp_path / "dbfs", size) as fs:
        data = tmp_path / "big.csv"
        data.write_text("id,name,amount\n" + "".join(f"{i},name {i},{i}.5\n" for i in range(200_000)))
        out = cli("--db", f"sqlite:///{fs}/loader.db", "load", str(data), "--table", "big")
        assert out.returncode == EXIT_IOERR, out.stderr
        assert "disk is full" in out.stderr and "Traceback" not in out.stderr
        assert list((fs / "loader.stage").iterdir()) == [], "no stage file left on the full disk"


def test_a_full_rejects_folder_is_a_temporary_failure(tmp_path: Path, sqlite_db: Db) -> None:
    with tiny_fs(tmp_path / "rejfs", "64k") as fs:
        fill(fs)
        data = tmp_path / "some_bad.csv"
        data.write_text("id,label\n" + "".join(f"{i},x\n" if i % 7 else f"{i},x,ragged\n" for i in range(2000)))
        settings = sqlite_db.settings(bad_rows="reject_rows", max_rejects="50%", rejects_dir=str(fs))
        result = load_file(LoadRequest(str(data), "some_bad"), settings)
        assert result.exit_code == EXIT_TEMPFAIL and result.transient, result
        assert "cannot write the rejects file" in (result.error or "")
        assert "some_bad" not in sqlite_db.tables("ref"), "nothing published without its rejects"


def test_a_full_drop_root_keeps_the_file_and_its_reason_until_there_is_room(tmp_path: Path, sqlite_db: Db) -> None:
    with tiny_fs(tmp_path / "rootfs", "256k") as root:
        path = _drop(root, "bad.csv", BAD)
        filler = fill(root)
        out = work.process(_job(root, path, sqlite_db))
        assert out.action == Action.RETRY and "cannot write failed/" in (out.reason or ""), out
        assert path.exists() and list((root / "failed").iterdir()) == [], "no file in failed/ without its reason"
        filler.unlink()
        out = work.process(_job(root, path, sqlite_db))
        assert out.action == Action.FAILED
        assert json.loads((root / "failed" / "bad.csv.error.json").read_text())["line"] == 52


# -- item 8: a file that cannot be claimed --------------------------------------------------------
def test_an_immutable_inbox_file_is_logged_once_and_once_still_ends(tmp_path: Path, sqlite_db: Db) -> None:
    root = tmp_path / "drop"
    folders.ensure_layout(str(root))
    stuck = root / "inbox" / "stuck.csv"
    stuck.write_text(GOOD)
    (root / "inbox" / "fine.csv").write_text(GOOD)
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i needs root on a filesystem with inode flags")
    try:
        svc = Service(sqlite_db, root, "--root", str(root), "--once", "--workers", "1", "--poll", "0.1",
                      "--stable", "0", "--log-format", "json")
        with svc:
            assert svc.proc is not None
            assert svc.proc.wait(timeout=60) == EXIT_TEMPFAIL, svc.log()
        log = svc.log()
        assert log.count("cannot claim") == 1 and "Traceback" not in log, log
        assert list((root / "processing").iterdir()) == [], "no claim folder leaked"
        assert stuck.exists() and files_in(root, "archive") == ["fine.csv"]
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], capture_output=True)


# -- item 9: a killed `loader load` ---------------------------------------------------------------
def _killed_load(db: Db, data: Path, table: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "loader", "--db", db.url, "load", str(data), "--table", table],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: db.staging_leftovers() or proc.poll() is not None, 60, "the load to stage")
        assert proc.poll() is None, "the load finished before it could be killed: make the file bigger"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert [r["status"] for r in tracking(db)].count("loading") == 1 and db.staging_leftovers()


@pytest.mark.parametrize("kind", ["sqlite_db", "pg"])
def test_a_killed_load_is_reconciled_by_status_and_by_the_next_load(tmp_path: Path, kind: str,
                                                                    request: pytest.FixtureRequest) -> None:
    db: Db = request.getfixturevalue(kind)
    data = tmp_path / "big.csv"
    data.write_text("id,name,amount\n" + "".join(f"{i},name {i},{i}.5\n" for i in range(600_000)))
    _killed_load(db, data, "big")
    assert cli("--db", db.url, "status").returncode == 0
    rows = tracking(db)
    assert [r["status"] for r in rows] == ["failed"] and "interrupted" in rows[0]["error"]
    assert db.staging_leftovers() == []
    _killed_load(db, data, "big")
    small = tmp_path / "small.csv"
    small.write_text(GOOD)
    assert cli("--db", db.url, "load", str(small), "--table", "big").returncode == 0
    assert sorted(r["status"] for r in tracking(db)) == ["failed", "failed", "loaded"]
    assert db.staging_leftovers() == []


# -- item 12: what SQLite cannot hold --------------------------------------------------------------
def test_sqlite_reserved_table_names_and_too_many_columns_are_refused_cleanly(tmp_path: Path,
                                                                              sqlite_db: Db) -> None:
    named = tmp_path / "sqlite_stat1.csv"
    named.write_text(GOOD)
    out = cli("--db", sqlite_db.url, "load", str(named))
    assert out.returncode == EXIT_USAGE and "reserves names starting with 'sqlite_'" in out.stderr, out.stderr
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{i}" for i in range(2001)) + "\n" + ",".join("1" * 2001) + "\n")
    out = cli("--db", sqlite_db.url, "load", str(wide))
    assert out.returncode == EXIT_DATA and "2,001 columns" in out.stderr and "at most 2,000" in out.stderr, out.stderr
    assert sqlite_db.staging_leftovers() == [] and "Traceback" not in out.stderr


# -- item 16: very long names ----------------------------------------------------------------------
def test_very_long_names_get_their_error_record_and_numbered_names(tmp_path: Path, sqlite_db: Db) -> None:
    root = tmp_path / "drop"
    long_bad = "b" * 246 + ".csv"  # 250 bytes: <name>.error.json would be 261
    out = work.process(_job(root, _drop(root, long_bad, BAD), sqlite_db))
    assert out.action == Action.FAILED, out
    failed = sorted(p.name for p in (root / "failed").iterdir())
    assert len(failed) == 2 and all(len(n.encode()) <= 255 for n in failed), failed
    record = json.loads((root / "failed" / [n for n in failed if n.endswith(".error.json")][0]).read_text())
    assert record["file"] == long_bad and record["line"] == 52
    longest = "é" * 125 + ".csv"  # 254 bytes: name_2.csv would not fit
    for _ in range(2):
        assert work.process(_job(root, _drop(root, longest, GOOD), sqlite_db)).action == Action.ARCHIVED
    names = files_in(root, "archive")
    assert len(names) == 2 and longest in names and all(len(n.encode()) <= 255 for n in names)
    assert list((root / "processing").iterdir()) == []


def test_rejects_of_a_long_name_fit_too(tmp_path: Path, sqlite_db: Db) -> None:
    data = tmp_path / ("r" * 240 + ".csv")
    data.write_text(GOOD + "50,x,one too many\n")
    settings = sqlite_db.settings(bad_rows="reject_rows", max_rejects="5")
    result = load_file(LoadRequest(str(data), "r"), settings)
    assert result.exit_code == 0 and result.rejects_file and len(Path(result.rejects_file).name.encode()) <= 255
