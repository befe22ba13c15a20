"""Routes, folder naming, stability and backoff: pure logic, no filesystem, no database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import loader.load  # noqa: F401  first, as the CLI does: `import loader.rejects` alone is circular (via readers/)
from loader import routes
from loader.config import RouteSettings, load_settings
from loader.errors import BadInputError, ConfigError
from loader.service import claim, folders
from loader.service.scheduler import backoff
from loader.service.watch import Stability


@pytest.mark.parametrize("name", ["a.csv.tmp", "a.part", "~$book.csv", ".hidden.csv", "a.csv~", "x.crdownload",
                                  "a.csv.partial", ".~lock.a.csv#"])
def test_temporary_names_are_never_picked(name: str) -> None:
    assert routes.is_temporary(name)
    assert not routes.wants(routes.default_route("/r"), name)


@pytest.mark.parametrize("name", ["customers.csv", "Sales 2024.CSV", "x.tsv", "ref.txt", "data.psv"])
def test_data_files_are_picked(name: str) -> None:
    assert routes.wants(routes.default_route("/r"), name)


def test_other_extensions_are_left_alone() -> None:
    assert not routes.wants(routes.default_route("/r"), "report.xlsx")


def test_table_from_the_file_name_by_default() -> None:
    d = routes.destination(routes.default_route("/r"), "Customer List 2024-03-01.csv", "ref")
    assert (d.schema, d.table, d.mode, d.date) == ("ref", "customer_list_2024_03_01", "fullload", dt.date(2024, 3, 1))


def test_regex_with_named_groups_carries_table_mode_and_date() -> None:
    route = RouteSettings(root="/r", schema="sales",
                          table_regex=r"(?P<table>[a-z]+)__(?P<mode>append|fullload)_(?P<date>\d{8})\.csv")
    d = routes.destination(route, "customers__append_20240101.csv", "ref")
    assert (d.schema, d.table, d.mode, d.date) == ("sales", "customers", "append", dt.date(2024, 1, 1))


def test_a_name_that_does_not_match_the_regex_is_bad_input() -> None:
    route = RouteSettings(root="/r", table_regex=r"(?P<table>[a-z]+)_\d{8}\.csv")
    with pytest.raises(BadInputError, match="does not match"):
        routes.destination(route, "whatever.csv", "ref")


def test_a_fixed_table_wins() -> None:
    assert routes.destination(RouteSettings(root="/r", table="prices"), "p_1.csv", "ref").table == "prices"


@pytest.mark.parametrize("toml,message", [
    ('[[routes]]\nname="x"\n', "root is missing"),
    ('[[routes]]\nroot="/r"\nmode="upsert"\n', "mode 'upsert'"),
    ('[[routes]]\nroot="/r"\nmode="merge"\nduplicate_keys="any"\n', "duplicate_keys 'any'"),
    ('[[routes]]\nroot="/r"\nschema_drift="salvage"\n', "schema_drift 'salvage'"),
    ('[[routes]]\nroot="/r"\ntable="Bad Name"\n', "not a safe identifier"),
    ('[[routes]]\nroot="/r"\ntable_regex="(?P<tab>x"\n', "not a valid regex"),
    ('[[routes]]\nroot="/r"\ntable_regex="(?P<tbl>x)"\n', "are used nowhere"),
    ('[[routes]]\nroot="/r"\ncolour="red"\n', r"unknown key routes\[1\]\.colour"),
    ('[[routes]]\nroot="/r"\n[[routes]]\nroot="/s"\nname="route1"\n', "used twice"),
    ('[[routes]]\nroot="/r"\nbad_rows="skip"\n', "bad_rows 'skip' is not one of"),
    ('[[routes]]\nroot="/r"\nragged_rows="shift"\n', "ragged_rows 'shift' is not one of"),
    ('[load]\nragged_rows="shift"\n', "load.ragged_rows must be one of"),
    ('[service]\nworkers=0\n', "service.workers must be >= 1"),
    ('[service]\nlog_format="xml"\n', "service.log_format"),
])
def test_route_and_service_errors_name_the_key_and_file(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "loader.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message) as e:
        load_settings(str(path), environ={}, dotenv_path=None)
    assert str(path) in str(e.value)


def test_routes_and_service_from_toml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "loader.toml"
    path.write_text('[service]\nworkers = 3\n[[routes]]\nname = "ref"\nroot = "/srv/ref"\npatterns = "*.csv"\n'
                    '[[routes]]\nname = "sales"\nroot = "/srv/sales"\nschema = "sales"\nmode = "append"\n')
    s = load_settings(str(path), environ={"LOADER_SERVICE__WORKERS": "4"}, dotenv_path=None)
    assert s.service.workers == 4 and s.origins["service.workers"] == "LOADER_SERVICE__WORKERS"
    assert [(r.name, r.root, r.schema, r.mode, r.patterns[0]) for r in s.routes] == [
        ("ref", "/srv/ref", "", "fullload", "*.csv"), ("sales", "/srv/sales", "sales", "append", "*.csv")]


def test_folder_names() -> None:
    assert folders.numbered("a.csv", 1) == "a.csv"
    assert folders.numbered("a.csv", 3) == "a_3.csv"
    assert folders.numbered("noext", 2) == "noext_2"
    assert folders.archive_subdir(dt.date(2024, 2, 9)) == "archive/2024/02/09"
    a = claim.claim_id(dt.datetime(2024, 1, 1, 0, 0, 0, 5), 7, 1)
    b = claim.claim_id(dt.datetime(2024, 1, 1, 0, 0, 0, 6), 3, 0)
    assert a < b, "claim ids sort in claim order"


def test_inside_resolves_links(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to("/etc/passwd")
    assert not folders.inside(str(tmp_path / "root"), str(tmp_path / "root" / "link"))
    assert folders.inside(str(tmp_path / "root"), str(tmp_path / "root" / "x.csv"))
    assert not folders.inside(str(tmp_path / "root"), str(tmp_path / "rootx" / "a"))


def test_stability_waits_for_a_quiet_window() -> None:
    s = Stability(stable_s=2.0)
    assert s.observe([("a", 10, 1)], now=0.0) == []
    assert s.observe([("a", 20, 2)], now=1.5) == [], "it grew: the window starts again"
    assert s.next_ready_in(2.0) == pytest.approx(1.5)
    assert s.observe([("a", 20, 2)], now=3.0) == []
    assert s.observe([("a", 20, 2)], now=3.6) == ["a"]


def test_stability_counts_from_the_mtime_of_an_old_file() -> None:
    s = Stability(stable_s=2.0)
    wall = 100 * 10**9
    assert s.observe([("old", 1, wall - 5 * 10**9), ("new", 1, wall)], now=0.0, wall_ns=wall) == ["old"]


def test_stability_forgets_files_that_went_away() -> None:
    s = Stability(stable_s=1.0)
    s.observe([("a", 1, 1)], now=0.0)
    s.observe([], now=0.5)
    assert s.observe([("a", 1, 1)], now=1.2) == [], "a file that came back starts a new window"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, nominal in ((1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)):
        values = [backoff(attempt, 1.0, 30.0) for _ in range(200)]
        assert all(0.5 * nominal <= v < 1.5 * nominal for v in values)
        assert len(set(values)) > 100, "jitter: retries never march in step"


def test_a_routes_load_keys_override_the_load_settings(tmp_path: Path) -> None:
    from loader.config import route_load
    from loader.service.work import route_settings
    path = tmp_path / "loader.toml"
    path.write_text('[load]\nmax_rejects = "5"\n[[routes]]\nroot = "/r"\nragged_rows = "pad"\n'
                    'bad_rows = "reject_rows"\n')
    s = load_settings(str(path), environ={}, dotenv_path=None)
    load = route_settings(s, "sales", route_load(s.routes[0])).load
    assert (load.ragged_rows, load.bad_rows, load.max_rejects) == ("pad", "reject_rows", "5")
    assert s.load.ragged_rows == ""
