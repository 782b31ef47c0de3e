"""Shape propagation at scale: chains and DAGs of 1k, 10k and 100k nodes, symbolic batch.

Goal (issue 2): 100k nodes resolved in under 1 s on a 2-core machine, linear growth (the
fitted exponent is printed), and faster than ``onnx.shape_inference.infer_shapes`` on the
same graph exported to ONNX (the ratio is printed when onnx is installed).

Run: ``python benchmarks/bench_propagate.py [--sizes 1000,10000,100000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

from shapegraph.core.graph import Graph, GraphBuilder, Provenance
from shapegraph.infer.propagate import propagate
from shapegraph.opset.build import add_layer, layer_detail

WIDTH = 64


def chain_graph(n_nodes: int) -> Graph:
    """Dense(64) -> relu, repeated: ``n_nodes`` nodes in one line."""
    b = GraphBuilder()
    v = b.add_input("x", 2)
    for k in range(n_nodes):
        op, attrs = ("dense", {"units": WIDTH}) if k % 2 == 0 else ("relu", {})
        (v,) = add_layer(b, op, [v], attrs, Provenance(str(k), op, None, None,
                                                       layer_detail(op, attrs, ("units",))))
    return b.build([v])


def dag_graph(n_nodes: int) -> Graph:
    """Residual blocks: y = relu(dense(x)) + x, with a concat/dense merge every 4 blocks."""
    b = GraphBuilder()
    v = b.add_input("x", 2)
    k = 0
    skip = v
    while k < n_nodes:
        (d,) = add_layer(b, "dense", [v], {"units": WIDTH}, Provenance(f"{k}", "Dense"))
        (r,) = add_layer(b, "relu", [d], {}, Provenance(f"{k + 1}", "relu"))
        (v,) = add_layer(b, "add", [r, v], {}, Provenance(f"{k + 2}", "add"))
        k += 3
        if k % 12 == 0:
            (c,) = add_layer(b, "concat", [v, skip], {"axis": 1}, Provenance(f"{k}", "concat"))
            (v,) = add_layer(b, "dense", [c], {"units": WIDTH}, Provenance(f"{k + 1}", "Dense"))
            skip = v
            k += 2
    return b.build([v])


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def onnx_time(graph: Graph, repeat: int) -> float | None:
    try:
        import onnx

        from shapegraph.onnx import to_onnx
    except ImportError:
        return None
    res = propagate(graph, {"x": ("batch", WIDTH)})
    model = to_onnx(graph, {"x": res.input_type("x")}, param_shapes=res.param_dims)  # type: ignore[dict-item]
    return best_of(lambda: onnx.shape_inference.infer_shapes(model), repeat)


def fitted_exponent(sizes: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'graph':<6} {'nodes':>7} {'build s':>8} {'propagate s':>12} {'us/node':>8} "
          f"{'onnx s':>8} {'onnx/ours':>9}")
    for kind, make in (("chain", chain_graph), ("dag", dag_graph)):
        ours = []
        for n in sizes:
            t0 = time.perf_counter()
            g = make(n)
            build = time.perf_counter() - t0
            res = propagate(g, {"x": ("batch", WIDTH)})
            assert res.ok, res.diagnostics
            t = best_of(lambda g=g: propagate(g, {"x": ("batch", WIDTH)}), args.repeat)
            ours.append(t)
            o = onnx_time(g, args.repeat)
            ratio = f"{o / t:8.2f}x" if o else "   n/a"
            onnx_s = f"{o:8.3f}" if o else "     n/a"
            per_node = t / len(g.nodes) * 1e6
            print(f"{kind:<6} {len(g.nodes):>7} {build:8.3f} {t:12.3f} {per_node:8.2f} "
                  f"{onnx_s} {ratio}")
        if len(sizes) > 1:
            exp = fitted_exponent(sizes, ours)
            print(f"{kind}: fitted growth exponent {exp:.2f} (1.00 = linear)")
        verdict = "met" if ours[-1] < 1.0 else "MISSED"
        print(f"{kind}: goal '{sizes[-1]} nodes under 1 s' {verdict} ({ours[-1]:.3f} s)")


if __name__ == "__main__":
    main()
