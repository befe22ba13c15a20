"""Measure the HTTP interface: upload MB/s vs `cp` into inbox/, and the service's RSS under 20 uploads.

One SQLite service (`loader run --http 127.0.0.1:0`) on a scratch folder. "cp" copies the same
file into a folder on the same file system (what a drop costs); "http" is one upload streamed
with http.client until its 202 (the body on disk, fsynced, renamed into inbox/). Then N concurrent
uploads of M MB each: aggregate MB/s to the last 202, and the peak RSS of the supervisor (which
receives the bodies) and of the whole service (with its workers loading meanwhile), sampled every
50 ms. Prints one parseable line per result.

  python bench/bench_http.py --size-mb 200 --concurrent 20 --each-mb 50
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil


def make_csv(path: Path, mb: int) -> None:
    with open(path, "w") as f:
        f.write("id,label,amount\n")
        i = 0
        while f.tell() < mb << 20:
            f.write("".join(f"{i + k},label number {i + k} padded out,{k}.25\n" for k in range(1000)))
            i += 1000


def upload(port: int, path: Path, name: str) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    with open(path, "rb") as body:
        conn.request("POST", f"/v1/routes/default/files?name={name}", body=body,
                     headers={"Content-Length": str(path.stat().st_size)})
    res = conn.getresponse()
    res.read()
    conn.close()
    if res.status != 202:
        raise SystemExit(f"upload failed: {res.status}")
    return time.perf_counter() - started


def rss_mb(pid: int, children: bool) -> float:
    p = psutil.Process(pid)
    procs = [p] + (p.children(recursive=True) if children else [])
    total = 0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            total += q.memory_info().rss
    return total / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--concurrent", type=int, default=20)
    ap.add_argument("--each-mb", type=int, default=50)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    try:
        run(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, args: argparse.Namespace) -> None:
    big, each = work / "big.csv", work / "each.csv"
    make_csv(big, args.size_mb)
    make_csv(each, args.each_mb)
    log = open(work / "service.log", "wb")  # noqa: SIM115
    svc = subprocess.Popen([sys.executable, "-m", "loader", "--db", f"sqlite:///{work}/db.sqlite", "run", "--root",
                            str(work / "drop"), "--http", "127.0.0.1:0", "--log-format", "json"],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        port = 0
        while not port:
            time.sleep(0.1)
            m = re.search(r"http listening on http://127\.0\.0\.1:(\d+)", (work / "service.log").read_text())
            port = int(m.group(1)) if m else 0
        (work / "copies").mkdir()
        rounds = 3
        cp_s = min(_cp(big, work / "copies" / f"c{i}.csv") for i in range(rounds))
        http_s = min(upload(port, big, f"big{i}.csv") for i in range(rounds))
        mb = big.stat().st_size / 1e6
        print(f"cp_mb_s={mb / cp_s:.0f} http_mb_s={mb / http_s:.0f} size_mb={mb:.0f} (best of {rounds})")
        _concurrent(svc.pid, port, each, args.concurrent)
    finally:
        svc.send_signal(signal.SIGTERM)
        svc.wait(timeout=600)


def _cp(src: Path, dst: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    os.sync()  # the upload fsyncs before its 202; cp is timed to the same point
    return time.perf_counter() - started


def _concurrent(pid: int, port: int, each: Path, n: int) -> None:
    base = rss_mb(pid, False)
    peak = {"supervisor": base, "service": rss_mb(pid, True)}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["supervisor"] = max(peak["supervisor"], rss_mb(pid, False))
            peak["service"] = max(peak["service"], rss_mb(pid, True))
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda i: upload(port, each, f"each{i:02d}.csv"), range(n)))
    wall = time.perf_counter() - started
    stop.set()
    t.join()
    mb = n * each.stat().st_size / 1e6
    print(f"concurrent={n} each_mb={each.stat().st_size / 1e6:.0f} total_mb_s={mb / wall:.0f} "
          f"supervisor_rss_mb_start={base:.0f} supervisor_rss_mb_peak={peak['supervisor']:.0f} "
          f"service_rss_mb_peak={peak['service']:.0f}")


if __name__ == "__main__":
    main()
