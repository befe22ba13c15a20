"""Helpers for the reader tests: run a reader the way the load does, without a database."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pyarrow as pa

from loader.coltypes import ColumnType
from loader.readers import (
    base,
    builtin,  # noqa: F401 - registers the readers
)
from loader.rejects import RowPolicy

REJECT_ROWS = RowPolicy(bad_rows="reject_rows", max_rejects=1000)


def detect(path: Path, sample_rows: int = 5000, **extra: Any) -> tuple[base.Reader, base.Input, base.Detection]:
    source = base.Input.of_path(str(path))
    reader = base.reader_for(source)
    return reader, source, reader.detect(source, base.ReadOptions(sample_rows=sample_rows, extra=extra))


def read(path: Path, policy: RowPolicy | None = None, retype: dict[str, str] | None = None,
         block_size: int = 1 << 20, sample_rows: int = 5000,
         **extra: Any) -> tuple[pa.Table, base.Stream, base.Detection]:
    """Detect then stream, optionally replacing column types first as a load conforming to a table does."""
    reader, source, found = detect(path, sample_rows, **extra)
    if retype:
        found = dataclasses.replace(found, columns=[dataclasses.replace(c, type=ColumnType.parse(retype[c.name]))
                                                    if c.name in retype else c for c in found.columns])
    stream = reader.stream(source, found, base.ReadOptions(block_size=block_size, extra=extra),
                           policy or RowPolicy())
    batches = list(stream.reader())
    assert all(b.schema == found.arrow_schema() for b in batches)
    table = pa.Table.from_batches(batches, schema=found.arrow_schema())
    return table, stream, found


def types(found: base.Detection) -> dict[str, str]:
    return {c.name: str(c.type) for c in found.columns}
