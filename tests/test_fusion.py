"""Every fusion the lowering does, after every producer, in every layout it can meet.

The lowering folds a batchnorm into the weights of the dense/conv before it, fuses an
activation into its producer's output pass and a residual add into a convolution. Each
is only right when the axes line up (a batchnorm normalizes its ``axis``; a dense with
``flatten=False`` writes its units on the *last* axis). This generator puts each foldable
consumer after each producer, runs eager (step by step) and compiled plans, and compares
both with the reference interpreter, which runs every op on its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import shapegraph as sg
from shapegraph import nn
from shapegraph.executor.packing import conv_algorithm
from shapegraph.infer.interpret import run_reference

# producer name -> (input shape, factory); sizes differ on every axis so that a fold
# along the wrong axis cannot go unnoticed (it fails or gives different numbers)
PRODUCERS: dict[str, tuple[tuple[int, ...], Callable[[], nn.Block]]] = {
    "dense": ((2, 7), lambda: nn.Dense(5)),
    "dense_flatten_r3": ((2, 3, 4), lambda: nn.Dense(5)),
    "dense_noflat_r2": ((2, 7), lambda: nn.Dense(5, flatten=False)),
    "dense_noflat_r3": ((2, 3, 4), lambda: nn.Dense(5, flatten=False, use_bias=False)),
    "dense_noflat_r3_eq": ((2, 3, 4), lambda: nn.Dense(3, flatten=False)),
    "dense_noflat_r4": ((2, 3, 4, 6), lambda: nn.Dense(5, flatten=False)),
    "conv1d": ((2, 3, 9), lambda: nn.Conv1D(5, 3)),
    "conv2d": ((2, 3, 6, 7), lambda: nn.Conv2D(5, 3, use_bias=False)),
    "conv2d_strided": ((2, 3, 9, 8), lambda: nn.Conv2D(4, 3, strides=2, padding=1)),
    # large enough for the GEMM algorithm (kernels_gemm.conv_gemm): 1x1 and strided
    "conv2d_gemm_1x1": ((2, 16, 5, 6), lambda: nn.Conv2D(24, 1)),
    # (a strided 3x3 of fewer than 64 products: 6 channels)
    "conv2d_gemm_strided": ((1, 6, 11, 9), lambda: nn.Conv2D(16, 3, strides=2, padding=1)),
    # large enough for wino_gemm (Winograd F(2x2, 3x3), kernels_gemm)
    "conv2d_wino_gemm": ((1, 96, 15, 14), lambda: nn.Conv2D(64, 3, padding=1)),
    # conv_gemm's products on vgemm (128+ products, 64+ outputs): a 1x1 on the plane, and a
    # 1x1 stride 2 (ResNet's shortcut) through im2col
    "conv2d_gemm_vgemm": ((1, 128, 5, 6), lambda: nn.Conv2D(72, 1)),
    "conv2d_gemm_vgemm_strided": ((1, 128, 9, 10), lambda: nn.Conv2D(72, 1, strides=2)),
    # the implicit GEMM over output channels (kernels_oconv.oconv): a 3x3 on a small plane
    # (42 pixels), a stem (3 channels, two strips of 16), a strided 3x3 of 36 outputs
    # (strips of 24 and 16 lanes, 12 of these stored)
    "conv2d_oconv": ((1, 256, 7, 6), lambda: nn.Conv2D(128, 3, padding=1)),
    "conv2d_oconv_stem": ((1, 3, 13, 52), lambda: nn.Conv2D(32, 7, strides=2, padding=3)),
    "conv2d_oconv_tail": ((2, 8, 11, 9), lambda: nn.Conv2D(36, 3, strides=2, padding=1)),
    # a depthwise 3x3 (kernels_dw.dwconv), two outputs an input
    "conv2d_dwconv": ((2, 6, 11, 9), lambda: nn.Conv2D(12, 3, padding=1, groups=6)),
}
# a 1x1 on a plane of 3136+ pixels with few channels (kernels_gemm.pointwise): for the
# in-place residual tests only (the folds are the kernel's bias and weights, tested above)
IN_PLACE = {**PRODUCERS, "conv2d_pointwise": ((1, 16, 56, 57), lambda: nn.Conv2D(24, 1))}

# consumer name -> factory of the layers that follow the producer
CONSUMERS: dict[str, Callable[[], list[nn.Block]]] = {
    "bn": lambda: [nn.BatchNorm()],
    "bn_last": lambda: [nn.BatchNorm(axis=-1)],
    "bn_axis2": lambda: [nn.BatchNorm(axis=2)],
    "relu": lambda: [nn.Activation("relu")],
    "bn_relu": lambda: [nn.BatchNorm(), nn.Activation("relu")],
    "relu_bn": lambda: [nn.Activation("tanh"), nn.BatchNorm()],
    "bn_bn": lambda: [nn.BatchNorm(), nn.BatchNorm(axis=-1)],
}


class Residual(nn.Block):
    """``act(consumers(producer(x)) + other(x))``: a residual add after the chain."""

    def __init__(self, producer: nn.Block, other: nn.Block, tail: list[nn.Block]) -> None:
        super().__init__()
        self.p = producer
        self.o = other
        self.tail = nn.Sequential()
        self.tail.add(*tail)

    def forward(self, x: Any) -> Any:
        return self.tail(self.p(x)) + self.o(x)


def _randomize_norms(net: nn.Block, rng: np.random.Generator) -> None:
    for key, p in net.collect_params().items():
        if key.rsplit(".", 1)[-1] in ("gamma", "beta", "running_mean", "running_var"):
            p.set_data(rng.uniform(0.5, 1.5, size=p.shape).astype(np.float32))


def _initialized(net: nn.Block) -> bool:
    """initialize(); False when the declarations alone already conflict (a batchnorm axis
    beyond the rank of a flattening dense's output), which test_consistent checks."""
    try:
        net.initialize()
    except sg.ShapeError:
        return False
    return True


def _check_against_reference(net: nn.Block, x: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    if not _initialized(net):
        return
    try:
        net(x)
    except sg.ShapeError:
        return  # this consumer does not fit this producer (checked by test_consistent)
    _randomize_norms(net, rng)
    eager = net(x)
    model = sg.compile(net, sg.Input("x", x.shape))
    want = run_reference(model.graph, model.params, {"x": x})[0]
    np.testing.assert_allclose(eager, want, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize(("producer", "consumer"),
                         list(itertools.product(PRODUCERS, CONSUMERS)))
def test_fold_after_producer(producer: str, consumer: str) -> None:
    shape, make = PRODUCERS[producer]
    net = nn.Sequential()
    net.add(make(), *CONSUMERS[consumer]())
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    _check_against_reference(net, x)


@pytest.mark.parametrize(("producer", "consumer"),
                         list(itertools.product(["conv1d", "conv2d", "conv2d_strided",
                                                 "conv2d_gemm_1x1", "conv2d_gemm_strided",
                                                 "conv2d_wino_gemm",
                                                 "dense_noflat_r3"], ["relu", "bn", "bn_last"])))
def test_residual_after_producer(producer: str, consumer: str) -> None:
    shape, make = PRODUCERS[producer]
    net = Residual(make(), make(), CONSUMERS[consumer]())
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    _check_against_reference(net, x)


def test_consistent() -> None:
    """Where the generator's chain does not fit, check says so before any run (and the
    combinations that do fit are the majority, so the tests above are not vacuous)."""
    fits = 0
    for producer, consumer in itertools.product(PRODUCERS, CONSUMERS):
        shape, make = PRODUCERS[producer]
        net = nn.Sequential()
        net.add(make(), *CONSUMERS[consumer]())
        report = sg.check(net, sg.Input("x", shape))
        fits += report.ok
        if not _initialized(net):
            assert not report.ok
        elif report.ok:
            net(np.zeros(shape, np.float32))
        else:
            with pytest.raises(sg.ShapeError):
                net(np.zeros(shape, np.float32))
    assert fits >= len(PRODUCERS) * len(CONSUMERS) * 2 // 3


def test_batchnorm_after_dense_flatten_false_folds_nothing_wrong() -> None:
    """The reported case: Dense(u, flatten=False) then BatchNorm() on (2, c, w)."""
    for units, c in ((4, 3), (3, 3)):
        net = nn.Sequential()
        net.add(nn.Dense(units, flatten=False, use_bias=False), nn.BatchNorm())
        net.initialize()
        x = np.random.default_rng(3).standard_normal((2, c, 5)).astype(np.float32)
        net(x)
        _randomize_norms(net, np.random.default_rng(4))
        bn = net[1]
        z = x @ net[0].weight.data().T
        g, b, m, v = (getattr(bn, k).data().reshape(1, c, 1)
                      for k in ("gamma", "beta", "running_mean", "running_var"))
        want = (z - m) / np.sqrt(v + 1e-5) * g + b
        np.testing.assert_allclose(net(x), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("producer", ["conv2d_gemm_1x1", "conv2d_gemm_strided",
                                      "conv2d_wino_gemm", "conv2d_gemm_vgemm",
                                      "conv2d_gemm_vgemm_strided", "conv2d_oconv",
                                      "conv2d_oconv_stem",
                                      "conv2d_oconv_tail", "conv2d_dwconv"])
def test_gemm_producers_run_the_gemm_kernel(producer: str) -> None:
    """The GEMM-sized producers above do run ``conv_gemm``, ``wino_gemm`` or ``oconv``
    (with batchnorm, relu and the residual fused into it), so the fusion tests cover those
    kernels' epilogues."""
    shape, make = PRODUCERS[producer]
    net = Residual(make(), make(), CONSUMERS["bn_relu"]())
    net.initialize()
    model = sg.compile(net, sg.Input("x", shape))
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    model(x)
    (runner,) = model._runners.values()
    kernels = [s.kernel for s in runner.plan.lowered.steps]
    kernel = ("wino_gemm" if "wino" in producer else "oconv" if "oconv" in producer
              else "dwconv" if "dwconv" in producer else "conv_gemm")
    assert kernels == [kernel, kernel], kernels
    want = {"conv2d_gemm_1x1": "GEMM on the input plane (1x1)",
            "conv2d_gemm_vgemm": "GEMM on the input plane (1x1)",
            "conv2d_gemm_vgemm_strided": "GEMM on im2col tiles",
            "conv2d_gemm_strided": "GEMM on im2col tiles",
            "conv2d_oconv": "implicit GEMM over output channels",
            "conv2d_oconv_stem": "implicit GEMM over output channels",
            "conv2d_oconv_tail": "implicit GEMM over output channels",
            "conv2d_dwconv": "depthwise, vectorized along rows",
            "conv2d_wino_gemm": "Winograd F(2x2, 3x3), register-tiled"}[producer]
    assert model.memory_plan().count(want) == 2  # the plan says which algorithm runs


class SelfResidual(nn.Block):
    """``pool(conv(h) + h)`` for ``h = relu(x)``: the convolution's input is its own
    residual (and the sum is not the graph's output, so it lives in the arena)."""

    def __init__(self, conv: nn.Block) -> None:
        super().__init__()
        self.a = nn.Activation("relu")
        self.c = conv
        self.p = nn.MaxPool2D(1, 1)

    def forward(self, x: Any) -> Any:
        h = self.a(x)
        return self.p(self.c(h) + h)


def _residual_step(model: sg.CompiledModel) -> tuple[Any, Any, Any]:
    """The plan, its one step with a fused residual, and that step's kernel name."""
    (runner,) = model._runners.values()
    (step,) = [s for s in runner.plan.lowered.steps
               if len(s.args) > 4 and getattr(s.args[3], "kind", "") == "val"
               and s.args[3].shape == s.args[4].shape]
    return runner.plan, step, step.kernel


@pytest.mark.parametrize(("producer", "kernel"), [
    ("conv2d", "conv2d_c3_6x7"), ("conv2d_strided", "conv2d_c3_9x8"),
    ("conv2d_gemm_1x1", "conv_gemm"), ("conv2d_gemm_strided", "conv_gemm"),
    ("conv2d_pointwise", "conv_gemm"), ("conv2d_wino_gemm", "wino_gemm"),
    ("conv2d_gemm_vgemm", "conv_gemm"), ("conv2d_gemm_vgemm_strided", "conv_gemm"),
    ("conv2d_oconv", "oconv"),
    ("conv2d_oconv_stem", "oconv"), ("conv2d_oconv_tail", "oconv"),
    ("conv2d_dwconv", "dwconv")])
def test_a_residual_sum_is_written_over_its_shortcut(producer: str, kernel: str) -> None:
    """Where the shortcut dies at the add, the memory plan gives the sum the shortcut's
    buffer, and every convolution kernel computes it there (``conv_gemm``: sgemm adds
    its products to the shortcut, ``pointwise`` starts from it)."""
    shape, make = IN_PLACE[producer]
    net = nn.Sequential()  # (a pool after the sum keeps it in the arena)
    net.add(Residual(make(), make(), CONSUMERS["bn"]()), nn.MaxPool2D(1, 1))
    net.initialize()
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    net(x)
    _randomize_norms(net, np.random.default_rng(0))
    model = sg.compile(net, sg.Input("x", shape))
    want = run_reference(model.graph, model.params, {"x": x})[0]
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)
    plan, step, name = _residual_step(model)
    assert name.startswith(kernel), name
    over, mine = (plan.storage[plan.base(v)] for v in (step.args[3].ref, step.writes))
    assert over.kind == mine.kind == "arena" and over.index == mine.index


@pytest.mark.parametrize("producer", ["conv2d", "conv2d_gemm_1x1", "conv2d_pointwise"])
def test_a_convolution_never_writes_over_its_own_input(producer: str) -> None:
    """``conv(h) + h``: the residual is also the convolution's input, so the sum gets a
    buffer of its own even though ``h`` dies there."""
    shape, _ = IN_PLACE[producer]
    c = shape[1]
    net = SelfResidual(nn.Conv2D(c, 1) if "conv2d_" in producer else
                       nn.Conv2D(c, 3, padding=1))
    net.initialize()
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    model = sg.compile(net, sg.Input("x", shape))
    want = run_reference(model.graph, model.params, {"x": x})[0]
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)
    plan, step, _ = _residual_step(model)
    assert plan.base(step.args[3].ref) == plan.base(step.args[0].ref)
    mine, theirs = (plan.storage[plan.base(v)] for v in (step.writes, step.args[0].ref))
    assert mine.kind == theirs.kind == "arena" and mine.index != theirs.index


class ChannelConstant(nn.Block):
    """``x op c`` with a constant ``c`` of shape ``shape`` (a per-channel scale or shift,
    as ONNX models write a batchnorm: Mul and Add by Unsqueeze'd vectors); ``first``
    puts the constant on the left (``c - x``, which is not an affine map of x's fold)."""

    def __init__(self, op: str, shape: tuple[int, ...], seed: int, first: bool = False) -> None:
        super().__init__()
        self.op, self.first = op, first
        self.c = sg.Parameter("c", shape=shape)
        self.values = np.random.default_rng(seed).uniform(0.5, 1.5, shape).astype(np.float32)

    def forward(self, x: Any) -> Any:
        c = self.c.data()
        a, b = (c, x) if self.first else (x, c)
        if self.op == "mul":
            return a * b
        if self.op == "add":
            return a + b
        return a - b if self.op == "sub" else a / b


# (producer, its output shape, the constant chain): constants along the channel axis fold
# into the producer (conv: axis 1; dense: the last), others must run on their own
CHANNEL_CASES = [
    ("conv2d", [("mul", (5, 1, 1)), ("add", (5, 1, 1))]),
    ("conv2d_gemm_1x1", [("mul", (24, 1, 1)), ("sub", (24, 1, 1)), ("div", (24, 1, 1))]),
    ("conv2d_strided", [("add", (4, 1, 1)), ("mul", (1, 4, 1, 1))]),
    ("conv2d", [("mul", (1, 1, 6))]),  # along the width: not the channel axis
    ("conv2d", [("sub", (5, 1, 1), True)]),  # c - x
    ("dense", [("mul", (5,)), ("add", (5,))]),
    ("dense_noflat_r3", [("mul", (5,)), ("div", (1, 1, 5))]),
    ("dense_noflat_r3", [("mul", (3, 1))]),  # along axis 1, not the units
]


@pytest.mark.parametrize(("producer", "chain"), CHANNEL_CASES)
@pytest.mark.parametrize("after", ["direct", "bn", "bn_relu_after"])
def test_per_channel_constants_fold_or_run(producer: str, chain: list[tuple[Any, ...]],
                                           after: str) -> None:
    """Per-channel Mul/Add/Sub/Div by constants after a dense or conv (directly or after a
    batchnorm), with a relu after them: compiled = the reference interpreter."""
    shape, make = PRODUCERS[producer]
    net = nn.Sequential()
    net.add(make())
    if after != "direct":
        net.add(nn.BatchNorm(axis=-1 if producer.startswith("dense") else 1))
    consts = [ChannelConstant(op, cshape, k, *rest)
              for k, (op, cshape, *rest) in enumerate(chain)]
    net.add(*consts)
    if after == "bn_relu_after":
        net.add(nn.Activation("relu"))
    for c in consts:  # before initialize(), which keeps them
        c.c.set_data(c.values)
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    _check_against_reference(net, x)


def test_a_batchnorm_as_mul_and_add_folds_into_the_convolution() -> None:
    """conv -> Mul(c1) -> Add(c2) -> relu: one step, the constants in its weights."""
    net = nn.Sequential()
    net.add(nn.Conv2D(5, 3), ChannelConstant("mul", (5, 1, 1), 1),
            ChannelConstant("add", (5, 1, 1), 2), nn.Activation("relu"))
    net.initialize()
    for c in list(net)[1:3]:
        c.c.set_data(c.values)
    model = sg.compile(net, sg.Input("x", (2, 3, 6, 7)))
    x = np.random.default_rng(7).standard_normal((2, 3, 6, 7)).astype(np.float32)
    np.testing.assert_allclose(model(x), run_reference(model.graph, model.params, {"x": x})[0],
                               rtol=2e-4, atol=2e-4)
    (runner,) = model._runners.values()
    assert len(runner.plan.lowered.steps) == 1


def test_division_by_a_per_channel_zero_gives_numpys_infinities() -> None:
    """x / c with a zero in c runs as a channel affine step (x * inf): inf, -inf and, for
    x = 0, NaN, as numpy's division gives; it is not folded into the conv before it."""
    div = ChannelConstant("div", (3, 1, 1), 3)
    div.values = np.array([0.0, 2.0, 0.0], np.float32).reshape(3, 1, 1)
    net = nn.Sequential()
    net.add(nn.Conv2D(3, 1, use_bias=False), div)
    div.c.set_data(div.values)
    net.initialize()
    net[0].weight.set_data(np.array([1.0, -1.0, 0.0], np.float32).reshape(3, 1, 1, 1))
    x = np.array([[[[1.0, 0.0]]]], np.float32)
    model = sg.compile(net, sg.Input("x", x.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        want = run_reference(model.graph, model.params, {"x": x})[0]
    got = model(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want)
    assert np.isinf(got).any() and np.isnan(got).any()


class Shuffled(nn.Block):
    """ShuffleNet's unit, and variants that must not fold: ``conv(pre(x))`` reshaped to
    (N, g, C/g, H, W), transposed by ``axes``, reshaped back, then ``conv`` (depthwise
    when it has C groups); ``reuse`` also adds the shuffled value to the result (a second
    reader: the transpose must stay)."""

    def __init__(self, g: int, cg: int, hw: tuple[int, int], axes: tuple[int, ...],
                 conv: nn.Block, reuse: bool) -> None:
        super().__init__()
        self.g, self.cg, self.hw, self.axes, self.reuse = g, cg, hw, axes, reuse
        self.pre = nn.Conv2D(g * cg, 1, activation="relu")
        self.conv = conv

    def forward(self, x: Any) -> Any:
        y = self.pre(x)
        z = y.reshape(0, self.g, self.cg, *self.hw).transpose(*self.axes)
        z = z.reshape(0, self.g * self.cg, *self.hw)
        out = self.conv(z)
        return out + z if self.reuse else out


@pytest.mark.parametrize("case", ["shuffle", "reuse", "plane", "dense"])
@settings(max_examples=4, deadline=None)  # (each example compiles its plan: 2-6 s)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 2), st.integers(3, 15),
       st.integers(3, 15), st.sampled_from([1, 2]), st.integers(0, 2**32 - 1))
def test_a_channel_shuffle_folds_into_the_depthwise_convolution_after_it(
        case: str, g: int, cg: int, batch: int, h: int, w: int, stride: int,
        seed: int) -> None:
    """ShuffleNet's channel shuffle (reshape, transpose, reshape) before a depthwise 3x3
    is no step of its own: the depthwise kernel reads the shuffle's input in the
    shuffled order. Where it must not fold (the shuffled value read again, a transpose of
    the plane's axes, a convolution that is not depthwise) the transpose stays. Always
    the reference's numbers."""
    c = g * cg
    axes = (0, 1, 2, 4, 3) if case == "plane" else (0, 2, 1, 3, 4)
    if case == "plane":
        w = h  # (the plane's transpose keeps its shape)
    groups = 1 if case == "dense" else c
    conv = nn.Conv2D(c, 3, strides=1 if case == "reuse" else stride, padding=1,
                     groups=groups)
    net = Shuffled(g, cg, (h, w), axes, conv, case == "reuse")
    net.initialize()
    shape = (batch, 3, h, w)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    net(x)
    model = sg.compile(net, sg.Input("x", shape))
    want = run_reference(model.graph, model.params, {"x": x})[0]
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)
    (runner,) = model._runners.values()
    kernels = [s.kernel for s in runner.plan.lowered.steps]
    folds = case == "shuffle" and c > 1
    assert ("transpose" in kernels) != folds, kernels
    assert (model.memory_plan().count("through the channel shuffle") == 1) == folds


class ConvPool(nn.Block):
    """``pool(conv(x))`` (``pool`` the layers after the convolution), plus
    ``conv(x).sum()`` when ``reuse`` (a second reader: the pool must stay a step), plus
    ``skip(x)`` when given (computed first: a residual add the step could take)."""

    def __init__(self, conv: nn.Block, reuse: bool, skip: nn.Block | None) -> None:
        super().__init__()
        self.conv, self.reuse, self.skip = conv, reuse, skip
        self.pool = nn.Sequential()

    def forward(self, x: Any) -> Any:
        s = self.skip(x) if self.skip is not None else None
        y = self.conv(x)
        z = self.pool(y)
        if self.reuse:
            z = z + y.sum()
        return z if s is None else z + s


def compiled_against_reference(net: nn.Block, shape: tuple[int, ...], seed: int) -> Any:
    """``net`` initialized, its batchnorm statistics and per-channel constants drawn from
    either sign, compiled for inputs of ``shape`` and checked against the reference on a
    random input: the compiled model."""
    net.initialize()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    net(x)
    for key, p in net.collect_params().items():
        if key.rsplit(".", 1)[-1] in ("gamma", "beta", "running_mean", "c"):
            p.set_data(rng.uniform(-1.5, 1.5, size=p.shape).astype(np.float32))
    model = sg.compile(net, sg.Input("x", shape))
    want = run_reference(model.graph, model.params, {"x": x})[0]
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)
    return model


# case -> (whether the pool folds, the layers after the convolution's output)
CONV_POOL_CASES: dict[str, tuple[bool, Callable[[int, int], list[nn.Block]]]] = {
    "fold": (True, lambda k, o: [nn.MaxPool2D(k, 2)]),
    # a batchnorm before the pool folds into the weights, ReLU after it: the pool comes
    # after both (a max commutes with a negative scale only before it)
    "bn_relu": (True, lambda k, o: [nn.BatchNorm(), nn.Activation("relu"), nn.MaxPool2D(k, 2)]),
    # after the pool: an activation joins the step (applied after the pool, as written);
    # a batchnorm does not (a maximum does not commute with its negative scales), nor a
    # per-channel scale, nor a residual add (here of another convolution and pool)
    "act_after": (True, lambda k, o: [nn.MaxPool2D(k, 2), nn.Activation("tanh")]),
    "bn_after": (True, lambda k, o: [nn.MaxPool2D(k, 2), nn.BatchNorm()]),
    "scale_after": (True, lambda k, o: [nn.MaxPool2D(k, 2),
                                        ChannelConstant("mul", (o, 1, 1), 0)]),
    "average": (False, lambda k, o: [nn.AvgPool2D(k, 2)]),
    # a padded pool folds (ShuffleNet's stem), padded by less than its window; a ceil-mode
    # one stays
    "padded": (True, lambda k, o: [nn.MaxPool2D(k, 2, padding=1)]),
    "ceil": (False, lambda k, o: [nn.MaxPool2D(k, 2, ceil_mode=True)]),
    "tanh_before": (False, lambda k, o: [nn.Activation("softsign"), nn.MaxPool2D(k, 2)]),
    "reuse": (False, lambda k, o: [nn.MaxPool2D(k, 2)]),
    "residual_after": (True, lambda k, o: [nn.MaxPool2D(k, 2)]),
}


@pytest.mark.parametrize("case", list(CONV_POOL_CASES))
@settings(max_examples=3, deadline=None)  # (each example compiles its plan: 2-6 s)
@given(st.integers(1, 4), st.integers(8, 20), st.sampled_from([2, 3]),
       st.integers(1, 2), st.integers(9, 24), st.integers(67, 90), st.sampled_from([2, 3]),
       st.integers(0, 2**32 - 1))
def test_a_max_pool_after_a_gemm_convolution_runs_with_it(
        case: str, c: int, o: int, k: int, batch: int, h: int, w: int, pk: int,
        seed: int) -> None:
    """A stride-2 max pool after a strided convolution on im2col tiles (SqueezeNet's and
    ShuffleNet's stems) is no step of its own: ``conv_maxpool`` pools the convolution's
    rows as they are done. Where it must not fold (an average, a ceil-mode pool, an
    activation that may decrease before it, the convolution's output read again) the
    pool stays. Always the reference's numbers, with batchnorm scales of either sign."""
    folds, layers = CONV_POOL_CASES[case]
    c = max(c, -(-16 // (k * k)))  # (16 products or more: conv_gemm's)
    skip = None
    if case == "residual_after":  # the same convolution and pool, with weights of its own
        skip = nn.Sequential()
        skip.add(nn.Conv2D(o, k, strides=2, padding=1), nn.MaxPool2D(pk, 2))
    net = ConvPool(nn.Conv2D(o, k, strides=2, padding=1), case == "reuse", skip)
    net.pool.add(*layers(pk, o))
    model = compiled_against_reference(net, (batch, c, h, w), seed)
    (runner,) = model._runners.values()
    kernels = [s.kernel for s in runner.plan.lowered.steps]
    fused = folds + (case == "residual_after")  # (its skip's pool folds too)
    assert kernels.count("conv_maxpool") == fused, kernels
    assert model.memory_plan().count("each max-pooled as it is done") == fused


# case -> whether the pool folds into a generated direct convolution's output pass
TEMPLATE_POOL_CASES = {"fold": True, "bn_relu": True, "act_after": True, "padded": False,
                       "ceil": False, "tanh_before": False, "reuse": False}


@settings(max_examples=6, deadline=None)  # (each example compiles its plan: 2-5 s)
@given(st.sampled_from(list(TEMPLATE_POOL_CASES)), st.integers(1, 3),
       st.sampled_from([3, 6, 16]), st.sampled_from([3, 5]), st.integers(1, 2),
       st.integers(1, 2), st.integers(10, 20), st.sampled_from([2, 3]),
       st.integers(0, 2**32 - 1))
def test_a_max_pool_after_a_generated_convolution_runs_with_it(
        case: str, c: int, o: int, k: int, s: int, batch: int, hw: int, pk: int,
        seed: int) -> None:
    """A stride-2 max pool without padding after a convolution with few channels (LeNet's:
    a generated direct kernel, "flat", "rows" or, with 16 outputs on a small plane, "vo")
    is no step of its own: the convolution's output pass stores the pool's maxima. Where it
    must not fold (a padded or ceil-mode pool, an activation that may decrease before it,
    the convolution's output read again) the pool stays. Always the reference's
    numbers."""
    shape = (batch, c, hw, hw + 1)
    assume(conv_algorithm((*shape, o, k, k, s, s, k // 2, k // 2, 1, 1, 1))
           in ("flat", "rows", "vo"))  # (with 16 or more products a strided one is gemm's)
    folds = TEMPLATE_POOL_CASES[case]
    layers = CONV_POOL_CASES[case][1](pk, o)
    net = ConvPool(nn.Conv2D(o, k, strides=s, padding=k // 2), case == "reuse", None)
    net.pool.add(*layers)
    model = compiled_against_reference(net, shape, seed)
    (runner,) = model._runners.values()
    steps = runner.plan.lowered.steps
    assert steps[0].source is not None, steps[0].kernel  # (a generated convolution)
    pooled = [st_.kernel.endswith(f"_mp{pk}x{pk}") for st_ in steps]
    assert pooled.count(True) == folds, [st_.kernel for st_ in steps]
    assert model.memory_plan().count("max-pooled") == folds


@pytest.mark.parametrize(("hw", "folds"), [(64, True), (54, False)])
def test_a_max_pool_after_a_stem_on_whole_tiles_runs_with_it(hw: int, folds: bool) -> None:
    """ResNet-50's stem and pool (a 7x7 stride-2 ``oconv`` convolution padded by 3, a 3x3
    stride-2 pool padded by 1): one ``conv_maxpool`` step where the convolution's rows are
    whole tiles of 8 (64 -> 32 columns), two steps where a row's last tile would compute 5
    columns of 32 again (54 -> 27: ``kernels_cpool.takes_conv``). The reference's numbers
    where it folds (the plan alone where it does not: ``oconv``'s and ``maxpool_s2``'s own
    tests have their numbers, and compiling them here would cost CI 9 s)."""
    net = nn.Sequential()
    net.add(nn.Conv2D(64, 7, strides=2, padding=3), nn.BatchNorm(), nn.Activation("relu"),
            nn.MaxPool2D(3, 2, padding=1))
    net.initialize()
    x = np.random.default_rng(hw).standard_normal((2, 3, hw, hw)).astype(np.float32)
    model = sg.compile(net, sg.Input("x", x.shape))
    model.memory_plan()  # (the plan, not yet compiled)
    (runner,) = model._runners.values()
    kernels = [s.kernel for s in runner.plan.lowered.steps]
    assert kernels == (["conv_maxpool"] if folds else ["oconv", "maxpool_s2"]), kernels
    if folds:
        (want,) = run_reference(model.graph, model.params, {"x": x})
        np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)
