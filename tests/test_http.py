"""`loader run --http` as a real process over loopback: uploads to outcomes, bad input, tokens, metrics."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from .conftest import Db
from .http_client import HttpService, csv_bytes, multipart
from .service import files_in, wait_until

TOKEN = "s3cret-token-for-tests-0123456789"


def test_upload_is_accepted_polled_and_loaded(service_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    with HttpService(service_db, root) as svc:
        res = svc.upload("sales.csv", csv_bytes(100))
        assert res.status == 202, res
        doc = res.json()
        assert doc["url"] == f"/v1/loads/{doc['id']}" and res.headers["location"] == doc["url"]
        assert svc.get(doc["url"]).json()["status"] in ("queued", "loading", "loaded")
        done = svc.poll(doc["id"])
        assert done["status"] == "loaded", done
        assert (done["rows_read"], done["rows_loaded"], done["rows_rejected"]) == (100, 100, 0)
        assert done["table"] == "ref.sales" and done["seconds"] > 0
        assert done["sha256"] == hashlib.sha256(csv_bytes(100)).hexdigest()
        listed = svc.get("/v1/loads?route=default&status=loaded").json()["items"]
        assert [x["load_id"] for x in listed] == [done["load_id"]]
        assert svc.get(f"/v1/loads/{done['load_id']}").json()["status"] == "loaded"
        tables = svc.get("/v1/tables").json()["tables"]
        assert [(t["table"], t["rows"]) for t in tables] == [("ref.sales", 100)]
    assert service_db.query("SELECT count(*), sum(id) FROM ref.sales")[0] == (100, sum(range(100)))
    assert files_in(root, "inbox") == [] and not any(p.name.endswith(".part") for p in root.rglob("*"))


def test_bad_file_fails_with_line_and_column_and_duplicate_append(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    env = {"LOADER_LOAD__SAMPLE_ROWS": "3"}  # the bad value lies beyond the sample, as in a big file
    with HttpService(sqlite_db, root, "--mode", "append", env=env) as svc:
        bad = b"id,amount\n" + b"".join(b"%d,%d.5\n" % (i, i) for i in range(8)) + b"9,not a number\n"
        failed = svc.poll(svc.upload("bad.csv", bad).json()["id"])
        assert failed["status"] == "failed", failed
        assert failed["error"]["line"] == 10 and failed["error"]["column"] == "amount", failed
        assert "not a number" in failed["error"]["reason"]
        first = svc.poll(svc.upload("items.csv", csv_bytes(10)).json()["id"])
        again = svc.poll(svc.upload("items.csv", csv_bytes(10)).json()["id"])
        assert (first["status"], again["status"]) == ("loaded", "duplicate"), (first, again)
    assert sqlite_db.query("SELECT count(*) FROM ref.items")[0] == (10,)


def test_raw_body_checksums_and_two_uploads_of_one_name(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    with HttpService(sqlite_db, root, "--mode", "append") as svc:
        data = csv_bytes(5)
        good = {"Content-SHA256": hashlib.sha256(data).hexdigest()}
        a = svc.request("POST", "/v1/routes/default/files?name=raw.csv", data, good)
        b = svc.request("POST", "/v1/routes/default/files?name=raw.csv", csv_bytes(5, 100), {})
        assert (a.status, b.status) == (202, 202), (a, b)
        wrong = svc.request("POST", "/v1/routes/default/files?name=raw.csv", data, {"Content-SHA256": "0" * 64})
        assert wrong.status == 400 and "checksum mismatch" in wrong.json()["error"]["message"]
        outcomes = [svc.poll(x.json()["id"])["status"] for x in (a, b)]
        assert outcomes == ["loaded", "loaded"], "the second waited for the name, never replaced the first"
    assert sqlite_db.query("SELECT count(*) FROM ref.raw")[0] == (10,)
    assert len(files_in(root, "archive")) == 2


HOSTILE = ["../escape.csv", "/tmp/abs.csv", "sub/dir.csv", "nul\x00.csv", "ctl\x07.csv", "a" * 250 + ".csv",
           ".hidden.csv", "x.csv.part", "notes.exe"]


def test_hostile_names_size_limit_and_disconnects(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    env = {"LOADER_SERVICE__UPLOAD_MAX_BYTES": "100000"}
    with HttpService(sqlite_db, root, env=env) as svc:
        for name in HOSTILE:
            raw = svc.request("POST", "/v1/routes/default/files?name=" + _quote(name), b"id\n1\n")
            form = svc.upload(name, b"id\n1\n")
            assert raw.status == form.status == 400, (name, raw, form)
            assert "error" in raw.json() and "message" in form.json()["error"]
        big = svc.request("POST", "/v1/routes/default/files?name=big.csv", b"x" * 100_001)
        assert big.status == 413 and "limit" in big.json()["error"]["message"]
        assert _chunked_too_big(svc.port) == 413
        _disconnect_midway(svc.port)
        assert svc.get("/v1/routes/nope/files").status == 405
        assert svc.request("POST", "/v1/routes/nope/files?name=a.csv", b"id\n1\n").status == 404
        bad_form = svc.request("POST", "/v1/routes/default/files", b"garbage",
                               {"Content-Type": "multipart/form-data; boundary=zzz"})
        assert bad_form.status == 400 and bad_form.json()["error"]["status"] == 400
        assert svc.get("/v1/loads?limit=0").status == 400
        assert svc.get("/v1/loads/nope").status == 404
        time.sleep(1)
        leftovers = [p.name for p in (root / "inbox").iterdir()]
        assert leftovers == [], f"refused, oversized and cut uploads leave nothing in inbox/: {leftovers}"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("service-")) == ["db", "drop"]
    assert not Path("/tmp/abs.csv").exists() and not list(tmp_path.rglob("escape.csv"))
    assert sorted(p.name for p in root.iterdir()) == ["archive", "failed", "inbox", "processing"]


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def _chunked_too_big(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/v1/routes/default/files?name=chunked.csv")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        for _ in range(20):
            chunk = b"y" * 10_000
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server may answer 413 and close before we finish
    status = conn.getresponse().status
    conn.close()
    return status


def _disconnect_midway(port: int) -> None:
    """Promise 90 KB, send 40 KB, hang up: the .part must go."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/routes/default/files?name=cut.csv HTTP/1.1\r\nHost: x\r\nContent-Length: 90000\r\n\r\n")
    s.sendall(b"z" * 40_000)
    time.sleep(0.5)
    s.close()


