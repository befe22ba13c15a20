"""A seeded generator of messy delimited files, in the shapes real files take, with ground truth.

The hand-written corpus (make_corpus.py) holds one clean example per feature; real collections
(scraped repositories, open-data portals, exports) are messier: tiny files, ragged rows, trailing
delimiters, totals lines, year headers, headerless word rows, comment lines. Each `kind` below
draws one such file from a seeded random generator, so the set is reproducible and unbounded.

Two parts, drawn from disjoint seeds: `tune` (looked at while tuning the detector) and `heldout`
(measured only, never read while tuning), so the figure on `heldout` says how the tuning
generalises. Ground truth per file: delimiter, quotechar (None when no quote character occurs),
has_header, n_rows (data records) and `rows` (rows in the intended table when loaded tolerantly).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

WORDS = ["alpha", "bravo", "delta", "echo", "kilo", "lima", "oscar", "sierra", "tango", "zulu", "north", "south",
         "red", "green", "blue", "basic", "premium", "open", "closed", "pending"]
CITIES = ["Berlin", "Paris", "Lyon", "Madrid", "Porto", "Oslo", "Graz", "Turin", "Leeds", "Cork", "Basel", "Ghent"]
NAMES = ["Anna Smith", "Bob Jones", "Chen Li", "Dara Khan", "Eva Berg", "Femi Ade", "Gus Moller", "Hana Sato"]
HEADERS = ["id", "name", "city", "amount", "qty", "date", "status", "price", "code", "score", "country", "email",
           "created_at", "total", "value", "year", "category", "description", "region", "count"]


@dataclass
class Truth:
    delimiter: str
    quotechar: str | None
    has_header: bool
    n_rows: int
    rows: int  # rows the intended table keeps
    kind: str


Row = list[str]


def _value(rng: random.Random, col: str, decimal_comma: bool = False) -> str:
    if col in ("id", "qty", "count", "year"):
        return str(rng.randint(1, 2030 if col == "year" else 9999))
    if col in ("amount", "price", "total", "value", "score"):
        v = f"{rng.uniform(0, 5000):.2f}"
        return v.replace(".", ",") if decimal_comma else v
    if col in ("date", "created_at"):
        return f"20{rng.randint(10, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if col == "city":
        return rng.choice(CITIES)
    if col == "name":
        return rng.choice(NAMES)
    if col == "email":
        return f"{rng.choice(WORDS)}{rng.randint(1, 99)}@example.org"
    if col == "code":
        return f"{rng.choice('ABCDEFGH')}{rng.randint(100, 999)}"
    if col == "description":
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
    return rng.choice(WORDS)


def _columns(rng: random.Random, lo: int = 2, hi: int = 8) -> list[str]:
    return rng.sample(HEADERS, rng.randint(lo, hi))


def _quote(cell: str, d: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if (d in cell or '"' in cell or "\n" in cell) else cell


def _write(rows: list[Row], d: str, eol: str = "\n", final: bool = True) -> str:
    text = eol.join(d.join(_quote(c, d) for c in r) for r in rows)
    return text + (eol if final else "")


def _table(rng: random.Random, cols: list[str], n: int, comma: bool = False) -> list[Row]:
    return [[_value(rng, c, comma) for c in cols] for _ in range(n)]


def _truth(text: str, d: str, header: bool, n: int, kind: str, rows: int | None = None) -> Truth:
    return Truth(d, '"' if '"' in text else None, header, n, n if rows is None else rows, kind)


def plain(rng: random.Random) -> tuple[str, Truth]:
    d = rng.choice([",", ",", ",", ";", "\t", "|"])
    cols = _columns(rng)
    rows = _table(rng, cols, rng.randint(1, 60), comma=d == ";" and rng.random() < 0.5)
    text = _write([cols, *rows], d, rng.choice(["\n", "\r\n"]), final=rng.random() < 0.85)
    return text, _truth(text, d, True, len(rows), "plain")


def tiny(rng: random.Random) -> tuple[str, Truth]:
    """2-4 lines, short names, numbers: the readings a sniffer confuses most."""
    d = rng.choice([",", ",", ";", "\t"])
    cols = rng.sample(["a", "b", "c", "x", "y", "id", "qty", "n", "val", "key"], rng.randint(2, 3))
    rows = [[str(rng.randint(0, 99)) for _ in cols] for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        rows[-1] = rows[-1][: rng.randint(1, len(cols) - 1)]  # the last row short
    text = _write([cols, *rows], d)
    return text, _truth(text, d, True, len(rows), "tiny")


def ragged(rng: random.Random) -> tuple[str, Truth]:
    """Hand-edited files: some rows miss trailing fields, some end with an extra empty one."""
    d = rng.choice([",", ",", ";", "\t"])
    cols = _columns(rng, 3, 7)
    rows = _table(rng, cols, rng.randint(4, 80))
    for r in rng.sample(range(len(rows)), max(1, len(rows) // 6)):
        if rng.random() < 0.6:
            rows[r] = rows[r][: rng.randint(1, len(cols) - 1)]
        else:
            rows[r] = [*rows[r], ""]
    text = _write([cols, *rows], d)
    return text, _truth(text, d, True, len(rows), "ragged")


def trailing_delimiter(rng: random.Random) -> tuple[str, Truth]:
    d = rng.choice([",", ";", "|"])
    cols = _columns(rng)
    rows = _table(rng, cols, rng.randint(2, 50))
    lines = [d.join(_quote(c, d) for c in r) + d for r in [cols, *rows]]
    text = "\n".join(lines) + "\n"
    return text, _truth(text, d, True, len(rows), "trailing_delimiter")


def no_header_words(rng: random.Random) -> tuple[str, Truth]:
    """Exported without a header; the first row is words like every other row."""
    d = rng.choice([",", ";", "\t"])
    cols = rng.choice([["name", "city", "status"], ["code", "name", "qty", "city"], ["name", "email", "score"]])
    rows = _table(rng, cols, rng.randint(3, 40))
    text = _write(rows, d)
    return text, _truth(text, d, False, len(rows), "no_header_words")


def no_header_numbers(rng: random.Random) -> tuple[str, Truth]:
    d = rng.choice([",", "\t", " ", ";"])
    rows = [[f"{rng.uniform(-10, 10):.3f}" for _ in range(rng.randint(2, 6))]] * 1
    width = len(rows[0])
    rows += [[f"{rng.uniform(-10, 10):.3f}" for _ in range(width)] for _ in range(rng.randint(2, 60))]
    text = _write(rows, d)
    return text, _truth(text, d, False, len(rows), "no_header_numbers")


def year_header(rng: random.Random) -> tuple[str, Truth]:
    """Statistics tables: a name column and one column per year."""
    d = rng.choice([",", ",", ";", "\t"])
    first = rng.randint(1990, 2015)
    years = [str(y) for y in range(first, first + rng.randint(2, 8))]
    label = rng.choice(["country", "Country Name", "region", ""])
    rows = [[rng.choice(CITIES)] + [str(rng.randint(100, 99999)) for _ in years] for _ in range(rng.randint(3, 40))]
    text = _write([[label, *years], *rows], d)
    return text, _truth(text, d, True, len(rows), "year_header")


def totals(rng: random.Random) -> tuple[str, Truth]:
    """A totals line below the data, sometimes an end marker after it."""
    d = rng.choice([",", ";"])
    cols = ["region", "code", "amount", "qty", "status"][: rng.randint(3, 5)]
    rows = [[rng.choice(CITIES), f"C{rng.randint(10, 99)}", f"{rng.uniform(1, 999):.2f}", str(rng.randint(1, 99)),
             "ok"][: len(cols)] for _ in range(rng.randint(3, 40))]
    total = ["TOTAL", "", f"{sum(float(r[2]) for r in rows):.2f}"] + [""] * (len(cols) - 3)
    tail = [total] + ([["EOF"]] if rng.random() < 0.5 else [])
    text = _write([cols, *rows, *tail], d)
    return text, _truth(text, d, True, len(rows), "totals")


def comments(rng: random.Random) -> tuple[str, Truth]:
    """Files from code repositories: comment lines above the table, blank lines, CRLF."""
    d = rng.choice([",", ",", "\t"])
    cols = _columns(rng)
    rows = _table(rng, cols, rng.randint(2, 40))
    top = "".join(f"# {' '.join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))}\n"
                  for _ in range(rng.randint(1, 4)))
    text = top + _write([cols, *rows], d, rng.choice(["\n", "\r\n"]))
    return text, _truth(text, d, True, len(rows), "comments")


def quoted(rng: random.Random) -> tuple[str, Truth]:
    """Free text with delimiters, quotes and line breaks inside quoted fields."""
    d = rng.choice([",", ",", ";"])
    cols = ["id", "title", "description", "amount"]
    rows = []
    for i in range(rng.randint(2, 40)):
        desc = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        if rng.random() < 0.3:
            desc = desc.replace(" ", d + " ", 1)
        if rng.random() < 0.15:
            desc = desc.replace(" ", "\n", 1)
        if rng.random() < 0.1:
            desc = f'the "{rng.choice(WORDS)}" one'
        rows.append([str(i + 1), rng.choice(NAMES), desc, f"{rng.uniform(1, 99):.2f}"])
    text = _write([cols, *rows], d)
    return text, _truth(text, d, True, len(rows), "quoted")


def single_column(rng: random.Random) -> tuple[str, Truth]:
    col = rng.choice(["email", "code", "name", "amount"])
    rows = [[_value(rng, col)] for _ in range(rng.randint(3, 50))]
    text = _write([[col], *rows], ",")
    return text, Truth("", '"' if '"' in text else None, True, len(rows), len(rows), "single_column")


def space_separated(rng: random.Random) -> tuple[str, Truth]:
    cols = rng.sample(["x", "y", "z", "t", "id", "value", "weight"], rng.randint(2, 5))
    rows = [[str(rng.randint(0, 999)) if c == "id" else f"{rng.uniform(0, 100):.4f}" for c in cols]
            for _ in range(rng.randint(3, 60))]
    text = _write([cols, *rows], " ")
    return text, _truth(text, " ", True, len(rows), "space_separated")


def european(rng: random.Random) -> tuple[str, Truth]:
    """Semicolons, decimal commas, day-first dates, a BOM-less cp1252-style export (as text here)."""
    cols = ["Datum", "Betrag", "Menge", "Ort"]
    rows = [[f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.20{rng.randint(10, 24)}",
             f"{rng.uniform(-999, 9999):.2f}".replace(".", ","), str(rng.randint(1, 50)), rng.choice(CITIES)]
            for _ in range(rng.randint(2, 40))]
    text = _write([cols, *rows], ";", "\r\n")
    return text, _truth(text, ";", True, len(rows), "european")


def years_only_header(rng: random.Random) -> tuple[str, Truth]:
    """A header of years only, over figures: every cell of it is a number."""
    d = rng.choice([",", ";", "\t"])
    first = rng.randint(1995, 2015)
    years = [str(y) for y in range(first, first + rng.randint(3, 7))]
    rows = [[f"{rng.uniform(0, 100):.1f}" for _ in years] for _ in range(rng.randint(3, 30))]
    text = _write([years, *rows], d)
    return text, _truth(text, d, True, len(rows), "years_only_header")


def sparse(rng: random.Random) -> tuple[str, Truth]:
    """Wide exports with many empty cells and blank lines between blocks."""
    d = rng.choice([",", ";", "\t"])
    cols = _columns(rng, 6, 12)
    rows = [[_value(rng, c) if rng.random() < 0.5 else "" for c in cols] for _ in range(rng.randint(5, 50))]
    rows = [r if any(r) else [*r[:-1], "x"] for r in rows]
    lines = [d.join(_quote(c, d) for c in r) for r in [cols, *rows]]
    for at in sorted(rng.sample(range(2, len(lines)), min(2, len(lines) - 2)), reverse=True):
        lines.insert(at, "")
    text = "\n".join(lines) + "\n"
    return text, _truth(text, d, True, len(rows), "sparse")


def short_text_rows(rng: random.Random) -> tuple[str, Truth]:
    """Rows that stop early (free text at the end left out) in a file with words only."""
    d = rng.choice([",", ";", "|"])
    cols = ["name", "city", "status", "description"]
    rows = _table(rng, cols, rng.randint(3, 30))
    for r in rng.sample(range(len(rows)), max(1, len(rows) // 4)):
        rows[r] = rows[r][:rng.randint(2, 3)]
    text = _write([cols, *rows], d)
    return text, _truth(text, d, True, len(rows), "short_text_rows")


KINDS: dict[str, Callable[[random.Random], tuple[str, Truth]]] = {
    f.__name__: f for f in (plain, tiny, ragged, trailing_delimiter, no_header_words, no_header_numbers,
                            year_header, totals, comments, quoted, single_column, space_separated, european,
                            years_only_header, sparse, short_text_rows)
}
PARTS = {"tune": 1_000, "heldout": 9_000_000}  # seed bases: the two parts never share a draw
PER_KIND = 8


def generate(part: str, per_kind: int = PER_KIND) -> list[tuple[str, bytes, Truth]]:
    """(file name, bytes, truth) for every file of a part."""
    out = []
    for k, (kind, make) in enumerate(KINDS.items()):
        for i in range(per_kind):
            rng = random.Random(PARTS[part] + 1000 * k + i)
            text, truth = make(rng)
            out.append((f"{kind}_{i}.csv", text.encode("utf-8"), truth))
    return out
