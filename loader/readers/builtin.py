"""The readers that ship with loader; each module registers itself with readers.base on import.

A new input format is one module here and one line below: nothing else changes.
"""

from __future__ import annotations

# The CSV reader registers itself as the default for text (loader/readers/csv/reader.py).
# from .csv import reader as _csv  (added by the reader-seam change)
