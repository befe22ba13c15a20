"""Settings: defaults < conf/loader.toml < .env < LOADER_* environment < command-line flags.

Typed dataclasses, validated once at start. Every error names the key and where the bad
value came from (file path or variable name). Environment keys nest with a double
underscore: LOADER_DATABASE__URL sets [database] url.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from . import lineage, mapping, redact
from .coltypes import Mode
from .errors import ConfigError, LoaderError
from .naming import check_identifier
from .rejects import POLICIES, RAGGED_ROWS, TYPE_MISMATCH, parse_max_rejects
from .route_read import check_read

ENV_PREFIX = "LOADER_"
DEFAULT_CONFIG = Path("conf/loader.toml")
BULK_PATHS = ("auto", "bulkcopy", "bcp", "odbc")


@dataclass
class DatabaseSettings:
    url: str = field(default="sqlite:///data/loader.db", metadata={"doc": "target database URL (secret: use env/.env)"})
    lock_timeout_s: float = field(default=30.0, metadata={"doc": "longest wait for a table lock while publishing"})
    bulk_path: str = field(default="auto", metadata={
        "doc": "SQL Server bulk path: auto (bulkcopy > bcp > odbc, the best available), bulkcopy, bcp or odbc"})
    raw_copy: bool = field(default=True, metadata={
        "doc": "PostgreSQL: COPY the file's own CSV bytes where the server reads them exactly as the loader "
               "(false: always binary COPY from Arrow batches)"})


@dataclass
class LoadSettings:
    backups_keep: int = field(default=3, metadata={"doc": "bkp.<table>_<ts> versions kept per table"})
    table_wait_s: float = field(default=600.0, metadata={"doc": "wait for another load of the same table"})
    block_size: int = field(default=1 << 20, metadata={"doc": "bytes parsed per Arrow batch; bounds memory"})
    sample_rows: int = field(default=5000, metadata={"doc": "rows the detector samples"})
    # PostgreSQL's own limit is 1,600 columns, SQL Server's 1,024 (30,000 sparse); 10,000 refuses a
    # line of 2,000,000 commas (23.8 GB in detection before the cap) while leaving room for any real table
    max_columns: int = field(default=10_000, metadata={"doc": "rows with more fields are refused (exit 65)"})
    sample_bytes: int = field(default=4 << 20, metadata={"doc": "bytes the detector samples"})
    bad_rows: str = field(default="reject_file", metadata={"doc": "reject_file: a bad row fails the file; "
                                                                   "reject_rows: bad rows go to rejects/"})
    max_rejects: str = field(default="0", metadata={"doc": "reject_rows: rows allowed to fail, a count or a ratio"})
    type_mismatch: str = field(default="reject", metadata={"doc": "reject: a value unlike its column is a bad row; "
                                                                  "widen: the column is widened and re-read"})
    allow_empty: bool = field(default=False, metadata={"doc": "a full load of 0 rows may replace the table "
                                                              "with an empty one (default: refused)"})
    ragged_rows: str = field(default="", metadata={"doc": "pad: short rows get NULLs, empty extra fields dropped; "
                                                          "reject: a bad row; empty = pad under reject_rows"})
    rejects_dir: str = field(default="", metadata={"doc": "where <name>.rejects.csv go (default: rejects/ beside "
                                                          "the file)"})
    key: list[str] = field(default_factory=list, metadata={"doc": "merge: the key columns rows are upserted on"})
    duplicate_keys: str = field(default="last", metadata={"doc": "merge: a key repeated in one file: last | first "
                                                                 "row wins, fail refuses the file, reject sets "
                                                                 "its rows aside"})
    delete_missing: bool = field(default=False, metadata={"doc": "merge: rows whose key the file lacks are deleted"})
    lineage: list[str] = field(default_factory=list, metadata={"doc": "columns the loader adds: _load_id, "
                                                                      "_source_file, _loaded_at, _row_number"})
    schema_drift: str = field(default="fail", metadata={"doc": "append/merge, a column the table lacks: fail | "
                                                               "add_columns | ignore | rescue (also values that "
                                                               "do not fit: JSON in _rescued)"})
    missing_columns: str = field(default="null", metadata={"doc": "append/merge, a table column the file lacks: "
                                                                  "null (noted) | fail"})
    widen_types: bool = field(default=False, metadata={"doc": "append/merge: a table column the file needs wider "
                                                              "(bigint -> decimal -> text) is widened in the publish"})


@dataclass
class SchemaSettings:
    ref: str = field(default="ref", metadata={"doc": "schema readers use"})
    bkp: str = field(default="bkp", metadata={"doc": "schema for replaced versions"})
    stage: str = field(default="stage", metadata={"doc": "schema for private staging tables"})
    tracking: str = field(default="loader", metadata={"doc": "schema of the tracking table"})


@dataclass
class ServiceSettings:
    workers: int = field(default=2, metadata={"doc": "files loaded at once, one process each; 1 loads inline"})
    poll_s: float = field(default=2.0, metadata={"doc": "polling scan interval; always on (shares send no events)"})
    stable_s: float = field(default=2.0, metadata={"doc": "size and mtime unchanged this long before a file is picked"})
    events: bool = field(default=True, metadata={"doc": "native file events (watchfiles) on top of polling"})
    memory_mb: int = field(default=0, metadata={"doc": "RSS budget of the whole service; 0 = half the RAM"})
    worker_memory_mb: int = field(default=0, metadata={"doc": "one worker's share; 0 = memory_mb / workers"})
    stop_timeout_s: float = field(default=300.0, metadata={"doc": "on SIGTERM, wait this long for running loads"})
    retry_max: int = field(default=5, metadata={"doc": "attempts for a lock/deadlock error before a file fails"})
    retry_base_s: float = field(default=1.0, metadata={"doc": "first retry delay; doubles each time, with jitter"})
    retry_cap_s: float = field(default=60.0, metadata={"doc": "longest retry delay, also while the database is down"})
    log_format: str = field(default="auto", metadata={"doc": "auto (human on a terminal, else json) | human | json"})
    http: str = field(default="", metadata={"doc": "HOST:PORT of the HTTP interface (uploads, status, metrics); "
                                                    "empty = off"})
    http_token: str = field(default="", repr=False, metadata={
        "doc": "bearer token of the HTTP interface (secret: environment or .env only); needed off loopback"})
    upload_max_bytes: int = field(default=10 << 30, metadata={"doc": "largest upload accepted (413 beyond it)"})
    lease_s: float = field(default=60.0, metadata={"doc": "several hosts (PostgreSQL, SQL Server): a dead host's "
                                                         "files are taken over after this long without heartbeat"})


@dataclass
class RouteSettings:
    """One drop folder: <root>/inbox, processing, archive, failed; how its files become tables."""

    name: str = field(default="default", metadata={"doc": "route name, recorded in the tracking row"})
    root: str = field(default="", metadata={"doc": "folder holding inbox/ processing/ archive/ failed/"})
    patterns: list[str] = field(default_factory=lambda: ["*.csv", "*.tsv", "*.txt", "*.psv"],
                                metadata={"doc": "file name globs picked from inbox/"})
    schema: str = field(default="", metadata={"doc": "target schema; empty = schemas.ref"})
    mode: str = field(default="fullload", metadata={"doc": "fullload | append | merge (a regex group 'mode' wins)"})
    table: str = field(default="", metadata={"doc": "fixed table name; empty = from the file name"})
    table_regex: str = field(default="", metadata={"doc": "regex on the file name; groups table, mode, date"})
    bad_rows: str = field(default="", metadata={"doc": "reject_file | reject_rows; empty = load.bad_rows"})
    max_rejects: str = field(default="", metadata={"doc": "reject_rows: a count or ratio; empty = load.max_rejects"})
    ragged_rows: str = field(default="", metadata={"doc": "pad | reject; empty = load.ragged_rows"})
    allow_empty: bool = field(default=False, metadata={"doc": "a file of 0 rows may empty the table (fullload)"})
    key: list[str] = field(default_factory=list, metadata={"doc": "merge: the key columns; empty = load.key"})
    duplicate_keys: str = field(default="", metadata={"doc": "merge: last | first | fail | reject; "
                                                              "empty = load.duplicate_keys"})
    delete_missing: bool = field(default=False, metadata={"doc": "merge: delete rows whose key the file lacks"})
    lineage: list[str] = field(default_factory=list, metadata={"doc": "lineage columns; empty = load.lineage"})
    schema_drift: str = field(default="", metadata={"doc": "fail | add_columns | ignore | rescue; empty = "
                                                            "load.schema_drift"})
    missing_columns: str = field(default="", metadata={"doc": "null | fail; empty = load.missing_columns"})
    widen_types: bool = field(default=False, metadata={"doc": "widen the table's columns; false = load.widen_types"})
    # what every file of the route is read as (route_read.py); empty = detected
    format: str = field(default="", metadata={"doc": "csv | parquet | json | excel | xml | compressed"})
    encoding: str = field(default="", metadata={"doc": "e.g. cp1252; empty = detected"})
    delimiter: str = field(default="", metadata={"doc": "one character (\\t for tab); empty = detected"})
    quote: str = field(default="", metadata={"doc": "the quote character, or none; empty = detected"})
    header: str = field(default="", metadata={"doc": "true | false; empty = detected"})
    skip_rows: int = field(default=-1, metadata={"doc": "lines above the table (a title, notes); -1 = detected"})
    sheet: str = field(default="", metadata={"doc": "Excel: a sheet name or 0-based index"})
    xml_path: str = field(default="", metadata={"doc": "XML: the repeating element, e.g. orders/order"})
    json_key: str = field(default="", metadata={"doc": "JSON: the key of a document's array of records"})
    member: str = field(default="", metadata={"doc": "zip: the one member to load"})
    types: dict[str, str] = field(default_factory=dict, metadata={"doc": "column = type pins, as --type"})
    # how the file's columns become the table's (mapping.py): header = { name, type, format, null, trim, value }
    columns: dict[str, Any] = field(default_factory=dict, metadata={
        "doc": "per column: target name, type, format, NULL markers, trim, or a value from the file name"})
    unknown_columns: str = field(default="keep", metadata={"doc": "a column `columns` does not name: keep | drop "
                                                                  "| fail"})


@dataclass
class SourceSettings:
    """One database source copied into a table on a schedule (`[[sources]]`; loader/sources.py)."""

    name: str = field(default="", metadata={"doc": "source name: the tracking rows' route, `pull --source-name`"})
    url_env: str = field(default="", metadata={"doc": "environment / .env variable holding the source URL"})
    url: str = field(default="", metadata={"doc": "the source URL (from url_env; in TOML only without a password)"})
    query: str = field(default="", metadata={"doc": "a single SELECT to copy; or"})
    source_table: str = field(default="", metadata={"doc": "schema.name of a source table copied whole"})
    table: str = field(default="", metadata={"doc": "target table (in schema, default schemas.ref)"})
    schema: str = field(default="", metadata={"doc": "target schema; empty = schemas.ref"})
    mode: str = field(default="fullload", metadata={"doc": "fullload | append | merge"})
    key: list[str] = field(default_factory=list, metadata={"doc": "merge: the key columns"})
    incremental: str = field(default="", metadata={"doc": "watermark column: read only rows above the last one"})
    lookback: str = field(default="", metadata={"doc": "merge: re-read this far below the watermark (1h, 1000)"})
    schedule: str = field(default="", metadata={"doc": "cron expression in host local time, e.g. '0 2 * * *'"})
    every: str = field(default="", metadata={"doc": "or an interval: 30s, 15m, 1h"})


@dataclass
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    load: LoadSettings = field(default_factory=LoadSettings)
    schemas: SchemaSettings = field(default_factory=SchemaSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    routes: list[RouteSettings] = field(default_factory=list)
    sources: list[SourceSettings] = field(default_factory=list)
    source: str = "defaults"  # where the settings came from, for messages
    origins: dict[str, str] = field(default_factory=dict)  # "load.backups_keep" -> file, variable or flag


def load_settings(config_path: str | None = None, flags: dict[str, Any] | None = None,
                  environ: dict[str, str] | None = None, dotenv_path: str | None = ".env") -> Settings:
    """Build Settings from every source in precedence order; raise ConfigError naming the key."""
    settings = Settings()
    env = dict(dotenv_values(dotenv_path)) if dotenv_path and Path(dotenv_path).exists() else {}
    env.update(os.environ if environ is None else environ)
    path = Path(config_path) if config_path else Path(env.get("LOADER_CONFIG") or DEFAULT_CONFIG)
    if config_path or path.exists():
        _apply(settings, _read_toml(path), str(path))
        settings.source = str(path)
    for section, key, value, name in _env_values(env):
        _apply(settings, {section: {key: value}}, name)
    for dotted, value in (flags or {}).items():
        if value is not None:
            section, _, name = dotted.partition(".")
            _apply(settings, {section: {name: value}}, f"--{name.replace('_', '-')}")
    _validate(settings, env)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None


def _env_values(env: dict[str, str | None]) -> list[tuple[str, str, str, str]]:
    """(section, key, value, variable name) for each LOADER_SECTION__KEY variable."""
    out = []
    for name, value in sorted(env.items()):
        m = re.fullmatch(rf"{ENV_PREFIX}([A-Za-z0-9]+)__([A-Za-z0-9_]+)", name)
        if m and value is not None:
            out.append((m.group(1).lower(), m.group(2).lower(), value, name))
    return out


def _apply(settings: Settings, data: dict[str, Any], source: str) -> None:
    sections = {f.name for f in dataclasses.fields(settings) if f.name not in ("source", "origins")}
    for section, values in data.items():
        if section == "sources":
            settings.sources = _sources(values, source)
            settings.origins["sources"] = source
            continue
        if section == "routes":
            settings.routes = _routes(values, source)
            settings.origins["routes"] = source
            continue
        if section not in sections:
            raise ConfigError(f"{source}: unknown section [{section}]; expected one of {sorted(sections)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table of keys")
        target = getattr(settings, section)
        known = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"{source}: unknown key {section}.{key}; expected one of {sorted(known)}")
            setattr(target, key, _coerce(value, known[key].type, f"{section}.{key}", source))
            settings.origins[f"{section}.{key}"] = source


def parse_routes(values: Any, source: str) -> list[RouteSettings]:
    """Route tables as read from TOML (a `--route FILE.toml` too), each key checked."""
    return _routes(values, source)


def _routes(values: Any, source: str) -> list[RouteSettings]:
    """[[routes]] tables in TOML; each key checked like any other section's."""
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise ConfigError(f"{source}: routes must be written as [[routes]] tables")
    known = {f.name: f for f in dataclasses.fields(RouteSettings)}
    routes = []
    for i, table in enumerate(values, start=1):
        route = RouteSettings(name=str(table.get("name", f"route{i}")))
        for key, value in table.items():
            where = f"routes[{i}].{key}"
            if key not in known:
                raise ConfigError(f"{source}: unknown key {where}; expected one of {sorted(known)}")
            if key == "patterns":
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{source}: {where} must be a non-empty list of globs, got {value!r}")
                route.patterns = value
            elif key == "columns":
                if not isinstance(value, dict):
                    raise ConfigError(f"{source}: {where} must be a table: [routes.columns] \"header\" = {{ ... }}")
                route.columns = dict(value)
            elif key == "types":
                if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                    raise ConfigError(f"{source}: {where} must be a table of column = \"type\", got {value!r}")
                route.types = {str(k): v for k, v in value.items()}
            else:
                setattr(route, key, _coerce(value, known[key].type, where, source))
        routes.append(route)
    return routes


