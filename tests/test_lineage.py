"""Lineage columns on every database: each row traced to its load, its file and its row."""

from __future__ import annotations

from pathlib import Path

from loader.errors import EXIT_CONFIG, EXIT_DATA, EXIT_OK
from loader.load import LoadRequest, load_file

from .conftest import Db
from .files import write_numbers
from .test_cli_inputs import cli

ALL = ["_load_id", "_source_file", "_loaded_at", "_row_number"]


def test_every_row_names_its_load_file_and_row(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "orders_2024.csv"
    write_numbers(path, rows=2_500)
    result = load_file(LoadRequest(str(path), "t", "fullload"), db.settings(lineage=ALL, block_size=16_384))
    assert result.exit_code == EXIT_OK, result.error
    rows = db.query("SELECT id, _load_id, _source_file, _row_number FROM ref.t ORDER BY id")
    assert [r[3] for r in rows] == list(range(1, 2_501))  # across many batches, in file order
    assert {(r[1], r[2]) for r in rows} == {(result.load_id, "orders_2024.csv")}
    assert db.tracking()[-1]["load_id"] == result.load_id  # JOIN loader_files USING (load_id) finds the load
    assert db.query("SELECT count(DISTINCT _loaded_at) FROM ref.t") == [(1,)]


def test_row_numbers_count_the_rejected_rows_between(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    bad = (1_300, 1_301, 1_800)  # past the 100 sampled rows: rejected as they are read
    path.write_text("id,qty\n" + "".join(f"{i},{'bad' if i in bad else i}\n" for i in range(1, 2_001)))
    result = load_file(LoadRequest(str(path), "t", "fullload"),
                       db.settings(lineage=["_row_number"], bad_rows="reject_rows", max_rejects="10",
                                   block_size=16_384, sample_rows=100))
    assert result.exit_code == EXIT_OK and result.rows_rejected == 3, result.error
    rows = db.query("SELECT id, _row_number FROM ref.t ORDER BY id")
    assert len(rows) == 1_997 and all(i == n for i, n in rows)  # the row's number in the file, past every reject


def test_appending_with_lineage_to_a_table_made_without_it_is_refused(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    write_numbers(path, rows=3)
    assert load_file(LoadRequest(str(path), "t", "fullload"), db.settings()).exit_code == EXIT_OK
    result = load_file(LoadRequest(str(path), "t", "append", force=True), db.settings(lineage=["_load_id"]))
    assert result.exit_code == EXIT_DATA and "no lineage column" in result.error
    assert db.query("SELECT count(*) FROM ref.t") == [(3,)]


def test_a_file_column_named_like_lineage_keeps_its_value(sqlite_db: Db, tmp_path: Path) -> None:
    """Header names lose their leading underscores, so a file's own column never takes lineage's place."""
    path = tmp_path / "a.csv"
    path.write_text("id,_row_number\n1,7\n")
    result = load_file(LoadRequest(str(path), "t", "fullload"), sqlite_db.settings(lineage=["_row_number"]))
    assert result.exit_code == EXIT_OK, result.error
    assert sqlite_db.query("SELECT row_number, _row_number FROM ref.t") == [(7, 1)]


def test_an_unknown_lineage_column_is_a_config_error(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    write_numbers(path, rows=3)
    out = cli("--db", sqlite_db.url, "load", str(path), "--lineage", "_load_id,_nope")
    assert out.returncode == EXIT_CONFIG and b"_nope" in out.stderr
