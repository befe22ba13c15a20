"""Is the first row of a table its header? And which header cells name which columns?

Pure logic over parsed rows: the detector asks, after it has found where the table starts.
"""

from __future__ import annotations

import re
from collections import Counter

from .infer import is_typed

HEADER_EVIDENCE_ROWS = 50  # rows below the first compared with it: enough to see each column's values
_YEAR = re.compile(r"^(19|20)\d\d$")
_DATA_LIKE = re.compile(r"^([\w.+-]+@[\w-]+\.[\w.-]+|(https?|ftp)://\S+|www\.\S+)$")


def has_header(rows: list[list[str]]) -> bool:
    """A first row is a header when its cells are unlike the values below them.

    Each column votes: a word over numbers is a header, a number over numbers is data (unless
    it is a year over other figures, as statistics exports have), a value repeated below is
    data, a different shape from the values below leans header. No evidence: a row of
    distinct, non-empty names that are not data-like (e-mails, URLs) is a header.
    """
    first = rows[0]
    if len(first) > 1 and any(r == first for r in rows[1:]):
        return True  # the same row again further down: stacked tables, each with its header
    below = rows[1:HEADER_EVIDENCE_ROWS + 1]
    data = [r for r in below if len(r) == len(first)] or below
    if not data:
        return all(first) and not any(data_like(v) for v in first)
    votes = sum(_vote(name, [r[j] for r in data if j < len(r) and r[j] != ""]) for j, name in enumerate(first))
    if votes:
        return votes > 0
    return all(first) and len(set(first)) == len(first) and not any(data_like(v) for v in first)


def _vote(name: str, values: list[str]) -> float:
    """One column's vote: > 0 for a header cell, < 0 for a data value, 0 for no evidence."""
    if not values:
        return 0
    typed = sum(1 for v in values if is_typed(v)) / len(values)
    if typed >= 0.9:
        if not is_typed(name):
            return 1 if name else 0.25
        if _YEAR.match(name) and not all(_YEAR.match(v) for v in values):
            return 1
        return -1
    if name in values or data_like(name):
        return -1
    if _shape(name) != Counter(map(_shape, values)).most_common(1)[0][0]:
        return 0.5
    return 0


def data_like(value: str) -> bool:
    return bool(_DATA_LIKE.match(value)) or (is_typed(value) and not _YEAR.match(value))


def _shape(value: str) -> str:
    """A rough shape of a text value: header words look unlike codes and sentences."""
    letters = sum(ch.isalpha() for ch in value)
    digits = sum(ch.isdigit() for ch in value)
    spaced = " " in value.strip()
    return f"{'L' if letters else ''}{'D' if digits else ''}{'S' if spaced else ''}{min(len(value) // 12, 3)}"


def header_like(fields: list[str], width: int, exact: bool = False) -> bool:
    """A row of distinct names (no numbers) of about the table's width."""
    names = [f for f in fields if f]
    if len(names) < min(2, width) or len(set(names)) != len(names) or any(is_typed(f) for f in names):
        return False
    return len(fields) == width if exact else (width - 1 <= len(fields) <= width + 2 and len(fields) != width)


def fit_header(header: list[str], width: int, data: list[list[str]]) -> list[str]:
    """Header cells for exactly `width` columns: an extra trailing delimiter dropped, a missing
    trailing one added, or, one cell short with values in the last column, R's row-name column."""
    if len(header) == width - 1 and data and not all(r[-1] == "" for r in data if len(r) == width):
        header = [""] + header
    return (header + [""] * width)[:width]
