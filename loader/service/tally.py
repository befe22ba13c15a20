"""What the service did: counts for the stop line, and one log line per file that reached its end."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from ..coltypes import Action, Status
from ..logs import fields
from .work import Outcome

log = logging.getLogger("loader.service")


@dataclass
class Tally:
    loaded: int = 0
    failed: int = 0
    duplicate: int = 0
    rows: int = 0
    started: float = field(default_factory=time.monotonic)

    def counts(self) -> dict[str, int]:
        return {Status.LOADED: self.loaded, Status.FAILED: self.failed, Status.DUPLICATE: self.duplicate,
                "rows": self.rows}

    def count(self, name: str, table: str, out: Outcome) -> None:
        """Book and log a file's end; a recovered file archived without a result was counted before the crash."""
        r = out.result
        if out.action == Action.ARCHIVED and r is not None:
            self.rows += r.rows_loaded
            if r.status == Status.DUPLICATE:
                self.duplicate += 1
            else:
                self.loaded += 1
        elif out.action == Action.FAILED:
            self.failed += 1
        status = r.status if r is not None else out.action
        level = logging.ERROR if out.action == Action.FAILED else logging.INFO
        log.log(level, "%s %s%s", status, name, f": {out.reason}" if out.reason else "",
                extra=fields(file=name, table=table, stage=status, load_id=r.load_id if r else None,
                             rows=r.rows_loaded if r else None, rejects=r.rows_rejected if r else None,
                             duration_ms=round(r.seconds * 1000) if r else None, moved_to=out.moved_to,
                             worker=out.pid))
