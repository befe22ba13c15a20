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
