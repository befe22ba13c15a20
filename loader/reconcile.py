"""Loads that died: a 'loading' tracking row whose process is gone, and the staging it left.

A `loader load` killed with -9 (or a crashed worker) cannot clean up after itself. Whoever next
touches the same table — the next `loader load` of it, holding the table lock — or `loader
status` or the service at start, marks such rows failed ("interrupted") and drops their staging.
Only rows of this host are judged: a pid means nothing on another machine.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket

import psutil

from .targets import Target

log = logging.getLogger("loader")
Row = dict[str, object]


def alive(row: Row) -> bool:
    """Is the process that wrote a 'loading' row still running (and not a later one with its pid)?"""
    try:
        proc = psutil.Process(int(str(row["pid"])))
        started = row["started_at"]
        if isinstance(started, str):
            started = dt.datetime.fromisoformat(started)
        if isinstance(started, dt.datetime):
            return proc.create_time() <= started.replace(tzinfo=dt.UTC).timestamp() + 1
        return True
    except (psutil.Error, ValueError, TypeError):
        return False


def dead_loads(rows: list[Row], host: str, table: tuple[str, str] | None = None) -> list[Row]:
    """The 'loading' rows of this host whose process is gone (of one table, when given)."""
    return [r for r in rows if r["host"] == host and (table is None or (r["schema_name"], r["table_name"]) == table)
            and not alive(r)]


def fail_dead_loads(target: Target, stage_schema: str, table: tuple[str, str] | None = None) -> list[str]:
    """Mark the dead loads of this host failed and drop their staging; returns their load ids."""
    host = socket.gethostname()
    done = []
    for row in dead_loads(target.tracker.unfinished_loads(), host, table):
        load_id = str(row["load_id"])
        if not target.tracker.mark_interrupted(load_id, f"interrupted: process {row['pid']} on {host} died "
                                                        "during the load"):
            continue
        dropped = target.drop_leftover_stages(stage_schema, [load_id])
        log.warning("load %s of %s was interrupted (its process died): marked failed, dropped %s", load_id,
                    row["file_name"], ", ".join(dropped) or "no staging table")
        done.append(load_id)
    return done
