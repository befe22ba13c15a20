"""Fuzz: hundreds of mutated files through detect and load; none may crash, hang or blow up.

A seeded mutator (reproducible: the seed and case number name every failure) flips bytes, inserts
delimiters, quotes, NULs, BOMs and long runs, cuts and repeats slices of a few valid seed files.
Each case runs `detect` and `load_file` into a real SQLite database, in one child process, and must
end in a LoaderError or a result whose exit code is not 70 (a bug), with no traceback logged, in
under 10 s, and the process's peak RSS must stay under 1 GB. The default run is a few hundred
cases (well under a minute); `-m slow` runs thousands.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

CASE_LIMIT_S = 10.0
RSS_LIMIT_MB = 1024

SEEDS = [
    b'id,name,amount,day\n1,"Smith, J",12.50,2024-01-31\n2,"say ""hi""",-3,2024-02-29\n3,,0.001,\n',
    b"code\tlabel\tok\n007\tfirst\ttrue\n010\tsecond\tfalse\n" * 3,
    b"a;b;c\r\n1;2,5;x\r\n3;4,75;y\r\n",
    b'{"id": 1, "tags": ["a"], "n": 1.5}\n{"id": 2, "tags": [], "n": null}\n',
    b"\xef\xbb\xbfnum|text\n" + b"".join(b"%d|line %d\n" % (i, i) for i in range(300)),
]
SPECIAL = [b",", b'"', b"\n", b"\r", b"\0", b";", b"\t", b"|", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"'",
           b"\\", b"\x1b[2J", b"{", b"[", b"PAR1", b"PK\x03\x04", b"\x1f\x8b"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four random edits of `data`."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(buf) + 1)
        kind = rng.randrange(7)
        if kind == 0 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif kind == 1:
            buf[at:at] = rng.choice(SPECIAL) * rng.randint(1, 3)
        elif kind == 2:
            buf[at:at + rng.randint(1, 40)] = b""
        elif kind == 3:
            end = min(len(buf), at + rng.randint(1, 200))
            buf[at:at] = buf[at:end] * rng.randint(2, 50)
        elif kind == 4:
            buf[at:at] = rng.choice([b" ", b"9", b",", b'"', b"x", b"\n"]) * rng.randint(100, 20_000)
        elif kind == 5:
            del buf[at:]
        else:
            buf[0:0] = rng.choice(SPECIAL)
    return bytes(buf)


def run(seed: int, cases: int, workdir: str) -> None:
    """The child: every case in one process (imports paid once); prints one JSON line per problem."""
    import logging
    import resource
    import time

    from loader.errors import EXIT_SOFTWARE, LoaderError
    from loader.load import LoadRequest, detect, load_file

    from .conftest import Db

    bugs: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                bugs.append(record)

    logging.getLogger().addHandler(Catch())
    db = Db("sqlite", f"sqlite:///{workdir}/fuzz.db", Path(workdir))
    settings = db.settings()
    rng = random.Random(seed)
    for case in range(cases):
        data = mutate(rng.choice(SEEDS), rng)
        path = Path(workdir, f"case{case % 7}.{rng.choice(['csv', 'txt', 'jsonl', 'json', 'gz'])}")
        path.write_bytes(data)
        problem, started = None, time.monotonic()
        try:
            detect(str(path))
        except LoaderError as e:
            problem = f"detect exit {e.exit_code}: {e}" if e.exit_code == EXIT_SOFTWARE else None
        except Exception as e:  # noqa: BLE001 - the very thing the fuzz looks for
            problem = f"detect crashed: {type(e).__name__}: {e}"
        result = load_file(LoadRequest(str(path), "fuzz"), settings)
        if result.exit_code == EXIT_SOFTWARE:
            problem = problem or f"load exit 70: {result.error}"
        seconds = time.monotonic() - started
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if bugs:
            problem = problem or f"traceback logged: {bugs[0].getMessage()}"
            bugs.clear()
        if seconds > CASE_LIMIT_S:
            problem = problem or f"took {seconds:.1f}s"
        if rss_mb > RSS_LIMIT_MB:
            problem = problem or f"peak RSS {rss_mb:.0f} MB"
        if problem:
            print(json.dumps({"seed": seed, "case": case, "problem": problem[:300], "head": data[:120].hex()}),
                  flush=True)


def _fuzz(tmp_path: Path, seed: int, cases: int, timeout: float) -> None:
    code = f"from tests.test_fuzz import run; run({seed}, {cases}, {str(tmp_path)!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                         cwd=Path(__file__).resolve().parent.parent)
    problems = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert out.returncode == 0, out.stderr[-3000:]
    assert problems == [], "\n".join(json.dumps(p) for p in problems[:10])


def test_fuzzed_files_never_crash_hang_or_blow_up(tmp_path: Path) -> None:
    _fuzz(tmp_path, seed=11, cases=250, timeout=240)


@pytest.mark.slow
def test_fuzzed_files_at_length(tmp_path: Path) -> None:
    _fuzz(tmp_path, seed=2026, cases=3000, timeout=3600)
