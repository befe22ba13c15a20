"""What a user sees for `--type` mistakes and `loader detect`'s TOML, through the real command."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

from loader.errors import EXIT_OK, EXIT_USAGE

from .test_cli import cli


def test_an_unknown_type_is_a_usage_error_listing_the_valid_types(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,name\n1,a\n2,b\n")
    out = cli("--db", f"sqlite:///{tmp_path}/x.db", "load", str(path), "--type", "name=varchar(10)")
    assert out.returncode == EXIT_USAGE, out.stderr
    assert "Traceback" not in out.stderr and "name=varchar(10)" in out.stderr
    assert "bigint" in out.stderr and "decimal(P,S)" in out.stderr and "text" in out.stderr


def test_a_pin_naming_no_column_is_a_usage_error_listing_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,Full Name\n1,a\n2,b\n")
    db = tmp_path / "x.db"
    out = cli("--db", f"sqlite:///{db}", "load", str(path), "--type", "nosuch=text")
    assert out.returncode == EXIT_USAGE, out.stderr
    assert "nosuch" in out.stderr and "no such column" in out.stderr and "id, full_name" in out.stderr
    assert not sqlite3.connect(db.parent / "x.db").execute(
        "select name from sqlite_master where name = 'people'").fetchall()  # nothing loaded
    # the header as written names the column as well as its table name does
    ok = cli("--db", f"sqlite:///{db}", "load", str(path), "--type", "Full Name=text", "--type", "id=text")
    assert ok.returncode == EXIT_OK, ok.stderr
    detect = cli("detect", str(path), "--type", "nosuch=text")
    assert detect.returncode == EXIT_USAGE and "no such column" in detect.stderr


def test_detect_prints_toml_that_parses_for_any_header(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text('größe,"say ""hi""",a b,x=y\n1,a,2.5,q\n2,b,3.5,r\n', encoding="utf-8")
    for flags in ((), ("--toml",)):
        out = cli("detect", str(path), *flags)
        assert out.returncode == EXIT_OK, out.stderr
        route = tomllib.loads(out.stdout)["routes"][0]
        assert route["format"] == "csv" and route["delimiter"] == "," and route["header"] == "true"
        assert list(route["columns"]) == ["größe", 'say "hi"', "a b", "x=y"]
        assert route["columns"]["größe"] == "bigint"


TITLED = "Quarterly report, all regions\nGenerated 2024-01-01, by X\n\nid,name\n1,a\n2,b\n"


def test_skip_rows_pins_where_the_table_starts(tmp_path: Path) -> None:
    """A title line with a comma reads, to detection, like a tiny table's header; --skip-rows says where
    the table starts, the detect block keeps it, and --route with that block loads the same table."""
    path, db = tmp_path / "titled.csv", f"sqlite:///{tmp_path}/db/loader.db"
    path.write_text(TITLED, encoding="utf-8")
    out = cli("detect", str(path), "--skip-rows", "3")
    assert out.returncode == EXIT_OK, out.stderr
    route = tomllib.loads(out.stdout)["routes"][0]
    assert route["skip_rows"] == 3 and list(route["columns"]) == ["id", "name"]
    (tmp_path / "route.toml").write_text(out.stdout, encoding="utf-8")
    loaded = cli("--db", db, "load", str(path), "--route", str(tmp_path / "route.toml"), "--table", "t")
    assert loaded.returncode == EXIT_OK, loaded.stderr
    with sqlite3.connect(f"{tmp_path}/db/loader.ref.db") as conn:
        assert conn.execute("SELECT id, name FROM t ORDER BY id").fetchall() == [(1, "a"), (2, "b")]
    too_many = cli("--db", db, "load", str(path), "--skip-rows", "9", "--table", "u")
    assert too_many.returncode == 65 and "skip_rows = 9 skips the whole file" in too_many.stderr
    assert cli("--db", db, "load", str(path), "--skip-rows", "-1").returncode == EXIT_USAGE
