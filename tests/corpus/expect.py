"""The corpus manifest and how a detection result is compared with it (shared by the test and accuracy.py)."""

from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent
MANIFEST = CORPUS / "manifest.json"
SNIFF_SECONDS = 5.0  # a pathological file must end in a clear error within this

# the fields compared, in report order; a field absent from an entry is not compared
FIELDS = ("encoding", "delimiter", "quotechar", "escapechar", "has_header", "skip_rows", "n_rows", "columns")
_LATIN = {"cp1252", "windows1252", "latin1", "latin_1", "iso88591", "l1", "8859"}


def manifest() -> list[dict[str, Any]]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


@dataclass
class Outcome:
    """What detection did with one file: returned a format, raised, or did not finish in time."""

    fmt: Any = None
    error: BaseException | None = None
    trace: str = ""
    seconds: float = 0.0
    timed_out: bool = False


def sniff(path: Path, timeout: float = SNIFF_SECONDS) -> Outcome:
    """Run loader.detect in a daemon thread so a hang costs `timeout`, not the run."""
    from loader import detect

    out = Outcome()

    def run() -> None:
        try:
            out.fmt = detect(str(path))
        except BaseException as e:  # noqa: BLE001 - reported, never swallowed
            out.error, out.trace = e, traceback.format_exc()

    started = time.perf_counter()
    worker = threading.Thread(target=run, name=f"sniff {path.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    out.seconds = time.perf_counter() - started
    out.timed_out = worker.is_alive()
    return out


def norm_encoding(name: str | None) -> str | None:
    if name is None:
        return None
    n = name.lower().replace("-", "").replace("_", "")
    if n in {"utf8", "ascii", "usascii"}:
        return "utf8"
    if n in {"utf8sig", "utf8bom"}:
        return "utf8sig"
    if n.replace("iso", "") in _LATIN or n in _LATIN or n.startswith("iso8859"):
        return "cp1252"
    return n  # utf16le, utf16be


def kinds(expected: str | list[str]) -> list[str]:
    return expected if isinstance(expected, list) else [expected]


def got_value(fmt: Any, field: str) -> Any:
    """The detector's answer for one manifest field (getattr: the rewrite adds escapechar and n_rows)."""
    if field == "columns":
        return [{"name": c.name, "type": c.type.kind, "full": str(c.type)} for c in fmt.columns]
    return fmt.as_dict().get(field)  # what `loader detect --json` prints


def field_ok(entry: dict[str, Any], field: str, got: Any) -> bool:
    want = entry[field]
    if field == "encoding":
        return norm_encoding(got) == norm_encoding(want)
    if field == "columns":
        return columns_ok(want, got)
    if isinstance(want, list):  # debatable: any of these is right (the entry's note says why)
        return got in want
    return got == want


def columns_ok(want: list[dict[str, Any]], got: list[dict[str, Any]]) -> bool:
    if [c["name"] for c in want] != [c["name"] for c in got]:
        return False
    return all(g["type"] in kinds(w["type"]) for w, g in zip(want, got))


def compare(entry: dict[str, Any], fmt: Any) -> dict[str, tuple[bool, Any, Any]]:
    """field -> (ok, expected, got) for every field the entry states."""
    result: dict[str, tuple[bool, Any, Any]] = {}
    for field in FIELDS:
        if field not in entry or (field == "columns" and entry[field] is None):
            continue
        got = got_value(fmt, field)
        result[field] = (field_ok(entry, field, got), entry[field], got)
    return result


def describe_columns(want: list[dict[str, Any]], got: list[dict[str, Any]]) -> str:
    """Only the differing columns, so a 521-column file gives a readable failure."""
    lines = []
    if len(want) != len(got):
        lines.append(f"{len(want)} columns expected, {len(got)} detected")
    for i, (w, g) in enumerate(zip(want, got)):
        if w["name"] != g["name"] or g["type"] not in kinds(w["type"]):
            lines.append(f"  #{i + 1}: expected {w['name']}:{w['type']}  got {g['name']}:{g['full']}")
    return "\n".join(lines[:20])
