"""`loader detect FILE`: the detected format and column types, as TOML to paste into a route."""

from __future__ import annotations

import argparse
import json

import tomli_w

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
    """TOML a user can paste into a route: the format's own settings, then the columns. tomli-w writes
    it, so any header (quotes, spaces, `größe`) comes out as a valid, quoted key."""
    details = found.as_dict()
    top = {"format": found.format} | {k: details[k] for k in ("encoding", "delimiter", "has_header")
                                       if details.get(k) is not None}  # what a route pins most often
    print(f"# {logs.printable(path)}: {details.get('rows_sampled', '?')} rows sampled; pin any of this in "
          "conf/loader.toml")
    for c in found.columns:
        if c.source_name != c.name:
            print(f"# column {logs.printable(c.name)}: header {logs.printable(repr(c.source_name))}")
    for note in found.notes:
        print(f"# note: {logs.printable(note)}")
    print(tomli_w.dumps(top | {"columns": {c.name: str(c.type) for c in found.columns}}), end="")
