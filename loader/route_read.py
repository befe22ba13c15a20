"""What a route pins for reading its files: the format, the dialect, reader options, column types.

A feed that is always `;`-separated cp1252 with a header, or always the sheet "Data" of a
workbook, should not depend on detection getting it right every night: the route says so once
(`[[routes]]` keys `format`, `encoding`, `delimiter`, `quote`, `header`, `skip_rows`, `sheet`, `xml_path`,
`json_key`, `member`, and a `types` table of column = type) and every file of the route is read
that way, exactly as `loader load` reads with the same flags. Pure: a route in, ReadOptions
keyword arguments out; the checks raise ConfigError naming the key.
"""

from __future__ import annotations

from typing import Any

from .coltypes import ColumnType
from .errors import ConfigError

__all__ = ["FORMATS", "READ_KEYS", "check_read", "read_pins"]

FORMATS = ("csv", "parquet", "json", "excel", "xml", "compressed")  # the reader registry's names
EXTRA_KEYS = ("sheet", "xml_path", "json_key", "member")  # ReadOptions.extra, by the readers' names
READ_KEYS = ("format", "encoding", "delimiter", "quote", "header", "skip_rows", *EXTRA_KEYS, "types")
_HEADER = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def read_pins(route: Any) -> dict[str, Any]:
    """ReadOptions keyword arguments for what the route pins (empty keys pin nothing)."""
    pins: dict[str, Any] = {}
    if route.format:
        pins["format"] = route.format
    if route.encoding:
        pins["encoding"] = route.encoding
    if route.delimiter:
        pins["delimiter"] = route.delimiter.replace("\\t", "\t")
    if route.quote:
        pins["quotechar"] = "" if route.quote == "none" else route.quote
    if route.header:
        pins["has_header"] = _HEADER[route.header.lower()]
    if route.skip_rows >= 0:
        pins["skip_rows"] = route.skip_rows
    if route.types:
        pins["column_types"] = dict(route.types)
    extra = {key: getattr(route, key) for key in EXTRA_KEYS if getattr(route, key)}
    if isinstance(extra.get("sheet"), str) and extra["sheet"].isdigit():
        extra["sheet"] = int(extra["sheet"])
    if extra:
        pins["extra"] = extra
    return pins


def check_read(route: Any) -> None:
    """Each pin must mean something: a known format, one delimiter character, a header yes/no, valid types."""
    if route.format and route.format not in FORMATS:
        raise ConfigError(f"format {route.format!r} is not one of {', '.join(FORMATS)}")
    if route.delimiter and len(route.delimiter.replace("\\t", "\t")) != 1:
        raise ConfigError(f"delimiter {route.delimiter!r} must be one character (\\t for tab)")
    if route.quote and route.quote != "none" and len(route.quote) != 1:
        raise ConfigError(f"quote {route.quote!r} must be one character, or \"none\"")
    if route.header and route.header.lower() not in _HEADER:
        raise ConfigError(f"header {route.header!r} must be true or false")
    if not isinstance(route.skip_rows, int) or isinstance(route.skip_rows, bool) or route.skip_rows < -1:
        raise ConfigError(f"skip_rows {route.skip_rows!r} must be a count of lines (0 or more)")
    if route.encoding:
        import codecs

        try:
            codecs.lookup(route.encoding)
        except LookupError:
            raise ConfigError(f"encoding {route.encoding!r} is not an encoding Python knows") from None
    for name, typ in route.types.items():
        try:
            ColumnType.parse(str(typ))
        except ValueError as e:
            raise ConfigError(f"types.{name} = {typ!r}: not a column type ({e})") from None