def _sources(values: Any, source: str) -> list[SourceSettings]:
    """[[sources]] tables in TOML; each key checked like any other section's."""
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise ConfigError(f"{source}: sources must be written as [[sources]] tables")
    known = {f.name: f for f in dataclasses.fields(SourceSettings)}
    out = []
    for i, table in enumerate(values, start=1):
        src = SourceSettings(name=str(table.get("name", f"source{i}")))
        for key, value in table.items():
            where = f"sources[{i}].{key}"
            if key not in known:
                raise ConfigError(f"{source}: unknown key {where}; expected one of {sorted(known)}")
            if key == "key":
                value = [value] if isinstance(value, str) else value
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{source}: {where} must be a column name or a list of them")
                src.key = value
            else:
                setattr(src, key, _coerce(value, known[key].type, where, source))
        out.append(src)
    return out


def _coerce(value: Any, typ: Any, key: str, source: str) -> Any:
    kind = typ if isinstance(typ, str) else getattr(typ, "__name__", str(typ))
    try:
        if kind == "int":
            if isinstance(value, bool | float):
                raise ValueError  # int(2.7) would silently become 2
            return int(value)
        if kind == "float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind == "bool":
            if isinstance(value, bool):
                return value
            return {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}[str(value).lower()]
        if kind == "list[str]":  # a TOML array, or "a,b" from the environment
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list):
                raise ValueError
            return [str(v).strip() for v in items if str(v).strip()]
        return str(value)
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{source}: {key} must be {kind}, got {value!r}") from None


