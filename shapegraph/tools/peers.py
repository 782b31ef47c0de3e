"""The peers a benchmark workload runs on, with the same weights: PyTorch eager (CPU), ONNX
Runtime, the numpy reference interpreter, and a bare-sgemm bound for the MLPs; each on the
number of threads the run asks for (``THREADS`` by default). :func:`set_threads` sets
shapegraph's side (numba's threads and the BLAS threads).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from shapegraph.tools.bench_options import THREADS
from shapegraph.tools.workloads import Workload

__all__ = ["THREADS", "blas_bound", "ort_runner", "peer_runners", "set_threads"]


def _torch_model(wl: Workload, params: dict[str, np.ndarray]) -> Any:
    import torch

    def t(key: str) -> Any:
        return torch.from_numpy(np.ascontiguousarray(params[key]))

    if wl.name.startswith("MLP"):
        keys = sorted({k.split(".")[0] for k in params}, key=int)
        layers: list[Any] = []
        for i, k in enumerate(keys):
            w = t(f"{k}.weight")
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            lin.load_state_dict({"weight": w, "bias": t(f"{k}.bias")})
            layers += [lin] + ([torch.nn.ReLU()] if i < len(keys) - 1 else [])
        return torch.nn.Sequential(*layers).eval()
    if wl.name == "LeNet":
        m = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
            torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
        for idx, key in zip((0, 3, 7, 9, 11), ("0", "2", "4", "5", "6"), strict=True):
            m[idx].load_state_dict({"weight": t(f"{key}.weight"), "bias": t(f"{key}.bias")})
        return m.eval()
    return _torch_resnet(t)


def _torch_resnet(t: Callable[[str], Any]) -> Any:
    import torch

    class Block(torch.nn.Module):  # type: ignore[misc, unused-ignore]
        def __init__(self, prefix: str) -> None:
            super().__init__()
            self.c1 = torch.nn.Conv2d(16, 16, 3, padding=1, bias=False)
            self.b1 = torch.nn.BatchNorm2d(16)
            self.c2 = torch.nn.Conv2d(16, 16, 3, padding=1, bias=False)
            self.b2 = torch.nn.BatchNorm2d(16)
            for c, name in ((self.c1, "conv1"), (self.c2, "conv2")):
                c.load_state_dict({"weight": t(f"{prefix}.{name}.weight")})
            for b, name in ((self.b1, "bn1"), (self.b2, "bn2")):
                p = f"{prefix}.{name}"
                b.load_state_dict({"weight": t(f"{p}.gamma"), "bias": t(f"{p}.beta"),
                                   "running_mean": t(f"{p}.running_mean"),
                                   "running_var": t(f"{p}.running_var")}, strict=False)

        def forward(self, x: Any) -> Any:
            h = torch.relu(self.b1(self.c1(x)))
            return torch.relu(self.b2(self.c2(h)) + x)

    return torch.nn.Sequential(Block("0"), Block("1"), Block("2")).eval()


def set_threads(n: int) -> None:
    """Run shapegraph's kernels on ``n`` threads: numba's parallel regions
    (``numba.set_num_threads``, at most ``NUMBA_NUM_THREADS``) and the BLAS libraries loaded
    in the process (threadpoolctl, when installed)."""
    import numba

    config: Any = numba.config
    numba.set_num_threads(max(1, min(n, config.NUMBA_NUM_THREADS)))
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n, user_api="blas")


def ort_runner(proto: bytes, input_name: str, threads: int
               ) -> Callable[[np.ndarray], np.ndarray]:
    """An ONNX Runtime session on ``proto`` (a serialized model) with ``threads`` intra-op
    threads, as a function of its one input."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # errors only
    sess = ort.InferenceSession(proto, opts, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {input_name: x})[0]


def _ort_session(model: Any, graph: Any, params: dict[str, np.ndarray],
                 shape: tuple[int, ...], threads: int) -> Any:
    from shapegraph.core.dims import Sym
    from shapegraph.core.types import TensorType
    from shapegraph.onnx import to_onnx

    types = dict(enumerate(model.resolution.types)) if model.resolution else None
    onx = to_onnx(graph, {graph.inputs[0].name: TensorType((Sym("batch"), *shape[1:]))}, params,
                  types=types)
    return ort_runner(onx.SerializeToString(), graph.inputs[0].name, threads)


def peer_runners(wl: Workload, model: Any, graph: Any, params: dict[str, np.ndarray],
                 shape: tuple[int, ...], threads: int = THREADS, use_torch: bool = True
                 ) -> dict[str, Callable[[np.ndarray], Any]]:
    """The peers of a ``shapegraph.nn`` workload on ``threads`` threads: the numpy
    reference, ONNX Runtime (the graph exported) and PyTorch eager (unless ``use_torch`` is
    false, or torch is not installed)."""
    from shapegraph.infer.interpret import run_reference

    name = graph.inputs[0].name
    peers: dict[str, Callable[[np.ndarray], Any]] = {
        "numpy ref": lambda x: run_reference(graph, params, {name: x})}
    with contextlib.suppress(ImportError):
        peers["onnxruntime"] = _ort_session(model, graph, params, shape, threads)
    if not use_torch:
        return peers
    try:
        import torch

        torch.set_num_threads(threads)
        tm = _torch_model(wl, params)

        def run_torch(x: np.ndarray, tm: Any = tm) -> Any:
            with torch.inference_mode():
                return tm(torch.from_numpy(x))

        peers["torch eager"] = run_torch
    except ImportError:
        pass
    return peers


def blas_bound(params: dict[str, np.ndarray], batch: int) -> Callable[[], Any] | None:
    """The bare sgemm calls an MLP needs (numpy's BLAS, outputs preallocated)."""
    keys = sorted({k.split(".")[0] for k in params}, key=int)
    ws = [np.ascontiguousarray(params[f"{k}.weight"].T) for k in keys]
    xs = [np.ones((batch, w.shape[0]), np.float32) for w in ws]
    outs = [np.empty((batch, w.shape[1]), np.float32) for w in ws]

    def run() -> None:
        for x, w, o in zip(xs, ws, outs, strict=True):
            np.dot(x, w, o)

    return run


