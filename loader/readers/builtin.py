"""The readers that ship with loader, registered with readers.base.

A new input format is one module (or package) and one line below: nothing else changes. Each
reader's sniff claims only its own content (the compressed reader leaves an .xlsx or .ods, which
are zip files too, to Excel), so the order of these imports does not matter.
"""

from __future__ import annotations

from . import compressed as _compressed  # noqa: F401
from . import excel as _excel  # noqa: F401
from . import jsonl as _jsonl  # noqa: F401
from . import parquet as _parquet  # noqa: F401
from . import query as _query  # noqa: F401
from . import xml as _xml  # noqa: F401
from .base import register
from .csv.reader import SUFFIXES as CSV_SUFFIXES
from .csv.reader import CsvReader

register(CsvReader(), CSV_SUFFIXES)  # no sniff: delimited text is the default for whatever is text