def _validate(s: Settings, env: dict[str, str | None] | None = None) -> None:
    def fail(key: str, problem: str) -> None:
        raise ConfigError(f"{s.origins.get(key, 'defaults')}: {key} {problem}")

    if s.load.backups_keep < 0:
        fail("load.backups_keep", f"must be >= 0, got {s.load.backups_keep}")
    if s.load.block_size < 64 * 1024:
        fail("load.block_size", f"must be at least 65536 bytes, got {s.load.block_size}")
    if s.load.sample_rows < 1:
        fail("load.sample_rows", "must be >= 1")
    if s.load.max_columns < 1:
        fail("load.max_columns", "must be >= 1")
    if s.load.sample_bytes < 1024:
        fail("load.sample_bytes", "must be >= 1024")
    for key in ("load.table_wait_s", "database.lock_timeout_s"):
        section, name = key.split(".")
        if getattr(getattr(s, section), name) < 0:
            fail(key, "must be >= 0")
    if s.database.bulk_path not in BULK_PATHS:
        fail("database.bulk_path", f"must be one of {', '.join(BULK_PATHS)}, got {s.database.bulk_path!r}")
    if not s.database.url:
        fail("database.url", "is empty")
    check_url(s.database.url, s.origins.get("database.url", "defaults"))
    if s.load.bad_rows not in POLICIES:
        fail("load.bad_rows", f"must be one of {', '.join(POLICIES)}, got {s.load.bad_rows!r}")
    if s.load.ragged_rows not in ("", *RAGGED_ROWS):
        fail("load.ragged_rows", f"must be one of {', '.join(RAGGED_ROWS)}, got {s.load.ragged_rows!r}")
    if s.load.type_mismatch not in TYPE_MISMATCH:
        fail("load.type_mismatch", f"must be one of {', '.join(TYPE_MISMATCH)}, got {s.load.type_mismatch!r}")
    parse_max_rejects(s.load.max_rejects, f"{s.origins.get('load.max_rejects', 'defaults')}: load.max_rejects")
    check_merge(s.load.key, s.load.duplicate_keys, f"{s.origins.get('load.key', 'defaults')}: load.key")
    lineage.check(s.load.lineage, f"{s.origins.get('load.lineage', 'defaults')}: load.lineage")
    for key, choices in (("schema_drift", SCHEMA_DRIFT), ("missing_columns", ("null", "fail"))):
        if getattr(s.load, key) not in choices:
            fail(f"load.{key}", f"must be one of {', '.join(choices)}, got {getattr(s.load, key)!r}")
    _validate_service(s, fail)
    _validate_routes(s)
    _validate_sources(s, env or {})
    for f in dataclasses.fields(s.schemas):
        try:
            check_identifier(getattr(s.schemas, f.name), f"schemas.{f.name}")
        except LoaderError as e:
            raise ConfigError(f"{s.origins.get('schemas.' + f.name, 'defaults')}: {e}") from None