def test_tokens(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    with HttpService(sqlite_db, root, env={"LOADER_SERVICE__HTTP_TOKEN": TOKEN}) as svc:
        assert svc.get("/healthz").status == 200
        for path in ("/v1/loads", "/v1/tables", "/metrics", "/readyz", "/v1/status", "/v1/loads/x"):
            for token in (None, "wrong-token-wrong-token"):
                res = svc.get(path, token=token)
                assert res.status == 401 and res.json()["error"]["status"] == 401, (path, res)
                assert res.headers.get("www-authenticate", "").startswith("Bearer")
        assert svc.upload("t.csv", b"id\n1\n").status == 401
        assert svc.upload("t.csv", b"id\n1\n", token="nope-nope-nope-nope").status == 401
        assert svc.get("/", token=None).status == 401, "the page without a token is the sign-in form"
        assert svc.get("/v1/tables", token=TOKEN).status == 200
        assert svc.upload("t.csv", b"id\n1\n", token=TOKEN).status == 202
        assert svc.get("/readyz", token=TOKEN).json()["status"] == "ready"
    assert TOKEN not in svc.log(), "the token is never logged"


def test_a_non_loopback_address_without_a_token_is_a_config_error(sqlite_db: Db, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "loader", "--db", sqlite_db.url, "run", "--root", str(tmp_path),
                          "--http", "0.0.0.0:0"], capture_output=True, text=True, timeout=60,
                         env=os.environ | {"LOADER_SERVICE__HTTP_TOKEN": ""})
    assert out.returncode == 78 and "HTTP_TOKEN" in out.stderr


