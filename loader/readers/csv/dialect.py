"""Which delimiter, quote and escape character make a text sample look most like a table.

The method is CleverCSV's data-consistency measure (van den Burg et al., 2019): parse the
sample with every plausible dialect and score each parse by how regular its rows are
(pattern score) times how many of its cells look like typed values (type score). A dialect
that splits inside words or merges columns produces irregular rows of untyped cells and
loses. Pure logic over a string: no I/O here.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .infer import MAX_TYPED_CHARS, is_typed  # longer cells are only ever word-like text

csv.field_size_limit(2**31 - 1)  # a 1 MB field is data, not an error

# Common delimiters first: on a tie, the earlier one wins.
DELIMITERS = [",", ";", "\t", "|", ":", "^", "~", "#", "/", " "]
QUOTES = ['"', "'", ""]
SNIFF_CHARS = 64 * 1024  # enough rows to see the pattern; scoring every dialect stays ~50 ms
SNIFF_ROWS = 300
SCORED_CELLS = 20_000  # cells type-scored per dialect: a 2 MB line of commas costs 20k regex calls, not 2M
_EPS = 1e-3

# Cells that look like a value of some type, not free text (CleverCSV's "known types", trimmed).
_TYPED = re.compile(
    r"""(?:
      |[-+]?(?:\d+|\d{1,3}(?:[,.' ]\d{3})+)(?:[.,]\d+)?(?:[eE][-+]?\d+)?\s*%?        # numbers, 1,234.5, 12%
      |[-+]?[.,]\d+(?:[eE][-+]?\d+)?
      |[$€£¥]\s*[-+]?\d[\d,.' ]*|[-+]?\d[\d,.' ]*\s*[$€£¥]                           # currency
      |\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp][Mm])?
          (?:Z|[-+]\d{2}:?\d{2})?)?                                                     # dates, datetimes
      |\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[AaPp][Mm])?                          # times
      |(?i:true|false|yes|no|y|n|t|f|null|none|nan|n/?a|-)                              # flags, missing
      |(?:https?|ftp)://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+                         # urls, emails
      |[^\W_][\w .'-]*                                                                  # words, names, codes
    )""",
    re.VERBOSE,
)
# Matched with fullmatch on a stripped cell: no leading or trailing `\s*` that could trade spaces
# with the pattern inside (that backtracked quadratically: 88 s on one 65,000-space cell).
_WORDS = re.compile(r"[^\W_][\w .'-]*")


def typed_cell(cell: str) -> bool:
    """Does a cell look like a value of some type? Linear in its length."""
    c = cell.strip()
    if len(c) > MAX_TYPED_CHARS:
        return _WORDS.fullmatch(c) is not None
    return _typed_short(c)


@functools.lru_cache(maxsize=1 << 16)
def _typed_short(c: str) -> bool:
    """Cached, for cells of at most MAX_TYPED_CHARS (so the cache stays a few MB): candidate
    dialects that split a row alike, and files of one feed, ask about the same cells again."""
    return _TYPED.fullmatch(c) is not None


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    quotechar: str  # "" when the file uses no quoting
    escapechar: str | None = None
    skipinitialspace: bool = False  # "a , b": hand-edited files put spaces around delimiters


def reader(text: str, d: Dialect) -> Iterator[list[str]]:
    return csv_reader(io.StringIO(text, newline=""), d)


def csv_reader(lines: Iterable[str], d: Dialect) -> Iterator[list[str]]:
    """Python's csv reader configured for a dialect; a delimiter of '' means one column."""
    delimiter = d.delimiter or "\x1f"  # a unit separator never seen in text: one field per line
    if d.quotechar:
        return csv.reader(lines, delimiter=delimiter, quotechar=d.quotechar, escapechar=d.escapechar,
                          doublequote=d.escapechar is None, strict=False, skipinitialspace=d.skipinitialspace)
    return csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE, escapechar=d.escapechar,
                      skipinitialspace=d.skipinitialspace)


CLOSE_CALL = 0.9  # a reading with another delimiter scoring within 10% of the best makes the choice unsure


def sniff(text: str) -> Dialect:
    """The dialect with the best consistency score over the head of `text`."""
    return sniff_with_doubt(text)[0]


