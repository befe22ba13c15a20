"""A route's column mapping: how a feed's columns become its table's, written once in the config.

```toml
[[routes]]
name = "sales"
root = "/srv/drop/sales"
table_regex = '^sales_(?P<region>[a-z]+)_(?P<date>\\d{8})\\.csv$'
unknown_columns = "keep"          # a column the mapping does not name: keep | drop | fail

[routes.columns]
"Kunden-Nr" = { name = "customer_id", type = "bigint" }
Betrag = { type = "decimal(18,2)", format = "decimal_comma", null = ["-", "n/a"], trim = true }
Datum = { type = "date", format = "%d.%m.%Y" }
region = { value = "{region}" }            # not in the file: the file name's regex group
as_of = { value = "{date}", type = "date", format = "%Y%m%d" }
status = "text"                            # a plain string is the type
```

Each entry is keyed by the column's header as written in the file (or its safe name). The
mapping is applied to the reader's detection before the load is planned, for every format
alike: a rename changes the column's name, not its position, so every reader still finds its
values; a type or format becomes the column's type and locale format (convert.py applies them,
bad values become rejects with their line as always); NULL markers and trimming travel on the
column too. `value` columns are not read: the value (a constant, or `{group}` taken from the
file name through the route's `table_regex`, `{date}` and `{file_name}` always there) is
appended to every batch. Pure: no file, no database.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping as Map
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .coltypes import Column, ColumnType
from .errors import BadInputError, ConfigError, LoaderError, Where
from .naming import check_identifier

if TYPE_CHECKING:
    import pyarrow as pa

UNKNOWN = ("keep", "drop", "fail")  # what a column the mapping does not name does
NUMBER_FORMATS = ("decimal_comma", "thousands_comma")  # 1.234,5 and 1,234.5 (convert.py)
_KEYS = ("name", "type", "format", "null", "trim", "value")


@dataclass(frozen=True)
class ColumnMap:
    """One `[routes.columns]` entry."""

    source: str  # the header as written in the file, or its safe name
    name: str = ""  # the table's column name; empty = the reader's safe name
    type: str = ""  # empty = detected
    format: str = ""  # a strptime format (%d.%m.%Y) or decimal_comma / thousands_comma
    nulls: tuple[str, ...] = ()
    trim: bool = False
    value: str | None = None  # not read from the file: a constant or a {group} template

    @property
    def target(self) -> str:
        return self.name or self.source


@dataclass(frozen=True)
class Mapping:
    columns: tuple[ColumnMap, ...] = ()
    unknown: str = "keep"
    name_regex: str = ""  # the route's table_regex: its named groups fill `value` templates

    def __bool__(self) -> bool:
        return bool(self.columns) or self.unknown != "keep"

    @property
    def read(self) -> tuple[ColumnMap, ...]:
        return tuple(c for c in self.columns if c.value is None)

    @property
    def fixed(self) -> tuple[ColumnMap, ...]:
        return tuple(c for c in self.columns if c.value is not None)


@dataclass(frozen=True)
class Mapped:
    """The detection's columns after the mapping, and what the load adds or leaves out."""

    columns: list[Column]
    dropped: tuple[str, ...] = ()  # read (positions matter to some readers) but never published
    fixed: tuple[tuple[Column, str], ...] = ()  # value columns and their text, per file
    notes: list[str] = field(default_factory=list)


# -- from the config -------------------------------------------------------------------------------
def parse(columns: Any, types: Map[str, str] | None = None, unknown: str = "", name_regex: str = "",
          where: str = "columns") -> Mapping:
    """`[routes.columns]` (and the older `types` table, type pins only) as a Mapping; ConfigError
    naming the key for anything that does not mean something."""
    if not isinstance(columns, dict):
        raise ConfigError(f"{where} must be a table of \"header\" = {{ name, type, format, null, trim, value }}")
    maps = [_entry(str(k), v, f"{where}.{k}") for k, v in columns.items()]
    named = {m.source for m in maps}
    maps += [ColumnMap(str(k), type=str(v)) for k, v in (types or {}).items() if str(k) not in named]
    mapping = Mapping(tuple(maps), unknown or "keep", name_regex)
    check(mapping, where)
    return mapping


