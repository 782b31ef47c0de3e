"""`shapegraph check` wall time, whole command in a fresh process (Python start-up included).

Goals (issue 5): the seed MLP in under 0.5 s, a generated 1,000-layer network in under 2 s,
no numba import on this path. Run: ``python benchmarks/bench_check.py``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent / "models"
CASES = [
    ("seed MLP", f"{HERE / 'seed_mlp.py'}:net", ["--input", "x=batch,20"], 0.5),
    ("1,000 layers", f"{HERE / 'deep_mlp.py'}:build", ["--input", "x=batch,32"], 2.0),
]


def wall(args: list[str], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    cli = [sys.executable, "-m", "shapegraph.tools.cli", "check"]
    baseline = wall([sys.executable, "-c", "pass"])
    print(f"python start-up alone: {baseline:.3f} s")
    for name, target, extra, goal in CASES:
        t = wall([*cli, target, *extra])
        verdict = "met" if t < goal else "MISSED"
        print(f"{name:<14} {t:6.3f} s wall (goal < {goal} s: {verdict})")
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, runpy; sys.argv=['shapegraph','check',"
         f"{CASES[0][1]!r},'--input','x=batch,20']; "
         "from shapegraph.tools.cli import main; main(); "
         "print('numba imported:', 'numba' in sys.modules, file=sys.stderr)"],
        capture_output=True, text=True)
    print(probe.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
