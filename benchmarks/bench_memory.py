"""Memory of ResNet-50 at batch 8: shapegraph against ONNX Runtime, each in a fresh process.

The onnx package's ResNet-50 (``light_resnet50.onnx``) pins its batch to 1 with a Reshape
target of ``[1, 2048]``; here that target becomes ``[0, -1]`` and the input's batch the
symbol ``N``, and the ``ConstantOfShape`` weights random ones
(``shapegraph.tools.workloads.random_weights``). Each implementation runs in its own
process: import, load, two forward calls at batch 8. Reported: the peak resident set size
of the process (``ru_maxrss``) after the imports, after loading the model and after the
calls, and for shapegraph the activation arena of its plan (``memory_plan``).

Goal (issue 11): shapegraph's activation arena and peak RSS no larger than ONNX Runtime's.

Run: ``python benchmarks/bench_memory.py [--batch 8]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r'''
import json, resource, sys
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # MiB (Linux: KiB)
impl, batch = sys.argv[1], int(sys.argv[2])
import numpy as np, onnx
from pathlib import Path
from onnx import numpy_helper
from shapegraph.tools.workloads import random_weights
if impl == "shapegraph":
    import shapegraph as sg
    from shapegraph.executor import jit  # numba, as a compiled model's first call loads it
else:
    import onnxruntime as ort
out = {"imports": rss()}
light = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
proto = random_weights(onnx.load(str(light / "light_resnet50.onnx")))
for init in proto.graph.initializer:
    if init.name == "OC2_DUMMY_1":  # the Reshape target [1, 2048]: keep the batch free
        init.CopyFrom(numpy_helper.from_array(np.array([0, -1], np.int64), init.name))
inits = {i.name for i in proto.graph.initializer}
(vi,) = [i for i in proto.graph.input if i.name not in inits]
vi.type.tensor_type.shape.dim[0].dim_param = "N"
x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
if impl == "shapegraph":
    model = sg.compile(sg.load_onnx(proto))
    out["loaded"] = rss()
    model(x); model(x)
    plan = next(iter(model._runners.values())).plan
    out["arena_mib"] = plan.arena_bytes / 2**20
    out["weights_mib"] = plan.weight_bytes / 2**20
else:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(proto.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    out["loaded"] = rss()
    sess.run(None, {vi.name: x}); sess.run(None, {vi.name: x})
out["after_calls"] = rss()
print(json.dumps(out))
'''


def measure(impl: str, batch: int) -> dict[str, float]:
    run = subprocess.run([sys.executable, "-c", CHILD, impl, str(batch)],
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
    for impl in ("shapegraph", "onnxruntime"):
        runs = [measure(impl, args.batch) for _ in range(args.repeat)]
        for key in runs[0]:
            vals = [r[key] for r in runs]
            print(f"  {impl:<12} {key:<12} {min(vals):8.1f} - {max(vals):8.1f}")


if __name__ == "__main__":
    main()
