"""A route's column mapping without a database: parsing, checks, and what it does to detected columns."""

from __future__ import annotations

import pytest

from loader import mapping
from loader.coltypes import Column, ColumnType
from loader.config import RouteSettings, check_route
from loader.errors import BadInputError, ConfigError

TEXT, BIGINT = ColumnType("text"), ColumnType("bigint")
REGEX = r"^sales_(?P<region>[a-z]+)_(?P<date>\d{8})\.csv$"


def cols(*headers: str) -> list[Column]:
    from loader.naming import column_names

    return [Column(n, TEXT, h) for n, h in zip(column_names(list(headers)), headers)]


def test_entries_rename_retype_and_convert_by_header_or_safe_name() -> None:
    m = mapping.parse({"Kunden-Nr": {"name": "customer_id", "type": "bigint"},
                       "betrag": {"type": "decimal(18,2)", "format": "decimal_comma", "null": ["-"], "trim": True},
                       "Datum": "date"})
    out = mapping.apply(cols("Kunden-Nr", "Betrag", "Datum", "Rest"), m, "f.csv", {})
    assert [(c.name, str(c.type), c.parse, c.nulls, c.trim) for c in out.columns] == [
        ("customer_id", "bigint", None, (), False), ("betrag", "decimal(18,2)", "decimal_comma", ("-",), True),
        ("datum", "date", None, (), False), ("rest", "text", None, (), False)]
    assert [c.source_name for c in out.columns] == ["Kunden-Nr", "Betrag", "Datum", "Rest"]  # positions kept
    assert any("loaded as 'customer_id'" in n for n in out.notes)
    assert out.dropped == ()


def test_unknown_columns_drop_or_fail_and_absent_ones_are_noted() -> None:
    spec = {"a": "bigint", "gone": "text"}
    dropped = mapping.apply(cols("a", "b"), mapping.parse(spec, unknown="drop"), "f.csv", {})
    assert dropped.dropped == ("b",) and any("'gone'" in n for n in dropped.notes)
    with pytest.raises(BadInputError, match=r"\['b'\] are not in the route's columns"):
        mapping.apply(cols("a", "b"), mapping.parse(spec, unknown="fail"), "f.csv", {})


def test_value_columns_take_the_file_names_groups() -> None:
    columns = {"region": {"value": "{region}"}, "as_of": {"value": "{date}", "type": "date", "format": "%Y%m%d"},
               "src": {"value": "{file_name}"}}
    m = mapping.parse(columns, name_regex=REGEX)
    name = "sales_nord_20240131.csv"
    out = mapping.apply(cols("a"), m, name, mapping.file_fields(name, REGEX))
    assert [(c.name, v) for c, v in out.fixed] == [("region", "nord"), ("as_of", "20240131"), ("src", name)]
    date = out.fixed[1][0]
    assert str(mapping.scalar(date, "20240131", name).as_py()) == "2024-01-31"
    with pytest.raises(BadInputError, match="is not a valid date"):
        mapping.scalar(date, "2024-13-40", name)


def test_a_files_date_fills_date_without_a_regex() -> None:
    assert mapping.file_fields("prices_2024-03-01.csv", "")["date"] == "2024-03-01"
    assert mapping.file_fields("prices.csv", "")["date"] == ""


@pytest.mark.parametrize(("spec", "kwargs", "message"), [
    ({"a": {"nam": "x"}}, {}, "unknown key"),
    ({"a": {"name": "bad name;"}}, {}, "column name"),
    ({"a": {"type": "varchar(10)"}}, {}, "only decimal takes arguments"),
    ({"a": {"type": "text", "format": "decimal_comma"}}, {}, "needs a number type"),
    ({"a": {"type": "bigint", "format": "%d.%m.%Y"}}, {}, "a date format"),
    ({"a": {"null": [1]}}, {}, "list of strings"),
    ({"a": {"trim": "yes"}}, {}, "true or false"),
    ({"a": {"value": "{region}"}}, {}, "not a named group"),
    ({"a": {"name": "x"}, "b": {"name": "x"}}, {}, "two columns are mapped to 'x'"),
    ({}, {"unknown": "maybe"}, "unknown_columns"),
    ({"a": 3}, {}, "must be a type"),
])
def test_what_cannot_mean_anything_is_refused_naming_the_entry(spec: dict, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mapping.parse(spec, **kwargs)


def test_two_columns_renamed_to_one_name_are_refused_per_file() -> None:
    m = mapping.parse({"a": {"name": "b"}})
    with pytest.raises(BadInputError, match="two columns the name"):
        mapping.apply(cols("a", "b"), m, "f.csv", {})


def test_a_route_checks_its_columns_and_uses_its_regex_groups() -> None:
    ok = RouteSettings(root="/r", table_regex=REGEX, columns={"region": {"value": "{region}"}})
    check_route(ok)
    unused = RouteSettings(root="/r", table_regex=REGEX)
    with pytest.raises(ConfigError, match=r"\['region'\] are used nowhere"):
        check_route(unused)


def test_detected_columns_print_as_a_mapping_that_parses_back() -> None:
    columns = [Column("betrag", ColumnType("decimal", 18, 2), "Betrag", parse="decimal_comma"),
               Column("größe", BIGINT, "Größe"), Column("kunde", TEXT, "Kunden Nr")]
    toml = mapping.as_toml(columns)
    assert toml == {"Betrag": {"type": "decimal(18,2)", "format": "decimal_comma"}, "Größe": "bigint",
                    "Kunden Nr": {"type": "text", "name": "kunde"}}
    back = mapping.apply([Column(c.name, TEXT, c.source_name) for c in columns], mapping.parse(toml), "f", {})
    assert [(c.name, c.type, c.parse) for c in back.columns] == [(c.name, c.type, c.parse) for c in columns]
