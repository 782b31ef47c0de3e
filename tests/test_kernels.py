"""Every executor kernel and template against the numpy references of shapegraph.ops.

Hypothesis draws shapes and configurations; example counts stay small because numba compiles
once per type signature (generic kernels) or per configuration (templates).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from numba import njit, prange

import shapegraph as sg
from shapegraph import nn
from shapegraph.executor import kernels as K
from shapegraph.executor import kernels_cpool as KCP
from shapegraph.executor import kernels_dw as KD
from shapegraph.executor import kernels_gemm as KG
from shapegraph.executor import kernels_oconv as KO
from shapegraph.executor import kernels_pool as KP
from shapegraph.executor import kernels_vgemm as KVG
from shapegraph.executor import kernels_wino4 as KW4
from shapegraph.executor import simd as SIMD
from shapegraph.executor import templates as T
from shapegraph.executor.blas import single_threaded_blas
from shapegraph.executor.lower import transpose_runs
from shapegraph.executor.packing import pack_wino4_gemm, pack_wino_gemm
from shapegraph.ops import get_op
from shapegraph.opset.conv import conv_reference, pool_reference, window_out
from shapegraph.opset.elementwise import ACTIVATIONS

FEW = settings(max_examples=12, deadline=None)
SOME = settings(max_examples=25, deadline=None)
ACT_NAMES = {K.ACT_RELU: "relu", K.ACT_SIGMOID: "sigmoid", K.ACT_TANH: "tanh",
             K.ACT_SOFTRELU: "softrelu", K.ACT_SOFTSIGN: "softsign", K.ACT_GELU: "gelu"}
ACTS = st.sampled_from([K.ACT_NONE, *ACT_NAMES])
EMPTY1 = np.empty(0, np.float32)
EMPTY4 = np.empty((0, 0, 0, 0), np.float32)


def reference(op: str, ins: list[np.ndarray], params: dict[str, np.ndarray],
              attrs: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """The op's numpy reference, on ``attrs`` completed by its schema."""
    return get_op(op).reference(ins, params, get_op(op).complete(attrs))


def rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def kact(code: int) -> tuple[int, float, float]:
    """An activation code as the kernels take it: (code, parameter 0, parameter 1)."""
    return (code, 0.0, 0.0)


def act_ref(y: np.ndarray, act: int) -> np.ndarray:
    return y if act == K.ACT_NONE else np.asarray(ACTIVATIONS[ACT_NAMES[act]](y))


def close(got: np.ndarray, want: np.ndarray, scale: float = 1.0) -> None:
    """float32 agreement, tolerance scaled by the size of the sums involved."""
    np.testing.assert_allclose(got, want, rtol=1e-4 * scale, atol=1e-4 * scale)


# --------------------------------------------------------------------------- elementwise


@SOME
@given(st.integers(0, 300), ACTS, st.integers(0, 2**32 - 1))
def test_activation(n: int, act: int, seed: int) -> None:
    x = rand(np.random.default_rng(seed), n) * 6
    out = np.empty_like(x)
    K.activation(x, kact(act), out)
    close(out, act_ref(x.astype(np.float64), act))


def test_activation_extremes_and_nan() -> None:
    x = np.array([-1e4, -80, 0, 80, 1e4, np.nan], np.float32)
    for act in ACT_NAMES:
        out = np.empty_like(x)
        K.activation(x, kact(act), out)
        want = act_ref(x.astype(np.float64), act)
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    K.activation(x, kact(K.ACT_RELU), x)  # in place
    assert np.isnan(x[-1]) and x[0] == 0


def _strides4(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    full = (1,) * (4 - len(shape)) + shape
    st_: list[int] = []
    acc = 1
    for d in reversed(full):
        st_.append(acc if d != 1 else 0)
        acc *= d
    strides = list(reversed(st_))
    return np.array([s if o != 1 or d != 1 else 0
                     for s, d, o in zip(strides, full, out_shape, strict=True)], np.int64)


@st.composite
def broadcast_pair(draw: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    a = tuple(d if draw(st.booleans()) else 1 for d in shape)
    b = tuple(d if draw(st.booleans()) else 1 for d in shape)
    return a[draw(st.integers(0, rank - 1)):], b


@SOME
@given(broadcast_pair(), st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_binary_broadcast(shapes: tuple[tuple[int, ...], tuple[int, ...]], op: int,
                          seed: int) -> None:
    rng = np.random.default_rng(seed)
    sa, sb = shapes
    a, b = rand(rng, *sa), rand(rng, *sb) + 3
    want = [np.add, np.subtract, np.multiply, np.divide][op](a, b)
    out_shape = (1,) * (4 - want.ndim) + want.shape
    out = np.empty(want.size, np.float32)
    K.binary(a.ravel(), _strides4(sa, out_shape), b.ravel(), _strides4(sb, out_shape), out,
             np.array(out_shape, np.int64), op)
    close(out.reshape(want.shape), want)


def test_binary_in_place_same_shape_and_row() -> None:
    rng = np.random.default_rng(0)
    a, b = rand(rng, 3, 70), rand(rng, 70)
    want = a * b
    shape = np.array([1, 1, 3, 70], np.int64)
    af = a.ravel()
    K.binary(af, _strides4((3, 70), (1, 1, 3, 70)), b, _strides4((70,), (1, 1, 3, 70)), af,
             shape, K.OP_MUL)
    close(a, want)
    c = rand(rng, 2, 3, 4, 5)
    want = c + c
    cf = c.ravel()
    s = _strides4(c.shape, c.shape)
    K.binary(cf, s, cf, s, cf, np.array(c.shape, np.int64), K.OP_ADD)
    close(c, want)


# --------------------------------------------------------------------------- dense & norms


@SOME
@given(st.integers(1, 70), st.integers(1, 300), st.integers(1, 300), st.booleans(), ACTS,
       st.integers(0, 2**32 - 1))
def test_dense(n: int, k: int, m: int, bias: bool, act: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, w, b = rand(rng, n, k), rand(rng, m, k), rand(rng, m)
    params = {"weight": w, **({"bias": b} if bias else {})}
    (want,) = reference("dense", [x], params, {"units": m})
    out = np.empty((n, m), np.float32)
    K.dense(x, np.ascontiguousarray(w.T), b if bias else EMPTY1, kact(act), out)
    close(out, act_ref(want.astype(np.float64), act), scale=np.sqrt(k))


@SOME
@given(st.integers(1, 12), st.integers(0, 300), st.integers(1, K.NARROW_UNITS), st.booleans(),
       ACTS, st.integers(0, 2**32 - 1))
def test_dense_narrow(n: int, k: int, m: int, bias: bool, act: int, seed: int) -> None:
    """The weight as it is (M, K): dot products up to GEMV_ROWS rows, sgemm on its
    transpose beyond; K = 0 gives the bias alone."""
    rng = np.random.default_rng(seed)
    x, w, b = rand(rng, n, k), rand(rng, m, k), rand(rng, m)
    want = x.astype(np.float64) @ w.T.astype(np.float64) + (b if bias else 0.0)
    out = np.full((n, m), np.nan, np.float32)
    K.dense_narrow(x, w, b if bias else EMPTY1, kact(act), out)
    close(out, act_ref(want, act), scale=np.sqrt(max(k, 1)))


def test_a_model_with_few_outputs_runs_dense_narrow() -> None:
    """The seed MLP's last layer (256 -> 10) keeps its weight as it is; 11 outputs of
    a wider one stay ``dense``; both match the reference at batch 1, 3 and 9."""
    import shapegraph as sg
    from shapegraph import init, nn
    from shapegraph.infer.interpret import run_reference

    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dense(K.NARROW_UNITS + 1), nn.Dense(10))
    net.initialize(init.Xavier())
    model = sg.compile(net, sg.Input("x", ("batch", 20)))
    for batch in (1, 3, 9):
        x = np.random.default_rng(batch).standard_normal((batch, 20)).astype(np.float32)
        (want,) = run_reference(model.graph, model.params, {"x": x})
        assert np.abs(want).max() > 0.1  # not tiny: a relative error shows
        np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-6)
    plan = next(iter(model._runners.values())).plan
    assert [s.kernel for s in plan.lowered.steps] == ["dense", "dense", "dense_narrow"]


@SOME
@given(st.integers(1, 80), st.integers(0, 200), st.integers(1, 120), st.booleans(), ACTS,
       st.booleans(), st.integers(0, 2**32 - 1))
def test_dense_tiled(n: int, k: int, m: int, bias: bool, act: int, strided: bool,
                     seed: int) -> None:
    """Register tiles of 8 rows x 24 columns (48 where KVG.WIDE) on the packed strips
    (``pack_dense``) from 8 rows, the last tile of fewer rows through a scratch tile;
    rows in pairs below 8, a last single row as two halves of K (odd K: one term more);
    columns past M computed, not stored; K = 0 gives the bias alone; a strided input is
    copied first."""
    rng = np.random.default_rng(seed)
    x, wt, b = rand(rng, n, 2 * k if strided else k), rand(rng, k, m), rand(rng, m)
    if strided:
        x = x[:, ::2]
    want = x.astype(np.float64) @ wt.astype(np.float64) + (b if bias else 0.0)
    out = np.full((n, m), np.nan, np.float32)
    KO.dense_tiled(x, KO.pack_dense(wt), b if bias else EMPTY1, kact(act), out, 1)
    close(out, act_ref(want, act), scale=np.sqrt(max(k, 1)))


def test_dense_tiled_on_one_thread_and_two() -> None:
    """The work items (strips, and blocks of up to 64 rows) on numba's threads: the same
    numbers on one thread and on two, at 1 row (rows path), at 70 rows of 1500 columns
    (tiles), and where two threads split the rows into smaller items for want of strips
    (64 rows of 120 columns: 2 x 32; 19 rows of 30: 16 and the last 3)."""
    from shapegraph.executor.jit import numba

    rng = np.random.default_rng(3)
    k = 700
    before = numba.get_num_threads()
    try:
        for n, m in ((1, 1500), (70, 1500), (64, 120), (19, 30)):
            wt, b = rand(rng, k, m), rand(rng, m)
            wp = KO.pack_dense(wt)
            x = rand(rng, n, k)
            outs = []
            for threads in (1, 2):
                numba.set_num_threads(threads)
                out = np.full((n, m), np.nan, np.float32)
                KO.dense_tiled(x, wp, b, kact(K.ACT_NONE), out, threads)
                outs.append(out)
            np.testing.assert_array_equal(outs[0], outs[1])
            close(outs[0], x.astype(np.float64) @ wt + b, scale=np.sqrt(k))
    finally:
        numba.set_num_threads(before)


def test_pack_dense_layout() -> None:
    """Strips of 24 columns (two of 16 where a last of 8 would follow one of 24), each K
    x lanes row-major, zero past M."""
    wt = np.arange(3 * 40, dtype=np.float32).reshape(3, 40)
    wp = KO.pack_dense(wt)
    assert wp.size == 3 * 40
    np.testing.assert_array_equal(wp[:72].reshape(3, 24), wt[:, :24])
    np.testing.assert_array_equal(wp[72:].reshape(3, 16), wt[:, 24:])
    wp = KO.pack_dense(wt[:, :35])  # 35 -> 40 lanes: 24 + 16, the last 5 zero
    tail = wp[72:].reshape(3, 16)
    np.testing.assert_array_equal(tail[:, :11], wt[:, 24:35])
    assert not tail[:, 11:].any()
    assert KO.pack_dense(wt[:, :32]).size == 3 * 32  # 32: two strips of 16


def test_a_large_dense_layer_runs_dense_tiled() -> None:
    """A layer of DENSE_TILED_WEIGHTS weights or more (the wide MLP's, AlexNet's fully
    connected layers) runs ``dense_tiled``, a smaller one BLAS, unless, where KVG.WIDE, its
    product is too large for OpenBLAS's small-matrix kernel (K.SMALL_SGEMM_MNK: the second
    layer at batch 19); each matches the reference at batch 1, 5 and 19, on one and two
    threads."""
    import shapegraph as sg
    from shapegraph import init, nn
    from shapegraph.executor.jit import numba
    from shapegraph.infer.interpret import run_reference

    k = KO.DENSE_TILED_WEIGHTS // 300 + 1
    net = nn.Sequential()
    net.add(nn.Dense(300, activation="relu"), nn.Dense(299))
    net.initialize(init.Xavier())
    model = sg.compile(net, sg.Input("x", ("batch", k)))
    before = numba.get_num_threads()
    try:
        for threads, batch in ((2, 1), (1, 1), (2, 5), (1, 19), (2, 19)):
            numba.set_num_threads(threads)
            x = np.random.default_rng(batch).standard_normal((batch, k)).astype(np.float32)
            (want,) = run_reference(model.graph, model.params, {"x": x})
            assert np.abs(want).max() > 0.1  # not tiny: a relative error shows
            np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-5)
    finally:
        numba.set_num_threads(before)
    kernels = {key[0][0]: [s.kernel for s in runner.plan.lowered.steps]
               for key, runner in model._runners.items()}
    assert kernels[1] == kernels[5] == ["dense_tiled", "dense"]
    assert 5 * 300 * 299 <= K.SMALL_SGEMM_MNK < 19 * 300 * 299
    assert kernels[19] == ["dense_tiled", "dense_tiled" if KVG.WIDE else "dense"]


@FEW
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 50), ACTS,
       st.integers(0, 2**32 - 1))
