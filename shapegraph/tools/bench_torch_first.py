"""``shapegraph bench --torch-first``: the selected workloads in two child processes, one
that imports torch before shapegraph (two OpenMP runtimes loaded) and one that never
imports torch, and shapegraph's slowdown (torch first / plain) per workload."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from shapegraph.tools.bench_options import BenchOptions
from shapegraph.tools.bench_report import stdout_console, torch_first_table

__all__ = ["child_args", "run_torch_first"]

_CHILD = "import sys\nfrom shapegraph.tools.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def child_args(opts: BenchOptions, json_path: str) -> list[str]:
    """The ``shapegraph bench`` arguments of a ``--torch-first`` child (no PyTorch peer:
    the plain child must not load torch at all)."""
    args = ["bench", "--no-torch", "--json", json_path,
            "--threads", ",".join(map(str, opts.threads)), "--rounds", str(opts.n_rounds),
            "--budget", str(opts.budget_s)]
    if opts.quick:
        args.append("--quick")
    if opts.models:
        args += ["--models", ",".join(opts.models)]
    if opts.batches:
        args += ["--batches", ",".join(map(str, opts.batches))]
    if opts.busy:
        args.append("--busy")
    return args


def run_torch_first(opts: BenchOptions) -> int:
    """The workloads in a child process that imports torch before shapegraph and in one that
    never imports torch; shapegraph's slowdown (torch first / plain) per workload."""
    if importlib.util.find_spec("torch") is None:
        print("shapegraph bench: --torch-first needs PyTorch, which is not installed "
              "(pip install torch==2.13.0, or 'shapegraph[bench]')", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, first in (("plain", ""), ("torch first", "import torch  # noqa\n")):
            path = os.path.join(tmp, f"{label.replace(' ', '_')}.json")
            print(f"==== child process: {label} "
                  f"({'imports torch before shapegraph' if first else 'never imports torch'})",
                  flush=True)
            proc = subprocess.run([sys.executable, "-c", first + _CHILD,
                                   *child_args(opts, path)])
            if proc.returncode != 0:
                print(f"shapegraph bench: the {label} child process failed "
                      f"(exit {proc.returncode})", file=sys.stderr)
                return proc.returncode or 2
            with open(path) as f:
                results[label] = json.load(f)
    plain, tf = results["plain"], results["torch first"]
    if plain["torch_loaded"] or not tf["torch_loaded"]:  # pragma: no cover
        print("shapegraph bench: torch was loaded in the wrong child", file=sys.stderr)
        return 2
    stdout_console().print(torch_first_table(plain["rows"], tf["rows"]))
    if opts.json_path:
        with open(opts.json_path, "w") as f:
            json.dump({"plain": plain, "torch_first": tf}, f)
    return 0
