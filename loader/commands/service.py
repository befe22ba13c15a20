"""`loader run`, `loader backfill`, `loader pull`: the commands that drive the service machinery."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from .. import logs
from ..config import RouteSettings, Settings, redact_url
from ..errors import ConfigError
from ..routes import check_route, default_route
from .common import no_format, print_result, read_options


def routes(args: argparse.Namespace, settings: Settings) -> list[RouteSettings]:
    """--root gives one default route; otherwise the configured ones (none is fine with only sources)."""
    if getattr(args, "root", None):
        route = default_route(args.root)
        if args.mode:
            route.mode = args.mode
        return [route]
    if not settings.routes and settings.sources:
        return []  # only database sources to run
    if not settings.routes:
        raise ConfigError("no routes to watch: give --root DIR, or [[routes]] in conf/loader.toml "
                          f"(settings from {settings.source})")
    return settings.routes


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from ..service.supervise import Supervisor

    route_list = routes(args, settings)
    logs.setup(settings.service.log_format, args.verbose, args.quiet)
    logging.getLogger("loader").info("database %s", redact_url(settings.database.url))
    return Supervisor(settings, route_list, once=args.once).run()


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from ..service.backfill import backfill

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
    logs.setup("human" if settings.service.log_format == "auto" else settings.service.log_format, args.verbose,
               args.quiet)
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.ERROR if args.quiet else logging.WARNING)
    return backfill(settings, args.dirs, route, progress=False if args.no_progress else None,
                    as_json=args.json, on_error=args.on_error)


def cmd_pull(args: argparse.Namespace, settings: Settings) -> int:
    from ..sources import CLI_ROUTE, PullRequest, pull, request_of

    if args.source_name:
        matches = [s for s in settings.sources if s.name == args.source_name]
        if not matches:
            raise ConfigError(f"no source named {args.source_name!r} in {settings.source}")
        req = request_of(matches[0])
    else:
        req = PullRequest(source=args.source, table=args.table or "", name=args.name or CLI_ROUTE)
    keys = tuple(k.strip() for item in args.key for k in item.split(",") if k.strip())
    overrides = {"query": args.query, "source_table": args.source_table, "table": args.table, "mode": args.mode,
                 "incremental": args.incremental, "lookback": args.lookback, "keys": keys or None}
    req = dataclasses.replace(req, **{k: v for k, v in overrides.items() if v is not None},
                              column_types=read_options(no_format(args), settings).column_types)
    result = pull(req, settings)
    if args.json:
        print(json.dumps(result.__dict__ | {"rows_per_second": round(result.rows_per_second)}, default=str))
    else:
        print_result(result, settings)
    return result.exit_code
