"""Randomized differential test: shapegraph against an independent model of Gluon.

Hypothesis generates networks (``tests/gluon_networks.py``: ``nn.Sequential`` and custom
blocks with residual adds and concats over every layer kind, shared parameters, right and
wrong declared sizes) and input shapes (some that do not fit). ``tests/gluon_reference.py``,
written from Gluon's documented semantics and sharing no code with shapegraph, decides
whether each network fits its input and what it computes. For every network:

1. ``sg.check`` agrees with the reference about consistency;
2. ``net(x)`` matches the reference output, or raises ``sg.ShapeError`` (nothing else) when
   the reference says the shapes do not fit;
3. ``sg.check`` and a failed ``initialize()``, call or ``sg.compile`` change no parameter;
4. ``sg.compile(net, sg.Input("x", shape))(x)`` matches the eager result (and so does a
   model compiled for a symbolic batch, when it compiles).

Bugs known to fail are kept out of the default run by family (see ``KNOWN``), each with a
strict-xfail minimal reproduction; the families found so far are fixed, and their minimal
cases run as regression tests (``FIXED``). Deep mode (docs/testing.md)::

    python tests/test_differential.py --deep 10000 --log difftest.log --jit-every 100
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: test this checkout, not an installed copy
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gluon_reference as ref
import numpy as np
import pytest
from gluon_networks import ALL_KINDS, cases, layers_of, walk
from gluon_reference import Layer, Residual, Seq
from hypothesis import HealthCheck, Phase, assume, given, settings
from plan_checks import unrecorded_types

import shapegraph as sg
from shapegraph import init, nn, ops
from shapegraph.executor import split

RTOL = ATOL = 1e-4

# ----------------------------------------------------------------------------- known bugs


#: Families of generated cases that fail on shapegraph today (a predicate each), with a
#: strict-xfail minimal reproduction in REPRO. The default test skips them; deep mode
#: counts them separately. None today: the families found so far are fixed, and their
#: reproductions are regression tests (FIXED, below).
KNOWN: dict[str, Callable[[dict[str, Any]], bool]] = {}


def families(case: dict[str, Any]) -> list[str]:
    return [name for name, pred in KNOWN.items() if pred(case)]


# ----------------------------------------------------------------------------- building


class ResidualBlock(nn.Block):
    """``body(x) + short(x)`` or ``concat(body(x), short(x), dim=1)``."""

    def __init__(self, body: nn.Block, short: nn.Block | None, mode: str) -> None:
        super().__init__()
        self.body = body
        self.short = short
        self.mode = mode

    def forward(self, x):  # type: ignore[no-untyped-def]
        a = self.body(x)
        b = x if self.short is None else self.short(x)
        return a + b if self.mode == "add" else ops.concat(a, b, dim=1)


def build(node: Any, blocks: dict[int, nn.Block]) -> nn.Block:
    """The shapegraph network for a spec; ``blocks`` gets every layer by uid."""
    if isinstance(node, Layer):
        args = {k: v for k, v in node.args.items() if v is not None}
        if node.share is not None:
            args["params"] = blocks[node.share].params
        block: nn.Block = getattr(nn, node.kind)(**args)
        blocks[node.uid] = block
        return block
    if isinstance(node, Seq):
        seq = nn.Sequential()
        for item in node.items:
            seq.add(build(item, blocks))
        return seq
    body = build(node.body, blocks)
    short = build(node.short, blocks) if node.short is not None else None
    return ResidualBlock(body, short, node.mode)


def snapshot(net: nn.Block) -> dict[str, Any]:
    return {k: (p.shape, p.data().copy() if p.is_initialized else None)
            for k, p in net.collect_params().items()}


def assert_unchanged(before: dict[str, Any], after: dict[str, Any], what: str) -> None:
    assert before.keys() == after.keys(), what
    for k, (shape, data) in before.items():
        shape2, data2 = after[k]
        assert shape == shape2, f"{what}: {k} shape {shape} -> {shape2}"
        assert (data is None) == (data2 is None), f"{what}: {k} created or dropped"
        if data is not None:
            np.testing.assert_array_equal(data, data2, err_msg=f"{what}: {k}")


def assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape}, reference {want.shape}"
    defined = ~np.isnan(want)  # the reference's NaN: a pooling window with no input
    w = want[defined]
    scale = max(1.0, float(np.abs(w).max())) if w.size else 1.0
    np.testing.assert_allclose(got[defined], w, rtol=RTOL, atol=ATOL * scale, err_msg=what)


def randomize(net: nn.Block, rng: np.random.Generator) -> None:
    """Non-trivial values for every parameter (running_var and gamma positive), so that
    batchnorm folding and every bias are really exercised."""
    for key, p in net.collect_params().items():
        if key.endswith(("running_var", "gamma")):
            p.set_data(rng.uniform(0.5, 1.5, p.shape))
        else:
            p.set_data(rng.normal(0.0, 0.5, p.shape))


def run_case(case: dict[str, Any], jit: bool) -> str:
    """Check one network; AssertionError on any disagreement. Returns what happened."""
    spec, shape = case["net"], case["shape"]
    why = ref.consistent(spec, shape)
    blocks: dict[int, nn.Block] = {}
    try:
        net = build(spec, blocks)
    except ValueError as e:  # Gluon, too, refuses some conflicts when the layer is made
        assert why is not None, f"building the network raised but the reference says it fits: {e}"
        return f"ValueError at construction ({why})"
    name = f"{len(layers_of(spec))} layers, input {shape}"
    before = snapshot(net)
    report = sg.check(net, sg.Input("x", shape))
    assert report.ok == (why is None), (
        f"check ok={report.ok}, reference: {why or 'fits'}\n{report.render('text')}")
    assert_unchanged(before, snapshot(net), "sg.check")
    try:
        net.initialize(init.Xavier())
    except sg.ShapeError as e:
        assert why is not None, f"initialize() raised but the reference says it fits: {e}"
        assert_unchanged(before, snapshot(net), "a failed initialize()")
        return f"{name}: declarations conflict ({why})"
    if why is not None:
        return f"{name}: {_refused(net, shape, case['x'], why)}"
    return f"{name}: {_agrees(net, blocks, case, jit)}"


def _refused(net: nn.Block, shape: tuple[int, ...], x: np.ndarray, why: str) -> str:
    """The shapes do not fit: net(x) and sg.compile raise ShapeError and change nothing."""
    before = snapshot(net)
    try:
        net(x)
    except sg.ShapeError:
        assert_unchanged(before, snapshot(net), "a failed net(x)")
    else:
        raise AssertionError(f"net(x) ran but the reference says: {why}")
    with pytest.raises(sg.ShapeError):
        sg.compile(net, sg.Input("x", shape))
    assert_unchanged(before, snapshot(net), "a failed sg.compile")
    return f"ShapeError ({why})"


def _another_batch(net: nn.Block, spec: Any, x: np.ndarray, lookup: ref.Lookup) -> None:
    """A second call with another batch size and the parameters already created: it fits
    unless the batch dim meets another dim in a broadcast (the reference decides, with
    the parameter shapes the first call fixed)."""
    why = None
    try:
        want = ref.evaluate(spec, x, lookup, bound=True)
    except ref.Inconsistent as e:
        why = str(e)
    before = snapshot(net)
    try:
        y = net(x)
    except sg.ShapeError as e:
        assert why is not None, f"net(x) with batch {len(x)} raised, the reference fits: {e}"
        assert_unchanged(before, snapshot(net), "a failed net(x) with another batch size")
        return
    assert why is None, f"net(x) with batch {len(x)} ran but the reference says: {why}"
    assert_close(y, want, f"net(x) with batch {len(x)}")


def _agrees(net: nn.Block, blocks: dict[int, nn.Block], case: dict[str, Any], jit: bool
            ) -> str:
    """The shapes fit: eager and compiled results match the reference."""
    spec, shape, x = case["net"], case["shape"], case["x"]

    def lookup(uid: int, role: str) -> np.ndarray:
        return blocks[uid].params[role].data()

    try:
        y = net(x)
    except sg.ShapeError as e:
        raise AssertionError(f"net(x) raised but the reference says it fits: {e}") from e
    assert_close(y, ref.evaluate(spec, x, lookup), "net(x), initial parameters")
    randomize(net, np.random.default_rng(case["seed"]))
    y = net(x)
    assert_close(y, ref.evaluate(spec, x, lookup), "net(x), randomized parameters")
    _another_batch(net, spec, np.concatenate([x, x[:1]]), lookup)
    model = sg.compile(net, sg.Input("x", shape), debug=not jit)
    assert_close(model(x), y.astype(np.float64), "sg.compile(...)(x) against net(x)")
    # what a helper process would compile before a first call is what that call compiled
    assert not unrecorded_types(model, x), unrecorded_types(model, x)
    try:  # a symbolic batch may leave a broadcast undecidable: then a ShapeError is fair
        model = sg.compile(net, sg.Input("x", ("batch", *shape[1:])), debug=not jit)
    except sg.ShapeError:
        return f"ok {y.shape} (not for a symbolic batch)"
    assert_close(model(x), y.astype(np.float64), "sg.compile(batch, ...)(x) against net(x)")
    if jit and len(x) > 1:  # the batch split (executor/split.py), on whatever it can split
        with split.forced():
            model = sg.compile(net, sg.Input("x", ("batch", *shape[1:])))
            got = model(x)
        assert_close(got, y.astype(np.float64), "the batch split against net(x)")
    return f"ok {y.shape}"


# ----------------------------------------------------------------------------- the tests

CI = settings(max_examples=int(os.environ.get("SG_DIFF_EXAMPLES", "150")), deadline=None,
              derandomize=True, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])


def _clean(case: dict[str, Any]) -> dict[str, Any]:
    assume(not families(case))
    return case


@CI
@given(cases())
def test_shapegraph_agrees_with_the_gluon_reference(case: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sg.UnusedLayerWarning)
        run_case(_clean(case), jit=False)


@settings(CI, max_examples=int(os.environ.get("SG_DIFF_JIT_EXAMPLES", "12")))
@given(cases())
def test_compiled_code_agrees_with_the_gluon_reference(case: dict[str, Any]) -> None:
    run_case(_clean(case), jit=True)


def test_the_generator_reaches_every_layer_kind_and_every_outcome() -> None:
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()

    @settings(CI, max_examples=600, phases=[Phase.generate])
    @given(cases())
    def collect(case: dict[str, Any]) -> None:
        kinds.update(lay.kind for lay in layers_of(case["net"]))
        kinds.update(f"family:{f}" for f in families(case))
        kinds.update("zero batch" for _ in range(case["shape"][0] == 0))
        kinds.update("shared" for lay in layers_of(case["net"]) if lay.share is not None)
        kinds.update(type(n).__name__ for n in walk(case["net"]))
        outcomes["fits" if ref.consistent(case["net"], case["shape"]) is None else "not"] += 1

    collect()
    wanted = (set(ALL_KINDS) - {"ParamAct"}) | set(ref.PARAM_ACTS) | {
        "Embedding", "shared", "Residual", "zero batch"}
    assert wanted <= set(kinds), wanted - set(kinds)
    assert min(outcomes["fits"], outcomes["not"]) > 30, outcomes


# ----------------------------------------------------------------------------- known bugs


def _spec(*layers: tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], int]) -> Seq:
    """``Seq`` of layers numbered from 1; a third item shares that layer's parameters."""
    return Seq([Layer(kind, args, uid, *rest) for uid, (kind, args, *rest) in
                enumerate(layers, 1)])


