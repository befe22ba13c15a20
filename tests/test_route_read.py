"""A route pins how its files are read: format, dialect, reader options, column types."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from loader.config import RouteSettings, load_settings
from loader.errors import ConfigError
from loader.readers import ReadOptions
from loader.route_read import FORMATS, read_pins

from .conftest import Db


def test_pins_become_read_options() -> None:
    route = RouteSettings(root="/r", delimiter="\\t", quote="none", header="false", sheet="2", json_key="rows",
                          types={"zip": "text"})
    opts = ReadOptions(**read_pins(route))
    assert (opts.delimiter, opts.quotechar, opts.has_header) == ("\t", "", False)
    assert opts.extra == {"sheet": 2, "json_key": "rows"} and opts.column_types == {"zip": "text"}
    assert read_pins(RouteSettings(root="/r")) == {}
    assert ReadOptions(**read_pins(RouteSettings(root="/r", skip_rows=3))).skip_rows == 3
    assert ReadOptions(**read_pins(RouteSettings(root="/r", skip_rows=0))).skip_rows == 0  # pinned: no preamble


def test_the_names_are_the_registrys() -> None:
    from loader.readers import formats

    assert set(FORMATS) <= set(formats())


@pytest.mark.parametrize("toml,message", [
    ('format = "csvv"', r"routes\[1\] \(r\): format 'csvv' is not one of"),
    ('delimiter = ";;"', "must be one character"),
    ('header = "maybe"', "must be true or false"),
    ('encoding = "klingon"', "not an encoding"),
    ('types = { amount = "money" }', r"types.amount = 'money': not a column type"),
    ('types = "amount=text"', "must be a table of column"),
    ('skip_rows = -2', "skip_rows -2 must be a count of lines"),
])
def test_a_bad_pin_names_the_route_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "loader.toml"
    path.write_text(f'[[routes]]\nname = "r"\nroot = "/r"\n{toml}\n')
    with pytest.raises(ConfigError, match=message):
        load_settings(str(path), environ={}, dotenv_path=None)


def test_the_service_reads_each_file_as_its_route_pins(sqlite_db: Db, tmp_path: Path) -> None:
    root = tmp_path / "drop"
    (root / "inbox").mkdir(parents=True)
    # without the pins: ';' is not the delimiter detection would choose for two lines, and the zip
    # would load both members
    with zipfile.ZipFile(root / "inbox" / "feed.zip", "w") as z:
        z.writestr("readme.csv", "note\nignore me\n")
        z.writestr("data.csv", "00123|a\n00456|b\n")
    config = tmp_path / "loader.toml"
    config.write_text(f'[[routes]]\nname = "feed"\nroot = "{root}"\npatterns = ["*.zip"]\ntable = "feed"\n'
                      'member = "data.csv"\ndelimiter = "|"\nheader = false\ntypes = { column_1 = "text" }\n')
    out = subprocess.run([sys.executable, "-m", "loader", "--config", str(config), "--db", sqlite_db.url, "run",
                          "--once"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert sqlite_db.query("SELECT * FROM ref.feed ORDER BY 1") == [("00123", "a"), ("00456", "b")]
    loaded = [r for r in sqlite_db.tracking() if r["status"] == "loaded"]
    assert len(loaded) == 1 and loaded[0]["file_path"].endswith("feed.zip"), "only the pinned member"
