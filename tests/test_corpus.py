"""The detection corpus (tests/corpus/, issue 3): each real-world-shaped file against its expected format.

tests/corpus/manifest.json states, per file, the encoding, dialect, header, skip_rows, data-row count
and column names/kinds a careful human would choose, or the error a pathological file must raise.
Regenerate the files with `python tests/corpus/make_corpus.py`; print the detector's accuracy with
`python tests/corpus/accuracy.py`.
"""

from __future__ import annotations

from typing import Any

import pytest

from loader.errors import EXIT_DATA, EXIT_OK, LoaderError
from loader.load import LoadRequest, load_file

from .conftest import Db
from .corpus.expect import CORPUS, SNIFF_SECONDS, compare, describe_columns, manifest, sniff

ENTRIES = manifest()
GOOD = [e for e in ENTRIES if not e.get("error")]
BAD = [e for e in ENTRIES if e.get("error")]


def _id(entry: dict[str, Any]) -> str:
    return entry["file"]


def test_manifest_matches_the_files() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix in {".csv", ".txt", ".tsv", ".psv"}}
    listed = {e["file"] for e in ENTRIES}
    assert listed == on_disk
    assert len(ENTRIES) >= 60


@pytest.mark.parametrize("entry", GOOD, ids=_id)
def test_detects_the_expected_format(entry: dict[str, Any]) -> None:
    outcome = sniff(CORPUS / entry["file"], timeout=2 * SNIFF_SECONDS)
    assert not outcome.timed_out, f"detection did not finish in {2 * SNIFF_SECONDS:.0f} s"
    assert outcome.error is None, f"detection raised on a loadable file:\n{outcome.trace}"
    failures = []
    for field, (ok, want, got) in compare(entry, outcome.fmt).items():
        if ok:
            continue
        if field == "columns":
            failures.append("columns:\n" + describe_columns(want, got))
        else:
            failures.append(f"{field}: expected {want!r}, got {got!r}")
    assert not failures, f"{entry['file']} ({entry['note']}):\n" + "\n".join(failures)


@pytest.mark.parametrize("entry", BAD, ids=_id)
def test_pathological_file_fails_fast_and_clearly(entry: dict[str, Any]) -> None:
    outcome = sniff(CORPUS / entry["file"])
    assert not outcome.timed_out, f"detection still running after {SNIFF_SECONDS:.0f} s"
    assert outcome.error is not None, f"expected an error containing {entry['error']!r}, got a format"
    assert isinstance(outcome.error, LoaderError), f"crashed instead of a LoaderError:\n{outcome.trace}"
    assert entry["error"] in str(outcome.error).lower()


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_loads_end_to_end(db: Db, entry: dict[str, Any]) -> None:
    path = CORPUS / entry["file"]
    # a header-only file may empty the table only when asked (load.allow_empty); refused is tested in test_load
    result = load_file(LoadRequest(str(path), "t", "fullload"), db.settings(allow_empty=True))
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    if entry.get("error"):
        # a pathological file is a clean, named failure: nothing published, the process goes on
        assert result.exit_code == EXIT_DATA and result.status == "failed"
        assert entry["error"] in (result.error or "").lower()
        assert db.tables("ref") == []
    elif entry.get("bad_rows"):
        # ragged rows under the default policy (reject_file): the whole file fails, naming the line
        assert result.exit_code == EXIT_DATA, result.error
        assert "line" in (result.error or "")
        assert result.rows_loaded == 0
        assert db.tables("ref") == []
    else:
        assert result.exit_code == EXIT_OK, result.error
        assert result.rows_loaded == entry["n_rows"]
        assert db.query("SELECT count(*) FROM ref.t") == [(entry["n_rows"],)]
