"""Many concurrent uploads: all loaded, and the service's memory does not hold the bodies."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from .conftest import Db
from .http_client import HttpService

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def make_csv(path: Path, size: int, start: int) -> int:
    """A CSV of about `size` bytes; returns its rows."""
    line = 0
    with open(path, "w") as f:
        f.write("id,label,amount\n")
        while f.tell() < size:
            f.write("".join(f"{start + line + i},label number {line + i} padded out,{i}.25\n" for i in range(1000)))
            line += 1000
    return line


def rss_mb(pid: int, with_children: bool) -> float:
    proc = psutil.Process(pid)
    procs = [proc] + (proc.children(recursive=True) if with_children else [])
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total / 1e6


def concurrent_uploads(db: Db, tmp_path: Path, n: int, size: int) -> dict[str, float]:
    src = tmp_path / "src"
    src.mkdir()
    rows = {f"u{i:02d}.csv": make_csv(src / f"u{i:02d}.csv", size, i * 10_000_000) for i in range(n)}
    root = tmp_path / "drop"
    with HttpService(db, root) as svc:
        peak = {"supervisor": 0.0, "service": 0.0}
        base = rss_mb(svc.pid, False)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak["supervisor"] = max(peak["supervisor"], rss_mb(svc.pid, False))
                peak["service"] = max(peak["service"], rss_mb(svc.pid, True))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()

        def send(name: str) -> str:
            with open(src / name, "rb") as body:
                res = svc.request("POST", f"/v1/routes/default/files?name={name}", body,
                                  {"Content-Length": str((src / name).stat().st_size)})
            assert res.status == 202, res
            return str(res.json()["id"])

        with ThreadPoolExecutor(n) as pool:
            ids = dict(zip(rows, pool.map(send, rows)))
        upload_s = time.monotonic() - started
        results = {name: svc.poll(i, timeout=600) for name, i in ids.items()}
        stop.set()
        sampler.join()
    for name, doc in results.items():
        assert doc["status"] == "loaded" and doc["rows_loaded"] == rows[name], doc
    total_mb = n * size / 1e6
    return {"base_mb": base, "peak_supervisor_mb": peak["supervisor"], "peak_service_mb": peak["service"],
            "upload_s": upload_s, "mb_s": total_mb / upload_s}


def test_20_concurrent_uploads_of_5_mb(sqlite_db: Db, tmp_path: Path) -> None:
    got = concurrent_uploads(sqlite_db, tmp_path, 20, 5 << 20)
    # 100 MB of bodies went through the supervisor; holding them would add ~100 MB
    assert got["peak_supervisor_mb"] - got["base_mb"] < 60, got


@pytest.mark.slow
def test_20_concurrent_uploads_of_50_mb(sqlite_db: Db, tmp_path: Path) -> None:
    got = concurrent_uploads(sqlite_db, tmp_path, 20, 50 << 20)
    print(got)
    # 1 GB of bodies: the supervisor (which receives them) stays within tens of MB of where it started
    assert got["peak_supervisor_mb"] - got["base_mb"] < 100, got
