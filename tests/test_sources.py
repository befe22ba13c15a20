"""Database sources without a database: schedules on an injected clock, the source SQL, types, config."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
import sqlglot

from loader.coltypes import Column, ColumnType
from loader.config import SourceSettings, load_settings
from loader.errors import ConfigError, UsageError
from loader.readers import query_sql
from loader.readers.query import parse_watermark, source_type, sqlite_type, watermark_json
from loader.schedule import make_schedule, next_run, parse_duration
from loader.service.sources import SourceTimer
from loader.sources import PullRequest, check_request

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


# -- schedules --------------------------------------------------------------------------------------
def test_durations() -> None:
    assert [parse_duration(x) for x in ("2s", "15m", "1h", "1d", "90", 5, "250ms")] == \
        [2, 900, 3600, 86400, 90, 5, 0.25]
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_interval_runs_at_start_then_every_interval() -> None:
    every = make_schedule(every="2s")
    assert next_run(every, None, T0) == T0  # never run: now
    assert next_run(every, T0, at(0.5)) == at(2)
    assert next_run(every, T0, at(2)) == at(2)


def test_missed_runs_catch_up_once() -> None:
    """Down for an hour over 1,800 fire times: one run now, then the normal rhythm from it."""
    every = make_schedule(every="2s")
    assert next_run(every, T0, at(3600)) == at(3600)
    assert next_run(every, at(3600), at(3600.1)) == at(3602)


def test_cron_next_fire_time_in_local_time() -> None:
    nightly = make_schedule(cron="0 2 * * *")
    last = dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC).astimezone()  # as the host's wall clock sees it
    local_last = last.replace(hour=2, minute=0)
    due = next_run(nightly, local_last, local_last + dt.timedelta(hours=1))
    assert due is not None and due.astimezone().hour == 2 and due - local_last == dt.timedelta(days=1)
    assert next_run(nightly, local_last, local_last + dt.timedelta(days=3)) == local_last + dt.timedelta(days=3)


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="not a valid cron"):
        make_schedule(cron="every night")
    with pytest.raises(ValueError, match="not both"):
        make_schedule(cron="* * * * *", every="1m")
    assert make_schedule().on_demand and next_run(make_schedule(), None, T0) is None


def test_timer_never_queues_a_source_twice_and_catches_up_once() -> None:
    src = SourceSettings(name="crm", url="sqlite:///x.db", query="select 1", table="t", every="2s")
    timer = SourceTimer([src])
    timer.start({"crm": at(-3600)}, T0)  # last ran an hour ago: due now, once
    assert timer.due(T0) == [src]
    assert timer.due(at(10)) == []  # queued or running: not again
    timer.done(src, T0, at(0.5))
    assert timer.due(at(1)) == [] and timer.due(at(2)) == [src]


def test_once_runs_each_source_at_most_once() -> None:
    src = SourceSettings(name="crm", url="sqlite:///x.db", query="select 1", table="t", every="2s")
    timer = SourceTimer([src], once=True)
    timer.start({}, T0)
    assert timer.due(T0) == [src]
    timer.done(src, T0, at(1))
    assert timer.due(at(100)) == []


# -- the source SQL ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["postgres", "sqlite", "tsql", "snowflake", "odbc"])
def test_every_source_statement_parses(name: str) -> None:
    d = query_sql.DIALECTS[name]
    q = query_sql.check_query("select id, updated_at from crm.customers where active;")
    statements = [query_sql.table_query(d, "crm.customers"), query_sql.window(d, q, "updated_at", True, True),
                  query_sql.window(d, q, "updated_at", False, True), query_sql.bounds(d, q, "updated_at"),
                  query_sql.empty(d, q),
                  query_sql.window(d, q, None, False, False, query_sql.as_text(d, ["id"], ["id"]))]
    if name == "sqlite":
        statements += query_sql.probe_view(q)
    for sql in statements:
        parsed = sqlglot.parse(sql.replace("$1", "?").replace("$2", "?"), read=d.name)
        assert len(parsed) == 1 and parsed[0] is not None, sql


def test_window_quotes_the_column_and_binds_the_bounds() -> None:
    pg = query_sql.DIALECTS["postgres"]
    sql = query_sql.window(pg, "select * from t", 'odd"name', True, True)
    assert sql == 'SELECT * FROM (select * from t) AS q WHERE q."odd""name" > $1 AND q."odd""name" <= $2'
    assert "[x]]y] <= ?" in query_sql.window(query_sql.DIALECTS["tsql"], "select 1", "x]y", False, True)


def test_queries_that_cannot_be_wrapped_are_refused() -> None:
    with pytest.raises(UsageError, match="single statement"):
        query_sql.check_query("select 1; drop table ref.customers")
    assert query_sql.check_query("select ';' as semi;") == "select ';' as semi"
    with pytest.raises(UsageError, match="not a safe identifier"):
        query_sql.table_query(query_sql.DIALECTS["postgres"], 'crm."x"; drop')


# -- types ---------------------------------------------------------------------------------------------
def test_source_types_map_exactly() -> None:
    def numeric(typmod: int) -> pa.Field:
        from loader.readers.query import UNCONSTRAINED_NUMERIC

        assert UNCONSTRAINED_NUMERIC.kind == "decimal"
        return pa.field("n", pa.string(), metadata={"POSTGRESQL:typmod": str(typmod)})

    assert str(source_type(pa.field("a", pa.int32()))) == "bigint"
    assert str(source_type(pa.field("a", pa.timestamp("us", tz="UTC")))) == "timestamptz"
    assert str(source_type(pa.field("a", pa.decimal128(18, 4)))) == "decimal(18,4)"
    assert str(source_type(pa.field("a", pa.uuid()))) == "text"
    assert str(source_type(pa.field("a", pa.list_(pa.int32())))) == "text"
    assert str(source_type(numeric(-1))) == "text"  # a plain string field stays text
    cases = {"INTEGER": "bigint", "DECIMAL_TEXT(18,4)": "decimal(18,4)", "NUMERIC(10, 2)": "decimal(10,2)",
             "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamptz",
             "REAL": "float", "VARCHAR(20)": "text", "": "text", "BLOB": "text"}
    assert {k: str(sqlite_type(k)) for k in cases} == cases


def test_watermark_round_trips_through_its_json() -> None:
    for typ, value in [("bigint", 42), ("date", dt.date(2026, 1, 2)),
                       ("timestamp", dt.datetime(2026, 1, 2, 3, 4, 5, 6)),
                       ("timestamptz", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))]:
        col = Column("updated_at", ColumnType.parse(typ), "UpdatedAt")
        assert parse_watermark(watermark_json(col, value)) == ("UpdatedAt", ColumnType.parse(typ), value)


# -- requests and config ---------------------------------------------------------------------------------
def test_requests_that_cannot_work_are_refused_before_connecting() -> None:
    base = PullRequest(source="postgresql://u@h/db", table="customers", query="select 1")
    check_request(base)
    bad = [({"query": "", "source_table": ""}, "exactly one"), ({"table": "Bad Name"}, "safe identifier"),
           ({"mode": "upsert"}, "not one of"), ({"lookback": "1h", "incremental": "u"}, "only merge"),
           ({"source": "mysql://h/db"}, "scheme")]
    import dataclasses

    for change, message in bad:
        with pytest.raises(UsageError, match=message):
            check_request(dataclasses.replace(base, **change))


def _toml(tmp_path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "loader.toml"
    path.write_text(text)
    return path


def test_sources_in_config_take_their_url_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _toml(tmp_path, '[[sources]]\nname = "crm"\nurl_env = "CRM_URL"\nsource_table = "crm.customers"\n'
                           'table = "customers"\nmode = "append"\nincremental = "updated_at"\nevery = "15m"\n')
    s = load_settings(str(path), environ={"CRM_URL": "postgresql://u:secret@h/crm"}, dotenv_path=None)
    assert s.sources[0].url == "postgresql://u:secret@h/crm" and s.sources[0].every == "15m"
    with pytest.raises(ConfigError, match="CRM_URL is not set") as e:
        load_settings(str(path), environ={}, dotenv_path=None)
    assert "secret" not in str(e.value)


def test_a_password_written_in_the_config_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _toml(tmp_path, '[[sources]]\nname = "crm"\nurl = "postgresql://u:secret@h/crm"\nquery = "select 1"\n'
                           'table = "t"\n')
    with pytest.raises(ConfigError, match="holds a password") as e:
        load_settings(str(path), environ={}, dotenv_path=None)
    assert "secret" not in str(e.value)


@pytest.mark.parametrize("extra, message", [('schedule = "nightly"', "not a valid cron"),
                                            ('every = "1m"\nschedule = "* * * * *"', "not both"),
                                            ('colour = "red"', "unknown key"), ('mode = "merge"', "key columns|merge")])
def test_bad_sources_name_the_key(tmp_path, extra: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _toml(tmp_path, f'[[sources]]\nname = "crm"\nurl = "sqlite:///x.db"\nquery = "select 1"\ntable = "t"\n'
                           f'{extra}\n')
    with pytest.raises(ConfigError, match=message):
        load_settings(str(path), environ={}, dotenv_path=None)
