"""Concats that copy nothing: a part that is one contiguous run of the concat's output
(batch 1, along the channels) is written where the output holds it (``plan._concat_parts``),
nested for chains of concats (DenseNet). Checked against the reference interpreter, with the
independent plan check (tests/plan_checks.py), on fixed and on random concat graphs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_checks import arena_conflicts

import shapegraph as sg
from shapegraph import nn, ops
from shapegraph.infer.interpret import run_reference

UNARY = [ops.relu, ops.sigmoid, ops.tanh, ops.abs, ops.square]


def _expect(model: sg.CompiledModel, x: np.ndarray) -> None:
    got = model(x)
    got = got if isinstance(got, tuple) else (got,)
    want = run_reference(model.graph, model.params, {model.input_names[0]: x})
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _plan(model: sg.CompiledModel) -> Any:
    return next(iter(model._runners.values())).plan


def _run(net: nn.Block, shape: tuple[int, ...], seed: int, debug: bool = False,
         init: bool = True) -> tuple[sg.CompiledModel, Any]:
    """``net`` initialized (unless ``init`` is false), compiled for ``shape`` and checked
    against the reference on random data; the model and its plan."""
    if init:
        net.initialize()
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    model = sg.compile(net, sg.Input("x", shape), debug=debug)
    _expect(model, x)
    return model, _plan(model)


def _copies(plan: Any) -> int:
    return sum(s.kernel == "copy_block" for s in plan.lowered.steps)


class Fire(nn.Block):
    """SqueezeNet's fire module: a 1x1 squeeze, then two expands concatenated (both 1x1
    here, and 16 channels in: ``conv_gemm``, compiled once for every shape)."""

    def __init__(self) -> None:
        super().__init__()
        self.s = nn.Conv2D(16, 1, activation="relu")
        self.e1 = nn.Conv2D(16, 1, activation="relu")
        self.e3 = nn.Conv2D(16, 1, activation="relu")

    def forward(self, x: Any) -> Any:
        h = self.s(x)
        return ops.concat(self.e1(h), self.e3(h), dim=1)


class Dense(nn.Block):
    """Three DenseNet layers: each concatenates what came before with its own output."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2D(8, 1)
        self.convs = [nn.Conv2D(4, 3, padding=1) for _ in range(3)]
        for k, c in enumerate(self.convs):
            setattr(self, f"c{k}", c)
        self.head = nn.Conv2D(6, 1)

    def forward(self, x: Any) -> Any:
        h = self.stem(x)
        for c in self.convs:
            h = ops.concat(h, c(ops.relu(h)), dim=1)
        return self.head(h)


@pytest.mark.parametrize("debug", [False, True])
def test_fire_concat_copies_nothing_at_batch_1(debug: bool) -> None:
    net = nn.Sequential()
    net.add(Fire(), nn.Conv2D(8, 1))
    model, plan = _run(net, (1, 16, 9, 9), 1, debug)
    assert _copies(plan) == 0 and len(plan.inside) == 2
    (a, (wa, oa)), (b, (wb, ob)) = sorted(plan.inside.items(), key=lambda kv: kv[1][1])
    assert wa == wb and (oa, ob) == (0, 16 * 81)  # e1's part, then e3's
    assert plan.storage[b].index == plan.storage[a].index + 16 * 81
    assert arena_conflicts(plan) == []
    assert model.memory_plan().count("written in place in concat value") == 2


def test_a_chain_of_concats_is_one_buffer_and_smaller() -> None:
    net = Dense()  # (step by step: the generic kernels, no compile per convolution)
    _, plan = _run(net, (1, 3, 7, 7), 2, debug=True)
    assert _copies(plan) == 0
    wholes = {w for w, _ in plan.inside.values()}
    tops = wholes - set(plan.inside)
    assert len(tops) == 1  # the last concat holds all: 8 + 3 x 4 channels
    (top,) = tops
    assert plan.shapes[top] == (1, 20, 7, 7)
    assert arena_conflicts(plan) == []
    # at batch 2 a part is two runs of the output: copied as before, same numbers
    _, plan2 = _run(net, (2, 3, 7, 7), 3, debug=True, init=False)
    assert _copies(plan2) == 6 and not plan2.inside
    assert plan.arena_size < plan2.arena_size / 2


class Mixed(nn.Block):
    """Parts that must be copied: the graph input, a value concatenated twice, and a
    concat that is the graph's output."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2D(4, 1)

    def forward(self, x: Any) -> Any:
        h = self.a(x)
        u = ops.concat(x, ops.relu(h), dim=1)  # x: an input array, copied
        v = ops.concat(h, ops.sigmoid(u), h, dim=1)  # h twice: copied
        return ops.concat(ops.tanh(v), u, dim=1)  # the output array: copied into


def test_parts_that_must_be_copied_are() -> None:
    _, plan = _run(Mixed(), (1, 3, 5, 5), 4, debug=True)
    inside = {plan.shapes[p]: plan.shapes[w] for p, (w, _) in plan.inside.items()}
    # only relu(h) in u and sigmoid(u) in v are written in place
    assert inside == {(1, 4, 5, 5): (1, 7, 5, 5), (1, 7, 5, 5): (1, 15, 5, 5)}
    assert _copies(plan) == 1 + 2 + 2
    assert arena_conflicts(plan) == []


@st.composite
def concat_graphs(draw: Any) -> tuple[list[tuple[str, Any]], int, int]:
    """A random program over values 0 (the input) .. n: each new value is a unary op of an
    earlier value or a concat of 1-3 earlier ones (repeats allowed); the output is one of
    the last values."""
    prog: list[tuple[str, Any]] = []
    n = draw(st.integers(2, 9))
    for k in range(n):
        if k == 0 or draw(st.booleans()):
            prog.append(("unary", (draw(st.integers(0, len(UNARY) - 1)),
                                   draw(st.integers(0, k)))))
        else:
            prog.append(("concat", draw(st.lists(st.integers(0, k), min_size=1, max_size=3))))
    return prog, draw(st.integers(max(1, n - 2), n)), draw(st.sampled_from([1, 1, 2]))


class Program(nn.Block):
    def __init__(self, prog: list[tuple[str, Any]], out: int) -> None:
        super().__init__()
        self.prog, self.out = prog, out

    def forward(self, x: Any) -> Any:
        vals = [x]
        for kind, arg in self.prog:
            if kind == "unary":
                vals.append(UNARY[arg[0]](vals[arg[1]]))
            else:
                vals.append(ops.concat(*[vals[i] for i in arg], dim=1))
        return vals[self.out]


@settings(max_examples=40, deadline=None)
@given(concat_graphs())
def test_random_concat_graphs_match_the_reference(case: Any) -> None:
    prog, out, batch = case
    _, plan = _run(Program(prog, out), (batch, 2, 3), 5, debug=True)
    assert arena_conflicts(plan) == []
    if batch > 1:
        assert not plan.inside
