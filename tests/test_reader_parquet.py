"""The Parquet reader: the file's types kept, structs flattened, row groups streamed, bad files named."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loader.errors import BadInputError, ValueTypeError
from loader.load import LoadRequest, load_file

from .conftest import Db
from .readers import REJECT_ROWS, read, types

UTC = dt.UTC


def sample_table() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, None], pa.int32()),
        "amount": pa.array([Decimal("1.50"), None, Decimal("-99999999.99")], pa.decimal128(10, 2)),
        "ratio": [0.5, None, 1e300],
        "ok": [True, False, None],
        "born": pa.array([dt.date(2000, 1, 31), None, dt.date(1970, 1, 1)], pa.date32()),
        "seen": pa.array([dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC), None, None], pa.timestamp("ms", tz="UTC")),
        "local": pa.array([dt.datetime(2024, 5, 1, 12, 30), None, None], pa.timestamp("ns")),
        "Customer Name": ["a", "ü", None],
        "addr": pa.array([{"city": "Paris", "zip": 75001}, None, {"city": None, "zip": 1}]),
        "tags": [["x", "y"], [], None],
        "blob": pa.array([b"\x00\x01", None, b""], pa.binary()),
    })


def test_types_come_from_the_file_and_structs_flatten(tmp_path: Path) -> None:
    path = tmp_path / "sales.parquet"
    pq.write_table(sample_table(), path)
    table, stream, found = read(path)
    assert types(found) == {"id": "bigint", "amount": "decimal(10,2)", "ratio": "float", "ok": "boolean",
                            "born": "date", "seen": "timestamptz", "local": "timestamp", "customer_name": "text",
                            "addr_city": "text", "addr_zip": "bigint", "tags": "text", "blob": "text"}
    assert found.n_rows == 3 and stream.rows == 3
    rows = table.to_pylist()
    assert rows[0]["amount"] == Decimal("1.50") and rows[2]["amount"] == Decimal("-99999999.99")
    assert rows[0]["seen"] == dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert rows[0]["addr_city"] == "Paris" and rows[2]["addr_zip"] == 1 and rows[1]["addr_city"] is None
    assert [r["tags"] for r in rows] == ['["x", "y"]', "[]", None]  # lists are JSON text
    assert rows[0]["blob"] == "AAE=" and rows[1]["id"] == 2 and rows[2]["id"] is None


def test_row_groups_stream_in_bounded_batches(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"n": range(100_000)}), path, row_group_size=30_000)
    table, stream, _ = read(path, batch_rows=10_000)
    assert table.num_rows == stream.rows == 100_000
    assert max(b.num_rows for b in table.to_batches()) <= 10_000
    assert table.column("n").to_pylist() == list(range(100_000))


def test_columns_replaced_after_detect_are_cast_and_bad_values_located(tmp_path: Path) -> None:
    path = tmp_path / "codes.parquet"
    pq.write_table(pa.table({"code": ["1", "2", "x3", "4"], "n": [1, 2, 3, 4]}), path)
    table, _, _ = read(path, retype={"n": "text"})
    assert table.column("n").to_pylist() == ["1", "2", "3", "4"]
    with pytest.raises(ValueTypeError) as e:
        read(path, retype={"code": "bigint"})
    assert e.value.where.line == 3 and e.value.where.column == "code" and e.value.where.value == "x3"
    assert "codes.parquet" in str(e.value)
    table, stream, _ = read(path, policy=REJECT_ROWS, retype={"code": "bigint"})
    assert table.column("code").to_pylist() == [1, 2, 4] and stream.rows == 4
    assert [(r.line, r.column, r.value) for r in stream.rejects] == [(3, "code", "x3")]


@pytest.mark.parametrize("content", [b"id,name\n1,a\n", b"PAR1" + b"\x00" * 100, b""])
def test_a_file_that_is_not_parquet_is_bad_input_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.parquet"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match="fake.parquet: not a readable Parquet file"):
        read(path)


def test_truncated_footer_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "cut.parquet"
    pq.write_table(pa.table({"n": range(1000)}), path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(BadInputError, match="cut.parquet"):
        read(path)


def test_load_parquet_end_to_end(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "sales.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "amount": pa.array([Decimal("1.50"), None, Decimal("2")],
                                                                 pa.decimal128(10, 2))}), path)
    result = load_file(LoadRequest(str(path), table="t"), sqlite_db.settings())
    assert result.exit_code == 0, result.error
    rows = sqlite_db.query("SELECT id, amount FROM ref.t ORDER BY id")
    assert [(i, None if a is None else Decimal(str(a))) for i, a in rows] == [
        (1, Decimal("1.50")), (2, None), (3, Decimal("2"))]
