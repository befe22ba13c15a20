"""`loader --help` as a new user reads it: fast (no pyarrow), every argument explained, examples and exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from loader.cli import build_parser
from loader.errors import EXIT_OK, EXIT_USAGE

from .test_cli import cli

NO_HEAVY = """
import sys
from loader.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(sorted(m for m in ("pyarrow", "pyarrow.lib", "loader.load", "loader.config") if m in sys.modules))
"""


def test_help_imports_neither_pyarrow_nor_the_load_machinery() -> None:
    for argv in (["--help"], ["load", "--help"], ["run", "--help"], ["status", "--help"]):
        out = subprocess.run([sys.executable, "-c", NO_HEAVY, *argv], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip().splitlines()[-1] == "[]", (argv, out.stdout, out.stderr)


def test_every_argument_of_every_command_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        missing = [a.dest for a in command._actions if not a.help]
        assert missing == [], f"loader {name}: no help for {missing}"


def test_help_ends_with_examples_and_exit_codes() -> None:
    for argv in (("--help",), ("load", "--help"), ("backfill", "--help")):
        out = cli(*argv)
        assert out.returncode == EXIT_OK
        assert "examples:" in out.stdout and "exit codes:" in out.stdout and "78 configuration error" in out.stdout


def test_a_subcommand_error_prints_that_subcommands_usage() -> None:
    out = cli("load", "--mode", "sideways", "x.csv")
    assert out.returncode == EXIT_USAGE and out.stderr.startswith("usage: loader load ")


def test_verbose_names_the_database_and_quiet_silences_the_service(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    url = f"sqlite:///{tmp_path}/x.db"
    loud = cli("-v", "--db", url, "load", str(path))
    assert loud.returncode == EXIT_OK and f"database {url}" in loud.stderr and "settings from" in loud.stderr
    root = tmp_path / "drop"
    quiet = cli("--db", url, "run", "--root", str(root), "--once", "-q", "--log-format", "human")
    said = cli("--db", url, "run", "--root", str(root), "--once", "--log-format", "human")
    assert quiet.returncode == said.returncode == EXIT_OK
    assert " INFO " in said.stderr and " INFO " not in quiet.stderr
