"""`loader load FILE`: one file into <ref schema>.<table>; `-` reads standard input."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

from ..coltypes import Mode
from ..config import Settings, route_mapping
from ..errors import LocalDiskError, UsageError
from ..load import STDIN, LoadRequest, load_file
from ..opened import Opened, open_path
from ..readers import ReadOptions
from ..routes import destination
from .common import print_result, read_options
from .route import find_route, routed_options, routed_settings


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    if args.allow_empty:
        settings = dataclasses.replace(settings, load=dataclasses.replace(settings.load, allow_empty=True))
    request = LoadRequest(args.file, args.table, args.mode or Mode.FULLLOAD, args.force)
    options = read_options(args, settings)
    if args.route:
        settings, request, options = _routed(args, settings, request, options)
    if args.file == STDIN:
        with _spooled_stdin(args.table) as opened:
            result = load_file(request, settings, options, opened=opened, shown_as="<stdin>")
    else:
        result = load_file(request, settings, options)
    if args.json:
        print(json.dumps(result.__dict__ | {"rows_per_second": round(result.rows_per_second)}, default=str))
    else:
        print_result(result, settings)
    return result.exit_code


def _routed(args: argparse.Namespace, settings: Settings, request: LoadRequest,
            options: ReadOptions) -> tuple[Settings, LoadRequest, ReadOptions]:
    """The file loaded as the route would load it from its inbox; --table and --mode still win."""
    route = find_route(args.route, settings)
    name = os.path.basename(args.file) if args.file != STDIN else (args.table or "stdin")
    dest = destination(route, name, route.schema or settings.schemas.ref)
    request = dataclasses.replace(request, table=args.table or dest.table, mode=args.mode or dest.mode,
                                  route=route.name, mapping=route_mapping(route))
    return routed_settings(settings, route), request, routed_options(options, route, args)


@contextlib.contextmanager
def _spooled_stdin(table: str | None) -> Iterator[Opened]:
    """Standard input copied to a temporary file first: detection, the hash and the read each need
    the bytes again, and a pipe gives them once. The copy is removed when the load is over."""
    if not table:
        raise UsageError("loader load - reads standard input: name the table with --table")
    fd, path = tempfile.mkstemp(prefix="loader-stdin-")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    except OSError as e:
        os.unlink(path)
        raise LocalDiskError(f"cannot spool standard input to {path}: {e.strerror or e}") from None
    try:
        with open_path(path) as opened:
            yield opened
    finally:
        os.unlink(path)


