"""Identifiers: headers normalised into safe names, typed names checked, quoting."""

from __future__ import annotations

import pytest

from loader.errors import UsageError
from loader.naming import MAX_IDENTIFIER_BYTES, check_identifier, column_names, quote

HOSTILE = 'x"; DROP TABLE ref.t; --'


@pytest.mark.parametrize("header, expected", [
    ("First Name", "first_name"),
    ("a.b.c", "a_b_c"),
    ("  Total Amount ($) ", "total_amount"),
    ("café", "café"),
    ("東京", "東京"),
    ("Ünïcödé Name", "ünïcödé_name"),
    ("select", "select"),          # reserved words stay: the targets always quote
    ("from", "from"),
    ("1st", "c_1st"),              # never starts with a digit
    ("2024", "c_2024"),
    ("ﬁle", "file"),               # NFKC: the ligature becomes two letters
    ("__x__", "x"),
])
def test_column_name(header, expected):
    assert column_names([header]) == [expected]


def test_duplicates_get_suffixes():
    assert column_names(["x", "x", "X", "y"]) == ["x", "x_2", "x_3", "y"]


def test_suffix_never_collides_with_a_real_header():
    names = column_names(["a", "a_2", "a", "a_2"])
    assert len(set(names)) == 4
    assert names[:2] == ["a", "a_2"]


def test_blanks_become_col_n():
    assert column_names(["id", "", "  ", "___", "name"]) == ["id", "col_2", "col_3", "col_4", "name"]


def test_blank_fallback_does_not_collide():
    names = column_names(["col_2", ""])
    assert names[0] == "col_2"
    assert len(set(names)) == 2


@pytest.mark.parametrize("long", ["a" * 200, "é" * 200, "東" * 200, "x" * 60 + "é" * 10])
def test_long_names_truncated_and_unique(long):
    names = column_names([long, long, long])
    assert all(len(n.encode("utf-8")) <= MAX_IDENTIFIER_BYTES for n in names)
    assert len(set(names)) == 3
    assert names[0].startswith(long[:10])


def test_long_ascii_name_keeps_63_bytes():
    assert column_names(["a" * 200]) == ["a" * 63]


def test_hostile_header_becomes_harmless_identifier():
    [name] = column_names([HOSTILE])
    assert name == "x_drop_table_ref_t"
    assert check_identifier(name, "column") == name


def test_every_normalised_name_passes_check_identifier():
    headers = [HOSTILE, "", " ", "1", "²", "İstanbul", "a-b", "x y", "\ufeffid", "é" * 64, "a" * 64, "Σ", "ǅ",
               "e\u0301", "--", "a\x00b", "tab\there", "new\nline", "東京"]
    for name in column_names(headers):
        assert check_identifier(name, "column") == name


@pytest.mark.parametrize("name", ["customers", "ref", "a1", "t_2024", "tëst", "東京", "a" * 63, "é" * 31])
def test_check_identifier_accepts_safe_names(name):
    assert check_identifier(name, "table") == name


@pytest.mark.parametrize("name, suggestion", [
    ("Customers", "customers"),
    ("my table", "my_table"),
    ("1abc", "c_1abc"),
    ('x"y', "x_y"),
    ("a;drop", "a_drop"),
    (HOSTILE, "x_drop_table_ref_t"),
    ("", "t"),
    ("a" * 64, "a" * 63),
    ("é" * 32, "é" * 31),  # 64 bytes
])
def test_check_identifier_refuses_with_suggestion(name, suggestion):
    with pytest.raises(UsageError) as e:
        check_identifier(name, "table")
    message = str(e.value)
    assert f"table {name!r}" in message
    assert f"for example {suggestion!r}" in message
    check_identifier(suggestion, "table")  # the suggestion itself is accepted


@pytest.mark.parametrize("name, quoted", [("x", '"x"'), ('a"b', '"a""b"'), ('"', '""""'), ("東京", '"東京"'),
                                          (HOSTILE, '"x""; DROP TABLE ref.t; --"')])
def test_quote_doubles_quotes(name, quoted):
    assert quote(name) == quoted


def test_quote_refuses_nul():
    with pytest.raises(UsageError, match="NUL"):
        quote("a\x00b")


def test_system_column_names_are_renamed_for_every_target():
    from loader.naming import column_names, renamed

    headers = ["xmin", "ymin", "xmax", "ymax", "ctid", "OID", "rowid"]
    names = column_names(headers)
    assert names == ["xmin_", "ymin", "xmax_", "ymax", "ctid_", "oid_", "rowid_"]
    notes = renamed(headers, names)
    assert len(notes) == 5 and "'xmin' is loaded as 'xmin_'" in notes[0]


def test_a_renamed_system_column_never_collides_with_a_header_of_that_name():
    from loader.naming import column_names

    names = column_names(["xmin", "xmin_", "xmin"])
    assert names == ["xmin_", "xmin_2", "xmin_3"] and not set(names) & {"xmin", "xmax", "ctid"}


def test_twenty_thousand_copies_of_one_header_get_unique_names_in_linear_time():
    from loader.naming import column_names

    names = column_names(["dup"] * 20_000)
    assert len(set(names)) == 20_000
    assert names[:3] == ["dup", "dup_2", "dup_3"] and names[-1] == "dup_20000"


def test_suffixes_skip_names_that_a_later_header_already_took():
    from loader.naming import column_names

    assert column_names(["a", "a_2", "a", "a"]) == ["a", "a_2", "a_3", "a_4"]


def test_a_compressed_file_is_named_for_what_it_holds():
    from loader.naming import file_stem, table_from_filename

    assert [file_stem(n) for n in ("sales.csv.gz", "dir/sales.CSV.ZST", "prices.xlsx", "x.zip", "a.b.c", ".gz")] == \
        ["sales", "sales", "prices", "x", "a.b", ".gz"]
    assert table_from_filename(file_stem("2024-01-sales.json.bz2")) == "c_2024_01_sales"
