"""The executor against the reference interpreter: generated programs, memory plans,
caching across processes, threads, and input validation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from plan_checks import arena_conflicts

import shapegraph as sg
from shapegraph import init, nn, ops
from shapegraph.executor.plan import _place
from shapegraph.infer.interpret import run_reference

RTOL, ATOL = 2e-4, 2e-4


def reference(model: sg.CompiledModel, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    feeds = dict(zip(model.input_names, arrays, strict=True))
    return run_reference(model.graph, model.params, feeds)


def check(model: sg.CompiledModel, *arrays: np.ndarray) -> None:
    got = model(*arrays)
    got = got if isinstance(got, tuple) else (got,)
    for g, want in zip(got, reference(model, *arrays), strict=True):
        np.testing.assert_allclose(g, want, rtol=RTOL, atol=ATOL)


def seed_mlp() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
    net.initialize(init.Xavier())
    return net


def lenet() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Conv2D(6, kernel_size=5, padding=2, activation="relu"), nn.MaxPool2D(2),
            nn.Conv2D(16, kernel_size=5, activation="relu"), nn.MaxPool2D(2),
            nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10))
    net.initialize(init.Xavier())
    return net


class BasicBlock(nn.Block):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2D(ch, 3, padding=1, use_bias=False)
        self.b1 = nn.BatchNorm()
        self.c2 = nn.Conv2D(ch, 3, padding=1, use_bias=False)
        self.b2 = nn.BatchNorm()

    def forward(self, x):  # type: ignore[no-untyped-def]
        h = ops.relu(self.b1(self.c1(x)))
        return ops.relu(self.b2(self.c2(h)) + x)


def resnet(ch: int = 8, blocks: int = 2) -> nn.Sequential:
    net = nn.Sequential()
    for _ in range(blocks):
        net.add(BasicBlock(ch))
    net.add(nn.GlobalAvgPool2D(), nn.Dense(10))
    net.initialize(init.Xavier())
    net(np.zeros((1, ch, 6, 6), np.float32))  # creates the deferred parameters
    rng = np.random.default_rng(3)
    for key, p in net.collect_params().items():  # non-trivial batchnorm statistics
        if key.endswith(("running_mean", "beta")):
            p.set_data(rng.normal(0, 0.2, p.shape))
        elif key.endswith(("running_var", "gamma")):
            p.set_data(rng.uniform(0.5, 1.5, p.shape))
    return net


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ----------------------------------------------------------------------------- whole programs


@pytest.mark.parametrize("batch", [1, 3])
def test_seed_mlp_compiled_matches_reference(batch: int) -> None:
    model = sg.compile(seed_mlp(), sg.Input("x", ("batch", 20)))
    check(model, rand(batch, 20))
    runner = next(iter(model._runners.values()))
    assert runner.gen.compiled  # one compiled function for the whole forward
    # relu fused; the 10 outputs keep their weight as it is (dot products)
    assert [s.kernel for s in runner.plan.lowered.steps] == ["dense", "dense_narrow"]


def test_lenet_and_resnet_compiled_match_reference() -> None:
    check(sg.compile(lenet(), sg.Input("x", ("batch", 1, 28, 28))), rand(2, 1, 28, 28))
    model = sg.compile(resnet(), sg.Input("x", ("batch", 8, 12, 12)))
    check(model, rand(2, 8, 12, 12, seed=1))
    steps = next(iter(model._runners.values())).plan.lowered.steps
    kernels = [s.kernel for s in steps]
    assert "channel_affine" not in kernels and "binary" not in kernels  # bn folded, add fused
    assert sum(k.startswith("conv") for k in kernels) == 4


@pytest.mark.parametrize(("ch", "hw", "algo"), [(16, 24, "wino4_gemm"),
                                                (64, 14, "wino_gemm")])
def test_winograd_networks_compiled_match_reference(ch: int, hw: int, algo: str) -> None:
    """Residual blocks whose 3x3s run Winograd (F(4x4, 3x3) on planes of 20 columns or
    more, F(2x2, 3x3) below), their batchnorms folded and adds fused, at batch 2 and 1,
    against the interpreter."""
    net = resnet(ch)
    model = sg.compile(net, sg.Input("x", ("batch", ch, hw, hw)))
    check(model, rand(2, ch, hw, hw, seed=3))
    check(model, rand(1, ch, hw, hw, seed=4))
    steps = next(iter(model._runners.values())).plan.lowered.steps
    assert [s.kernel for s in steps].count(algo) == 4


def test_the_short_call_path_takes_what_numba_would_and_skips_nothing() -> None:
    """A one-input model's call goes straight to its compiled code (past numba's
    dispatcher) only for an aligned, writeable, C-contiguous float32 input: a read-only or
    unaligned one, or a strided one, takes the checked path, with the same numbers."""
    model = sg.compile(seed_mlp(), sg.Input("x", ("batch", 20)))
    x = rand(2, 20, seed=7)
    want = model(x)  # plans, then runs through the checked path
    runner = model._by_shape[(2, 20)]
    assert runner._entry is None
    np.testing.assert_array_equal(model(x), want)  # the short path, through numba's
    assert runner._entry is not None  # dispatcher once; from then on past it
    np.testing.assert_array_equal(model(x), want)
    ro = x.copy()
    ro.setflags(write=False)
    np.testing.assert_array_equal(model(ro), want)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = raw[1:].view(np.float32).reshape(x.shape)
    unaligned[...] = x
    assert not unaligned.flags.aligned
    np.testing.assert_array_equal(model(unaligned), want)
    wide = np.zeros((2, 40), np.float32)
    wide[:, ::2] = x
    np.testing.assert_array_equal(model(wide[:, ::2]), want)
    check(model, x)
    # a plan whose first calls were read-only finds its plain signature among two
    other = sg.compile(seed_mlp(), sg.Input("x", ("batch", 20)))
    other.params.update(model.params)
    other(ro)
    other(ro)
    other(x)
    assert other._by_shape[(2, 20)]._entry is not None
    np.testing.assert_array_equal(other(x), want)


def test_debug_mode_runs_step_by_step_with_the_same_results() -> None:
    net = lenet()
    x = rand(3, 1, 28, 28)
    fast = sg.compile(net, sg.Input("x", ("batch", 1, 28, 28)))
    slow = sg.compile(net, sg.Input("x", ("batch", 1, 28, 28)), debug=True)
    np.testing.assert_allclose(fast(x), slow(x), rtol=RTOL, atol=ATOL)
    assert not next(iter(slow._runners.values())).gen.compiled


def test_new_batch_size_is_a_new_plan_not_a_new_trace() -> None:
    model = sg.compile(seed_mlp(), sg.Input("x", ("batch", 20)))
    for b in (1, 4, 9):
        check(model, rand(b, 20))
    assert sorted(model._runners) == [((1, 20),), ((4, 20),), ((9, 20),)]


def test_plans_for_new_batch_sizes_share_one_copy_of_the_weights() -> None:
    model = sg.compile(resnet(), sg.Input("x", ("batch", 8, "h", "h")))
    for shape in ((1, 8, 12, 12), (3, 8, 12, 12), (2, 8, 7, 7)):
        check(model, rand(*shape, seed=shape[0]))
    plans = {k[0]: r.plan for k, r in model._runners.items()}
    for plan in plans.values():  # each step's weights are views of the one packed array
        assert plan.lowered.weights
        assert all(np.shares_memory(w, plan.weights) for w in plan.lowered.weights)
    # the batch is not in the weights: one array for both batch sizes (the batchnorm
    # folded into each convolution is lowered once more, compared, and dropped)
    assert plans[(3, 8, 12, 12)].weights is plans[(1, 8, 12, 12)].weights
    check(model, rand(1, 8, 12, 12, seed=5))  # the shared array still gives the numbers


# ----------------------------------------------------------------------------- random networks

LAYERS = st.sampled_from(["dense", "dense_relu", "bn", "tanh", "residual", "concat",
                          "softmax", "layernorm", "sigmoid"])


class RandomNet(nn.Block):
    def __init__(self, kinds: list[str], width: int) -> None:
        super().__init__()
        self.kinds = kinds
        self.layers = nn.Sequential()
        for k in kinds:
            if k in ("dense", "residual", "concat"):
                self.layers.add(nn.Dense(width))
            elif k == "dense_relu":
                self.layers.add(nn.Dense(width, activation="relu"))
            elif k == "bn":
                self.layers.add(nn.BatchNorm())
            elif k == "layernorm":
                self.layers.add(nn.LayerNorm())
            else:
                self.layers.add(nn.Activation("tanh") if k == "tanh" else
                                nn.Activation("sigmoid"))

    def forward(self, x):  # type: ignore[no-untyped-def]
        for kind, layer in zip(self.kinds, self.layers._children.values(), strict=True):
            if kind == "residual":
                x = ops.relu(layer(x) + x)
            elif kind == "concat":
                x = layer(ops.concat(x * 0.5, x, dim=1).reshape(0, -1, 1).flatten())
            elif kind == "softmax":
                x = layer(ops.softmax(x, axis=-1)) * 3.0 - 1.0
            else:
                x = layer(x)
        return x


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYERS, min_size=1, max_size=5), st.integers(1, 4), st.integers(2, 6))
def test_random_networks_match_reference(kinds: list[str], batch: int, width: int) -> None:
    net = RandomNet(kinds, width)
    net.initialize(init.Normal(0.5))
    x = rand(batch, width, seed=batch)
    model = sg.compile(net, sg.Input("x", ("batch", width)), debug=True)
    check(model, x)
    np.testing.assert_allclose(net(x), reference(model, x)[0], rtol=RTOL, atol=ATOL)


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(5, 9), st.sampled_from([1, 2]),
       st.integers(0, 1), st.sampled_from(["max", "avg"]), st.booleans())
def test_random_conv_pool_stacks_match_reference(batch: int, cin: int, hw: int, stride: int,
                                                 pad: int, pool: str, glob: bool) -> None:
    net = nn.Sequential()
    net.add(nn.Conv2D(4, 3, strides=stride, padding=pad, activation="relu"),
            nn.MaxPool2D(2, 1) if pool == "max" else nn.AvgPool2D(2, 1, padding=1),
            nn.BatchNorm(),
            nn.GlobalMaxPool2D() if glob else nn.Flatten(), nn.Dense(3))
    net.initialize(init.Normal(0.3))
    x = rand(batch, cin, hw, hw + 1)
    check(sg.compile(net, sg.Input("x", ("batch", cin, hw, hw + 1)), debug=True), x)


def test_conv1d_embedding_transpose_and_matmul() -> None:
    class Mixed(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(10, 6)
            self.conv = nn.Conv1D(4, 3, padding=1)
            self.pool = nn.AvgPool1D(2)

        def forward(self, idx):  # type: ignore[no-untyped-def]
            e = self.emb(idx).transpose(0, 2, 1)          # (batch, 6, T)
            h = self.pool(self.conv(e)).flatten()
            return h @ h.T

    net = Mixed()
    net.initialize(init.Normal(0.5))
    idx = np.array([[1, 2, 3, 9], [0, 0, 5, 7]], np.float32)
    model = sg.compile(net, sg.Input("idx", ("batch", 4)), debug=True)
    check(model, idx)
    with pytest.raises(IndexError, match=r"layer `emb` Embedding\(10, 6\): indices"):
        model(idx + 1)


# ----------------------------------------------------------------------------- memory


def test_memory_plan_reuses_buffers() -> None:
    model = sg.compile(lenet(), sg.Input("x", ("batch", 1, 28, 28)))
    model(rand(4, 1, 28, 28))
    plan = next(iter(model._runners.values())).plan
    assert 0 < plan.arena_size < plan.separate_size
    report = model.memory_plan(batch=4)
    assert "activation arena" in report and "every value in its own buffer" in report
    text = repr(model)
    assert "f32[batch,6,28,28]" in text and "0.weight: (6, 1, 5, 5)" in text


def test_the_arena_the_weights_and_scratch_buffers_start_a_cache_line() -> None:
    """Every buffer's offset is a multiple of ALIGN floats, and the arena and the packed
    weights start at a 64-byte boundary, so every buffer does (a 16-lane vector load
    from a buffer's start never straddles two cache lines); so do the kernels' scratch
    buffers (``simd.empty64``: numba aligns to 32 bytes, numpy to 16)."""
    from shapegraph.executor.jit import njit
    from shapegraph.executor.plan import ALIGN, aligned
    from shapegraph.executor.simd import address, empty64

    model = sg.compile(resnet(8, 3), sg.Input("x", ("batch", 8, 12, 12)))
    check(model, rand(2, 8, 12, 12, seed=5))
    runner = next(iter(model._runners.values()))
    assert runner.arena().ctypes.data % 64 == 0 and runner.weights.ctypes.data % 64 == 0
    assert ALIGN * 4 == 64
    assert all(o % ALIGN == 0 for o in runner.plan.weight_offsets)
    assert all(st.index % ALIGN == 0 for st in runner.plan.storage.values()
               if st.kind == "arena")
    for size in (1, 5, 16, 1000, 123457):
        a = aligned(size, zero=True)
        assert a.shape == (size,) and a.dtype == np.float32 and not a.any()
        assert a.ctypes.data % 64 == 0 and aligned(size).ctypes.data % 64 == 0

    @njit
    def scratch(n: int) -> tuple[int, int]:
        worst = 0
        for k in range(1, n):  # (allocations of every size, each freed in turn)
            buf = empty64(k)
            buf[:] = 1.0
            worst = max(worst, address(buf) % 64)
        return worst, empty64(n).size

    assert scratch(300) == (0, 300)


class _Branches(nn.Block):
    """Two branches concatenated, then a residual over a third: values of several sizes
    and lifetimes, a concat written part by part."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2D(4, 1), nn.Conv2D(12, 3, padding=1)
        self.c, self.d = nn.Conv2D(16, 3, padding=1), nn.Conv2D(16, 1)

    def forward(self, x: Any) -> Any:
        h = ops.concat(self.a(x), self.b(x), dim=1)
        return ops.relu(self.c(h) + self.d(x))


@pytest.mark.parametrize("make", [lenet, resnet, lambda: resnet(8, 3), _Branches])
def test_no_two_live_values_share_arena_memory(make: Any) -> None:
    """Largest values placed first (``plan._place``): whatever the placement, two values
    live at the same step never overlap (tests/plan_checks.py reads the plan on its own),
    and the numbers are the reference's."""
    net = make()
    if make is _Branches:
        net.initialize()
    shape = (3, 1, 28, 28) if make is lenet else (3, 8, 12, 12)
    model = sg.compile(net, sg.Input("x", ("batch", *shape[1:])))
    check(model, rand(*shape, seed=4))
    plan = next(iter(model._runners.values())).plan
    assert arena_conflicts(plan) == []
    assert plan.arena_size < plan.separate_size


def test_the_arena_places_the_largest_values_first() -> None:
    """ResNet-50's first steps at batch 8, sizes in MiB rounded (size, first step, last
    step): the stem conv's output, the pool's, the two 64-channel convs', and the
    256-channel one. In step order with first fit the last could not use the holes the
    others left (54); placed by size it goes where the stem's output was (36: the most
    alive at once is p + c2 + c3 = 36, so no placement does better)."""
    blocks = [(24, 0, 1), (6, 1, 5), (6, 2, 3), (6, 3, 4), (24, 4, 5)]
    offsets, peak = _place(blocks)
    assert peak == 36
    for (sa, a0, a1), oa in zip(blocks, offsets, strict=True):
        for (sb, b0, b1), ob in zip(blocks, offsets, strict=True):
            if (sa, a0, a1, oa) != (sb, b0, b1, ob) and a0 <= b1 and b0 <= a1:
                assert oa + sa <= ob or ob + sb <= oa  # alive together: apart in memory


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 64), st.integers(0, 40), st.integers(0, 12)),
                max_size=80))
