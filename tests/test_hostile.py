"""Hostile files, part 1: a link swapped in after the claim, a file still growing after it.

Issue 11, items 1 and 2. Both run against real folders, a real SQLite database and, for the
growing file, the real service process; the attacker and the writer are real threads racing
the load, at several delays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from loader.coltypes import Action
from loader.errors import EXIT_OK, EXIT_TEMPFAIL
from loader.load import LoadRequest, load_file
from loader.service import claim, folders, work

from .conftest import Db
from .service import FAST, Service, archived, bulk_loading, tracking, wait_until

ROWS = 3000
APPENDS = 5


def _csv(label: str, rows: int = ROWS) -> str:
    return "id,label\n" + "".join(f"{i},{label}\n" for i in range(rows))


def _tables(db: Db) -> list[str]:
    """ref's tables, or none before any load created the database."""
    return db.tables("ref") if Path(db.url.split("sqlite:///", 1)[1]).exists() else []


def _swap_to_link(path: Path, target: Path, delay: float) -> threading.Thread:
    """After `delay`, replace the claimed file by a link to `target` in one rename (what an attacker does)."""
    def swap() -> None:
        time.sleep(delay)
        tmp = path.parent / ".swap"
        with contextlib.suppress(FileNotFoundError):  # the load was over and the claim folder gone: too late
            os.symlink(target, tmp)
            os.replace(tmp, path)

    thread = threading.Thread(target=swap)
    thread.start()
    return thread


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01, 0.03, 0.06, 0.12, 0.25])
def test_a_link_swapped_in_after_the_claim_never_brings_outside_data(tmp_path: Path, sqlite_db: Db,
                                                                     delay: float) -> None:
    root = tmp_path / "drop"
    folders.ensure_layout(str(root))
    secret = tmp_path / "secret.csv"
    secret.write_text(_csv("TOPSECRET"))
    (root / "inbox" / "x.csv").write_text(_csv("public"))
    path = claim.claim(str(root), "x.csv")
    assert path is not None
    swapper = _swap_to_link(path, secret, delay)
    job = work.Job(str(path), str(root), "drop", "ref", "x", "fullload", sqlite_db.settings())
    out = work.process(job)
    swapper.join()
    if out.action == Action.RETRY:  # the name was replaced while the original was read: nothing published
        assert "replaced" in (out.reason or "")
        out = work.process(dataclasses.replace(job, attempt=1))
    assert out.action in (Action.ARCHIVED, Action.FAILED), out
    if out.action == Action.FAILED:
        assert "symbolic link" in (out.reason or "")
    loaded = sqlite_db.query("SELECT DISTINCT label FROM ref.x") if "x" in _tables(sqlite_db) else []
    assert loaded in ([], [("public",)]), f"outside data read after a swap at {delay}s"
    assert all("TOPSECRET" not in str(r["detected_format"]) for r in tracking(sqlite_db))
    assert secret.read_text() == _csv("TOPSECRET")


def test_links_inside_the_root_and_relative_or_dangling_links_are_refused(tmp_path: Path, sqlite_db: Db) -> None:
    root = tmp_path / "drop"
    folders.ensure_layout(str(root))
    (root / "archive" / "old.csv").write_text(_csv("archived"))
    inbox = root / "inbox"
    (inbox / "inroot.csv").symlink_to(root / "archive" / "old.csv")
    (inbox / "relative.csv").symlink_to("../archive/old.csv")
    (inbox / "dangling.csv").symlink_to(tmp_path / "nothing-here.csv")
    for name in ("inroot.csv", "relative.csv", "dangling.csv"):
        path = claim.claim(str(root), name)
        assert path is not None
        out = work.process(work.Job(str(path), str(root), "drop", "ref", "t", "fullload", sqlite_db.settings()))
        assert out.action == Action.FAILED and "symbolic link" in (out.reason or ""), (name, out)
        assert os.path.islink(root / "failed" / name) and (root / "failed" / f"{name}.error.json").exists()
    assert list((root / "processing").iterdir()) == [], "nothing stays 'running' in processing/"
    assert "t" not in _tables(sqlite_db)


def _writer(path: Path, first: int, more: int, root: Path, log: list[str],
            loading: Callable[[], object] = lambda: True) -> threading.Thread:
    """Keeps its descriptor open: writes, pauses past stable_s (until the service claims it and, with
    `loading`, until the load is under way, so the appends land while it reads), appends."""
    def write() -> None:
        with open(path, "w") as f:
            f.write("id,label,amount\n" + "".join(f"{i},row {i},{i}.25\n" for i in range(first)))
            f.flush()
            deadline = time.monotonic() + 60
            while not any((root / "processing").glob("*/grow.csv")) and time.monotonic() < deadline:
                time.sleep(0.005)
            log.append("claimed")
            while not loading() and time.monotonic() < deadline:
                time.sleep(0.005)
            for part in range(APPENDS):  # for over a second: the load is under way for some of them
                time.sleep(0.05 if part == 0 else 0.3)
                start = first + part * more
                f.write("".join(f"{i},row {i},{i}.25\n" for i in range(start, start + more)))
                f.flush()
        log.append("closed")

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_a_file_still_written_after_its_claim_is_never_published_partially(tmp_path: Path, sqlite_db: Db) -> None:
    db, root = sqlite_db, tmp_path / "drop"
    folders.ensure_layout(str(root))
    first, more = 200_000, 20_000
    log: list[str] = []
    path = root / "inbox" / "grow.csv"
    writer = _writer(path, first, more, root, log, loading=lambda: bulk_loading(db))
    with Service(db, root, "--root", str(root), *FAST) as svc:
        wait_until(lambda: "grow.csv" in archived(root), 120, "the complete file to be loaded", svc)
        writer.join()
        assert svc.stop() == 0
    assert log == ["claimed", "closed"]
    total = first + APPENDS * more
    assert db.query("SELECT count(*) FROM ref.grow") == [(total,)]
    done = [r for r in tracking(db) if r["status"] == "loaded"]
    final = next((root / "archive").rglob("grow.csv"))
    assert [(r["rows_loaded"], r["sha256"]) for r in done] == [
        (total, hashlib.sha256(final.read_bytes()).hexdigest())], "one load, of the whole file, hashed as read"
    changed = [r for r in tracking(db) if r["status"] == "failed"]
    assert changed and all("changed while it was loaded" in r["error"] for r in changed)
    assert "changed while it was loaded" in svc.log()


def test_loader_load_of_a_growing_file_publishes_nothing_and_exits_75(tmp_path: Path, sqlite_db: Db) -> None:
    path = tmp_path / "grow.csv"
    path.write_text(_csv("first", 150_000))
    stop = threading.Event()

    def append() -> None:
        with open(path, "a") as f:
            while not stop.is_set():
                f.write("".join(f"{i},later\n" for i in range(100)))
                f.flush()
                time.sleep(0.01)

    thread = threading.Thread(target=append)
    thread.start()
    try:
        result = load_file(LoadRequest(str(path), "grow"), sqlite_db.settings())
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == EXIT_TEMPFAIL and result.transient, result
    assert "changed while it was loaded" in (result.error or "")
    assert "grow" not in _tables(sqlite_db) and sqlite_db.staging_leftovers() == []
    assert load_file(LoadRequest(str(path), "grow"), sqlite_db.settings()).exit_code == EXIT_OK  # once settled
