"""Claiming a file: one atomic rename into a private folder, and a lock that says who works on it.

inbox/<name> -> processing/<claim id>/<name>. A folder per claim means a tracking row's path
names exactly one claim; the lock file beside the file is held (flock) by the process working
on it for the whole job, so a worker orphaned by a dead supervisor is never doubled. The claim
id sorts by claim time, so recovery puts files back to work in the order they arrived.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import itertools
import os
from pathlib import Path

from .folders import INBOX, LOCK_NAME, PROCESSING, move_no_clobber, remove_claim_folder

_counter = itertools.count()


class ClaimError(Exception):
    """The file is there but cannot be claimed (immutable: EPERM; processing/ full or read-only).

    Nothing is left behind: the claim folder made for it is removed again.
    """


def claim_id(now: dt.datetime, pid: int, seq: int) -> str:
    """Sortable by claim time, unique per process: the order files arrived in survives a crash."""
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{pid}-{seq:06d}"


def new_claim_id() -> str:
    return claim_id(dt.datetime.now(dt.UTC), os.getpid(), next(_counter))


def claim(root: str, name: str, cid: str | None = None) -> Path | None:
    """inbox/<name> -> processing/<claim id>/<name> by one atomic rename; None if it is gone (another
    host may have won the rename: that is not an error). `cid`: the id a lease was taken under.

    Raises ClaimError (never a bare OSError) when the rename or the folder is refused.
    """
    folder = Path(root, PROCESSING, cid or new_claim_id())
    try:
        folder.mkdir(parents=True)
    except OSError as e:
        raise ClaimError(f"cannot create {folder}: {e.strerror or e}") from None
    try:
        os.rename(os.path.join(root, INBOX, name), folder / name)
    except OSError as e:
        with contextlib.suppress(OSError):
            folder.rmdir()
        if isinstance(e, FileNotFoundError):
            return None
        raise ClaimError(f"cannot move it to processing/ ({e.strerror or e})") from None
    return folder / name


def claimed(root: str, tidy_after_s: float = 0.0) -> list[Path]:
    """Files under processing/, oldest claim first (recovery puts them back to work in order).

    Empty claim folders are removed once older than `tidy_after_s`: with several hosts, another
    one may be between making its folder and renaming its file into it.
    """
    base = Path(root, PROCESSING)
    out = []
    for folder in sorted(base.iterdir()) if base.exists() else []:
        try:
            files = [p for p in folder.iterdir() if p.name != LOCK_NAME] if folder.is_dir() else None
        except FileNotFoundError:  # archived by its owner (another host, another worker) meanwhile
            continue
        if files is None:
            continue
        if not files and _age(folder) >= tidy_after_s:
            remove_claim_folder(folder)
        out.extend(sorted(files))
    return out


def _age(folder: Path) -> float:
    try:
        return dt.datetime.now().timestamp() - folder.stat().st_mtime
    except OSError:
        return 0.0


def lock_claim(path: Path) -> int | None:
    """An exclusive lock on a claim; the fd to keep, or None if a live process holds it."""
    fd = os.open(path.parent / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def unclaim(root: str, src: Path) -> Path:
    """Back to inbox/ (an aborted load): same name if free, else name_2…"""
    dst = move_no_clobber(src, Path(root, INBOX), src.name)
    remove_claim_folder(src.parent)
    return dst
