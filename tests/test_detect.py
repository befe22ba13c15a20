"""The whole detector on byte literals: layout, header, columns, overrides.

The pure modules it uses have their own tests: test_encoding, test_dialect, test_infer, test_formats.
"""

from __future__ import annotations

import pytest

from loader.coltypes import ColumnType
from loader.errors import BadInputError
from loader.readers import ReadOptions
from loader.readers.csv.detect import detect_format


def detect(sample: bytes, complete: bool = True, **overrides):
    return detect_format(sample, complete, ReadOptions(**overrides) if overrides else None)


def types(sample: bytes, complete: bool = True, **overrides) -> dict[str, str]:
    return {c.name: str(c.type) for c in detect(sample, complete, **overrides).columns}


# -- dialect -------------------------------------------------------------------------------

def test_pipe_file_with_commas_in_values_is_pipe():
    fmt = detect(b"name|city\nSmith, John|Paris, FR\nDoe, Jane|Rome, IT\n")
    assert fmt.layout.delimiter == "|"
    assert [c.source_name for c in fmt.columns] == ["name", "city"]


# -- encoding ------------------------------------------------------------------------------

def test_utf8_bom_stripped_from_first_header():
    fmt = detect(b"\xef\xbb\xbfid,name\n1,x\n")
    assert fmt.layout.bom is True
    assert fmt.layout.encoding == "utf-8-sig"
    assert fmt.columns[0].source_name == "id"
    assert fmt.columns[0].name == "id"
    assert str(fmt.columns[0].type) == "bigint"


def test_not_utf8_is_read_as_windows_1252():
    fmt = detect_format("id;name\n1;café €\n2;Straße\n".encode("cp1252"), True, file="in.csv")
    assert (fmt.layout.encoding, fmt.layout.delimiter) == ("cp1252", ";")
    assert fmt.n_rows == 2