def _metrics(svc: HttpService) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = svc.get("/metrics").body.decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


BAD = b"id,n\n1,2\n2,3\n3,4\n4,x\n"


def _settled(m: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> bool:
    files = sum(v for (n, _), v in m.items() if n == "loader_files_total")
    return files == 5 and m.get(("loader_queue_depth", (("route", "default"),))) == 0


def test_metrics_parse_and_count_by_the_right_amounts(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    with HttpService(sqlite_db, root, "--mode", "append", env={"LOADER_LOAD__SAMPLE_ROWS": "2"}) as svc:
        # ready once the first scan of the inboxes is done, which may come after the listening line
        before = wait_until(lambda: (m := _metrics(svc)).get(("loader_ready", ())) == 1.0 and m, 30,
                            "the service to be ready", svc)
        assert ("loader_build_info", ()) not in before
        ids = [svc.upload(f"m{i}.csv", csv_bytes(7)).json()["id"] for i in range(3)]
        ids.append(svc.upload("m0.csv", csv_bytes(7)).json()["id"])  # same content again: duplicate
        ids.append(svc.upload("bad.csv", BAD).json()["id"])
        assert svc.upload("../no.csv", b"id\n1\n").status == 400
        outcomes = sorted(svc.poll(i)["status"] for i in ids)
        assert outcomes == ["duplicate", "failed", "loaded", "loaded", "loaded"]
        wait_until(lambda: _settled(_metrics(svc)), 10, "the counters and the snapshot (0.5 s old at most) to catch up",
                   svc)
        m = _metrics(svc)
    loaded = sum(v for (n, lab), v in m.items() if n == "loader_files_total" and ("status", "loaded") in lab)
    assert loaded == 3
    assert m[("loader_files_total", (("route", "default"), ("status", "duplicate"), ("table", "ref.m0")))] == 1
    assert m[("loader_files_total", (("route", "default"), ("status", "failed"), ("table", "ref.bad")))] == 1
    rows = sum(v for (n, lab), v in m.items() if n == "loader_rows_total" and ("kind", "loaded") in lab)
    assert rows == 21
    assert m[("loader_uploads_total", (("outcome", "accepted"), ("route", "default")))] == 5
    assert m[("loader_uploads_total", (("outcome", "refused"), ("route", "default")))] == 1
    assert m[("loader_load_duration_seconds_count", (("route", "default"),))] == 3
    assert m[("loader_upload_bytes_total", (("route", "default"),))] == 4 * len(csv_bytes(7)) + len(BAD)
    assert m[("loader_queue_depth", (("route", "default"),))] == 0
    assert m[("loader_database_unavailable", ())] == 0
    assert m[("loader_rss_bytes", (("process", "supervisor"),))] > 10e6
    assert [lab for (n, lab) in m if n == "loader_build_info"]


def test_detect_without_loading(sqlite_db: Db, tmp_path: Path) -> None:
    with HttpService(sqlite_db, tmp_path / "drop") as svc:
        body, ctype = multipart("zips.csv", b"zip;amount\n01234;1,5\n00999;2,25\n")
        res = svc.request("POST", "/v1/detect", body, {"Content-Type": ctype})
        assert res.status == 200, res
        doc = res.json()
        assert doc["delimiter"] == ";" and [c["type"] for c in doc["columns"]][0] == "text"
        assert svc.get("/v1/tables").json()["tables"] == []


def test_systemd_notify_ready_and_watchdog(sqlite_db: Db, tmp_path: Path) -> None:
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(30)
    env = {"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "1000000"}
    with HttpService(sqlite_db, tmp_path / "drop", env=env) as svc:
        got = []
        while "WATCHDOG=1" not in got or not any(m.startswith("READY=1") for m in got):
            got.append(sock.recv(4096).decode())
        ready = next(i for i, m in enumerate(got) if m.startswith("READY=1"))
        assert ready < got.index("WATCHDOG=1"), f"READY=1 comes after the first scan, before the pings: {got}"
        assert svc.stop() == 0
    sock.close()
