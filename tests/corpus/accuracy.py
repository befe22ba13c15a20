"""Print the detector's accuracy over the corpus: python tests/corpus/accuracy.py [-v]

One line per measure (exact dialect = delimiter + quotechar + escapechar; header; skip_rows; n_rows;
column names and kinds; encoding; pathological files failing fast with the expected message) as a
percentage of the files it applies to, followed by the files that miss it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.corpus.expect import CORPUS, compare, manifest, sniff  # noqa: E402

MEASURES = {
    "dialect": ("delimiter", "quotechar", "escapechar"),
    "header": ("has_header",),
    "skip_rows": ("skip_rows",),
    "n_rows": ("n_rows",),
    "columns": ("columns",),
    "encoding": ("encoding",),
}


def main(verbose: bool = False) -> int:
    entries = manifest()
    misses: dict[str, list[str]] = {m: [] for m in [*MEASURES, "errors"]}
    counts: dict[str, int] = dict.fromkeys(misses, 0)
    for entry in entries:
        outcome = sniff(CORPUS / entry["file"])
        name = entry["file"]
        if entry.get("error"):
            counts["errors"] += 1
            ok = (not outcome.timed_out and outcome.error is not None
                  and entry["error"] in str(outcome.error).lower() and outcome.fmt is None)
            if not ok:
                why = "timeout" if outcome.timed_out else (repr(outcome.error) if outcome.error else "no error")
                misses["errors"].append(f"{name} ({why[:80]})")
            continue
        result = compare(entry, outcome.fmt) if outcome.fmt is not None else {}
        for measure, fields in MEASURES.items():
            fields = tuple(f for f in fields if f in entry)
            if not fields or (measure == "columns" and entry.get("columns") is None):
                continue
            counts[measure] += 1
            if outcome.fmt is None:
                why = "timeout" if outcome.timed_out else f"raised {type(outcome.error).__name__}"
                misses[measure].append(f"{name} ({why})")
            elif not all(result[f][0] for f in fields):
                detail = ", ".join(f"{f}={result[f][2]!r}" for f in fields if not result[f][0] and f != "columns")
                misses[measure].append(f"{name} ({detail})" if detail and verbose else name)
    print(f"corpus: {len(entries)} files ({len(entries) - counts['errors']} loadable, {counts['errors']} pathological)")
    for measure in misses:
        n = counts[measure]
        good = n - len(misses[measure])
        pct = 100.0 * good / n if n else 100.0
        print(f"{measure:>10}: {pct:5.1f}%  ({good}/{n})")
        if misses[measure]:
            print("            failing: " + ", ".join(misses[measure]))
    return 0


if __name__ == "__main__":
    sys.exit(main(verbose="-v" in sys.argv))
