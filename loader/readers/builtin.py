"""The readers that ship with loader, registered with readers.base.

A new input format is one module (or package) and one line below: nothing else changes.
"""

from __future__ import annotations

from .base import register
from .csv.reader import SUFFIXES as CSV_SUFFIXES
from .csv.reader import CsvReader

register(CsvReader(), CSV_SUFFIXES)  # no sniff: delimited text is the default for whatever is text
