"""Column types from sampled values: the narrowest type that every value fits exactly.

Pure logic. Conservative on purpose: a column becomes typed only when every sampled value
parses as that type the way the reader will parse it, so codes with leading zeros, phone
numbers and ambiguous values stay text rather than being silently damaged.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from .coltypes import TEXT, ColumnType

TRUE_VALUES = ["true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "t", "T"]
FALSE_VALUES = ["false", "False", "FALSE", "no", "No", "NO", "n", "N", "f", "F"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Decimal columns get headroom in the integer part: numeric(18,s) costs the same storage
# as numeric(9,s) in all three databases and saves a failed load when a larger value comes.
DECIMAL_MIN_PRECISION = 18
_ORDER = ("boolean", "bigint", "date", "decimal", "float", "timestamp", "timestamptz")

_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_DEC = re.compile(r"^-?(0|[1-9][0-9]*)\.([0-9]+)$")
_FLOAT = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?[eE][+-]?[0-9]+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TS = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?"
                 r"(Z|[+-][0-9]{2}:[0-9]{2})?$")


@dataclass
class Guess:
    """Per-column evidence: the kinds still possible, and decimal digits seen."""

    kinds: set[str] = field(default_factory=lambda: set(_ORDER))
    int_digits: int = 1
    scale: int = 0
    seen: int = 0

    def observe(self, value: str) -> None:
        if value == "":
            return
        self.seen += 1
        if not self.kinds:
            return
        self.kinds &= kinds_of(value)
        m = _DEC.match(value) or _INT.match(value)
        if m and {"decimal", "bigint"} & self.kinds:
            self.int_digits = max(self.int_digits, len(m.group(1)))
            if m.re is _DEC:
                self.scale = max(self.scale, len(m.group(2)))

    def result(self) -> ColumnType:
        """The narrowest type every sampled value fits, in a fixed order of preference."""
        for kind in _ORDER:
            if kind not in self.kinds or not self.seen:
                continue
            if kind != "decimal":
                return ColumnType(kind)
            needed = self.int_digits + self.scale
            if needed > 38:
                return TEXT  # a float would round it: keep every digit
            return ColumnType("decimal", min(38, max(needed, DECIMAL_MIN_PRECISION)), self.scale)
        return TEXT


def kinds_of(value: str) -> set[str]:
    kinds: set[str] = set()
    if value in TRUE_VALUES or value in FALSE_VALUES:
        kinds.add("boolean")
    if _INT.match(value):
        # beyond int64 it is an identifier (card or account number), not a quantity: text
        if INT64_MIN <= int(value) <= INT64_MAX:
            kinds |= {"bigint", "decimal", "float"}
    elif _DEC.match(value):
        kinds |= {"decimal", "float"}
    elif _FLOAT.match(value) and math.isfinite(float(value)):
        kinds.add("float")  # 1e400 would load as inf: text instead
    elif _DATE.match(value) and _valid_date(value):
        kinds |= {"date", "timestamp"}
    elif (m := _TS.match(value)) and _valid_timestamp(m):
        kinds.add("timestamptz" if m.group(6) else "timestamp")
    return kinds


def is_typed(value: str) -> bool:
    """A number, date, time or flag: what a header cell is not."""
    return bool(kinds_of(value) - {"boolean"})


def _valid_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
        return True
    except ValueError:
        return False


def _valid_timestamp(m: re.Match[str]) -> bool:
    return _valid_date(m.group(1)) and int(m.group(2)) < 24 and int(m.group(3)) < 60 and int(m.group(4)) < 60


def infer_types(rows: list[list[str]], width: int) -> list[ColumnType]:
    guesses = [Guess() for _ in range(width)]
    for row in rows:
        for guess, value in zip(guesses, row):
            guess.observe(value)
    return [g.result() for g in guesses]


def widen(old: ColumnType, value: str) -> ColumnType:
    """The narrowest type holding both the old column and a value that did not fit it."""
    kinds = kinds_of(value)
    m = _DEC.match(value) or _INT.match(value)
    if old.kind in ("bigint", "decimal") and m:
        scale = max(old.scale or 0, len(m.group(2)) if m.re is _DEC else 0)
        integer = max(19 if old.kind == "bigint" else (old.precision or 0) - (old.scale or 0), len(m.group(1)))
        return ColumnType("decimal", integer + scale, scale) if integer + scale <= 38 else TEXT
    if old.kind == "date" and "timestamp" in kinds:
        return ColumnType("timestamp")
    return TEXT
