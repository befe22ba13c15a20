"""Command line: a thin layer over load_file, detect and the tracking table."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import __version__, interrupts, logs
from .coltypes import Mode
from .errors import EXIT_INTERRUPTED, EXIT_SOFTWARE, EXIT_USAGE, LoaderError

if TYPE_CHECKING:  # the settings (and what they import) load after parsing: `loader --help` stays light
    from .config import Settings

MODES = tuple(Mode)


class _Parser(argparse.ArgumentParser):
    json_errors = False  # set by main when --json is on the command line: a script reads errors as JSON too

    def error(self, message: str) -> Any:  # usage errors exit 64 (EX_USAGE), not argparse's 2
        if _Parser.json_errors:
            print(json.dumps({"error": f"{self.prog}: {message}", "exit_code": EXIT_USAGE}))
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


EPILOG = """examples:
  loader load data/customers.csv                      # into ref.customers of sqlite:///data/loader.db
  loader --db postgresql://me@host/db load f.csv --table t --mode append
  loader detect f.csv --type zip=text                 # the format and column types, as TOML
  loader run --root /srv/drop/sales                   # the service: load what arrives in inbox/
  loader status                                       # the last loads, queues, throughput

exit codes:
  0 loaded   3 duplicate (already appended)   64 usage error   65 bad data   66 no such file
  69 database unavailable   70 internal error (a bug)   74 I/O error   75 temporary failure
  78 configuration error   130 interrupted (Ctrl-C)
