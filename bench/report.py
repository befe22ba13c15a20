"""The report: medians per path, ratios to the baselines, the markdown table, the PNG chart
and the JSON summary, with the machine and commit they were measured on.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from measure import BENCH_DIR, Context, Measurement, loader_env_heavy, pg_fetch
from paths import LoadPath

RATIOS = [("loader-pg fullload / PG server COPY", "loader-pg", "pg-copy"),
          ("loader-pg append / PG server COPY", "loader-pg-append", "pg-copy"),
          ("loader-pg binary COPY (raw_copy off) / PG server COPY", "loader-pg-binary", "pg-copy"),
          ("loader-pg fullload / psql \\copy", "loader-pg", "psql-copy"),
          ("loader-sqlite fullload / sqlite3 .import", "loader-sqlite", "sqlite3-import"),
          ("loader-sqlite append / sqlite3 .import", "loader-sqlite-append", "sqlite3-import"),
          ("loader-sqlite replace / sqlite3 .import", "loader-sqlite-replace", "sqlite3-import"),
          ("loader-pg fullload / pandas to_sql", "loader-pg", "pandas-pg"),
          ("loader-pg fullload / pgloader", "loader-pg", "pgloader"),
          ("loader-pg fullload / pyarrow parse alone", "loader-pg", "pyarrow-parse"),
          ("loader-sqlite fullload / pyarrow parse alone", "loader-sqlite", "pyarrow-parse")]
# issue 12: PostgreSQL >= 1.2x its own COPY (floor 1.0), SQLite >= 1.0x .import (fresh, replace, append)
TARGETS = {"loader-pg / pg-copy": 1.2, "loader-pg-append / pg-copy": 1.2, "loader-sqlite / sqlite3-import": 1.0,
           "loader-sqlite-append / sqlite3-import": 1.0, "loader-sqlite-replace / sqlite3-import": 1.0,
           "loader-pg / pandas-pg": 100, "loader-pg / pgloader": 10}


@dataclass
class Summary:
    path: LoadPath
    runs: list[Measurement]
    seconds: float | None = None  # median of the good rounds
    peak_rss_mb: float = 0.0  # the largest of all rounds
    rows: int = 0  # rows in the file loaded
    bytes: int = 0

    def cpu(self, kind: str) -> float | None:
        """Median CPU seconds of the good rounds: client, server or other (the rest of the machine)."""
        good = [getattr(m, f"{kind}_cpu_s") for m in self.runs if m.ok]
        return statistics.median(good) if good else None

    @property
    def verified(self) -> str:
        bad = [m for m in self.runs if not m.ok]
        return "ok" if not bad else "; ".join(f"round {m.round}: {', '.join(m.problems)}" for m in bad)

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None

    @property
    def mb_per_s(self) -> float | None:
        return self.bytes / 1e6 / self.seconds if self.seconds else None


def summarise(paths: list[LoadPath], runs: list[Measurement]) -> list[Summary]:
    summaries = []
    for p in paths:
        mine = [m for m in runs if m.path == p.name]
        good = [m.seconds for m in mine if m.ok]
        summaries.append(Summary(p, mine, statistics.median(good) if good else None,
                                 max((m.peak_rss_mb for m in mine), default=0.0),
                                 p.expected_rows, p.data.stat().st_size))
    return summaries


def speed_ratios(summaries: list[Summary]) -> list[tuple[str, str, str, float | None]]:
    """(label, path, reference, path rows/s over reference rows/s) for the pairs both measured."""
    rate = {s.path.name: s.rows_per_s for s in summaries}
    out = []
    for label, a, b in RATIOS:
        if a in rate and b in rate:
            ra, rb = rate[a], rate[b]
            out.append((label, a, b, ra / rb if ra and rb else None))
    return out


def fmt(v: float | None, spec: str = ",.0f") -> str:
    return format(v, spec) if v is not None else "n/a"


def result_line(s: Summary, rounds: int) -> str:
    if not s.seconds:
        return f"path={s.path.name} rows={s.rows} seconds=n/a rounds={len(s.runs)} verified=FAILED"
    return (f"path={s.path.name} rows={s.rows} bytes={s.bytes} seconds={s.seconds:.2f} "
            f"rows_per_s={s.rows_per_s:.0f} mb_per_s={s.mb_per_s:.1f} peak_rss_mb={s.peak_rss_mb:.0f} "
            f"rounds={len(s.runs)} verified={'ok' if s.verified == 'ok' else 'FAILED'}")


def ratio_line(label: str, a: str, b: str, r: float | None) -> str:
    return f"ratio={a}/{b} speed={fmt(r, '.3f')}"


def round_line(m: Measurement) -> str:
    status = "ok" if m.ok else "FAILED " + "; ".join(m.problems)
    rate = f"{m.file_rows / m.seconds:.0f}" if m.seconds else "n/a"
    return (f"round={m.round} path={m.path} rows={m.file_rows} seconds={m.seconds:.2f} rows_per_s={rate} "
            f"peak_rss_mb={m.peak_rss_mb:.0f} client_cpu_s={m.client_cpu_s:.2f} server_cpu_s={m.server_cpu_s:.2f} "
            f"other_cpu_s={m.other_cpu_s:.2f} verified={status}")


def markdown(summaries: list[Summary], ctx: Context, args: argparse.Namespace, env_info: dict[str, str],
             chart: Path | None) -> str:
    rows, size_mb = ctx.expected_rows, ctx.data.stat().st_size / 1e6
    source = args.file or f"generated by bench/gen.py --rows {args.rows} --seed {args.seed}"
    lines = [f"## Load paths, side by side ({env_info['when']})", "",
             f"File: {rows:,} rows × {len(ctx.columns)} columns, {size_mb:.1f} MB ({source}).  "]
    if ctx.small_data:
        lines.append(f"Slow paths (marked †) load the first {ctx.small_rows:,} rows of the same file "
                     f"({ctx.small_data.stat().st_size / 1e6:.1f} MB, the same bytes: same generator, same seed); "
                     "their rows/s are comparable per row.  ")
    lines += [f"Rounds: {args.rounds} (slow paths: {args.slow_rounds}); each round runs every path once, in turn, "
              "into an empty target; seconds are medians, peak RSS the largest of the rounds.  ",
              "Machine: " + ", ".join(f"{k} {v}" for k, v in env_info.items() if k != "when") + ".", "",
              "| path | what | rows | rows/s | MB/s | seconds | CPU s client / server / other | peak RSS MB "
              "| verified |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for s in summaries:
        mark = " †" if s.path.slow and ctx.small_data else ""
        cpu = " / ".join(fmt(s.cpu(k), ".2f") for k in ("client", "server", "other"))
        lines.append(f"| {s.path.name}{mark} | {s.path.what} | {s.rows:,} | {fmt(s.rows_per_s)} | "
                     f"{fmt(s.mb_per_s, '.1f')} | {fmt(s.seconds, '.2f')} | {cpu} | {s.peak_rss_mb:.0f} | "
                     f"{s.verified} |")
    lines += ["", "Speed ratios (rows/s over rows/s, measured in this run; > 1 means the loader is faster):", "",
              "| ratio | measured | target (issue 12) |", "|---|---:|---|"]
    for label, a, b, r in speed_ratios(summaries):
        want = TARGETS.get(f"{a} / {b}")
        verdict = "" if want is None or r is None else (f">= {want}: {'met' if r >= want else 'MISSED'}")
        lines.append(f"| {label} | {fmt(r, '.2f')}× | {verdict} |")
    notes = [f"- {s.path.name}: {s.path.note}" for s in summaries if s.path.note]
    lines += ["", "Seconds are wall time of the whole command, interpreter start included (what a user waits for). "
              "Peak RSS is the client process tree's (VmHWM, sampled); for PostgreSQL the server's memory is not "
              "counted. The append paths go onto a table that already holds the same file (loaded, unmeasured, "
              "just before), with --force. sqlite3 .import stores every empty field as '' (no NULLs) and every "
              "value as written, so it is checked for row count and values, not NULLs or decimal sums. "
              "CPU seconds (medians): the command's process tree, the PostgreSQL server's processes, and "
              "everything else on the machine during the run; 'other' well above 0 means the machine was "
              "not quiet, and the CPU seconds, not the wall time, are the figures to compare.", ""]
    if getattr(args, "quiet_warning", None):
        lines += [f"**Warning: {args.quiet_warning}.**", ""]
    if notes:
        lines += notes + [""]
    if chart:
        lines += [f"![rows/s per path]({chart.name})", ""]
    lines += ["Seconds per round:", ""]
    lines += [f"- {s.path.name}: " + ", ".join(f"{m.seconds:.2f}" + ("" if m.ok else " (failed)") for m in s.runs)
              for s in summaries]
    return "\n".join(lines) + "\n"


def draw_chart(summaries: list[Summary], out: Path, title: str) -> Path | None:
    """A horizontal bar per path: rows/s, log scale (pandas and the COPY paths are 100x apart)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart skipped: matplotlib is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return None
    done = [s for s in summaries if s.rows_per_s]
    if not done:
        return None
    colours = {"sqlite": "#4c72b0", "postgresql": "#dd8452", "parse": "#55a868"}
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(done) + 1.5))
    names = [s.path.name + (f"\n(first {s.rows:,} rows)" if s.path.slow and s.rows != max(d.rows for d in done)
                            else "") for s in done]
    ax.barh(names, [s.rows_per_s for s in done], color=[colours.get(s.path.target, "grey") for s in done])
    for i, s in enumerate(done):
        ax.text(s.rows_per_s, i, f" {s.rows_per_s:,.0f}", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("rows/s (log scale; median of the rounds)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def environment_info(ctx: Context) -> dict[str, str]:
    """Enough about the machine and the versions to tell two result files apart."""
    import pyarrow

    info = {"when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu_model(),
            "cores": str(os.cpu_count()), "python": platform.python_version(), "pyarrow": pyarrow.__version__,
            "sqlite3 shell": _first_word([ctx.sqlite3, "--version"]), "loader commit": git_commit(),
            "loader env": ("with " + "+".join(heavy) + " installed (slower start)") if (
                heavy := loader_env_heavy(ctx.loader)) else "lean (no numpy/pandas)"}
    if ctx.pg_url:
        info["PostgreSQL"] = str(pg_fetch(ctx.pg_url, "SHOW server_version")[0][0])
    return info


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _first_word(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(BENCH_DIR), "status", "--porcelain", "--", "../loader"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def result_stem(when: dt.datetime | None = None) -> str:
    """bench/results/<yyyy-mm-dd>-<host>: one file per machine and day (commit meaningful runs)."""
    host = platform.node().split(".")[0] or "host"
    return f"{(when or dt.datetime.now(dt.UTC)).strftime('%Y-%m-%d')}-{host}"


# -- main --------------------------------------------------------------------------------------------


def summaries_json(summaries: list[Summary], ctx: Context, skipped: dict[str, str]) -> dict:
    return {"file_rows": ctx.expected_rows, "file_bytes": ctx.data.stat().st_size,
            "paths": [{"name": s.path.name, "target": s.path.target, "what": s.path.what, "rows": s.rows,
                       "bytes": s.bytes, "seconds": s.seconds, "rows_per_s": s.rows_per_s, "mb_per_s": s.mb_per_s,
                       "peak_rss_mb": s.peak_rss_mb, "verified": s.verified, "slow": s.path.slow,
                       "rounds": [m.seconds for m in s.runs]} for s in summaries],
            "ratios": [{"label": lab, "path": a, "reference": b, "speed": r}
                       for lab, a, b, r in speed_ratios(summaries)],
            "skipped": skipped}