def test_channel_affine(n: int, c: int, s: int, act: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, scale, shift = rand(rng, n, c, s), rand(rng, c), rand(rng, c)
    out = np.empty_like(x)
    K.channel_affine(x, scale, shift, kact(act), out, 1)
    close(out, act_ref(x * scale[:, None] + shift[:, None], act))


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("in_place", [False, True])
def test_channel_affine_splits_its_planes_over_threads(threads: int, in_place: bool
                                                      ) -> None:
    """AFFINE_PARALLEL_MIN elements or more: one run of (n, c) planes per thread (2 x 7
    planes over 2 or 3 items, uneven), each plane's relu after its affine; in place too."""
    rng = np.random.default_rng(threads)
    x, scale, shift = rand(rng, 2, 7, 2500), rand(rng, 7), rand(rng, 7)
    assert x.size >= K.AFFINE_PARALLEL_MIN
    want = act_ref(x * scale[:, None] + shift[:, None], K.ACT_RELU)
    out = x if in_place else np.full_like(x, np.nan)
    K.channel_affine(x, scale, shift, kact(K.ACT_RELU), out, threads)
    close(out, want)


def test_a_small_channel_affine_keeps_its_plan_serial() -> None:
    """A channel affine under AFFINE_PARALLEL_MIN elements is given one thread at plan
    time: its plan keeps the short call path and BLAS its own threads; a large one gets
    the plan's threads. Both match the reference."""
    from shapegraph import init
    from shapegraph.infer.interpret import run_reference

    for width, threads in ((20, False), (K.AFFINE_PARALLEL_MIN, True)):
        net = nn.Sequential()
        net.add(nn.BatchNorm(), nn.Dense(10))
        net.initialize(init.Xavier())
        model = sg.compile(net, sg.Input("x", (2, width)), debug=threads)
        x = np.random.default_rng(width).standard_normal((2, width)).astype(np.float32)
        (want,) = run_reference(model.graph, model.params, {"x": x})
        np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-5)
        (runner,) = model._runners.values()
        step = runner.plan.lowered.steps[0]
        assert step.kernel == "channel_affine"
        assert (step.args[-1].kind == "threads") is threads
        assert runner.blas_in_threads is threads


def test_a_small_pool_keeps_its_plan_serial() -> None:
    """A pool under POOL_PARALLEL_MIN input elements is given one thread at plan time, as a
    typed int (one compiled kernel serves both): its plan keeps the short call path; a
    large one gets the plan's threads. Both match the reference."""
    from shapegraph import init
    from shapegraph.infer.interpret import run_reference

    for side, threads in ((8, False), (128, True)):
        net = nn.Sequential()
        net.add(nn.MaxPool2D(3, strides=2), nn.Dense(10))
        net.initialize(init.Xavier())
        model = sg.compile(net, sg.Input("x", (1, 2, side, side)))
        x = np.random.default_rng(side).standard_normal((1, 2, side, side)).astype(np.float32)
        (want,) = run_reference(model.graph, model.params, {"x": x})
        np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-5)
        (runner,) = model._runners.values()
        step = runner.plan.lowered.steps[0]
        assert step.kernel in ("pool_rows", "pool_plane", "pool_same", "maxpool_s2")
        assert (2 * side * side >= KP.POOL_PARALLEL_MIN) is threads
        assert step.args[-1].kind == ("threads" if threads else "one")
        assert runner.blas_in_threads is threads


