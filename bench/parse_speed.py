"""Our streaming read (detected options, explicit types) next to pyarrow's own open_csv defaults.

python bench/parse_speed.py FILE [--rounds 3]  ->  one line: seconds of each and their ratio.
Issue 3 asks the detected read to be at most 20% slower than pyarrow's parser on the same file.
"""

from __future__ import annotations

import argparse
import time

import pyarrow.csv as pacsv

from loader import detect
from loader.readers import Input
from loader.readers.csv.stream import CsvStream


def best_of(rounds: int, fn) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    source = Input.of_path(args.file)
    detect_s = best_of(args.rounds, lambda: detect(args.file))
    fmt = detect(args.file)
    default = best_of(args.rounds, lambda: sum(b.num_rows for b in pacsv.open_csv(args.file)))
    ours = best_of(args.rounds, lambda: sum(b.num_rows for b in CsvStream(source, fmt)._batches()))
    print(f"path=parse file={args.file} detect_s={detect_s:.3f} pyarrow_default_s={default:.2f} "
          f"loader_stream_s={ours:.2f} ratio={ours / default:.2f}")


if __name__ == "__main__":
    main()
