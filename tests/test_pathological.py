"""Files that must end in a clear error within seconds, never a hang, a crash or a partial load."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from loader.errors import EXIT_DATA
from loader.load import LoadRequest, load_file

from .conftest import Db


def make(path: Path, kind: str) -> None:
    if kind == "random":
        path.write_bytes(random.Random(3).randbytes(3 << 20))  # seeded: a failure can be re-run as it was
    elif kind == "one_long_line":  # stands for the 2 GB line: longer than the whole sample
        with open(path, "wb") as f:
            f.write(b"a,b,c\n")
            for _ in range(12):
                f.write(b"x" * (1 << 20))
    elif kind == "truncated_gzip":  # a compressed copy cut short: corrupt, never a partial load
        import gzip

        data = gzip.compress(b"id,name\n" + b"1,abc\n" * 100_000)
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("kind", ["random", "one_long_line", "truncated_gzip"])
def test_pathological_files_fail_fast_and_clearly(db: Db, tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.csv"
    make(path, kind)
    started = time.monotonic()
    result = load_file(LoadRequest(str(path), "t"), db.settings())
    assert time.monotonic() - started < 20
    assert result.exit_code == EXIT_DATA
    assert result.error and str(path) in result.error
    assert any(word in result.error for word in ("not a text file", "a row is longer than the read block",
                                                 "corrupt gzip"))
    assert db.query("SELECT count(*) FROM loader_files" if db.kind == "sqlite"
                    else "SELECT count(*) FROM loader.loader_files WHERE status = 'failed'") == [(1,)]


@pytest.mark.parametrize("kind", ["commas", "spaces", "utf16_odd", "huge_integer"])
def test_hostile_small_files_end_cleanly_and_fast(db: Db, tmp_path: Path, kind: str) -> None:
    """Issue 11 items 4, 5, 11, 13: a small file never takes minutes, gigabytes or exit 70."""
    from loader import detect
    from loader.errors import BadInputError

    path = tmp_path / f"{kind}.csv"
    data = {"commas": b"," * 2_000_000 + b"\n",
            "spaces": b"id,note\n1," + b" " * 65_000 + b"\n2,x\n",
            "utf16_odd": "id,name\n1,x\n2,y\n".encode("utf-16") + b"\x00",
            "huge_integer": b"id,n\n1," + b"9" * 5000 + b"\n2,3\n"}[kind]
    path.write_bytes(data)
    started = time.monotonic()
    result = load_file(LoadRequest(str(path), "t"), db.settings())
    assert time.monotonic() - started < 20
    if kind in ("commas", "utf16_odd"):
        assert result.exit_code == EXIT_DATA, result.error
        with pytest.raises(BadInputError):  # detect agrees with load
            detect(str(path))
    else:
        assert result.exit_code == 0, result.error
        assert result.rows_loaded == 2
