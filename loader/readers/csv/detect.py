"""Detect a delimited file's encoding, dialect, layout and column types from a bounded sample.

Pure logic over bytes: `detect_format` never touches the filesystem, so it is tested on
literals; `sniff` is the thin I/O wrapper (the head of the input, and its tail for trailer
lines), reading only through `Input.open()`. Layout means what exports add around the table
(shape.py): the reader skips a preamble and a trailer by byte offset, so they never reach a table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import IO

from ... import naming
from ...coltypes import Column, ColumnType
from ...errors import BadInputError, NoInputError, Where
from ..base import Detection, Input, ReadOptions
from . import encoding as enc
from .confirm import confirm_with_arrow
from .dialect import Dialect, sniff_with_doubt
from .header import fit_header, has_header
from .infer import infer_types
from .layout import CsvLayout
from .shape import Record, modal_width, preamble_end, records, tail_trailer_bytes, trailer

__all__ = ["DEFAULT_SAMPLE_BYTES", "DEFAULT_SAMPLE_ROWS", "detect_format", "sniff"]

# A few MB or a few thousand rows is enough to see the dialect and the usual values of each
# column; later values that do not fit are widened or rejected by the reader, never coerced.
DEFAULT_SAMPLE_BYTES = ReadOptions.sample_bytes
DEFAULT_SAMPLE_ROWS = ReadOptions.sample_rows
TAIL_BYTES = 64 * 1024  # where trailer lines of a large file are looked for
SAMPLE_ROW_SLACK = 200  # records parsed beyond the sampled rows: room for a preamble above them
# A first record may hold a quoted field larger than the sample (a base64 blob, a mail body): the
# sample grows until the header and two records end, up to this; a record longer than this is
# read as the sample cut it (and the reader refuses it with its line).
MAX_RECORD_SNIFF = 64 << 20
_SEP_LINE = re.compile(r'^"?sep=(.)"?\s*$', re.IGNORECASE)


def detect_format(sample: bytes, complete: bool, options: ReadOptions | None = None, file: str | None = None,
                  tail: bytes | None = None, size: int = -1) -> Detection:
    """Work out encoding, dialect, layout, header and types from the first bytes of a file.

    `complete` says whether `sample` is the whole file; if not, its last partial line is
    ignored so a row cut in half cannot mislead the guess, and `tail` (the file's last bytes)
    is where trailer lines are looked for; `size` is the file's, when known.
    """
    opts = options or ReadOptions()
    encoding, bom = _encoding(sample, opts, file)
    _check_utf16_length(encoding, len(sample) if complete else size, file)
    text = _text(sample, encoding, bom, complete, file)
    sep_chars, forced = _sep_line(text)
    start = sep_chars if opts.skip_rows is None else max(sep_chars, _line_start(text, opts.skip_rows, file))
    dialect, doubt = _dialect(text[start:], forced, opts)
    # a whole file is parsed whole: its trailer and row count are then known, not guessed
    recs = records(text, dialect, start, 10**9 if complete else opts.sample_rows + SAMPLE_ROW_SLACK)
    if not recs:
        raise BadInputError("the file is empty (no header, no rows)", Where(file=file))
    _check_width(recs, opts.max_columns, file)
    width = modal_width(recs)
    body = recs[preamble_end(recs, width):] if opts.skip_rows is None else recs  # pinned: the table starts there
    trail = trailer(body, width) if complete else []
    body = body[: len(body) - len(trail)]
    if not body:
        raise BadInputError("the file has no table (only title or total lines)", Where(file=file))
    evidence = [body[0].fields] + [r.fields for r in body[1:] if any(r.fields)]
    header = opts.has_header if opts.has_header is not None else has_header(evidence)
    layout = _layout(text, body, trail, header, _Codec(encoding, bom), dialect, complete)
    notes = ["NUL characters are removed from text values"] if layout.strip_nul else []
    notes += [doubt] if doubt else []
    columns, extra, column_notes = _columns(body, header, layout, opts)
    if not complete and tail is not None:
        width = len(columns) + len(extra)
        layout = replace(layout, trailer_bytes=tail_trailer_bytes(tail, encoding, dialect, width))
    if not complete:
        notes.append(f"rows not counted: the file is larger than the {len(sample) >> 10:,} KiB sample "
                     "(the load counts them)")
    rows = body[1:] if header else body
    layout = replace(layout, extra_columns=extra, rows_sampled=min(len(rows), opts.sample_rows))
    sampled = text[rows[0].start: rows[min(len(rows), opts.sample_rows) - 1].end] if rows else ""
    notes += column_notes + confirm_with_arrow(layout, columns, sampled, opts)
    n_rows = sum(1 for r in rows if any(r.fields)) if complete else None  # ";;" rows are blank, not data
    return Detection("csv", columns, layout, n_rows, notes)


@dataclass(frozen=True)
class _Codec:
    encoding: str
    bom: int  # length of the byte-order mark


def _check_utf16_length(encoding: str, size: int, file: str | None) -> None:
    """UTF-16 is two bytes per unit: an odd length is a file cut short, said so by detect and load alike."""
    if encoding.startswith("utf-16") and size >= 0 and size % 2:
        raise BadInputError(f"the file is {encoding} but has an odd number of bytes ({size:,}): its last "
                            "character is cut off (a truncated copy?); nothing loaded", Where(file=file))


def _line_start(text: str, lines: int, file: str | None) -> int:
    """Where the text after `lines` physical lines begins (skip_rows pinned: a title and notes above
    the table, whatever they look like, are not parsed at all)."""
    at = 0
    for _ in range(lines):
        end = text.find("\n", at)
        if end < 0:
            raise BadInputError(f"skip_rows = {lines} skips the whole file (it has fewer lines)", Where(file=file))
        at = end + 1
    return at


def _check_width(recs: list[Record], max_columns: int, file: str | None) -> None:
    """Refuse a row wider than load.max_columns before anything is allocated per column."""
    widest = max(recs, key=lambda r: len(r.fields))
    if len(widest.fields) > max_columns:
        raise BadInputError(f"a row has {len(widest.fields):,} fields, more than load.max_columns "
                            f"({max_columns:,}); nothing loaded (raise the setting if the table really is "
                            "that wide)", Where(file=file))


def _encoding(sample: bytes, opts: ReadOptions, file: str | None) -> tuple[str, int]:
    try:
        detected, bom = enc.detect(sample)
    except BadInputError as e:
        raise BadInputError(e.reason, Where(file=file)) from None
    if opts.encoding and opts.encoding != detected:
        return opts.encoding, bom if opts.encoding.startswith(detected[:6]) else 0
    return detected, bom


def _text(sample: bytes, encoding: str, bom: int, complete: bool, file: str | None) -> str:
    """The sample decoded, without a last line that the sample may have cut."""
    text = enc.decode(sample, encoding, bom, file)
    if not complete:
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut < 0:
            raise BadInputError(f"no line break in the first {len(sample) // 2**20} MB: not a delimited text file, "
                                "or a row longer than the sample", Where(file=file))
        text = text[: cut + 1]
    if not text.strip():
        raise BadInputError("the file is empty (no header, no rows)", Where(file=file))
    return text


def _sep_line(text: str) -> tuple[int, str | None]:
    """Excel's `sep=;` first line names the delimiter and is not part of the table."""
    first, newline, _ = text.partition("\n")
    m = _SEP_LINE.match(first.rstrip("\r"))
    return (len(first) + len(newline), m.group(1)) if m else (0, None)


def _dialect(text: str, forced: str | None, ov: ReadOptions) -> tuple[Dialect, str | None]:
    """The dialect, and a note when the sniffed delimiter (not pinned, not sep=) was a close call."""
    sniffed, doubt = sniff_with_doubt(text) if not (forced or ov.delimiter) or ov.quotechar is None else (None, None)
    delimiter = ov.delimiter or forced or (sniffed.delimiter if sniffed else ",")
    if forced or ov.delimiter:
        doubt = None
    if forced and not ov.delimiter and sniffed is None:
        sniffed, _ = sniff_with_doubt(text)
    quote = ov.quotechar if ov.quotechar is not None else (sniffed.quotechar if sniffed else '"')
    escape = ov.escapechar if ov.escapechar is not None else (sniffed.escapechar if sniffed else None)
    if sniffed is not None and (forced or ov.delimiter) and sniffed.delimiter != delimiter:
        escape = ov.escapechar  # the sniffed quote/escape belonged to another delimiter
        quote = ov.quotechar if ov.quotechar is not None else '"'
    spaced = bool(sniffed and sniffed.delimiter == delimiter and sniffed.skipinitialspace)
    return Dialect(delimiter, quote, escape, spaced), doubt


def _layout(text: str, body: list[Record], trail: list[Record], header: bool, codec: _Codec, d: Dialect,
            complete: bool) -> CsvLayout:
    head_start = body[0].start
    rows_start = (body[1].start if len(body) > 1 else body[0].end) if header else head_start
    trailer_text = text[body[-1].end:] if complete else ""
    return CsvLayout(encoding=codec.encoding, delimiter=d.delimiter, quotechar=d.quotechar or '"',
                     escapechar=d.escapechar, quoting=bool(d.quotechar), has_header=header,
                     quotes_seen=bool(d.quotechar) and d.quotechar in text, skipinitialspace=d.skipinitialspace,
                     skip_rows=_lines(text[:head_start]), data_offset=_bytes(text, head_start, codec),
                     rows_offset=_bytes(text, rows_start, codec), bom=bool(codec.bom),
                     header_lines=_lines(text[head_start:rows_start]),
                     trailer_bytes=len(trailer_text.encode(codec.encoding.replace("-sig", ""))),
                     trailer_rows=len(trail), longest_row=max(r.end - r.start for r in body),
                     strip_nul="\x00" in text)  # NUL: padding from legacy exports; no database stores it in text


def _lines(text: str) -> int:
    """Physical lines: '\n', '\r' and '\r\n' each end one."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _bytes(text: str, chars: int, codec: _Codec) -> int:
    """Byte offset in the file of character `chars` of the decoded text (0 stays 0: the BOM is read)."""
    return codec.bom + len(text[:chars].encode(codec.encoding.replace("-sig", ""))) if chars else 0


def _columns(body: list[Record], header: bool, layout: CsvLayout,
             opts: ReadOptions) -> tuple[list[Column], tuple[str, ...], list[str]]:
    """The table's columns, the physical columns not loaded, and the notes on the types."""
    rows = [[f.strip() for f in r.fields] if layout.skipinitialspace else r.fields for r in body]
    data = rows[1:] if header else rows
    width = _width(body, header)
    headers = fit_header(rows[0], width, data) if header else [""] * width
    extra: tuple[str, ...] = ()
    if header and width > 1 and headers[-1] == "" and all(len(r) < width or r[-1] == "" for r in data):
        width -= 1  # a trailing delimiter on every line: no column there
        extra = ("_trailing_empty",)
    sources = headers[:width]
    names = naming.column_names(sources)
    renamed = naming.renamed(sources, names)
    sample = data[: opts.sample_rows]
    full = [r for r in sample if len(r) == width + len(extra) and any(r)] or sample  # ragged: bad input
    columns, notes = [], list(renamed)
    for name, source, guess in zip(names, sources, infer_types(full, width, layout.delimiter)):
        pinned = _pinned(opts, name, source)
        columns.append(Column(name, pinned or guess.type, source, parse=None if pinned else guess.parse))
        if guess.note and not pinned:
            notes.append(f"column {name!r}: {guess.note}")
    return columns, extra, notes


def _width(body: list[Record], header: bool) -> int:
    """The reader's width is the data's; where the header's width is as common among the rows, the header's."""
    data = body[1:] if header and len(body) > 1 else body
    width = modal_width(data)
    named = len(body[0].fields)
    if header and named != width and sum(len(r.fields) == named for r in data) >= sum(len(r.fields) == width
                                                                                          for r in data):
        return named
    return width


def _pinned(opts: ReadOptions, name: str, header: str) -> ColumnType | None:
    pinned = opts.column_types.get(name) or (opts.column_types.get(header) if header else None)
    return ColumnType.parse(pinned) if pinned else None


def sniff(source: Input, options: ReadOptions | None = None) -> Detection:
    """Read the head (and, past the sample, the tail) of an input and detect its format."""
    opts = options or ReadOptions()
    try:
        with source.open() as f:
            sample = f.read(opts.sample_bytes + 1)
            complete = len(sample) <= opts.sample_bytes
            if not complete:
                sample, complete = _through_first_records(f, sample[: opts.sample_bytes])
            tail = None
            if not complete and source.size >= 0:  # a stream of unknown size has no tail to look at
                f.seek(max(len(sample), source.size - TAIL_BYTES))
                tail = f.read()
    except OSError as e:
        raise NoInputError(f"cannot read the file: {e.strerror or e}", Where(file=source.path)) from None
    return detect_format(sample, complete, opts, file=source.path, tail=tail, size=source.size)


def _through_first_records(f: IO[bytes], sample: bytes) -> tuple[bytes, bool]:
    """Grow a sample that ends inside the first records' quotes; (sample, whole file read).

    Only a quoted field grows it: an unquoted line longer than the sample stays the reader's to refuse.
    """
    while sample.count(b'"') % 2 and _record_ends(sample) < 3 and len(sample) < MAX_RECORD_SNIFF:
        more = f.read(min(len(sample), MAX_RECORD_SNIFF - len(sample)))
        if not more:
            return sample, True
        sample += more
    return sample, False


def _record_ends(data: bytes, enough: int = 3) -> int:
    """Line ends outside double quotes, counted up to `enough`: header, first row, second row."""
    ends, quotes, start = 0, 0, 0
    while ends < enough and (end := data.find(b"\n", start)) >= 0:
        quotes += data.count(b'"', start, end)
        ends += quotes % 2 == 0
        start = end + 1
    return ends
