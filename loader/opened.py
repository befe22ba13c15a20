"""Opening an input once: no link followed, a regular file, every byte read through one descriptor.

A check on a path and a read of the same path are separate system calls, and whoever can write
into inbox/ can swap the name between them: a symlink to a secret, swapped in right after the
check, was read into a table. So a file is opened once — each component below the route's root
with O_NOFOLLOW, starting from the root's own descriptor, so no link is ever followed — the open
descriptor is checked (fstat: a regular file, one link, on the root's device), and detection,
the hash and the reader all read that descriptor (readers.base.Input.of_fd). No name is looked
up again after that.

The size is fixed when the file is opened: a writer still appending changes nothing that is read,
and `changed()` compares size, mtime and ctime of the descriptor before publishing, so a file
that changed while it loaded is never published (InputChangedError, transient: it is loaded
again once it has settled).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from dataclasses import dataclass
from typing import Any

from .errors import EXIT_TEMPFAIL, NoInputError, TransientError, Where
from .readers.base import Input

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
# O_NOFOLLOW on a link: ELOOP on Linux, EMLINK on FreeBSD, EFTYPE (79) on macOS
_LINK_ERRNOS = {errno.ELOOP, errno.EMLINK, 79}


class RefusedInputError(NoInputError):
    """The input is not a regular file this loader may read (a link, a FIFO, a hard link…)."""


class InputChangedError(TransientError):
    """The file changed while it was read: nothing is published; loading it again once it settles may work."""

    exit_code = EXIT_TEMPFAIL  # the same command succeeds once the writer has finished


@dataclass(frozen=True)
class Snapshot:
    size: int
    mtime_ns: int
    ctime_ns: int

    @staticmethod
    def of(st: os.stat_result) -> Snapshot:
        return Snapshot(st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Opened:
    """One checked descriptor; close it (or use `with`) when the load is over."""

    def __init__(self, fd: int, path: str, st: os.stat_result):
        self.fd, self.path, self.st = fd, path, st
        self.at_open = Snapshot.of(st)

    def input(self, shown_as: str | None = None) -> Input:
        """What the readers get: `shown_as` names the file in messages (the name as dropped)."""
        shown = shown_as or self.path
        return Input.of_fd(self.fd, shown, self.st.st_size, os.path.basename(self.path))

    def changed(self) -> str | None:
        """Why the file is not the one that was read (size, mtime or ctime moved), or None."""
        st = os.fstat(self.fd)
        now, before = Snapshot.of(st), self.at_open
        if now == before:
            return None
        if st.st_nlink == 0:
            return "the file was replaced or deleted while it was loaded; nothing published"
        if now.size != before.size:
            return (f"the file changed while it was loaded ({before.size:,} bytes when opened, {now.size:,} now): "
                    "it was still being written; nothing published")
        return "the file was modified while it was loaded (its mtime or ctime moved); nothing published"

    def quiet_s(self) -> float:
        """Seconds since the file was last written (negative when its clock runs ahead of ours)."""
        return time.time() - os.fstat(self.fd).st_mtime

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_path(path: str) -> Opened:
    """`loader load FILE`: the file itself, never through a link; a regular file."""
    try:
        fd = os.open(path, _FILE_FLAGS)
    except OSError as e:
        raise _open_error(path, e, None, None) from None
    return _checked(fd, path, root_dev=None)


def open_in_root(root: str, path: str) -> Opened:
    """A file of a route: every component below `root` opened without following links, then checked."""
    rel = os.path.relpath(path, root)
    parts = rel.split(os.sep)
    if rel.startswith(os.pardir) or os.path.isabs(rel) or not parts:
        raise RefusedInputError(f"{path} lies outside the route's root {root}", Where(file=path))
    root_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    fds = [root_fd]
    try:
        root_dev = os.fstat(root_fd).st_dev
        for part in parts[:-1]:
            try:
                fds.append(os.open(part, _DIR_FLAGS, dir_fd=fds[-1]))
            except OSError as e:
                if e.errno in _LINK_ERRNOS or e.errno == errno.ENOTDIR:
                    raise RefusedInputError(f"the folder {part!r} on the way to it is a link or not a folder",
                                            Where(file=path)) from None
                raise _open_error(path, e, None, None) from None
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fds[-1])
        except OSError as e:
            raise _open_error(path, e, fds[-1], root) from None
    finally:
        for d in fds:
            os.close(d)
    return _checked(fd, path, root_dev)


def _checked(fd: int, path: str, root_dev: int | None) -> Opened:
    try:
        st = os.fstat(fd)
        reason = refusal(st, root_dev)
        if reason:
            raise RefusedInputError(reason, Where(file=path))
    except BaseException:
        os.close(fd)
        raise
    return Opened(fd, path, st)


def refusal(st: os.stat_result, root_dev: int | None) -> str | None:
    """Why an opened file must not be read, or None. Pure: tested on stat results."""
    if not stat.S_ISREG(st.st_mode):
        return f"cannot read the file: it is not a regular file ({_kind(st.st_mode)})"
    if root_dev is None:
        return None
    if st.st_dev != root_dev:
        return "it lies on another filesystem than the route's root (a mount inside the root?)"
    if st.st_nlink > 1:
        return "it is a hard link (it could expose a file outside the route's root)"
    return None


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]
    return next((name for test, name in kinds if test(mode)), "not a file")


def _open_error(path: str, e: OSError, dir_fd: int | None, root: str | None) -> NoInputError:
    if e.errno in _LINK_ERRNOS:
        return RefusedInputError(link_refusal(path, root), Where(file=path))
    if e.errno == errno.ENXIO:
        return RefusedInputError("cannot read the file: it is not a regular file (a socket or a device)",
                                 Where(file=path))
    return NoInputError(f"cannot read the file: {e.strerror or e}", Where(file=path))


def link_refusal(path: str, root: str | None) -> str:
    """A link is never read, wherever it leads; the message says where, for the person who dropped it."""
    try:
        to = os.readlink(path)
    except OSError:
        to = "?"
    if root is None:
        return f"it is a symbolic link (to {to}): give the file itself, loader does not read through links"
    resolved = os.path.realpath(path)
    real_root = os.path.realpath(root)
    inside = resolved == real_root or resolved.startswith(real_root.rstrip(os.sep) + os.sep)
    where = "inside" if inside else "outside"
    return f"it is a symbolic link (to {to}, {where} the route's root {root}): a route reads only regular files"
