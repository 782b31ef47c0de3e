"""The batch split (executor/split.py): a batch run as one call of the batch-1 plan per
sample, where the network's samples never meet and one sample's activations are large."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import nn, ops
from shapegraph.executor import split as SP
from shapegraph.executor.jit import numba
from shapegraph.infer.interpret import run_reference


def conv_net(channels: int = 8) -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Conv2D(channels, 3, padding=1, activation="relu"), nn.MaxPool2D(2),
            nn.Conv2D(channels, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
            nn.GlobalAvgPool2D(), nn.Dense(5))
    net.initialize()
    return net


def symbol(net: Any, shape: tuple[Any, ...]) -> str | None:
    model = sg.compile(net, sg.Input("x", shape))
    assert model.resolution is not None
    return SP.batch_symbol(model.graph, model.resolution)


def test_the_samples_of_a_convolutional_network_never_meet() -> None:
    assert symbol(conv_net(), ("batch", 3, 16, 16)) == "batch"
    assert symbol(conv_net(), (4, 3, 16, 16)) is None  # no batch symbol: nothing to split


class Along(nn.Block):
    """An op along ``axis`` after a dense layer."""

    def __init__(self, op: str, axis: int) -> None:
        super().__init__()
        self.dense = nn.Dense(6)
        self.op, self.axis = op, axis

    def forward(self, x: Any) -> Any:
        y = self.dense(x)
        if self.op == "softmax":
            return ops.softmax(y, axis=self.axis)
        if self.op == "concat":
            return ops.concat(y, y, axis=self.axis)
        if self.op == "sum":
            return ops.sum(y, axis=self.axis, keepdims=True)
        return ops.transpose(y, axes=(1, 0))


@pytest.mark.parametrize(("op", "axis", "separable"), [
    ("softmax", 1, True), ("softmax", -1, True), ("softmax", 0, False), ("softmax", -2, False),
    ("concat", 1, True), ("concat", 0, False), ("sum", 1, True), ("sum", 0, False),
    ("transpose", 0, False)])
def test_an_op_along_the_batch_axis_keeps_the_batch(op: str, axis: int,
                                                    separable: bool) -> None:
    net = Along(op, axis)
    net.initialize()
    assert (symbol(net, ("n", 4)) == "n") == separable


def run_both(net: Any, x: np.ndarray, threads: int) -> tuple[np.ndarray, str]:
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        with SP.forced():
            model = sg.compile(net, sg.Input("x", ("batch", *x.shape[1:])))
            got = model(x)
            report = model.memory_plan(batch=len(x))
        assert np.array_equal(model(x), got)  # the split plan is kept for the shape
    finally:
        numba.set_num_threads(before)
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    return got, report


@pytest.mark.parametrize("threads", [1, 2])
def test_a_split_batch_gives_the_references_numbers(threads: int) -> None:
    net = conv_net()
    x = np.random.default_rng(3).standard_normal((3, 3, 16, 16)).astype(np.float32)
    got, report = run_both(net, x, threads)
    assert got.shape == (3, 5)
    assert report.startswith("plan for inputs (3, 3, 16, 16): the batch split, one call a "
                             "sample of the plan for inputs (1, 3, 16, 16)")
    # each sample alone: the same plan, the same numbers
    model = sg.compile(net, sg.Input("x", ("batch", 3, 16, 16)))
    for i in range(3):
        np.testing.assert_array_equal(model(x[i:i + 1]), got[i:i + 1])


class TwoInTwoOut(nn.Block):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2D(4, 3, padding=1), nn.Conv2D(4, 1)

    def forward(self, x: Any, y: Any) -> Any:
        s = self.a(x) + self.b(y)
        return s, ops.relu(s) * 2.0


def test_two_inputs_and_two_outputs_split_alike() -> None:
    net = TwoInTwoOut()
    net.initialize()
    rng = np.random.default_rng(4)
    x, y = (rng.standard_normal((4, 3, 9, 9)).astype(np.float32) for _ in range(2))
    with SP.forced():
        model = sg.compile(net, sg.Input("x", ("b", 3, 9, 9)), sg.Input("y", ("b", 3, 9, 9)))
        got = model(x, y)
        assert "the batch split" in model.memory_plan(b=4)
    want = run_reference(model.graph, model.params, {"x": x, "y": y})
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_small_models_and_single_samples_keep_their_batch() -> None:
    """The thresholds: a sample's activations under SPLIT_MIN_VALUE (LeNet-sized) or one
    sample: the plan for the batch itself."""
    net = conv_net()
    model = sg.compile(net, sg.Input("x", ("batch", 3, 16, 16)))
    x = np.random.default_rng(5).standard_normal((4, 3, 16, 16)).astype(np.float32)
    model(x)
    assert "the batch split" not in model.memory_plan(batch=4)
    assert list(model._runners) == [((4, 3, 16, 16),)]  # no batch-1 plan was even built
    with SP.forced():
        assert "the batch split" not in model.memory_plan(batch=1)


def test_a_network_with_large_activations_and_small_weights_is_split() -> None:
    """Above the thresholds, without forcing: 16 channels of 128x128 a sample (1 MB
    values, a 2 MB arena, 10 KB of weights); the weights-to-arena bound turns it off."""
    net = nn.Sequential()
    net.add(nn.Conv2D(16, 3, padding=1, activation="relu"), nn.Conv2D(16, 3, padding=1),
            nn.GlobalAvgPool2D())
    net.initialize()
    model = sg.compile(net, sg.Input("x", ("batch", 3, 128, 128)))
    x = np.random.default_rng(6).standard_normal((2, 3, 128, 128)).astype(np.float32)
    got = model(x)
    one = model._runners[((1, 3, 128, 128),)]
    assert one.plan is not None and one.plan.arena_bytes >= SP.SPLIT_MIN_ARENA
    assert "the batch split" in model.memory_plan(batch=2)
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not SP.wants_split(1, one)
    ratio = SP.SPLIT_MAX_WEIGHTS_PER_ARENA
    try:
        SP.SPLIT_MAX_WEIGHTS_PER_ARENA = one.plan.weight_bytes / one.plan.arena_bytes / 2
        assert not SP.wants_split(2, one)
    finally:
        SP.SPLIT_MAX_WEIGHTS_PER_ARENA = ratio


def spied_split(x: np.ndarray, threads: int, fail_at: int = -1
                ) -> tuple[Any, list[tuple[int, int, int]]]:
    """A split model run on ``x`` with numba on ``threads`` threads, each sample's call
    recorded as (sample, Python thread, numba's threads there); the sample ``fail_at``
    raises at once. Each other sample takes 20 ms more, so that every thread gets one."""
    numba.set_num_threads(threads)
    with SP.forced():
        model = sg.compile(conv_net(), sg.Input("x", ("batch", *x.shape[1:])))
        model(x)  # (the plans made)
    runner = model._runners[(x.shape,)]
    assert isinstance(runner, SP.SplitRunner)
    seen: list[tuple[int, int, int]] = []
    real = runner.one.run_into

    def spy(arrays: Any, outs: Any) -> None:
        i = (arrays[0].ctypes.data - x.ctypes.data) // arrays[0].nbytes
        seen.append((i, threading.get_ident(), numba.get_num_threads()))
        if i == fail_at:
            raise RuntimeError(f"sample {i}")
        time.sleep(0.02)
        real(arrays, outs)

    runner.one.run_into = spy  # type: ignore[method-assign]
    return model, seen


def test_on_two_threads_the_samples_run_side_by_side() -> None:
    """On 2 threads a batch of 5: samples 0-3 two at a time, each thread with numba on one
    thread while it runs them; the last on both threads, on the caller's."""
    before = numba.get_num_threads()
    x = np.random.default_rng(7).standard_normal((5, 3, 16, 16)).astype(np.float32)
    try:
        model, seen = spied_split(x, 2)
        got = model(x)
        assert numba.get_num_threads() == 2  # (restored on the calling thread)
    finally:
        numba.set_num_threads(before)
    assert sorted(i for i, _, _ in seen[:4]) == [0, 1, 2, 3] and seen[4][0] == 4
    assert {t for _, _, t in seen[:4]} == {1} and seen[4][2] == 2
    assert len({who for _, who, _ in seen[:4]}) == 2
    assert seen[4][1] == threading.get_ident()
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_an_error_in_a_sample_on_a_helper_thread_reaches_the_caller() -> None:
    """Whichever thread runs the failing sample, its error is raised by the call, the
    other thread takes no sample after it, and numba's threads are restored."""
    before = numba.get_num_threads()
    x = np.random.default_rng(8).standard_normal((4, 3, 16, 16)).astype(np.float32)
    try:
        for fail_at in range(4):  # (whichever thread runs it)
            model, seen = spied_split(x, 2, fail_at)
            with pytest.raises(RuntimeError, match=f"sample {fail_at}"):
                model(x)
            assert numba.get_num_threads() == 2
            # after it no thread took another sample (the other thread's was under way)
            assert max(i for i, _, _ in seen) <= fail_at + 1, (fail_at, seen)
    finally:
        numba.set_num_threads(before)
