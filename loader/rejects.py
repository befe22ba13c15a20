"""Bad rows: the policy, finding them precisely, and the rejects file a user fixes and re-drops.

Two kinds of bad row. A row with too many or too few fields is caught by pyarrow's parser
(its invalid-row handler) with its physical row number and text. A value that does not fit
its column is caught per batch: under `reject_rows` the typed columns are read as text and
cast here, and the rows whose cast fails are set aside with the column, value and reason;
the rest of the batch goes on. Line numbers and original text of those rows are found by
the reader (one pass over the file at the end, only when there are rejects): this module
knows no input format.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .coltypes import Column
from .convert import cast
from .errors import BadInputError, ConfigError, Where, shorten

__all__ = ["POLICIES", "RAGGED_ROWS", "TYPE_MISMATCH", "Reject", "RowPolicy", "cast", "failing", "is_ratio",
           "parse_max_rejects", "split_batch", "write_rejects"]

POLICIES = ("reject_file", "reject_rows")
TYPE_MISMATCH = ("reject", "widen")
RAGGED_ROWS = ("pad", "reject")  # "" = pad under reject_rows, reject under reject_file


@dataclass(frozen=True)
class RowPolicy:
    """What a bad row does. reject_file: the first one fails the file (reference data)."""

    bad_rows: str = "reject_file"
    max_rejects: float = 0  # >= 1: a count; < 1: a ratio of the rows read; 0: none allowed
    type_mismatch: str = "reject"  # widen: a value that does not fit widens its column (re-read)
    ratio: bool | None = None  # max_rejects is a ratio; None: when below 1 ("100%" is a ratio of 1)
    ragged_rows: str = ""  # pad: short rows padded with NULL, empty extra fields dropped (ragged.py)

    @classmethod
    def of(cls, load: Any) -> RowPolicy:
        """The policy of a LoadSettings (config.py imports this module, not the other way round)."""
        return cls(load.bad_rows, parse_max_rejects(load.max_rejects), load.type_mismatch,
                   is_ratio(load.max_rejects), load.ragged_rows)

    @property
    def reject_rows(self) -> bool:
        return self.bad_rows == "reject_rows"

    @property
    def pads(self) -> bool:
        """Whether ragged rows that fit (ragged.py) are kept. Unset, the bad-row policy decides: a
        tolerant load keeps them, a strict one fails on them."""
        return self.ragged_rows == "pad" or (not self.ragged_rows and self.reject_rows)

    @property
    def is_ratio(self) -> bool:
        return self.ratio if self.ratio is not None else self.max_rejects < 1

    def allowed(self) -> str:
        return f"{self.max_rejects:.2%} of rows allowed" if self.is_ratio else f"{self.max_rejects:g} allowed"

    def over_limit(self, rejects: int, rows_read: int, final: bool) -> bool:
        if not self.is_ratio:
            return rejects > self.max_rejects
        if not final:
            return False  # a ratio can only be judged on the whole file
        return rejects > self.max_rejects * rows_read


def parse_max_rejects(value: str | float | int, source: str = "load.max_rejects") -> float:
    """'100' or 100 -> a count; '1%' or 0.01 -> a ratio."""
    text = str(value).strip()
    try:
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ConfigError(f"{source}: expected a count (100) or a ratio (0.01 or 1%), got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{source}: must be >= 0, got {value!r}")
    return number


def is_ratio(value: str | float | int) -> bool:
    """'1%' and '100%' are ratios, as is any number below 1; '1' and '100' are counts."""
    text = str(value).strip()
    return text.endswith("%") or float(text) < 1


@dataclass
class Reject:
    reason: str
    line: int | None = None
    column: str | None = None
    value: str | None = None
    raw: str | None = None
    data_row: int | None = None  # 0-based among well-formed rows, until located

    def describe(self, file: str) -> str:
        return str(BadInputError(self.reason, Where(file=file, line=self.line, column=self.column, value=self.value)))


def split_batch(batch: pa.RecordBatch, columns: Sequence[Column],
                first_row: int) -> tuple[pa.RecordBatch, list[Reject]]:
    """Cast a batch read as text to the columns' types; rows that do not cast are set aside.

    Any reader of text values (CSV, JSON strings, XML text) can use it: `first_row` is the 0-based
    index of the batch's first row among the well-formed rows, so each reject knows its data row
    and the reader can later find its line (or path) in the input.
    """
    bad: dict[int, Reject] = {}
    for i, col in enumerate(columns):
        if col.type.kind == "text" and not col.parse:  # text never fails (trim and NULL markers neither)
            continue
        for index in failing(batch.column(i), col):
            value = batch.column(i)[index].as_py()
            bad.setdefault(index, Reject(f"value is not a valid {col.type}", column=col.name,
                                         value=value, data_row=first_row + index))
    if bad:
        keep = pa.array([i not in bad for i in range(batch.num_rows)])
        batch = batch.filter(keep)
    arrays = [cast(batch.column(i), c) for i, c in enumerate(columns)]
    schema = pa.schema([pa.field(c.name, c.type.arrow()) for c in columns])
    return pa.RecordBatch.from_arrays(arrays, schema=schema), [bad[i] for i in sorted(bad)]


def failing(arr: pa.Array, col: Column, offset: int = 0) -> list[int]:
    """Indexes of values that do not cast: bisect, so k bad values cost about k·log(n) casts."""
    try:
        cast(arr, col)
        return []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(arr) == 1:
            return [offset]
    half = len(arr) // 2
    return failing(arr.slice(0, half), col, offset) + failing(arr.slice(half), col, offset + half)


def write_rejects(path: str, rejects: list[Reject]) -> str:
    """<name>.rejects.csv: line, column, reason, value, and the original row to fix and re-drop."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    path = _free_name(path)
    with open(path, "x", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["line", "column", "reason", "value", "row"])
        for r in rejects:
            w.writerow([r.line or "", r.column or "", r.reason, shorten(r.value or "", 200), r.raw or ""])
    return path


def _free_name(path: str) -> str:
    """An earlier rejects file of the same name is kept: name_2.rejects.csv, name_3…"""
    stem, n = path[: -len(".rejects.csv")] if path.endswith(".rejects.csv") else path, 1
    while os.path.exists(path):
        n += 1
        path = f"{stem}_{n}.rejects.csv"
    return path
