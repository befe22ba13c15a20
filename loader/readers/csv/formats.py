"""Locale formats of numbers and dates: recognise them in samples.

A column of `1.234,56` (decimal comma) or `12,345.67` (thousands comma) is a decimal column,
and `15/01/2024` a date, but only when the data says which convention it follows: a value
with a day above 12 decides day-first, a value like `0,12` decides decimal comma. When no
value decides, the column stays text and a note says why: a silent guess would swap days
and months or scale amounts by a thousand. Pure logic over strings: the conversion itself, shared
with every reader and the rejects path, is loader/convert.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# number conventions: group separators and the decimal mark
_SPACES = " \u00a0\u202f"
_EU = re.compile(r"^-?(?:\d{1,3}(?:[.\u00a0\u202f ]\d{3})+|\d+)(?:,(\d+))?$")
_US = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$")
_DMY = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


@dataclass(frozen=True)
class NumberEvidence:
    eu: bool  # the value reads as decimal-comma notation
    us: bool  # the value reads as thousands-comma notation
    digits_eu: int  # integer digits, read as decimal comma
    scale_eu: int  # fractional digits, read as decimal comma
    digits_us: int
    scale_us: int


def number(value: str) -> NumberEvidence | None:
    """How a grouped or decimal-comma number could be read; None if it is neither."""
    eu, us = _EU.match(value), _US.match(value)
    if not eu and not us:
        return None
    if not any(ch in value for ch in "," + _SPACES) and not re.match(r"^-?\d{1,3}(\.\d{3}){2,}$", value):
        return None  # a plain integer or decimal: the ordinary parser's business
    total = sum(ch.isdigit() for ch in value)
    scale_eu = len(eu.group(1) or "") if eu else 0
    scale_us = len(us.group(1) or "") if us else 0
    return NumberEvidence(bool(eu), bool(us), total - scale_eu, scale_eu, total - scale_us, scale_us)


@dataclass
class NumberGuess:
    eu: bool = True
    us: bool = True
    deciding: bool = False  # some value is a grouped/comma number (else ordinary parsing)
    digits_eu: int = 1
    scale_eu: int = 0
    digits_us: int = 1
    scale_us: int = 0

    def observe(self, value: str) -> bool:
        """False when the value is no number in either convention."""
        ev = number(value)
        if ev is None:
            plain = re.match(r"^-?\d+$", value) is not None or re.match(r"^-?\d+\.\d+$", value) is not None
            if plain and "." in value and not re.match(r"^-?\d{1,3}\.\d{3}$", value):
                self.eu = False  # 12.5 is not decimal-comma notation (684.864 could be either)
                self.scale_us = max(self.scale_us, len(value.split(".")[1]))
            whole = sum(ch.isdigit() for ch in value.split(".")[0])
            self.digits_us = max(self.digits_us, whole)
            self.digits_eu = max(self.digits_eu, sum(ch.isdigit() for ch in value))
            return plain
        self.deciding = True
        self.eu &= ev.eu
        self.us &= ev.us
        if ev.eu:
            self.scale_eu, self.digits_eu = max(self.scale_eu, ev.scale_eu), max(self.digits_eu, ev.digits_eu)
        if ev.us:
            self.scale_us, self.digits_us = max(self.scale_us, ev.scale_us), max(self.digits_us, ev.digits_us)
        return True

    def convention(self, prefer: str | None = None) -> str | None:
        if not self.deciding or not (self.eu or self.us):
            return None
        if self.eu and self.us:  # both readings fit (1,234): the file's other columns decide
            return prefer
        return "decimal_comma" if self.eu else "thousands_comma"

    def size(self, convention: str) -> tuple[int, int]:
        """(integer digits, fractional digits) under a convention."""
        if convention == "decimal_comma":
            return self.digits_eu, self.scale_eu
        return self.digits_us, self.scale_us


@dataclass
class DateGuess:
    dmy: bool = True
    mdy: bool = True
    separator: str | None = None
    time: bool | None = None  # all values with a time, all without; mixed is text
    seconds: bool | None = None

    def observe(self, value: str) -> bool:
        m = _DMY.match(value)
        if not m or (self.separator and m.group(2) != self.separator):
            return False
        self.separator = m.group(2)
        a, b = int(m.group(1)), int(m.group(3))
        self.dmy &= 1 <= a <= 31 and 1 <= b <= 12
        self.mdy &= 1 <= a <= 12 and 1 <= b <= 31
        has_time, has_seconds = m.group(5) is not None, m.group(7) is not None
        if self.time is None:
            self.time, self.seconds = has_time, has_seconds
        return self.time == has_time and self.seconds == has_seconds and (self.dmy or self.mdy)

    def pattern(self, prefer: str | None = None) -> str | None:
        if not (self.dmy or self.mdy) or self.separator is None:
            return None
        if self.dmy and self.mdy and prefer is None:
            return None  # every day <= 12 and no other date column decides: day and month unknown
        sep = self.separator
        dmy = self.dmy and (not self.mdy or prefer == "dmy")
        day_first = f"%d{sep}%m{sep}%Y" if dmy else f"%m{sep}%d{sep}%Y"
        if self.time:
            return day_first + (" %H:%M:%S" if self.seconds else " %H:%M")
        return day_first