def test_placed_blocks_alive_together_never_overlap(spans: list[tuple[int, int, int]]
                                                    ) -> None:
    blocks = [(size, a, a + d) for size, a, d in spans]
    offsets, peak = _place(blocks)
    for i, ((si, ai, zi), oi) in enumerate(zip(blocks, offsets, strict=True)):
        assert oi >= 0
        for (sj, aj, zj), oj in zip(blocks[i + 1:], offsets[i + 1:], strict=True):
            if ai <= zj and aj <= zi:
                assert oi + si <= oj or oj + sj <= oi
    assert peak == max((o + b[0] for o, b in zip(offsets, blocks, strict=True)), default=0)
    assert peak >= max((sum(b[0] for b in blocks if b[1] <= t <= b[2]) for t in range(53)),
                       default=0)


def test_elementwise_steps_write_in_place() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(8), nn.BatchNorm(), nn.Activation("tanh"), nn.Activation("sigmoid"))
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 4)), debug=True)
    check(model, rand(2, 4))
    plan = next(iter(model._runners.values())).plan
    homes = {st.index for st in plan.storage.values() if st.kind == "arena"}
    assert len(homes) == 1  # dense output, then tanh in place (bn folded, sigmoid is the output)


# ----------------------------------------------------------------------------- safety


