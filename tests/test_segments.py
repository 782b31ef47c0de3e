"""Steps without a kernel (issue 9, "no silent fallback"): a node the executor has no
kernel for runs its numpy reference as one step between compiled segments, and the
model's repr and memory plan say which step, and why."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import init, nn, ops
from shapegraph.executor.jit import numba
from shapegraph.executor.model import CompiledModel
from shapegraph.infer.interpret import run_reference
from shapegraph.opset import all_ops, get_op, registry
from shapegraph.opset.build import chain

RTOL, ATOL = 2e-4, 2e-4


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def matches_reference(model: CompiledModel, x: np.ndarray) -> None:
    (want,) = run_reference(model.graph, model.params, {model.input_names[0]: x})
    np.testing.assert_allclose(model(x), want, rtol=RTOL, atol=ATOL)


def runner_of(model: CompiledModel) -> Any:
    (runner,) = model._runners.values()
    return runner


class Rank7(nn.Block):
    """dense -> relu (fused) -> a rank-7 transpose (no kernel) -> dense -> tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.d1 = nn.Dense(32, activation="relu", flatten=False)
        self.d2 = nn.Dense(8, activation="tanh", flatten=False)

    def forward(self, x):  # type: ignore[no-untyped-def]
        h = ops.transpose(self.d1(x), (0, 2, 1, 3, 4, 5, 6))
        return self.d2(h)


def channel_layernorm_model(seed: int) -> CompiledModel:
    """A conv net with a channel LayerNorm (axis 1 of NCHW: the kernel normalizes the last
    axis only) between compiled convolutions; random weights, gamma and beta included."""
    net = nn.Sequential()
    net.add(nn.Conv2D(8, 3, padding=1, activation="relu"), nn.LayerNorm(axis=1),
            nn.Conv2D(8, 3, activation="relu"), nn.MaxPool2D(2), nn.Dense(10))
    net.initialize(init.Xavier())
    model = sg.compile(net, sg.Input("x", ("batch", 3, 10, 10)))
    for i, (k, v) in enumerate(sorted(model.params.items())):  # before the first plan
        model.params[k] = rand(*v.shape, seed=seed * 100 + i)
    return model


# ----------------------------------------------------------------------------- segments


def test_rank7_transpose_runs_between_two_compiled_segments() -> None:
    net = Rank7()
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 2, 3, 2, 2, 2, 4)))
    matches_reference(model, rand(3, 2, 3, 2, 2, 2, 4))
    gen = runner_of(model).gen
    steps = runner_of(model).plan.lowered.steps
    assert [s.kernel for s in steps] == ["dense", "ref", "dense_narrow"]
    assert gen.refs == [1]
    assert [(s.start, s.stop) for s in gen.segments] == [(0, 1), (2, 3)]
    # each segment is its own numba function, compiled for this plan's arrays
    assert len(gen.functions) == 2
    for f in gen.functions:
        assert isinstance(f, numba.core.dispatcher.Dispatcher)
        assert len(f.signatures) == 1


def test_the_report_names_the_uncompiled_step_and_why() -> None:
    net = Rank7()
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 2, 3, 2, 2, 2, 4)))
    line = ("not compiled: step 1 `<root>` transpose in forward: numpy reference "
            "(no kernel for rank 7: the transpose kernel takes up to rank 6)")
    plan = model.memory_plan(batch=2)
    assert line in plan
    assert "3 steps in 2 compiled segments and 1 numpy reference step" in plan
    assert line in repr(model)


def test_a_plan_without_fallback_is_one_compiled_function() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(16, activation="relu"), nn.Dense(4))
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 5)))
    matches_reference(model, rand(2, 5))
    gen = runner_of(model).gen
    assert gen.refs == [] and len(gen.segments) == 1
    assert runner_of(model).fn is gen.functions[0]  # no Python between call and kernel
    assert "2 steps in 1 compiled segment," in model.memory_plan(batch=2)
    assert "not compiled" not in repr(model)


def test_a_plan_of_large_steps_calls_its_kernels_from_python() -> None:
    """Steps of at least STEP_MIN_MACS multiply-adds a sample are called from Python (no
    segment to compile), decided per sample: every batch size decides alike."""
    from shapegraph.executor import codegen

    net = nn.Sequential()
    net.add(nn.Conv2D(128, 3, padding=1, activation="relu"), nn.Conv2D(128, 3, padding=1),
            nn.GlobalAvgPool2D(), nn.Dense(10))
    net.initialize(init.Xavier())
    model = sg.compile(net, sg.Input("x", ("batch", 128, 32, 32)))
    small = sg.compile(net, sg.Input("x", ("batch", 128, 8, 8)))
    for batch in (1, 3):
        matches_reference(model, rand(batch, 128, 32, 32, seed=batch))
        matches_reference(small, rand(batch, 128, 8, 8, seed=batch))
    for runner in model._runners.values():  # 2 x 151M MACs over 4 steps a sample
        assert runner.gen.from_python and runner.gen.compiled
        assert all(not hasattr(f, "py_func") for f in runner.gen.functions)
    for runner in small._runners.values():  # 16 times fewer: one compiled segment
        assert not runner.gen.from_python
        assert all(hasattr(f, "py_func") for f in runner.gen.functions)
    assert codegen.STEP_MIN_MACS * 4 < 2 * 128 * 128 * 9 * 32 * 32 < codegen.STEP_MIN_MACS * 64
    text = model.memory_plan(batch=2)
    assert "4 steps called one by one from Python (compiled kernels, large steps)" in text


