"""The bcp path: Arrow batches -> a terminated UTF-8 data file + a non-XML format file -> `bcp … in`.

Pure parts (tested by reading the files back): `encode_batch`, `format_file`, `parse_errors`.
Terminators are printable sequences a CSV value practically never holds (XML format files cannot
carry control characters, non-XML ones only a few escapes); a value that does hold one, or a NUL
(bcp's spelling of the empty string), is refused with its line and column instead of being split.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ..coltypes import Column
from ..errors import DatabaseUnavailableError
from .base import RowLocator, batches_of
from .odbc import MSSQL_CODES, odbc_error_class, text_width
from .sql.mssql import NVARCHAR_LIMIT, qualified

FIELD_TERMINATOR = "~|^"
ROW_TERMINATOR = "~|^\n"
# Rows per bcp transaction (-b): bcpandas measured 6x between 222 and 10,000; Sling uses 50k.
BCP_BATCH_ROWS = 50_000
_EMPTY = "\x00"  # bcp character format reads a field holding one NUL as the empty string
_ERROR_ROW = re.compile(r"Row (\d+), Column (\d+)")
# bcp prints each ODBC diagnostic as "SQLState = 28000, NativeError = 18456"
_DIAGNOSTIC = re.compile(r"SQLState = (\w{5}), NativeError = (\d+)")


def available() -> bool:
    return shutil.which("bcp") is not None


def encode_batch(batch: pa.RecordBatch) -> tuple[bytes, tuple[int, str, str] | None]:
    """One batch as data-file bytes; or the (row, column, reason) of a value the format cannot carry."""
    fields = []
    for name, arr in zip(batch.schema.names, batch.columns):
        if pa.types.is_string(arr.type):
            for needle, why in ((FIELD_TERMINATOR[:2], "the bcp terminator"), ("\x00", "a NUL character")):
                hits = pc.match_substring(arr, needle)
                if pc.any(hits).as_py():
                    return b"", (int(pc.index(hits, True).as_py()), name, f"value holds {why}; "
                                 "load it with database.bulk_path = \"odbc\"")
            text = pc.if_else(pc.equal(arr, ""), _EMPTY, arr)
        elif pa.types.is_boolean(arr.type):
            text = pc.cast(pc.cast(arr, pa.int8()), pa.string())
        elif pa.types.is_timestamp(arr.type):
            text = pc.strftime(arr, format="%Y-%m-%d %H:%M:%S")  # %S carries the fraction for "us"
        else:
            text = pc.cast(arr, pa.string())
        fields.append(text)
    if not fields or batch.num_rows == 0:
        return b"", None
    rows = pc.binary_join_element_wise(*fields, FIELD_TERMINATOR, null_handling="replace", null_replacement="")
    return (ROW_TERMINATOR.join(rows.to_pylist()) + ROW_TERMINATOR).encode("utf-8"), None


def format_file(columns: Sequence[Column]) -> str:
    """Non-XML format file (version 14.0): every field SQLCHAR in code page 65001, mapped by position.

    Fields map to columns by their server column order; the name field only has to be non-blank,
    so it is c1, c2… rather than a real name (which may hold spaces that would break the file).
    """
    lines = ["14.0", str(len(columns))]
    for i in range(1, len(columns) + 1):
        term = ROW_TERMINATOR if i == len(columns) else FIELD_TERMINATOR
        escaped = term.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f'{i}\tSQLCHAR\t0\t0\t"{escaped}"\t{i}\tc{i}\t""')
    return "\n".join(lines) + "\n"


def bcp_command(schema: str, table: str, data: str, fmt: str, errors: str, conn_args: list[str],
                batch_rows: int = BCP_BATCH_ROWS) -> list[str]:
    # -k keeps NULLs (no defaults), -C 65001 reads UTF-8, -m 1 stops at the first bad row,
    # -h TABLOCK takes the bulk-update lock: minimal logging into the empty heap.
    return ["bcp", qualified(schema, table), "in", data, "-f", fmt, "-e", errors, "-C", "65001", "-k", "-m", "1",
            "-b", str(batch_rows), "-h", "TABLOCK", *conn_args]


def parse_errors(text: str) -> tuple[int, int, str] | None:
    """bcp's -e file: '#@ Row 3, Column 2: <reason> @#' then the row; -> (data row, 1-based column, reason)."""
    m = _ERROR_ROW.search(text)
    if not m:
        return None
    reason = text[m.end():].split("@#", 1)[0].strip(" :")
    return int(m.group(1)), int(m.group(2)), reason


def write_via_bcp(schema: str, table: str, columns: list[Column], reader: pa.RecordBatchReader,
                  locate: RowLocator, conn_args: list[str], widen: object) -> int:
    """Stream the batches into a temp data file, widen text columns that need it, run bcp; files always removed."""
    widths = {c.name: 0 for c in columns if c.type.kind == "text"}
    rows = 0
    with tempfile.TemporaryDirectory(prefix="loader-bcp-") as tmp:
        data, fmt, errors = (os.path.join(tmp, n) for n in ("data.txt", "format.fmt", "errors.txt"))
        with open(data, "wb") as out:
            for batch in batches_of(reader):
                payload, bad = encode_batch(batch)
                if bad:
                    raise locate(rows + bad[0] + 1, bad[1], bad[2])
                for name in widths:
                    widths[name] = max(widths[name], text_width(batch.column(name)))
                out.write(payload)
                rows += batch.num_rows
        if rows == 0:
            return 0
        for name, width in widths.items():
            if width > NVARCHAR_LIMIT and callable(widen):
                widen(name, width)
        with open(fmt, "w", encoding="utf-8") as f:
            f.write(format_file(columns))
        cmd = bcp_command(schema, table, data, fmt, errors, conn_args)
        result = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        error_text = ""
        with contextlib.suppress(OSError), open(errors, encoding="utf-8", errors="replace") as f:
            error_text = f.read()
        if result.returncode != 0 or error_text.strip():
            raise _bcp_error(result.stdout + result.stderr, error_text, columns, locate)
    return rows


def _bcp_error(output: str, error_text: str, columns: list[Column], locate: RowLocator) -> Exception:
    parsed = parse_errors(error_text)
    if parsed:
        row, col, reason = parsed
        name = columns[col - 1].name if 0 < col <= len(columns) else None
        return locate(row, name, f"SQL Server (bcp) refused the value: {reason}")
    message = next((ln.strip() for ln in output.splitlines() if "Error" in ln or "error" in ln), output.strip()[:300])
    m = _DIAGNOSTIC.search(output)
    link = "login" in message.lower() or "connect" in message.lower() or "TCP" in message
    cls = odbc_error_class(m.group(1) if m else None, [int(m.group(2))] if m else [], message, link, MSSQL_CODES)
    if cls is DatabaseUnavailableError:
        return cls(f"bcp could not connect: {message}")
    return cls(f"bcp failed: {message}")
