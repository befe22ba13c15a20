"""The systemd unit in conf/: it must start the service the CLI accepts and must not restart a broken config."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from loader.cli import build_parser
from loader.errors import EXIT_CONFIG, EXIT_USAGE

UNIT = Path(__file__).resolve().parent.parent / "conf" / "loader.service"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    return parser


def test_exec_start_is_a_command_line_the_cli_accepts() -> None:
    argv = shlex.split(unit()["Service"]["ExecStart"])
    assert argv[0].endswith("/loader")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run"


def test_usage_and_config_errors_are_not_restarted_in_a_loop() -> None:
    service = unit()["Service"]
    assert service["Restart"] == "on-failure"
    prevented = {int(code) for code in service["RestartPreventExitStatus"].split()}
    assert {EXIT_USAGE, EXIT_CONFIG} <= prevented


def test_hardening_leaves_only_the_drop_roots_and_state_writable() -> None:
    service = unit()["Service"]
    assert service["ProtectSystem"] == "strict" and service["ProtectHome"] == "true"
    assert service["NoNewPrivileges"] == "true" and service["PrivateTmp"] == "true"
    assert service["ReadWritePaths"] and service["StateDirectory"] == "loader"
    # the default SQLite database must live where the service may write (WorkingDirectory is read-only)
    assert "/var/lib/loader/" in service["Environment"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_every_directive(tmp_path: Path) -> None:
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", str(UNIT)], capture_output=True, text=True)
    unknown = [line for line in out.stderr.splitlines() if "Unknown key" in line or "Unknown section" in line
               or "Invalid" in line]
    assert unknown == []


HARDENING = ("NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "ProtectHome", "PrivateTmp", "PrivateDevices",
             "ProtectKernelTunables", "RestrictAddressFamilies", "SystemCallFilter", "CapabilityBoundingSet", "UMask")


def test_state_and_logs_directories_are_systemds() -> None:
    service = unit()["Service"]
    assert service["StateDirectory"] == "loader" and service["LogsDirectory"] == "loader"


def test_every_hardening_line_says_what_it_is_for() -> None:
    """A comment line right above each directive of [Service] (a run of directives under one comment is not enough)."""
    lines = UNIT.read_text().splitlines()
    start = lines.index("[Service]")
    end = lines.index("[Install]")
    seen = set()
    for i in range(start + 1, end):
        key = lines[i].split("=", 1)[0]
        if key in HARDENING:
            seen.add(key)
            assert lines[i - 1].startswith("#"), f"{key}: no comment saying what it is for"
    assert seen == set(HARDENING)