"""


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="loader", description="Bulk-load delimited files into SQL tables, atomically.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"loader {__version__}")
    _add_common_flags(p, argparse.Namespace(config=None, db=None, verbose=False, quiet=False))
    # the same flags after the command (`loader load f.csv --db …`); SUPPRESS keeps the earlier value
    common = _Parser(add_help=False)
    _add_common_flags(common, None)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    lp = sub.add_parser("load", parents=[common], help="load one file into <ref schema>.<table>")
    lp.add_argument("file", help="the file to load (CSV/TSV, JSON lines, Parquet, Excel, XML; compressed too); "
                                 "'-' reads standard input (with --table)")
    lp.add_argument("--table", help="target table (default: from the file name)")
    lp.add_argument("--mode", choices=[str(m) for m in MODES],
                    help="fullload (default) replaces the table (old version kept in bkp); append adds the rows; "
                         "merge updates rows by --key and inserts new keys")
    lp.add_argument("--route", metavar="NAME|FILE.toml",
                    help="load as this route would (its table rule, mode, read pins, columns, load settings): "
                         "a route of the config, or a .toml file holding one; flags given here still win")
    lp.add_argument("--key", action="append", default=[],
                    help="merge: a key column (repeat, or id,day; load.key)")
    lp.add_argument("--widen-types", action="store_true",
                    help="append/merge: widen a table column the file needs wider (load.widen_types)")
    lp.add_argument("--delete-missing", action="store_true",
                    help="merge: also delete the rows whose key the file lacks (load.delete_missing)")
    lp.add_argument("--duplicate-keys", choices=["last", "first", "fail", "reject"],
                    help="merge: a key repeated in the file: the last (default) or first row wins, fail, "
                         "or reject (every row of it to the rejects file)")
    lp.add_argument("--lineage", help="add columns the loader fills: _load_id,_source_file,_loaded_at,_row_number "
                                      "(load.lineage)")
    lp.add_argument("--force", action="store_true", help="append even if the same content was appended before")
    lp.add_argument("--allow-empty", action="store_true",
                    help="a file of 0 rows may replace the table with an empty one (load.allow_empty)")
    lp.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_format_flags(lp)

    sp = sub.add_parser("status", parents=[common], help="queued/running files, totals, throughput, the last loads")
    sp.add_argument("-n", "--limit", type=int, default=20, help="how many of the last loads to list (20)")
    sp.add_argument("--root", action="append", default=[], help="also count the files waiting under this root")
    sp.add_argument("--json", action="store_true", help="the last loads as a JSON list")
    sp.add_argument("--summary", action="store_true", help="with --json: an object with folders, totals, recent")

    rp = sub.add_parser("run", parents=[common], help="the service: watch the routes' inboxes and load what arrives")
    rp.add_argument("--root", help="one folder with inbox/ (created if missing): a default route, no config needed")
    rp.add_argument("--mode", choices=[str(m) for m in MODES], help="with --root: fullload (default) or append")
    rp.add_argument("--once", action="store_true", help="load what is waiting, then exit (cron, a first try)")
    rp.add_argument("--http", metavar="ADDR", help="serve uploads, status, /metrics on HOST:PORT (service.http), "
                    "e.g. 127.0.0.1:8080; off loopback LOADER_SERVICE__HTTP_TOKEN is required")
    _add_service_flags(rp)

    bp = sub.add_parser("backfill", parents=[common], help="load trees of historical files in date order (resumable)")
    bp.add_argument("dirs", nargs="+", metavar="DIR", help="folders searched recursively for the route's files")
    bp.add_argument("--route", help="take patterns, table rule and mode from this configured route")
    bp.add_argument("--mode", choices=[str(m) for m in MODES],
                    help="fullload (default) or append; overrides the route's")
    bp.add_argument("--table", help="load every file into this table (default: the route's rule or the file name)")
    bp.add_argument("--on-error", choices=["stop-table", "stop", "continue"], default="stop-table",
                    help="after a file fails: stop-table (default) loads no later file of its table, so an "
                         "appended history has no gap (run again to resume there); stop: stop everything; "
                         "continue: load around it")
    bp.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    bp.add_argument("--json", action="store_true", help="the summary as a JSON object on stdout")
    _add_service_flags(bp)

    _add_pull_parser(sub, common)

    cp = sub.add_parser("config", parents=[common], help="the effective settings and where each came from")
    cp.add_argument("--json", action="store_true", help="as a JSON object: settings.<key> = {value, origin}")

    vp = sub.add_parser("validate", parents=[common],
                        help="read a whole file as a load would and list every error; nothing is loaded")
    vp.add_argument("file", help="the file to check (every row is read; no database is opened)")
    vp.add_argument("--json", action="store_true", help="the verdict and every error as JSON")
    vp.add_argument("--limit", type=int, default=100, help="errors to print (100; --json lists all kept)")
    _add_format_flags(vp)

    dp = sub.add_parser("detect", parents=[common], help="print the detected format and column types of a file")
    dp.add_argument("file", help="the file to look at; nothing is loaded")
    shown = dp.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="everything detected, as JSON")
    shown.add_argument("--toml", action="store_true", help="a [[routes]] block to paste into conf/loader.toml "
                                                            "(the default)")
    dp.add_argument("--route", metavar="NAME|FILE.toml", help="read as this route reads (its pins and columns); "
                    "the block printed is that route with what was detected added")
    _add_format_flags(dp)
    for command in sub.choices.values():  # each command's --help ends with the examples and exit codes too
        command.epilog, command.formatter_class = EPILOG, argparse.RawDescriptionHelpFormatter
    return p


def _add_pull_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    pp = sub.add_parser("pull", parents=[common], help="copy a database query or table into <ref schema>.<table>")
    which = pp.add_mutually_exclusive_group(required=True)
    which.add_argument("--source", metavar="URL", help="postgresql://, sqlite:///, snowflake://, mssql+pyodbc:// "
                       "or an ODBC string (a password here shows in `ps`: prefer --source-name)")
    which.add_argument("--source-name", metavar="NAME", help="a [[sources]] entry of the config: run it now")
    rows = pp.add_mutually_exclusive_group()
    rows.add_argument("--query", help="a single SELECT to copy")
    rows.add_argument("--source-table", metavar="SCHEMA.NAME", help="a source table, copied whole")
    pp.add_argument("--table", help="target table (required with --source)")
    pp.add_argument("--mode", choices=["fullload", "append", "merge"], help="fullload (default), append or merge")
    pp.add_argument("--key", action="append", default=[], help="merge: a key column (repeat, or a,b)")
    pp.add_argument("--incremental", metavar="COLUMN", help="read only rows above the last committed watermark")
    pp.add_argument("--lookback", help="merge: re-read this far below the watermark (1h, 2d; a number for ids)")
    pp.add_argument("--name", help="the run's name in tracking rows (its watermark is kept per name and table)")
    pp.add_argument("--type", action="append", default=[], metavar="COLUMN=TYPE", help="pin a column's type")
    pp.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_common_flags(p: argparse.ArgumentParser, defaults: argparse.Namespace | None) -> None:
    def default(name: str) -> Any:
        return getattr(defaults, name) if defaults is not None else argparse.SUPPRESS

    p.add_argument("--config", default=default("config"),
                   help="TOML settings file (default: conf/loader.toml if present, or $LOADER_CONFIG)")
    p.add_argument("--db", default=default("db"),
                   help="database URL, e.g. sqlite:///data/loader.db or postgresql://user@host/db")
    p.add_argument("-v", "--verbose", action="store_true", default=default("verbose"),
                   help="log debug detail to stderr, starting with the database and config in use")
    p.add_argument("-q", "--quiet", action="store_true", default=default("quiet"),
                   help="log only errors (the service: warnings and errors)")


def _add_service_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, help="processes loading at once (service.workers)")
    p.add_argument("--poll", type=float, dest="poll_s", help="polling interval in seconds (service.poll_s)")
    p.add_argument("--stable", type=float, dest="stable_s", help="seconds unchanged before a file is picked")
    p.add_argument("--no-events", action="store_true", help="polling only, no native file events")
    p.add_argument("--log-format", choices=("auto", "human", "json"), help="auto: human on a terminal, else JSON")


def _add_format_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--delimiter", help="field delimiter (default: detected); use '\\t' for tab")
    p.add_argument("--no-header", action="store_true", help="the first line is data, not column names")
    p.add_argument("--skip-rows", type=_count, metavar="N", help="CSV: N lines above the table (a title, notes) "
                   "are not read; default detected")
    p.add_argument("--type", action="append", default=[], metavar="COLUMN=TYPE",
                   help="pin a column's type, e.g. --type zip=text --type amount=decimal(18,2)")
    p.add_argument("--format", help="pin the format: csv, parquet, json, excel, xml, compressed (default: detected)")
    p.add_argument("--sheet", help="Excel: the sheet, by name or 0-based index (default: the first with data)")
    p.add_argument("--xml-path", help="XML: the repeating element, e.g. orders/order (default: detected)")
    p.add_argument("--json-key", help="JSON: the key of the array of records in a document")
    p.add_argument("--member", help="zip: load only this member (default: each member as its own file)")


def _count(text: str) -> int:
    """A count of lines: 0 or more (argparse says what was wrong with anything else)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is below 0")
    return n


