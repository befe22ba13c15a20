"""Merge on keys, on every database: v1 then v2 gives exactly the expected table, in one transaction."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loader.errors import EXIT_DATA, EXIT_OK, EXIT_USAGE
from loader.load import LoadRequest, load_file

from .conftest import Db, sqlite_reader


def write(path: Path, rows: list[tuple[Any, ...]], header: str = "id,name,qty") -> Path:
    path.write_text(header + "\n" + "".join(",".join("" if v is None else str(v) for v in r) + "\n" for r in rows))
    return path


def merge(db: Db, path: Path, keys: tuple[str, ...] = ("id",), **load: Any):
    return load_file(LoadRequest(str(path), "t", "merge", keys=keys), db.settings(**load))


def table(db: Db) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.query("SELECT id, name, qty FROM ref.t ORDER BY id")]


def test_v1_then_v2_updates_inserts_and_leaves_the_rest(db: Db, tmp_path: Path) -> None:
    first = merge(db, write(tmp_path / "v1.csv", [(1, "a", 10), (2, "b", 20), (3, "c", 30)]))
    assert first.exit_code == EXIT_OK, first.error
    second = merge(db, write(tmp_path / "v2.csv", [(2, "B", 21), (3, "c", 30), (4, "d", 40)]))
    assert second.exit_code == EXIT_OK, second.error
    assert table(db) == [(1, "a", 10), (2, "B", 21), (3, "c", 30), (4, "d", 40)]
    assert "1 inserted, 1 updated" in " ".join(second.notes)  # row 3 is unchanged: not rewritten
    assert "1 inserted, 1 updated" in db.tracking()[-1]["detected_format"]  # the tracking row keeps it
    assert second.rows_read == second.rows_loaded + second.rows_rejected


def test_delete_missing_is_a_full_sync_that_keeps_row_identity(db: Db, tmp_path: Path) -> None:
    merge(db, write(tmp_path / "v1.csv", [(1, "a", 10), (2, "b", 20), (3, "c", 30)]))
    result = merge(db, write(tmp_path / "v2.csv", [(3, "C", 31), (5, "e", 50)]), delete_missing=True)
    assert result.exit_code == EXIT_OK, result.error
    assert table(db) == [(3, "C", 31), (5, "e", 50)]
    assert "2 deleted" in " ".join(result.notes)


@pytest.mark.parametrize("policy, expected", [("last", [(1, "z", 3)]), ("first", [(1, "x", 1)])])
def test_a_key_repeated_in_the_file_follows_the_policy(db: Db, tmp_path: Path, policy: str,
                                                        expected: list[tuple[Any, ...]]) -> None:
    path = write(tmp_path / "dup.csv", [(1, "x", 1), (1, "y", 2), (1, "z", 3)])
    result = merge(db, path, duplicate_keys=policy)
    assert result.exit_code == EXIT_OK, result.error
    assert table(db) == expected
    assert "2 row(s) superseded" in " ".join(result.notes)


def test_reject_sets_every_row_of_a_repeated_key_aside_with_its_line(db: Db, tmp_path: Path) -> None:
    """Line 3 is a bad value (rejected as it is read): the repeated key's rows still get their own lines."""
    merge(db, write(tmp_path / "v1.csv", [(1, "a", 10), (7, "g", 70)]))
    path = write(tmp_path / "dup.csv", [(1, "x", 1), (5, "q", "lots"), (2, "b", 2), (1, "y", 3), (7, "G", 71)])
    result = merge(db, path, duplicate_keys="reject", bad_rows="reject_rows", max_rejects="100%")
    assert result.exit_code == EXIT_OK, result.error
    assert table(db) == [(1, "a", 10), (2, "b", 2), (7, "G", 71)]  # key 1 untouched: which row is right is unknown
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    lines = Path(result.rejects_file or "").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "2", "5"]
    assert lines[2].endswith('"1,x,1"') and lines[3].endswith('"1,y,3"') and "repeats" in lines[2]
    assert "2 row(s) of repeated keys rejected" in " ".join(result.notes)
    assert db.tracking()[-1]["rejects_file"] == result.rejects_file


def test_reject_over_the_limit_merges_nothing(db: Db, tmp_path: Path) -> None:
    merge(db, write(tmp_path / "v1.csv", [(1, "a", 10)]))
    path = write(tmp_path / "dup.csv", [(1, "x", 1), (2, "b", 2), (1, "y", 3)])
    result = merge(db, path, duplicate_keys="reject", bad_rows="reject_rows", max_rejects="1")
    assert result.exit_code == EXIT_DATA and "repeated keys" in result.error, result.error
    assert table(db) == [(1, "a", 10)]
    assert db.staging_leftovers() == []


def test_a_failing_merge_leaves_the_table_as_it_was(db: Db, tmp_path: Path) -> None:
    merge(db, write(tmp_path / "v1.csv", [(1, "a", 10), (2, "b", 20)]))
    refused = merge(db, write(tmp_path / "dup.csv", [(2, "B", 21), (9, "n", 90), (2, "C", 22)]),
                    duplicate_keys="fail")
    assert refused.exit_code == EXIT_DATA and "data row 3 repeats the key (id)" in refused.error
    empty_key = merge(db, write(tmp_path / "nokey.csv", [(2, "B", 21), (None, "n", 90)]))
    assert empty_key.exit_code == EXIT_DATA and "data row 2" in empty_key.error and "empty" in empty_key.error
    assert table(db) == [(1, "a", 10), (2, "b", 20)]
    assert db.staging_leftovers() == []