@FEW
@given(st.integers(1, 6), st.integers(1, 130), st.integers(0, 2**32 - 1))
def test_layernorm(r: int, c: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, g, b = rand(rng, r, c) * 3 + 5, rand(rng, c), rand(rng, c)
    (want,) = reference("layernorm", [x], {"gamma": g, "beta": b}, {"epsilon": 1e-5})
    out = np.empty_like(x)
    K.layernorm(x, g, b, 1e-5, out)
    close(out, want, scale=10)


@FEW
@given(st.integers(1, 4), st.integers(1, 40), st.integers(1, 5), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_softmax(a: int, b: int, c: int, log: bool, seed: int) -> None:
    x = rand(np.random.default_rng(seed), a, b, c) * 20
    (want,) = reference("log_softmax" if log else "softmax", [x], {}, {"axis": 1})
    out = np.empty_like(x)
    K.softmax(x, out, log)
    close(out, want)


# --------------------------------------------------------------------------- pooling


@st.composite
def pool_config(draw: Any) -> dict[str, Any]:
    nd = draw(st.integers(1, 2))
    ks = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    ss = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    ps = tuple(draw(st.integers(0, k // 2)) for k in ks)
    sizes = tuple(draw(st.integers(k, k + 9)) for k in ks)
    return {"ndim": nd, "kernel": ks, "strides": ss, "padding": ps, "pads_end": ps, "sizes": sizes,
            "ceil_mode": draw(st.booleans()), "count_include_pad": draw(st.booleans()),
            "ceil_drop_last": False, "kind": draw(st.sampled_from(["max", "avg"]))}


def _as2d(a: tuple[int, ...], nd: int, one: int) -> tuple[int, int]:
    return (a[0], a[1]) if nd == 2 else (one, a[0])


@SOME
@given(pool_config(), st.integers(1, 2), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_pool(cfg: dict[str, Any], n: int, c: int, seed: int) -> None:
    x = rand(np.random.default_rng(seed), n, c, *cfg["sizes"])
    if seed % 3 == 0:  # NaN propagates (a max) or spreads (an average) as in the reference
        x.flat[seed % x.size] = np.nan
    want = pool_reference(x, cfg)
    nd = cfg["ndim"]
    kh, kw = _as2d(cfg["kernel"], nd, 1)
    sh, sw = _as2d(cfg["strides"], nd, 1)
    ph, pw = _as2d(cfg["padding"], nd, 0)
    x4 = x.reshape(n, c, -1, x.shape[-1])
    out = np.empty((n, c, *(want.shape[2:] if nd == 2 else (1, want.shape[2]))), np.float32)
    if cfg["kind"] == "max":
        KP.maxpool2d(x4, kh, kw, sh, sw, ph, pw, out)
    else:
        KP.avgpool2d(x4, kh, kw, sh, sw, ph, pw, cfg["count_include_pad"], out)
    close(out.reshape(want.shape), want)


@pytest.mark.parametrize(("k", "p", "pe"), [((3, 3), (1, 1), (1, 1)), ((5, 3), (2, 1), (2, 1)),
                                         ((2, 4), (1, 2), (0, 1)), ((1, 7), (0, 3), (0, 3))])
@pytest.mark.parametrize(("kind", "include_pad"), [("max", False), ("avg", False),
                                                   ("avg", True)])
@pytest.mark.parametrize("hw", [(1, 1), (2, 9), (13, 13), (6, 30)])
def test_pool_that_keeps_the_size(k: tuple[int, int], p: tuple[int, int],
                                  pe: tuple[int, int], kind: str, include_pad: bool,
                                  hw: tuple[int, int]) -> None:
    """Stride 1, output the input's size (Inception's 3x3 pad-1 pools): the whole-plane
    path, with the row ends recomputed; NaN included."""
    if include_pad and p != pe:
        return  # (the lowering declines it: the divisor would need the end padding)
    cfg = {"ndim": 2, "kernel": k, "strides": (1, 1), "padding": p, "pads_end": pe,
           "sizes": hw, "ceil_mode": False, "count_include_pad": include_pad,
           "ceil_drop_last": False, "kind": kind}
    x = rand(np.random.default_rng(3), 2, 3, *hw)
    x[1, 2].flat[0] = np.nan
    want = pool_reference(x, cfg)
    assert want.shape == x.shape
    out = np.full_like(x, -7.0)
    if kind == "max":
        KP.maxpool2d(x, *k, 1, 1, *p, out)
    else:
        KP.avgpool2d(x, *k, 1, 1, *p, include_pad, out)
    close(out, want)


@FEW
@given(st.integers(1, 5), st.integers(1, 3), st.data(), st.integers(1, 12), st.integers(1, 40),
       st.sampled_from(["max", "avg", "avg_pad"]), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_pool_same_rows(kh: int, kw: int, data: st.DataObject, h: int, w: int, kind: str,
                        planes: int, seed: int) -> None:
    """``pool_same``'s one-pass path (``_same_rows``: windows reaching at most one column to
    either side), any window height and padding, rows of 1 to 40 columns (whole vectors,
    a last partial one, one lane), planes a few rows high; NaN and -inf included; the
    reference's numbers."""
    ph = data.draw(st.integers(0, kh - 1))
    pw = data.draw(st.integers(max(0, kw - 2), min(1, kw - 1)))
    include_pad = kind == "avg_pad"
    if include_pad:  # (symmetric padding only, as the lowering takes it)
        if kh % 2 == 0 or kw % 2 == 0:
            return
        ph, pw = kh // 2, kw // 2
    cfg = {"ndim": 2, "kernel": (kh, kw), "strides": (1, 1), "padding": (ph, pw),
           "pads_end": (kh - 1 - ph, kw - 1 - pw), "sizes": (h, w), "ceil_mode": False,
           "count_include_pad": include_pad, "ceil_drop_last": False,
           "kind": "max" if kind == "max" else "avg"}
    rng = np.random.default_rng(seed)
    x = rand(rng, 1, planes, h, w)
    x.flat[rng.integers(x.size)] = np.nan
    x.flat[rng.integers(x.size)] = -np.inf
    want = pool_reference(x, cfg)
    out = np.full_like(x, -7.0)
    KP.pool_same(x, kh, kw, ph, pw, kind == "max", include_pad, out, 1)
    close(out, want)


@pytest.mark.parametrize(("kind", "k", "s", "p", "hw", "kernel"), [
    ("max", 3, 1, 1, (13, 13), "pool_same"),
    ("avg", 3, 1, 1, (13, 13), "pool_same"),
    ("avg", 3, 1, 1, (40, 40), "pool_same"),  # a large plane too
    ("max", 3, 2, 1, (13, 13), "maxpool_s2"),  # padded: windows clipped, rows of 7
    ("max", 4, 2, 1, (15, 15), "pool_rows"),  # a 4x4 window
    ("avg", 3, 2, 1, (15, 15), "dwpool"),  # an average's: the depthwise kernel's blocks
    ("avg", 3, 2, 0, (60, 60), "dwpool"),  # a plane over PLANE_MAX_PIXELS
    ("max", 3, 2, 0, (60, 60), "maxpool_s2"),  # stride 2, rows of 8 outputs or more
    ("max", 3, 2, 0, (27, 27), "maxpool_s2"),
    ("max", 3, 2, 0, (13, 13), "pool_plane"),  # rows of 6 outputs
    ("avg", 2, 2, 0, (14, 14), "pool_plane"),
    ("max", 2, 2, 0, (28, 28), "maxpool_s2"),  # LeNet's first: 14 outputs a row
    ("max", 2, 2, 0, (10, 10), "maxpool2d_c3_10x10_k2x2_s2x2_p0x0_o5x5")])
def test_the_lowering_picks_a_pool_path(kind: str, k: int, s: int, p: int,
                                        hw: tuple[int, int], kernel: str) -> None:
    """Each pool step calls the one path it runs (``runs_plane``, ``runs_same``), so that
    a model compiles only the paths it needs (the plan says which); every path gives the
    reference's numbers. (Step by step, debug=True, but for the unrolled template, which only
    compiled plans generate: a compiled segment per case would cost a compile each.)"""
    net = nn.Sequential()
    net.add((nn.MaxPool2D if kind == "max" else nn.AvgPool2D)(k, s, p))
    x = rand(np.random.default_rng(2), 2, 3, *hw)
    model = sg.compile(net, sg.Input("x", x.shape), debug=kernel.startswith("pool"))
    got = model(x)
    (runner,) = model._runners.values()
    assert [step.kernel for step in runner.plan.lowered.steps] == [kernel]
    assert runner.plan.lowered.steps[0].algo in model.memory_plan()
    cfg = {"ndim": 2, "kernel": (k, k), "strides": (s, s), "padding": (p, p),
           "pads_end": (p, p), "ceil_mode": False, "count_include_pad": True,
           "ceil_drop_last": False, "kind": kind}
    close(got, pool_reference(x, cfg))


@SOME
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 12), st.integers(0, 12), st.integers(1, 80), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_pool_plane(kh: int, kw: int, sh: int, sw: int, eh: int, ew: int, planes: int,
                    is_max: bool, seed: int) -> None:
    """Windows inside the planes, in chunks of planes (up to 80 planes of up to 16 x 16:
    several chunks of PLANE_CHUNK floats and a last partial one); a NaN in some planes.
    Windows crossing a row or plane end must give values no output picks."""
    h, w = kh + eh, kw + ew
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    assert KP.runs_plane(h, w, kh, kw, sh, sw, 0, 0, oh, ow)
    x = rand(np.random.default_rng(seed), 1, planes, h, w)
    if seed % 3 == 0:
        x.flat[seed % x.size] = np.nan
    cfg = {"ndim": 2, "kernel": (kh, kw), "strides": (sh, sw), "padding": (0, 0),
           "pads_end": (0, 0), "ceil_mode": False, "count_include_pad": False,
           "ceil_drop_last": False, "kind": "max" if is_max else "avg"}
    want = pool_reference(x, cfg)
    out = np.full((1, planes, oh, ow), -7.0, np.float32)
    KP.pool_plane(x, kh, kw, sh, sw, is_max, out, 1)
    close(out, want)


@SOME
@given(st.integers(1, 3), st.integers(2, 3), st.integers(0, 40), st.integers(0, 40),
       st.integers(1, 9), st.sampled_from([1, 2, 3]), st.integers(0, 2), st.integers(0, 2),
       st.integers(0, 2), st.integers(0, 2), st.integers(0, 2**32 - 1))
def test_maxpool_s2(kh: int, kw: int, eh: int, ew: int, planes: int, threads: int,
                    pt: int, pl: int, pb: int, pr: int, seed: int) -> None:
    """Stride-2 max pools on vectors: rows ending anywhere in a vector (the input's last
    part vector loaded masked, the output's stored masked), windows of 1-3 rows and 2-3
    columns, input columns past the last window, padding before (less than the window)
    and after (Inception v2's [0, 0, 1, 1]: windows clipped at the bottom and the right),
    NaN and -inf anywhere. The lowering runs it on rows of 8 outputs or more, and on
    shorter ones where a window is clipped (``runs_s2``); the kernel is right on any."""
    pt, pl = min(pt, kh - 1), min(pl, kw - 1)
    h, w = kh + eh, kw + ew
    oh, ow = (h + pt + pb - kh) // 2 + 1, (w + pl + pr - kw) // 2 + 1
    assume((oh - 1) * 2 - pt < h and (ow - 1) * 2 - pl < w)  # a row and a column inside
    clipped = pt or pl or (oh - 1) * 2 + kh > h or (ow - 1) * 2 + kw > w
    assert KP.runs_s2(h, w, kh, kw, 2, 2, pt, pl, oh, ow) == (ow >= 8 or bool(clipped))
    x = rand(np.random.default_rng(seed), 1, planes, h, w)
    if seed % 2 == 0:
        x.flat[seed % x.size] = np.nan
    if seed % 3 == 0:
        x[:, :, -1, :] = -np.inf  # a clipped window's one row: nothing else may win
    cfg = {"ndim": 2, "kernel": (kh, kw), "strides": (2, 2), "padding": (pt, pl),
           "pads_end": (pb, pr), "ceil_mode": False, "count_include_pad": False,
           "ceil_drop_last": False, "kind": "max"}
    want = pool_reference(x, cfg)
    assert want.shape == (1, planes, oh, ow)
    out = np.full((1, planes, oh, ow), -7.0, np.float32)
    KP.maxpool_s2(x, kh, kw, pt, pl, out, threads)
    np.testing.assert_array_equal(out, want)  # (a maximum is exact)


@SOME
@given(pool_config(), st.integers(1, 2), st.integers(1, 3), st.sampled_from([1, 2, 3]),
       st.integers(0, 2**32 - 1))
def test_dwpool(cfg: dict[str, Any], n: int, c: int, threads: int, seed: int) -> None:
    """Max and average pools on ``dwconv``'s blocks against the reference: padding (-inf
    for a maximum, 0 and the divisor for an average, with or without the padding counted),
    strides, ceil-mode windows past the input, NaN, planes run by 1-3 threads."""
    x = rand(np.random.default_rng(seed), n, c, *cfg["sizes"])
    if seed % 3 == 0:
        x.flat[seed % x.size] = np.nan
    want = pool_reference(x, cfg)
    nd = cfg["ndim"]
    k, s, p = (_as2d(cfg[a], nd, one) for a, one in (("kernel", 1), ("strides", 1),
                                                     ("padding", 0)))
    x4 = x.reshape(n, c, -1, x.shape[-1])
    out = np.full((n, c, *(want.shape[2:] if nd == 2 else (1, want.shape[2]))), -7.0,
                  np.float32)
    KD.dwpool(x4, out, np.array([*k, *s, *p, cfg["kind"] == "max", cfg["count_include_pad"]],
                                np.int64), threads)
    close(out.reshape(want.shape), want)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_dwpool_workloads(kind: str, threads: int) -> None:
    """ShuffleNet's average pools (3x3 stride 2 pad 1) and a stem's max pool, large enough
    to split their planes over the threads."""
    for c, hw in ((136, 28), (24, 56), (8, 112)):
        assert c * hw * hw >= KP.POOL_PARALLEL_MIN
        x = rand(np.random.default_rng(c), 1, c, hw, hw)
        cfg = {"ndim": 2, "kernel": (3, 3), "strides": (2, 2), "padding": (1, 1),
               "pads_end": (1, 1), "ceil_mode": False, "count_include_pad": False,
               "ceil_drop_last": False, "kind": kind}
        want = pool_reference(x, cfg)
        out = np.full(want.shape, -7.0, np.float32)
        KD.dwpool(x, out, np.array([3, 3, 2, 2, 1, 1, kind == "max", 0], np.int64), threads)
        close(out, want)


def test_dwpool_refuses_a_wrong_output() -> None:
    x = np.ones((1, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="batch and channels"):
        KD.dwpool(x, np.empty((1, 3, 2, 2), np.float32),
                  np.array([3, 3, 2, 2, 0, 0, 1, 0], np.int64), 1)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("kernel", "k", "s", "p", "hw", "planes"), [
    ("pool_rows", 3, 2, 1, (70, 70), 7), ("pool_plane", 3, 2, 0, (56, 56), 11),
    ("pool_same", 3, 1, 1, (56, 56), 11)])
def test_pools_split_their_planes_over_threads(kernel: str, k: int, s: int, p: int,
                                               hw: tuple[int, int], planes: int, kind: str,
                                               threads: int) -> None:
    """A pool over POOL_PARALLEL_MIN input elements or more runs its planes in runs, one
    per thread (7 or 11 planes over 2 or 3 items: uneven runs); each path gives the
    reference's numbers."""
    assert planes * hw[0] * hw[1] >= KP.POOL_PARALLEL_MIN
    assert K._plane_runs(planes, hw[0] * hw[1], threads, KP.POOL_PARALLEL_MIN) == threads
    x = rand(np.random.default_rng(threads), 1, planes, *hw)
    x[0, planes - 1].flat[5] = np.nan
    cfg = {"ndim": 2, "kernel": (k, k), "strides": (s, s), "padding": (p, p),
           "pads_end": (p, p), "ceil_mode": False, "count_include_pad": False,
           "ceil_drop_last": False, "kind": kind}
    want = pool_reference(x, cfg)
    out = np.full(want.shape, -7.0, np.float32)
    is_max = kind == "max"
    if kernel == "pool_rows":
        KP.pool_rows(x, k, k, s, s, p, p, is_max, False, out, threads)
    elif kernel == "pool_plane":
        KP.pool_plane(x, k, k, s, s, is_max, out, threads)
    else:
        KP.pool_same(x, k, k, p, p, is_max, False, out, threads)
    close(out, want)


@FEW
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 70), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_global_pool(n: int, c: int, s: int, is_max: bool, seed: int) -> None:
    x = rand(np.random.default_rng(seed), n, c, s)
    (want,) = reference("global_pool", [x], {}, {"kind": "max" if is_max else "avg",
                                                        "ndim": 1})
    out = np.empty((n, c), np.float32)
    KP.global_pool(x, is_max, out)
    close(out, want[..., 0])
    if s > 1:  # (it reads the planes as they lie in memory)
        with pytest.raises(ValueError, match="not C-contiguous"):
            KP.global_pool(x[:, :, ::2], is_max, out)


# --------------------------------------------------------------------------- convolution


@st.composite
def conv_config(draw: Any, max_c: int = 6) -> dict[str, int]:
    g = draw(st.sampled_from([1, 1, 2, 3]))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d = {"N": draw(st.integers(1, 2)), "groups": g,
         "C": g * draw(st.integers(1, max_c // 2 + 1)), "O": g * draw(st.integers(1, 4)),
         "KH": kh, "KW": kw, "SH": draw(st.integers(1, 3)), "SW": draw(st.integers(1, 3)),
         "PH": draw(st.integers(0, 2)), "PW": draw(st.integers(0, 2)),
         "DH": draw(st.integers(1, 2)), "DW": draw(st.integers(1, 2))}
    d["H"] = draw(st.integers(max(1, d["DH"] * (kh - 1) + 1 - 2 * d["PH"]), 12))
    d["W"] = draw(st.integers(max(1, d["DW"] * (kw - 1) + 1 - 2 * d["PW"]), 12))
    return d


def conv_want(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, cfg: dict[str, int],
              res: np.ndarray | None, act: int) -> np.ndarray:
    attrs = {"ndim": 2, "kernel": (cfg["KH"], cfg["KW"]), "strides": (cfg["SH"], cfg["SW"]),
             "padding": (cfg["PH"], cfg["PW"]), "pads_end": (cfg["PH"], cfg["PW"]),
             "dilation": (cfg["DH"], cfg["DW"]), "groups": cfg["groups"]}
    y = conv_reference(x.astype(np.float64), w.astype(np.float64), attrs)
    if b is not None:
        y = y + b[:, None, None]
    if res is not None:
        y = y + res
    return act_ref(y, act)


def conv_inputs(cfg: dict[str, int], seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rand(rng, cfg["N"], cfg["C"], cfg["H"], cfg["W"])
    w = rand(rng, cfg["O"], cfg["C"] // cfg["groups"], cfg["KH"], cfg["KW"])
    oh = window_out(cfg["H"], cfg["KH"], cfg["SH"], cfg["PH"], cfg["DH"])
    ow = window_out(cfg["W"], cfg["KW"], cfg["SW"], cfg["PW"], cfg["DW"])
    assert isinstance(oh, int) and isinstance(ow, int)
    return x, w, rand(rng, cfg["O"]), rand(rng, cfg["N"], cfg["O"], oh, ow)


@SOME
@given(conv_config(), st.booleans(), ACTS, st.integers(0, 2**32 - 1))
def test_conv2d_generic(cfg: dict[str, int], bias: bool, act: int, seed: int) -> None:
    x, w, b, res = conv_inputs(cfg, seed)
    out = np.empty_like(res)
    K.conv2d(x, w, b if bias else EMPTY1, cfg["SH"], cfg["SW"], cfg["PH"], cfg["PW"],
             cfg["DH"], cfg["DW"], cfg["groups"], kact(act), out)
    close(out, conv_want(x, w, b if bias else None, cfg, None, act), scale=3)


def test_conv1d_generic_as_2d() -> None:
    cfg = {"N": 2, "C": 3, "H": 1, "W": 20, "O": 4, "KH": 1, "KW": 3, "SH": 1, "SW": 2,
           "PH": 0, "PW": 1, "DH": 1, "DW": 2, "groups": 1}
    x, w, b, res = conv_inputs(cfg, 3)
    out = np.empty_like(res)
    K.conv2d(x, w, b, 1, 2, 0, 1, 1, 2, 1, kact(K.ACT_NONE), out)
    close(out, conv_want(x, w, b, cfg, None, K.ACT_NONE))


# --------------------------------------------------------------------------- conv as GEMM


def run_conv_gemm(cfg: dict[str, int], act: int, residual: bool, seed: int,
                  threads: int, kernel: Any = KG.conv_gemm, in_place: bool = False) -> None:
    """``kernel`` (conv_gemm or oconv: the same arguments, oconv's weights packed
    by ``pack_oconv``) against the reference; with ``in_place`` the residual is the output
    array itself, as the memory plan may give."""
    x, w, b, res = conv_inputs(cfg, seed)
    out = res.copy() if in_place else np.full_like(res, np.nan)
    args = np.array([cfg[k] for k in ("KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW",
                                      "groups")], np.int64)
    wk = (KO.pack_oconv(w, cfg["groups"]) if kernel is KO.oconv
          else np.ascontiguousarray(w.reshape(w.shape[0], -1)))
    before = numba.get_num_threads()
    with single_threaded_blas():
        kernel(x, wk, b,
               out if in_place else res if residual else EMPTY4, out, args, kact(act),
               threads)
    # (conv_gemm runs a small convolution's parallel loop on one thread, then gives the
    # caller's thread count back)
    assert numba.get_num_threads() == before
    close(out, conv_want(x, w, b, cfg, res if residual or in_place else None, act), scale=3)


@SOME
@given(conv_config(max_c=12), st.booleans(), ACTS, st.sampled_from([1, 2, 3]),
       st.integers(0, 2**32 - 1))
def test_conv_gemm_random(cfg: dict[str, int], residual: bool, act: int, threads: int,
                          seed: int) -> None:
    """Any stride, padding, dilation and groups; batch 1 and 2 and any thread count, with
    one compiled kernel (every size is a runtime value)."""
    run_conv_gemm(cfg, act, residual, seed, threads)


@st.composite
def vgemm_conv_config(draw: Any) -> dict[str, int]:
    """Convolutions whose products take ``vgemm_rm`` (KG.uses_vgemm) on 1 and 2 threads:
    1x1 on the plane, strided and padded kernels through im2col; output channels and
    pixels with tails after the register tiles. Without the wide tiles: 128 terms or more
    into VGEMM_MIN_M output channels a group, or VGEMM_FEW_M on 64 pixels or more; with
    them, above SMALL_SGEMM_MNK multiply-adds on 32 pixels or more (a plane of 4 x that
    many pixels at least: two threads split it in up to four tiles)."""
    g = draw(st.sampled_from([1, 1, 2]))
    kh = draw(st.sampled_from([1, 1, 3]))
    kw = kh if draw(st.booleans()) else draw(st.integers(1, 3))
    cg = draw(st.integers(-(-KG.VGEMM_MIN_K // (kh * kw)), 160 // (kh * kw) + 2))
    few = draw(st.booleans())
    mg = draw(st.integers(KG.VGEMM_FEW_M, KG.VGEMM_FEW_M + 12) if few else
              st.integers(KG.VGEMM_MIN_M, KG.VGEMM_MIN_M + 12))
    kg = cg * kh * kw
    if KVG.WIDE:
        least = 4 * max(KG.VGEMM_WIDE_MIN_N, K.SMALL_SGEMM_MNK // (mg * kg) + 1)
    else:
        least = 2 * 64 if few else 1
    d = {"N": draw(st.integers(1, 2)), "groups": g, "C": g * cg, "O": g * mg,
         "KH": kh, "KW": kw, "SH": draw(st.integers(1, 2)), "SW": draw(st.integers(1, 2)),
         "PH": draw(st.integers(0, 1)), "PW": draw(st.integers(0, 1)), "DH": 1, "DW": 1}
    d["H"] = draw(st.integers(max(1, kh - 2 * d["PH"]), 11))
    oh = (d["H"] + 2 * d["PH"] - kh) // d["SH"] + 1
    ow = max(1, -(-least // oh))  # output columns enough for the pixels
    d["W"] = draw(st.integers(max(1, (ow - 1) * d["SW"] + kw - 2 * d["PW"]),
                              max(30, (ow + 8) * d["SW"])))
    return d


@SOME
@given(vgemm_conv_config(), st.booleans(), ACTS, st.sampled_from([1, 2]),
       st.integers(0, 2**32 - 1))
def test_conv_gemm_random_vgemm(cfg: dict[str, int], residual: bool, act: int, threads: int,
                                seed: int) -> None:
    """conv_gemm on the products ``vgemm_rm`` takes (the random convolutions above have too
    few channels for it): its first tile's product does."""
    oh = (cfg["H"] + 2 * cfg["PH"] - cfg["KH"]) // cfg["SH"] + 1
    ow = (cfg["W"] + 2 * cfg["PW"] - cfg["KW"]) // cfg["SW"] + 1
    kg = cfg["C"] // cfg["groups"] * cfg["KH"] * cfg["KW"]
    mg = cfg["O"] // cfg["groups"]
    direct = (cfg["KH"] == cfg["KW"] == cfg["SH"] == cfg["SW"] == 1
              and cfg["PH"] == cfg["PW"] == 0)
    parallel = threads > 1 and 2 * cfg["N"] * cfg["O"] * oh * ow * kg >= KG.PARALLEL_MIN_FLOPS
    nt, mt = KG.conv_gemm_tiles(cfg["N"], cfg["groups"], oh * ow, mg, kg, direct,
                                threads if parallel else 1)
    assert not (direct and KG.runs_pointwise(oh * ow, kg, mg))
    assert KG.uses_vgemm(kg, mt, nt)
    run_conv_gemm(cfg, act, residual, seed, threads)


@st.composite
def oconv_config(draw: Any) -> dict[str, int]:
    """Any kernel, stride, padding, dilation and groups, 8 to 104 output channels a group
    (strips of 24 and a last one of 8, 16 or 24 lanes, not all of them channels; where
    KVG.WIDE strips of 48 and last ones of 8 to 32 or 24 and 16); planes of any size, fewer
    than 8 pixels too (a tile's 8 pixels are any 8 of the plane)."""
    d = draw(conv_config(max_c=8))
    d["O"] = d["groups"] * draw(st.integers(8, 104))
    return d


def test_strips_cover_the_channels() -> None:
    """``oconv``'s and ``dense_tiled``'s strips of output channels lie end to end from 0
    and cover the group's channels rounded up to 8, each as wide as a tile it has: 24, 16
    or 8 lanes, or where KVG.WIDE 48, 32, 24, 16 or 8 (the compiled functions and the
    packing's Python ones agree), never 16 after 48."""
    widths = {48, 32, 24, 16, 8} if KVG.WIDE else {24, 16, 8}
    for og in range(1, 200):
        n = KO.strips_of(og)
        assert n == KO.strips_of.py_func(og)
        lane, seq = 0, []
        for s in range(n):
            lane0, width = KO.strip(og, s)
            assert (lane0, width) == KO.strip.py_func(og, s), og
            assert lane0 == lane and width in widths, og
            lane += width
            seq.append(width)
        assert lane == -(-og // 8) * 8, og
        # (a 16-lane strip runs on 8-lane vectors: after a 48, two of 32 instead)
        assert (48, 16) not in itertools.pairwise(seq), (og, seq)


@SOME
@given(oconv_config(), st.sampled_from(["none", "residual", "in place"]), ACTS,
       st.sampled_from([1, 2, 3]), st.integers(0, 2**32 - 1))
def test_oconv_random(cfg: dict[str, int], residual: str, act: int, threads: int,
                      seed: int) -> None:
    """The implicit GEMM over output channels against the reference: padding on every
    side, strides, dilation, groups; a residual read or written over; on threads whose
    equal shares of the work cut work items at a tile (a tile done twice adds its bias or
    residual twice, one left out is garbage)."""
    run_conv_gemm(cfg, act, residual == "residual", seed, threads, KO.oconv,
                  residual == "in place")


@pytest.mark.parametrize("cfg", [
    # ResNet-50's stem: 7x7 stride 2 on 3 channels (blocks of 3 channels)
    {"N": 1, "C": 3, "H": 224, "W": 224, "O": 64, "KH": 7, "KW": 7, "SH": 2, "SW": 2,
     "PH": 3, "PW": 3, "DH": 1, "DW": 1, "groups": 1},
    # AlexNet's 11x11 stride 4, 21 output channels: 24 lanes, 21 of them stored
    {"N": 2, "C": 3, "H": 67, "W": 71, "O": 21, "KH": 11, "KW": 11, "SH": 4, "SW": 4,
     "PH": 2, "PW": 2, "DH": 1, "DW": 1, "groups": 1},
    # 5x5 in two groups of 16 input channels (two blocks of 8) and 24 outputs
    {"N": 1, "C": 32, "H": 28, "W": 28, "O": 48, "KH": 5, "KW": 5, "SH": 1, "SW": 1,
     "PH": 2, "PW": 2, "DH": 1, "DW": 1, "groups": 2},
    # ResNet-50's 3x3 at 7x7: 49 pixels, 6 tiles and one overlapping the one before
    {"N": 1, "C": 512, "H": 7, "W": 7, "O": 512, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
    # a strided 3x3 (batch 2: 196 pixels an image, two work items of pixels)
    {"N": 2, "C": 64, "H": 28, "W": 28, "O": 64, "KH": 3, "KW": 3, "SH": 2, "SW": 2,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
    # SqueezeNet's expand at 13x13, 1x1 read in place (no padding), 36 outputs a group
    {"N": 1, "C": 64, "H": 13, "W": 13, "O": 256, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
    {"N": 1, "C": 96, "H": 13, "W": 13, "O": 72, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 2},
])
@pytest.mark.parametrize("threads", [1, 2])
def test_oconv_workloads(cfg: dict[str, int], threads: int) -> None:
    run_conv_gemm(cfg, K.ACT_RELU, True, 11, threads, KO.oconv)
    run_conv_gemm(cfg, K.ACT_NONE, False, 12, threads, KO.oconv, in_place=True)


@st.composite
def dw_config(draw: Any) -> dict[str, int]:
    """Depthwise convolutions (groups = input channels), 1-3 outputs an input; planes up to
    70 columns (blocks of 8 vectors along a row, or of several rows of fewer vectors),
    every stride (1 and 2 copy the rows with vectors, 3 a float at a time), padding and
    dilation."""
    c = draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d = {"N": draw(st.integers(1, 2)), "groups": c, "C": c,
         "O": c * draw(st.sampled_from([1, 1, 2, 3])),
         "KH": kh, "KW": kw, "SH": draw(st.integers(1, 3)), "SW": draw(st.integers(1, 3)),
         "PH": draw(st.integers(0, 2)), "PW": draw(st.integers(0, 2)),
         "DH": draw(st.integers(1, 2)), "DW": draw(st.integers(1, 2))}
    d["H"] = draw(st.integers(max(1, d["DH"] * (kh - 1) + 1 - 2 * d["PH"]), 20))
    d["W"] = draw(st.integers(max(1, d["DW"] * (kw - 1) + 1 - 2 * d["PW"]), 70))
    return d


@SOME
@given(dw_config(), st.sampled_from(["none", "residual", "in place"]), ACTS,
       st.sampled_from([1, 2, 3]), st.integers(0, 2**32 - 1))
def test_dwconv_random(cfg: dict[str, int], residual: str, act: int, threads: int,
                       seed: int) -> None:
    """The depthwise kernel against the reference: a row's last vector stored in part,
    rows and vectors of a block past the plane left out, a residual read or written
    over (each output read before it is written)."""
    run_conv_gemm(cfg, act, residual == "residual", seed, threads, KD.dwconv,
                  residual == "in place")


@pytest.mark.parametrize("cfg", [
    # ShuffleNet's: 3x3 at 14x14 (blocks of 4 rows x 2 vectors), 28x28 (2 x 4), 7x7 (8
    # rows of one vector), stride 2 from 56x56 (vectors split into even and odd columns)
    {"N": 1, "C": 272, "H": 14, "W": 14, "O": 272, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 272},
    {"N": 2, "C": 136, "H": 28, "W": 28, "O": 136, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 136},
    {"N": 1, "C": 544, "H": 7, "W": 7, "O": 544, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 544},
    {"N": 1, "C": 112, "H": 56, "W": 56, "O": 112, "KH": 3, "KW": 3, "SH": 2, "SW": 2,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 112},
    # MobileNet's first: 112 columns (a row in two blocks), 5x5 with 2 outputs an input
    {"N": 1, "C": 32, "H": 112, "W": 112, "O": 32, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 32},
    {"N": 1, "C": 24, "H": 33, "W": 37, "O": 48, "KH": 5, "KW": 5, "SH": 2, "SW": 1,
     "PH": 2, "PW": 2, "DH": 1, "DW": 2, "groups": 24},
])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_dwconv_workloads(cfg: dict[str, int], threads: int) -> None:
    """Planes large enough to run in parallel (threads take runs of planes)."""
    assert (2 * cfg["N"] * cfg["O"] * cfg["H"] * cfg["W"] * 9 // cfg["SH"] // cfg["SW"]
            >= KD.DW_PARALLEL_MIN_FLOPS)
    run_conv_gemm(cfg, K.ACT_RELU, True, 11, threads, KD.dwconv)
    run_conv_gemm(cfg, K.ACT_NONE, False, 12, threads, KD.dwconv, in_place=True)
    run_conv_gemm(cfg, K.ACT_TANH, False, 13, threads, KD.dwconv)


@SOME
@given(dw_config(), st.sampled_from([1, 2, 3]), st.integers(0, 2**32 - 1))
def test_dwconv_reads_channels_through_a_plane_map(cfg: dict[str, int], threads: int,
                                                   seed: int) -> None:
    """With a plane for each input channel after cfg's 9 values (a channel shuffle folded
    in), channel c is read from x[:, planes[c]]: as the reference on the input permuted."""
    x, w, b, _ = conv_inputs(cfg, seed)
    planes = np.random.default_rng(seed).permutation(cfg["C"])
    args = np.array([cfg[k] for k in ("KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW",
                                      "groups")] + planes.tolist(), np.int64)
    out = np.full(conv_want(x, w, b, cfg, None, K.ACT_NONE).shape, np.nan, np.float32)
    KD.dwconv(x, KD.pack_dwconv(w), b, EMPTY4, out, args, kact(K.ACT_RELU), threads)
    close(out, conv_want(x[:, planes], w, b, cfg, None, K.ACT_RELU), scale=3)


def test_dwconv_refuses_other_convolutions() -> None:
    x = np.ones((1, 4, 5, 5), np.float32)
    out = np.full((1, 4, 3, 3), np.nan, np.float32)
    cfg = np.array([3, 3, 1, 1, 0, 0, 1, 1, 2], np.int64)  # 2 inputs a group
    with pytest.raises(ValueError, match="depthwise"):
        KD.dwconv(x, np.ones((4, 9), np.float32), np.zeros(4, np.float32), EMPTY4, out, cfg,
                  kact(K.ACT_NONE), 1)
    cfg[8] = 4
    with pytest.raises(ValueError, match="weight"):
        KD.dwconv(x, np.ones((4, 8), np.float32), np.zeros(4, np.float32), EMPTY4, out, cfg,
                  kact(K.ACT_NONE), 1)
    for extra, match in (([0, 1, 2], "a plane for each channel"), ([0, 1, 2, 4], "outside"),
                         ([0, -1, 2, 3], "outside")):
        with pytest.raises(ValueError, match=match):
            KD.dwconv(x, np.ones((4, 9), np.float32), np.zeros(4, np.float32), EMPTY4, out,
                      np.concatenate([cfg, np.array(extra, np.int64)]), kact(K.ACT_NONE), 1)
    assert np.isnan(out).all()  # refused before anything is written


@st.composite
def conv_pool_config(draw: Any) -> dict[str, int]:
    """A convolution without groups and the stride-2 max pool after it (``pools``):
    conv outputs of 15-70 columns, 1-3 window rows (a 3-row window shares a row with the
    next), pool padding on any side smaller than the window, any convolution stride,
    padding and dilation."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    d = {"N": draw(st.integers(1, 3)), "groups": 1, "C": draw(st.integers(1, 4)),
         "O": draw(st.integers(1, 20)), "KH": kh, "KW": kw,
         "SH": draw(st.integers(1, 3)), "SW": draw(st.integers(1, 3)),
         "PH": draw(st.integers(0, 2)), "PW": draw(st.integers(0, 2)),
         "DH": draw(st.integers(1, 2)), "DW": draw(st.integers(1, 2)),
         "PKH": draw(st.integers(1, 3)), "PKW": draw(st.integers(2, 3))}
    for side, k in (("PPT", "PKH"), ("PPB", "PKH"), ("PPL", "PKW"), ("PPR", "PKW")):
        d[side] = draw(st.integers(0, d[k] - 1))
    oh = draw(st.integers(max(1, d["PKH"] - d["PPT"] - d["PPB"]), 40))
    ow = draw(st.integers(d["PKW"] + 14 - d["PPL"] - d["PPR"], 70))
    d["H"] = (oh - 1) * d["SH"] + d["DH"] * (kh - 1) + 1 - 2 * d["PH"] + draw(
        st.integers(0, d["SH"] - 1))
    d["W"] = (ow - 1) * d["SW"] + d["DW"] * (kw - 1) + 1 - 2 * d["PW"] + draw(
        st.integers(0, d["SW"] - 1))
    assume(d["H"] >= 1 and d["W"] >= 1)
    return d


def run_conv_maxpool(cfg: dict[str, int], act: int, seed: int, threads: int,
                     nan: bool = False) -> None:
    """``conv_maxpool`` against act(maxpool(conv + bias)) of the references (for ReLU
    and none, what a max pool after the activated convolution gives)."""
    x, w, b, y = conv_inputs(cfg, seed)
    if nan:
        x.flat[seed % x.size] = np.nan
    pads = tuple(cfg.get(k, 0) for k in ("PPT", "PPL", "PPB", "PPR"))
    pool = {"ndim": 2, "kernel": (cfg["PKH"], cfg["PKW"]), "strides": (2, 2),
            "padding": pads[:2], "pads_end": pads[2:], "ceil_mode": False,
            "count_include_pad": False, "ceil_drop_last": False, "kind": "max"}
    want = act_ref(pool_reference(conv_want(x, w, b, cfg, None, K.ACT_NONE), pool), act)
    assert KCP.pools.py_func(*y.shape[2:], cfg["PKH"], cfg["PKW"], 2, 2, *pads,
                             *want.shape[2:])
    out = np.full(want.shape, -7.0, np.float32)
    args = np.array([*(cfg[k] for k in ("KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW",
                                        "groups", "PKH", "PKW")), *y.shape[2:], *pads],
                    np.int64)
    with single_threaded_blas():
        KCP.conv_maxpool(x, KCP.pack_conv_maxpool(w), b, out, args, kact(act), threads)
    close(out, want, scale=3)


@SOME
@given(conv_pool_config(), ACTS, st.sampled_from([1, 2, 3]), st.integers(0, 2**32 - 1))
def test_conv_maxpool_random(cfg: dict[str, int], act: int, threads: int,
                             seed: int) -> None:
    """The convolution and the max pool after it, row by row: padding of either (the copy
    of a run's rows; windows cut at the plane's edges), dilation, 1-20 outputs (a strip's
    lanes past them), every activation applied after the pool, NaN anywhere, 1-3 threads
    (an image's pooled rows in runs)."""
    run_conv_maxpool(cfg, act, seed, threads, nan=seed % 3 == 0)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize(("batch", "c", "o", "hw", "k", "s", "pk"), [
    (1, 3, 64, 224, 3, 2, 3),  # SqueezeNet's stem and pool: 111 -> 55, strips of 48 + 16
    (2, 3, 24, 67, 3, 2, 2),  # two images, a 2x2 pool: windows share no row
    (1, 8, 16, 40, 3, 1, 3),  # a stride-1 3x3
    (1, 128, 16, 80, 3, 2, 3),  # 1152 products a tile, 128 planes under its broadcasts
    (1, 5, 100, 60, 3, 2, 3),  # 100 outputs: strips of 48, 48, 8 (a last 8-lane pool)
    (1, 3, 24, 224, 3, 2, -3),  # ShuffleNet's stem, both padded by 1: 224 -> 112 -> 56
])
def test_conv_maxpool_workloads(batch: int, c: int, o: int, hw: int, k: int, s: int,
                                pk: int, threads: int) -> None:
    """(A negative pool window: that window, and both the convolution and the pool padded
    by 1 on every side.)"""
    p = 1 if pk < 0 else 0
    pk = abs(pk)
    cfg = {"N": batch, "groups": 1, "C": c, "O": o, "H": hw, "W": hw, "KH": k, "KW": k,
           "SH": s, "SW": s, "PH": p, "PW": p, "DH": 1, "DW": 1, "PKH": pk, "PKW": pk,
           "PPT": p, "PPL": p, "PPB": p, "PPR": p}
    run_conv_maxpool(cfg, K.ACT_RELU, 7, threads)


def test_conv_maxpool_refuses_what_does_not_fit() -> None:
    x = np.ones((1, 3, 20, 40), np.float32)  # 3x3 stride 1: 18 x 38, pooled 3x3: 8 x 18
    good = [3, 3, 1, 1, 0, 0, 1, 1, 1, 3, 3, 18, 38, 0, 0, 0, 0]
    w, b = KCP.pack_conv_maxpool(np.ones((4, 3, 3, 3), np.float32)), np.zeros(4, np.float32)
    out = np.full((1, 4, 8, 18), np.nan, np.float32)
    # groups, the convolution's rows and columns, a window too high, one column wide, pool
    # padding as large as the window, padding the pooled plane's size does not have
    for i, bad in [(8, 2), (11, 19), (12, 37), (9, 4), (10, 1), (13, 3), (16, 1)]:
        cfg = np.array(good, np.int64)
        cfg[i] = bad
        with pytest.raises(ValueError, match="do not fit"):
            KCP.conv_maxpool(x, w, b, out, cfg, kact(K.ACT_NONE), 1)
    with pytest.raises(ValueError, match="do not fit"):  # a pooled plane of another size
        KCP.conv_maxpool(x, w, b, np.full((1, 4, 8, 19), np.nan, np.float32),
                         np.array(good, np.int64), kact(K.ACT_NONE), 1)
    with pytest.raises(ValueError, match="do not fit"):  # no pool padding given
        KCP.conv_maxpool(x, w, b, out, np.array(good[:13], np.int64), kact(K.ACT_NONE), 1)
    with pytest.raises(ValueError, match="do not fit"):  # a weight of other products
        KCP.conv_maxpool(x, KCP.pack_conv_maxpool(np.ones((4, 26), np.float32)), b, out,
                         np.array(good, np.int64), kact(K.ACT_NONE), 1)
    assert np.isnan(out).all()  # refused before anything is written
    KCP.conv_maxpool(x, w, b, out, np.array(good, np.int64), kact(K.ACT_NONE), 1)
    assert (out == 27.0).all()


def test_oconv_refuses_groups_of_fewer_than_8_outputs() -> None:
    x = np.ones((1, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="8 output channels"):
        KO.oconv(x, KO.pack_oconv(np.ones((4, 2, 3, 3), np.float32), 1),
                 np.zeros(4, np.float32), EMPTY4, np.empty((1, 4, 3, 3), np.float32),
                 np.array([3, 3, 1, 1, 0, 0, 1, 1, 1], np.int64), kact(K.ACT_NONE), 1)


def test_pack_oconv_layout() -> None:
    """Each group's channels in strips of 24 (the last zero-filled to a multiple of 8),
    each strip K x width."""
    w = np.arange(2 * 20 * 3, dtype=np.float32).reshape(40, 3, 1, 1)  # 2 groups of 20
    p = KO.pack_oconv(w, 2)
    assert p.shape == (2 * 24 * 3,)
    g1 = p[72:].reshape(3, 24)  # group 1: one strip of 24 lanes, 20 of them channels
    assert (g1[:, :20] == w[20:, :, 0, 0].T).all() and (g1[:, 20:] == 0).all()
    w2 = np.arange(40 * 2, dtype=np.float32).reshape(40, 2, 1, 1)
    p2 = KO.pack_oconv(w2, 1)  # strips of 24 and 16
    assert (p2[:48].reshape(2, 24) == w2[:24, :, 0, 0].T).all()
    assert (p2[48:].reshape(2, 16) == w2[24:, :, 0, 0].T).all()


@SOME
@given(conv_config(max_c=8), st.integers(0, 2**32 - 1), st.data())
def test_im2col_gather_matches_the_row_copies(cfg: dict[str, int], seed: int,
                                              data: st.DataObject) -> None:
    """The two im2col paths (gathered through an index table, rows copied) build the same
    tile, bit for bit, for any pixel range of any group: padding, strides, dilation."""
    x, _, _, res = conv_inputs(cfg, seed)
    oh, ow = res.shape[2], res.shape[3]
    p0 = data.draw(st.integers(0, oh * ow - 1))
    np_ = data.draw(st.integers(1, oh * ow - p0))
    g = data.draw(st.integers(0, cfg["groups"] - 1))
    cg = cfg["C"] // cfg["groups"]
    args = (x[0], g * cg, cg, *(cfg[k] for k in ("KH", "KW", "SH", "SW", "PH", "PW", "DH",
                                                  "DW")), ow, p0, np_)
    rows, gathered = (np.full((cg * cfg["KH"] * cfg["KW"], np_), np.nan, np.float32)
                      for _ in range(2))
    KG._im2col(*args, rows)
    KG._im2col_gather(*args, gathered)
    np.testing.assert_array_equal(gathered, rows)


@pytest.mark.parametrize("cfg", [
    # 1x1 stride 1 unpadded: the input plane is multiplied directly, tiled for threads
    {"N": 1, "C": 64, "H": 23, "W": 29, "O": 96, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
    # a strided stem: im2col tiles over several output rows, a tail tile; rows of 36
    # output columns are copied, rows of 24 gathered (GATHER_MAX_OW)
    {"N": 3, "C": 3, "H": 61, "W": 71, "O": 16, "KH": 7, "KW": 7, "SH": 2, "SW": 2,
     "PH": 3, "PW": 3, "DH": 1, "DW": 1, "groups": 1},
    {"N": 3, "C": 3, "H": 61, "W": 47, "O": 16, "KH": 7, "KW": 7, "SH": 2, "SW": 2,
     "PH": 3, "PW": 3, "DH": 1, "DW": 1, "groups": 1},
    # a short product (3 x 3 x 3 = 27 < SHORT_K): tiles of SHORT_K_PIXELS, a tail tile
    {"N": 2, "C": 3, "H": 61, "W": 63, "O": 24, "KH": 3, "KW": 3, "SH": 2, "SW": 2,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
    # row copies with dilation, column stride and padding (32 output columns)
    {"N": 1, "C": 5, "H": 20, "W": 64, "O": 16, "KH": 3, "KW": 3, "SH": 1, "SW": 2,
     "PH": 2, "PW": 2, "DH": 2, "DW": 2, "groups": 1},
    # a small plane with many output channels: split over output channels at batch 1
    {"N": 1, "C": 32, "H": 7, "W": 7, "O": 256, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
    # grouped 1x1 and a 1x1 with stride 2 (ResNet's shortcut)
    {"N": 2, "C": 32, "H": 9, "W": 9, "O": 64, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 4},
    {"N": 1, "C": 40, "H": 14, "W": 15, "O": 72, "KH": 1, "KW": 1, "SH": 2, "SW": 2,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
    # 1x1 on planes of PW_MIN_PIXELS or more with few channels: the pointwise kernel (where
    # KVG.WIDE from PW_ALL_PIXELS: the first three), with input channels left over after
    # blocks of 4 and output rows after blocks of 8
    {"N": 2, "C": 13, "H": 57, "W": 59, "O": 21, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
    {"N": 1, "C": 24, "H": 56, "W": 58, "O": 36, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 3},
    {"N": 2, "C": 13, "H": 29, "W": 31, "O": 21, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
    {"N": 1, "C": 24, "H": 28, "W": 28, "O": 36, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 3},
    {"N": 1, "C": 8, "H": 30, "W": 30, "O": 64, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
    # at least PARALLEL_MIN_FLOPS: the work items run in parallel (smaller ones serially)
    {"N": 1, "C": 64, "H": 32, "W": 32, "O": 96, "KH": 3, "KW": 3, "SH": 2, "SW": 2,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
    {"N": 1, "C": 64, "H": 48, "W": 48, "O": 72, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
    # SqueezeNet's 256 -> 48 at 13x13: one tile of pixels, its 48 channels in parts
    {"N": 1, "C": 256, "H": 13, "W": 13, "O": 48, "KH": 1, "KW": 1, "SH": 1, "SW": 1,
     "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
])
@pytest.mark.parametrize("threads", [1, 2, 4])
def test_conv_gemm_workloads(cfg: dict[str, int], threads: int) -> None:
    run_conv_gemm(cfg, K.ACT_RELU, True, 11, threads)
    run_conv_gemm(cfg, K.ACT_TANH, False, 12, threads)


@pytest.mark.parametrize(("cfg", "algo"), [
    # (N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, groups)
    ((1, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3, 1, 1, 1), "oconv"),  # the stems
    ((1, 3, 224, 224, 96, 11, 11, 4, 4, 2, 2, 1, 1, 1), "oconv"),
    ((1, 3, 224, 224, 64, 3, 3, 2, 2, 0, 0, 1, 1, 1), "gemm"),  # 27 products: im2col
    ((1, 128, 56, 56, 128, 3, 3, 2, 2, 1, 1, 1, 1, 1), "oconv"),  # strided 3x3s
    # onto 7x7 planes (one strip of the wide tile and a dot product): im2col where WIDE
    ((1, 512, 14, 14, 512, 3, 3, 2, 2, 1, 1, 1, 1, 1), "gemm" if KVG.WIDE else "oconv"),
    ((1, 112, 14, 14, 192, 3, 3, 2, 2, 1, 1, 1, 1, 1), "oconv"),  # (1008 products)
    ((1, 256, 14, 14, 512, 1, 1, 2, 2, 0, 0, 1, 1, 1), "gemm"),  # 1x1s: the GEMM
    ((1, 64, 56, 56, 256, 1, 1, 1, 1, 0, 0, 1, 1, 1), "gemm"),
    ((1, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1), "gemm" if KVG.WIDE else "oconv"),
    ((1, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1, 2), "oconv"),  # (groups: oconv's)
    ((1, 160, 6, 6, 320, 3, 3, 1, 1, 1, 1, 1, 1, 1), "oconv"),
    ((1, 160, 13, 13, 320, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino_gemm"),  # Inception v1's
    ((1, 64, 13, 13, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino_gemm"),  # SqueezeNet's expands
    ((1, 32, 27, 27, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),  # 20 columns or more
    ((1, 16, 55, 55, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),  # 16 inputs, wide
    ((1, 16, 27, 27, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),  # 8 channels or more
    ((1, 16, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1), "oconv"),  # 16 inputs, narrower
    ((1, 64, 17, 17, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino_gemm"),  # 5 tiles of 8 a row
    ((1, 512, 12, 12, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino_gemm"),  # ZFNet-512's
    ((1, 512, 14, 14, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino_gemm"),  # VGG-19's at 14x14
    ((1, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino_gemm"),  # ResNet-50's
    ((1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),
    ((1, 128, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),  # DenseNet-121's
    ((1, 64, 20, 20, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),
    ((1, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),  # the ResNet blocks'
    ((1, 32, 48, 48, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino4_gemm"),
    ((1, 16, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), "wino"),  # narrower: generated
    ((1, 4, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), "flat"),  # fewer than 8 inputs
    ((1, 128, 7, 7, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), "vo"),  # DenseNet-121's: 32 outputs
    ((1, 96, 26, 26, 256, 5, 5, 1, 1, 2, 2, 1, 1, 2), "oconv"),  # AlexNet's 5x5, groups
    ((1, 32, 28, 28, 96, 5, 5, 1, 1, 2, 2, 1, 1, 1), "oconv"),  # Inception v1's
    ((64, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1), "vo"),  # LeNet's second: 16 outputs
    ((1, 16, 27, 27, 32, 5, 5, 1, 1, 2, 2, 1, 1, 1), "oconv"),  # Inception v1's: 32
    ((1, 16, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1), "oconv"),  # 144 products, 64 outputs
    ((1, 6, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1), "vo"),  # 54 products: direct
    ((1, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32), "dwconv"),  # depthwise
    ((1, 112, 56, 56, 112, 3, 3, 2, 2, 1, 1, 1, 1, 112), "dwconv"),  # ShuffleNet's
    ((1, 16, 14, 14, 48, 5, 5, 1, 1, 2, 2, 1, 1, 16), "dwconv"),  # 3 outputs an input
    ((1, 32, 14, 14, 32, 1, 1, 1, 1, 0, 0, 1, 1, 32), "flat"),  # a 1x1 depthwise: a scale
    ((1, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 16), "flat"),  # 2 inputs a group
])
def test_algorithm_choices(cfg: tuple[int, ...], algo: str) -> None:
    """packing.conv_algorithm on the networks' convolutions (the kernels' own tests cover
    their numbers; OCONV_MEASURED in packing.py says why each is chosen)."""
    from shapegraph.executor.packing import conv_algorithm
    assert conv_algorithm(cfg) == algo  # type: ignore[arg-type]


def test_the_pointwise_cases_run_pointwise() -> None:
    wide = KVG.WIDE
    assert KG.runs_pointwise(57 * 59, 13, 21) and KG.runs_pointwise(56 * 58, 8, 12)
    # below 56x56, where KVG.WIDE never (vgemm or sgemm by the size of the product), else
    # on planes of 784 pixels or more with few channels
    assert KG.runs_pointwise(29 * 31, 13, 21) != wide
    assert KG.runs_pointwise(28 * 28, 8, 12) != wide
    assert not KG.runs_pointwise(14 * 14, 16, 64)  # small planes: sgemm
    # planes of 56x56 or more: always, but where KVG.WIDE vgemm's wide tiles win from 64
    # inputs and 64 outputs
    assert KG.runs_pointwise(56 * 56, 128, 512) != wide
    assert KG.runs_pointwise(56 * 56, 64, 64) != wide
    assert KG.runs_pointwise(56 * 56, 63, 128) and KG.runs_pointwise(56 * 56, 256, 32)
    # where KVG.WIDE, vgemm above a million multiply-adds (OpenBLAS's small-matrix kernel
    # up to it) on 32 pixels or more; else from 128 terms and 64 outputs (16 on 64 pixels)
    assert KG.uses_vgemm(64, 16, 977) == wide and not KG.uses_vgemm(64, 16, 976)
    assert KG.uses_vgemm(27, 64, 3025) == wide and not KG.uses_vgemm(27, 64, 444)
    assert KG.uses_vgemm(2048, 512, 32) and KG.uses_vgemm(2048, 512, 31) != wide
    assert KG.uses_vgemm(128, 64, 100) != wide  # 819 200 multiply-adds
    assert KG.uses_vgemm(128, 16, 64) != wide and KG.uses_vgemm(127, 64, 3136) == wide
    if not wide:
        assert KG.runs_pointwise(28 * 28, 96, 128)  # a small weight matrix, on sgemm else
        assert not KG.runs_pointwise(28 * 28, 512, 128)  # ... but vgemm wins below 56x56
        assert not KG.runs_pointwise(28 * 28, 256, 512)  # many weights: vgemm
        assert not KG.runs_pointwise(27 * 27, 256, 32)  # vgemm: 16 outputs are enough
    # rows 4 KB apart (64x64 planes): pointwise's 12 rows share the cache's sets
    assert not KG.runs_pointwise(64 * 64, 64, 256) and not KG.runs_pointwise(32 * 64, 16, 8)


# the first example compiles the function (0.2-0.4 s cold): no deadline, as for every test
# of a jitted function here
@settings(deadline=None)
@given(st.integers(1, 64), st.integers(1, 8), st.integers(1, 20000), st.integers(1, 2048),
       st.integers(1, 5000), st.booleans(), st.integers(1, 8))
@example(1, 1, 169, 48, 256, True, 2)  # SqueezeNet's 256 -> 48 at 13x13: two parts
@example(1, 1, 3025, 64, 16, True, 2)  # its 16 -> 64 at 55x55: a part of the rows a thread
@example(1, 1, 3025, 16, 64, True, 2)  # its 64 -> 16: pixel tiles of whole strips
def test_conv_gemm_tiles_cover_the_work(batch: int, groups: int, pixels: int, mg: int,
                                        kg: int, direct: bool, threads: int) -> None:
    """Tiles are positive, no larger than their extent, keep im2col tiles within
    COL_BYTES where they can, and split work for the threads when the problem allows."""
    nt, mt = KG.conv_gemm_tiles(batch, groups, pixels, mg, kg, direct, threads)
    assert 1 <= nt <= pixels and 1 <= mt <= mg
    n_pt = -(-pixels // nt)
    starts = [KG.tile_start(i, n_pt, nt, pixels) for i in range(n_pt + 1)]
    sizes = [b - a for a, b in itertools.pairwise(starts)]
    # the pixel tiles cover the plane once, in order; where WIDE, wider than a strip, each
    # starts at a whole strip (the last ends at the plane's end) within half a strip of
    # an equal share
    assert starts[0] == 0 and starts[-1] == pixels and min(sizes) >= 1
    if KVG.WIDE and nt > KVG.WR:
        assert all(p % KVG.WR == 0 for p in starts[:-1])
        assert all(abs(p - i * pixels / n_pt) <= KVG.WR / 2 for i, p in enumerate(starts))
    else:
        assert sizes == [nt] * (n_pt - 1) + [pixels - (n_pt - 1) * nt]
    if not (direct and KG.runs_pointwise(pixels, kg, mg)):
        # tiles of equal size (the last one short by fewer pixels than there are tiles);
        # more tiles than threads are a multiple of the threads, unless that would take
        # tiles under 64 pixels
        n_pt = -(-pixels // nt)
        assert pixels - (n_pt - 1) * nt > nt - n_pt
        tiles = batch * groups * n_pt
        assert tiles % threads == 0 or tiles < threads or nt <= 128
    if threads == 1 and not (direct and KG.runs_pointwise(pixels, kg, mg)):
        # one item per im2col tile: a part of the output channels would build it again
        assert mt == mg and (nt == pixels if direct else 4 * kg * nt <= KG.COL_BYTES
                             or nt <= min(pixels, 64))
        return
    if direct and KG.runs_pointwise(pixels, kg, mg):  # whole rows, blocks of 8 channels
        assert nt == pixels and (mt == mg or mt % 8 == 0)
        items = batch * groups * -(-mg // mt)
        assert items >= min(2 * threads, batch * groups * max(1, mg // 8)) or mg < 16
        return
    if not direct and nt > 64:
        assert 4 * kg * nt <= KG.COL_BYTES
    items = batch * groups * -(-pixels // nt) * -(-mg // mt)
    if (batch * groups == 1 and (direct or nt == pixels) and pixels < KG.SPLIT_ROWS_PIXELS
            and mg >= KG.SPLIT_ROWS_MIN * threads):
        # a small plane in one tile: one part of the output channels a thread (the last
        # may be short), in whole groups of 8, SPLIT_ROWS_MIN or more
        assert nt == pixels and mt % 8 == 0 and mt >= KG.SPLIT_ROWS_MIN
        assert items == threads
        return
    if (batch * groups == 1 and direct and kg < KVG.PACK_MIN_K
            and 4 * kg * pixels <= KG.SPLIT_ROWS_BYTES and mg >= 16 * threads):
        # a 1x1 on a small input vgemm reads where it lies: a part of the output channels
        # a thread, each over the whole plane
        assert nt == pixels and mt % 8 == 0 and mt >= 16 and items == threads
        return
    if batch * groups * -(-pixels // nt) == 1 and mg >= 16 * threads:
        assert items == threads  # one tile: a part of the output channels a thread
        return
    if batch * groups * -(-pixels // nt) < threads and mg >= max(32, 16 * threads):
        assert items >= threads  # output channels split: a part a thread at least
    if pixels >= 256 * 2 * threads or mg >= 64 * threads:
        assert items >= min(2 * threads, batch * groups * max(1, pixels // 128) * max(1, mg // 32))


@st.composite
def wino_config(draw: Any) -> dict[str, int]:
    d = {"N": draw(st.integers(1, 3)), "groups": 1, "C": draw(st.integers(1, 24)),
         "O": draw(st.integers(1, 24)), "KH": 3, "KW": 3, "SH": 1, "SW": 1,
         "PH": draw(st.integers(0, 2)), "PW": draw(st.integers(0, 2)), "DH": 1, "DW": 1}
    d["H"] = draw(st.integers(max(1, 3 - 2 * d["PH"]), 30))
    d["W"] = draw(st.integers(max(1, 3 - 2 * d["PW"]), 70))  # (rows of 1-5 vectors of tiles)
    return d


def run_wino_gemm(cfg: dict[str, int], act: int, residual: bool, seed: int,
                  threads: int, in_place: bool = False, four: bool = False) -> None:
    """``in_place``: the output written over the residual, as the memory plan may;
    ``four``: F(4x4, 3x3) (``kernels_wino4.wino4_gemm``), else F(2x2, 3x3)."""
    x, w, b, res = conv_inputs(cfg, seed)
    want = conv_want(x, w, b, cfg, res if residual else None, act)
    out = res if in_place and residual else np.full_like(res, np.nan)
    kernel, pack = (KW4.wino4_gemm, pack_wino4_gemm) if four else (KG.wino_gemm,
                                                                     pack_wino_gemm)
    with single_threaded_blas():
        kernel(x, pack(w), b, res if residual else EMPTY4, out,
               np.array([cfg["PH"], cfg["PW"]], np.int64), kact(act), threads)
    # (F(4x4, 3x3)'s transforms, coefficients up to 8, lose about 20x more: module docs)
    close(out, want, scale=10 if four else 3)


@pytest.mark.parametrize(("c", "o", "h", "w"), [(128, 64, 9, 9), (130, 70, 7, 12),
                                                (128, 64, 14, 14)])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("four", [False, True])
def test_wino_gemm_many_channels(c: int, o: int, h: int, w: int, threads: int,
                                 four: bool) -> None:
    """Winograd with 128 input channels or more (U's rows longer than a block of V's)."""
    cfg = {"N": 1, "groups": 1, "C": c, "O": o, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": 1, "PW": 1, "DH": 1, "DW": 1, "H": h, "W": w}
    run_wino_gemm(cfg, K.ACT_RELU, True, 3, threads, four=four)
    run_wino_gemm(cfg, K.ACT_NONE, False, 4, threads, four=four)


@SOME
@given(wino_config(), st.booleans(), ACTS, st.sampled_from([1, 2, 3]),
       st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_wino_gemm_random(cfg: dict[str, int], residual: bool, act: int, threads: int,
                          seed: int, in_place: bool, four: bool) -> None:
    """Winograd F(2x2, 3x3) and F(4x4, 3x3): any padding (up to 2: the input's columns
    land in any of F(4x4, 3x3)'s four phases), odd sizes (partial edge tiles and vectors),
    fewer than 8 outputs, batch 1-3 and any thread count, the output over the residual or
    not, with one compiled kernel."""
    run_wino_gemm(cfg, act, residual, seed, threads, in_place, four)


@pytest.mark.parametrize("w", [14, 15, 16, 17, 29, 30, 31, 32, 33, 47])
@pytest.mark.parametrize("act", [K.ACT_NONE, K.ACT_RELU])
def test_wino_gemm_row_ends(w: int, act: int) -> None:
    """Output rows ending anywhere in a vector of 8 tiles (16 columns): the full vectors
    stored from registers, a partial last one element by element, never past the row."""
    cfg = {"N": 2, "groups": 1, "C": 5, "O": 9, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": 1, "PW": 1, "DH": 1, "DW": 1, "H": 5, "W": w}
    run_wino_gemm(cfg, act, True, w, 1, in_place=True)
    run_wino_gemm(cfg, act, False, w + 1, 2)


@pytest.mark.parametrize("w", [9, 10, 11, 12, 25, 26, 31, 33, 34, 36, 57, 64, 65, 66])
@pytest.mark.parametrize("h", [5, 6, 7, 8, 9])
def test_wino4_gemm_row_ends(w: int, h: int) -> None:
    """F(4x4, 3x3): output rows ending anywhere in a vector of 8 tiles (32 columns), in
    each of its four masked stores, and a last row of tiles with 1-4 output rows."""
    cfg = {"N": 2, "groups": 1, "C": 5, "O": 9, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": 1, "PW": 1, "DH": 1, "DW": 1, "H": h, "W": w}
    run_wino_gemm(cfg, K.ACT_RELU, True, w, 1, in_place=True, four=True)
    run_wino_gemm(cfg, K.ACT_NONE, False, w + 1, 2, four=True)


@pytest.mark.parametrize("cfg", [
    {"N": 1, "C": 96, "H": 28, "W": 28, "O": 64, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},  # several blocks of tile rows
    {"N": 2, "C": 40, "H": 15, "W": 9, "O": 33, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
     "PH": 0, "PW": 2, "DH": 1, "DW": 1, "groups": 1},
])
@pytest.mark.parametrize("four", [False, True])
def test_wino_gemm_workloads(cfg: dict[str, int], four: bool) -> None:
    run_wino_gemm(cfg, K.ACT_RELU, True, 12, 2, four=four)


@pytest.mark.parametrize("pw", [0, 1, 2, 3, 4, 5])
def test_wino4_gemm_pads(pw: int) -> None:
    """F(4x4, 3x3) with 0-5 columns of padding: the input's columns start in each of the
    four phases, and one entry or two on."""
    cfg = {"N": 1, "groups": 1, "C": 3, "O": 10, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": pw % 3, "PW": pw, "DH": 1, "DW": 1, "H": 7, "W": 29}
    run_wino_gemm(cfg, K.ACT_RELU, True, pw, 2, four=True)


@pytest.mark.parametrize(("c", "o", "h", "threads"), [
    (16, 64, 55, 1),  # SqueezeNet's first expands
    (64, 64, 56, 2),  # ResNet-50's 3x3 at 56x56 (parts on two threads)
    (128, 32, 28, 2),  # DenseNet-121's (blocks of 4 tile rows, then 3)
    (32, 128, 27, 1),
])
def test_wino4_gemm_networks(c: int, o: int, h: int, threads: int) -> None:
    """F(4x4, 3x3) on the networks' shapes that take it, against float64."""
    cfg = {"N": 1, "groups": 1, "C": c, "O": o, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": 1, "PW": 1, "DH": 1, "DW": 1, "H": h, "W": h}
    run_wino_gemm(cfg, K.ACT_RELU, True, 13, threads, four=True)


@settings(deadline=None)  # (the first example compiles the function)
@given(st.integers(1, 128), st.integers(1, 16), st.integers(1, 1024), st.integers(1, 1024),
       st.integers(1, 16), st.integers(1, 8), st.sampled_from([16, 36]))
def test_wino_split(th: int, vecs: int, c: int, m: int, batch: int, threads: int,
                    positions: int) -> None:
    """Blocks of 1..th tile rows, on one thread a multiple of those that make whole strips
    of the register tile (or the whole image); the output channels split only on several
    threads, in one part per thread of 16 channels or more; and never an estimate worse
    than the blocks sized for one thread. For F(4x4, 3x3) (36 positions), rows of one
    vector of tiles in blocks of 4 rows (``wino4_split``), else the same."""
    tw = 8 * vecs
    rows, parts = KG.wino_split(th, tw, c, m, batch, threads, positions)
    alone, one = KG.wino_split(th, tw, c, m, batch, 1, positions)
    if positions == 36:
        four = KW4.wino4_split(th, tw, c, m, batch, threads)
        assert four == ((min(4, th), 1) if tw == 8 else (rows, parts))
    assert 1 <= rows <= th and 1 <= alone <= th
    width = KG.WR if KG.WIDE else 24
    assert alone >= min(th, next(r for r in range(1, width + 1) if r * tw % width == 0))
    assert alone == th or alone * tw % width == 0  # whole strips, none left over
    assert one == 1 and parts in (1, threads) and (parts == 1 or m >= 16 * parts)
    part = 8 * (((m + 7) // 8 + parts - 1) // parts)  # the largest part
    load = KG.wino_load(th, rows, batch, 1 if parts > 1 else threads, min(part, m), tw)
    assert load <= KG.wino_load(th, alone, batch, threads, m, tw) + 1e-9
    if parts > 1:
        assert rows == alone


@FEW
@given(st.integers(8, 64), st.integers(32, 90), st.integers(3, 16), st.integers(3, 40),
       st.integers(1, 2), st.sampled_from([2, 3]), st.integers(0, 2**32 - 1))
def test_wino_gemm_random_parts(c: int, o: int, h: int, w: int, n: int, threads: int,
                                seed: int) -> None:
    """Small planes of few blocks with 32-90 outputs, on several threads: whichever way
    ``wino_split`` divides the work (its output channels in parts or not), the numbers."""
    cfg = {"N": n, "groups": 1, "C": c, "O": o, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": 1, "PW": 1, "DH": 1, "DW": 1, "H": h, "W": w}
    run_wino_gemm(cfg, K.ACT_RELU, True, seed, threads, in_place=seed % 2 == 0)


@pytest.mark.parametrize(("c", "o", "h", "w", "n", "threads"), [
    (256, 256, 14, 14, 1, 2),  # ResNet-50's 3x3 at 14x14
    (32, 128, 27, 27, 1, 2),  # SqueezeNet's expand (five blocks: 3, 3, 3, 3 and 2 rows)
    (48, 100, 13, 13, 1, 3),  # parts of 4, 4 and 4.5 groups of 8
    (24, 36, 5, 30, 1, 2),  # parts of 2 groups of 8 and of 2.5
    (24, 64, 5, 30, 3, 2),  # three images of two blocks (3 and 2 tile rows)
])
def test_wino_gemm_split_output_channels(c: int, o: int, h: int, w: int, n: int,
                                         threads: int) -> None:
    """``wino_gemm`` with its output channels split between the threads (each part
    transforming every block's input), the output over the residual or not."""
    th, tw = (h + 1) // 2, ((w - 2 + 1) // 2 + 7) // 8 * 8  # (no padding along rows)
    assert KG.wino_split(th, tw, c, o, n, threads, 16)[1] == threads
    cfg = {"N": n, "groups": 1, "C": c, "O": o, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": 1, "PW": 0, "DH": 1, "DW": 1, "H": h, "W": w}
    run_wino_gemm(cfg, K.ACT_RELU, True, 5, threads, in_place=True)
    run_wino_gemm(cfg, K.ACT_NONE, False, 6, threads)


@pytest.mark.parametrize(("c", "o", "h", "w", "n", "threads"), [
    (16, 64, 55, 55, 1, 2),  # SqueezeNet's first expands
    (24, 100, 18, 38, 1, 3),  # parts of 4, 4 and 5 groups of 8
    (24, 36, 12, 66, 1, 2),  # parts of 2 groups of 8 and of 2.5
])
def test_wino4_gemm_split_output_channels(c: int, o: int, h: int, w: int, n: int,
                                          threads: int) -> None:
    """``wino4_gemm`` with its output channels split between the threads."""
    th, tw = (h + 3) // 4, ((w - 2 + 3) // 4 + 7) // 8 * 8  # (no padding along rows)
    assert KW4.wino4_split(th, tw, c, o, n, threads)[1] == threads
    cfg = {"N": n, "groups": 1, "C": c, "O": o, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
           "PH": 1, "PW": 0, "DH": 1, "DW": 1, "H": h, "W": w}
    run_wino_gemm(cfg, K.ACT_RELU, True, 5, threads, in_place=True, four=True)
    run_wino_gemm(cfg, K.ACT_NONE, False, 6, threads, four=True)


# --------------------------------------------------------------------------- templates


def _no_cache_njit(*args: Any, **kw: Any) -> Any:
    return njit(*args, **{**kw, "cache": False})


def compile_template(source: str, name: str) -> Callable[..., None]:
    """exec a template's source the way the generated module sees it (np, njit, prange and
    the kernels' names); caching is off because exec'd code has no file to cache against."""
    ns: dict[str, Any] = {"np": np, "njit": _no_cache_njit, "prange": prange}
    ns.update({k: getattr(K, k) for k in K.__all__})
    ns.update({k: getattr(KP, k) for k in KP.__all__})
    ns.update({k: getattr(KG, k) for k in KG.__all__})
    ns.update({k: getattr(SIMD, k) for k in SIMD.__all__}, vgemm_tile=KVG.vgemm_tile,
              vgemm_tile48=KVG.vgemm_tile48)
    exec(compile(source, f"<template {name}>", "exec"), ns)
    fn: Callable[..., None] = ns[name]
    return fn


CONV_KEYS = ("N", "C", "H", "W", "O", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW", "groups")


def conv_args(cfg: dict[str, int]) -> T.ConvArgs:
    a = tuple(cfg[k] for k in CONV_KEYS)
    assert len(a) == 14
    return a  # type: ignore[return-value]


def run_conv_template(cfg: dict[str, int], act: int, bias: bool, residual: bool,
                      seed: int, in_place: bool = False) -> None:
    """The template's kernel against the reference; ``in_place``: the output is written
    over the residual (as the memory plan does where the residual dies there)."""
    x, w, b, res = conv_inputs(cfg, seed)
    args = conv_args(cfg)
    fn = compile_template(*T.conv2d_source(*args, kact(act), bias, residual))
    want = conv_want(x, w, b if bias else None, cfg, res if residual else None, act)
    out = res if in_place else np.full_like(res, np.nan)
    fn(x, T.pack_conv2d_weight(w, *args), b if bias else EMPTY1,
       res if residual else EMPTY4, out)
    close(out, want, scale=3)


@settings(max_examples=6, deadline=None)
@given(conv_config(), st.booleans(), st.booleans(), ACTS, st.integers(0, 2**32 - 1))
def test_conv2d_template_random(cfg: dict[str, int], bias: bool, residual: bool, act: int,
                                seed: int) -> None:
    run_conv_template(cfg, act, bias, residual, seed)


WORKLOADS = {
    "lenet1": {"N": 2, "C": 1, "H": 28, "W": 28, "O": 6, "KH": 5, "KW": 5, "SH": 1, "SW": 1,
               "PH": 2, "PW": 2, "DH": 1, "DW": 1, "groups": 1},
    "lenet2": {"N": 1, "C": 6, "H": 14, "W": 14, "O": 16, "KH": 5, "KW": 5, "SH": 1, "SW": 1,
               "PH": 0, "PW": 0, "DH": 1, "DW": 1, "groups": 1},
    "resnet": {"N": 2, "C": 16, "H": 32, "W": 32, "O": 16, "KH": 3, "KW": 3, "SH": 1, "SW": 1,
               "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
    "resnet_s2": {"N": 1, "C": 16, "H": 16, "W": 16, "O": 32, "KH": 3, "KW": 3, "SH": 2,
                  "SW": 2, "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1},
}


@pytest.mark.parametrize(("name", "residual"), [("lenet1", False), ("lenet2", False),
                                                ("resnet", True), ("resnet_s2", False)])
def test_conv2d_template_workloads(name: str, residual: bool) -> None:
    run_conv_template(WORKLOADS[name], K.ACT_RELU, True, residual, 7)


@st.composite
def conv_template_pool_config(draw: Any) -> tuple[dict[str, int], tuple[int, int]]:
    """A convolution of a direct template algorithm ("flat", "rows", or with 16-20 outputs
    a group on a small plane "vo") and a stride-2 max pool of 2x2 to 3x3 that fits its
    output."""
    cfg = draw(conv_config())
    if draw(st.booleans()):  # 16-20 outputs a group: "vo" where the plane is small
        cfg["O"] = cfg["groups"] * draw(st.integers(16, 20))
    pool = (draw(st.integers(2, 3)), draw(st.integers(2, 3)))
    for k, (kk, s, p, d) in (("H", ("KH", "SH", "PH", "DH")), ("W", ("KW", "SW", "PW", "DW"))):
        need = (pool[k == "W"] - 1) * cfg[s] + cfg[d] * (cfg[kk] - 1) + 1 - 2 * cfg[p]
        cfg[k] = draw(st.integers(max(1, need), max(1, need) + 10))
    return cfg, pool


def run_conv_template_pool(cfg: dict[str, int], pool: tuple[int, int], act: int, bias: bool,
                           seed: int, nan: bool = False) -> None:
    """The template with the max pool in its output pass against act(maxpool(conv + b))
    of the references (the activation after the pool: what the fusion, which takes only
    activations that do not decrease, is equal to)."""
    x, w, b, _ = conv_inputs(cfg, seed)
    if nan:
        x.flat[seed % x.size] = np.nan
    args = conv_args(cfg)
    conv = T.conv2d_config(*args)
    assert conv.algo in ("flat", "rows", "vo")
    assert T.template_pools(conv.algo, conv.OH, conv.OW, *pool, 2, 2, ())
    spec = {"ndim": 2, "kernel": pool, "strides": (2, 2), "padding": (0, 0),
            "pads_end": (0, 0), "ceil_mode": False, "count_include_pad": False,
            "ceil_drop_last": False, "kind": "max"}
    want = act_ref(pool_reference(conv_want(x, w, b if bias else None, cfg, None,
                                            K.ACT_NONE), spec), act)
    assert want.shape[2:] == T.pooled_size(conv.OH, conv.OW, pool)
    fn = compile_template(*T.conv2d_source(*args, kact(act), bias, False, pool))
    out = np.full(want.shape, -7.0, np.float32)
    fn(x, T.pack_conv2d_weight(w, *args), b if bias else EMPTY1, EMPTY4, out)
    close(out, want, scale=3)


@settings(max_examples=6, deadline=None)
@given(conv_template_pool_config(), st.booleans(), ACTS, st.integers(0, 2**32 - 1))
def test_conv2d_template_pool_random(cp: tuple[dict[str, int], tuple[int, int]], bias: bool,
                                     act: int, seed: int) -> None:
    """Any stride, padding, dilation and groups of the convolution, a 2x2 to 3x3 pool, every
    activation (after the pool), NaN anywhere (it wins its window, as np.maximum)."""
    run_conv_template_pool(*cp, act, bias, seed, nan=seed % 3 == 0)


ROWS_S2 = {"N": 2, "C": 3, "H": 21, "W": 20, "O": 6, "KH": 3, "KW": 3, "SH": 2, "SW": 2,
           "PH": 1, "PW": 1, "DH": 1, "DW": 1, "groups": 1}


@pytest.mark.parametrize(("cfg", "pool", "algo"), [
    (WORKLOADS["lenet1"], (2, 2), "flat"), (WORKLOADS["lenet2"], (2, 2), "vo"),
    (WORKLOADS["lenet2"], (3, 3), "vo"), (WORKLOADS["resnet_s2"], (3, 2), "vo"),
    (ROWS_S2, (3, 3), "rows"), (ROWS_S2, (2, 3), "rows")])
def test_conv2d_template_pool_workloads(cfg: dict[str, int], pool: tuple[int, int],
                                        algo: str) -> None:
    """LeNet's two convolutions and pools, a 3x3 pool over 10x10 (its last row and column
    in no window), strided convolutions (11x10 outputs: a last row in no 2x2 window)."""
    assert T.conv2d_config(*conv_args(cfg)).algo == algo
    run_conv_template_pool(cfg, pool, K.ACT_RELU, True, 7)


def test_conv2d_template_pool_refused() -> None:
    """A pool the output pass does not take is an error, not a kernel that computes
    something else: with a residual, after Winograd, a window larger than the plane."""
    with pytest.raises(ValueError, match="residual"):
        T.conv2d_source(*conv_args(WORKLOADS["lenet2"]), kact(K.ACT_RELU), True, True, (2, 2))
    with pytest.raises(ValueError, match="'wino'"):
        T.conv2d_source(*conv_args(WORKLOADS["resnet"]), kact(K.ACT_RELU), True, False, (2, 2))
    tiny = {**WORKLOADS["lenet2"], "H": 6, "W": 6}  # 2x2 outputs
    with pytest.raises(ValueError, match="3x3 max pool"):
        T.conv2d_source(*conv_args(tiny), kact(K.ACT_RELU), True, False, (3, 3))


@pytest.mark.parametrize(("cfg", "act", "bias", "residual"), [
    (dict(WORKLOADS["resnet"], N=3, C=8, O=12), K.ACT_TANH, True, True),
    (dict(WORKLOADS["resnet"], H=34, W=34, PH=0, PW=0), K.ACT_NONE, False, False),
])
def test_conv2d_template_winograd(cfg: dict[str, int], act: int, bias: bool,
                                  residual: bool) -> None:
    assert T.conv2d_config(*conv_args(cfg)).algo == "wino"
    run_conv_template(cfg, act, bias, residual, 5)


@st.composite
def template_wino_config(draw: Any) -> dict[str, int]:
    """Convolutions the template's Winograd takes: 8, 16, 24 or 32 tiles a row (8 and 24:
    a strip of 8 tiles in the GEMM), any even number of output rows (a last block of fewer
    tile rows), any padding (odd widths: a tail of columns split one at a time), output
    channels not a multiple of 8 (the GEMM's last rows computed twice)."""
    d = {"N": draw(st.integers(1, 3)), "groups": 1, "C": draw(st.integers(8, 20)),
         "O": draw(st.integers(8, 27)), "KH": 3, "KW": 3, "SH": 1, "SW": 1,
         "PH": draw(st.integers(0, 2)), "PW": draw(st.integers(0, 2)), "DH": 1, "DW": 1}
    oh, ow = 2 * draw(st.integers(1, 20)), draw(st.sampled_from([16, 32, 48, 64]))
    d["H"], d["W"] = oh + 2 - 2 * d["PH"], ow + 2 - 2 * d["PW"]
    return d


@settings(max_examples=4, deadline=None)
@given(template_wino_config(), st.booleans(), st.booleans(), ACTS,
       st.integers(0, 2**32 - 1))
def test_conv2d_template_winograd_random(cfg: dict[str, int], bias: bool, in_place: bool,
                                         act: int, seed: int) -> None:
    """The template's Winograd (a kernel compiled per example, about 2 s): the blocks of
    tile rows, the padding and tails, and a residual read where the output is written."""
    assert T.conv2d_config(*conv_args(cfg)).algo == "wino"
    run_conv_template(cfg, act, bias, True, seed, in_place=in_place)


def test_conv2d_template_vectorized_over_channels() -> None:
    """The "vo" algorithm with groups, strides, dilation, asymmetric kernel and a tail tile."""
    cfg = {"N": 2, "C": 4, "H": 9, "W": 23, "O": 32, "KH": 3, "KW": 2, "SH": 2, "SW": 1,
           "PH": 1, "PW": 0, "DH": 1, "DW": 2, "groups": 2}
    assert T.conv2d_config(*conv_args(cfg)).algo == "vo"
    run_conv_template(cfg, K.ACT_GELU, True, True, 9)


@pytest.mark.parametrize(("cfg", "algo", "plain"), [
    (dict(WORKLOADS["lenet2"], O=4, groups=2, C=6), "flat", False),
    # (the two costliest compiles, 10 and 16 s cold, run with the slow set in CI)
    pytest.param(dict(WORKLOADS["resnet"], N=1, O=12, C=8), "wino", False,
                 marks=pytest.mark.slow),
    # vectorized over the output channels: each half is a slice of them (a tail tile too)
    pytest.param(dict(WORKLOADS["resnet"], N=1, C=5, H=9, W=11, O=32), "vo", True,
                 marks=pytest.mark.slow),
    (dict(WORKLOADS["resnet"], N=3, C=3, H=7, W=10, O=48, SH=2, PH=0, DW=2), "vo", False),
])
def test_conv2d_template_parallel_batch1(monkeypatch: pytest.MonkeyPatch, cfg: dict[str, int],
                                         algo: str, plain: bool) -> None:
    """The parallel path (output-channel halves at batch 1), forced on small problems;
    ``plain``: also without bias and residual (each variant is a compile of its own, a few
    seconds cold, and the epilogues are the serial path's, tested there)."""
    monkeypatch.setattr(T, "PARALLEL_MIN_FLOPS", 0)
    monkeypatch.setattr(T, "PARALLEL_COMPILE_MIN_FLOPS", 0)
    c = T.conv2d_config(*conv_args(cfg))
    # (Winograd's work items are blocks of 3 tile rows: 16 rows in 6)
    assert (c.G, c.algo) == (6 if algo == "wino" else 2, algo)
    run_conv_template(cfg, K.ACT_SIGMOID, True, True, 11)
    if plain:
        run_conv_template(cfg, K.ACT_RELU, False, False, 12)


@pytest.mark.parametrize(("cfg", "parts"), [
    # each work item computes half of every group's output channels (a tail tile too)
    (dict(WORKLOADS["resnet"], N=1, C=4, H=9, W=11, O=32, groups=2), 2),
    (dict(WORKLOADS["resnet"], N=2, C=6, H=7, W=7, O=48, groups=3), 2),
    # groups of an odd number of output channels stay whole
    (dict(WORKLOADS["resnet"], N=1, C=4, H=9, W=11, O=34, groups=2), 1),
])
def test_grouped_vo_convolutions_split_each_group(monkeypatch: pytest.MonkeyPatch,
                                                 cfg: dict[str, int], parts: int) -> None:
    monkeypatch.setattr(T, "PARALLEL_MIN_FLOPS", 0)
    monkeypatch.setattr(T, "PARALLEL_COMPILE_MIN_FLOPS", 0)
    c = T.conv2d_config(*conv_args(cfg))
    assert (c.algo, c.G) == ("vo", parts)
    run_conv_template(cfg, K.ACT_RELU, True, True, 13)


# --------------------------------------------------------------------------- data movement


@FEW
@given(st.integers(1, 20), st.integers(1, 9), st.integers(0, 30), st.integers(0, 2**32 - 1))
def test_gather_rows(v: int, d: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = rand(rng, v, d)
    idx = rng.integers(0, v, n).astype(np.int64)
    (want,) = reference("embedding", [idx], {"weight": w},
                        {"input_dim": w.shape[0], "output_dim": w.shape[1]})
    out = np.empty((n, d), np.float32)
    K.gather_rows(w, idx, out)
    close(out, want)


def test_gather_rows_out_of_range_gives_zeros() -> None:
    w = np.ones((3, 2), np.float32)
    out = np.full((3, 2), 7.0, np.float32)
    K.gather_rows(w, np.array([-1, 3, 1], np.int64), out)
    assert out.tolist() == [[0, 0], [0, 0], [1, 1]]


@FEW
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 3),
       st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_copy_block_concat(widths: list[int], a: int, c: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    parts = [rand(rng, a, bw, c) for bw in widths]
    (want,) = reference("concat", parts, {}, {"axis": 1})
    out = np.empty_like(want)
    offset = 0
    for p in parts:
        K.copy_block(p, out, offset)
        offset += p.shape[1]
    close(out, want)


@FEW
@given(st.lists(st.integers(1, 4), min_size=1, max_size=6), st.randoms(use_true_random=False),
       st.integers(0, 2**32 - 1))
def test_transpose(shape: list[int], r: Any, seed: int) -> None:
    x = rand(np.random.default_rng(seed), *shape)
    axes = list(range(len(shape)))
    r.shuffle(axes)
    (want,) = reference("transpose", [x], {}, {"axes": tuple(axes)})
    elem = [s // 4 for s in x.strides]
    # as permuted, and with dims merged into runs as the lowering passes them
    for sizes, x_strides in (([want.shape[k] for k in range(len(axes))], [elem[a] for a in axes]),
                             transpose_runs(shape, axes)):
        pad = 6 - len(sizes)
        out = np.empty(want.size, np.float32)
        K.transpose(x.ravel(), np.array([0] * pad + list(x_strides), np.int64), out,
                    np.array([1] * pad + list(sizes), np.int64))
        close(out.reshape(want.shape), want)


def test_transpose_runs_merge_what_stays_together() -> None:
    # ShuffleNet's channel shuffle: the 14 x 14 plane stays one run
    assert transpose_runs((1, 4, 68, 14, 14), (0, 2, 1, 3, 4)) == ((68, 4, 196), (196, 13328, 1))
    assert transpose_runs((2, 3), (0, 1)) == ((6,), (1,))  # the identity: one copy
    assert transpose_runs((2, 3), (1, 0)) == ((3, 2), (1, 3))
    assert transpose_runs((1, 1), (1, 0)) == ((1,), (1,))
    assert transpose_runs((2, 1, 3), (0, 2, 1)) == ((6,), (1,))  # a size-1 dim between


@st.composite
def unrolled_pool_config(draw: Any) -> dict[str, Any]:
    """A max pool ``maxpool2d_unrolls`` accepts: a window of at most 4 elements, all
    windows inside rows of at most 32 columns."""
    kh, kw = draw(st.sampled_from([(1, 1), (1, 2), (2, 1), (2, 2), (1, 4), (4, 1), (1, 3)]))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sizes = (draw(st.integers(kh, kh + 9)), draw(st.integers(kw, 32)))
    return {"ndim": 2, "kernel": (kh, kw), "strides": (sh, sw), "padding": (0, 0),
            "pads_end": (0, 0), "sizes": sizes, "ceil_mode": False,
            "count_include_pad": False, "ceil_drop_last": False, "kind": "max"}


@settings(max_examples=6, deadline=None)
@given(unrolled_pool_config(), st.integers(1, 2), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_maxpool_template(cfg: dict[str, Any], n: int, c: int, seed: int) -> None:
    x = rand(np.random.default_rng(seed), n, c, *cfg["sizes"])
    if seed % 3 == 0:  # NaN propagates like np.maximum, wherever it is in the window
        x.flat[seed % x.size] = np.nan
    want = pool_reference(x, cfg)
    oh, ow = want.shape[2:]
    args = (*cfg["kernel"], *cfg["strides"], 0, 0, oh, ow)
    assert T.maxpool2d_unrolls(*x.shape[2:], *args)
    fn = compile_template(*T.maxpool2d_source(n, c, *x.shape[2:], *args))
    out = np.empty((n, c, oh, ow), np.float32)
    fn(x, out)
    close(out, want)


def test_maxpool_template_lenet() -> None:
    x = rand(np.random.default_rng(5), 3, 6, 28, 28)
    src, name = T.maxpool2d_source(3, 6, 28, 28, 2, 2, 2, 2, 0, 0, 14, 14)
    # longer rows (SqueezeNet's 111 x 111) and padded windows take the generic kernel
    assert not T.maxpool2d_unrolls(111, 111, 3, 3, 2, 2, 0, 0, 55, 55)
    assert not T.maxpool2d_unrolls(28, 28, 3, 3, 2, 2, 1, 1, 14, 14)
    assert not T.maxpool2d_unrolls(27, 27, 3, 3, 2, 2, 0, 0, 13, 13)  # 3x3: generic wins
    assert T.maxpool2d_unrolls(13, 13, 2, 2, 2, 2, 0, 0, 6, 6)
    with pytest.raises(ValueError, match="not unrolled"):
        T.maxpool2d_source(1, 480, 27, 27, 3, 3, 2, 2, 0, 0, 13, 13)
    out = np.empty((3, 6, 14, 14), np.float32)
    compile_template(src, name)(x, out)
    close(out, x.reshape(3, 6, 14, 2, 14, 2).max(axis=(3, 5)))


def test_docstring_examples() -> None:
    import doctest

    from shapegraph.executor import acts, kernels_vgemm, simd

    for mod in (K, T, KCP, KD, KG, KO, KP, KW4, acts, kernels_vgemm, simd):
        assert doctest.testmod(mod).failed == 0


def test_single_threaded_blas_holds_one_thread_and_restores_the_callers_setting() -> None:
    """The runner keeps scipy's OpenBLAS (the one numba calls) on one thread while a plan
    with parallel kernels runs, nested or not, and restores what the caller had."""
    from shapegraph.executor import blas

    if not blas.blas_threads_controlled():
        pytest.skip("scipy's BLAS is not an OpenBLAS this process can find")
    assert blas._CONTROL is not None
    setter, getter = blas._CONTROL
    before = getter()
    try:
        setter(2)
        with single_threaded_blas():
            assert getter() == 1
            with single_threaded_blas():
                assert getter() == 1
            assert getter() == 1
        assert getter() == 2
    finally:
        setter(before)


@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPerformanceWarning")
@pytest.mark.parametrize("rows", [1, K.GEMV_ROWS + 2])  # sgemv, and sgemm
def test_dense_on_non_contiguous_views_takes_the_checked_product(rows: int) -> None:
    """sgemm is called straight only on C-contiguous operands; a strided view (which
    plans never pass, but a caller of the kernel may) goes through np.dot."""
    rng = np.random.default_rng(4)
    x = rand(rng, rows, 16)[:, ::2]
    wt = rand(rng, 8, 10)
    b = rand(rng, 10)
    out = np.empty((rows, 10), np.float32)
    K.dense(x, wt, b, kact(K.ACT_NONE), out)
    close(out, x.astype(np.float64) @ wt + b)
