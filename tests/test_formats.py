"""Locale numbers and dates: recognised in samples (readers/csv/formats.py), converted in batches
(loader/convert.py, shared by every reader and the rejects path). Pure logic, no file, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from loader.coltypes import Column, ColumnType
from loader.convert import cast, convert, to_bool
from loader.readers.csv.formats import DateGuess, NumberGuess, number

# -- recognising numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("value, eu, us", [
    ("1.234,56", True, False), ("12,345.67", False, True), ("1,234", True, True),
    ("1 234,5", True, False), ("0,12", True, False), ("1.234.567", True, False),
])
def test_number_readings(value, eu, us):
    ev = number(value)
    assert ev is not None and (ev.eu, ev.us) == (eu, us)


@pytest.mark.parametrize("value", ["12", "1.5", "-3", "abc", "1,2,3", ""])
def test_plain_or_non_numbers_are_not_locale_numbers(value):
    assert number(value) is None


def test_a_decimal_comma_value_decides_the_convention():
    guess = NumberGuess()
    assert all(guess.observe(v) for v in ["1.234,5", "0,25", "12"])
    assert guess.convention() == "decimal_comma"
    assert guess.size("decimal_comma") == (4, 2)


def test_both_readings_fit_then_the_preference_decides():
    guess = NumberGuess()
    assert guess.observe("1,234") and guess.observe("5,678")
    assert guess.convention() is None
    assert guess.convention("thousands_comma") == "thousands_comma"


def test_a_plain_decimal_point_rules_out_decimal_comma():
    guess = NumberGuess()
    assert guess.observe("1,234") and guess.observe("12.5")
    assert guess.convention() == "thousands_comma"


def test_a_word_is_no_number():
    assert NumberGuess().observe("n/a") is False


# -- recognising dates --------------------------------------------------------------------------

def test_a_day_above_12_decides_day_first():
    guess = DateGuess()
    assert guess.observe("15/01/2024") and guess.observe("02/03/2024")
    assert guess.pattern() == "%d/%m/%Y"


def test_a_second_field_above_12_decides_month_first():
    guess = DateGuess()
    assert guess.observe("01/15/2024")
    assert guess.pattern() == "%m/%d/%Y"


def test_undecided_dates_need_a_preference():
    guess = DateGuess()
    assert guess.observe("01/02/2024")
    assert guess.pattern() is None and guess.pattern("dmy") == "%d/%m/%Y"


def test_mixed_separators_or_mixed_times_are_not_one_format():
    guess = DateGuess()
    assert guess.observe("15/01/2024")
    assert guess.observe("15.01.2024") is False
    timed = DateGuess()
    assert timed.observe("15/01/2024 10:00")
    assert timed.observe("16/01/2024") is False


def test_times_with_seconds_keep_them():
    guess = DateGuess()
    assert guess.observe("15-01-2024 10:00:05")
    assert guess.pattern() == "%d-%m-%Y %H:%M:%S"


# -- converting ---------------------------------------------------------------------------------

def text(*values: str | None) -> pa.Array:
    return pa.array(values, pa.string())


def test_decimal_comma_converts_with_its_group_separators():
    got = convert(text("1.234,56", "1\u00a0234,5", "", None), "decimal", "decimal_comma", pa.decimal128(18, 2))
    assert got.to_pylist() == [Decimal("1234.56"), Decimal("1234.50"), None, None]


def test_thousands_comma_converts():
    assert convert(text("12,345"), "bigint", "thousands_comma", pa.int64()).to_pylist() == [12345]


def test_day_first_dates_convert_and_a_date_outside_the_calendar_is_refused():
    got = convert(text("15/01/2024", "29/02/2024"), "date", "%d/%m/%Y", pa.date32())
    assert got.to_pylist() == [dt.date(2024, 1, 15), dt.date(2024, 2, 29)]
    with pytest.raises(pa.ArrowInvalid):
        convert(text("31/02/2024"), "date", "%d/%m/%Y", pa.date32())


def test_a_T_between_date_and_time_reads_like_a_space():
    got = convert(text("15/01/2024T10:30"), "timestamp", "%d/%m/%Y %H:%M", pa.timestamp("us"))
    assert got.to_pylist() == [dt.datetime(2024, 1, 15, 10, 30)]


def test_quoted_empty_values_are_null_for_typed_columns():
    assert convert(text("", "7"), "bigint", "empty_null", pa.int64()).to_pylist() == [None, 7]


def test_booleans_take_the_readers_words_and_refuse_others():
    assert to_bool(text("yes", "N", None, "TRUE")).to_pylist() == [True, False, None, True]
    with pytest.raises(pa.ArrowInvalid):
        to_bool(text("maybe"))


@pytest.mark.parametrize("col, values, expected", [
    (Column("n", ColumnType("bigint")), ("1", None), [1, None]),
    (Column("t", ColumnType("text")), ("x",), ["x"]),
    (Column("b", ColumnType("boolean")), ("t", "f"), [True, False]),
    (Column("d", ColumnType("decimal", 18, 2), parse="decimal_comma"), ("1,5",), [Decimal("1.50")]),
])
def test_cast_reads_text_as_the_column_type(col, values, expected):
    assert cast(text(*values), col).to_pylist() == expected