def test_a_table_whose_keys_repeat_is_refused_not_corrupted(db: Db, tmp_path: Path) -> None:
    path = write(tmp_path / "full.csv", [(1, "a", 10), (1, "b", 20)])
    assert load_file(LoadRequest(str(path), "t", "fullload"), db.settings()).exit_code == EXIT_OK
    result = merge(db, write(tmp_path / "v2.csv", [(1, "c", 30)]))
    assert result.exit_code == EXIT_DATA and "repeat" in result.error and "unique keys" in result.error
    assert sorted(table(db)) == [(1, "a", 10), (1, "b", 20)]


def test_composite_keys_and_a_key_the_file_lacks(db: Db, tmp_path: Path) -> None:
    v1 = write(tmp_path / "v1.csv", [(1, "2024-01-01", 5), (1, "2024-01-02", 6)], header="id,name,qty")
    assert merge(db, v1, keys=("id", "name")).exit_code == EXIT_OK
    v2 = write(tmp_path / "v2.csv", [(1, "2024-01-02", 7), (2, "2024-01-01", 1)], header="id,name,qty")
    assert merge(db, v2, keys=("id", "name")).exit_code == EXIT_OK
    got = sorted((i, str(day), qty) for i, day, qty in table(db))  # a date (PostgreSQL) or its ISO text
    assert got == [(1, "2024-01-01", 5), (1, "2024-01-02", 7), (2, "2024-01-01", 1)]
    wrong = merge(db, v2, keys=("nope",))
    assert wrong.exit_code == EXIT_DATA and "nope" in wrong.error and "columns" in wrong.error


def test_merge_without_keys_is_a_usage_error(db: Db, tmp_path: Path) -> None:
    result = merge(db, write(tmp_path / "v1.csv", [(1, "a", 10)]), keys=())
    assert result.exit_code == EXIT_USAGE and "--key" in result.error


def test_a_route_merges_its_files_in_arrival_order(db: Db, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = tmp_path / "drop"
    (root / "inbox").mkdir(parents=True)
    conf = tmp_path / "loader.toml"
    conf.write_text(f'[[routes]]\nname = "m"\nroot = "{root}"\ntable = "t"\nmode = "merge"\nkey = ["id"]\n'
                    'duplicate_keys = "first"\n')
    write(root / "inbox" / "a.csv", [(1, "a", 10), (2, "b", 20)])
    write(root / "inbox" / "b.csv", [(2, "B", 21), (2, "X", 99), (3, "c", 30)])
    os.utime(root / "inbox" / "a.csv", (1e9, 1e9))
    os.utime(root / "inbox" / "b.csv", (1e9 + 1, 1e9 + 1))
    out = subprocess.run([sys.executable, "-m", "loader", "--db", db.url, "run", "--once", "--config", str(conf),
                          "--workers", "1", "--stable", "0"], capture_output=True, text=True, timeout=120)
    assert out.returncode == EXIT_OK, out.stderr
    assert table(db) == [(1, "a", 10), (2, "B", 21), (3, "c", 30)]
    assert sorted(p.name for p in (root / "archive").rglob("*.csv")) == ["a.csv", "b.csv"]


def test_a_concurrent_reader_sees_the_table_before_or_after_never_between(db: Db, tmp_path: Path) -> None:
    """A merge of 60,000 rows (a third updates, the rest inserts) in its own process while this one reads."""
    n = 40_000
    assert merge(db, write(tmp_path / "v1.csv", [(i, "a", 1) for i in range(n)])).exit_code == EXIT_OK
    v2 = write(tmp_path / "v2.csv", [(i, "b", 2) for i in range(n // 2, n + n)])
    before, after = (n, n), (n + n, n // 2 + 2 * (n + n // 2))
    seen = set()
    merging = subprocess.Popen([sys.executable, "-m", "loader", "--db", db.url, "load", str(v2), "--table", "t",
                                "--mode", "merge", "--key", "id"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with contextlib.closing(_reader(db)) as read:
        while merging.poll() is None:
            seen.add(tuple(int(v) for v in read("SELECT count(*), sum(qty) FROM ref.t")))
        out, err = merging.communicate()
        assert merging.returncode == EXIT_OK, err.decode()
        seen.add(tuple(int(v) for v in read("SELECT count(*), sum(qty) FROM ref.t")))
    assert seen <= {before, after} and after in seen, seen


class _reader:
    """One connection held across the reads, as a dashboard would hold it."""

    def __init__(self, db: Db) -> None:
        if db.kind == "sqlite":
            self.conn: Any = sqlite_reader(db.url)
        else:
            import psycopg

            self.conn = psycopg.connect(db.read_url or db.url, autocommit=True)

    def __call__(self, sql: str) -> tuple[Any, ...]:
        return tuple(self.conn.execute(sql).fetchone())

    def close(self) -> None:
        self.conn.close()
