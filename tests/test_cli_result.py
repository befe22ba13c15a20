"""The result line of `loader load` tells what happened to every row: rejects, widened columns, a way out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from loader.errors import EXIT_DATA, EXIT_OK

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path, db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOADER_")} | env
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "loader", "--db", f"sqlite:///{db}", "load", str(path)],
                          text=True, capture_output=True, env=environ, timeout=120)


def late_bad(path: Path) -> None:
    """Bad values past the sample, so detection cannot see them."""
    path.write_text("id,amount\n" + "".join(f"{i},{i}\n" for i in range(5998)) + "9,x\n10,y\n")


def test_the_success_line_counts_the_rejected_rows_and_names_their_file(tmp_path: Path) -> None:
    path = tmp_path / "late_bad.csv"
    late_bad(path)
    out = load(path, tmp_path / "x.db", LOADER_LOAD__BAD_ROWS="reject_rows", LOADER_LOAD__MAX_REJECTS="5")
    assert out.returncode == EXIT_OK, out.stderr
    rejects = tmp_path / "rejects" / "late_bad.csv.rejects.csv"
    assert f"5,998 rows, 2 rejected -> {rejects}" in out.stdout and rejects.exists()


def test_the_success_line_says_which_column_was_widened(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("id,amount\n" + "".join(f"{i},1.5\n" for i in range(6000)) + "9,123456789012345678901.5\n")
    out = load(path, tmp_path / "x.db", LOADER_LOAD__TYPE_MISMATCH="widen")
    assert out.returncode == EXIT_OK, out.stderr
    assert "column 'amount' widened from decimal(18,1) to decimal(22,1)" in out.stdout


def test_a_type_mismatch_suggests_pinning_or_widening(tmp_path: Path) -> None:
    path = tmp_path / "late_bad.csv"
    late_bad(path)
    out = load(path, tmp_path / "x.db")
    assert out.returncode == EXIT_DATA
    assert "line 6000, column 'amount'" in out.stderr
    assert "--type amount=text" in out.stderr and 'load.type_mismatch = "widen"' in out.stderr
