"""Checking the nine ONNX models the onnx package ships: shapegraph against ONNX's and ONNX
Runtime's shape inference on the same files, in one process, with a symbolic batch.

For each model: import (``sg.load_onnx``), propagation (the pass itself) and ``sg.check``
(propagation plus the report: the layer table, the diagnostics) separately, then
``onnx.shape_inference.infer_shapes`` (strict mode, data propagation) and ONNX Runtime's
symbolic shape inference, each on the model with its batch made symbolic, best of
``--repeat`` runs (min-max printed); propagation and ``infer_shapes`` run back to back, and
their ratio is the median of those pairs (a noisy machine moves both); finally the wall
time of the ``shapegraph check`` command per file (a fresh process: interpreter start and
imports included).

Goals (issue 10): ``shapegraph check`` under 1 s wall per model; faster than ONNX Runtime's
symbolic shape inference; propagation within 2x of ``infer_shapes``.

Run: ``python benchmarks/bench_onnx_check.py [--repeat 5]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx

import shapegraph as sg

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def times(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out), max(out)


def symbolic_batch(path: Path) -> onnx.ModelProto:
    """The model with its data input's first dim the symbol N."""
    proto = onnx.load(str(path))
    inits = {i.name for i in proto.graph.initializer}
    for vi in proto.graph.input:
        if vi.name not in inits:
            vi.type.tensor_type.shape.dim[0].dim_param = "N"
    return proto


def ort_symbolic(proto: onnx.ModelProto) -> str:
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    # where it gives up, it saves what it inferred as sym_shape_infer_temp.onnx in the
    # working folder: a temporary one here
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        try:
            SymbolicShapeInference.infer_shapes(proto, auto_merge=True)
            return "ok"
        except Exception as e:  # it gives up on several of these models
            return f"failed ({str(e).splitlines()[0][:40]})"


def row(path: Path, repeat: int) -> str:
    """One model's line: every time as min-max over ``repeat`` runs; the propagation /
    infer_shapes ratio from runs made back to back (median, then min-max of the pairs)."""
    from shapegraph.infer.propagate import propagate

    name = path.stem.removeprefix("light_")
    proto = symbolic_batch(path)
    load = times(lambda: sg.load_onnx(proto), repeat)
    model = sg.load_onnx(proto)
    types = model.types_for(())
    check = times(lambda: sg.check(model), repeat)
    verdict = sg.check(model).verdict
    pairs, props, infers = [], [], []
    for _ in range(repeat):
        prop = times(lambda: propagate(model.graph, types), 1)[0]
        infer = times(lambda: onnx.shape_inference.infer_shapes(
            proto, strict_mode=True, data_prop=True), 1)[0]
        pairs.append(prop / infer)
        props.append(prop)
        infers.append(infer)
    pairs.sort()
    ort_t = times(lambda: ort_symbolic(proto), max(1, repeat // 2))
    return (f"{name:<14} {load[0]:7.4f}-{load[1]:<7.4f} {min(props):7.4f}-{max(props):<7.4f} "
            f"{min(infers):7.4f}-{max(infers):<7.4f} {pairs[len(pairs) // 2]:5.2f} "
            f"({pairs[0]:.2f}-{pairs[-1]:.2f})x {check[0]:7.4f}-{check[1]:<7.4f} "
            f"{ort_t[0]:7.3f}-{ort_t[1]:<7.3f}  {ort_symbolic(proto)} / {verdict}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=11)
    args = ap.parse_args()
    print(f"{'model':<14} {'import s':>15} {'propagate s':>15} {'onnx infer s':>15} "
          f"{'ratio (spread)':>18} {'sg.check s':>15} {'ort symbolic s':>16}  "
          "ort result / shapegraph verdict")
    for path in sorted(LIGHT.glob("light_*.onnx")):
        print(row(path, args.repeat))
    print("\nshapegraph check FILE --input ...=N,3,224,224 (a fresh process each, wall s):")
    for path in sorted(LIGHT.glob("light_*.onnx")):
        model = sg.load_onnx(path)
        (inp, t), = model.input_types.items()
        spec = f"{inp}=N," + ",".join(str(d) for d in t.shape[1:])
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "shapegraph", "check", str(path), "--input",
                            spec, "--format", "json"], capture_output=True,
                           env={**os.environ, "NO_COLOR": "1"})
            walls.append(time.perf_counter() - t0)
        print(f"  {path.stem.removeprefix('light_'):<14} {min(walls):.2f}-{max(walls):.2f} s")


if __name__ == "__main__":
    main()
