"""Settings precedence, errors that name key and source, and password redaction."""

from __future__ import annotations

import pytest

from loader.config import load_settings, redact_url
from loader.errors import ConfigError

TOML = """
[database]
url = "sqlite:///toml.db"
[load]
backups_keep = 5
table_wait_s = 10
"""


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def load(tmp_path, toml=TOML, dotenv=None, environ=None, flags=None):
    """Settings from explicit sources only: the real environment and cwd never leak in."""
    config = write(tmp_path / "loader.toml", toml) if toml is not None else None
    dotenv_path = write(tmp_path / ".env", dotenv) if dotenv is not None else None
    return load_settings(config, flags=flags, environ=environ or {}, dotenv_path=dotenv_path)


# -- precedence ----------------------------------------------------------------------------

def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no conf/loader.toml here
    monkeypatch.delenv("LOADER_CONFIG", raising=False)
    s = load_settings(environ={}, dotenv_path=None)
    assert s.database.url == "sqlite:///data/loader.db"
    assert s.load.backups_keep == 3
    assert s.schemas.ref == "ref"
    assert s.source == "defaults"


def test_toml_beats_defaults(tmp_path):
    s = load(tmp_path)
    assert (s.database.url, s.load.backups_keep, s.load.table_wait_s) == ("sqlite:///toml.db", 5, 10.0)
    assert s.load.block_size == 1 << 20  # untouched keys keep their defaults
    assert s.source.endswith("loader.toml")


def test_dotenv_beats_toml(tmp_path):
    s = load(tmp_path, dotenv="LOADER_DATABASE__URL=sqlite:///dotenv.db\nLOADER_LOAD__BACKUPS_KEEP=6\n")
    assert (s.database.url, s.load.backups_keep, s.load.table_wait_s) == ("sqlite:///dotenv.db", 6, 10.0)


def test_environment_beats_dotenv(tmp_path):
    s = load(tmp_path, dotenv="LOADER_DATABASE__URL=sqlite:///dotenv.db\nLOADER_LOAD__BACKUPS_KEEP=6\n",
             environ={"LOADER_DATABASE__URL": "sqlite:///env.db", "LOADER_LOAD__BACKUPS_KEEP": "7"})
    assert (s.database.url, s.load.backups_keep, s.load.table_wait_s) == ("sqlite:///env.db", 7, 10.0)
    assert isinstance(s.load.backups_keep, int)


def test_flags_beat_environment(tmp_path):
    s = load(tmp_path, dotenv="LOADER_DATABASE__URL=sqlite:///dotenv.db\n",
             environ={"LOADER_DATABASE__URL": "sqlite:///env.db", "LOADER_LOAD__BACKUPS_KEEP": "7"},
             flags={"database.url": "sqlite:///flag.db", "load.backups_keep": 1, "load.table_wait_s": None})
    assert (s.database.url, s.load.backups_keep, s.load.table_wait_s) == ("sqlite:///flag.db", 1, 10.0)


def test_unrelated_environment_variables_ignored(tmp_path):
    s = load(tmp_path, environ={"PATH": "/bin", "LOADER_X": "1", "OTHER_LOAD__BACKUPS_KEEP": "9"})
    assert s.load.backups_keep == 5


# -- errors name the key and the source ----------------------------------------------------

@pytest.mark.parametrize("toml, expected", [
    ('[load]\nbackups_keep = "many"\n', ["load.backups_keep", "'many'"]),
    ("[load]\nbackups_keep = true\n", ["load.backups_keep", "True"]),
    ("[load]\nbackups_kep = 3\n", ["load.backups_kep"]),
    ("[lod]\nbackups_keep = 3\n", ["[lod]"]),
    ('database = "x"\n', ["[database]"]),
    ("[load\nbackups_keep = 3\n", ["not valid TOML", "line 1"]),
    ("[load]\nbackups_keep = -1\n", ["load.backups_keep", "-1"]),
])
def test_toml_error_names_key_and_file(tmp_path, toml, expected):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, toml=toml)
    message = str(e.value)
    assert str(tmp_path / "loader.toml") in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize("environ, expected", [
    ({"LOADER_LOAD__BACKUPS_KEEP": "many"}, ["LOADER_LOAD__BACKUPS_KEEP", "load.backups_keep", "'many'"]),
    ({"LOADER_LOAD__BACKUPS_KEEP": "2.5"}, ["LOADER_LOAD__BACKUPS_KEEP", "load.backups_keep"]),
    ({"LOADER_LOAD__NOPE": "1"}, ["LOADER_LOAD__NOPE", "load.nope"]),
    ({"LOADER_NOPE__X": "1"}, ["LOADER_NOPE__X", "[nope]"]),
])
def test_environment_error_names_key_and_variable(tmp_path, environ, expected):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, environ=environ)
    for part in expected:
        assert part in str(e.value)


