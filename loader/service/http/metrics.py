"""/metrics: Prometheus text from prometheus-client, on a registry of the service's own.

Counters move when a file reaches its end (the supervisor hands each outcome over) and when an
upload is answered; gauges are read from the supervisor's latest snapshot at scrape time, so a
scrape never touches the loop's structures. Names follow Prometheus' conventions: a counter
`loader_files` is exposed as `loader_files_total`.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from typing import Any

import psutil
from prometheus_client import CollectorRegistry, Counter, Histogram, Info, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ... import __version__
from ..live import Live

# load durations from a small file (~0.1 s of fixed cost) to a big one (minutes)
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class Metrics:
    def __init__(self, live: Live):
        self.registry = CollectorRegistry()
        r = self.registry
        self.files = Counter("loader_files", "Files that reached their end, by status", ["route", "table", "status"],
                             registry=r)
        self.rows = Counter("loader_rows", "Rows of finished files: loaded or rejected", ["route", "table", "kind"],
                            registry=r)
        self.bytes = Counter("loader_bytes", "Bytes of the files loaded", ["route"], registry=r)
        self.duration = Histogram("loader_load_duration_seconds", "Seconds one file's load took", ["route"],
                                  buckets=DURATION_BUCKETS, registry=r)
        self.uploads = Counter("loader_uploads", "HTTP uploads by outcome: accepted, refused, too_large, aborted, "
                               "failed", ["route", "outcome"], registry=r)
        self.upload_bytes = Counter("loader_upload_bytes", "Bytes received in accepted uploads", ["route"],
                                    registry=r)
        Info("loader_build", "The loader's version", registry=r).info(
            {"version": __version__, "python": platform.python_version()})
        ProcessCollector(registry=r)  # process_resident_memory_bytes etc. of the supervisor itself
        r.register(LiveCollector(live))
        live.listeners.append(self.outcome)

    def outcome(self, route: str, table: str, out: Any) -> None:
        result = out.result
        status = str(result.status) if result is not None else ("failed" if str(out.action) == "failed" else None)
        if status is None:  # a recovered file archived without a result was counted before the crash
            return
        self.files.labels(route, table, status).inc()
        if result is None:
            return
        self.rows.labels(route, table, "loaded").inc(result.rows_loaded)
        self.rows.labels(route, table, "rejected").inc(result.rows_rejected)
        if status == "loaded":
            self.duration.labels(route).observe(result.seconds)
            size = _size(out)
            if size:
                self.bytes.labels(route).inc(size)

    def upload(self, route: str, outcome: str, size: int = 0) -> None:
        self.uploads.labels(route, outcome).inc()
        if outcome == "accepted":
            self.upload_bytes.labels(route).inc(size)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _size(out: Any) -> int:
    import os

    try:
        return os.stat(out.moved_to).st_size if out.moved_to else 0
    except OSError:
        return 0


class LiveCollector(Collector):
    """Gauges from the supervisor's snapshot, read at scrape time."""

    def __init__(self, live: Live):
        self.live = live

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.live.snapshot
        queued = GaugeMetricFamily("loader_queue_depth", "Files settled and waiting for their turn", labels=["route"])
        running = GaugeMetricFamily("loader_running", "Files loading now", labels=["route"])
        oldest = GaugeMetricFamily("loader_oldest_waiting_seconds", "How long the oldest waiting file has waited",
                                   labels=["route"])
        for r in s.routes:
            queued.add_metric([r.name], r.queued)
            running.add_metric([r.name], r.running)
            oldest.add_metric([r.name], r.oldest_waiting_s or 0.0)
        yield from (queued, running, oldest)
        workers = GaugeMetricFamily("loader_workers", "Worker processes, busy and in all", labels=["state"])
        workers.add_metric(["busy"], s.busy)
        workers.add_metric(["total"], s.workers)
        yield workers
        yield GaugeMetricFamily("loader_database_unavailable", "1 while the database does not answer",
                                value=1.0 if s.db_down else 0.0)
        yield GaugeMetricFamily("loader_ready", "1 once the routes are scanned, 0 while stopping",
                                value=1.0 if self.live.ready else 0.0)
        yield GaugeMetricFamily("loader_uploads_waiting", "Complete uploads waiting for their name to free in inbox/",
                                value=s.uploads_waiting)
        rss = GaugeMetricFamily("loader_rss_bytes", "Resident memory: the supervisor and its workers",
                                labels=["process"])
        rss.add_metric(["supervisor"], _rss([psutil.Process().pid]))
        rss.add_metric(["workers"], _rss(list(s.worker_pids)))
        yield rss


def _rss(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            continue
    return float(total)
