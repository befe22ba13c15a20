"""Uploads: how a file received over HTTP keeps one id from its 202 to its outcome.

The body is written to inbox/.upload-<id>.part (a dot-name the watcher never picks), a record
<root>/uploads/<id>.json is written, then the part is renamed to inbox/<name> without ever
replacing a file: while another file of that name still waits in inbox/, the part waits too and
`deliver_waiting` (every scan) renames it once the name is free, oldest first.

The id is carried by the file itself: a rename keeps the inode, so when the supervisor claims
inbox/<name> and finds the inode of a pending upload it names the claim folder after the upload
(processing/<id>/<name>). Every tracking row of every attempt then has the file path
<root>/processing/<id>/<name>, which is how GET /v1/loads/<id> finds them; before the first
row exists the file's place (a waiting part, inbox/, processing/) says "queued". No column is
added to the tracking table, and a restart loses nothing: the records are files and the claim
folder's name is the id. The id has the claim id's form, so recovery still takes claims in
arrival order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import RouteSettings
from . import claim, folders

log = logging.getLogger("loader.service")
UPLOADS = "uploads"
PART_PREFIX = ".upload-"
RECORD_KEEP_S = 30 * 86400  # a record older than this is pruned at start: the tracking rows stay
ID_PATTERN = re.compile(r"\d{8}T\d{12}-\d{1,10}-\d{6}")


@dataclass(frozen=True)
class Upload:
    id: str
    route: str
    root: str
    name: str
    size: int
    sha256: str
    received_at: str
    dev: int
    ino: int

    def claim_path(self) -> Path:
        """Where its tracking rows point: the claim folder is named after the upload."""
        return Path(os.path.abspath(self.root), folders.PROCESSING, self.id, self.name)


def new_id() -> str:
    return claim.claim_id(dt.datetime.now(dt.UTC), os.getpid(), next(claim._counter))


def part_path(root: str, upload_id: str) -> Path:
    return Path(root, folders.INBOX, f"{PART_PREFIX}{upload_id}.part")


def record_path(root: str, upload_id: str) -> Path:
    return Path(root, UPLOADS, f"{upload_id}.json")


def read_record(root: str, upload_id: str) -> Upload | None:
    if not ID_PATTERN.fullmatch(upload_id):
        return None
    try:
        return Upload(**json.loads(record_path(root, upload_id).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _write_record(up: Upload) -> None:
    """tmp + fsync + rename: a record is whole or absent, even after a power loss."""
    folder = Path(up.root, UPLOADS)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{up.id}.json.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(asdict(up), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, record_path(up.root, up.id))


class Registry:
    """Pending uploads by inode; shared by the HTTP thread (add) and the supervisor (deliver, adopt)."""

    def __init__(self, route_list: list[RouteSettings]):
        self.routes = {r.name: r for r in route_list}
        self._pending: dict[tuple[int, int], Upload] = {}
        self._waiting: list[Upload] = []  # complete parts whose name is still taken in inbox/
        self._lock = threading.Lock()

    # -- the HTTP thread ----------------------------------------------------------------------
    def add(self, route: RouteSettings, upload_id: str, name: str, size: int, sha256: str) -> Upload:
        """A complete, verified part: record it, then move it into inbox/ (or let it wait for the name)."""
        st = os.stat(part_path(route.root, upload_id))
        up = Upload(upload_id, route.name, route.root, name, size, sha256,
                    dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), st.st_dev, st.st_ino)
        _write_record(up)
        with self._lock:
            self._pending[(up.dev, up.ino)] = up
            self._waiting.append(up)
            self._deliver_locked()
        return up

    # -- the supervisor -------------------------------------------------------------------------
    def recover(self) -> None:
        """At start: pending records back in memory (their parts delivered when free), old ones pruned."""
        cutoff = time.time() - RECORD_KEEP_S
        for route in self.routes.values():
            folder = Path(route.root, UPLOADS)
            for path in sorted(folder.glob("*.json")) if folder.exists() else []:
                self._recover_one(route, path, cutoff)
            for part in Path(route.root, folders.INBOX).glob(f"{PART_PREFIX}*.part"):
                if read_record(route.root, part.name[len(PART_PREFIX):-len(".part")]) is None:
                    part.unlink(missing_ok=True)  # the body never completed: its client got no 202
        with self._lock:
            self._deliver_locked()

    def _recover_one(self, route: RouteSettings, path: Path, cutoff: float) -> None:
        up = read_record(route.root, path.stem)
        if up is None:
            return
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            return
        if part_path(up.root, up.id).exists():
            self._pending[(up.dev, up.ino)] = up
            self._waiting.append(up)
            return
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(Path(up.root, folders.INBOX, up.name))
            if (st.st_dev, st.st_ino) == (up.dev, up.ino):
                self._pending[(up.dev, up.ino)] = up

    def deliver_waiting(self) -> None:
        if self._waiting:
            with self._lock:
                self._deliver_locked()

    def _deliver_locked(self) -> None:
        still: list[Upload] = []
        for up in sorted(self._waiting, key=lambda u: u.id):
            if any(w.name == up.name and w.root == up.root for w in still) or not _deliver(up):
                still.append(up)  # the name is taken: an earlier upload of it goes first
        self._waiting = still

    def adopt(self, claimed: Path) -> Path:
        """A claimed file that is an upload moves to processing/<upload id>/ (one rename of its folder)."""
        try:
            st = os.stat(claimed)
        except FileNotFoundError:
            return claimed
        with self._lock:
            up = self._pending.pop((st.st_dev, st.st_ino), None)
        if up is None or claimed.parent.name == up.id:
            return claimed
        folder = claimed.parent.parent / up.id
        with contextlib.suppress(OSError):
            folder.rmdir()  # left empty by an aborted load that gave the file back
        try:
            os.rename(claimed.parent, folder)
        except OSError as e:
            log.warning("upload %s: cannot name its claim folder after it (%s); its status will not be found", up.id, e)
            return claimed
        return folder / claimed.name

    def waiting_count(self) -> int:
        return len(self._waiting)


def _deliver(up: Upload) -> bool:
    """part -> inbox/<name> by link + unlink: never replaces a file; False while the name is taken."""
    part = part_path(up.root, up.id)
    dst = Path(up.root, folders.INBOX, up.name)
    try:
        os.link(part, dst)
    except FileExistsError:
        return False
    except FileNotFoundError:
        return True  # delivered before a crash (the record outlived the part): nothing left to do
    os.unlink(part)
    return True


def where(up: Upload) -> str | None:
    """'waiting' (its part), 'inbox', 'processing' or 'failed' (found by inode), else None (done or gone)."""
    if part_path(up.root, up.id).exists():
        return "waiting"
    if up.claim_path().exists():
        return "processing"
    if _same_file(Path(up.root, folders.INBOX, up.name), up):
        return "inbox"
    return "failed" if failed_copy(up) is not None else None


def failed_copy(up: Upload) -> Path | None:
    """The upload in failed/ (perhaps renamed name_2…): same inode, whatever its name."""
    folder = Path(up.root, folders.FAILED)
    stem = os.path.splitext(up.name)[0]
    for path in folder.glob(f"{glob_escape(stem)}*") if folder.exists() else []:
        if not path.name.endswith(".error.json") and _same_file(path, up):
            return path
    return None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _same_file(path: Path, up: Upload) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (up.dev, up.ino)
