"""`--route NAME` or `--route FILE.toml` for one-off commands: a file read the way a route reads it.

`loader load f.csv --route sales` loads exactly as the service would load f.csv dropped in the
route's inbox (its table rule, mode, read pins, column mapping and load.* overrides), so a new
route is tried on one file before it runs unattended; a flag given on the command line still
wins. A route may also sit in a small TOML file of its own: the keys of one `[[routes]]` entry at
the top level (or one `[[routes]]` table); `root` is not needed there.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from typing import Any

from ..config import RouteSettings, Settings, check_route, parse_routes, route_load
from ..errors import ConfigError, UsageError
from ..readers import ReadOptions
from ..route_read import read_pins

NO_ROOT = "."  # a route read for one command needs no drop folder


def find_route(spec: str, settings: Settings) -> RouteSettings:
    """A configured route by name, or the route in a TOML file; ConfigError / UsageError naming what is wrong."""
    if spec.endswith(".toml") or os.path.isfile(spec):
        return _route_file(spec)
    for route in settings.routes:
        if route.name == spec:
            return dataclasses.replace(route)
    names = ", ".join(r.name for r in settings.routes) or "none"
    raise UsageError(f"--route {spec!r}: no route of that name in {settings.source or 'the configuration'} "
                     f"(its routes: {names}); or give a .toml file holding one")


def _route_file(path: str) -> RouteSettings:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"--route {path}: cannot read it: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--route {path}: not valid TOML: {e}") from None
    routes = data.get("routes")
    if isinstance(routes, dict):  # top-level keys with a [routes.columns] table, as `loader detect` prints it
        routes = [{**{k: v for k, v in data.items() if k != "routes"}, **routes}]
    tables = [data] if routes is None else routes
    if not isinstance(tables, list) or len(tables) != 1 or not isinstance(tables[0], dict):
        raise ConfigError(f"--route {path}: expected the keys of one route, or one [[routes]] table")
    table: dict[str, Any] = {"name": os.path.splitext(os.path.basename(path))[0], "root": NO_ROOT, **tables[0]}
    route = parse_routes([table], path)[0]
    try:
        check_route(route)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return route


def routed_settings(settings: Settings, route: RouteSettings) -> Settings:
    """The route's schema and load.* overrides over the settings; a command-line flag (origin --…) wins."""
    load = {k: v for k, v in route_load(route).items() if not settings.origins.get(f"load.{k}", "").startswith("--")}
    schemas = dataclasses.replace(settings.schemas, ref=route.schema or settings.schemas.ref)
    return dataclasses.replace(settings, schemas=schemas, load=dataclasses.replace(settings.load, **load))


def routed_options(options: ReadOptions, route: RouteSettings, args: argparse.Namespace) -> ReadOptions:
    """The route's read pins under the command's own flags: what was given on the command line wins."""
    pins = read_pins(route)
    given = {"delimiter": options.delimiter, "has_header": options.has_header, "format": options.format}
    pins |= {k: v for k, v in given.items() if v is not None}
    pins["column_types"] = {**pins.get("column_types", {}), **options.column_types}
    pins["extra"] = {**pins.get("extra", {}), **options.extra}
    strict = bool(getattr(args, "type", None))
    return dataclasses.replace(options, **pins, strict_pins=strict and not route.types)
