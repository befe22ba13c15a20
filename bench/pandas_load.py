"""pandas read_csv + DataFrame.to_sql(method='multi') into a pre-created PostgreSQL table.

What most Python loaders do, written the way a careful user would: codes and decimals read as
text (so leading zeros and exact decimals survive), dates and timestamps parsed (SQLAlchemy with
psycopg rejects dates passed as text), the file read in chunks so memory stays bounded.
Prints one line: rows=<n> seconds=<s>.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. postgresql+psycopg://user@/db?host=/sock")
    p.add_argument("--table", required=True)
    p.add_argument("--schema", default=None)
    p.add_argument("--text", default="", help="comma list of columns read as text (codes, decimals)")
    p.add_argument("--dates", default="", help="comma list of date/timestamp columns to parse")
    p.add_argument("--decimals", default="", help="semicolon list of NAME=P,S: read as text, sent as NUMERIC(P,S)")
    p.add_argument("--read-chunk", type=int, default=50_000, help="rows per read_csv chunk")
    p.add_argument("--sql-chunk", type=int, default=1_000, help="rows per multi-row INSERT (to_sql chunksize)")
    args = p.parse_args(argv)

    import pandas as pd
    import sqlalchemy

    started = time.perf_counter()
    engine = sqlalchemy.create_engine(args.url)
    decimals = dict(d.split("=", 1) for d in args.decimals.split(";") if d)
    sql_types = {n: sqlalchemy.Numeric(*map(int, ps.split(","))) for n, ps in decimals.items()}
    text = [c for c in args.text.split(",") if c] + list(decimals)
    dates = [c for c in args.dates.split(",") if c]
    rows = 0
    with engine.begin() as conn:
        for chunk in pd.read_csv(args.file, chunksize=args.read_chunk, dtype=dict.fromkeys(text, str),
                                 parse_dates=dates, keep_default_na=False, na_values=[""]):
            chunk.to_sql(args.table, conn, schema=args.schema, if_exists="append", index=False,
                         method="multi", chunksize=args.sql_chunk, dtype=sql_types)
            rows += len(chunk)
    print(f"rows={rows} seconds={time.perf_counter() - started:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
