"""`loader detect FILE`: the detected format and column types, as TOML to paste into a route."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
from typing import Any

import tomli_w

from .. import logs, mapping, naming
from ..config import RouteSettings, Settings, route_mapping
from ..errors import EXIT_OK
from ..load import detect
from ..readers import Detection
from .common import read_options
from .route import find_route, routed_options


def cmd_detect(args: argparse.Namespace, settings: Settings) -> int:
    options = read_options(args, settings)
    route = find_route(args.route, settings) if args.route else None
    if route is not None:
        options = routed_options(options, route, args)
    found = detect(args.file, options)
    if route is not None:
        name = os.path.basename(args.file)
        found = dataclasses.replace(found, columns=mapping.apply(found.columns, route_mapping(route), name,
                                                                 mapping.file_fields(name, route.table_regex)).columns)
    if args.json:
        print(json.dumps(found.as_dict(), ensure_ascii=False, indent=1))
        return EXIT_OK
    print_detection(args.file, found, route)
    return EXIT_OK


def print_detection(path: str, found: Detection, route: RouteSettings | None = None) -> None:
    """A `[[routes]]` block a user can paste into conf/loader.toml as it is: the route (given, or a
    new one named after the file), the format's own settings where the route leaves them to
    detection, then every column keyed by its header. Keys and values are written by tomli-w, so any
    header (quotes, spaces, `größe`) comes out valid."""
    details = found.as_dict()
    print(f"# {logs.printable(path)}: {details.get('rows_sampled', '?')} rows sampled; paste into conf/loader.toml "
          "(a route loads every file of its patterns this way)")
    for note in found.notes:
        print(f"# note: {logs.printable(note)}")
    print(route_toml(route or new_route(path), found), end="")


def new_route(path: str) -> RouteSettings:
    """A route for files like this one: named after it, its digits (dates) made a wildcard."""
    name = os.path.basename(path)
    table = naming.table_from_filename(naming.file_stem(name))
    pattern = re.sub(r"\*+", "*", re.sub(r"\d+", "*", name))
    return RouteSettings(name=table, root=f"drop/{table}", patterns=[pattern], table=table)


def route_toml(route: RouteSettings, found: Detection) -> str:
    details = found.as_dict()
    pins = {"format": found.format, "encoding": details.get("encoding"), "delimiter": details.get("delimiter"),
            "header": None if details.get("has_header") is None else str(details["has_header"]).lower(),
            "skip_rows": details.get("skip_rows") or None}
    defaults = RouteSettings(name=route.name)
    top: dict[str, Any] = {}
    for f in dataclasses.fields(RouteSettings):
        value = getattr(route, f.name)
        if f.name in ("columns", "types"):
            continue
        unset = not value or (f.name == "skip_rows" and value == -1)
        if f.name in pins and unset and pins[f.name] is not None:
            value = pins[f.name]
        if f.name in ("name", "root") or value != getattr(defaults, f.name):
            top[f.name] = value
    columns = mapping.as_toml(found.columns) | {k: v for k, v in route.columns.items() if _is_value(v)}
    lines = ["[[routes]]", tomli_w.dumps(top).rstrip("\n"), "", "[routes.columns]"]
    lines += [f"{_toml_key(key)} = {_toml_value(value)}" for key, value in columns.items()]
    return "\n".join(lines) + "\n"


def _is_value(entry: Any) -> bool:
    return isinstance(entry, dict) and "value" in entry


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    """One value as TOML text (tomli-w's quoting); a table inline (`{ type = "date", format = "%d.%m.%Y" }`)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()
