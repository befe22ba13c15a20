"""The Excel reader: typed cells kept, the header found below a title, sheets chosen, bad cells located."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter

from loader.errors import BadInputError, ValueTypeError
from loader.load import LoadRequest, load_file

from .conftest import Db
from .readers import REJECT_ROWS, read, types


def write_book(path: Path, rows: list[list], title: bool = True, empty_first: bool = True) -> None:
    book = xlsxwriter.Workbook(str(path))
    if empty_first:
        book.add_worksheet("Empty")
    sheet = book.add_worksheet("Prices")
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    if title:
        sheet.write(0, 0, "Price list, exported 2024-05-01")
    start = 2 if title else 0
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(start + r, c, value, when)
            elif value is not None:
                sheet.write(start + r, c, value)
    book.add_worksheet("Other").write(0, 0, "other")
    book.close()


ROWS = [["SKU", "Price", "In stock", "Updated", "Code"],
        ["a1", 12.5, True, dt.datetime(2024, 5, 1, 9, 30), "007"],
        ["a2", 3, False, dt.datetime(2024, 5, 2), "008"],
        ["a3", None, None, None, None]]


def test_title_skipped_header_found_and_cell_types_kept(tmp_path: Path) -> None:
    path = tmp_path / "prices.xlsx"
    write_book(path, ROWS)
    table, stream, found = read(path)
    assert found.layout.sheet == "Prices"  # the first sheet with data
    assert found.layout.as_dict()["header_row"] == 3  # as Excel numbers it
    assert types(found) == {"sku": "text", "price": "float", "in_stock": "boolean", "updated": "timestamp",
                            "code": "text"}
    rows = table.to_pylist()
    assert rows[0] == {"sku": "a1", "price": 12.5, "in_stock": True, "updated": dt.datetime(2024, 5, 1, 9, 30),
                       "code": "007"}
    assert rows[2]["price"] is None and stream.rows == found.n_rows == 3


def test_sheet_by_name_or_index(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    write_book(path, ROWS)
    table, _, found = read(path, sheet="Other")
    assert found.layout.sheet == "Other" and table.num_rows == 0
    _, _, found = read(path, sheet=1)
    assert found.layout.sheet == "Prices"
    with pytest.raises(BadInputError, match="no sheet 'Nope'"):
        read(path, sheet="Nope")


def test_an_error_cell_in_a_number_column_is_located_by_sheet_row(tmp_path: Path) -> None:
    path = tmp_path / "errors.xlsx"
    write_book(path, [["n", "label"]] + [[i, "x"] for i in range(3)] + [["#DIV/0!", "y"], [9, "z"]],
               title=False, empty_first=False)
    with pytest.raises(ValueTypeError) as e:
        read(path, sample_rows=2, retype={"n": "bigint"})
    assert (e.value.where.line, e.value.where.column, e.value.where.value) == (5, "n", "#DIV/0!")
    table, stream, _ = read(path, policy=REJECT_ROWS, retype={"n": "bigint"})
    assert table.column("n").to_pylist() == [0, 1, 2, 9] and [r.line for r in stream.rejects] == [5]


def test_many_rows_stream_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    write_book(path, [["id", "v"]] + [[i, f"v{i}"] for i in range(40_000)], title=False)
    table, stream, _ = read(path)
    assert stream.rows == 40_000 and len(table.to_batches()) >= 3
    assert table.column("id").to_pylist()[-1] == 39_999


def test_an_xlsx_that_is_really_csv_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_text("id,name\n1,a\n")
    from loader.readers.base import Input, ReadOptions
    from loader.readers.excel import ExcelReader

    with pytest.raises(BadInputError, match="fake.xlsx: not a readable Excel file"):
        ExcelReader().detect(Input.of_path(str(path)), ReadOptions())


def test_load_excel_end_to_end(sqlite_db: Db, tmp_path: Path) -> None:
    path = tmp_path / "prices.xlsx"
    write_book(path, ROWS)
    result = load_file(LoadRequest(str(path), table="t"), sqlite_db.settings())
    assert result.exit_code == 0, result.error
    assert sqlite_db.query("SELECT sku, code FROM ref.t ORDER BY sku") == [("a1", "007"), ("a2", "008"), ("a3", None)]
