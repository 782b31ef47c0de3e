"""Running a batch as one call of the batch-1 plan per sample (the batch split).

A plan for a batch of N computes each layer for all N samples before the next layer. When
one sample's activations fill the core's L2 (a megabyte or two here), N of them do not,
and every layer reads its input back from L3 or memory: SqueezeNet at batch 8 took 9.5x
its batch-1 time on one thread, DenseNet-121 8.7x (2026-12-07). Run sample by sample, the
activations of the sample under way stay in cache, and the batch costs N times a sample:
SqueezeNet 64.0 ms -> 54.7 at batch 8, DenseNet-121 466 -> 404 (one thread, the two ways
in turns in one process; ONNX Runtime 56.5 and about 520 in the same runs).

The split costs what batching saves: each sample reads the weights again, and a dense
layer's product on one row is a matrix-vector product, bound by the weights' bytes. So a
plan is split only where one sample's activations are large and the weights are not
large beside them (:func:`wants_split`); the small models keep their batch (LeNet at
batch 64: 0.82 ms batched, 1.36 split; the wide MLP 2.1 against 6.4; the ResNet blocks at
batch 32 7.4 against 7.6).

Only a network whose samples never meet can be split (:func:`batch_symbol`): every value
computed from the inputs has the same symbol as its first dim and nowhere else, every op
has a kernel and none works along that first axis (an ``axis`` of 0, a transpose that moves
it). The split plan's numbers are the batch-1 plan's, sample by sample.

On T threads the samples run side by side, one a thread, each with numba on one thread
there (:func:`_side_by_side`): two samples never meet, where a batch-1 plan on two threads
meets at each layer's end. DenseNet-121 at batch 8: 412 ms on one thread, 209 on two.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from shapegraph.core.dims import Sym, dim_str
from shapegraph.core.graph import Graph
from shapegraph.infer.propagate import Resolution
from shapegraph.opset.registry import get_op

if TYPE_CHECKING:
    from shapegraph.executor.runtime import EmptyRunner, Runner

__all__ = ["SPLIT_MAX_WEIGHTS_PER_ARENA", "SPLIT_MIN_ARENA", "SPLIT_MIN_VALUE", "SplitRunner",
           "batch_symbol", "forced", "wants_split"]

SPLIT_MIN_VALUE = 256 * 1024
"""A plan is considered for the split only if one sample's largest value has at least this
many bytes (else the batch-1 plan is not even built)."""
SPLIT_MIN_ARENA = 1024 * 1024
"""... and is split if its batch-1 activation arena has at least this many bytes (about a
core's L2: SqueezeNet's 1.9 MB, DenseNet-121's 7.8 MB; the ResNet blocks' 128 KB and
LeNet's 23 KB stay batched) ..."""
SPLIT_MAX_WEIGHTS_PER_ARENA = 6.0
"""... and its weights have at most this many times the arena's bytes (SqueezeNet 3.5,
DenseNet-121 4.6: split; ResNet-50 22, VGG-19 25, AlexNet 110, whose fully connected
layers would be read once a sample, are not)."""


def batch_symbol(graph: Graph, res: Resolution) -> str | None:
    """The symbol that is the first dim of every value computed from the inputs (and no
    other dim of theirs), where no op works along that axis; None if there is none."""
    sym: str | None = None
    for gi in graph.inputs:
        t = res.types[gi.value]
        if t is None or t.rank == 0 or type(t.shape[0]) is not Sym:
            return None
        name = dim_str(t.shape[0])
        if sym is not None and name != sym:
            return None
        sym = name
    if sym is None:
        return None
    token = re.compile(rf"\b{re.escape(sym)}\b")
    computed = {gi.value for gi in graph.inputs}  # the values computed from the inputs
    for n in graph.nodes:
        if not computed.intersection(n.inputs) or all(v in res.vals for v in n.outputs):
            continue  # parameters and constants, or a shape folded where the plan is made
        computed.update(n.outputs)
        low = get_op(n.op).lowering
        if low is None or low.kind == "embedding":
            return None
        symbolic = [v in res.vals and not res.vals[v].is_concrete for v in n.inputs]
        if any(symbolic) and (low.kind != "alias" or symbolic[0]):
            return None  # a value made from the batch size used as data (not as a shape)
        first = res.types[n.inputs[0]] if n.inputs else None
        rank = first.rank if first is not None else 0
        axis = n.attrs.get("axis")  # (an op along axis 0 runs across the samples)
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        if any(isinstance(a, int) and rank and a % rank == 0 for a in axes):
            return None
        if n.op == "transpose":
            perm = n.attrs.get("axes")
            if not perm or perm[0] != 0:
                return None
    if not computed.issuperset(graph.outputs):
        return None  # an output with no sample of its own (a constant)
    for v in computed:
        t = res.types[v]
        if t is None or t.rank == 0 or dim_str(t.shape[0]) != sym:
            return None
        if any(token.search(dim_str(d)) for d in t.shape[1:] if type(d) is not int):
            return None
    return sym


def wants_split(batch: int, one: Runner | EmptyRunner) -> bool:
    """Whether a batch of ``batch`` runs as calls of the batch-1 runner ``one``."""
    if batch < 2 or one.plan is None:
        return False
    arena, weights = one.plan.arena_bytes, one.plan.weight_bytes
    return arena >= SPLIT_MIN_ARENA and weights <= SPLIT_MAX_WEIGHTS_PER_ARENA * arena


class SplitRunner:
    """Runs a batch as one call of the batch-1 runner per sample, each writing its rows
    of the outputs in place. ``plan`` and ``gen`` are the batch-1 runner's (what runs)."""

    def __init__(self, one: Runner, batch: int) -> None:
        self.one = one
        self.batch = batch
        self.plan = one.plan
        self.gen = one.gen
        self.out_shapes = [(batch, *s[1:]) for s in one.out_shapes]

    def run1(self, x: np.ndarray, plain: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
        outs = self.run([x])
        return outs[0] if len(outs) == 1 else tuple(outs)

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The batch's outputs. On T of numba's threads, the first samples in whole rounds
        of T run T at a time, each thread taking the next sample as it finishes one and
        running it on the plan's one-thread path; the last batch % T one after the other
        on all T threads."""
        outs = [np.empty(s, np.float32) for s in self.out_shapes]

        def sample(i: int) -> None:
            self.one.run_into([a[i:i + 1] for a in arrays], [o[i:i + 1] for o in outs])

        threads = _numba().get_num_threads()
        whole = self.batch - self.batch % threads if threads > 1 else 0
        if whole:
            if not self.one.warmed:  # (its first call's compile, once, here)
                self.one.warm([a[0:1] for a in arrays])
            _side_by_side(sample, whole, threads)
        for i in range(whole, self.batch):
            sample(i)
        return outs


def _numba() -> Any:
    from shapegraph.executor.jit import numba

    return numba


_POOL: list[tuple[ThreadPoolExecutor, int]] = []  # the split's helper threads, and how many
_POOL_LOCK = threading.Lock()


def _side_by_side(sample: Callable[[int], None], n: int, threads: int) -> None:
    """``sample(i)`` for i < n on ``threads`` threads (this one and threads - 1 helpers),
    each running its samples with numba on one thread (numba's setting is per thread),
    each taking the next i as it is done with one: a thread on a busy core does fewer.
    After an error no thread takes another sample; the first raised (this thread's, else
    a helper's) is raised here once every thread has stopped."""
    with _POOL_LOCK:
        if not _POOL or _POOL[0][1] < threads - 1:  # (made again, larger, for more threads)
            if _POOL:
                _POOL.pop()[0].shutdown(wait=False)
            _POOL.append((ThreadPoolExecutor(threads - 1, "shapegraph-split"), threads - 1))
        pool = _POOL[0][0]
    nb = _numba()
    claims = iter(range(n))
    lock = threading.Lock()
    failed = threading.Event()  # (then no thread takes another sample)

    def work() -> None:
        was = nb.get_num_threads()
        nb.set_num_threads(1)
        try:
            while not failed.is_set():
                with lock:
                    i = next(claims, None)
                if i is None:
                    return
                sample(i)
        except BaseException:
            failed.set()
            raise
        finally:
            nb.set_num_threads(was)

    helpers = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        errors = [f.exception() for f in helpers]
    for e in errors:
        if e is not None:
            raise e


@contextmanager
def forced() -> Iterator[None]:
    """While it lasts, every plan built for a batch of more than one sample of a network
    whose samples never meet is a split (for the tests: the split's numbers on any such
    network, not only on the large ones the thresholds pick). Not thread-safe."""
    global SPLIT_MIN_VALUE, SPLIT_MIN_ARENA, SPLIT_MAX_WEIGHTS_PER_ARENA
    saved = SPLIT_MIN_VALUE, SPLIT_MIN_ARENA, SPLIT_MAX_WEIGHTS_PER_ARENA
    SPLIT_MIN_VALUE, SPLIT_MIN_ARENA, SPLIT_MAX_WEIGHTS_PER_ARENA = 0, 0, float("inf")
    try:
        yield
    finally:
        SPLIT_MIN_VALUE, SPLIT_MIN_ARENA, SPLIT_MAX_WEIGHTS_PER_ARENA = saved
