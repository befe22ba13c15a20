"""`loader detect FILE`: the detected format and column types, as TOML to paste into a route."""

from __future__ import annotations

import argparse
import json

from .. import logs
from ..config import Settings
from ..errors import EXIT_OK
from ..load import detect
from ..readers import Detection
from .common import read_options


def cmd_detect(args: argparse.Namespace, settings: Settings) -> int:
    found = detect(args.file, read_options(args, settings))
    if args.json:
        print(json.dumps(found.as_dict(), ensure_ascii=False, indent=1))
        return EXIT_OK
    print_detection(args.file, found)
    return EXIT_OK


def print_detection(path: str, found: Detection) -> None:
    """TOML a user can paste into a route: the format's own settings, then the columns."""
    details = found.as_dict()
    print(f"# {logs.printable(path)}: {details.get('rows_sampled', '?')} rows sampled; pin any of this in "
          "conf/loader.toml")
    print(f'format = "{found.format}"')
    for key in ("encoding", "delimiter", "has_header"):  # what a route pins most often
        if key in details:
            print(f"{key} = {json.dumps(details[key], ensure_ascii=False)}")
    print("[columns]")
    for c in found.columns:
        print(f'{c.name} = "{c.type}"' + (f"  # header: {c.source_name!r}" if c.source_name != c.name else ""))
    for note in found.notes:
        print(f"# note: {logs.printable(note)}")