def main(argv: list[str] | None = None) -> int:
    interrupts.forward_to_main()  # first, before any thread starts: Ctrl-C never cancels a driver's call
    _Parser.json_errors = "--json" in (sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=_level(args), stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # escaped and scrubbed like every human line
        handler.setFormatter(logs.HumanFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for url in (args.db, os.environ.get("LOADER_DATABASE__URL")):  # before the settings: their errors too
        if url:
            logs.hide(url)
    from .config import load_settings, redact_url

    try:
        settings = load_settings(args.config, flags={"database.url": args.db, **_service_flags(args)})
        logs.hide(settings.database.url)
        logging.getLogger("loader").info("database %s; settings from %s", redact_url(settings.database.url),
                                         settings.source)
        for secret in [getattr(args, "source", None) or "", *(src.url for src in settings.sources)]:
            logs.hide(secret)  # database sources' passwords: never in a log line either
        return _command(args.command)(args, settings)
    except LoaderError as e:
        return _failed(args, str(e), e.exit_code)
    except KeyboardInterrupt:  # a load in progress rolled back and recorded itself as interrupted
        return _failed(args, "interrupted (Ctrl-C): the load in progress rolled back, nothing published",
                       EXIT_INTERRUPTED)
    except Exception:  # a bug: its traceback, scrubbed of passwords, then exit 70
        logging.getLogger("loader").exception("internal error (a bug: please report it with this log)")
        return EXIT_SOFTWARE


def _failed(args: argparse.Namespace, message: str, code: int) -> int:
    from .commands.common import say

    say(f"loader: {message}")
    if getattr(args, "json", False):
        print(json.dumps({"error": logs.printable(logs.redacted(message)), "exit_code": code}))
    return code


def _level(args: argparse.Namespace) -> int:
    return logging.DEBUG if args.verbose else logging.ERROR if args.quiet else logging.WARNING


def _command(name: str) -> Callable[[argparse.Namespace, Settings], int]:
    """The command's function, its module imported only now (`loader --help` loads none of them)."""
    module, func = _COMMANDS[name]
    return getattr(importlib.import_module(f".commands.{module}", __package__), func)  # type: ignore[no-any-return]


_COMMANDS = {"load": ("load", "cmd_load"), "status": ("status", "cmd_status"), "detect": ("detect", "cmd_detect"),
             "config": ("config", "cmd_config"), "run": ("service", "cmd_run"),
             "validate": ("validate", "cmd_validate"), "backfill": ("service", "cmd_backfill"),
             "pull": ("service", "cmd_pull")}


def _service_flags(args: argparse.Namespace) -> dict[str, Any]:
    names = ("workers", "poll_s", "stable_s", "log_format", "http")
    flags = {f"service.{n}": getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "no_events", False):
        flags["service.events"] = False
    if args.command == "load":  # merge's flags are load.* settings: a route or the environment can set them too
        keys = [k.strip() for arg in args.key for k in arg.split(",") if k.strip()]
        flags |= {"load.key": keys} if keys else {}
        flags |= {"load.delete_missing": True} if args.delete_missing else {}
        flags |= {"load.widen_types": True} if args.widen_types else {}
        flags |= {"load.duplicate_keys": args.duplicate_keys} if args.duplicate_keys else {}
        flags |= {"load.lineage": args.lineage} if args.lineage else {}
    return flags


if __name__ == "__main__":
    sys.exit(main())
