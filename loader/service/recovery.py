"""What a crash or an abort left behind, and the tracking rows that say how far a load got.

At start: `loading` rows of dead processes on this host are failed, their staging dropped, and
staging left by finished loads (a crash between publish and cleanup) too; claimed files go back
to work first, in claim order. Per claim (in the worker that holds its lock): a `loading` row
of this claim's path belongs to a dead load; a `loaded` / `duplicate` row means the crash came
between commit and move, so the file is archived, never loaded twice. Every tracking-store call
of the service lives here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

from ..coltypes import DONE, Status
from ..config import RouteSettings, Settings
from ..errors import ConfigError, LoaderError
from ..logs import fields
from ..reconcile import fail_dead_loads
from ..targets import Target, open_target
from . import claim, folders

log = logging.getLogger("loader.service")
RECOVERY_WINDOW = 1000  # recent tracking rows whose leftover staging is dropped at start
Row = dict[str, object]


@contextlib.contextmanager
def connected(settings: Settings) -> Iterator[Target]:
    """A ready target, closed afterwards whatever happens."""
    target = open_target(settings)
    try:
        target.ensure_ready()
        yield target
    finally:
        with contextlib.suppress(Exception):
            target.close()


# -- at start -------------------------------------------------------------------------------------
def claimed_files(route_list: list[RouteSettings], tidy_after_s: float = 0.0,
                  quiet: bool = False) -> Iterator[tuple[RouteSettings, Path]]:
    """Files left in processing/ by a stop or crash, route by route, oldest claim first. With several
    hosts (`quiet`) most are other hosts' live claims: the caller says which it takes over."""
    for route in route_list:
        for path in claim.claimed(route.root, tidy_after_s):
            if not quiet:
                log.info("recovering %s (claimed before a stop or crash)", path,
                         extra=fields(file=path.name, stage="recover"))
            yield route, path


def reconcile_at_start(settings: Settings) -> None:
    """Fail the dead loads of this host and drop the staging no load will ever use.

    A database that is out of reach is waited for later, file by file; wrong settings (a bad
    password, a missing database) raise: the service stops at once with 78 instead of starting.
    """
    try:
        with connected(settings) as target:
            _fail_dead_loads(target, settings.schemas.stage)
            _drop_finished_stages(target, settings.schemas.stage)
    except ConfigError:
        raise
    except LoaderError as e:
        log.warning("could not reconcile the tracking table at start (%s); recovery happens per file", e)


def _fail_dead_loads(target: Target, stage_schema: str) -> None:
    fail_dead_loads(target, stage_schema)


def _drop_finished_stages(target: Target, stage_schema: str) -> None:
    rows = target.tracker.recent_loads(RECOVERY_WINDOW)
    finished = [str(r["load_id"]) for r in rows if r["status"] != Status.LOADING]
    for stage in target.drop_leftover_stages(stage_schema, finished):
        log.warning("dropped staging %s left by a finished load", stage, extra=fields(stage="recover"))


# -- per claim ------------------------------------------------------------------------------------
def earlier_load(target: Target, path: str, stage_schema: str) -> Row | None:
    """The last loaded/duplicate row of this claim, after failing the rows of its dead loads.

    Only call it holding the claim's lock: then no live process can own a 'loading' row of it.
    """
    rows = target.tracker.loads_of_file(path)
    for row in rows:
        if row["status"] == Status.LOADING:
            load_id = str(row["load_id"])
            target.tracker.mark_interrupted(load_id, f"interrupted: process {row['pid']} on {row['host']} stopped "
                                                     "before the load finished; the file was loaded again")
            target.drop_leftover_stages(stage_schema, [load_id])
            row["status"] = Status.FAILED
    return _last_done(rows)


def loaded_from(target: Target, path: str, schema: str, table: str) -> Row | None:
    """Backfill: the last loaded/duplicate row of this path into this table, if there was one (the same
    history backfilled into another table is loaded there too)."""
    rows = target.tracker.loads_of_file(path)
    return _last_done([r for r in rows if (r["schema_name"], r["table_name"]) == (schema, table)])


def _last_done(rows: list[Row]) -> Row | None:
    done = [r for r in rows if r["status"] in DONE]
    return done[-1] if done else None


# -- after an abort -------------------------------------------------------------------------------
def give_back(settings: Settings, root: str, path: Path) -> bool:
    """A killed load either committed (archive) or not (back to inbox/); True if it went back.

    If the database cannot say, the file stays in processing/ for the next start's recovery.
    """
    try:
        with connected(settings) as target:
            committed = _last_done(target.tracker.loads_of_file(str(path))) is not None
    except LoaderError as e:
        log.warning("%s stays in processing/ until the next start (%s)", path, e)
        return True
    if committed:
        folders.archive(root, path, dt.datetime.now(dt.UTC).date())
        return False
    claim.unclaim(root, path)
    return True