def _case(net: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return {"net": net, "shape": shape, "x": x, "seed": 0}


#: The smallest case of each KNOWN family (checked to belong to it).
REPRO: dict[str, dict[str, Any]] = {}

#: The smallest case of each family this test found and shapegraph has fixed since: each
#: must pass (it failed before its fix).
FIXED: dict[str, dict[str, Any]] = {
    # ZeroDivisionError in the executor for a batch of size 0
    "zero_batch": _case(_spec(("Dense", {"units": 3})), (0, 4)),
    # the batchnorm fold scales Dense's last axis (units) instead of axis 1: wrong numbers
    # when units == channels, a numpy broadcast ValueError otherwise
    "bn_after_dense_flatten_false": _case(_spec(
        ("Conv1D", {"channels": 3, "kernel_size": 1}),  # fixes the input rank at 3
        ("Dense", {"units": 3, "flatten": False, "use_bias": False}), ("BatchNorm", {})),
        (2, 3, 5)),
    # initialize() traces with the input rank Dense guesses (2): SG202 at Conv1D
    "initialize_guesses_rank_after_dense_flatten_false": _case(_spec(
        ("Dense", {"units": 4, "flatten": False}), ("Conv1D", {"channels": 2,
                                                               "kernel_size": 3})),
        (2, 3, 5)),
    # initialize() creates Dense's weight as (1, 8) from the guessed rank-2 input; a
    # (1, 4, 8) input then needs (1, 32) and the valid call is refused
    "initialize_creates_weight_from_guessed_rank": _case(_spec(
        ("LayerNorm", {"in_channels": 8}), ("Dense", {"units": 1})), (1, 4, 8)),
    # x + Dense(8, in_units=64)(x) on (1, 1, 8, 8) broadcasts (1, 8) against the input;
    # initialize() guesses x is (batch, 64) and raises SG206 for the add (likewise SG202
    # for a Conv1D after BatchNorm(x) + Dense(1)(x): x is guessed to have rank 2)
    "initialize_refuses_residual_from_guessed_rank": _case(Residual(_spec(
        ("Dense", {"units": 8, "in_units": 64})), "add"), (1, 1, 8, 8)),
    # Conv1D(1, 1, in_channels=2)(concat(Conv1D(3, 1)(x), x)): initialize() solves
    # 3 + c = 2, creates the first conv's weight as (3, -1, 1) and numpy raises ValueError
    # (no input fits: a ShapeError is due). Also seen: a concat that pins the width a
    # LayerNorm's gamma depends on to -1.
    "initialize_creates_negative_size": _case(Seq([
        Residual(Seq([Layer("Conv1D", {"channels": 3, "kernel_size": 1}, 1)]), "concat"),
        Layer("Conv1D", {"channels": 1, "kernel_size": 1, "in_channels": 2}, 2)]), (1, 1, 5)),
    # the sharing layer's in_units=3 is ignored: check() and net(x) accept width 8
    "shared_dense_declared_in_units_dropped": _case(_spec(
        ("Dense", {"units": 8}), ("Dense", {"units": 8, "in_units": 3}, 1)), (2, 8)),
    # Dense(8, params=Dense(4).params) silently has 4 outputs
    "shared_dense_other_units_accepted": _case(_spec(
        ("Dense", {"units": 4}), ("Dense", {"units": 8}, 1)), (2, 4)),
    # MXNet refuses a pooling kernel larger than the padded input (k <= n + 2p) in both
    # conventions; shapegraph's ceil mode gives an output of size 1 from width 2, kernel 3
    "ceil_mode_pool_accepts_kernel_larger_than_input": _case(_spec(
        ("MaxPool1D", {"pool_size": 3, "strides": 2, "ceil_mode": True})), (1, 1, 2)),
    # found by the deep run after the merge: a batch of 0 broadcast into an empty spatial
    # dim, then a global max pool over it: numpy's ValueError escaped (SG210 now)
    "global_max_pool_over_an_empty_dim": _case(Residual(Seq([
        Layer("GlobalMaxPool2D", {}, 1),
        Residual(Seq([Layer("Flatten", {}, 2)]), "add"),
        Layer("GlobalMaxPool2D", {}, 3)]), "add"), (0, 3, 4, 2)),
}


def test_every_known_family_has_a_minimal_reproduction() -> None:
    assert REPRO.keys() == KNOWN.keys()
    for name, case in REPRO.items():
        assert families(case) == [name], name


@pytest.mark.parametrize("family", list(REPRO))
@pytest.mark.xfail(strict=True, reason="a known shapegraph bug (see REPRO); when this passes, "
                   "the bug is fixed: move its case from REPRO to FIXED, drop it from KNOWN")
def test_known_bug(family: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sg.UnusedLayerWarning)
        run_case(REPRO[family], jit=False)


@pytest.mark.parametrize("family", list(FIXED))
def test_fixed_bug_stays_fixed(family: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sg.UnusedLayerWarning)
        run_case(FIXED[family], jit=False)


# ----------------------------------------------------------------------------- deep mode


def deep(n: int, log: Path, jit_every: int) -> int:
    """Run ``n`` generated networks (known families included), log every failure, print a
    summary; the exit status is 1 when a failure outside the known families was found."""
    counts: Counter[str] = Counter()
    start = time.time()
    with log.open("w", encoding="utf-8") as out:

        @settings(CI, max_examples=n, derandomize=False, phases=[Phase.generate])
        @given(cases())
        def one(case: dict[str, Any]) -> None:
            counts["run"] += 1
            fams = families(case)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    what = run_case(case, jit=jit_every > 0 and counts["run"] % jit_every == 0)
                counts["ok:" + ("fits" if ": ok" in what else "conflict")] += 1
                counts["symbolic batch refused"] += "symbolic" in what
            except Exception as e:
                key = "known:" + ",".join(fams) if fams else "NEW"
                counts[key] += 1
                out.write(f"=== {key} #{counts['run']}: {type(e).__name__}\n"
                          f"input {case['shape']}\nnet {case['net']!r}\n"
                          f"{''.join(traceback.format_exception(e))[-3000:]}\n")
                out.flush()
            if counts["run"] % 500 == 0:
                out.write(f"--- {counts['run']} networks, {time.time() - start:.0f} s, "
                          f"{dict(counts)}\n")
                out.flush()

        one()
        summary = f"{counts['run']} networks in {time.time() - start:.0f} s: {dict(counts)}"
        out.write(summary + "\n")
    print(summary)
    return 1 if counts["NEW"] else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deep", type=int, default=10000, help="networks to generate")
    ap.add_argument("--log", type=Path, default=Path("difftest.log"))
    ap.add_argument("--jit-every", type=int, default=100,
                    help="compile every Nth network with numba too (0: never)")
    args = ap.parse_args()
    return deep(args.deep, args.log, args.jit_every)


if __name__ == "__main__":
    sys.exit(main())
