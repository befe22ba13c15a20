"""The fast paths load the same table as the plain path, name the same lines, and fall back.

PostgreSQL's raw CSV COPY (readers/csv/chunks.py + targets/pgcopy.py) against the binary COPY from
Arrow (database.raw_copy = false), on a real server; the chunk cutter and hash without one.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from loader.errors import EXIT_DATA, EXIT_OK, DatabaseRefusedError
from loader.load import LoadRequest, detect, load_file
from loader.readers import Input
from loader.readers.csv.chunks import RawCsv, raw_csv, record_end
from loader.readers.csv.layout import CsvSource
from loader.targets import open_target, pgcopy
from loader.targets.pgcopy import first_record_breaks
from loader.targets.postgres import map_error

from .conftest import Db
from .files import write_edge_file

FAST = "raw CSV COPY"
FALLBACK = "loading it through the plain path"


def big_file(path: Path, rows: int, bad: dict[int, str] | None = None) -> list[int]:
    """Rows with quoted line breaks and doubled quotes every 7th row; returns each data row's first line."""
    lines, line = [], 2
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id,name,amount,ratio,day,note\n")
        for i in range(1, rows + 1):
            note = f'"two\nlines ""{i}"""' if i % 7 == 0 else f"n{i}"
            ratio = (bad or {}).get(i, f"{i / 3:.6e}")  # a float column
            f.write(f"{i},name {i},{i}.25,{ratio},2024-01-{i % 28 + 1:02d},{note}\n")
            lines.append(line)
            line += 2 if i % 7 == 0 else 1
    return lines


def load(db: Db, path: Path, table: str = "t", mode: str = "fullload", raw: bool = True, **load_settings):
    settings = db.settings(**load_settings)
    settings.database.raw_copy = raw
    return load_file(LoadRequest(str(path), table, mode, force=True), settings)


def same_table(db: Db, a: str, b: str) -> None:
    for x, y in ((a, b), (b, a)):
        assert db.query(f"SELECT count(*) FROM (SELECT * FROM ref.{x} EXCEPT ALL SELECT * FROM ref.{y}) d") == [(0,)]


# -- pure: cutting and hashing -----------------------------------------------------------------

@pytest.mark.parametrize("data, quote, cut", [
    (b"a,b\nc,d\ne", b'"', 8),
    (b'a,"x\ny"\nc', b'"', 8),  # the newline inside quotes is not a record end
    (b'a,"x\ny', b'"', 0),  # still inside the quotes
    (b'a,"say ""hi""\n"\n', b'"', 16),
    (b"abc", b'"', 0),
])
def test_record_end(data, quote, cut):
    assert record_end(data, quote) == cut


def raw_of(path: Path, chunk_bytes: int) -> RawCsv:
    source = Input.of_path(str(path))
    raw = raw_csv(CsvSource.of(source, detect(str(path))))
    assert raw is not None
    raw.chunk_bytes = chunk_bytes
    return raw


