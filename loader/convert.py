"""Text values to a column's Arrow type: one conversion for every reader and for the rejects path.

A column read as text (a locale number, a day-first date, a flag word, a value that must be cast
row by row to find the bad one) becomes its type here, vectorised with pyarrow.compute. The CSV
reader, the rejects split and any reader of text values (JSON strings, XML text) share it, so a
value converts the same way whichever path reads it. The formats themselves are recognised in
readers/csv/formats.py; this module only applies them.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .coltypes import Column

TRUE_VALUES = ["true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "t", "T"]
FALSE_VALUES = ["false", "False", "FALSE", "no", "No", "NO", "n", "N", "f", "F"]
_SPACES = " \u00a0\u202f"  # group separators of decimal-comma locales, besides "."


def cast(arr: pa.Array, col: Column) -> pa.Array:
    """Text to the column's type the way the CSV reader would parse it; pa.ArrowInvalid on a bad value."""
    typ = col.type.arrow()
    arr = clean(arr, col)
    if col.parse:
        return convert(arr, col.type.kind, col.parse, typ)
    if pa.types.is_string(arr.type) and pa.types.is_string(typ):
        return arr
    if col.converted and pa.types.is_string(arr.type):  # read as text for trim or NULL markers: "" is no value
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if pa.types.is_boolean(typ):
        return to_bool(arr)
    return pc.cast(arr, typ)


def convert_column(arr: pa.Array, col: Column) -> pa.Array:
    """A column the reader parsed as text because of its locale format, NULL markers or trimming;
    others pass unchanged."""
    return cast(arr, col) if col.converted else arr


def clean(arr: pa.Array, col: Column) -> pa.Array:
    """A route's trim and NULL markers, applied to text before any conversion (so " N/A " is NULL
    under trim = true and null = ["N/A"]); values of other types pass unchanged."""
    if not (col.trim or col.nulls) or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return arr
    if col.trim:
        arr = pc.utf8_trim_whitespace(arr)
    if col.nulls:
        arr = pc.if_else(pc.is_in(arr, pa.array(list(col.nulls), arr.type)), pa.scalar(None, arr.type), arr)
    return arr


def convert(arr: pa.Array, kind: str, parse: str, typ: pa.DataType) -> pa.Array:
    """Text in a locale format to the column's Arrow type; raises pa.ArrowInvalid on a bad value.

    A quoted empty value ("") is NULL here: a number or a date has no empty string.
    """
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if parse == "empty_null":
        return to_bool(arr) if pa.types.is_boolean(typ) else pc.cast(arr, typ)
    if parse == "decimal_comma":
        for sep in "." + _SPACES:
            arr = pc.replace_substring(arr, sep, "")
        return pc.cast(pc.replace_substring(arr, ",", "."), typ)
    if parse == "thousands_comma":
        return pc.cast(pc.replace_substring(arr, ",", ""), typ)
    normal = pc.replace_substring_regex(arr, r"T", " ")  # 15/01/2024T10:00 reads like 15/01/2024 10:00
    stamps = pc.strptime(normal, format=parse, unit="us", error_is_null=False)
    _check_calendar(normal, stamps, parse)
    return pc.cast(stamps, typ)


def to_bool(arr: pa.Array) -> pa.Array:
    truth = pc.is_in(arr, pa.array(TRUE_VALUES))
    known = pc.or_(truth, pc.is_in(arr, pa.array(FALSE_VALUES)))
    if pc.any(pc.and_(pc.invert(known), pc.is_valid(arr))).as_py():
        raise pa.ArrowInvalid("not a boolean")
    return pc.if_else(pc.is_valid(arr), truth, pa.scalar(None, pa.bool_()))


def _check_calendar(text: pa.Array, stamps: pa.Array, parse: str) -> None:
    """strptime rolls 31/02 over to 02/03; a date that is not in the calendar is a bad value."""
    parts = pc.extract_regex(text, r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})")
    day_field, month_field = ("a", "b") if parse.startswith("%d") else ("b", "a")
    day = pc.cast(pc.struct_field(parts, day_field), pa.int64())
    month = pc.cast(pc.struct_field(parts, month_field), pa.int64())
    wrong = pc.or_(pc.not_equal(day, pc.day(stamps)), pc.not_equal(month, pc.month(stamps)))
    if pc.any(wrong).as_py():
        raise pa.ArrowInvalid("not a date in the calendar")
