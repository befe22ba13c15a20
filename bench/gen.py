"""Generate a deterministic, realistic typed CSV for the load benchmark.

The file exercises what real exports contain and what a loader can get wrong: 64-bit ids,
codes whose leading zeros must survive, quoted text with commas and doubled quotes,
non-ASCII text, exact decimals of up to 18 digits, floats in exponent form, dates,
microsecond timestamps, booleans, and unquoted empty fields (NULL). The same seed gives the
same bytes, so figures from different runs and machines load the very same data.

Next to the file it writes <file>.totals.json (row count, id and amount sums, NULL counts...)
so a benchmark can check that every path loaded the values, not just the right number of rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
from dataclasses import asdict, dataclass, field
from decimal import Decimal

# (name, logical type) in file order; the types are what `loader detect` should find.
COLUMNS = [
    ("id", "bigint"), ("code", "text"), ("customer", "text"), ("city", "text"),
    ("amount", "decimal(18,4)"), ("price", "float"), ("event_date", "date"), ("created_at", "timestamp"),
    ("active", "boolean"), ("quantity", "bigint"), ("status", "text"), ("comment", "text"),
]
NULLABLE = ("amount", "event_date", "quantity", "comment")
ID_BASE = 10_000_000_000  # beyond 32 bits: a real bigint
CHUNK_ROWS = 50_000

FIRST = ["Anna", "José", "Zoë", "Jürgen", "Søren", "François", "Łukasz", "Mei", "Ahmed", "Olga", "Ines",
         "Björk", "Chloé", "Dmitri", "Grace", "Hiroshi"]
LAST = ["Müller", "García", "O'Brien", "Nguyễn", "Smith", "Straße", "田中", "Kowalski", "Dubois", "Rossi",
        "Johansson", "Öztürk", "Novák", "Silva", "Brown", "Papadopoulos"]
NICK = ["Annie", "Jo", "Big J", "The Boss", "Doc"]
CITIES = ["Zürich", "São Paulo", "München", "Kraków", "Montréal", "東京", "Reykjavík", "Göteborg", "Málaga",
          "İstanbul", "London", "New York", "Berlin", "Paris", "Madrid", "Wien"]
STATUSES = ["new", "open", "pending", "on hold", "closed", "cancelled"]
COMMENTS = ["ok", "call back later", "delivered to reception", "paid in full", "priority customer",
            "address changed", "see ticket 4711", "needs review"]
QUOTED_COMMENTS = ['"late, but complete"', '"customer said ""fine"""', '"split, shipped, invoiced"',
                   '""']  # '""' is an empty string, not a NULL
PRICE_SCALES = [1e-7, 1e-5, 1e-3, 0.1, 1.0, 10.0, 1e3, 1e5]
AMOUNT_POWERS = [10**k for k in range(5, 19)]  # 18 digits at most, 4 of them after the point


@dataclass
class Totals:
    """What the file holds, for checking a load beyond its row count."""

    rows: int = 0
    id_sum: int = 0
    amount_units: int = 0  # sum of amount * 10^4, exact
    tokyo: int = 0  # rows whose city is 東京 (encoding survived)
    quoted_customers: int = 0  # customers containing a doubled quote in the file
    nulls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NULLABLE, 0))

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["amount_sum"] = str(Decimal(data.pop("amount_units")).scaleb(-4))
        return {"columns": dict(COLUMNS)} | data


def date_pool() -> list[str]:
    start = dt.date(2000, 1, 1)
    return [(start + dt.timedelta(days=d)).isoformat() for d in range(366 * 30)]


def time_pool() -> list[str]:
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]


def customer_pool() -> list[str]:
    """Every customer has a comma, so it is always quoted; some have doubled quotes too."""
    plain = [f'"{last}, {first}"' for last in LAST for first in FIRST]
    nicked = [f'"{last}, {first} ""{nick}"""' for last in LAST[:4] for first in FIRST[:4] for nick in NICK]
    return plain + nicked


class RowMaker:
    """Builds rows as plain strings: no csv module, no per-field objects, ~1M rows in seconds."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.dates, self.times = date_pool(), time_pool()
        self.customers = customer_pool()
        self.comments = COMMENTS * 4 + QUOTED_COMMENTS
        self.totals = Totals()

    def chunk(self, first_index: int, count: int) -> str:
        rows = [self.row(i) for i in range(first_index, first_index + count)]
        return "\n".join(rows) + "\n"

    def row(self, i: int) -> str:
        r, t = self.rng.random, self.totals
        row_id = ID_BASE + i * 7
        customer = self.customers[int(r() * len(self.customers))]
        city = CITIES[int(r() * len(CITIES))]
        fields = [str(row_id), f"{int(r() * 1_000_000):08d}", customer, city, self.amount(),
                  format(r() * PRICE_SCALES[int(r() * len(PRICE_SCALES))], ".7g"), self.nullable("event_date", 0.03),
                  f"{self.dates[int(r() * len(self.dates))]} {self.times[int(r() * 86400)]}.{int(r() * 1e6):06d}",
                  "true" if r() < 0.6 else "false",
                  self.nullable("quantity", 0.05), STATUSES[int(r() * len(STATUSES))], self.nullable("comment", 0.2)]
        t.rows += 1
        t.id_sum += row_id
        t.tokyo += city == "東京"
        t.quoted_customers += '""' in customer
        return ",".join(fields)

    def amount(self) -> str:
        if self.rng.random() < 0.02:
            self.totals.nulls["amount"] += 1
            return ""
        units = self.rng.getrandbits(60) % AMOUNT_POWERS[int(self.rng.random() * len(AMOUNT_POWERS))]
        sign = -1 if self.rng.random() < 0.1 else 1
        self.totals.amount_units += sign * units
        whole, frac = divmod(units, 10_000)
        return f"{'-' if sign < 0 and units else ''}{whole}.{frac:04d}"

    def nullable(self, column: str, p_null: float) -> str:
        r = self.rng.random
        if r() < p_null:
            self.totals.nulls[column] += 1
            return ""
        if column == "event_date":
            return self.dates[int(r() * len(self.dates))]
        if column == "quantity":
            return str(int(r() * 100_000))
        return self.comments[int(r() * len(self.comments))]


def generate(path: str, rows: int, seed: int = 42) -> Totals:
    """Write the CSV and its totals sidecar; returns the totals."""
    maker = RowMaker(seed)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(name for name, _ in COLUMNS) + "\n")
        for start in range(0, rows, CHUNK_ROWS):
            f.write(maker.chunk(start, min(CHUNK_ROWS, rows - start)))
    with open(totals_path(path), "w", encoding="utf-8") as f:
        json.dump(maker.totals.as_json(), f, ensure_ascii=False, indent=1)
    return maker.totals


def totals_path(path: str) -> str:
    return path + ".totals.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="data rows (default 1,000,000)")
    p.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same file")
    p.add_argument("--out", help="output path (default /tmp/loader_bench/bench_<rows>.csv)")
    args = p.parse_args()
    out = args.out or f"/tmp/loader_bench/bench_{args.rows}.csv"
    totals = generate(out, args.rows, args.seed)
    print(f"path={out} rows={totals.rows} bytes={os.path.getsize(out)}")


if __name__ == "__main__":
    main()