def test_chunks_are_the_rows_and_the_hash_is_the_files(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    big_file(path, 3000)
    raw = raw_of(path, 4096)
    chunks = list(raw.chunks())
    body = path.read_bytes().split(b"\n", 1)[1]
    assert len(chunks) > 10
    assert b"".join(c.data for c in chunks) == body
    assert [c.first_row for c in chunks] == [sum(c.rows for c in chunks[:i]) for i in range(len(chunks))]
    assert raw.rows == 3000
    assert raw.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("text, why", [
    ("a;b\n1,5;2\n3,25;4\n", "locale"),  # decimal commas
    ("a\n1\n2\n", "one column"),
    ("a,b,\n1,2,\n3,4,\n", "not loaded"),  # a trailing delimiter
])
def test_layouts_the_server_reads_otherwise_take_the_plain_path(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    source = Input.of_path(str(path))
    assert raw_csv(CsvSource.of(source, detect(str(path)))) is None, why


def test_latin1_takes_the_plain_path(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("name,n\nJosé,1\nZoë,2\n".encode("cp1252"))
    assert raw_csv(CsvSource.of(Input.of_path(str(path)), detect(str(path)))) is None


# -- PostgreSQL: same table, same lines, fallbacks -----------------------------------------------

def test_raw_copy_loads_the_same_table_as_binary_copy(pg: Db, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="loader")
    edge, big = tmp_path / "edge.csv", tmp_path / "big.csv"
    write_edge_file(edge)
    big_file(big, 120_000)  # ~7 MB: several chunks over two streams
    for path, table in ((edge, "edge"), (big, "big")):
        caplog.clear()
        fast = load(pg, path, table + "_fast")
        assert fast.exit_code == EXIT_OK, fast.error
        assert FAST in caplog.text and FALLBACK not in caplog.text
        plain = load(pg, path, table + "_plain", raw=False)
        assert plain.exit_code == EXIT_OK, plain.error
        assert fast.rows_loaded == plain.rows_loaded
        assert fast.sha256 == plain.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        same_table(pg, table + "_fast", table + "_plain")


def test_raw_append_goes_straight_into_the_table(pg: Db, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="loader")
    path = tmp_path / "big.csv"
    big_file(path, 20_000)
    assert load(pg, path, mode="append").exit_code == EXIT_OK
    result = load(pg, path, mode="append")
    assert result.exit_code == EXIT_OK, result.error
    assert FAST in caplog.text and FALLBACK not in caplog.text
    assert pg.query("SELECT count(*) FROM ref.t") == [(40_000,)]
    rows = [r for r in pg.tracking() if r["status"] == "loaded"]
    assert [r["rows_loaded"] for r in rows] == [20_000, 20_000]
    assert {r["sha256"] for r in rows} == {hashlib.sha256(path.read_bytes()).hexdigest()}
    assert pg.tables("stage") == []


def test_a_refused_row_is_named_by_its_physical_line(pg: Db, tmp_path: Path) -> None:
    """1e400 is inf to pyarrow and out of range to PostgreSQL: COPY refuses it, in some stream's chunk."""
    path = tmp_path / "big.csv"
    lines = big_file(path, 5000, bad={4321: "1e400"})
    target = open_target(pg.settings())
    try:
        target.ensure_ready()
        raw = raw_of(path, 8192)
        target.session.execute('CREATE TABLE ref.x (id bigint, name text, amount numeric(10,2), '
                               'ratio double precision, day date, note text)')
        statement = target._copy_statement("ref", "x", raw)
        conns = [target.conn, *target._copy_connections(1)]
        with pytest.raises(DatabaseRefusedError) as e:
            pgcopy.copy_chunks(conns, statement, raw.chunks(), str(path), map_error)
        assert e.value.where.line == lines[4320]
        assert e.value.where.column == "ratio"
    finally:
        target.close()


def test_a_stream_that_starts_on_a_quoted_line_break_still_names_the_line(pg: Db, tmp_path: Path) -> None:
    """COPY counts no quoted line break before its first record's end: a stream whose first chunk
    starts with a two-line record (timing decides which chunks a stream takes) must add it back."""
    path = tmp_path / "big.csv"
    lines = big_file(path, 5000, bad={4321: "1e400"})
    chunks = list(raw_of(path, 8192).chunks())
    starts = [i for i, c in enumerate(chunks) if first_record_breaks(c.data) and c.first_row < 4300]
    assert starts, "no chunk starts with a two-line record: the file no longer tests this"
    target = open_target(pg.settings())
    try:
        target.ensure_ready()
        target.session.execute('CREATE TABLE ref.x (id bigint, name text, amount numeric(10,2), '
                               'ratio double precision, day date, note text)')
        statement = target._copy_statement("ref", "x", raw_of(path, 8192))
        with pytest.raises(DatabaseRefusedError) as e:
            pgcopy.copy_chunks([target.conn], statement, iter(chunks[starts[-1]:]), str(path), map_error)
        assert e.value.where.line == lines[4320]
    finally:
        target.close()


@pytest.mark.parametrize("data, breaks", [
    (b"1,a\n2,b\n", 0),
    (b'7,"two\nlines ""7"""\n8,b\n', 1),
    (b'7,"x\ny\nz"\n8,"p\nq"\n', 2),  # only the first record's
    (b'7,"x\ny', 1),  # a chunk that ends inside the quotes
])
def test_first_record_breaks(data: bytes, breaks: int) -> None:
    assert first_record_breaks(data) == breaks


def test_server_refusal_falls_back_to_the_plain_path(pg: Db, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="loader")
    path = tmp_path / "big.csv"
    big_file(path, 8000, bad={7999: "1e400"})  # beyond the sample: typed float
    fast = load(pg, path, "fast")
    assert fast.exit_code == EXIT_OK, fast.error
    assert FALLBACK in caplog.text
    assert load(pg, path, "plain", raw=False).exit_code == EXIT_OK
    same_table(pg, "fast", "plain")
    assert pg.tables("stage") == []


def test_a_value_the_loader_refuses_fails_on_its_line(pg: Db, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = big_file(path, 8000, bad={7000: "x1"})  # beyond the sample
    fast, plain = load(pg, path, "fast"), load(pg, path, "plain", raw=False)
    assert fast.exit_code == plain.exit_code == EXIT_DATA
    assert fast.error_line == plain.error_line == lines[6999]
    assert fast.error_column == plain.error_column == "ratio"
    assert pg.tables("ref") == []


def test_rows_of_empty_fields_fall_back(pg: Db, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="loader")
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,x\n,\n2,y\n", encoding="utf-8")
    fast = load(pg, path, "fast")
    assert fast.exit_code == EXIT_OK, fast.error
    assert FALLBACK in caplog.text
    assert fast.rows_loaded == load(pg, path, "plain", raw=False).rows_loaded == 2
    same_table(pg, "fast", "plain")


def test_an_open_target_is_kept_across_loads(pg: Db, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    big_file(path, 100)
    target = open_target(pg.settings())
    target.ensure_ready()
    try:
        pid = target.session.query("SELECT pg_backend_pid()")[0][0]
        for table in ("a", "b"):
            result = load_file(LoadRequest(str(path), table), pg.settings(), target=target)
            assert result.exit_code == EXIT_OK, result.error
        assert target.session.query("SELECT pg_backend_pid()")[0][0] == pid
    finally:
        target.close()
    assert pg.query("SELECT count(*) FROM ref.a") == pg.query("SELECT count(*) FROM ref.b") == [(100,)]


def test_a_worker_keeps_one_target_and_replaces_a_dead_one(db: Db) -> None:
    from loader.service import work

    settings = db.settings()
    first = work.kept_target(settings)
    try:
        assert work.kept_target(settings) is first
        first.close()  # a dropped link, a restarted server
        second = work.kept_target(settings)
        assert second is not first
        assert second.tracker.session.query("SELECT 1") == [(1,)]
    finally:
        work.close_kept()
