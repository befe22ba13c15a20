"""Measure `loader load` against the databases' own bulk loaders, side by side in one run.

Absolute figures move with the machine's load (±30% between runs on this shared 2-core machine); ratios
measured in the same run move much less. So every round runs every path once, in turn, on the
same warm file and a fresh target, and the report gives medians and ratios to the baselines:
PostgreSQL's server-side COPY and the sqlite3 shell's .import.

Each load runs as a child process. Its wall time is measured around the whole command
(interpreter start and imports included: that is what a user waits for) and its peak RSS is
the kernel's high-water mark (VmHWM) of the child and its descendants, sampled while it runs.
For the PostgreSQL paths that is the client's memory; the server's own is not included.

After each load the database is queried: the row count must match the file, and for files
made by gen.py sums, NULL counts and a few tricky values must match its totals sidecar.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

from measure import (
    RESULTS_DIR,
    Context,
    Measurement,
    count_records,
    default_loader,
    default_psql,
    detect_columns,
    loader_env_heavy,
    make_workdir,
    measure,
    postmaster_pid,
    prepare_file,
    prepare_small_file,
    python_has,
    quiet_check,
    start_postgres,
    warm_cache,
)
from paths import PATHS, LoadPath, PandasPg, Pgloader
from report import (
    draw_chart,
    environment_info,
    markdown,
    ratio_line,
    result_line,
    result_stem,
    round_line,
    speed_ratios,
    summaries_json,
    summarise,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows to generate when no --file (default 1,000,000)")
    p.add_argument("--small-rows", type=int, default=100_000,
                   help="rows the slow paths (pandas, pgloader) load: a prefix of the same generated file "
                        "(default 100,000; 0 = the whole file)")
    p.add_argument("--seed", type=int, default=42, help="generator seed")
    p.add_argument("--file", help="load this CSV instead of generating one (its .totals.json is used if present)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per path; the report gives medians (default 3)")
    p.add_argument("--slow-rounds", type=int, default=1, help="rounds of the slow paths (default 1)")
    p.add_argument("--targets", default="sqlite,postgresql,parse", help="comma list of sqlite, postgresql, parse")
    p.add_argument("--paths", default="", help="comma list of path names to run (default: all of the targets); "
                   "names: " + ", ".join(c.name for c in PATHS))
    p.add_argument("--pg-url", help="PostgreSQL URL (default: start an embedded server in the work dir)")
    p.add_argument("--loader", default=default_loader(), help="the loader command (default: beside this python)")
    p.add_argument("--sqlite3", default=shutil.which("sqlite3") or "sqlite3", help="the sqlite3 shell")
    p.add_argument("--psql", default=default_psql(), help="psql for COPY and \\copy")
    p.add_argument("--pgloader", default=shutil.which("pgloader"), help="pgloader (Debian package `pgloader`)")
    p.add_argument("--workdir", default="/tmp", help="parent of the scratch directory (default /tmp)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a load is killed")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory and its data file")
    p.add_argument("--md", help=f"write the markdown here (default {RESULTS_DIR.name}/<yyyy-mm-dd>-<host>.md)")
    p.add_argument("--chart", help="write the PNG chart here (default: beside the markdown, .png)")
    p.add_argument("--json", help="also write the summaries as JSON here (for python -m bench)")
    p.add_argument("--quiet-check", action="store_true",
                   help="before the rounds, warn (and say so in the report) when other work keeps the machine busy")
    args = p.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    args.paths = [n.strip() for n in args.paths.split(",") if n.strip()]
    unknown = set(args.targets) - {"sqlite", "postgresql", "parse"}
    if unknown:
        p.error(f"unknown targets {sorted(unknown)}; use sqlite, postgresql, parse")
    unknown = set(args.paths) - {c.name for c in PATHS}
    if unknown:
        p.error(f"unknown paths {sorted(unknown)}")
    if "postgresql" in args.targets and not args.psql:
        p.error("no psql found for the server-side COPY; pass --psql")
    return args


def available(cls: type[LoadPath], args: argparse.Namespace) -> str | None:
    """Why a path cannot run here, or None."""
    if cls is Pgloader and not args.pgloader:
        return "pgloader not installed (Debian: apt-get install pgloader)"
    if cls is PandasPg and not (python_has("pandas") and python_has("sqlalchemy")):
        return "pandas/sqlalchemy not installed (pip install -e '.[bench]')"
    return None


def run_rounds(paths: list[LoadPath], rounds: int, slow_rounds: int, timeout: float) -> list[Measurement]:
    runs = []
    for round_no in range(1, max(rounds, slow_rounds) + 1):
        for path in paths:
            if round_no > (slow_rounds if path.slow else rounds):
                continue
            m = measure(path, round_no, timeout)
            runs.append(m)
            print(round_line(m), flush=True)
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_workdir(args.workdir)
    server = None
    try:
        data, totals = prepare_file(args, work)
        small, small_rows, small_totals = prepare_small_file(args, work)
        warm_cache(data)
        columns = detect_columns(args.loader, data, work)
        expected = int(totals["rows"]) if totals else count_records(data, [n for n, _ in columns])
        ctx = Context(work, data, columns, expected, totals, args.loader, args.sqlite3, args.psql, args.pg_url,
                      small, small_rows, small_totals, args.pgloader)
        if "postgresql" in args.targets and not ctx.pg_url:
            server = start_postgres(work)
            ctx.pg_url = server.get_uri()
        if "postgresql" in args.targets:
            ctx.server_pid = postmaster_pid(ctx.pg_url)
        args.quiet_warning = quiet_check() if args.quiet_check else None
        if args.quiet_warning:
            print(f"WARNING: {args.quiet_warning}", file=sys.stderr, flush=True)
        heavy = loader_env_heavy(args.loader)
        if heavy:
            print(f"WARNING: {'/'.join(heavy)} installed where {args.loader} runs: every loader process imports "
                  "them (+0.6-0.9 s start-up); use --loader from an environment without them", file=sys.stderr)
        chosen = [c for c in PATHS if c.target in args.targets and (not args.paths or c.name in args.paths)]
        skipped = {c.name: why for c in chosen if (why := available(c, args))}
        for name, why in skipped.items():
            print(f"path={name} skipped={why!r}", flush=True)
        paths = [cls(ctx) for cls in chosen if cls.name not in skipped]
        runs = run_rounds(paths, args.rounds, args.slow_rounds, args.timeout)
        summaries = summarise(paths, runs)
        print()
        for s in summaries:
            print(result_line(s, args.rounds))
        for label, a, b, r in speed_ratios(summaries):
            print(ratio_line(label, a, b, r))
        md = Path(args.md) if args.md else RESULTS_DIR / f"{result_stem()}.md"
        chart = draw_chart(summaries, Path(args.chart) if args.chart else md.with_suffix(".png"),
                           f"{expected:,} rows × {len(columns)} columns, {data.stat().st_size / 1e6:.0f} MB: rows/s "
                           f"per path ({platform.node()}, {os.cpu_count()} cores)")
        report = markdown(summaries, ctx, args, environment_info(ctx), chart)
        if skipped:
            report += "\nNot measured: " + "; ".join(f"{n} ({why})" for n, why in skipped.items()) + ".\n"
        md.parent.mkdir(parents=True, exist_ok=True)
        md.write_text(report, encoding="utf-8")
        if args.json:
            Path(args.json).write_text(json.dumps(summaries_json(summaries, ctx, skipped), indent=1), encoding="utf-8")
        print(f"\nreport={md}" + (f" chart={chart}" if chart else "") + f"\n\n{report}")
        return 0 if all(m.ok for m in runs) else 1
    finally:
        if server is not None:
            server.cleanup()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

