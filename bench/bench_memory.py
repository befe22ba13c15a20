"""Peak RSS of `loader load` against file size: it must be flat (streamed), not proportional.

Generates files of the given sizes with gen.py (same seed: each file is a prefix of the
next), loads each with `loader load --mode fullload` as a child process into each target and
samples the child's peak RSS (VmHWM). Checks the row count in the database afterwards.
Prints one line per load: target=... size_mb=... rows=... seconds=... rows_per_s=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import measure as bl
import paths

BYTES_PER_ROW = 141.2  # gen.py's average (1,000,000 rows = 141.2 MB)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes-mb", default="100,1000", help="comma list of file sizes in MB (default 100,1000)")
    p.add_argument("--targets", default="sqlite,postgresql", help="comma list of sqlite, postgresql")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--pg-url", help="PostgreSQL URL (default: an embedded server in the work dir)")
    p.add_argument("--loader", default=bl.default_loader())
    p.add_argument("--workdir", default="/tmp")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--md", help="write the markdown section here")
    args = p.parse_args(argv)
    sizes = [float(s) for s in args.sizes_mb.split(",") if s.strip()]
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    need = max(sizes) * 1e6 * 3.5  # the file, a staged copy and the published table
    free = shutil.disk_usage(args.workdir).free
    if need > free:
        print(f"not enough disk in {args.workdir}: {free / 1e9:.1f} GB free, about {need / 1e9:.1f} GB needed",
              file=sys.stderr)
        return 2
    work = bl.make_workdir(args.workdir)
    server = None
    results: list[tuple[str, float, int, float, float, str]] = []
    try:
        pg_url = args.pg_url
        if "postgresql" in targets and not pg_url:
            server = bl.start_postgres(work)
            pg_url = server.get_uri()
        for size in sizes:
            rows = int(size * 1e6 / BYTES_PER_ROW)
            data = work / f"mem_{int(size)}mb.csv"
            totals = bl.generate(data, rows, args.seed)
            bl.warm_cache(data)
            ctx = bl.Context(work, data, [], int(totals["rows"]), None, args.loader, "", None, pg_url)
            for target in targets:
                path = paths.LoaderSqlite(ctx) if target == "sqlite" else paths.LoaderPostgres(ctx)
                m = bl.measure(path, 1, args.timeout)
                actual_mb = data.stat().st_size / 1e6
                status = "ok" if m.ok else "FAILED " + "; ".join(m.problems)
                results.append((target, actual_mb, m.file_rows, m.seconds, m.peak_rss_mb, status))
                print(f"target={target} size_mb={actual_mb:.0f} rows={m.file_rows} seconds={m.seconds:.1f} "
                      f"rows_per_s={m.file_rows / m.seconds:.0f} peak_rss_mb={m.peak_rss_mb:.0f} verified={status}",
                      flush=True)
            data.unlink()
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    md = markdown(results)
    if args.md:
        Path(args.md).write_text(md, encoding="utf-8")
    print("\n" + md)
    return 0 if all(r[-1] == "ok" for r in results) else 1


def markdown(results: list[tuple[str, float, int, float, float, str]]) -> str:
    lines = ["## Memory: peak RSS of `loader load` against file size", "",
             "| target | file MB | rows | seconds | rows/s | peak RSS MB | verified |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for target, mb, rows, seconds, peak, status in results:
        rate = rows / seconds if seconds else 0
        lines.append(f"| {target} | {mb:,.0f} | {rows:,} | {seconds:.1f} | {rate:,.0f} | {peak:.0f} | {status} |")
    by_target: dict[str, list[tuple[float, float]]] = {}
    for target, mb, _, _, peak, _ in results:
        by_target.setdefault(target, []).append((mb, peak))
    lines.append("")
    for target, pts in by_target.items():
        if len(pts) >= 2:
            (mb0, p0), (mb1, p1) = pts[0], pts[-1]
            flat = p1 <= p0 * 1.25 + 20
            lines.append(f"- {target}: file {mb1 / mb0:.1f}× larger, peak RSS {p0:.0f} → {p1:.0f} MB "
                         f"({'flat' if flat else 'GROWS with the file'}); target <= 200 MB for 1 GB: "
                         f"{'met' if p1 <= 200 else 'MISSED'}.")
    lines.append("\nPeak RSS is the `loader load` process's own high-water mark (VmHWM, sampled every 20 ms), "
                 "interpreter and libraries included; for PostgreSQL the server's memory is not counted. "
                 "The whole service's RSS cannot be measured yet: `loader run` is not on this branch.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
