"""Column types from sampled values: the narrowest type that every value fits exactly.

Pure logic. Conservative on purpose: a column becomes typed only when every sampled value
parses as that type the way the reader will parse it, so codes with leading zeros, phone
numbers and ambiguous values stay text rather than being silently damaged.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ...coltypes import TEXT, ColumnType
from ...convert import FALSE_VALUES, TRUE_VALUES
from .formats import DateGuess, NumberGuess

__all__ = ["FALSE_VALUES", "TRUE_VALUES", "Guess", "Inferred", "infer_column", "infer_types", "is_typed",
           "kinds_of", "widen"]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Decimal columns get headroom in the integer part: numeric(18,s) costs the same storage
# as numeric(9,s) in all three databases and saves a failed load when a larger value comes.
DECIMAL_MIN_PRECISION = 18
# No number, date, time or flag is longer than this (38 digits with sign, point and grouping, an ISO
# timestamp with offset): a longer value is text before any pattern or int() sees it (int() refuses
# more than 4,300 digits; a regex on a 65,000-character cell costs time for nothing)
MAX_TYPED_CHARS = 80
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


def kinds_of(value: str) -> frozenset[str]:
    """The kinds a value fits; none past MAX_TYPED_CHARS (a 5,000-digit "integer" is text)."""
    return _NO_KINDS if len(value) > MAX_TYPED_CHARS else _kinds(value)


_NO_KINDS: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=1 << 16)
def _kinds(value: str) -> frozenset[str]:
    """Cached (frozen, so no caller can change the cache; short values only, so it stays a few MB):
    codes, flags, dates and small numbers repeat across readings of the sample and files of a feed."""
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
    return frozenset(kinds)


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


@dataclass
class Inferred:
    type: ColumnType
    parse: str | None = None  # locale format, converted by the reader
    note: str | None = None  # why a column that looked typed stays text


def infer_types(rows: list[list[str]], width: int, delimiter: str = ",") -> list[Inferred]:
    """Types per column; a number or date convention one column decides applies to the ambiguous others."""
    columns = [[r[j] for r in rows if j < len(r)] for j in range(width)]
    first = [infer_column(values) for values in columns]
    numbers = {i.parse for i in first if i.parse in ("decimal_comma", "thousands_comma")}
    dates = {"dmy" if i.parse.startswith("%d") else "mdy" for i in first if i.parse and i.parse.startswith("%")}
    prefer_number = numbers.pop() if len(numbers) == 1 else _DELIMITER_CONVENTION.get(delimiter)
    prefer_date = dates.pop() if len(dates) == 1 else None
    return [infer_column(values, prefer_number, prefer_date) if i.note else i for values, i in zip(columns, first)]


# Where no column decides: a semicolon file is a decimal-comma locale's CSV (that is why Excel
# writes semicolons there); a comma file quotes "1,234" only as a thousands group.
_DELIMITER_CONVENTION = {";": "decimal_comma", ",": "thousands_comma"}


def infer_column(values: list[str], prefer_number: str | None = None, prefer_date: str | None = None) -> Inferred:
    """ISO and plain values first; then locale numbers and dates, only when the data decides."""
    present = [v for v in dict.fromkeys(values) if v != ""]  # each distinct value once: codes repeat
    if any(len(v) > MAX_TYPED_CHARS for v in present):
        return Inferred(TEXT)
    plain = _plain_fast(present)
    if plain is None:
        guess = Guess()
        for v in present:
            guess.observe(v)
            if not guess.kinds:
                break  # text: no later value can make it typed
        plain = guess.result()
    if plain != TEXT or not present:
        return Inferred(plain)
    if _plain_digits(present):  # codes with leading zeros: no locale number or date reads them either
        return Inferred(TEXT)
    numbers = NumberGuess()
    if all(numbers.observe(v) for v in present) and numbers.deciding:
        convention = numbers.convention(prefer_number)
        if convention is None:
            return Inferred(TEXT, note="numbers read both as 1,234.5 and 1.234,5: kept as text")
        digits, scale = numbers.size(convention)
        if digits + scale > 38:
            return Inferred(TEXT)
        if scale == 0 and digits <= 18:
            return Inferred(ColumnType("bigint"), convention)
        return Inferred(ColumnType("decimal", min(38, max(digits + scale, DECIMAL_MIN_PRECISION)), scale), convention)
    dates = DateGuess()
    if all(dates.observe(v) and _real_date(v, dates) for v in present):
        pattern = dates.pattern(prefer_date)
        if pattern is None:
            return Inferred(TEXT, note="dates with every day <= 12: day/month order unknown, kept as text")
        return Inferred(ColumnType("timestamp" if dates.time else "date"), pattern)
    return Inferred(TEXT)


FAST_VALUES = 64  # fewer distinct values: the loop below is as quick as building arrays


def _plain_fast(present: list[str]) -> ColumnType | None:
    """Guess's answer for the columns that are most of a file — integers, plain decimals, ISO dates —
    found with one vectorised regex (RE2) per pattern instead of a Python call per value; None
    when the column is anything else, or anything Guess might read otherwise: it decides then.
    (RE2's `$` ends the text, Python's may precede a final newline: RE2 never accepts more.)"""
    if len(present) < FAST_VALUES:
        return None
    arr = pa.array(present, pa.string())
    is_int = pc.match_substring_regex(arr, _INT.pattern)
    longest = pc.max(pc.utf8_length(arr)).as_py()
    if pc.all(is_int).as_py():
        return ColumnType("bigint") if longest <= 18 else None  # 19 digits may pass int64: Guess checks
    if pc.all(pc.match_substring_regex(arr, _DATE.pattern)).as_py():
        return _dates_fast(arr)
    if pc.all(pc.match_substring_regex(arr, _TS.pattern)).as_py():
        return _timestamps_fast(arr)
    is_dec = pc.match_substring_regex(arr, _DEC.pattern)
    if not pc.all(pc.or_(is_int, is_dec)).as_py():
        return None
    if (pc.max(pc.utf8_length(pc.filter(arr, is_int))).as_py() or 0) > 18:
        return None
    body = pc.utf8_ltrim(arr, characters="-")
    dot, total = pc.find_substring(body, "."), pc.utf8_length(body)
    ints = pc.if_else(pc.equal(dot, -1), total, dot)
    scale = pc.max(pc.if_else(pc.equal(dot, -1), 0, pc.subtract(pc.subtract(total, dot), 1))).as_py()
    needed = max(1, pc.max(ints).as_py()) + scale
    return TEXT if needed > 38 else ColumnType("decimal", min(38, max(needed, DECIMAL_MIN_PRECISION)), scale)


def _plain_digits(present: list[str]) -> bool:
    """Every value digits, with at most one decimal point: no group separator or comma ever decides a
    locale number (NumberGuess) and no date separator a day-first date (DateGuess); vectorised."""
    return len(present) >= FAST_VALUES and pc.all(
        pc.match_substring_regex(pa.array(present, pa.string()), r"^-?[0-9]+(\.[0-9]+)?$")).as_py()


def _dates_fast(arr: pa.Array) -> ColumnType | None:
    """Every value yyyy-mm-dd: a date if each is a real day (Arrow checks the month's days; year 0000
    it accepts and Python does not)."""
    if pc.any(pc.starts_with(arr, "0000")).as_py():
        return None
    try:
        pc.cast(arr, pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return ColumnType("date")


def _timestamps_fast(arr: pa.Array) -> ColumnType | None:
    """Every value an ISO timestamp: one kind if every day and time is real and either all or none
    carry an offset (a mix fits no one kind: Guess makes it text, and so does the loop it falls to)."""
    if _dates_fast(pc.utf8_slice_codeunits(arr, 0, 10)) is None:
        return None
    for start, limit in ((11, 24), (14, 60), (17, 60)):  # hh, mm, ss: fixed places in the pattern
        part = pc.cast(pc.utf8_slice_codeunits(arr, start, start + 2), pa.int32())
        if pc.max(part).as_py() >= limit:
            return None
    zoned = pc.match_substring_regex(arr, r"(Z|[+-][0-9]{2}:[0-9]{2})$")
    if pc.all(zoned).as_py():
        return ColumnType("timestamptz")
    return ColumnType("timestamp") if not pc.any(zoned).as_py() else None


def _real_date(value: str, dates: DateGuess) -> bool:
    parts = re.split(r"[/.\- T:]", value)
    a, b, y = int(parts[0]), int(parts[1]), int(parts[2])
    ok_dmy = _is_date(y, b, a)
    ok_mdy = _is_date(y, a, b)
    dates.dmy &= ok_dmy
    dates.mdy &= ok_mdy
    return ok_dmy or ok_mdy


def _is_date(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
        return True
    except ValueError:
        return False


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
