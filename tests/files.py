"""Test files written on the fly: small, deterministic, with the edge cases spelled out."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

HEADER = ["id", "code", "name", "amount", "ratio", "born", "seen_at", "active", "note"]

# (row values as Python objects or None) — each row exercises something a loader gets wrong
EDGE_ROWS: list[list[Any]] = [
    [1, "00123", "plain", Decimal("12345678901234567890.1234"), 1.5e10, dt.date(2024, 2, 29),
     dt.datetime(2024, 1, 2, 3, 4, 5, 123456), True, ""],
    [2, "0001", "comma, inside", Decimal("-0.0001"), -2.25e-5, dt.date(1900, 1, 1),
     dt.datetime(1999, 12, 31, 23, 59, 59), False, None],
    [3, "007", 'doubled "quotes"', Decimal("99999999999999.9999"), 0.0, dt.date(2099, 12, 31),
     dt.datetime(2000, 1, 1), None, "line\nbreak"],
    [4, "42", "  spaces kept  ", Decimal("0"), None, None, None, True, "é ß 東京 😀"],
    [-5, None, "", None, 3.0e-300, dt.date(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 0, 0, 1), False,
     "crlf\r\ninside"],
    [9007199254740993, "NULL", "NA", Decimal("-12345678901234.5678"), 1e300, dt.date(2000, 2, 29),
     dt.datetime(2020, 2, 29, 12, 0, 0, 500000), True, 'trailing space '],
]


def render(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_edge_file(path: Path) -> list[list[Any]]:
    """The round-trip file: empty strings are quoted ("") and NULLs are empty, as exports do."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(HEADER) + "\n")
        for row in EDGE_ROWS:
            cells = []
            for v in row:
                text = render(v)
                if v == "" or any(ch in text for ch in ',"\n\r') or text != text.strip():
                    text = '"' + text.replace('"', '""') + '"'
                cells.append(text)
            f.write(",".join(cells) + "\n")
    return EDGE_ROWS


def write_numbers(path: Path, rows: int, start: int = 0, bad_at: int | None = None, bad_value: str = "abc",
                  header: tuple[str, ...] = ("id", "label", "amount")) -> None:
    """`rows` rows of (id, label, amount); row number `bad_at` (1-based data row) carries `bad_value`."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in range(start, start + rows):
            label = f"row {i}"
            ident: str | int = i
            if bad_at is not None and i - start + 1 == bad_at:
                ident = bad_value
            w.writerow([ident, label, f"{i}.25"])
