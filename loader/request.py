"""What a caller asks one load to do: the file, the table, the mode, and the route's extras.

Its own module so that load.py (which decides) and stage.py (which moves the rows) both read it
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .coltypes import Mode
from .mapping import Mapping
from .targets.claims import Lease


@dataclass(frozen=True)
class LoadRequest:
    path: str
    table: str | None = None  # default: from the file name
    mode: str = Mode.FULLLOAD
    force: bool = False  # append even if this content was appended before
    route: str = "cli"
    rejects_dir: str | None = None  # where <name>.rejects.csv goes (a route's rejects/)
    keys: tuple[str, ...] = ()  # merge: the key columns rows are upserted on
    mapping: Mapping | None = None  # a route's columns: names, types, formats, value columns (mapping.py)
    lease: Lease | None = None  # several hosts: the table's lease its publish is fenced by (targets/claims.py)
