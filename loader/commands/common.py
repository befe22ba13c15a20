"""What several commands share: the human message printer, --type/format flags, the result line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import logs
from ..config import Settings, redact_url
from ..errors import UsageError
from ..load import LoadResult
from ..pins import check_types
from ..readers import ReadOptions


def say(text: str, file: Any = None) -> None:
    """Every human message: passwords scrubbed, control characters (a hostile file name) escaped."""
    print(logs.printable(logs.redacted(text)), file=file or sys.stderr)


def read_options(args: argparse.Namespace, settings: Settings) -> ReadOptions:
    """The format flags (--delimiter, --no-header, --type) as the readers' options."""
    types = {}
    for item in args.type:
        name, sep, typ = item.partition("=")
        if not sep:
            raise UsageError(f"--type {item!r}: expected COLUMN=TYPE")
        types[name.strip()] = typ.strip()
    check_types(types)
    delimiter = args.delimiter.replace("\\t", "\t") if args.delimiter else None
    extra = {key: getattr(args, key) for key in ("sheet", "xml_path", "json_key", "member")
             if getattr(args, key, None) is not None}
    if "sheet" in extra and extra["sheet"].isdigit():
        extra["sheet"] = int(extra["sheet"])  # an index; a sheet named "2" is pinned by the route
    skip = getattr(args, "skip_rows", None)
    return ReadOptions(delimiter=delimiter, has_header=False if args.no_header else None, column_types=types,
                       skip_rows=skip,
                       strict_pins=True, format=getattr(args, "format", None), extra=extra,
                       sample_bytes=settings.load.sample_bytes, sample_rows=settings.load.sample_rows,
                       block_size=settings.load.block_size)


def no_format(args: argparse.Namespace) -> argparse.Namespace:
    """`pull` has --type but no file format flags."""
    return argparse.Namespace(type=args.type, delimiter=None, no_header=False, format=None, skip_rows=None)


def print_result(r: LoadResult, settings: Settings) -> None:
    if r.status == "loaded":
        backup = f"; previous version kept as {r.backup}" if r.backup else ""
        rejected = f", {r.rows_rejected:,} rejected -> {r.rejects_file}" if r.rows_rejected else ""
        say(f"loaded {r.path} -> {r.table}: {r.rows_loaded:,} rows{rejected} in {r.seconds:.2f} s "
            f"({r.rows_per_second:,.0f} rows/s){backup}  [{redact_url(settings.database.url)}, load {r.load_id}]",
            sys.stdout)
        for note in r.notes:
            say(note, sys.stdout)
    elif r.status == "duplicate":
        say(f"loader: skipped: {r.error}")
    else:
        say(f"loader: failed: {r.error}")
