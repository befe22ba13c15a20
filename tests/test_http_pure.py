"""The HTTP interface's pure parts: names, addresses, token rules in config, statements, buckets."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot

from loader.config import is_loopback, load_settings, parse_http_address
from loader.errors import ConfigError
from loader.service.http.page import per_minute
from loader.service.http.receive import MAX_NAME_BYTES, name_problem
from loader.targets.sql import mssql, postgres, sqlite

HOSTILE = ["../x.csv", "/etc/passwd", "a/b.csv", "..\\x.csv", "C:\\x.csv", "x\x00.csv", "x\n.csv", "x\r.csv",
           "\x1b[31m.csv", "x\u202e.csv", ".hidden.csv", "..", ".", "x.csv.part", "x.csv.tmp", "~$x.csv",
           "y" * 250 + ".csv", " x.csv", "x.csv "]


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_names_are_refused(name: str) -> None:
    assert name_problem(name) is not None


@pytest.mark.parametrize("name", ["sales.csv", "Umsätze 2024.csv", "a-b_c.tsv", "x" * (MAX_NAME_BYTES - 4) + ".csv"])
def test_plain_names_pass(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize("addr,expected", [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:80", ("::1", 80)),
                                           (":9000", ("0.0.0.0", 9000)), ("localhost:0", ("localhost", 0))])
def test_http_addresses(addr: str, expected: tuple[str, int]) -> None:
    assert parse_http_address(addr) == expected


@pytest.mark.parametrize("addr", ["8080", "host", "1.2.3.4:99999", "[::1]", "a:b"])
def test_bad_http_addresses(addr: str) -> None:
    with pytest.raises(ValueError):
        parse_http_address(addr)


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.9.9.9")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.com")


def test_a_non_loopback_address_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="HTTP_TOKEN"):
        load_settings(environ={"LOADER_SERVICE__HTTP": "0.0.0.0:8080"}, dotenv_path=None)
    s = load_settings(environ={"LOADER_SERVICE__HTTP": "0.0.0.0:8080", "LOADER_SERVICE__HTTP_TOKEN": "t" * 20},
                      dotenv_path=None)
    assert s.service.http == "0.0.0.0:8080"
    assert "t" * 20 not in repr(s), "the token never shows in a repr (logs, tracebacks)"


def test_the_token_is_refused_from_a_config_file_and_when_short(tmp_path: object) -> None:
    from pathlib import Path

    cfg = Path(str(tmp_path)) / "loader.toml"
    cfg.write_text('[service]\nhttp_token = "' + "s" * 20 + '"\n')
    with pytest.raises(ConfigError, match="secret"):
        load_settings(config_path=str(cfg), environ={}, dotenv_path=None)
    with pytest.raises(ConfigError, match="at least"):
        load_settings(environ={"LOADER_SERVICE__HTTP_TOKEN": "short"}, dotenv_path=None)


DIALECTS = [("sqlite", sqlite.TRACKING), ("postgres", postgres.tracking("loader")),
            ("tsql", mssql.tracking("loader"))]


@pytest.mark.parametrize("dialect,sql", DIALECTS, ids=[d for d, _ in DIALECTS])
def test_every_query_statement_parses(dialect: str, sql: object) -> None:
    queries = sql.queries  # type: ignore[attr-defined]
    assert queries is not None
    for statement in queries.all():
        text = statement.replace("%s", "NULL").replace("?", "NULL" if dialect != "tsql" else "1")
        parsed = sqlglot.parse_one(text, read=dialect)
        assert parsed is not None and parsed.key == "select", statement


def test_per_minute_buckets_every_minute_of_the_hour() -> None:
    now = dt.datetime(2026, 1, 1, 12, 30, 15)
    rows = [("2026-01-01 12:30:01.5", 10, 100), (dt.datetime(2026, 1, 1, 12, 29, 59), 5, 50),
            ("2026-01-01 12:29:00", 1, 1), ("2026-01-01 11:00:00", 99, 99)]
    out = per_minute(rows, now)
    assert len(out) == 60 and out[-1]["minute"].startswith("2026-01-01T12:30")
    assert (out[-1]["rows"], out[-1]["files"]) == (10, 1)
    assert (out[-2]["rows"], out[-2]["files"], out[-2]["bytes"]) == (6, 2, 51)
    assert sum(b["rows"] for b in out) == 16, "a load before the window is not counted"


def test_the_unit_waits_for_ready_and_has_a_watchdog() -> None:
    from .test_unit_file import unit

    service = unit()["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"]) >= 30
    assert "--http 127.0.0.1:" in service["ExecStart"]
