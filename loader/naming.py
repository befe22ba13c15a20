"""Identifiers from file names, headers and config: made safe here, quoted by the targets.

Two rules: data-derived names (headers, file names) are normalised into lower-case
snake_case identifiers that any of our databases accepts unquoted; names a person typed
(--table, config) are checked and refused with a suggestion rather than silently changed.
"""

from __future__ import annotations

import os
import re
import unicodedata

from .errors import UsageError

# PostgreSQL truncates identifiers beyond 63 bytes (NAMEDATALEN - 1) without an error,
# which would make two long headers collide; we keep every name within that.
MAX_IDENTIFIER_BYTES = 63
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
_VALID = re.compile(r"^[^\W\d]\w*$", re.UNICODE)
# Names a table cannot take as columns, or should not: PostgreSQL's system columns (a CREATE TABLE
# with `xmin` fails; GIS bounding boxes have xmin,ymin,xmax,ymax) and SQLite's rowid aliases (a
# column of that name silently hides the rowid). One rule for every target: the same table shape.
RESERVED_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid", "oid", "rowid", "_rowid_"})


def normalise(text: str, fallback: str) -> str:
    """Turn any header or file stem into a safe identifier; `fallback` when nothing is left."""
    name = unicodedata.normalize("NFKC", text).strip().lower()
    name = _NOT_WORD.sub("_", name).strip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = "c_" + name
    return truncate_bytes(name, MAX_IDENTIFIER_BYTES)


def truncate_bytes(name: str, limit: int) -> str:
    data = name.encode("utf-8")[:limit]
    return data.decode("utf-8", errors="ignore").rstrip("_") or "c"


def column_names(headers: list[str]) -> list[str]:
    """Safe, unique names for a header row; blanks become col_<n>, duplicates get _2, _3…

    Linear in the number of headers: each base name remembers the next suffix to try, so 20,000
    copies of one header cost 20,000 steps, not 200 million.
    """
    names: list[str] = []
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    for i, header in enumerate(headers, start=1):
        base = column_name(header, f"col_{i}")
        name = base
        while name in taken:
            n = next_suffix[base] = next_suffix.get(base, 1) + 1
            suffix = f"_{n}"
            name = truncate_bytes(base, MAX_IDENTIFIER_BYTES - len(suffix)) + suffix
        taken.add(name)
        names.append(name)
    return names


def column_name(header: str, fallback: str) -> str:
    """One header as a safe column name; a reserved system-column name gets a trailing `_`."""
    name = normalise(header, fallback)
    return truncate_bytes(name, MAX_IDENTIFIER_BYTES - 1) + "_" if name in RESERVED_COLUMNS else name


def renamed(headers: list[str], names: list[str]) -> list[str]:
    """Notes for headers that a database would refuse as they are (system columns): say so."""
    return [f"column {h!r} is loaded as {n!r}: {h.strip().lower()!r} is a system column name in PostgreSQL "
            "or SQLite" for h, n in zip(headers, names) if normalise(h, "_") in RESERVED_COLUMNS]


# A compressed file is named for what it holds: sales.csv.gz is the table `sales`, not `sales_csv`.
COMPRESSION_SUFFIXES = (".gz", ".gzip", ".bz2", ".xz", ".zst", ".zstd", ".zip")


def file_stem(name: str) -> str:
    """A file name without its compression suffix and its format extension."""
    base = os.path.basename(name)
    if base.lower().endswith(COMPRESSION_SUFFIXES):
        base = os.path.splitext(base)[0]
    return os.path.splitext(base)[0] or base


def table_from_filename(stem: str) -> str:
    return normalise(stem, "table")


def check_identifier(name: str, what: str) -> str:
    """A name typed by a person must already be safe; we refuse instead of guessing."""
    ok = bool(_VALID.match(name)) and len(name.encode("utf-8")) <= MAX_IDENTIFIER_BYTES
    if not ok or name != name.lower():
        suggestion = normalise(name, "t")
        raise UsageError(
            f"{what} {name!r} is not a safe identifier: use lower-case letters, digits and _, "
            f"starting with a letter or _, at most {MAX_IDENTIFIER_BYTES} bytes (for example {suggestion!r})"
        )
    return name


def quote(name: str) -> str:
    """Standard SQL quoting (PostgreSQL, SQLite); names are validated before they get here."""
    if "\x00" in name:
        raise UsageError(f"identifier {name!r} contains a NUL character")
    return '"' + name.replace('"', '""') + '"'
