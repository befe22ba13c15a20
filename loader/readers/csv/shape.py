"""Where the table is in a delimited text: its records, its width, what exports add around it.

Exports put an Excel `sep=` line, titles and export dates above the header (the preamble) and
totals or end markers below the data (the trailer). This module finds both from the parsed
records' widths and words, so the reader can skip them by byte offset. Pure logic over text.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass

from .dialect import Dialect, csv_reader
from .header import header_like
from .infer import is_typed

MAX_TRAILER_ROWS = 5  # more short lines than this at the end are data (ragged rows), not a trailer
MAX_NOTE_CHARS = 300  # a footnote below a table ("Source: …") is a sentence or two, not a value
PREAMBLE_SEARCH = 60  # records looked at for the table's start: titles above a table are a few lines
_TRAILER_WORDS = re.compile(r"^\s*(total|totals|sum|grand total|count|rows|records|eof|end|end of (file|report)|trl|"
                            r"trailer|footer)\b",
                            re.IGNORECASE)


@dataclass
class Record:
    start: int  # character offsets of the record in the decoded text
    end: int
    fields: list[str]


def records(text: str, d: Dialect, start: int, limit: int) -> list[Record]:
    """Non-empty records with their character spans, up to `limit`."""
    out: list[Record] = []
    lines = _CountingLines(io.StringIO(text[start:], newline=""), start)
    try:
        for fields in csv_reader(lines, d):
            end = lines.chars
            if fields and (len(fields) > 1 or fields[0] != ""):  # ";;" rows are rows (of NULLs) to the reader
                out.append(Record(lines.record_start, end, fields))
            lines.record_start = end
            if len(out) >= limit:
                break
    except Exception:  # a csv error in a garbled sample: what was read so far is the evidence
        pass
    return out


class _CountingLines:
    """Feeds csv.reader line by line while counting the characters it consumed."""

    def __init__(self, f: io.StringIO, offset: int = 0):
        self.f, self.chars, self.record_start = f, offset, offset

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self.f)
        self.chars += len(line)
        return line


def modal_width(recs: list[Record]) -> int:
    widths = Counter(len(r.fields) for r in recs)
    multi = {w: n for w, n in widths.items() if w > 1}
    pool = multi if multi and sum(multi.values()) >= 0.3 * len(recs) else widths
    return max(pool.items(), key=lambda wn: (wn[1], wn[0]))[0]


def preamble_end(recs: list[Record], width: int) -> int:
    """Index of the record that starts the table (its header, or its first row).

    The table is the first run of records of the table's width; titles and notes above it
    have another width or a single filled cell (a title padded with delimiters). The record
    just above the run is its header when it is a row of names of about the same width
    (a header with an extra trailing delimiter, or one cell short for R's row names).
    """
    if width <= 1:
        return 0
    for i, r in enumerate(recs[:PREAMBLE_SEARCH]):
        if not _table_like(r, width) or not _run_follows(recs, i, width):
            continue
        if i > 0 and header_like(recs[i - 1].fields, width) and not header_like(r.fields, width, exact=True):
            return i - 1
        return i
    return 0


def _table_like(r: Record, width: int) -> bool:
    filled = sum(1 for f in r.fields if f)
    return len(r.fields) == width and filled >= min(2, width) and not _comment(r, width)


def _comment(r: Record, width: int) -> bool:
    return r.fields[0].startswith("#") and len(r.fields) != width


def _run_follows(recs: list[Record], i: int, width: int) -> bool:
    """Do the next records continue a table of this width? Ragged rows (short ones, or longer by
    empty trailing fields) continue it; a title or note line does not."""
    following = [x.fields for x in recs[i + 1: i + 4] if any(x.fields)]
    fits = sum(1 for f in following if 1 < len(f) <= width or not any(f[width:]))
    return not following or fits >= (len(following) + 1) // 2


def trailer(body: list[Record], width: int) -> list[Record]:
    """Lines after the data that exports add: totals, counts, end markers, notes."""
    found: list[Record] = []
    for i in range(len(body) - 1, 0, -1):
        r = body[i]
        if not any(r.fields):
            found.append(r)  # Excel leaves ";;;" rows below the data
            continue
        if len([t for t in found if any(t.fields)]) < MAX_TRAILER_ROWS and _trailer_line(r, width, i):
            found.append(r)
        else:
            break
    return list(reversed(found))


def _trailer_line(r: Record, width: int, above: int) -> bool:
    """A totals line (`TOTAL,,6493392.96,,` or `Total: 123`), an end marker, a note, a record count.

    A lone number is a short data row (`a,b / 1,2 / 3` is two rows), unless it counts the
    records above it (`above` counts the header too, so both readings of the count are accepted).
    """
    if width <= 1:
        return False
    fields = r.fields
    worded = bool(_TRAILER_WORDS.match(fields[0]))
    if len(fields) >= width:
        return worded and any(f == "" for f in fields[1:])  # a full-width totals line leaves columns empty
    if worded:
        return sum(1 for f in fields[1:] if f) <= 1 or len(fields) == 1
    if len(fields) > 1:
        return False
    value = fields[0].strip()
    if value.isdigit():
        return int(value) in (above, above - 1)
    return len(value) <= MAX_NOTE_CHARS and not is_typed(value)


def tail_trailer_bytes(tail: bytes, encoding: str, d: Dialect, width: int) -> int:
    """Trailer lines at the end of a file too large to sample whole."""
    codec = encoding.replace("-sig", "")
    text = tail.decode(codec, errors="replace")
    text = text[text.find("\n") + 1:]  # the first line may be cut
    found = trailer(records(text, d, 0, 10**6), width)
    return len(text[found[0].start:].encode(codec)) if found else 0
