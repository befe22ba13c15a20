"""Ragged rows under `bad_rows = "reject_rows"`: which are kept (padded or trimmed), which rejected.

The rule, one for every dialect and path (pyarrow's or Python's reader):

- a row with fewer fields than the table (hand-edited files, exports that stop at the last filled
  cell) is kept: its missing trailing fields are NULL;
- a row with more fields whose extra fields are all empty (a trailing delimiter) is kept without them;
- any other longer row is rejected: its extra values belong to no column, and shifting them into
  the wrong columns would be silently wrong.

Under the default `reject_file` every ragged row fails the file, as before. Kept rows are counted
and the counts go into the tracking row's notes, so a padded load is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass


def fit_row(fields: list[str], width: int) -> list[str | None] | None:
    """The row as `width` values (None = NULL), or None when it must be rejected."""
    if len(fields) < width:
        return [*fields, *([None] * (width - len(fields)))]
    if len(fields) > width and not any(fields[width:]):
        return list(fields[:width])
    return None if len(fields) != width else list(fields)


@dataclass
class RaggedTally:
    padded: int = 0
    trimmed: int = 0

    def count(self, fields: list[str], width: int) -> None:
        if len(fields) < width:
            self.padded += 1
        elif len(fields) > width:
            self.trimmed += 1

    def notes(self) -> list[str]:
        out = []
        if self.padded:
            out.append(f"{self.padded:,} short rows kept: their missing trailing fields are NULL")
        if self.trimmed:
            out.append(f"{self.trimmed:,} rows kept without their extra empty trailing fields")
        return out
