"""Planning a load without a database: mode, direct or staged, names, conformed and widened columns."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot

from loader.coltypes import Column, ColumnType, Mode, joined
from loader.config import Settings
from loader.errors import BadInputError, ValueTypeError, Where
from loader.plan import LoadPlan, conform, plan_load, widened
from loader.readers import Detection

NOW = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
LOAD_ID = "0123456789abcdef0123456789abcdef"
BIGINT, TEXT = ColumnType("bigint"), ColumnType("text")


def detection(*columns: Column) -> Detection:
    return Detection("csv", list(columns), layout=None, n_rows=2, notes=["detected"])


def plan(mode: Mode = Mode.FULLLOAD, existing: list[Column] | None = None, direct_append: bool = True,
         det: Detection | None = None) -> LoadPlan:
    det = det or detection(Column("id", BIGINT, "ID"), Column("amount", ColumnType("decimal", 18, 2), "Amount",
                                                             parse="decimal_comma"))
    return plan_load(mode, "sales", Settings(), det, existing, load_id=LOAD_ID, direct_append=direct_append, now=NOW)


def test_a_full_load_stages_and_names_its_backup() -> None:
    p = plan()
    assert (p.mode, p.schema, p.table, p.direct) == (Mode.FULLLOAD, "ref", "sales", False)
    assert (p.stage_schema, p.stage) == ("stage", "sales_0123456789ab")
    assert (p.bkp_schema, p.backup, p.backups_keep) == ("bkp", "sales_20240506070809", 3)
    assert [c.name for c in p.columns] == ["id", "amount"]


def test_a_full_load_ignores_the_existing_table_s_types() -> None:
    p = plan(existing=[Column("id", TEXT)])
    assert p.columns[0].type == BIGINT and not p.direct


def test_an_append_to_a_new_table_stages_its_detected_columns() -> None:
    p = plan(Mode.APPEND, existing=None)
    assert not p.direct and p.columns[1].type == ColumnType("decimal", 18, 2)


def test_an_append_to_an_existing_table_goes_direct_where_the_target_can() -> None:
    existing = [Column("id", BIGINT), Column("amount", ColumnType("decimal", 18, 2))]
    assert plan(Mode.APPEND, existing).direct is True
    assert plan(Mode.APPEND, existing, direct_append=False).direct is False


def test_an_append_takes_the_table_s_types_and_keeps_a_format_only_for_the_same_kind() -> None:
    same_kind = plan(Mode.APPEND, [Column("id", TEXT), Column("amount", ColumnType("decimal", 12, 4))])
    assert [str(c.type) for c in same_kind.columns] == ["text", "decimal(12,4)"]
    assert same_kind.columns[1].parse == "decimal_comma" and same_kind.columns[1].source_name == "Amount"
    other_kind = plan(Mode.APPEND, [Column("id", BIGINT), Column("amount", TEXT)])
    assert other_kind.columns[1].parse is None  # "1,5" goes into a text column as written


def test_an_append_refuses_a_column_the_table_lacks() -> None:
    with pytest.raises(BadInputError, match=r"columns \['amount'\] are not in ref.sales") as caught:
        plan(Mode.APPEND, [Column("id", BIGINT)])
    assert "nothing added" in caught.value.reason and "schema_drift" in caught.value.reason


def test_conform_without_a_table_changes_nothing() -> None:
    cols = [Column("a", BIGINT)]
    assert conform(cols, None, "ref.t") is cols


def test_the_publication_carries_the_plan() -> None:
    pub = plan().publication()
    assert (pub.mode, pub.ref_schema, pub.bkp_schema, pub.stage_schema) == ("fullload", "ref", "bkp", "stage")
    assert (pub.table, pub.stage, pub.backup_name, pub.backups_keep) == ("sales", "sales_0123456789ab",
                                                                          "sales_20240506070809", 3)
    assert [c.name for c in pub.columns] == ["id", "amount"]


def test_names_are_valid_identifiers_for_every_dialect() -> None:
    p = plan()
    for name in (p.stage, p.backup):
        for dialect in ("sqlite", "postgres", "tsql"):
            sqlglot.parse_one(f"SELECT 1 FROM {p.stage_schema}.{name}", read=dialect)


def test_long_table_names_still_fit_an_identifier() -> None:
    det = detection(Column("id", BIGINT))
    p = plan_load(Mode.FULLLOAD, "t" * 200, Settings(), det, None, load_id=LOAD_ID, direct_append=True, now=NOW)
    assert len(p.stage.encode()) <= 63 and len(p.backup.encode()) <= 63


def test_widening_replaces_one_column_and_notes_why() -> None:
    p = plan()
    error = ValueTypeError("value is not a valid bigint", Where(file="f.csv", line=7, column="id", value="1.5"))
    wider = widened(p, error)
    assert wider is not None
    assert [str(c.type) for c in wider.columns] == ["decimal(20,1)", "decimal(18,2)"]
    assert wider.columns[0].source_name == "ID"
    assert wider.notes == ("column 'id' widened from bigint to decimal(20,1): line 7 has '1.5'",)
    assert p.columns[0].type == BIGINT  # the plan before is unchanged


@pytest.mark.parametrize("where", [Where(column="nope", value="x"), Where(column="id", value=None)])
def test_nothing_to_widen_without_a_known_column_and_value(where: Where) -> None:
    assert widened(plan(), ValueTypeError("bad", where)) is None


def test_text_is_as_wide_as_it_gets() -> None:
    p = plan(det=detection(Column("name", TEXT)))
    assert widened(p, ValueTypeError("bad", Where(column="name", value="x"))) is None


def test_the_reader_streams_the_plan_s_columns_with_every_note() -> None:
    det = detection(Column("id", BIGINT))
    p = plan(det=det)
    wider = widened(p, ValueTypeError("bad", Where(line=2, column="id", value="abc")))
    assert wider is not None
    read = wider.read_as(det)
    assert read.columns == [Column("id", TEXT)] and read.notes == ["detected", wider.notes[0]]
    assert det.columns == [Column("id", BIGINT)] and det.notes == ["detected"]  # the detection as it was
    assert read.as_dict()["columns"] == [{"name": "id", "source_name": "", "type": "text"}]


@pytest.mark.parametrize("old, new, want", [
    ("bigint", "decimal(18,2)", "decimal(21,2)"), ("decimal(10,4)", "decimal(30,1)", "decimal(33,4)"),
    ("decimal(38,0)", "decimal(5,4)", "text"), ("bigint", "float", "float"), ("date", "timestamp", "timestamp"),
    ("boolean", "bigint", "text"), ("text", "bigint", "text"), ("decimal(21,2)", "bigint", "decimal(21,2)"),
    ("timestamp", "timestamptz", "text"), ("float", "float", "float"),
])
def test_a_join_holds_every_value_of_both_types(old: str, new: str, want: str) -> None:
    assert str(joined(ColumnType.parse(old), ColumnType.parse(new))) == want


def test_widen_types_widens_the_tables_columns_but_never_a_key() -> None:
    existing = [Column("id", BIGINT), Column("amount", BIGINT)]
    det = detection(Column("id", ColumnType("decimal", 5, 1)), Column("amount", ColumnType("decimal", 18, 2),
                                                                        parse="decimal_comma"))
    settings = Settings()
    settings.load.widen_types = True
    p = plan_load(Mode.MERGE, "sales", settings, det, existing, load_id=LOAD_ID, direct_append=True, now=NOW,
                  keys=("id",))
    assert [str(c.type) for c in p.columns] == ["bigint", "decimal(21,2)"]
    assert p.columns[1].parse == "decimal_comma" and not p.direct
    assert [(c.name, str(old)) for c, old in p.publication().retype] == [("amount", "bigint")]
    assert any("'amount' of ref.sales widened from bigint to decimal(21,2)" in n for n in p.notes)
    off = plan(Mode.APPEND, existing, det=det)  # without widen_types the table's types win, as before
    assert [str(c.type) for c in off.columns] == ["bigint", "bigint"] and not off.retyped and off.direct


def test_a_value_widens_a_tables_column_only_under_widen_types() -> None:
    existing = [Column("id", BIGINT), Column("amount", ColumnType("decimal", 18, 2))]
    error = ValueTypeError("not a number", Where(file="f.csv", line=9, column="amount", value="n/a"))
    assert widened(plan(Mode.APPEND, existing), error) is None
    settings = Settings()
    settings.load.widen_types = True
    p = plan_load(Mode.APPEND, "sales", settings, detection(*existing), existing, load_id=LOAD_ID,
                  direct_append=True, now=NOW)
    wider = widened(p, error)
    assert wider is not None and str(wider.columns[1].type) == "text" and not wider.direct
    assert [c.name for c, _ in wider.retyped] == ["amount"]
