"""Type inference on values: the narrowest type every sampled value fits, conservative by design.

Pure logic, tested directly (infer_column, infer_types, kinds_of, widen); tests/test_detect.py
covers the same rules through the whole detector.
"""

from __future__ import annotations

import pytest

from loader.coltypes import TEXT, ColumnType
from loader.readers.csv.infer import infer_column, infer_types, is_typed, kinds_of, widen


def one_column_type(*values: str) -> str:
    return str(infer_column(list(values)).type)


# -- one column ---------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    ("1", "-2", "0"),
    ("9223372036854775807",),
    ("-9223372036854775808",),
])
def test_bigint(values):
    assert one_column_type(*values) == "bigint"


@pytest.mark.parametrize("values, expected", [
    (("1.5", "2.25"), "decimal(18,2)"),          # headroom: at least 18 digits
    (("12345", "1.5"), "decimal(18,1)"),         # integers mix in; scale = max fractional digits
    (("-0.125",), "decimal(18,3)"),
    (("1.50",), "decimal(18,2)"),                # trailing zero counts: it is what the file says
    (("123456789012345678901.5",), "decimal(22,1)"),  # wider than 18 when the data needs it
    (("0.1234567890123456789",), "decimal(20,19)"),
    (("9999999999999999999999999999999999999.5",), "decimal(38,1)"),
])
def test_decimal(values, expected):
    assert one_column_type(*values) == expected


@pytest.mark.parametrize("values", [("1e5", "2.5E-3"), ("1.0e+10", "-3e-2"), ("1.5", "1e5"), ("7", "1E3")])
def test_float_needs_an_exponent(values):
    assert one_column_type(*values) == "float"


def test_decimal_beyond_38_digits_is_text_not_float():
    assert one_column_type("12345678901234567.12345678901234567890123") == "text"


def test_float_overflowing_double_is_text():
    assert one_column_type("1.5e3", "1e400") == "text"


@pytest.mark.parametrize("values", [("2024-01-31", "2024-02-29"), ("2023-12-01", "")])
def test_date(values):
    assert one_column_type(*values) == "date"


@pytest.mark.parametrize("values", [
    ("2024-01-31 12:00:00",),
    ("2024-01-31T12:00:00",),
    ("2024-01-31 12:00:00.1", "2024-01-31T23:59:59.123456"),
    ("2024-01-31", "2024-01-31 12:00:00"),  # dates widen to timestamp
])
def test_timestamp(values):
    assert one_column_type(*values) == "timestamp"


def test_boolean_true_false_any_case():
    assert one_column_type("true", "False", "TRUE", "false") == "boolean"


@pytest.mark.parametrize("values", [("yes", "no", "Yes"), ("Y", "N"), ("t", "f")])
def test_boolean_words_and_letters(values):
    assert one_column_type(*values) == "boolean"


@pytest.mark.parametrize("values", [("2024-01-31T12:00:00Z",),
                                    ("2024-01-31 12:00:00+02:00", "2024-02-01 00:00:00.5-05:00")])
def test_timestamp_with_offset(values):
    assert one_column_type(*values) == "timestamptz"


def test_one_and_zero_are_bigint_not_boolean():
    assert one_column_type("1", "0") == "bigint"


@pytest.mark.parametrize("values", [
    ("00123", "00456"),                     # leading zeros: codes
    ("0612345678",),                        # phone number with leading zero
    ("+1 555 123 4567", "555-123-4567"),    # phone numbers
    ("9223372036854775808",),               # beyond int64: an identifier
    ("-9223372036854775809",),
    ("12345678901234567890", "1.5"),        # beyond int64 mixed with decimals
    (" 1", "2 "),                           # spaces around
    (" 1.5",),
    ("1", "abc"),                           # mixed types
    ("1", "2024-01-01"),
    ("true", "1"),
    (".5",), ("1.",), ("NaN", "inf"),
    ("2024-02-30",),                        # not a real date
    ("2024-1-5",),
    ("2024-01-31 24:00:00",),
    ("2024-01-31 12:00:00.1234567",),       # more than 6 fractional digits
])
def test_text(values):
    assert one_column_type(*values) == "text"