def _entry(source: str, value: Any, where: str) -> ColumnMap:
    if isinstance(value, str):
        return ColumnMap(source, type=value)
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a type (\"bigint\") or a table {{ name, type, format, null, trim, "
                          f"value }}, got {value!r}")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected {', '.join(_KEYS)}")
    nulls = value.get("null", [])
    nulls = [nulls] if isinstance(nulls, str) else nulls
    if not isinstance(nulls, list) or not all(isinstance(n, str) for n in nulls):
        raise ConfigError(f"{where}.null must be a list of strings, got {nulls!r}")
    if not isinstance(value.get("trim", False), bool):
        raise ConfigError(f"{where}.trim must be true or false")
    fixed = value.get("value")
    return ColumnMap(source, name=str(value.get("name", "")), type=str(value.get("type", "")),
                     format=str(value.get("format", "")), nulls=tuple(nulls), trim=value.get("trim", False),
                     value=None if fixed is None else str(fixed))


def check(mapping: Mapping, where: str = "columns") -> None:
    if mapping.unknown not in UNKNOWN:
        raise ConfigError(f"unknown_columns {mapping.unknown!r} is not one of {', '.join(UNKNOWN)}")
    groups = set(re.compile(mapping.name_regex).groupindex) if mapping.name_regex else set()
    targets: set[str] = set()
    for c in mapping.columns:
        at = f"{where}.{c.source}"
        try:
            if c.name or c.value is not None:
                check_identifier(c.target, "column name")
            if c.type:
                ColumnType.parse(c.type)
        except (ValueError, LoaderError) as e:
            raise ConfigError(f"{at}: {e}") from None
        _check_format(c, at)
        if c.value is not None:
            missing = sorted(set(template_fields(c.value)) - groups - {"date", "file_name"})
            if missing:
                raise ConfigError(f"{at}.value {c.value!r} names {missing}: not a named group of table_regex "
                                  f"{mapping.name_regex!r} (nor date or file_name)")
        if c.target in targets:
            raise ConfigError(f"{at}: two columns are mapped to {c.target!r}")
        targets.add(c.target)


def _check_format(c: ColumnMap, at: str) -> None:
    if not c.format:
        return
    kind = ColumnType.parse(c.type).kind if c.type else ""
    if c.format in NUMBER_FORMATS:
        if kind not in ("bigint", "decimal", "float"):
            raise ConfigError(f"{at}.format {c.format!r} needs a number type (type = \"decimal(18,2)\")")
    elif "%" not in c.format or kind not in ("date", "timestamp", "timestamptz"):
        raise ConfigError(f"{at}.format {c.format!r}: a date format (%d.%m.%Y) with a date or timestamp type, "
                          f"or one of {', '.join(NUMBER_FORMATS)} with a number type")


def template_fields(template: str) -> list[str]:
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError as e:
        raise ConfigError(f"value {template!r}: {e}") from None


