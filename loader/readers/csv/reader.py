"""The CSV reader: delimited text of any dialect, encoding and layout, behind the Reader seam.

The default for text: an input no other reader claims by content or by name is read as
delimited text, and the detector refuses, with a clear reason, what is not text at all.
"""

from __future__ import annotations

from typing import ClassVar

from ...rejects import RowPolicy
from ..base import Detection, Input, ReadOptions
from .detect import sniff
from .stream import CsvStream

SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".psv", ".dat")


class CsvReader:
    format: ClassVar[str] = "csv"

    def detect(self, source: Input, options: ReadOptions) -> Detection:
        return sniff(source, options)

    def stream(self, source: Input, detection: Detection, options: ReadOptions, policy: RowPolicy) -> CsvStream:
        return CsvStream(source, detection, options.block_size, policy)
