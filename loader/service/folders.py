"""The drop folder's layout and every move a file makes through it.

A route's root holds inbox/ (arrivals), processing/<claim id>/<name> (claimed: see claim.py),
archive/YYYY/MM/DD/ (loaded or duplicate), failed/ (with <name>.error.json). Moves never
overwrite: a taken name gets _2, _3… and every name fits in 255 bytes (loader.filenames). Naming
is pure (tested without a filesystem); the moves are small wrappers around link/rename; archive/
or failed/ on another filesystem get a copy, fsynced before the original goes. A move out of
processing/ removes the emptied claim folder. The error record is written before the file
moves, so a full disk leaves the file in processing/ (retried), never in failed/ without a reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import itertools
import json
import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path

from .. import filenames
from ..errors import ConfigError

INBOX, PROCESSING, ARCHIVE, FAILED = "inbox", "processing", "archive", "failed"
LOCK_NAME = ".claim.lock"  # the claim lock (claim.py); a move out of processing/ removes it
ERROR_JSON = ".error.json"


# -- pure naming ---------------------------------------------------------------------------
def archive_subdir(day: dt.date) -> str:
    return os.path.join(ARCHIVE, f"{day:%Y}", f"{day:%m}", f"{day:%d}")


def numbered(name: str, n: int) -> str:
    """customers.csv, customers_2.csv, customers_3.csv…; the extension stays last."""
    return filenames.numbered(name, n)


def error_json_name(name: str) -> str:
    return name + ERROR_JSON


def inside(root: str, path: str) -> bool:
    """Does `path`, with every link resolved, lie inside `root`?"""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


# -- the folders --------------------------------------------------------------------------------
def ensure_layout(root: str) -> None:
    """The route's folders, made inside its root; a root that is a file, or whose parent folder does
    not exist (a typo), is a configuration error rather than a tree created somewhere unexpected."""
    parent = os.path.dirname(os.path.abspath(root))
    if os.path.exists(root) and not os.path.isdir(root):
        raise ConfigError(f"route root {root} is a file, not a folder (the folder holding inbox/)")
    if not os.path.isdir(root) and not os.path.isdir(parent):
        raise ConfigError(f"route root {root}: the folder {parent} does not exist (the loader makes the root's "
                          "own folder and its inbox/, processing/, archive/, failed/, not the folders above it)")
    try:
        for sub in (INBOX, PROCESSING, ARCHIVE, FAILED):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
    except OSError as e:
        raise ConfigError(f"route root {root}: cannot make its folders: {e.strerror or e}") from None
    check_layout(root)


def check_layout(root: str) -> None:
    """A claim is one rename inbox/ -> processing/, atomic only on one filesystem: refuse anything else
    at start. (archive/ and failed/ may live elsewhere: those moves copy.)"""
    inbox, processing = (os.path.join(root, sub) for sub in (INBOX, PROCESSING))
    if os.stat(inbox).st_dev != os.stat(processing).st_dev:
        from ..errors import ConfigError

        raise ConfigError(f"{root}: inbox/ and processing/ are on different filesystems; a claim must be one "
                          "atomic rename: put them on the same one")


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
                    free: Callable[[Path], bool] | None = None, reserve: int = 0) -> Path:
    """Move src into dst_dir as name (or name_2…), never replacing an existing file; `reserve` bytes of
    the name's 255 are kept free for a companion name (<name>.error.json)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        dst = dst_dir / filenames.numbered(name, n, reserve)
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
        if e.errno == errno.EXDEV:
            return _copy_then_unlink(src, dst)
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(dst):
            return False
        os.rename(src, dst)  # a filesystem without hard links (some shares): one supervisor per root
        return True
    os.unlink(src)
    return True


def _copy_then_unlink(src: Path, dst: Path) -> bool:
    """Across filesystems: copy to a short temporary name, fsync, link it into place (never over a file),
    then remove the source. A crash in between leaves the original and at worst a copy, never neither."""
    tmp = dst.parent / f".{uuid.uuid4().hex[:12]}.copy"
    try:
        _copy(src, tmp)
        try:
            os.link(tmp, dst, follow_symlinks=False)
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS) or os.path.lexists(dst):
                raise
            os.rename(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(dst.parent)
    os.unlink(src)
    return True


def _copy(src: Path, tmp: Path) -> None:
    """The file itself, never what a link points to (a link is copied as a link)."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        os.symlink(os.readlink(src), tmp)
        return
    try:
        st = os.fstat(fd)
        with open(tmp, "xb") as out, open(fd, "rb", closefd=False) as f:
            while chunk := f.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{uuid.uuid4().hex[:12]}.error.tmp"  # short: a 250-byte name must still get its record
    try:
        _write_synced(tmp, json.dumps(details, indent=1, default=str, ensure_ascii=False) + "\n")
        dst = move_no_clobber(src, folder, src.name, free=lambda p: not os.path.lexists(error_json_name(str(p))),
                              reserve=len(ERROR_JSON))
        os.replace(tmp, folder / error_json_name(dst.name))
    finally:
        tmp.unlink(missing_ok=True)
    _cleanup(src)
    return dst


def _write_synced(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
