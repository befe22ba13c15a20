"""The drop folder's layout and every move a file makes through it.

A route's root holds inbox/ (arrivals), processing/<claim id>/<name> (claimed: see claim.py),
archive/YYYY/MM/DD/ (loaded or duplicate), failed/ (with <name>.error.json). Moves never
overwrite: a taken name gets _2, _3… Naming is pure (tested without a filesystem); the moves
are small wrappers around rename, and a move out of processing/ removes the emptied claim folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import itertools
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

INBOX, PROCESSING, ARCHIVE, FAILED = "inbox", "processing", "archive", "failed"
LOCK_NAME = ".claim.lock"  # the claim lock (claim.py); a move out of processing/ removes it


# -- pure naming ---------------------------------------------------------------------------
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
