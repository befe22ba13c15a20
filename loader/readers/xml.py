"""XML exports: one table row per repeating element, its attributes and children as columns.

The repeating element is named by a path (ReadOptions.extra["xml_path"]: "orders/order",
matched against the end of each element's path, namespaces ignored), or detected as the most
frequent element whose parent occurs once (so the items inside each order do not win over the
orders). lxml's iterparse reads the file as a stream and every element is cleared once used,
so memory holds one record at a time. The parser resolves no entities, loads no DTD and opens
no network connection: an XXE or a billion-laughs file is read as plain text or refused, and
huge_tree stays off (libxml2's own limits on depth and text size apply).

Values are text: the CSV inference types them. A child with children or attributes is one
level of nesting (child_grandchild columns, its own text as child_value); deeper structure and
repeated children are kept as JSON text (readers/common.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, ClassVar

import pyarrow as pa
from lxml import etree

from ..errors import BadInputError, Where
from ..rejects import RowPolicy
from . import base
from .common import BATCH_ROWS, RecordStream, flatten, infer_records

DETECT_ELEMENTS = 200_000  # elements looked at to find the repeating one: a few MB of a file


@dataclass
class XmlLayout:
    path: tuple[str, ...]  # the record element's path, outermost first (local names)

    def as_dict(self) -> dict[str, object]:
        return {"xml_path": "/".join(self.path)}


def local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def events(f: IO[bytes], path: str) -> Iterator[tuple[str, Any]]:
    """(event, element) from a parser that trusts nothing in the file; syntax errors located."""
    parser = etree.iterparse(f, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        yield from parser
    except etree.XMLSyntaxError as e:
        line = e.position[0] if e.position else None
        raise BadInputError(f"invalid XML: {e.msg}", Where(path, line=line)) from None


def release(el: Any) -> None:
    """Free an element and the siblings before it: iterparse would otherwise build the whole tree."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def records(f: IO[bytes], want: tuple[str, ...], path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(source line, record) for each element whose path ends with `want`."""
    stack: list[str] = []
    inside = 0  # depth of the record being read, 0 outside one
    for event, el in events(f, path):
        if event == "start":
            stack.append(local(el.tag))
            if not inside and tuple(stack[-len(want):]) == want:
                inside = len(stack)
            continue
        if inside == len(stack):
            yield el.sourceline, value_of(el) or {}
            inside = 0
        if not inside:
            release(el)
        stack.pop()


def value_of(el: Any) -> Any:
    """An element as text (a leaf) or as a dict of its attributes, children and own text."""
    children = [c for c in el if isinstance(c.tag, str)]
    text = (el.text or "").strip() or None
    if not children and not el.attrib:
        return text
    out: dict[str, Any] = {local(k): v for k, v in el.attrib.items()}
    for child in children:
        key, value = local(child.tag), value_of(child)
        if key in out:
            out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
        else:
            out[key] = value
    if text and children:
        out.setdefault("text", text)
    elif text:
        out.setdefault("value", text)
    return out


def detect_path(source: base.Input) -> tuple[str, ...]:
    """The most frequent element whose parent path occurs once, among the first elements."""
    counts: Counter[tuple[str, ...]] = Counter()
    stack: list[str] = []
    with source.open() as f:
        for n, (event, el) in enumerate(events(f, source.path)):
            if event == "start":
                stack.append(local(el.tag))
                counts[tuple(stack)] += 1
            else:
                stack.pop()
                release(el)
            if n >= 2 * DETECT_ELEMENTS:
                break
    repeated = [(c, p) for p, c in counts.items() if c > 1 and counts[p[:-1]] == 1]
    if not repeated:
        roots = [p for p in counts if len(p) == 2]
        if not roots:
            raise BadInputError("no repeating element to read as rows; name one with xml_path", Where(source.path))
        return roots[0]
    return max(repeated, key=lambda cp: (cp[0], -len(cp[1])))[1]


def parse_path(text: str) -> tuple[str, ...]:
    parts = tuple(p for p in re.split(r"[/.]", text.strip()) if p)
    if not parts:
        raise BadInputError(f"xml_path {text!r} names no element")
    return parts


class XmlReader:
    format: ClassVar[str] = "xml"

    def detect(self, source: base.Input, options: base.ReadOptions) -> base.Detection:
        wanted = options.extra.get("xml_path")
        path = parse_path(wanted) if wanted else detect_path(source)
        sample: list[dict[str, Any]] = []
        with source.open() as f:
            for _, record in records(f, path, source.path):
                sample.append(flatten(record))
                if len(sample) > options.sample_rows:
                    break
        complete = len(sample) <= options.sample_rows
        sample = sample[: options.sample_rows]
        columns = infer_records(sample)
        if not columns:
            raise BadInputError(f"no <{path[-1]}> element with attributes or children", Where(source.path))
        notes = [f"rows are <{'/'.join(path)}> elements"]
        return base.Detection(self.format, columns, XmlLayout(path), n_rows=len(sample) if complete else None,
                              notes=notes)

    def stream(self, source: base.Input, detection: base.Detection, options: base.ReadOptions,
               policy: RowPolicy) -> XmlStream:
        return XmlStream(source, detection, policy)


class XmlStream(RecordStream):
    """A record's line is the line its element starts on."""

    what = "element"

    def __init__(self, source: base.Input, detection: base.Detection, policy: RowPolicy):
        super().__init__(source.path, detection.columns, policy)
        self.source, self.path_ = source, detection.layout.path
        self.keys = [c.source_name or c.name for c in self.columns]
        self._lines: list[int] = []
        self._first = 0

    def _read(self) -> Iterator[pa.RecordBatch]:
        rows: list[list[Any]] = []
        lines: list[int] = []
        with self.source.open() as f:
            for line, record in records(f, self.path_, self.path):
                flat = flatten(record)
                rows.append([flat.get(k) for k in self.keys])
                lines.append(line)
                if len(rows) >= BATCH_ROWS:
                    yield self._batch(rows, lines)
                    rows, lines = [], []
        if rows:
            yield self._batch(rows, lines)

    def _batch(self, rows: list[list[Any]], lines: list[int]) -> pa.RecordBatch:
        self._first, self._lines = self.rows, lines
        batch, rejects = self.caster.text_rows(rows, self.rows)
        return self.emit(batch, rejects, len(rows))

    def line_of(self, record: int) -> int | None:
        index = record - self._first
        if 0 <= index < len(self._lines):
            return self._lines[index]
        with self.source.open() as f:
            for n, (line, _) in enumerate(records(f, self.path_, self.path)):
                if n == record:
                    return line
        return None


def sniff(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<?xml") or re.match(rb"<[A-Za-z_][\w.:-]*[\s>/]", text) is not None


base.register(XmlReader(), suffixes=[".xml"], sniff=sniff)
