"""The drop folder's layout and every move a file makes through it.

A route's root holds inbox/ (arrivals), processing/<claim id>/<name> (claimed: one private
folder per claim, so a tracking row's path names exactly one claim, and a lock file in it
says whether a live process is working on it), archive/YYYY/MM/DD/ (loaded or duplicate),
failed/ (with <name>.error.json). Moves never overwrite: a taken name gets _2, _3…
Naming is pure (tested without a filesystem); the moves are small wrappers around rename.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import itertools
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

INBOX, PROCESSING, ARCHIVE, FAILED = "inbox", "processing", "archive", "failed"
LOCK_NAME = ".claim.lock"
_counter = itertools.count()


# -- pure naming ---------------------------------------------------------------------------
def claim_id(now: dt.datetime, pid: int, seq: int) -> str:
    """Sortable by claim time, unique per process: the order files arrived in survives a crash."""
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{pid}-{seq:06d}"


def archive_subdir(day: dt.date) -> str:
    return os.path.join(ARCHIVE, f"{day:%Y}", f"{day:%m}", f"{day:%d}")


def numbered(name: str, n: int) -> str:
    """customers.csv, customers_2.csv, customers_3.csv…; the extension stays last."""
    if n <= 1:
        return name
    stem, ext = os.path.splitext(name)
    return f"{stem}_{n}{ext}"


def error_json_name(name: str) -> str:
    return name + ".error.json"


def inside(root: str, path: str) -> bool:
    """Does `path`, with every link resolved, lie inside `root`?"""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


# -- the folders --------------------------------------------------------------------------------
def ensure_layout(root: str) -> None:
    for sub in (INBOX, PROCESSING, ARCHIVE, FAILED):
        os.makedirs(os.path.join(root, sub), exist_ok=True)


def refusal(root: str, path: str) -> str | None:
    """Why a file must not be read, or None: links leading outside the root, hard links, non-files."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "the file disappeared"
    if stat.S_ISLNK(st.st_mode):
        if not inside(root, path):
            return f"it is a link to {os.path.realpath(path)}, outside the route's root {root}"
        st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if st.st_nlink > 1:
        return "it is a hard link (it could expose a file outside the route's root)"
    return None


def claim(root: str, name: str) -> Path | None:
    """inbox/<name> -> processing/<claim id>/<name> by one atomic rename; None if it is gone."""
    now = dt.datetime.now(dt.UTC)
    folder = Path(root, PROCESSING, claim_id(now, os.getpid(), next(_counter)))
    folder.mkdir(parents=True)
    try:
        os.rename(os.path.join(root, INBOX, name), folder / name)
    except FileNotFoundError:
        folder.rmdir()
        return None
    return folder / name


def claimed(root: str) -> list[Path]:
    """Files under processing/, oldest claim first (recovery puts them back to work in order)."""
    base = Path(root, PROCESSING)
    out = []
    for folder in sorted(base.iterdir()) if base.exists() else []:
        if not folder.is_dir():
            continue
        files = [p for p in folder.iterdir() if p.name != LOCK_NAME]
        if not files:
            remove_claim_folder(folder)
        out.extend(sorted(files))
    return out


def lock_claim(path: Path) -> int | None:
    """An exclusive lock on a claim; the fd to keep, or None if a live process holds it."""
    fd = os.open(path.parent / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def remove_claim_folder(folder: Path) -> None:
    (folder / LOCK_NAME).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: something else lies there, leave it for a person
        folder.rmdir()


def move_no_clobber(src: Path, dst_dir: Path, name: str,
                    free: Callable[[Path], bool] | None = None) -> Path:
    """Move src into dst_dir as name (or name_2…), never replacing an existing file."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        dst = dst_dir / numbered(name, n)
        if free is not None and not free(dst):
            continue
        if _link_then_unlink(src, dst):
            return dst
    raise AssertionError("unreachable")


def _link_then_unlink(src: Path, dst: Path) -> bool:
    """A no-clobber rename: link() fails if dst exists; falls back to check-then-rename."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(dst):
            return False
        os.rename(src, dst)  # a filesystem without hard links (some shares): one supervisor per root
        return True
    os.unlink(src)
    return True


def archive(root: str, src: Path, day: dt.date) -> Path:
    dst = move_no_clobber(src, Path(root, archive_subdir(day)), src.name)
    _cleanup(src)
    return dst


def _cleanup(src: Path) -> None:
    if src.parent.parent.name == PROCESSING:
        remove_claim_folder(src.parent)


def fail(root: str, src: Path, details: dict[str, object]) -> Path:
    """failed/<name> beside failed/<name>.error.json; neither ever replaces an existing file."""
    folder = Path(root, FAILED)
    dst = move_no_clobber(src, folder, src.name, free=lambda p: not os.path.lexists(error_json_name(str(p))))
    tmp = folder / f".{dst.name}.error.json.tmp"
    tmp.write_text(json.dumps(details, indent=1, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / error_json_name(dst.name))
    _cleanup(src)
    return dst


def unclaim(root: str, src: Path) -> Path:
    """Back to inbox/ (an aborted load): same name if free, else name_2…"""
    dst = move_no_clobber(src, Path(root, INBOX), src.name)
    remove_claim_folder(src.parent)
    return dst
