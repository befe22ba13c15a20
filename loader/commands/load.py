"""`loader load FILE`: one file into <ref schema>.<table>."""

from __future__ import annotations

import argparse
import json

from ..config import Settings
from ..load import LoadRequest, load_file
from .common import print_result, read_options


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    result = load_file(LoadRequest(args.file, args.table, args.mode, args.force), settings,
                       read_options(args, settings))
    if args.json:
        print(json.dumps(result.__dict__ | {"rows_per_second": round(result.rows_per_second)}, default=str))
    else:
        print_result(result, settings)
    return result.exit_code
