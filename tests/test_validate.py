"""`loader validate`: every error of a file, no table touched (library level; the CLI in test_cli)."""

from __future__ import annotations

from pathlib import Path

from loader.config import load_settings
from loader.readers import ReadOptions
from loader.validate import validate_file

from .files import write_numbers


def settings(tmp_path: Path, **load: str):
    s = load_settings(config_path=None, environ={}, dotenv_path=None,
                      flags={"database.url": f"sqlite:///{tmp_path / 'never.db'}"})
    for key, value in load.items():
        setattr(s.load, key, value)
    return s


def bad_file(path: Path) -> None:
    """20,000 clean rows with a bad id at line 10001, a ragged row at 5001 and a bad number at 19001."""
    write_numbers(path, rows=20_000)
    lines = path.read_text().splitlines(keepends=True)
    lines[10000] = "x1,row,1.25\n"
    lines[5000] = "5,too,many,fields\n"
    lines[19000] = "19000,row,abc\n"
    path.write_text("".join(lines))


def test_every_error_is_listed_with_line_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    bad_file(path)
    out = validate_file(str(path), settings(tmp_path))
    assert [(r.line, r.column, r.value) for r in out.errors] == [
        (5001, None, None), (10001, "id", "x1"), (19001, "amount", "abc")]
    assert (out.rows_read, out.rows_bad, out.would_load) == (20_000, 3, False)
    assert "reject_file" in out.verdict
    assert not (tmp_path / "never.db").exists()  # no database opened


def test_the_verdict_follows_the_configured_policy(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    bad_file(path)
    tolerant = validate_file(str(path), settings(tmp_path, bad_rows="reject_rows", max_rejects="100%"))
    assert tolerant.would_load and tolerant.verdict == "would load 19,997 rows, 3 rejected"
    strict = validate_file(str(path), settings(tmp_path, bad_rows="reject_rows", max_rejects="2"))
    assert not strict.would_load and "2 allowed" in strict.verdict


def test_pinned_types_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    write_numbers(path, rows=100)
    assert validate_file(str(path), settings(tmp_path)).would_load
    pinned = validate_file(str(path), settings(tmp_path), ReadOptions(column_types={"label": "bigint"}))
    assert pinned.rows_bad == 100 and not pinned.would_load


def test_a_file_no_policy_can_read_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10)
    out = validate_file(str(path), settings(tmp_path))
    assert out.fatal and not out.would_load and out.verdict.startswith("would fail: ")
