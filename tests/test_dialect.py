"""Delimiter, quote and escape character from a text sample: readers/csv/dialect.py directly."""

from __future__ import annotations

import pytest

from loader.readers.csv.dialect import Dialect, consistency, parse, pattern_score, reader, sniff, type_score


@pytest.mark.parametrize("d", [",", ";", "\t", "|"])
def test_delimiter_detected(d):
    assert sniff(f"id{d}name{d}amount\n1{d}alice{d}1.5\n2{d}bob{d}2.5\n").delimiter == d


def test_semicolon_file_with_decimal_commas_is_semicolon():
    assert sniff("a;b\n1,5;2,5\n3,1;4\n").delimiter == ";"


def test_pipe_file_with_commas_in_values_is_pipe():
    assert sniff("name|city\nSmith, John|Paris, FR\nDoe, Jane|Rome, IT\n").delimiter == "|"


def test_quoted_delimiters_are_inside_values():
    d = sniff('id,name\n1,"Smith, John"\n2,"Doe, Jane"\n')
    assert (d.delimiter, d.quotechar) == (",", '"')


def test_single_quotes_are_found_when_they_quote():
    d = sniff("id;name\n1;'a;b'\n2;'c;d'\n3;'e'\n")
    assert (d.delimiter, d.quotechar) == (";", "'")


def test_backslash_escaped_quotes_mean_an_escape_character():
    d = sniff('id,note\n1,"say \\"hi\\" now"\n2,"plain"\n')
    assert (d.delimiter, d.quotechar, d.escapechar) == (",", '"', "\\")


def test_doubled_quotes_need_no_escape_character():
    assert sniff('id,note\n1,"say ""hi"" now"\n2,"plain"\n').escapechar is None


def test_spaces_before_quoted_values_are_skipped():
    d = sniff('id, name\n1, "Smith, John"\n2, "Doe, Jane"\n')
    assert (d.delimiter, d.quotechar, d.skipinitialspace) == (",", '"', True)


def test_spaces_alone_need_no_skipping():
    assert sniff("a, b, c\n1, 2, 3\n4, 5, 6\n") == Dialect(",", '"')


@pytest.mark.parametrize("text", ["name\nalice\nbob\ncarol\n", "v\n1,5\n2,25\n3,75\n",
                                  "note\nhello, world!\nhi there, you (2)\n"],
                         ids=["words", "decimal-commas", "sentences"])
def test_one_value_per_line_is_a_single_column(text):
    assert sniff(text).delimiter == ""


def test_a_single_column_reader_keeps_whole_lines():
    assert list(reader("a,b\nc,d\n", Dialect("", '"'))) == [["a,b"], ["c,d"]]


def test_regular_rows_score_higher_than_ragged_ones():
    regular = pattern_score([["a", "b", "c"]] * 3)
    ragged = pattern_score([["a", "b", "c"], ["a"], ["a", "b"]])
    assert regular > ragged


def test_typed_cells_score_higher_than_broken_ones():
    assert type_score([["1", "2024-01-01", "x@y.org"]]) > type_score([['"a', 'b"', "(c"]])


def test_the_right_dialect_is_more_consistent_than_a_wrong_one():
    text = "id;amount\n1;1,5\n2;2,25\n"
    assert consistency(text, Dialect(";", '"')) > consistency(text, Dialect(",", '"'))


def test_parse_stops_at_the_limit():
    assert len(parse("a\nb\nc\nd\n", Dialect(",", '"'), 2)) == 2


def test_a_cell_of_65000_spaces_is_scored_in_linear_time():
    import time

    from loader.readers.csv.dialect import typed_cell

    started = time.monotonic()
    assert typed_cell(" " * 65_000)
    assert typed_cell("word " * 20_000 + "!") is False
    sniff("a,b\n1," + " " * 65_000 + "\n2,x\n")
    assert time.monotonic() - started < 2  # was 88 s: the regexes backtracked quadratically


def test_a_close_call_between_delimiters_is_noted_not_silent() -> None:
    from loader.readers.csv.detect import detect_format
    from loader.readers.csv.dialect import sniff_with_doubt

    tied = b"name,city;country\nann,rome;italy\nbob,oslo;norway\ncid,lima;peru\n"
    found = detect_format(tied, complete=True)
    assert any("delimiter unsure: ';'" in n for n in found.notes)
    assert sniff_with_doubt("id,name\n1,ann\n2,bob\n")[1] is None  # a clear file carries no such note
    from loader.readers import ReadOptions
    pinned = detect_format(tied, complete=True, options=ReadOptions(delimiter=";"))
    assert not any("unsure" in n for n in pinned.notes)  # a pin is never unsure
