"""python -m bench [all|gen|load|memory|small|micro] [options]: the benchmark, in one command.

  python -m bench                  # everything: load paths, memory, small files
                                   #   -> bench/results/<yyyy-mm-dd>-<host>.md and .png
  python -m bench all --quick      # the same at toy sizes: a smoke test of the harness (a minute or two)
  python -m bench gen ...          # bench/gen.py: write a generated CSV and its totals
  python -m bench load ...         # bench/bench_load.py: loader vs COPY, psql, sqlite3, pandas, pgloader, pyarrow
  python -m bench memory ...       # bench/bench_memory.py: peak RSS for 100 MB and 1 GB files
  python -m bench small ...        # bench/bench_small.py: 1,000 small files, files/s and latency
  python -m bench pull ...         # bench/bench_pull.py: loader pull vs psql COPY pipe vs CSV + loader load
  python -m bench formats ...      # bench/bench_formats.py: rows/s and peak RSS per input format
  python -m bench merge ...        # bench/bench_merge.py: merge of 1M rows into a 10M-row table vs append
  python -m bench micro ...        # pytest-benchmark micro-benchmarks (bench/test_micro.py)

Each sub-command is a plain argparse script (`python bench/<script>.py --help`) that prints one
parseable key=value line per result; `all` runs them as child processes and joins their sections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

SCRIPTS = {"gen": "gen.py", "load": "bench_load.py", "memory": "bench_memory.py", "small": "bench_small.py",
           "pull": "bench_pull.py", "formats": "bench_formats.py", "merge": "bench_merge.py"}


def run_script(name: str, argv: list[str]) -> int:
    print(f"\n=== {name}: {' '.join(shlex.quote(a) for a in argv)}", flush=True)
    return subprocess.call([sys.executable, str(BENCH_DIR / SCRIPTS[name]), *argv])


def run_all(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench all", description="every part of the benchmark, one report")
    p.add_argument("--quick", action="store_true", help="toy sizes: a smoke test of the whole harness")
    p.add_argument("--rows", type=int, help="rows of the load file (default 1,000,000; quick 20,000)")
    p.add_argument("--small-rows", type=int, help="rows the slow paths load (default 100,000; quick 5,000)")
    p.add_argument("--rounds", type=int, help="rounds per fast path (default 3; quick 1)")
    p.add_argument("--quiet-check", action="store_true", help="warn when other work keeps the machine busy")
    p.add_argument("--sizes-mb", help="memory test file sizes (default 100,1000; quick 2,10)")
    p.add_argument("--files", type=int, help="small files (default 1,000; quick 10)")
    p.add_argument("--skip", default="", help="comma list of parts to skip: load, memory, small")
    p.add_argument("--loader", help="the loader command to measure (default: beside this python)")
    p.add_argument("--pg-url", help="PostgreSQL URL (default: an embedded server per part)")
    p.add_argument("--out", help="report path (default bench/results/<yyyy-mm-dd>-<host>.md)")
    args = p.parse_args(argv)
    q = args.quick
    rows = args.rows or (20_000 if q else 1_000_000)
    small_rows = args.small_rows if args.small_rows is not None else (5_000 if q else 100_000)
    rounds = args.rounds or (1 if q else 3)
    sizes = args.sizes_mb or ("2,10" if q else "100,1000")
    files = args.files or (10 if q else 1000)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    common = (["--loader", args.loader] if args.loader else [])
    pg = ["--pg-url", args.pg_url] if args.pg_url else []

    import measure
    import report

    stem = report.result_stem()
    out = Path(args.out) if args.out else measure.RESULTS_DIR / f"{stem}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    codes: dict[str, int] = {}
    sections: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_all_") as tmp:
        parts = {
            "load": ["--rows", str(rows), "--small-rows", str(small_rows), "--rounds", str(rounds),
                     "--md", f"{tmp}/load.md", "--chart", str(out.with_suffix(".png")), "--json", f"{tmp}/load.json",
                     *common, *pg, *(["--quiet-check"] if args.quiet_check else [])],
            "memory": ["--sizes-mb", sizes, "--md", f"{tmp}/memory.md", *common, *pg],
            "small": ["--files", str(files), "--md", f"{tmp}/small.md", *common],
        }
        for name, part_argv in parts.items():
            if name in skip:
                sections.append(f"## {name}\n\nSkipped (--skip {name}).\n")
                continue
            codes[name] = run_script(name, part_argv)
            md = Path(tmp) / f"{name}.md"
            sections.append(md.read_text(encoding="utf-8") if md.exists()
                            else f"## {name}\n\nFailed (exit code {codes[name]}); see the terminal output.\n")
    command = "python -m bench " + " ".join(shlex.quote(a) for a in ["all", *argv] if a)
    head = [f"# Benchmark: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}", "",
            f"Command: `{command}` (from the repository root).  ",
            f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}.  ",
            "Absolute figures move with the machine's load; compare ratios measured in the same run.", ""]
    out.write_text("\n".join(head) + "\n" + "\n".join(sections), encoding="utf-8")
    print(f"\nreport={out} chart={out.with_suffix('.png')} "
          + " ".join(f"{k}_exit={v}" for k, v in codes.items()))
    return max(codes.values(), default=0)


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return run_all(argv)
    command, rest = argv[0], argv[1:]
    if command in ("-h", "--help"):
        print(__doc__)
        return 0
    if command == "all":
        return run_all(rest)
    if command == "micro":
        return subprocess.call([sys.executable, "-m", "pytest", str(BENCH_DIR / "test_micro.py"),
                                "--benchmark-only", *rest])
    if command in SCRIPTS:
        return run_script(command, rest)
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
