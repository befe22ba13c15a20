"""Routes: which files of a drop folder are picked, and which table and mode each one loads into.

Pure functions over a RouteSettings and a file name; no filesystem, no database. A table
name from a file name is data, so it is normalised; a table name written in the config
was typed by a person, so it is checked and refused when unsafe (naming's two rules).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
from dataclasses import dataclass

from .coltypes import Mode
from .config import RouteSettings, check_route
from .errors import BadInputError
from .naming import file_stem, table_from_filename

__all__ = ["Destination", "check_route", "default_route", "destination", "is_temporary", "parse_date", "wants"]

MODES = tuple(Mode)
# temporary names written by copy tools, editors and uploaders: never picked
_TEMPORARY = re.compile(r"(?i)^(\.|~\$|~).*|.*(\.tmp|\.part|\.partial|\.crdownload|\.swp|~)$")
_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


@dataclass(frozen=True)
class Destination:
    """Where one file goes: schema.table and how."""

    schema: str
    table: str
    mode: str
    date: dt.date | None = None  # from the name (regex group 'date', else a yyyymmdd / yyyy-mm-dd in it)


def default_route(root: str) -> RouteSettings:
    """The quick start: `loader run --root DIR` with no config file."""
    return RouteSettings(name="default", root=root)


def is_temporary(name: str) -> bool:
    return bool(_TEMPORARY.match(name))


def wants(route: RouteSettings, name: str) -> bool:
    """Is this inbox entry a file the route picks up? Temporary names never are."""
    if is_temporary(name) or os.sep in name:
        return False
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in route.patterns)


def destination(route: RouteSettings, name: str, default_schema: str) -> Destination:
    """schema.table and mode for a file; BadInputError when the name does not fit the route."""
    schema = route.schema or default_schema
    stem = file_stem(name)
    table, mode, date = "", route.mode, None
    if route.table_regex:
        m = re.fullmatch(route.table_regex, name) or re.fullmatch(route.table_regex, stem)
        if not m:
            raise BadInputError(f"{name}: the file name does not match route {route.name!r} table_regex "
                                f"{route.table_regex!r}")
        groups = {k: v for k, v in m.groupdict().items() if v}
        table = table_from_filename(groups["table"]) if "table" in groups else ""
        mode = groups.get("mode", mode).lower()
        if mode not in MODES:
            raise BadInputError(f"{name}: mode {mode!r} from the file name is not one of {', '.join(MODES)}")
        date = parse_date(groups["date"]) if "date" in groups else None
    table = route.table or table or table_from_filename(stem)
    return Destination(schema, table, mode, date if date is not None else parse_date(name))


def parse_date(text: str) -> dt.date | None:
    m = _DATE.search(text)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
