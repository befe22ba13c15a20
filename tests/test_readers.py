"""The reader registry and the seam every reader implements: which reader reads an input, and how.

Content beats name, a pinned format beats both, delimited text is the default, and an unknown
format is a clear usage error. A small real reader (one text column per line) stands in for the
other formats, so these tests hold whichever readers a build ships.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pytest

import loader
from loader.coltypes import TEXT, Column
from loader.errors import BadInputError, NoInputError, UsageError, Where
from loader.readers import Detection, Input, ReadOptions, base, formats, reader_for, register
from loader.readers.csv.reader import CsvReader
from loader.readers.csv.stream import CsvStream
from loader.rejects import Reject, RowPolicy

MAGIC = b"LINES\n"


class LinesStream:
    def __init__(self, source: Input):
        self.source, self.rows, self.rejects, self.error = source, 0, list[Reject](), None

    def reader(self) -> pa.RecordBatchReader:
        schema = pa.schema([("line", pa.string())])
        return pa.RecordBatchReader.from_batches(schema, self._batches(schema))

    def _batches(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        with self.source.open() as f:
            lines = f.read().decode()[len(MAGIC):].splitlines()
        self.rows = len(lines)
        yield pa.RecordBatch.from_pydict({"line": lines}, schema=schema)

    def locate(self, data_row: int, column: str | None, reason: str) -> BadInputError:
        return BadInputError(reason, Where(file=self.source.path, line=data_row + 1, column=column))

    def locate_rejects(self) -> None:
        pass


class LinesReader:
    format: ClassVar[str] = "lines"

    def detect(self, source: Input, options: ReadOptions) -> Detection:
        return Detection("lines", [Column("line", TEXT)])

    def stream(self, source: Input, detection: Detection, options: ReadOptions, policy: RowPolicy) -> LinesStream:
        return LinesStream(source)


@pytest.fixture
def lines_reader() -> Iterator[LinesReader]:
    saved = dict(base._REGISTRY)
    reader = LinesReader()
    register(reader, [".lines"], sniff=lambda head: head.startswith(MAGIC))
    yield reader
    base._REGISTRY.clear()
    base._REGISTRY.update(saved)


def memory(data: bytes, name: str) -> Input:
    return Input(f"/upload/{name}", len(data), lambda: io.BytesIO(data), name)


def test_csv_is_built_in_and_the_default_for_text() -> None:
    assert "csv" in formats()
    assert isinstance(reader_for(memory(b"a,b\n1,2\n", "x.unknown")), CsvReader)
    assert isinstance(reader_for(memory(b"a,b\n", "export.TSV")), CsvReader)


def test_content_beats_the_name(lines_reader: LinesReader) -> None:
    assert reader_for(memory(MAGIC + b"one\n", "data.csv")) is lines_reader


def test_the_name_decides_when_no_reader_claims_the_content(lines_reader: LinesReader) -> None:
    assert reader_for(memory(b"a,b\n", "data.lines")) is lines_reader
    assert isinstance(reader_for(memory(b"a,b\n", "data.csv")), CsvReader)


def test_a_pinned_format_wins_over_content_and_name(lines_reader: LinesReader) -> None:
    assert isinstance(reader_for(memory(MAGIC, "data.lines"), pinned="csv"), CsvReader)
    assert reader_for(memory(b"a,b\n", "data.csv"), pinned="lines") is lines_reader


def test_an_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match=r"format 'xlsb' is not one of .*csv"):
        reader_for(memory(b"a,b\n", "a.csv"), pinned="xlsb")


def test_a_registered_reader_streams_through_the_seam(lines_reader: LinesReader) -> None:
    source = memory(MAGIC + b"one\ntwo\n", "in.lines")
    reader = reader_for(source)
    found = reader.detect(source, ReadOptions())
    stream = reader.stream(source, found, ReadOptions(), RowPolicy())
    assert stream.reader().read_all().column("line").to_pylist() == ["one", "two"]
    assert stream.rows == 2 and found.as_dict()["format"] == "lines"


def test_the_csv_reader_reads_only_through_input_open() -> None:
    data = b"sep=;\ntitle line\nid;name;qty\n1;a;2\n2;b;4\nTotal;6\n"
    source = memory(data, "upload.csv")  # no such path on disk: every byte must come from open()
    reader = reader_for(source)
    found = reader.detect(source, ReadOptions())
    assert found.format == "csv" and found.n_rows == 2
    stream = reader.stream(source, found, ReadOptions(), RowPolicy())
    assert isinstance(stream, CsvStream)
    assert stream.reader().read_all().to_pylist() == [{"id": 1, "name": "a", "qty": 2},
                                                     {"id": 2, "name": "b", "qty": 4}]
    located = stream.locate(2, "name", "refused")
    assert (located.where.line, located.where.value, located.where.file) == (5, "b", "/upload/upload.csv")


def test_the_csv_reader_refuses_another_reader_s_detection() -> None:
    source = memory(b"a\n1\n", "a.csv")
    with pytest.raises(UsageError, match="cannot read a lines detection"):
        CsvReader().stream(source, Detection("lines", [Column("a", TEXT)]), ReadOptions(), RowPolicy())


def test_detect_json_keys_stay_those_of_a_delimited_file(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"id,name\n1,x\n")
    keys = list(loader.detect(str(path)).as_dict())
    assert keys == ["format", "encoding", "delimiter", "quotechar", "escapechar", "skipinitialspace", "has_header",
                    "skip_rows", "trailer_rows", "bom", "rows_sampled", "columns", "notes", "n_rows"]


@pytest.mark.parametrize("make", [lambda p: p / "missing.csv", lambda p: p], ids=["missing", "folder"])
def test_an_unreadable_path_is_no_input(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(NoInputError, match="cannot read the file") as caught:
        loader.detect(str(path))
    assert caught.value.where.file == str(path)


def test_the_library_surface_resolves_every_name() -> None:
    missing = [name for name in loader.__all__ if getattr(loader, name, None) is None]
    assert missing == []
    assert set(loader.__all__) - {"__version__"} == set(loader._WHERE)
    with pytest.raises(AttributeError):
        loader.no_such_name  # noqa: B018