def test_inputs_are_validated_before_compiled_code_runs() -> None:
    model = sg.compile(seed_mlp(), sg.Input("x", ("batch", 20)))
    good = rand(2, 20)
    np.testing.assert_allclose(model(good.astype(np.float64)), model(good))
    np.testing.assert_allclose(model(np.asfortranarray(rand(3, 20))),
                               model(np.ascontiguousarray(rand(3, 20))), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(model(x=good), model(good))
    with pytest.raises(sg.ShapeError) as e:
        model(rand(2, 30))
    assert e.value.diagnostics[0].path == "0" and "30" in str(e.value)
    with pytest.raises(sg.ShapeError, match="rank"):
        model(rand(2, 20, 1, 1).reshape(2, 20, 1)[:, :, 0][None])
    with pytest.raises(TypeError, match="expected an array of numbers"):
        model(np.array([["a"] * 20]))
    with pytest.raises(TypeError, match=r"takes 1 input\(s\) \(x\), got 0"):
        model()
    with pytest.raises(TypeError, match="unknown input"):
        model(good, z=good)
    assert len(model._runners) == 2  # failures cached nothing


def test_compiled_input_types_are_enforced_and_symbols_bound_consistently() -> None:
    class Two(nn.Block):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Dense(3)

        def forward(self, x, y):  # type: ignore[no-untyped-def]
            return self.a(x) + self.a(y)

    net = Two()
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("n", 4)), sg.Input("y", ("n", 4)))
    assert model(rand(2, 4), rand(2, 4)).shape == (2, 3)
    with pytest.raises(sg.ShapeError) as e:
        model(rand(2, 4), rand(3, 4))
    assert "`n` is 2" in str(e.value)