def _validate_service(s: Settings, fail: Any) -> None:
    v = s.service
    if v.workers < 1:
        fail("service.workers", f"must be >= 1, got {v.workers}")
    if v.poll_s <= 0:
        fail("service.poll_s", "must be > 0")
    for key in ("stable_s", "stop_timeout_s", "retry_base_s", "retry_cap_s"):
        if getattr(v, key) < 0:
            fail(f"service.{key}", "must be >= 0")
    for key in ("memory_mb", "worker_memory_mb", "retry_max"):
        if getattr(v, key) < 0:
            fail(f"service.{key}", "must be >= 0")
    if v.log_format not in ("auto", "human", "json"):
        fail("service.log_format", f"must be auto, human or json, got {v.log_format!r}")
    _validate_http(s, fail)


HTTP_TOKEN_MIN = 16  # characters: a guessable token on a network port is no protection


def _validate_http(s: Settings, fail: Any) -> None:
    """The token is a secret (never from a TOML file); a non-loopback address needs one."""
    v = s.service
    origin = s.origins.get("service.http_token", "")
    if v.http_token and origin.endswith(".toml"):
        fail("service.http_token", "is a secret: set LOADER_SERVICE__HTTP_TOKEN in the environment or .env, "
                                   "not in a configuration file")
    if v.http_token and len(v.http_token) < HTTP_TOKEN_MIN:
        fail("service.http_token", f"must be at least {HTTP_TOKEN_MIN} characters")
    if v.upload_max_bytes < 1:
        fail("service.upload_max_bytes", "must be >= 1")
    if not v.http:
        return
    try:
        host, _ = parse_http_address(v.http)
    except ValueError as e:
        fail("service.http", str(e))
        return
    if not v.http_token and not is_loopback(host):
        fail("service.http", f"{v.http!r} is not a loopback address: set LOADER_SERVICE__HTTP_TOKEN "
                             "(a bearer token) to listen there, or use 127.0.0.1")


