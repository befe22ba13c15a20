"""Compressed inputs: every codec streams into the inner reader; zips pick a member; bombs and corrupt data refused."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from loader.errors import BadInputError
from loader.load import LoadRequest, load_file
from loader.readers import base
from loader.readers.compressed import members

from .conftest import Db
from .readers import read

LINES = "".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in range(1000)).encode()
COMPRESS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
            "zst": lambda data: zstandard.ZstdCompressor().compress(data)}


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_every_codec_streams_into_the_inner_reader(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"events.jsonl.{ext}"
    path.write_bytes(COMPRESS[ext](LINES))
    table, stream, found = read(path, block_size=64 << 10)
    assert found.format == "json" and found.layout.as_dict()["compression"] in ("gzip", "bzip2", "xz", "zstd")
    assert table.column("id").to_pylist() == list(range(1000)) and stream.rows == 1000


def test_parquet_inside_gzip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"n": range(500)}), buffer)
    path = tmp_path / "t.parquet.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    table, _, found = read(path)
    assert found.format == "parquet" and table.column("n").to_pylist() == list(range(500))


def make_zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)


def test_zip_with_one_member_and_a_named_one(tmp_path: Path) -> None:
    one = tmp_path / "one.zip"
    make_zip(one, {"__MACOSX/._a.jsonl": b"junk", "a.jsonl": LINES})
    table, _, found = read(one)
    assert table.num_rows == 1000 and found.layout.member == "a.jsonl"
    many = tmp_path / "many.zip"
    make_zip(many, {"dir/a.jsonl": LINES, "dir/b.jsonl": b"".join(LINES.splitlines(keepends=True)[:4])})
    with pytest.raises(BadInputError, match=r"holds 2 files \['dir/a.jsonl', 'dir/b.jsonl'\]"):
        read(many)
    table, _, _ = read(many, member="b.jsonl")
    assert table.num_rows == 4
    inputs = members(base.Input.of_path(str(many)))
    assert [m.file_name for m in inputs] == ["a.jsonl", "b.jsonl"] and inputs[0].path.endswith("many.zip/dir/a.jsonl")


def test_corrupt_gzip_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(LINES * 50)[:-100])
    with pytest.raises(BadInputError, match="cut.jsonl.gz: corrupt gzip data"):
        read(path)


def test_a_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(LINES * 200))  # 5.9 MB of text from about 30 KB
    with pytest.raises(BadInputError, match="possible compression bomb"):
        read(path, max_uncompressed_bytes=1 << 20)
    zipped = tmp_path / "bomb.zip"
    make_zip(zipped, {"a.jsonl": LINES * 200})
    with pytest.raises(BadInputError, match="possible compression bomb"):
        read(zipped, max_uncompressed_bytes=1 << 20)


def test_a_zip_that_is_not_one_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(BadInputError, match="fake.zip"):
        read(path)


def test_load_gzip_json_end_to_end(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(LINES))
    result = load_file(LoadRequest(str(path), table="t"), sqlite_db.settings())
    assert result.exit_code == 0, result.error
    assert sqlite_db.query("SELECT count(*), max(id) FROM ref.t") == [(1000, 999)]


def test_a_zip_of_several_files_loads_each_as_its_own(db: Db, tmp_path: Path) -> None:
    import hashlib

    sales = {f"2024/sales_2024_0{m}.csv": f"id,amount\n{m}1,1.5\n{m}2,2.5\n".encode() for m in (2, 1)}
    path = tmp_path / "history.zip"
    make_zip(path, sales)
    first = load_file(LoadRequest(str(path), table="sales", mode="append"), db.settings())
    assert (first.status, first.exit_code, first.rows_loaded) == ("loaded", 0, 4), first.error
    assert [p.path for p in first.parts] == [f"{path}/2024/sales_2024_01.csv", f"{path}/2024/sales_2024_02.csv"]
    rows = [r for r in db.tracking() if r["status"] == "loaded"]
    assert [r["sha256"] for r in rows] == [hashlib.sha256(sales[f"2024/sales_2024_0{m}.csv"]).hexdigest()
                                          for m in (1, 2)]  # each member's content, in name order
    assert db.query("SELECT id FROM ref.sales ORDER BY id") == [(11,), (12,), (21,), (22,)]
    again = load_file(LoadRequest(str(path), table="sales", mode="append"), db.settings())
    assert (again.status, again.exit_code) == ("duplicate", 3)


def test_a_bad_member_fails_the_zip_naming_it(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "tables.zip"
    make_zip(path, {"customers.csv": b"id,name\n1,a\n", "orders.csv": b"id,qty\n1,2\n2,x\n3,4\n"})
    result = load_file(LoadRequest(str(path)), sqlite_db.settings(type_mismatch="reject"),
                       base.ReadOptions(column_types={"qty": "bigint"}))
    assert (result.status, result.exit_code) == ("failed", 65)
    assert result.error.startswith("member orders.csv: ") and "line 3" in result.error
    assert sqlite_db.query("SELECT name FROM ref.customers") == [("a",)]  # its own load, complete


def test_gzip_csv_keeps_the_hash_of_the_file_as_delivered(db: Db, tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "numbers.csv.gz"
    path.write_bytes(gzip.compress(b"id,amount\n" + b"".join(b"%d,%d.5\n" % (i, i) for i in range(50_000))))
    result = load_file(LoadRequest(str(path), table="n"), db.settings())
    assert result.exit_code == 0, result.error
    assert db.tracking()[-1]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