def test_compile_errors_name_the_layer() -> None:
    net = lenet()
    net.add(nn.Dense(5, in_units=7))  # takes 10 features, not 7
    with pytest.raises(sg.ShapeError) as e:
        sg.compile(net, sg.Input("x", ("batch", 1, 28, 28)))
    assert e.value.diagnostics[0].path == "7" and "in_units=7" in str(e.value)
    net = nn.Sequential()
    net.add(nn.Dense(4, in_units=5))
    net.initialize()
    with pytest.raises(sg.ShapeError) as e2:
        sg.compile(net, sg.Input("x", ("batch", 6)))
    assert e2.value.diagnostics[0].path == "0"
    with pytest.raises(ValueError, match="dim 1"):
        sg.Input("x", ("batch", -3))


def test_many_threads_share_one_model() -> None:
    model = sg.compile(lenet(), sg.Input("x", ("batch", 1, 28, 28)))
    xs = [rand(2, 1, 28, 28, seed=s) for s in range(8)]
    want = [model(x) for x in xs]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(20):
                np.testing.assert_array_equal(model(xs[k]), want[k])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ----------------------------------------------------------------------------- caching


def test_a_second_process_does_not_compile_again(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import numpy as np, shapegraph as sg
        from shapegraph import nn, init
        init.seed(1)
        net = nn.Sequential(); net.add(nn.Dense(16, activation="relu"), nn.Dense(3))
        net.initialize()
        model = sg.compile(net, sg.Input("x", ("batch", 5)))
        model(np.ones((2, 5), np.float32))
        run = next(iter(model._runners.values())).fn
        print(len(run.stats.cache_hits), len(run.stats.cache_misses))
    """)
    env = {**os.environ, "SHAPEGRAPH_CACHE": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    assert first == ["0", "1"]  # compiled, and saved
    assert second == ["1", "0"]  # loaded from the disk cache
    assert len(list(tmp_path.glob("shapegraph_plan_*.py"))) == 1


def test_ops_without_a_kernel_run_their_reference_step() -> None:
    class BatchedMatmul(nn.Block):
        def forward(self, a, b):  # type: ignore[no-untyped-def]
            return (a @ b) * 2.0

    net = BatchedMatmul()
    net.initialize()
    model = sg.compile(net, sg.Input("a", (2, 3, 4)), sg.Input("b", (2, 4, 5)))
    a, b = rand(2, 3, 4), rand(2, 4, 5, seed=1)
    check(model, a, b)
    runner = next(iter(model._runners.values()))
    # the batched matmul runs its reference; the multiply after it is a compiled segment
    assert runner.gen.refs == [0] and len(runner.gen.segments) == 1 and runner.gen.compiled


@pytest.mark.parametrize("layer", [nn.AvgPool2D(7), nn.MaxPool2D(7), nn.AvgPool2D((7, 7), 2),
                                   nn.AvgPool1D(7)])
def test_a_pool_over_the_whole_plane_is_a_global_pool(layer: nn.Block) -> None:
    """ResNet-50's last average pool (7x7 on a 7x7 plane) runs as one reduction per
    channel, with the numbers of the windowed pool."""
    net = nn.Sequential()
    net.add(layer)
    one_d = isinstance(layer, nn.AvgPool1D)
    shape = ("batch", 5, 7) if one_d else ("batch", 5, 7, 7)
    model = sg.compile(net, sg.Input("x", shape))
    x = rand(3, 5, 7) if one_d else rand(3, 5, 7, 7)
    check(model, x)
    x[0, 1, 2] = np.nan  # NaN propagates as through the windowed kernels
    check(model, x)
    steps = next(iter(model._runners.values())).plan.lowered.steps
    assert [s.kernel for s in steps] == ["global_pool"]
