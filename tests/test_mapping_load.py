"""A route's column mapping end to end: every database, several formats, the service, `load --route`, `detect`."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loader import mapping
from loader.errors import EXIT_DATA, EXIT_OK, EXIT_USAGE
from loader.load import LoadRequest, load_file

from .conftest import Db
from .test_cli_inputs import cli

REGEX = r"^sales_(?P<region>[a-z]+)_(?P<date>\d{8})\.csv$"
COLUMNS = {"Kunden-Nr": {"name": "customer_id", "type": "bigint"},
           "Betrag": {"type": "decimal(18,2)", "format": "decimal_comma", "null": ["-"], "trim": True},
           "Datum": {"type": "date", "format": "%d.%m.%Y"},
           "Status": {"null": ["N/A"], "trim": True},
           "region": {"value": "{region}"},
           "as_of": {"value": "{date}", "type": "date", "format": "%Y%m%d"}}
SALES = ("Kunden-Nr;Betrag;Datum;Status\n1;1.234,50;31.01.2024; ok \n2;-;01.02.2024;N/A\n"
         "3; 7,25 ;15.02.2024;open\n")
ROUTE_TOML = """[[routes]]
name = "sales"
root = "ROOT"
table = "sales"
table_regex = 'REGEX'

[routes.columns]
Kunden-Nr = { name = "customer_id", type = "bigint" }
Betrag = { type = "decimal(18,2)", format = "decimal_comma", null = ["-"], trim = true }
Datum = { type = "date", format = "%d.%m.%Y" }
Status = { null = ["N/A"], trim = true }
region = { value = "{region}" }
as_of = { value = "{date}", type = "date", format = "%Y%m%d" }
""".replace("REGEX", REGEX)


def sales_file(folder: Path, name: str = "sales_nord_20240131.csv", text: str = SALES) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(db: Db, table: str = "sales") -> list[tuple[object, ...]]:
    got = db.query(f"SELECT customer_id, betrag, datum, status, region, as_of FROM ref.{table} ORDER BY customer_id")
    return [tuple(str(v) if v is not None else None for v in r) for r in got]


EXPECTED = [("1", "1234.50", "2024-01-31", "ok", "nord", "2024-01-31"),
            ("2", None, "2024-02-01", None, "nord", "2024-01-31"),
            ("3", "7.25", "2024-02-15", "open", "nord", "2024-01-31")]


def test_a_mapping_renames_types_converts_and_fills_values_on_every_database(db: Db, tmp_path: Path) -> None:
    path = sales_file(tmp_path)
    m = mapping.parse(COLUMNS, name_regex=REGEX)
    result = load_file(LoadRequest(str(path), "sales", "fullload", mapping=m), db.settings())
    assert result.exit_code == EXIT_OK, result.error
    assert rows(db) == EXPECTED
    notes = json.loads(db.tracking()[-1]["detected_format"])["notes"]
    assert any("'Kunden-Nr' loaded as 'customer_id'" in n for n in notes)  # the tracking row says what was done


def test_appending_with_values_and_dropped_columns_keeps_the_table_shape(db: Db, tmp_path: Path) -> None:
    m = mapping.parse(COLUMNS, name_regex=REGEX)
    first = load_file(LoadRequest(str(sales_file(tmp_path)), "sales", "fullload", mapping=m), db.settings())
    assert first.exit_code == EXIT_OK, first.error
    extra = SALES.replace("Status\n", "Status;Kommentar\n").replace(" ok \n", " ok ;a\n").replace("N/A\n", "N/A;b\n")
    extra = extra.replace("open\n", "open;c\n").replace("1;1.234", "4;1.234").replace("2;-", "5;-")
    extra = extra.replace("3; 7", "6; 7")
    later = sales_file(tmp_path, "sales_sued_20240229.csv", extra)
    dropping = mapping.parse(COLUMNS, unknown="drop", name_regex=REGEX)
    result = load_file(LoadRequest(str(later), "sales", "append", mapping=dropping), db.settings())
    assert result.exit_code == EXIT_OK, result.error
    got = rows(db)
    assert got[:3] == EXPECTED and [r[4:] for r in got[3:]] == [("sued", "2024-02-29")] * 3
    assert "kommentar" not in {c.lower() for c in _columns(db)}


def _columns(db: Db) -> list[str]:
    if db.kind == "sqlite":
        return [r[1] for r in db.query("SELECT * FROM pragma_table_info('sales', 'ref')")]
    if db.kind == "mssql":
        return [r[0] for r in db.query("SELECT name FROM sys.columns WHERE object_id = OBJECT_ID('ref.sales')")]
    return [r[0] for r in db.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'ref' "
                                   "AND table_name = 'sales'")]


def test_a_value_that_breaks_its_format_names_line_and_column(sqlite_db: Db, tmp_path: Path) -> None:
    path = sales_file(tmp_path, text=SALES.replace("15.02.2024", "2024-02-15"))
    m = mapping.parse(COLUMNS, name_regex=REGEX)
    result = load_file(LoadRequest(str(path), "sales", "fullload", mapping=m), sqlite_db.settings())
    assert result.exit_code == EXIT_DATA
    assert result.error_line == 4 and result.error_column == "datum" and "2024-02-15" in (result.error or "")
    rejecting = load_file(LoadRequest(str(path), "sales", "fullload", mapping=m),
                          sqlite_db.settings(bad_rows="reject_rows", max_rejects="1"))
    assert rejecting.exit_code == EXIT_OK and rejecting.rows_loaded == 2 and rejecting.rows_rejected == 1
    assert "2024-02-15" in Path(rejecting.rejects_file or "").read_text()


def test_json_lines_and_parquet_are_mapped_the_same_way(sqlite_db: Db, tmp_path: Path) -> None:
    records = [{"Kunden-Nr": 1, "Betrag": "1.234,50", "Datum": "31.01.2024", "Status": " ok "},
               {"Kunden-Nr": 2, "Betrag": "-", "Datum": "01.02.2024", "Status": "N/A"},
               {"Kunden-Nr": 3, "Betrag": " 7,25 ", "Datum": "15.02.2024", "Status": "open"}]
    jsonl = tmp_path / "sales_nord_20240131.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in records))
    parquet = tmp_path / "sales_nord_20240131.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    m = mapping.parse(COLUMNS, name_regex=r"^sales_(?P<region>[a-z]+)_(?P<date>\d{8})\.\w+$")
    for path, table in ((jsonl, "from_json"), (parquet, "from_parquet")):
        result = load_file(LoadRequest(str(path), table, "fullload", mapping=m), sqlite_db.settings())
        assert result.exit_code == EXIT_OK, result.error
        assert rows(sqlite_db, table) == EXPECTED, path.suffix


def test_the_service_applies_its_routes_columns(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    (root / "inbox").mkdir(parents=True)
    config = tmp_path / "loader.toml"
    config.write_text(ROUTE_TOML.replace("ROOT", str(root)))
    sales_file(root / "inbox")
    out = cli("--config", str(config), "--db", sqlite_db.url, "run", "--once")
    assert out.returncode == EXIT_OK, out.stderr
    assert rows(sqlite_db) == EXPECTED


def test_load_route_by_name_or_file_and_flags_still_win(sqlite_db: Db, tmp_path: Path) -> None:
    config = tmp_path / "loader.toml"
    config.write_text(ROUTE_TOML.replace("ROOT", str(tmp_path / "drop")))
    path = sales_file(tmp_path)
    out = cli("--config", str(config), "--db", sqlite_db.url, "load", str(path), "--route", "sales")
    assert out.returncode == EXIT_OK, out.stderr
    assert rows(sqlite_db) == EXPECTED
    alone = tmp_path / "sales.toml"  # a route's keys at the top level, no root needed
    alone.write_text(ROUTE_TOML.replace("[[routes]]\n", "").replace('root = "ROOT"\n', ""))
    out = cli("--db", sqlite_db.url, "load", str(path), "--route", str(alone), "--table", "other")
    assert out.returncode == EXIT_OK, out.stderr
    assert rows(sqlite_db, "other") == EXPECTED
    out = cli("--config", str(config), "--db", sqlite_db.url, "load", str(path), "--route", "nosuch")
    assert out.returncode == EXIT_USAGE and b"its routes: sales" in out.stderr


def test_detect_prints_a_route_that_loads_the_same_way(sqlite_db: Db, tmp_path: Path) -> None:
    """Any header, unicode and quotes included: the block parses as TOML, and as a route loads the same table."""
    path = tmp_path / "prices_2024-03-01.csv"
    path.write_text('Größe;"Preis ""netto""";Gültig ab;Kunden Nr\nXL;1.234,50;31.01.2024;7\nS;2,00;01.02.2024;8\n',
                    encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "loader", "detect", str(path)], capture_output=True, timeout=60)
    assert out.returncode == EXIT_OK, out.stderr
    block = tomllib.loads(out.stdout.decode())
    route = block["routes"][0]
    assert route["delimiter"] == ";" and route["patterns"] == ["prices_*-*-*.csv"]
    assert route["columns"]["Preis \"netto\""] == {"type": "decimal(18,2)", "format": "decimal_comma"}
    config = tmp_path / "loader.toml"
    config.write_text(out.stdout.decode())
    plain = cli("--db", sqlite_db.url, "load", str(path), "--table", "plain")
    routed = cli("--config", str(config), "--db", sqlite_db.url, "load", str(path), "--route", route["name"],
                 "--table", "routed")
    assert plain.returncode == routed.returncode == EXIT_OK, routed.stderr
    assert sqlite_db.query("SELECT * FROM ref.routed") == sqlite_db.query("SELECT * FROM ref.plain")
    assert sorted(str(r[0]) for r in sqlite_db.query("SELECT preis_netto FROM ref.routed")) == ["1234.50", "2.00"]