def parse_http_address(addr: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT or :PORT (all interfaces); ValueError saying what is wrong."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]]*):(\d+)", addr.strip())
    if not m:
        raise ValueError(f"must be HOST:PORT (e.g. 127.0.0.1:8080), got {addr!r}")
    host = m.group(1) if m.group(1) is not None else (m.group(3) or "0.0.0.0")
    port = int(m.group(2) or m.group(4))
    if port > 65535:
        raise ValueError(f"port {port} is out of range")
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost could resolve anywhere


def _validate_routes(s: Settings) -> None:
    source = s.origins.get("routes", "defaults")
    names: set[str] = set()
    for i, route in enumerate(s.routes, start=1):
        try:
            check_route(route)
        except LoaderError as e:
            raise ConfigError(f"{source}: routes[{i}] ({route.name}): {e.reason}") from None
        if route.name in names:
            raise ConfigError(f"{source}: routes[{i}].name {route.name!r} is used twice")
        names.add(route.name)


def _validate_sources(s: Settings, env: dict[str, str | None]) -> None:
    """Each source checked once at start; its URL taken from url_env. The message never holds a URL."""
    from .sources import check_source

    origin = s.origins.get("sources", "defaults")
    names: set[str] = set()
    for i, src in enumerate(s.sources, start=1):
        if src.url_env:
            value = env.get(src.url_env)
            if not value:
                raise ConfigError(f"{origin}: sources[{i}] ({src.name}): url_env {src.url_env} is not set in the "
                                  "environment or .env")
            src.url = value
        elif re.search(r"(?i)://[^/@]*:[^/@]+@|pwd=", src.url):
            raise ConfigError(f"{origin}: sources[{i}] ({src.name}): the url holds a password; put it in the "
                              "environment or .env and name the variable with url_env")
        try:
            check_source(src)
        except LoaderError as e:
            raise ConfigError(f"{origin}: sources[{i}] ({src.name}): {e.reason}") from None
        if src.name in names:
            raise ConfigError(f"{origin}: sources[{i}].name {src.name!r} is used twice")
        names.add(src.name)


