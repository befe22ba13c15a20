"""Micro-benchmarks of the loader's hot spots (pytest-benchmark), outside the test suite.

    python -m pytest bench/test_micro.py --benchmark-only        # or: python -m bench micro

Not collected by the main test run (pyproject: testpaths = ["tests"]). Each benchmark also
asserts its result, so a fast wrong answer does not pass as a speed-up. Data comes from
bench/gen.py (seed 42), written once per session under pytest's tmp dir.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen  # noqa: E402

from loader import detect  # noqa: E402
from loader.readers import Input  # noqa: E402
from loader.readers.csv.detect import DEFAULT_SAMPLE_BYTES, detect_format  # noqa: E402
from loader.readers.csv.stream import CsvStream  # noqa: E402
from loader.targets.sqlite import to_sqlite_batch  # noqa: E402

ROWS_10MB = 71_000  # ~141 bytes a row


@pytest.fixture(scope="session")
def file_10mb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("micro") / "bench_10mb.csv"
    totals = gen.generate(str(path), ROWS_10MB, seed=42)
    return path, totals.rows


@pytest.fixture(scope="session")
def sample_4mb(file_10mb: tuple[Path, int]) -> bytes:
    with open(file_10mb[0], "rb") as f:
        return f.read(DEFAULT_SAMPLE_BYTES)


@pytest.fixture(scope="session")
def fmt(file_10mb: tuple[Path, int]):
    return detect(str(file_10mb[0]))


def test_detect_4mb_sample(benchmark, sample_4mb: bytes) -> None:
    """Detection of encoding, dialect, header and 12 column types from the default 4 MB sample."""
    result = benchmark(detect_format, sample_4mb, False)
    assert [c.name for c in result.columns] == [name for name, _ in gen.COLUMNS]


def test_csvstream_10mb(benchmark, file_10mb: tuple[Path, int], fmt) -> None:
    """CsvStream parsing a 10 MB file into typed Arrow batches (readahead thread included), no database."""
    path, rows = file_10mb

    def read_all() -> int:
        stream = CsvStream(Input.of_path(str(path)), fmt)
        return sum(batch.num_rows for batch in stream.reader())

    assert benchmark(read_all) == rows


def test_to_sqlite_batch(benchmark, file_10mb: tuple[Path, int], fmt) -> None:
    """Converting typed batches for SQLite (decimals, dates, timestamps -> text; booleans -> 0/1): 10 MB of rows."""
    path, rows = file_10mb
    batches = list(CsvStream(Input.of_path(str(path)), fmt).reader(readahead=0))

    def convert_all() -> list[pa.RecordBatch]:
        return [to_sqlite_batch(b) for b in batches]

    out = benchmark(convert_all)
    assert sum(b.num_rows for b in out) == rows
    assert pa.types.is_string(out[0].schema.field("amount").type)
