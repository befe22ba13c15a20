"""Accuracy on the generated messy corpus: python tests/corpus/messy_accuracy.py [tune|heldout] [-v]

Prints, for one part (default: both), the share of files with the exact dialect (delimiter and
quote), the right header decision, the exact data-row count from detection, exactly the right
rows when loaded tolerantly (`bad_rows = "reject_rows"`, no limit, into SQLite), the crashes
(anything but a clean LoaderError, or exit 70) and the median detection time in-process.
`-v` lists the misses: use it on `tune` only, so `heldout` stays unseen.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from loader.config import load_settings  # noqa: E402
from loader.errors import EXIT_SOFTWARE, LoaderError  # noqa: E402
from loader.load import LoadRequest, detect, load_file  # noqa: E402
from tests.corpus.messy import PARTS, Truth, generate  # noqa: E402

MEASURES = ("dialect", "header", "n_rows", "loaded", "no crash")


def check(path: Path, truth: Truth, db: str) -> tuple[dict[str, bool], float, str]:
    """(measure -> ok, detection seconds, what went wrong) for one file."""
    ok = dict.fromkeys(MEASURES, False)
    why: list[str] = []
    t0 = time.perf_counter()
    try:
        fmt = detect(str(path)).as_dict()
        seconds = time.perf_counter() - t0
        quote = fmt.get("quotechar")
        ok["dialect"] = fmt.get("delimiter") == truth.delimiter and quote == truth.quotechar
        ok["header"] = fmt.get("has_header") == truth.has_header
        ok["n_rows"] = fmt.get("n_rows") == truth.n_rows
        why.append(f"got {fmt.get('delimiter')!r} {quote!r} header={fmt.get('has_header')} n={fmt.get('n_rows')}")
    except LoaderError as e:
        seconds = time.perf_counter() - t0
        why.append(f"detect: {e}")
    except Exception as e:  # noqa: BLE001 - a crash is what this counts
        return ok, time.perf_counter() - t0, f"CRASH detect {type(e).__name__}: {e}"
    settings = load_settings(config_path=None, environ={}, dotenv_path=None, flags={"database.url": db})
    settings.load.bad_rows, settings.load.max_rejects = "reject_rows", str(10**9)
    try:
        result = load_file(LoadRequest(str(path), "t", "fullload"), settings)
    except Exception as e:  # noqa: BLE001
        return ok, seconds, f"CRASH load {type(e).__name__}: {e}"
    ok["no crash"] = result.exit_code != EXIT_SOFTWARE
    ok["loaded"] = result.exit_code == 0 and result.rows_loaded == truth.rows
    why.append(f"loaded {result.rows_loaded}/{truth.rows} exit {result.exit_code} {(result.error or '')[:120]}")
    return ok, seconds, "; ".join(why)


def run(part: str, verbose: bool) -> None:
    files = generate(part)
    hits = dict.fromkeys(MEASURES, 0)
    times, misses = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, truth in files:
            path = Path(tmp) / name
            path.write_bytes(data)
            ok, seconds, why = check(path, truth, f"sqlite:///{tmp}/db_{name}.db")
            times.append(seconds)
            for m in MEASURES:
                hits[m] += ok[m]
            if not all(ok.values()):
                misses.append(f"  {name} [{truth.delimiter!r} {truth.quotechar!r} header={truth.has_header} "
                              f"n={truth.n_rows} rows={truth.rows}]: {[m for m in MEASURES if not ok[m]]} {why}")
    n = len(files)
    figures = "  ".join(f"{m} {100 * hits[m] / n:5.1f}%" for m in MEASURES)
    print(f"{part:>8} ({n} files): {figures}  detect median {1000 * statistics.median(times):.1f} ms")
    if verbose:
        print("\n".join(misses))


if __name__ == "__main__":
    parts = [a for a in sys.argv[1:] if a in PARTS] or list(PARTS)
    for p in parts:
        run(p, "-v" in sys.argv)
