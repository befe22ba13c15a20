"""Bad-row policies against the real databases: reject_file, reject_rows with a limit, widen."""

from __future__ import annotations

import csv
from pathlib import Path

from loader.errors import EXIT_DATA, EXIT_OK
from loader.load import LoadRequest, load_file

from .conftest import Db
from .files import write_numbers


def messy(path: Path, rows: int = 20_000) -> None:
    """A clean file with a ragged row at line 1001 and a bad number at line 15001."""
    write_numbers(path, rows=rows)
    lines = path.read_text().splitlines(keepends=True)
    lines[1000] = "999,too,many,fields\n"
    lines[15000] = "x15,row 14999,14999.25\n"
    path.write_text("".join(lines))


def load(db: Db, path: Path, **settings: object):
    return load_file(LoadRequest(str(path), "t", "fullload", rejects_dir=str(path.parent / "rejects")),
                     db.settings(**settings))


def test_reject_rows_loads_the_good_rows_and_writes_the_bad_ones(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    messy(path)
    result = load(db, path, bad_rows="reject_rows", max_rejects="10")
    assert result.exit_code == EXIT_OK, result.error
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (20_000, 19_998, 2)
    assert db.query("SELECT count(*) FROM ref.t") == [(19_998,)]
    with open(result.rejects_file, newline="") as f:
        rejects = list(csv.DictReader(f))
    assert [(r["line"], r["column"], r["row"]) for r in rejects] == [
        ("1001", "", "999,too,many,fields"), ("15001", "id", "x15,row 14999,14999.25")]
    assert "expected 3 fields, found 4" in rejects[0]["reason"]
    assert "not a valid bigint" in rejects[1]["reason"] and rejects[1]["value"] == "x15"
    row = db.tracking()[-1]
    assert (row["status"], row["rows_rejected"], row["rejects_file"]) == ("loaded", 2, result.rejects_file)
    assert row["rows_read"] == row["rows_loaded"] + row["rows_rejected"]


def test_over_the_limit_the_whole_file_fails(db: Db, tmp_path: Path) -> None:
    good, path = tmp_path / "good.csv", tmp_path / "messy.csv"
    write_numbers(good, rows=5)
    assert load(db, good).exit_code == EXIT_OK
    messy(path)
    result = load(db, path, bad_rows="reject_rows", max_rejects="1")
    assert result.exit_code == EXIT_DATA
    assert "2 bad rows (1 allowed)" in result.error and "line 1001" in result.error
    assert db.query("SELECT count(*) FROM ref.t") == [(5,)]
    assert Path(result.rejects_file or "").exists()


def test_a_ratio_limit_is_judged_on_the_whole_file(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    messy(path)
    assert load(db, path, bad_rows="reject_rows", max_rejects="0.01%").exit_code == EXIT_OK  # 2 of 20,000
    assert load(db, path, bad_rows="reject_rows", max_rejects="0.005%").exit_code == EXIT_DATA


def test_widen_turns_a_column_text_instead_of_failing(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    bad_at = db.rows(150_000)
    write_numbers(path, rows=db.rows(200_000), bad_at=bad_at, bad_value="15O000")
    result = load(db, path, type_mismatch="widen")
    assert result.exit_code == EXIT_OK, result.error
    assert result.rows_loaded == db.rows(200_000)
    assert db.query(f"SELECT id FROM ref.t WHERE label = 'row {bad_at - 1}'") == [("15O000",)]
    fmt = db.tracking()[-1]["detected_format"]
    assert f"widened from bigint to text: line {bad_at + 1}" in fmt


def test_widen_keeps_numbers_exact(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    write_numbers(path, rows=10_000, bad_at=9_000, bad_value="12345678901234567890.123")
    result = load(db, path, type_mismatch="widen")
    assert result.exit_code == EXIT_OK, result.error
    value = db.query("SELECT id FROM ref.t WHERE label = 'row 8999'")[0][0]
    assert str(value) == "12345678901234567890.123"


def test_an_earlier_rejects_file_is_never_overwritten(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    messy(path)
    first = load(db, path, bad_rows="reject_rows", max_rejects="10")
    second = load(db, path, bad_rows="reject_rows", max_rejects="10")
    assert first.rejects_file and second.rejects_file and first.rejects_file != second.rejects_file
    assert second.rejects_file.endswith("messy.csv_2.rejects.csv")
    assert Path(first.rejects_file).read_text() == Path(second.rejects_file).read_text()


def ragged(path: Path, rows: int = 20_000) -> None:
    """A clean file with a short row at line 101, a trailing delimiter at line 201 and an extra
    value at line 301 (the one row that no rule can place)."""
    write_numbers(path, rows=rows)
    lines = path.read_text().splitlines(keepends=True)
    lines[100] = "-1,short\n"
    lines[200] = "-2,trailing,200.25,\n"
    lines[300] = "-3,extra,300.25,surplus\n"
    path.write_text("".join(lines))


def test_ragged_rows_pad_keeps_short_rows_under_reject_file(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    ragged(path)
    lines = path.read_text().splitlines(keepends=True)
    del lines[300]  # without the row that cannot be placed, the whole file loads
    path.write_text("".join(lines))
    result = load(db, path, ragged_rows="pad")
    assert result.exit_code == EXIT_OK, result.error
    assert result.rows_loaded == 19_999
    assert db.query("SELECT label, amount FROM ref.t WHERE id = -1") == [("short", None)]
    assert db.query("SELECT label FROM ref.t WHERE id = -2") == [("trailing",)]
    notes = db.tracking()[-1]["detected_format"]
    assert "1 short rows kept" in str(notes) and "extra empty trailing" in str(notes)


def test_ragged_rows_pad_still_fails_a_row_with_an_extra_value(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    ragged(path)
    result = load(db, path, ragged_rows="pad")
    assert result.exit_code == EXIT_DATA
    assert "line 301" in result.error and "expected 3 fields, found 4" in result.error


def test_ragged_rows_reject_sets_short_rows_aside_under_reject_rows(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    ragged(path)
    padded = load(db, path, bad_rows="reject_rows", max_rejects="100%")
    assert (padded.exit_code, padded.rows_loaded, padded.rows_rejected) == (EXIT_OK, 19_999, 1)
    strict = load(db, path, bad_rows="reject_rows", max_rejects="100%", ragged_rows="reject")
    assert (strict.exit_code, strict.rows_loaded, strict.rows_rejected) == (EXIT_OK, 19_997, 3), strict.error


def test_ragged_rows_default_fails_the_file_under_reject_file(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    ragged(path)
    result = load(db, path)
    assert result.exit_code == EXIT_DATA and "line 101" in result.error


def test_max_rejects_100_percent_is_a_ratio_not_one_row(db: Db, tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    messy(path)
    result = load(db, path, bad_rows="reject_rows", max_rejects="100%")
    assert (result.exit_code, result.rows_rejected) == (EXIT_OK, 2), result.error
    assert load(db, path, bad_rows="reject_rows", max_rejects="1").exit_code == EXIT_DATA