def test_channel_layernorm_between_convolutions() -> None:
    model = channel_layernorm_model(1)
    for batch in (1, 4):
        matches_reference(model, rand(batch, 3, 10, 10, seed=batch))
    runner = model._runners[((4, 3, 10, 10),)]
    kernels = [s.kernel for s in runner.plan.lowered.steps]
    assert kernels[1] == "ref" and kernels[0].startswith("conv") and \
        {"dense", "dense_narrow"} & set(kernels)
    assert len(runner.gen.segments) == 2 and runner.gen.compiled
    assert ("step 1 `1` LayerNorm(axis=1): numpy reference (no kernel for axis 1 of rank 4: "
            "the layernorm kernel normalizes the last axis)") in model.memory_plan(batch=4)


def test_models_sharing_a_plan_module_keep_their_own_weights() -> None:
    """Two models of one architecture generate the same module file; the reference step's
    parameters are bound per model, not in the shared module."""
    a, b = channel_layernorm_model(1), channel_layernorm_model(2)
    x = rand(2, 3, 10, 10, seed=5)
    a(x), b(x)
    assert runner_of(a).gen.path == runner_of(b).gen.path
    matches_reference(a, x)
    matches_reference(b, x)


@pytest.mark.parametrize("where", ["first", "middle", "last", "alone"])
def test_reference_steps_write_their_planned_buffers(where: str) -> None:
    """A reference step reading a graph input, writing the graph output, or both; its
    output living in the arena, read by compiled code afterwards."""
    layers: list[tuple[str, dict[str, Any]]] = [
        ("relu", {}), ("layernorm", {"axis": 1, "in_channels": 5}), ("tanh", {}), ("sigmoid", {})]
    layers = {"first": layers[1:], "middle": layers, "last": layers[:2],
              "alone": layers[1:2]}[where]
    g = chain(3, layers)
    params = {k: rand(*spec.shape, seed=i) for i, (k, spec) in enumerate(g.params.items())}
    model = CompiledModel(g, params)
    x = rand(2, 5, 3, seed=9)
    matches_reference(model, x)
    matches_reference(model, x + 1)  # again: the arena is reused, nothing stale
    gen = runner_of(model).gen
    assert len(gen.refs) == 1
    assert len(gen.segments) == {"first": 1, "middle": 2, "last": 1, "alone": 0}[where]


def test_debug_plans_say_they_run_from_python() -> None:
    net = Rank7()
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 2, 3, 2, 2, 2, 4)), debug=True)
    matches_reference(model, rand(2, 2, 3, 2, 2, 2, 4))
    assert not runner_of(model).gen.compiled
    text = model.memory_plan(batch=2)
    assert "3 steps run step by step from Python (debug, or an eager call)" in text
    assert "not compiled: step 1" in text


# ----------------------------------------------------------------------------- the registry


def _has_lowering(name: str) -> bool:
    return all_ops()[name].lowering is not None


def test_every_op_has_a_lowering_or_says_why_not() -> None:
    missing = [name for name, op in all_ops().items()
               if not _has_lowering(name) and not op.no_kernel]
    assert missing == [], (f"ops without a lowering in executor/lower.py and no reason: "
                           f"{missing}; give the record a lowering, or set no_kernel='why'")
    stale = [name for name, op in all_ops().items() if _has_lowering(name) and op.no_kernel]
    assert stale == [], f"ops with a lowering that still declare no_kernel: {stale}"


def test_an_op_declared_without_kernel_reports_its_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    op = dataclasses.replace(get_op("relu"), name="negate_test",
                             reference=lambda ins, p, a: (-ins[0],),
                             lowering=None, no_kernel="a test op: numpy only")
    monkeypatch.setitem(registry._REGISTRY, "negate_test", op)
    g = chain(2, [("relu", {}), ("negate_test", {}), ("tanh", {})])
    model = CompiledModel(g, {})
    x = rand(3, 4)
    np.testing.assert_allclose(model(x), np.tanh(-np.maximum(x, 0)), rtol=RTOL, atol=ATOL)
    text = repr(model)
    assert "not compiled: step 1 `1` " in text and "(a test op: numpy only)" in text
    assert len(runner_of(model).gen.segments) == 2


class Fn(nn.Block):
    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x):  # type: ignore[no-untyped-def]
        return ops.relu(self.fn(ops.relu(x)))