def test_dotenv_error_names_key_and_variable(tmp_path):
    with pytest.raises(ConfigError, match=r"LOADER_LOAD__BACKUPS_KEEP: load\.backups_keep must be int"):
        load(tmp_path, dotenv="LOADER_LOAD__BACKUPS_KEEP=many\n")


def test_flag_error_names_key_and_flag(tmp_path):
    with pytest.raises(ConfigError, match=r"--backups-keep: load\.backups_keep must be int, got 'many'"):
        load(tmp_path, flags={"load.backups_keep": "many"})


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="does not exist") as e:
        load_settings(str(missing), environ={}, dotenv_path=None)
    assert str(missing) in str(e.value)


def test_toml_float_for_int_key_refused(tmp_path):
    with pytest.raises(ConfigError, match="load.backups_keep"):
        load(tmp_path, toml="[load]\nbackups_keep = 2.7\n")


@pytest.mark.parametrize("environ, flags, source", [
    ({"LOADER_LOAD__BACKUPS_KEEP": "-1"}, None, "LOADER_LOAD__BACKUPS_KEEP"),
    ({}, {"load.block_size": 10}, "--block-size"),
])
def test_range_error_names_the_real_source(tmp_path, environ, flags, source):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, environ=environ, flags=flags)
    assert source in str(e.value)
    assert "loader.toml" not in str(e.value)


def test_bad_schema_name_error_names_source(tmp_path):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, environ={"LOADER_SCHEMAS__REF": "Ref Data"})
    assert "schemas.ref" in str(e.value)
    assert "LOADER_SCHEMAS__REF" in str(e.value)


def test_loader_config_taken_from_given_environ(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOADER_CONFIG", raising=False)
    config = write(tmp_path / "other.toml", "[load]\nbackups_keep = 9\n")
    s = load_settings(environ={"LOADER_CONFIG": config}, dotenv_path=None)
    assert s.load.backups_keep == 9


# -- redaction -----------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("postgresql://bob:s3cret@db:5432/x", "postgresql://bob:***@db:5432/x"),
    ("postgresql://bob:p%40ss@db/x", "postgresql://bob:***@db/x"),
    ("postgresql://:s3cret@db/x", "postgresql://:***@db/x"),
    ("mssql+pyodbc://sa:s3cret@host/db?driver=ODBC+Driver+18", "mssql+pyodbc://sa:***@host/db?driver=ODBC+Driver+18"),
    ("postgresql://bob@db/x", "postgresql://bob@db/x"),
    ("sqlite:///data/loader.db", "sqlite:///data/loader.db"),
    ("Driver={ODBC Driver 18};Server=x;UID=sa;PWD=hunter2;Database=d",
     "Driver={ODBC Driver 18};Server=x;UID=sa;PWD=***;Database=d"),
    ("DRIVER=x;Password=hunter2;", "DRIVER=x;Password=***;"),
    ("driver=x;uid=sa;pwd=hunter2", "driver=x;uid=sa;pwd=***"),
])
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_password_in_query_string():
    assert "s3cret" not in redact_url("postgresql://db/x?user=bob&password=s3cret")


def test_redact_password_containing_at_sign():
    assert redact_url("mssql+pyodbc://sa:p@ss:w0rd@host/db") == "mssql+pyodbc://sa:***@host/db"


def test_redact_braced_odbc_password():
    assert redact_url("Driver=x;UID=sa;PWD={hun;ter2};Database=d") == "Driver=x;UID=sa;PWD=***;Database=d"
