"""Memory of ResNet-50 at batch 8: shapegraph against ONNX Runtime, each in a fresh process.

The onnx package's ResNet-50 (``light_resnet50.onnx``) pins its batch to 1 with a Reshape
target of ``[1, 2048]``; here that target becomes ``[0, -1]`` and the input's batch the
symbol ``N``, and the ``ConstantOfShape`` weights random ones
(``shapegraph.tools.workloads.random_weights``), saved to a temporary file. Each
implementation runs in its own process: import, load that file (as a user would, by its
path), two forward calls at batch 8. Reported: the peak resident set size of the process
(``VmHWM`` in ``/proc/self/status``) after the imports, after loading the model and after
the calls, and for shapegraph the activation arena of its plan (``memory_plan``).

Goal (issue 11): shapegraph's activation arena and peak RSS no larger than ONNX Runtime's.

Run: ``python benchmarks/bench_memory.py [--batch 8]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r'''
import json, sys
def rss():  # the peak resident set of this process image, MiB (ru_maxrss would carry the
    # parent's peak across fork and exec)
    with open("/proc/self/status") as f:
        hwm = next(line for line in f if line.startswith("VmHWM:"))
    return int(hwm.split()[1]) / 1024.0
impl, path, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
import numpy as np
if impl == "shapegraph":
    import shapegraph as sg
    import shapegraph.onnx  # the importer and the onnx package, as sg.load_onnx loads them
    from shapegraph.executor import jit  # numba, as a compiled model's first call loads it
else:
    import onnxruntime as ort
out = {"imports": rss()}
x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
if impl == "shapegraph":
    model = sg.compile(sg.load_onnx(path))
    out["loaded"] = rss()
    model(x); model(x)
    plan = next(iter(model._runners.values())).plan
    out["arena_mib"] = plan.arena_bytes / 2**20
    out["weights_mib"] = plan.weight_bytes / 2**20
else:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    out["loaded"] = rss()
    name = sess.get_inputs()[0].name
    sess.run(None, {name: x}); sess.run(None, {name: x})
out["after_calls"] = rss()
print(json.dumps(out))
'''


def write_model(path: str) -> None:
    """ResNet-50 with random weights and a free batch, saved where both children read it."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from shapegraph.tools.workloads import random_weights

    light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    proto = random_weights(onnx.load(str(light / "light_resnet50.onnx")))
    for init in proto.graph.initializer:
        if init.name == "OC2_DUMMY_1":  # the Reshape target [1, 2048]: keep the batch free
            init.CopyFrom(numpy_helper.from_array(np.array([0, -1], np.int64), init.name))
    inits = {i.name for i in proto.graph.initializer}
    (vi,) = [i for i in proto.graph.input if i.name not in inits]
    vi.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(proto, path)


def measure(impl: str, path: str, batch: int) -> dict[str, float]:
    run = subprocess.run([sys.executable, "-c", CHILD, impl, path, str(batch)],
                         capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"ResNet-50, batch {args.batch}, peak RSS in MiB (fresh process each; min-max of "
          f"{args.repeat})")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet50_random.onnx")
        write_model(path)
        for impl in ("shapegraph", "onnxruntime"):
            runs = [measure(impl, path, args.batch) for _ in range(args.repeat)]
            for key in runs[0]:
                vals = [r[key] for r in runs]
                print(f"  {impl:<12} {key:<12} {min(vals):8.1f} - {max(vals):8.1f}")


if __name__ == "__main__":
    main()
