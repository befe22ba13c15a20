"""The streaming reader without a database: counting, readahead, located errors."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

from loader import detect
from loader.errors import BadInputError
from loader.readers import Input
from loader.readers.ahead import readahead as _ahead
from loader.readers.csv.stream import CsvStream

from .files import write_numbers


def test_readahead_keeps_order_and_reraises_in_the_consumer() -> None:
    def produce():
        yield from range(5)
        raise ValueError("boom at 5")

    got = []
    with pytest.raises(ValueError, match="boom at 5"):
        for item in _ahead(produce(), 2):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_readahead_producer_ends_when_the_consumer_gives_up() -> None:
    before = threading.active_count()
    stream = _ahead(iter(range(1_000_000)), 2)
    assert next(stream) == 0
    stream.close()  # the database failed: the generator is closed early
    assert threading.active_count() == before


def test_stream_counts_rows_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_numbers(path, rows=50_000)
    fmt = detect(str(path))
    stream = CsvStream(Input.of_path(str(path)), fmt, block_size=64 * 1024)
    table = stream.reader().read_all()
    assert stream.rows == table.num_rows == 50_000
    assert table.num_rows > 0 and len(table.to_batches()) > 1
    assert table.schema.field("id").type == pa.int64()


def test_bad_value_in_a_later_batch_names_line_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    write_numbers(path, rows=60_000, bad_at=55_000, bad_value="12x")
    fmt = detect(str(path))
    stream = CsvStream(Input.of_path(str(path)), fmt, block_size=64 * 1024)
    with pytest.raises(BadInputError) as caught:
        stream.reader().read_all()
    where = caught.value.where
    assert (where.line, where.column, where.value) == (55_001, "id", "12x")
    assert "not a valid bigint" in caught.value.reason


# -- ragged rows, NULs, clean errors (issues 18 and 11) --------------------------------------

def _stream(path: Path, policy=None, **kw) -> tuple[CsvStream, pa.Table]:
    from loader.rejects import RowPolicy

    fmt = detect(str(path))
    stream = CsvStream(Input.of_path(str(path)), fmt, policy=policy or RowPolicy("reject_rows", 10**9), **kw)
    return stream, stream.reader().read_all()


def test_reject_rows_keeps_short_rows_padded_and_trims_empty_extras(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,name,qty\n1,a,5\n2,b\n3,c,7,\n4,d,8,extra\n5,e,9\n")
    stream, table = _stream(path)
    assert table.column("id").to_pylist() == [1, 5, 2, 3]  # kept rows follow their block
    assert table.column("qty").to_pylist() == [5, 9, None, 7]
    assert [(r.line, r.reason) for r in stream.rejects] == [(5, "expected 3 fields, found 4")]
    assert stream.rows == 5
    assert stream.notes == ["1 short rows kept: their missing trailing fields are NULL",
                            "1 rows kept without their extra empty trailing fields"]


def test_a_kept_short_row_with_a_bad_value_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,qty,name\n1,5,a\n2,7,b\n3,x\n")
    stream, table = _stream(path)
    assert table.num_rows == 2
    assert [(r.line, r.column, r.value) for r in stream.rejects] == [(4, "qty", "x")]


def test_spaced_dialect_keeps_short_rows_too(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text('id, name, qty\n1, "a, b", 5\n2, c\n3, d, 7\n')
    stream, table = _stream(path)
    assert stream.csv.layout.skipinitialspace
    assert table.column("name").to_pylist() == ["a, b", "c", "d"]
    assert table.column("qty").to_pylist() == [5, None, 7]


def test_strict_policy_fails_on_a_ragged_row_without_a_traceback(tmp_path: Path, capfd) -> None:
    from loader.rejects import RowPolicy

    path = tmp_path / "r.csv"
    path.write_text("id,name,qty\n" + "".join(f"{i},n,{i}\n" for i in range(50)) + "9,short\n")
    with pytest.raises(BadInputError, match="expected 3 fields, found 2"):
        _stream(path, RowPolicy())
    assert "TypeError" not in capfd.readouterr().err  # invalid_row_handler = None made pyarrow print one


def test_nul_bytes_after_the_sample_are_stripped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    body = "".join(f"{i},name{i}\n" for i in range(3000))
    path.write_bytes(("id,name\n" + body).encode() + b"9999,a\x00b\n")
    from loader.readers import ReadOptions
    from loader.readers.csv.detect import sniff

    fmt = sniff(Input.of_path(str(path)), ReadOptions(sample_bytes=4096))
    assert not fmt.layout.strip_nul  # the sample had none
    stream = CsvStream(Input.of_path(str(path)), fmt)
    table = stream.reader().read_all()
    assert table.column("name").to_pylist()[-1] == "ab"
    assert stream.notes == ["NUL characters found after the sample were removed from text values"]