DECLINED = [  # (forward, input shape, the reason the report gives)
    (lambda x: ops.transpose(x, (0, 2, 1, 3, 4, 5, 6)), (2, 3, 2, 2, 2, 2, 3),
     "no kernel for rank 7: the transpose kernel takes up to rank 6"),
    (lambda x: ops.matmul(x, x), (2, 3, 3),
     "no kernel for ranks 3 and 3: the matmul kernel multiplies 2-D operands"),
    (lambda x: x * x, (2, 1, 2, 1, 3),
     "no kernel for rank 5: the broadcasting kernel takes up to rank 4"),
    (lambda x: ops.sum(x, axis=(0, 2, 4, 6)), (2, 3, 2, 3, 2, 3, 2),
     "no kernel for 7 alternating runs of reduced and kept dims: reduce_strided takes up "
     "to 6"),
]


@pytest.mark.parametrize(("fn", "shape", "reason"), DECLINED)
def test_every_declined_configuration_says_why(fn: Any, shape: tuple[int, ...],
                                               reason: str) -> None:
    net = Fn(fn)
    net.initialize()
    model = sg.compile(net, sg.Input("x", shape))
    matches_reference(model, rand(*shape))
    text = model.memory_plan()
    assert "not compiled: step 1 `<root>` " in text and f"numpy reference ({reason})" in text
    assert len(runner_of(model).gen.segments) == 2  # the relus before and after


# ------------------------------------------------------- large steps: calls made once, kept


def _kept(model: CompiledModel) -> list[Any]:
    """The ``codegen._Steps`` of the model's one plan (its segments called from Python)."""
    parts = runner_of(model).gen.kept
    assert parts, "no segment called from Python"
    return parts


def test_large_steps_make_their_calls_once_per_arena_and_thread_count() -> None:
    """A plan called from Python (``large_steps``) makes its steps' views and finds their
    kernels' compiled code once per arena and thread count; the steps viewing the input
    or the output make theirs on every call: new inputs, another thread count and another
    calling thread (its own arena) all give the reference's numbers."""
    import threading

    net = nn.Sequential()
    net.add(nn.Conv2D(128, 3, padding=1, activation="relu"), nn.Conv2D(128, 3, padding=1),
            nn.GlobalAvgPool2D(), nn.Dense(10))
    net.initialize(init.Xavier())
    model = sg.compile(net, sg.Input("x", ("batch", 128, 32, 32)))
    threads = numba.get_num_threads()
    try:
        for t, seed in ((1, 1), (1, 2), (2, 3), (2, 4), (1, 5)):
            numba.set_num_threads(min(t, numba.config.NUMBA_NUM_THREADS))
            matches_reference(model, rand(1, 128, 32, 32, seed=seed))
    finally:
        numba.set_num_threads(threads)
    (steps,) = _kept(model)
    made = list(steps._made.values())
    # one arena; one or two thread counts (on a busy machine a call may run on one thread)
    assert len({id(a) for a, _, _, _ in made}) == 1 and 1 <= len(made) <= 2
    for _, _, _, calls in made:
        # the first convolution reads the input, the dense layer writes the output
        assert [c is None for c in calls] == [True, False, False, True]
        assert all(not hasattr(c[0], "py_func") for c in calls if c is not None), \
            "a kept call still goes through its dispatcher"
    errors: list[BaseException] = []

    def other() -> None:
        try:
            matches_reference(model, rand(1, 128, 32, 32, seed=6))
            matches_reference(model, rand(1, 128, 32, 32, seed=7))
        except BaseException as e:  # (reported in the test's thread)
            errors.append(e)

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert not errors, errors
    assert len({id(a) for a, _, _, _ in steps._made.values()}) == 2  # the thread's own
    matches_reference(model, rand(1, 128, 32, 32, seed=8))


class TwoOutputs(nn.Block):
    """A dense layer whose output is both of the block's outputs (the second a copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.d = nn.Dense(6, activation="relu")

    def forward(self, x):  # type: ignore[no-untyped-def]
        y = self.d(x)
        return y, y


def test_steps_called_from_python_around_reference_steps_and_output_copies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every plan called from Python (the threshold at 0): segments on both sides of a
    reference step, and an output that is a copy of another, stay right call after call
    with new inputs."""
    from shapegraph.executor import codegen

    monkeypatch.setattr(codegen, "STEP_MIN_MACS", 0)
    model = channel_layernorm_model(3)
    for seed in (1, 2, 3):
        matches_reference(model, rand(2, 3, 10, 10, seed=seed))
    assert len(_kept(model)) == 2
    net = TwoOutputs()
    net.initialize(init.Xavier())
    twice = sg.compile(net, sg.Input("x", ("batch", 5)))
    for seed in (1, 2, 3):
        x = rand(3, 5, seed=seed)
        want = run_reference(twice.graph, twice.params, {"x": x})
        got = twice(x)
        assert len(got) == 2 and len(want) == 2
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
    assert runner_of(twice).plan.copies and runner_of(twice).gen.from_python
