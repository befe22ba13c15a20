"""Command line: a thin layer over load_file, detect and the tracking table."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
from typing import Any

from . import __version__, logs
from .config import RouteSettings, Settings, load_settings, redact_url
from .errors import EXIT_OK, EXIT_SOFTWARE, EXIT_USAGE, ConfigError, LoaderError, UsageError
from .load import MODES, LoadRequest, LoadResult, detect, load_file
from .readers import Detection, ReadOptions
from .reconcile import fail_dead_loads
from .routes import check_route, default_route
from .targets import open_target


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors exit 64 (EX_USAGE), not argparse's 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="loader", description="Bulk-load delimited files into SQL tables, atomically.")
    p.add_argument("--version", action="version", version=f"loader {__version__}")
    _add_common_flags(p, argparse.Namespace(config=None, db=None, verbose=False))
    # the same flags after the command (`loader load f.csv --db …`); SUPPRESS keeps the earlier value
    common = _Parser(add_help=False)
    _add_common_flags(common, None)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    lp = sub.add_parser("load", parents=[common], help="load one file into <ref schema>.<table>")
    lp.add_argument("file")
    lp.add_argument("--table", help="target table (default: from the file name)")
    lp.add_argument("--mode", choices=[str(m) for m in MODES], default="fullload",
                    help="fullload replaces the table (old version kept in bkp); append adds the rows")
    lp.add_argument("--force", action="store_true", help="append even if the same content was appended before")
    lp.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_format_flags(lp)

    sp = sub.add_parser("status", parents=[common], help="queued/running files, totals, throughput, the last loads")
    sp.add_argument("-n", "--limit", type=int, default=20)
    sp.add_argument("--root", action="append", default=[], help="also count the files waiting under this root")
    sp.add_argument("--json", action="store_true", help="the last loads as a JSON list")
    sp.add_argument("--summary", action="store_true", help="with --json: an object with folders, totals, recent")

    rp = sub.add_parser("run", parents=[common], help="the service: watch the routes' inboxes and load what arrives")
    rp.add_argument("--root", help="one folder with inbox/ (created if missing): a default route, no config needed")
    rp.add_argument("--mode", choices=[str(m) for m in MODES], help="with --root: fullload (default) or append")
    rp.add_argument("--once", action="store_true", help="load what is waiting, then exit (cron, a first try)")
    _add_service_flags(rp)

    bp = sub.add_parser("backfill", parents=[common], help="load trees of historical files in date order (resumable)")
    bp.add_argument("dirs", nargs="+", metavar="DIR")
    bp.add_argument("--route", help="take patterns, table rule and mode from this configured route")
    bp.add_argument("--mode", choices=[str(m) for m in MODES],
                    help="fullload (default) or append; overrides the route's")
    bp.add_argument("--table", help="load every file into this table (default: the route's rule or the file name)")
    bp.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    _add_service_flags(bp)

    dp = sub.add_parser("detect", parents=[common], help="print the detected format and column types of a file")
    dp.add_argument("file")
    dp.add_argument("--json", action="store_true")
    _add_format_flags(dp)
    return p


def _add_common_flags(p: argparse.ArgumentParser, defaults: argparse.Namespace | None) -> None:
    def default(name: str) -> Any:
        return getattr(defaults, name) if defaults is not None else argparse.SUPPRESS

    p.add_argument("--config", default=default("config"),
                   help="TOML settings file (default: conf/loader.toml if present, or $LOADER_CONFIG)")
    p.add_argument("--db", default=default("db"),
                   help="database URL, e.g. sqlite:///data/loader.db or postgresql://user@host/db")
    p.add_argument("-v", "--verbose", action="store_true", default=default("verbose"),
                   help="log debug detail to stderr")


def _add_service_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, help="processes loading at once (service.workers)")
    p.add_argument("--poll", type=float, dest="poll_s", help="polling interval in seconds (service.poll_s)")
    p.add_argument("--stable", type=float, dest="stable_s", help="seconds unchanged before a file is picked")
    p.add_argument("--no-events", action="store_true", help="polling only, no native file events")
    p.add_argument("--log-format", choices=("auto", "human", "json"), help="auto: human on a terminal, else JSON")


def _add_format_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--delimiter", help="field delimiter (default: detected); use '\\t' for tab")
    p.add_argument("--no-header", action="store_true", help="the first line is data, not column names")
    p.add_argument("--type", action="append", default=[], metavar="COLUMN=TYPE",
                   help="pin a column's type, e.g. --type zip=text --type amount=decimal(18,2)")


def _read_options(args: argparse.Namespace, settings: Settings) -> ReadOptions:
    types = {}
    for item in args.type:
        name, sep, typ = item.partition("=")
        if not sep:
            raise UsageError(f"--type {item!r}: expected COLUMN=TYPE")
        types[name.strip()] = typ.strip()
    delimiter = args.delimiter.replace("\\t", "\t") if args.delimiter else None
    return ReadOptions(delimiter=delimiter, has_header=False if args.no_header else None, column_types=types,
                       sample_bytes=settings.load.sample_bytes, sample_rows=settings.load.sample_rows,
                       block_size=settings.load.block_size)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # escaped and scrubbed like every human line
        handler.setFormatter(logs.HumanFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for url in (args.db, os.environ.get("LOADER_DATABASE__URL")):  # before the settings: their errors too
        if url:
            logs.hide(url)
    try:
        settings = load_settings(args.config, flags={"database.url": args.db, **_service_flags(args)})
        logs.hide(settings.database.url)
        commands = {"load": _cmd_load, "status": _cmd_status, "detect": _cmd_detect, "run": _cmd_run,
                    "backfill": _cmd_backfill}
        return commands[args.command](args, settings)
    except LoaderError as e:
        _say(f"loader: {e}")
        return e.exit_code
    except Exception:  # a bug: its traceback, scrubbed of passwords, then exit 70
        logging.getLogger("loader").exception("internal error (a bug: please report it with this log)")
        return EXIT_SOFTWARE


def _say(text: str, file: Any = None) -> None:
    """Every human message: passwords scrubbed, control characters (a hostile file name) escaped."""
    print(logs.printable(logs.redacted(text)), file=file or sys.stderr)


def _service_flags(args: argparse.Namespace) -> dict[str, Any]:
    names = ("workers", "poll_s", "stable_s", "log_format")
    flags = {f"service.{n}": getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "no_events", False):
        flags["service.events"] = False
    return flags


def _routes(args: argparse.Namespace, settings: Settings) -> list[RouteSettings]:
    if getattr(args, "root", None):
        route = default_route(args.root)
        if args.mode:
            route.mode = args.mode
        return [route]
    if not settings.routes:
        raise ConfigError("no routes to watch: give --root DIR, or [[routes]] in conf/loader.toml "
                          f"(settings from {settings.source})")
    return settings.routes


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from .service.supervise import Supervisor

    route_list = _routes(args, settings)
    logs.setup(settings.service.log_format, args.verbose)
    logging.getLogger("loader").info("database %s", redact_url(settings.database.url))
    return Supervisor(settings, route_list, once=args.once).run()


def _cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from .service.backfill import backfill

    if args.route:
        matches = [r for r in settings.routes if r.name == args.route]
        if not matches:
            raise ConfigError(f"no route named {args.route!r} in {settings.source}")
        route = dataclasses.replace(matches[0])
    else:
        route = default_route(".")
    if args.mode:
        route.mode = args.mode
    if args.table:
        route.table = args.table
    check_route(route)
    logs.setup("human" if settings.service.log_format == "auto" else settings.service.log_format, args.verbose)
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    return backfill(settings, args.dirs, route, progress=False if args.no_progress else None)


def _cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    result = load_file(LoadRequest(args.file, args.table, args.mode, args.force), settings,
                       _read_options(args, settings))
    if args.json:
        print(json.dumps(result.__dict__ | {"rows_per_second": round(result.rows_per_second)}, default=str))
    else:
        _print_result(result, settings)
    return result.exit_code


def _print_result(r: LoadResult, settings: Settings) -> None:
    if r.status == "loaded":
        backup = f"; previous version kept as {r.backup}" if r.backup else ""
        _say(f"loaded {r.path} -> {r.table}: {r.rows_loaded:,} rows in {r.seconds:.2f} s "
             f"({r.rows_per_second:,.0f} rows/s){backup}  [{redact_url(settings.database.url)}, load {r.load_id}]",
             sys.stdout)
    elif r.status == "duplicate":
        _say(f"loader: skipped: {r.error}")
    else:
        _say(f"loader: failed: {r.error}")


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from .service.status import folder_summary, print_summary

    target = open_target(settings)
    window_start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    try:
        target.ensure_ready()
        fail_dead_loads(target, settings.schemas.stage)  # a killed `loader load` shows as failed, not running
        rows = target.tracker.recent_loads(args.limit)
        totals = target.tracker.summary(window_start)
    finally:
        target.close()
    roots = args.root or [r.root for r in settings.routes]
    folders_now = folder_summary(settings.routes if not args.root else [default_route(r) for r in roots])
    if args.json:
        doc: object = {"folders": folders_now, "totals": totals, "recent": rows} if args.summary else rows
        print(json.dumps(doc, default=str, indent=1))
        return EXIT_OK
    header = ("started (UTC)", "file", "table", "mode", "status", "rows", "seconds", "error")
    lines = [header] + [tuple(map(logs.printable, (
        str(r["started_at"])[:19], str(r["file_name"]), f"{r['schema_name']}.{r['table_name']}", str(r["mode"]),
        str(r["status"]), f"{r['rows_loaded'] or 0:,}", f"{r['seconds']:.2f}" if r["seconds"] is not None else "",
        _clip(_without_path(r))))) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)) + "  " + line[-1])
    print()
    print_summary(folders_now, totals, 3600.0)
    return EXIT_OK


def _without_path(row: dict[str, object]) -> str:
    """The file is its own column; the error needn't repeat its full path."""
    error = str(row["error"] or "")
    for path in (str(row["file_path"] or ""), str(row["file_name"] or "")):
        for prefix in (path + ", ", path + ": "):
            if path and error.startswith(prefix):
                return error[len(prefix):]
    return error


def _clip(text: object, limit: int = 120) -> str:
    s = "" if text is None else str(text).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _cmd_detect(args: argparse.Namespace, settings: Settings) -> int:
    found = detect(args.file, _read_options(args, settings))
    if args.json:
        print(json.dumps(found.as_dict(), ensure_ascii=False, indent=1))
        return EXIT_OK
    _print_detection(args.file, found)
    return EXIT_OK


def _print_detection(path: str, found: Detection) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