# -- locale conventions decided across columns -------------------------------------------------

def test_a_deciding_column_sets_the_number_convention_for_ambiguous_ones():
    rows = [["1,5", "1,234"], ["2,25", "5,678"]]  # column 0 can only be decimal comma
    first, second = infer_types(rows, 2)
    assert (first.type, first.parse) == (ColumnType("decimal", 18, 2), "decimal_comma")
    assert second.parse == "decimal_comma" and second.type.kind == "decimal"


def test_no_deciding_column_falls_back_on_the_delimiter():
    rows = [["1,234"], ["5,678"]]
    assert infer_types(rows, 1, ";")[0].parse == "decimal_comma"
    assert infer_types(rows, 1, ",")[0] == infer_column(["1,234", "5,678"], "thousands_comma")
    assert infer_types(rows, 1, ",")[0].type == ColumnType("bigint")


def test_ambiguous_numbers_with_no_preference_stay_text_with_a_note():
    got = infer_column(["1,234", "5,678"])
    assert got.type == TEXT and "1,234.5 and 1.234,5" in (got.note or "")


def test_dates_with_a_day_above_12_decide_day_first():
    got = infer_column(["15/01/2024", "02/03/2024"])
    assert (got.type, got.parse) == (ColumnType("date"), "%d/%m/%Y")


def test_dates_with_every_day_at_most_12_stay_text_unless_another_column_decides():
    assert infer_column(["01/02/2024", "03/04/2024"]).type == TEXT
    rows = [["01/02/2024", "13/02/2024"], ["03/04/2024", "14/04/2024"]]
    assert [i.parse for i in infer_types(rows, 2)] == ["%d/%m/%Y", "%d/%m/%Y"]


def test_day_first_timestamps_keep_their_time():
    got = infer_column(["15/01/2024 10:30", "16/01/2024 23:59"])
    assert (got.type, got.parse) == (ColumnType("timestamp"), "%d/%m/%Y %H:%M")


# -- the building blocks -----------------------------------------------------------------------

@pytest.mark.parametrize("value, kinds", [
    ("1", {"bigint", "decimal", "float"}), ("1.5", {"decimal", "float"}), ("1e5", {"float"}),
    ("2024-01-31", {"date", "timestamp"}), ("2024-01-31 10:00:00Z", {"timestamptz"}),
    ("yes", {"boolean"}), ("abc", set()), ("", set()),
])
def test_kinds_of(value, kinds):
    assert kinds_of(value) == kinds


@pytest.mark.parametrize("value, typed", [("42", True), ("2024-01-31", True), ("yes", False), ("name", False)])
def test_is_typed_means_what_a_header_cell_is_not(value, typed):
    assert is_typed(value) is typed


@pytest.mark.parametrize("old, value, wider", [
    (ColumnType("bigint"), "1.5", ColumnType("decimal", 20, 1)),
    (ColumnType("bigint"), "99999999999999999999", ColumnType("decimal", 20, 0)),
    (ColumnType("decimal", 18, 2), "1.12345", ColumnType("decimal", 21, 5)),
    (ColumnType("date"), "2024-01-31 10:00:00", ColumnType("timestamp")),
    (ColumnType("bigint"), "abc", TEXT),
    (ColumnType("decimal", 38, 2), "1.5" + "0" * 40, TEXT),
    (ColumnType("boolean"), "2", TEXT),
])
def test_widen_to_the_narrowest_type_holding_both(old, value, wider):
    assert widen(old, value) == wider


def test_an_integer_longer_than_python_converts_is_text_not_a_crash():
    from loader.readers.csv.infer import infer_column, kinds_of

    huge = "9" * 5000  # int() refuses more than 4,300 digits
    assert kinds_of(huge) == set()
    assert str(infer_column([huge, "1"]).type) == "text"