def sniff_with_doubt(text: str) -> tuple[Dialect, str | None]:
    """The best dialect, and a note when a reading with another delimiter scored nearly as well:
    the load says so (tracking row, log) rather than being silently unsure."""
    head = _head(text)
    parsed = [(rank, d, parse(head, d, SNIFF_ROWS)) for rank, d in enumerate(candidates(head))]
    done: dict[int, float] = {}
    scored = _scored(parsed, done)
    best = max(scored, key=lambda sd: sd[0])[1] if scored else Dialect(",", '"')
    if len(_first(head, best)) <= 1:  # the header rule weighs every reading: score them all
        scored = _scored(parsed, done, bound=False)
    best = _keep_named_header(head, best, scored)
    if best.quotechar == "" and '"' not in head:
        best = Dialect(best.delimiter, '"', best.escapechar, best.skipinitialspace)  # nothing quoted
    if best.quotechar and best.escapechar is None and _backslash_escaped(head, best.quotechar):
        best = Dialect(best.delimiter, best.quotechar, "\\", best.skipinitialspace)
    return best, _doubt(best, scored)


def _scored(parsed: list[tuple[int, Dialect, list[list[str]]]], done: dict[int, float],
            bound: bool = True) -> list[tuple[float, Dialect]]:
    """(score, dialect) of the readings that can matter, best bound first. A reading's pattern score
    bounds its whole score (the other factors are at most 1), so one whose bound is under CLOSE_CALL
    of the best so far can neither win nor cast doubt, and its type score (most of the cost: a regex
    per cell) is never computed. The same best and the same doubt as scoring every reading."""
    bounds = sorted(((_bound(rows, d) * (1 - rank * 1e-6), rank, d, rows) for rank, d, rows in parsed),
                    key=lambda b: (-b[0], b[1]))
    out: list[tuple[float, int, Dialect]] = []
    top = -1.0
    for upper, rank, d, rows in bounds:
        if bound and upper < CLOSE_CALL * top:
            break
        if rank not in done:  # `done`: scores of an earlier call, by rank
            done[rank] = consistency_of(rows, d) * (1 - rank * 1e-6)  # earlier candidates win exact ties
        score = done[rank]
        out.append((score, rank, d))
        top = max(top, score)
    return [(score, d) for score, _, d in sorted(out, key=lambda s: (-s[0], s[1]))]  # max(): the earliest


def _bound(rows: list[list[str]], d: Dialect) -> float:
    return pattern_score(rows, single=not d.delimiter) if rows else 0.0


def _doubt(best: Dialect, scored: list[tuple[float, Dialect]]) -> str | None:
    top = max((s for s, d in scored if d.delimiter == best.delimiter), default=0.0)
    rival = max(((s, d) for s, d in scored if d.delimiter not in (best.delimiter, "")), default=None,
                key=lambda sd: sd[0])
    if rival is None or top <= 0 or rival[0] < CLOSE_CALL * top:
        return None
    return (f"delimiter unsure: {rival[1].delimiter!r} read the sample almost as well as {best.delimiter!r} "
            f"({rival[0] / top:.0%} of its score); pin the delimiter if the columns look wrong")


def _keep_named_header(head: str, best: Dialect, scored: list[tuple[float, Dialect]]) -> Dialect:
    """Never a reading that collapses a header of names into one column when a delimiter splits it.

    On a tiny file the type score can favour one column of "1,2" read as decimal commas over
    `a,b` split into two named columns; a first row that splits into distinct names, with the
    rows below mostly as wide, is a table of that width. The best such dialect wins.
    """
    if len(_first(head, best)) > 1:
        return best
    split = [(s, d) for s, d in scored if d.delimiter and _named_split(head, d)]
    return max(split, key=lambda sd: sd[0])[1] if split else best


def _first(head: str, d: Dialect) -> list[str]:
    rows = parse(head, d, 1)
    return rows[0] if rows else []


def _named_split(head: str, d: Dialect) -> bool:
    rows = parse(head, d, SNIFF_ROWS)
    names = [c.strip() for c in rows[0]] if rows else []
    if len(names) < 2 or not all(names) or len(set(names)) != len(names) or any(map(is_typed, names)):
        return False
    below = rows[1:]
    # one or two rows below are no evidence against the header (a tiny file's last row may be short)
    return len(below) <= 2 or sum(1 for r in below if len(r) == len(names)) >= 0.5 * len(below)


def _backslash_escaped(head: str, quote: str) -> bool:
    """\\" inside quoted values and never a doubled quote: MySQL/PHP-style escaping."""
    if "\\" + quote not in head:
        return False  # nothing escaped (the usual case): no need to search for doubled quotes
    escaped = len(re.findall(re.escape("\\" + quote) + r"(?=[^,;|\t\r\n" + re.escape(quote) + r"])", head))
    doubled = len(re.findall(r"(?<=[^\s,;|\t\\])" + re.escape(quote * 2), head))
    return escaped > 0 and doubled == 0


