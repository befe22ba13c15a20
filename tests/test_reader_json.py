"""The JSON reader: lines in bounded blocks (fast and exact paths), documents item by item, bad lines named."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from loader.errors import BadInputError, ValueTypeError
from loader.load import LoadRequest, load_file
from loader.readers import base
from loader.readers.jsonl import sniff

from .conftest import Db
from .readers import REJECT_ROWS, detect, read, types


def write_lines(path: Path, records: list[dict], blank_every: int = 0) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i, r in enumerate(records, start=1):
            f.write(json.dumps(r) + "\n")
            if blank_every and i % blank_every == 0:
                f.write("\n")


def flat_records(n: int) -> list[dict]:
    return [{"id": i, "amount": Decimal(f"{i}.25") if i % 3 else None, "ok": i % 2 == 0,
             "day": f"2024-01-{1 + i % 28:02d}", "at": "2024-03-01T10:00:00+02:00", "name": f"n{i}",
             "where": {"city": "Lyon", "zip": "01000"}} for i in range(n)]


def test_lines_types_exact_numbers_and_one_level_flattened(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_lines(path, [json.loads(json.dumps(r, default=str)) | {"amount": r["amount"] and float(r["amount"])}
                       for r in flat_records(50)])
    table, stream, found = read(path)
    assert found.layout.fast is not None  # every column has one JSON type: pyarrow parses the blocks
    assert types(found) == {"id": "bigint", "amount": "decimal(18,2)", "ok": "boolean", "day": "date",
                            "at": "timestamptz", "name": "text", "where_city": "text", "where_zip": "text"}
    rows = table.to_pylist()
    assert stream.rows == found.n_rows == 50
    assert rows[1]["amount"] == Decimal("1.25") and rows[3]["amount"] is None
    assert rows[0]["at"] == dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert rows[0]["where_zip"] == "01000"  # leading-zero codes stay text


def test_many_small_blocks_keep_every_record_and_line(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    write_lines(path, [{"n": i, "s": "x" * 50} for i in range(20_000)], blank_every=7)
    table, stream, _ = read(path, block_size=64 << 10)
    assert table.column("n").to_pylist() == list(range(20_000)) and stream.rows == 20_000
    assert len(table.to_batches()) > 10  # streamed in blocks, not read whole


def test_a_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3,}\n{"a": 4}\n')
    with pytest.raises(BadInputError) as e:
        read(path)
    assert e.value.where.line == 4 and "invalid JSON" in e.value.reason and "bad.jsonl" in str(e.value)
    table, stream, _ = read(path, policy=REJECT_ROWS)
    assert table.column("a").to_pylist() == [1, 2, 4] and stream.rows == 4
    assert [(r.line, r.raw) for r in stream.rejects] == [(4, '{"a": 3,}')]


def test_a_value_of_another_type_after_the_sample_is_located(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    write_lines(path, [{"n": i} for i in range(3000)] + [{"n": "oops"}] + [{"n": 1}])
    with pytest.raises(ValueTypeError) as e:
        read(path, block_size=64 << 10, sample_rows=100)
    assert (e.value.where.line, e.value.where.column, e.value.where.value) == (3001, "n", "oops")


def test_sample_rows_option_and_widened_columns(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    write_lines(path, [{"n": 1}, {"n": 2.5}])
    table, _, _ = read(path, retype={"n": "decimal(10,1)"})
    assert table.column("n").to_pylist() == [Decimal("1.0"), Decimal("2.5")]


def test_array_document_and_deep_values_as_json_text(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    records = [{"id": i, "meta": {"tags": ["a", "b"], "deep": {"x": 1}}, "list": [1, {"y": 2}]} for i in range(40_000)]
    path.write_text(json.dumps(records, indent=1))
    table, stream, found = read(path)
    assert found.layout.kind == "array" and found.n_rows is None and stream.rows == 40_000
    assert types(found) == {"id": "bigint", "meta_tags": "text", "meta_deep": "text", "list": "text"}
    row = table.to_pylist()[5]
    assert row == {"id": 5, "meta_tags": '["a", "b"]', "meta_deep": '{"x": 1}', "list": '[1, {"y": 2}]'}


def test_object_document_with_the_array_under_a_key(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"exported": "2024-01-01", "count": 2, "data": [{"a": 1}, {"a": None}],
                                "other": [{"b": 1}]}))
    table, _, found = read(path, json_key="data")
    assert found.layout.key == "data" and table.column("a").to_pylist() == [1, None]
    big = tmp_path / "big.json"  # larger than the head: the first array member is the records
    big.write_text(json.dumps({"meta": {"note": "x" * 10_000}, "rows": [{"a": i} for i in range(100)]}))
    table, _, found = read(big)
    assert found.layout.key == "rows" and table.num_rows == 100


def test_truncated_document_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps([{"a": i} for i in range(10_000)])[:-5000])
    with pytest.raises(BadInputError, match="cut.json: invalid JSON after record"):
        read(path)


def test_sniff_claims_json_but_not_bracketed_csv_headers() -> None:
    assert sniff(b'{"a": 1}\n{"a": 2}\n') and sniff(b"[\n  {") and sniff(b"\xef\xbb\xbf[]")
    assert not sniff(b"[id],[name]\n1,a\n") and not sniff(b"id,name\n")


def test_detect_by_content_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    write_lines(path, [{"a": 1}])
    reader, _, found = detect(path)
    assert reader.format == "json" and found.columns[0].name == "a"
    assert base.reader_for(base.Input.of_path(str(path))).format == "json"


def test_load_json_lines_end_to_end(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_lines(path, [{"id": 1, "v": {"a": "x"}}, {"id": 2, "v": None}])
    result = load_file(LoadRequest(str(path), table="t"), sqlite_db.settings())
    assert result.exit_code == 0, result.error
    assert sqlite_db.query("SELECT id, v_a FROM ref.t ORDER BY id") == [(1, "x"), (2, None)]