# route keys that override load.*
ROUTE_LOAD_KEYS = ("bad_rows", "max_rejects", "ragged_rows", "allow_empty", "key", "duplicate_keys",
                   "delete_missing", "lineage", "schema_drift", "missing_columns", "widen_types")


def route_load(route: RouteSettings) -> dict[str, Any]:
    """The load.* settings a route overrides (its non-empty keys of ROUTE_LOAD_KEYS)."""
    return {key: getattr(route, key) for key in ROUTE_LOAD_KEYS if getattr(route, key)}


DUPLICATE_KEYS = ("last", "first", "fail", "reject")  # merge: a key the file repeats
SCHEMA_DRIFT = ("fail", "add_columns", "ignore", "rescue")  # what a column the table lacks does (plan.py)


def check_merge(keys: list[str], duplicate_keys: str, origin: str) -> None:
    """Merge keys are identifiers (quoted later, but a typo is better refused at start)."""
    for key in keys:
        try:
            check_identifier(key, "merge key")
        except LoaderError as e:
            raise ConfigError(f"{origin}: {e}") from None
    if duplicate_keys not in DUPLICATE_KEYS:
        raise ConfigError(f"duplicate_keys {duplicate_keys!r} is not one of {', '.join(DUPLICATE_KEYS)}")


