"""`loader validate FILE`: every error a load of the file would hit; exit 0 if it would load, 65 if not."""

from __future__ import annotations

import argparse
import json
import sys

from ..config import Settings
from ..errors import EXIT_DATA, EXIT_OK
from ..validate import validate_file
from .common import read_options, say


def cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    out = validate_file(args.file, settings, read_options(args, settings))
    code = EXIT_OK if out.would_load else EXIT_DATA
    if args.json:
        print(json.dumps(out.as_dict() | {"exit_code": code}, default=str))
        return code
    if out.columns:
        say(f"{args.file}: {out.format}, {len(out.columns)} columns: "
            + ", ".join(f"{n} {t}" for n, t in out.columns), sys.stdout)
    for r in out.errors[: args.limit]:
        where = ", ".join(x for x in (f"line {r.line}" if r.line else "", f"column {r.column}" if r.column else "",
                                      f"value {r.value!r}" if r.value is not None else "") if x)
        say(f"  {where}: {r.reason}", sys.stdout)
    if out.rows_bad > min(args.limit, len(out.errors)):
        say(f"  … and {out.rows_bad - min(args.limit, len(out.errors)):,} more bad rows", sys.stdout)
    say(f"{args.file}: {out.rows_read:,} rows read, {out.rows_bad:,} bad; {out.verdict}", sys.stdout)
    return code
