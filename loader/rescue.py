"""schema_drift = "rescue": values that do not fit are kept as JSON in a `_rescued` column.

Auto Loader style: instead of rejecting a row (or failing the file) for a value its column cannot
hold, the value's column gets NULL and the value, as written, goes into the row's `_rescued`
object under the column's name; a column the table lacks (append, merge) is not added but its
values travel the same way. A row with nothing rescued has NULL there, so
`WHERE _rescued IS NOT NULL` finds exactly the rows to look at.

The reader reads every typed column as text (`reading`), whatever the format; the batches are
cast here, once, with the same conversion as everywhere else (convert.py), so a value rescued
from a CSV and from a JSON file reads the same. Ragged rows still follow the bad-row policy: a
row whose fields cannot be told apart has no columns to rescue into.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from .coltypes import TEXT, Column
from .convert import cast
from .errors import BadInputError, Where, shorten
from .rejects import failing

RESCUED = "_rescued"
COLUMN = Column(RESCUED, TEXT)


def reading(columns: Sequence[Column]) -> list[Column]:
    """What the reader reads: typed columns as plain text (converted here), text columns as they are."""
    return [c if c.type.kind == "text" else Column(c.name, TEXT, c.source_name) for c in columns]


def check_clash(columns: Sequence[Column], shown: str) -> None:
    if any(c.name == RESCUED for c in columns):
        raise BadInputError(f"{shown}: the file has a column {RESCUED!r}, which schema_drift = \"rescue\" fills; "
                            "rename it, or choose another schema_drift")


def rescued(reader: pa.RecordBatchReader, columns: Sequence[Column], extra: Sequence[str],
            keys: Sequence[str] = (), file: str = "",
            told: Callable[[str], None] | None = None) -> pa.RecordBatchReader:
    """The batches cast to `columns`' types, bad values NULL, with `_rescued` appended; the `extra`
    columns (the table lacks them) stay in the batch as text for staging, and go into `_rescued`.
    A merge key is never rescued: a row without its key cannot be merged (BadInputError). `told`
    hears, at the end, how many rows and values were rescued (the tracking row's notes)."""
    fields = [pa.field(c.name, TEXT.arrow() if c.name in extra else c.type.arrow()) for c in columns]
    schema = pa.schema([*fields, pa.field(RESCUED, pa.string())])

    def batches() -> Iterator[pa.RecordBatch]:
        before, rows, values = 0, 0, 0
        for batch in reader:
            kept: dict[int, dict[str, str]] = {}
            out = rescue_batch(batch, columns, set(extra), schema, set(keys), (file, before), kept)
            before += batch.num_rows
            rows, values = rows + len(kept), values + sum(len(v) for v in kept.values())
            yield out
        if told is not None:
            told(f"{rows} row(s) with {values} value(s) kept in {RESCUED} (schema_drift = rescue)")

    return pa.RecordBatchReader.from_batches(schema, batches())


def rescue_batch(batch: pa.RecordBatch, columns: Sequence[Column], extra: set[str], schema: pa.Schema,
                 keys: set[str] | None = None, at: tuple[str, int] = ("", 0),
                 kept: dict[int, dict[str, str]] | None = None) -> pa.RecordBatch:
    """`at`: the file, and the data rows before this batch (to name a bad key's row); `kept` receives
    what each row rescued, by row index (the caller counts it without reading the JSON back)."""
    kept = {} if kept is None else kept
    arrays = []
    for i, col in enumerate(columns):
        arr = batch.column(i)
        if col.name in extra:
            _keep_all(arr, col.name, kept)
            arrays.append(arr.cast(pa.string()))
            continue
        try:
            arrays.append(cast(arr, col))
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = set(failing(arr, col))
        if col.name in (keys or ()):
            first = min(bad)
            raise BadInputError(f"data row {at[1] + first + 1}: the merge key {col.name} = "
                                f"{shorten(str(arr[first].as_py()))!r} is not a valid {col.type}; a key is never "
                                "rescued (a row without its key cannot be merged)", Where(file=at[0], column=col.name))
        for index in bad:
            kept.setdefault(index, {})[col.name] = str(arr[index].as_py())
        mask = pa.array([i in bad for i in range(len(arr))])
        arrays.append(cast(pc.if_else(mask, pa.scalar(None, arr.type), arr), col))
    text = [json.dumps(kept[i], ensure_ascii=False) if i in kept else None for i in range(batch.num_rows)]
    return pa.RecordBatch.from_arrays([*arrays, pa.array(text, pa.string())], schema=schema)


def _keep_all(arr: pa.Array, name: str, kept: dict[int, dict[str, str]]) -> None:
    """An extra column's values (not NULL, not empty) into each row's object."""
    values = arr.cast(pa.string()).to_pylist() if not pa.types.is_string(arr.type) else arr.to_pylist()
    for index, value in enumerate(values):
        if value not in (None, ""):
            kept.setdefault(index, {})[name] = value