def check_route(route: RouteSettings) -> None:
    """Validate once at start; raises ConfigError with the offending key.

    It lives here, not in routes.py, because settings validate their routes as they load and
    routes.py reads settings: the dependency goes one way.
    """
    if not route.root:
        raise ConfigError("root is missing: the folder holding inbox/")
    if route.mode not in tuple(Mode):
        raise ConfigError(f"mode {route.mode!r} is not one of {', '.join(Mode)}")
    check_merge(route.key, route.duplicate_keys or "last", "key")
    lineage.check(route.lineage, "lineage")
    for key, choices in (("schema_drift", SCHEMA_DRIFT), ("missing_columns", ("null", "fail"))):
        if getattr(route, key) not in ("", *choices):
            raise ConfigError(f"{key} {getattr(route, key)!r} is not one of {', '.join(choices)}")
    if route.bad_rows and route.bad_rows not in POLICIES:
        raise ConfigError(f"bad_rows {route.bad_rows!r} is not one of {', '.join(POLICIES)}")
    check_read(route)
    if route.ragged_rows and route.ragged_rows not in RAGGED_ROWS:
        raise ConfigError(f"ragged_rows {route.ragged_rows!r} is not one of {', '.join(RAGGED_ROWS)}")
    if route.max_rejects:
        try:
            parse_max_rejects(route.max_rejects, "max_rejects")
        except LoaderError as e:
            raise ConfigError(e.reason) from None
    for key in ("schema", "table"):
        value = getattr(route, key)
        if value:
            try:
                check_identifier(value, key)
            except Exception as e:
                raise ConfigError(str(e)) from None
    if route.table_regex:
        try:
            rx = re.compile(route.table_regex)
        except re.error as e:
            raise ConfigError(f"table_regex {route.table_regex!r} is not a valid regex: {e}") from None
        unused = set(rx.groupindex) - {"table", "mode", "date"} - _value_fields(route)
        if unused:
            raise ConfigError(f"table_regex: named groups {sorted(unused)} are used nowhere: table, mode and date "
                              "name the table, mode and date; others fill a column's value (columns.X.value)")
    route_mapping(route)


def route_mapping(route: RouteSettings) -> mapping.Mapping:
    """The route's columns (and types) as the load applies them; ConfigError naming the entry."""
    return mapping.parse(route.columns, route.types, route.unknown_columns, route.table_regex, "columns")


def _value_fields(route: RouteSettings) -> set[str]:
    return {f for c in route.columns.values() if isinstance(c, dict) and isinstance(c.get("value"), str)
            for f in mapping.template_fields(c["value"])}


def redact_url(url: str) -> str:
    """Passwords never reach logs: the URL rebuilt from its parsed parts (loader.redact), passwords as ***."""
    return redact.redact_url(url)


# URL schemes whose form is scheme://…; anything else after them is a typo that may hold a password
_URL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+pyodbc", "mssql", "mssql+pyodbc")


def check_url(url: str, origin: str) -> None:
    """A mistyped URL (postgresql:user:pw@host/db) is refused here, before a driver quotes it in an error."""
    scheme, sep, rest = url.partition(":")
    if scheme.lower() == "sqlite" and sep and not rest.startswith("///"):
        raise ConfigError(f"{origin}: database.url {redact_url(url)!r} is not a SQLite URL: write "
                          "sqlite:///relative/path.db or sqlite:////absolute/path.db (three slashes, then the path)")
    if sep and scheme.lower() in _URL_SCHEMES and not rest.startswith("//"):
        raise ConfigError(f"{origin}: database.url {redact_url(url)!r} is not a URL of the form "
                          f"{scheme}://user:password@host:port/database (the '//' is missing)")
