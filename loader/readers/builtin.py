"""The readers that ship with loader; each module registers itself with readers.base on import.

A new input format is one module here and one line below: nothing else changes. Each reader's
sniff claims only its own content (the compressed reader leaves an .xlsx or .ods, which are zip
files too, to Excel), so the order of these imports does not matter.
"""

from __future__ import annotations

from . import compressed as _compressed  # noqa: F401
from . import excel as _excel  # noqa: F401
from . import jsonl as _jsonl  # noqa: F401
from . import parquet as _parquet  # noqa: F401
from . import xml as _xml  # noqa: F401

# The CSV reader registers itself as the default for text (loader/readers/csv/reader.py).
# from .csv import reader as _csv  (added by the reader-seam change)