def _head(text: str) -> str:
    """The first SNIFF_CHARS of the text, cut after a whole record.

    A line break inside a double-quoted field is not the end of a record: when the window ends
    inside one (a base64 blob or a mail body in the first record), it grows to the first line
    end after the quotes close, so every dialect is scored on whole records. Linear: each
    character's quotes are counted once.
    """
    if len(text) <= SNIFF_CHARS:
        return text
    cut = text.rfind("\n", 0, SNIFF_CHARS)
    if cut > 0 and text.count('"', 0, cut) % 2 == 0:
        return text[: cut + 1]
    start, quotes = 0, 0
    while (end := text.find("\n", start)) >= 0:
        quotes += text.count('"', start, end)
        if quotes % 2 == 0 and end >= SNIFF_CHARS // 2:
            return text[: end + 1]
        start = end + 1
    return text


def candidates(head: str) -> list[Dialect]:
    present = set(head)
    delimiters = [d for d in DELIMITERS if d in present]
    # the three most frequent odd characters, ties in order of first appearance (as Counter ranks them);
    # counted one by one, since a Counter of the whole head costs more than the rest of this function
    odd = sorted((c for c in present if _odd_delimiter(c)), key=lambda c: (-head.count(c), head.index(c)))
    delimiters += odd[:3]
    quotes = [q for q in QUOTES if q in ('"', "") or q in present]  # '"' first: it wins ties
    escapes: list[str | None] = [None, "\\"] if "\\" in present else [None]
    out = [Dialect(d, q, e) for d in delimiters for q in quotes for e in escapes if d != q]
    lines = head.count("\n") + 1
    spaced = [d for d in delimiters if d not in " \t" and head.count(d + " ") >= lines]
    out += [Dialect(d, q, e, True) for d in spaced for q in quotes for e in escapes if d != q]
    return out + [Dialect("", q) for q in quotes]  # a single column is a dialect too


def _odd_delimiter(ch: str) -> bool:
    return (ch.isprintable() and not ch.isalnum() and ch not in DELIMITERS
            and ch not in "\"'\\ .-_()[]{}@+=&*!?%$€£" and ord(ch) < 128)


def consistency(head: str, d: Dialect) -> float:
    return consistency_of(parse(head, d, SNIFF_ROWS), d)


def consistency_of(rows: list[list[str]], d: Dialect) -> float:
    if not rows:
        return 0.0
    return pattern_score(rows, single=not d.delimiter) * type_score(rows) * (1 - _glued_quotes(rows, d))


def _glued_quotes(rows: list[list[str]], d: Dialect) -> float:
    """Share of cells that still begin with a quote character after parsing.

    A well-parsed quoted field loses its opening quote; one left in place means the quote was
    not understood (wrong quote character) or the split cut through quoted text (wrong delimiter).
    """
    cells = [c for r in rows for c in r if c]
    if not cells:
        return 0.0
    return sum(1 for c in cells if c[0] in "\"'" or _SWALLOWED.search(c)) / len(cells)


# '","' inside one cell: a whole quoted CSV line swallowed by a split on another character
_SWALLOWED = re.compile(r'"[,;\t|]"')


def parse(text: str, d: Dialect, limit: int) -> list[list[str]]:
    out: list[list[str]] = []
    try:
        for row in reader(text, d):
            if row:
                out.append(row)
            if len(out) >= limit:
                break
    except csv.Error:
        return out
    return out


def pattern_score(rows: list[list[str]], single: bool = False) -> float:
    """Regular rows with many cells score high; every distinct row length costs.

    A single-column parse is scored like two columns: then it wins only on its type score,
    i.e. when whole lines are values (timestamps, decimal commas) that a split would break.
    """
    lengths = Counter(len(r) for r in rows)
    total = sum(n * (0.5 if single else max(_EPS, length - 1) / length) for length, n in lengths.items())
    return total / len(lengths)


def type_score(rows: list[list[str]]) -> float:
    cells = [c for r in rows for c in r]
    if not cells:
        return _EPS
    if len(cells) > SCORED_CELLS:
        cells = cells[:: len(cells) // SCORED_CELLS + 1]
    typed = sum(1 for c in cells if typed_cell(c))
    return max(_EPS, typed / len(cells))