# -- one file --------------------------------------------------------------------------------------
def apply(columns: list[Column], mapping: Mapping, file_name: str, fields: Map[str, str]) -> Mapped:
    """The mapping over one file's detected columns; BadInputError when the file cannot follow it
    (a column the mapping refuses, two columns renamed to one name)."""
    by_key = {c.source: c for c in mapping.read}
    out, used, notes, dropped = [], set(), [], []
    for col in columns:
        spec = by_key.get(col.source_name) or by_key.get(col.name)
        if spec is None:
            out.append(col)
            if mapping.unknown == "drop":
                dropped.append(col.name)
            continue
        used.add(spec.source)
        out.append(_mapped(col, spec))
        if out[-1].name != col.name:
            notes.append(f"column {col.source_name or col.name!r} loaded as {out[-1].name!r}")
    unknown = [c.source_name or c.name for c, o in zip(columns, out) if c is o]
    if unknown and mapping.unknown == "fail":
        raise BadInputError(f"{file_name}: column(s) {unknown} are not in the route's columns "
                            f"({[c.source for c in mapping.read]}); nothing loaded (unknown_columns = \"fail\")")
    if dropped:
        notes.append(f"columns {unknown} not loaded (unknown_columns = \"drop\")")
    absent = [c.source for c in mapping.read if c.source not in used]
    if absent:
        notes.append(f"the route's column(s) {absent} are not in the file")
    fixed = tuple((Column(c.target, ColumnType.parse(c.type or "text"), parse=c.format or None),
                   render(c.value or "", fields, file_name)) for c in mapping.fixed)
    names = [c.name for c in out] + [c.name for c, _ in fixed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInputError(f"{file_name}: the mapping gives two columns the name(s) {twice}; nothing loaded")
    return Mapped(out, tuple(dropped), fixed, notes)


def _mapped(col: Column, spec: ColumnMap) -> Column:
    typ = ColumnType.parse(spec.type) if spec.type else col.type
    parse_as = spec.format or (None if spec.type else col.parse)
    return replace(col, name=spec.name or col.name, type=typ, parse=parse_as, nulls=spec.nulls, trim=spec.trim)


_DATE = re.compile(r"(?<!\d)\d{4}-?\d{2}-?\d{2}(?!\d)")  # as routes.parse_date finds a file's date


def file_fields(file_name: str, name_regex: str) -> dict[str, str]:
    """What a `value` template may name: the regex's groups on the file name, its date (the group
    `date`, else the first yyyymmdd or yyyy-mm-dd in the name, as written), the name itself."""
    found = _DATE.search(file_name)
    out = {"file_name": file_name, "date": found.group(0) if found else ""}
    if name_regex:
        stem = file_name.rsplit(".", 1)[0]
        m = re.fullmatch(name_regex, file_name) or re.fullmatch(name_regex, stem)
        if m:
            out |= {k: v for k, v in m.groupdict().items() if v is not None}
    return out


def render(template: str, fields: Map[str, str], file_name: str) -> str:
    try:
        return template.format_map(dict(fields))
    except (KeyError, ValueError, IndexError) as e:
        raise BadInputError(f"{file_name}: value {template!r} cannot be filled from the file name ({e}); "
                            "nothing loaded") from None


def scalar(col: Column, text: str, file: str) -> pa.Scalar:
    """A value column's text as the table's type (its format applied), once per file."""
    import pyarrow as pa  # here, not at the top: the CLI reads routes without importing pyarrow

    from .convert import cast

    try:
        return cast(pa.array([text], pa.string()), col)[0]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        hint = "" if col.parse else "; give its format (format = \"%Y%m%d\")"
        raise BadInputError(f"value {text!r} of column {col.name!r} is not a valid {col.type}{hint}; nothing loaded",
                            Where(file=file, column=col.name, value=text)) from None


def as_toml(columns: list[Column]) -> dict[str, Any]:
    """`[routes.columns]` for detected columns: keyed by header; a table only where a plain type says too little."""
    out: dict[str, Any] = {}
    for c in columns:
        key = c.source_name or c.name
        entry: dict[str, Any] = {"type": str(c.type)}
        if c.parse and c.parse != "empty_null":
            entry["format"] = c.parse
        if c.nulls:
            entry["null"] = list(c.nulls)
        if c.trim:
            entry["trim"] = True
        if c.source_name and c.name != _safe(c.source_name):
            entry["name"] = c.name
        out[key] = entry if len(entry) > 1 else str(c.type)
    return out


def _safe(header: str) -> str:
    from .naming import column_names

    return column_names([header])[0]


__all__ = ["ColumnMap", "Mapped", "Mapping", "apply", "as_toml", "check", "file_fields", "parse", "render",
           "scalar", "template_fields"]