@pytest.mark.parametrize("bom,codec", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")], ids=["le", "be"])
def test_utf16_with_bom(bom, codec):
    fmt = detect(bom + "a\tb\n1\tcafé\n".encode(codec))
    assert (fmt.layout.encoding, fmt.layout.bom, fmt.layout.delimiter) == (codec, True, "\t")
    assert [c.source_name for c in fmt.columns] == ["a", "b"]


@pytest.mark.parametrize("sample", [b"", b"\n\n", b"  \r\n  \n", b"\xef\xbb\xbf"])
def test_empty_file_refused(sample):
    with pytest.raises(BadInputError, match="empty"):
        detect(sample)


# -- header --------------------------------------------------------------------------------

def test_header_row_detected():
    fmt = detect(b"id,name\n1,x\n2,y\n")
    assert fmt.layout.has_header is True
    assert fmt.layout.rows_sampled == 2


@pytest.mark.parametrize("sample", [b"1,2,3\n4,5,6\n", b"-1.5,2024-01-01,7\n2.5,2024-01-02,8\n"])
def test_first_row_of_numbers_is_data(sample):
    fmt = detect(sample)
    assert fmt.layout.has_header is False
    assert [c.name for c in fmt.columns] == ["col_1", "col_2", "col_3"]
    assert fmt.layout.rows_sampled == 2


def test_header_only_file_gives_text_columns():
    fmt = detect(b"a,b\n")
    assert fmt.layout.has_header is True
    assert fmt.layout.rows_sampled == 0
    assert types(b"a,b\n") == {"a": "text", "b": "text"}


# -- columns from several values ------------------------------------------------------------

def test_empty_values_ignored_for_inference():
    assert types(b"m,k,d\n1,,2024-01-01\n,2,\n3,4,\n") == {"m": "bigint", "k": "bigint", "d": "date"}


def test_all_empty_column_is_text():
    assert types(b"m,k\n,1\n,2\n") == {"m": "text", "k": "bigint"}


# -- sample cut in the middle of a line ----------------------------------------------------

@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_truncated_last_line_ignored_when_incomplete(eol):
    sample = eol.join([b"a,b", b"1,2", b"3,4", b"5,x"])  # "5,x" may be "5,x..." cut short
    assert types(sample, complete=False) == {"a": "bigint", "b": "bigint"}
    assert detect(sample, complete=False).layout.rows_sampled == 2
    assert types(sample, complete=True) == {"a": "bigint", "b": "text"}


def test_truncated_last_line_ignored_with_cr_line_ends():
    assert types(b"a,b\r1,2\r3,4\r5,x", complete=False) == {"a": "bigint", "b": "bigint"}


def test_truncated_multibyte_char_at_end_is_not_an_encoding_error():
    assert types("a,b\n1,2\n3,é".encode()[:-1], complete=False) == {"a": "bigint", "b": "bigint"}


# -- overrides -----------------------------------------------------------------------------

def test_override_delimiter_wins():
    fmt = detect(b"a;b\n1;2\n", delimiter=",")
    assert fmt.layout.delimiter == ","
    assert [c.source_name for c in fmt.columns] == ["a;b"]


def test_override_has_header_true():
    fmt = detect(b"1,2\n3,4\n", has_header=True)
    assert fmt.layout.has_header is True
    assert [c.source_name for c in fmt.columns] == ["1", "2"]
    assert fmt.layout.rows_sampled == 1


def test_override_has_header_false():
    fmt = detect(b"a,b\n1,2\n", has_header=False)
    assert fmt.layout.has_header is False
    assert [c.name for c in fmt.columns] == ["col_1", "col_2"]
    assert [str(c.type) for c in fmt.columns] == ["text", "text"]  # "a" and "b" are now data


@pytest.mark.parametrize("key", ["Zip Code", "zip_code"], ids=["source-name", "safe-name"])
def test_override_column_type(key):
    assert types(b"Zip Code,n\n01234,2\n", column_types={key: "bigint"}) == {"zip_code": "bigint", "n": "bigint"}
    assert types(b"Zip Code,n\n1,2\n", column_types={key: "text"}) == {"zip_code": "text", "n": "bigint"}


def test_override_column_type_kept_even_when_sample_disagrees():
    fmt = detect(b"a,b\nx,2\n", column_types={"a": "decimal(10,2)"})
    assert str(fmt.columns[0].type) == "decimal(10,2)"
    assert fmt.notes == []


# -- ColumnType.parse ----------------------------------------------------------------------

@pytest.mark.parametrize("text", ["decimal(18,4)", "decimal(38,0)", "decimal(1,1)", "bigint", "boolean", "float",
                                  "date", "timestamp", "text"])
def test_column_type_round_trip(text):
    t = ColumnType.parse(text)
    assert str(t) == text
    assert ColumnType.parse(str(t)) == t


@pytest.mark.parametrize("text, expected", [
    ("int", ColumnType("bigint")), ("integer", ColumnType("bigint")), ("bool", ColumnType("boolean")),
    ("string", ColumnType("text")), ("double", ColumnType("float")), ("datetime", ColumnType("timestamp")),
    ("numeric(10,2)", ColumnType("decimal", 10, 2)), ("DECIMAL( 18 , 4 )", ColumnType("decimal", 18, 4)),
    ("decimal(10)", ColumnType("decimal", 10, 0)), (" BigInt ", ColumnType("bigint")),
])
def test_column_type_aliases(text, expected):
    assert ColumnType.parse(text) == expected


@pytest.mark.parametrize("text", ["varchar", "", "decimal", "decimal(40,2)", "decimal(5,6)", "decimal(0,0)",
                                  "decimal(18,-1)", "decimal(a,b)", "bigint(5)", "decimal(18,4"])
def test_column_type_bad_input(text):
    with pytest.raises(ValueError):
        ColumnType.parse(text)


# -- round 2: tiny files, trailers, whole records, limits (issues 18 and 11) ------------------

def test_tiny_file_with_a_short_row_keeps_its_named_columns():
    fmt = detect(b"a,b\n1,2\n3\n")  # was one column a_b DECIMAL(18,1): 1.2 and 3.0
    assert fmt.layout.delimiter == ","
    assert [(c.name, str(c.type)) for c in fmt.columns] == [("a", "bigint"), ("b", "bigint")]
    assert fmt.n_rows == 2


def test_five_row_file_with_one_short_row_is_two_columns():
    fmt = detect(b"id,qty\n1,5\n2,7\n3\n4,1\n5,2\n")
    assert fmt.layout.delimiter == ","
    assert [c.name for c in fmt.columns] == ["id", "qty"]
    assert fmt.n_rows == 5


def test_totals_line_before_an_eof_marker_is_not_a_row():
    rows = b"".join(b"R%d,C%d,%d.50,%d,ok\n" % (i, i, i * 100, i) for i in range(1, 7))
    fmt = detect(b"region,code,amount,qty,status\n" + rows + b"TOTAL,,6493392.96,,\nEOF\n")
    assert fmt.n_rows == 6
    assert fmt.layout.trailer_rows == 2
    assert str(fmt.columns[2].type).startswith("decimal")


def test_a_lone_number_below_the_rows_is_a_record_count_only_when_it_counts_them():
    assert detect(b"a,b\n1,2\n5,6\n2\n").n_rows == 2  # "2": the count of the rows above
    assert detect(b"a,b\n1,2\n5,6\n7\n").n_rows == 3  # "7": a short data row


def _input(data: bytes):
    import io

    from loader.readers import Input

    return Input("mem.csv", len(data), lambda: io.BytesIO(data))


def test_trailer_past_the_sample_is_found_with_the_table_width():
    from loader.readers.csv.detect import sniff

    data = b"id,name,amount\n" + b"".join(b"%d,n%d,%d\n" % (i, i, i) for i in range(20_000)) + b"TOTAL,300000\n"
    fmt = sniff(_input(data), ReadOptions(sample_bytes=16 * 1024))
    assert fmt.layout.trailer_bytes == len(b"TOTAL,300000\n")
    assert fmt.n_rows is None
    assert any("rows not counted" in n for n in fmt.notes)


def test_first_record_with_a_quoted_field_longer_than_the_sniff_window():
    blob = b"QUJD\n" * 40_000  # 200 KB of base64 lines inside one quoted field
    fmt = detect(b"id,blob,name\n1,\"" + blob + b"\",x\n2,\"short\",y\n")
    assert fmt.layout.delimiter == ","
    assert [c.name for c in fmt.columns] == ["id", "blob", "name"]
    assert fmt.n_rows == 2


def test_first_record_with_a_quoted_field_longer_than_the_sample():
    from loader.readers.csv.detect import sniff

    blob = b"QUJD\n" * 100_000  # 500 KB: more than the 64 KiB sample
    data = b"id,blob,name\n1,\"" + blob + b"\",x\n2,\"short\",y\n"
    fmt = sniff(_input(data), ReadOptions(sample_bytes=64 * 1024))
    assert [c.name for c in fmt.columns] == ["id", "blob", "name"]
    assert fmt.layout.longest_row > len(blob)  # the reader's block is sized for it


def test_more_fields_than_max_columns_is_refused_before_any_per_column_work():
    import time

    started = time.monotonic()
    with pytest.raises(BadInputError, match="max_columns"):
        detect(b"," * 2_000_000 + b"\n")
    assert time.monotonic() - started < 10
    with pytest.raises(BadInputError, match="max_columns"):
        detect(b"a,b,c\n1,2,3\n", max_columns=2)


def test_utf16_with_an_odd_byte_count_is_refused_clearly():
    data = "id,name\n1,x\n".encode("utf-16") + b"\x00"
    with pytest.raises(BadInputError, match="odd number of bytes"):
        detect(data)


def test_system_column_names_are_renamed_with_a_note():
    fmt = detect(b"xmin,ymin,xmax,ymax\n1,2,3,4\n")
    assert [c.name for c in fmt.columns] == ["xmin_", "ymin", "xmax_", "ymax"]
    assert sum("system column" in n for n in fmt.notes) == 2


def test_rename_notes_for_the_other_readers():
    from loader.readers.common import columns_of, rename_notes

    cols = columns_of(["ctid", "name", "oid"], [ColumnType("text")] * 3)
    assert [c.name for c in cols] == ["ctid_", "name", "oid_"]
    assert len(rename_notes(cols)) == 2
