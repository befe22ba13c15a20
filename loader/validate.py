"""`loader validate FILE`: read a whole file as a load would and list every error it would hit.

A dry run in the spirit of Snowflake's VALIDATION_MODE and bcp's error file: the file is detected
(or read as pinned), then every row is read and typed with every bad row set aside instead of
stopping at the first, so the user sees all of them at once. No database is opened and no table
touched: the columns are the detection's (and the pins'), so an append that conforms the file to an
existing table of other types can still differ; the verdict follows the configured bad-row policy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from . import naming
from .coltypes import Mode
from .config import Settings
from .errors import BadInputError
from .opened import open_path
from .plan import plan_load
from .readers import ReadOptions, reader_for
from .rejects import Reject, RowPolicy

__all__ = ["Validation", "validate_file"]

KEPT_REJECTS = 10_000  # listed one by one; the rest are counted


@dataclass
class Validation:
    path: str
    format: str = ""
    columns: list[tuple[str, str]] = field(default_factory=list)  # name, type
    rows_read: int = 0
    rows_bad: int = 0
    errors: list[Reject] = field(default_factory=list)  # the first KEPT_REJECTS bad rows, located
    fatal: str | None = None  # an error no row policy gets past (encoding, a truncated file)
    would_load: bool = False
    verdict: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "format": self.format, "columns": [{"name": n, "type": t} for n, t in self.columns],
                "rows_read": self.rows_read, "rows_bad": self.rows_bad, "rows_loadable": self.rows_read - self.rows_bad,
                "would_load": self.would_load, "verdict": self.verdict, "fatal": self.fatal,
                "errors": [{"line": r.line, "column": r.column, "value": r.value, "reason": r.reason}
                           for r in self.errors]}


def validate_file(path: str, settings: Settings, options: ReadOptions | None = None) -> Validation:
    """Every error the file holds under the configured format, and whether it would load as configured."""
    out = Validation(path)
    configured = RowPolicy.of(settings.load)
    # read tolerantly, so one bad row does not hide the next; ragged rows are kept exactly when a load keeps them
    tolerant = dataclasses.replace(configured, bad_rows="reject_rows", max_rejects=1.0, ratio=True,
                                   type_mismatch="reject", ragged_rows="pad" if configured.pads else "reject")
    opts = _options(options, settings)
    try:
        with open_path(path) as opened:
            source = opened.input()
            reader = reader_for(source, opts.format)
            detection = reader.detect(source, opts)
            plan = plan_load(Mode.FULLLOAD, naming.table_from_filename(naming.file_stem(path)), settings, detection,
                             None, load_id="validate", direct_append=False, now=dt.datetime.now(dt.UTC))
            detection = plan.read_as(detection)
            out.format = str(detection.format)
            out.columns = [(c.name, str(c.type)) for c in detection.columns]
            stream = reader.stream(source, detection, opts, tolerant)
            for _ in stream.reader():
                pass
            stream.locate_rejects()
            out.rows_read, out.rows_bad = stream.rows, len(stream.rejects)
            out.errors = sorted(stream.rejects, key=lambda r: r.line or 0)[:KEPT_REJECTS]
    except BadInputError as e:
        out.fatal = str(e)
    return _verdict(out, configured)


def _options(options: ReadOptions | None, settings: Settings) -> ReadOptions:
    return dataclasses.replace(options or ReadOptions(), sample_bytes=settings.load.sample_bytes,
                               sample_rows=settings.load.sample_rows, block_size=settings.load.block_size,
                               max_columns=settings.load.max_columns)


def _verdict(out: Validation, policy: RowPolicy) -> Validation:
    if out.fatal:
        out.verdict = "would fail: " + out.fatal
    elif out.rows_bad and not policy.reject_rows:
        out.verdict = (f"would fail: {out.rows_bad:,} bad rows under bad_rows = reject_file "
                       "(reject_rows would load the other rows)")
    elif policy.over_limit(out.rows_bad, out.rows_read, final=True):
        out.verdict = f"would fail: {out.rows_bad:,} bad rows ({policy.allowed()})"
    else:
        out.would_load = True
        rejected = f", {out.rows_bad:,} rejected" if out.rows_bad else ""
        out.verdict = f"would load {out.rows_read - out.rows_bad:,} rows{rejected}"
    return out


