"""Every op record says how it compiles and how it exports: the passes look these up in
the record (``OpDef.lowering``, ``OpDef.onnx``), and an op that has neither says so here,
in one table, so that nothing falls through silently."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shapegraph
from shapegraph.core.graph import GraphBuilder, Provenance
from shapegraph.executor.lower import _Lowerer
from shapegraph.onnx.export import exportable
from shapegraph.opset import all_ops
from shapegraph.opset.base import AttrError
from shapegraph.opset.build import add_layer

# ops without an ONNX export, and why
NOT_EXPORTED: dict[str, str] = {
    "unsupported": "an imported ONNX node shapegraph cannot check: it never gets to export"}


def lowering_kinds() -> set[str]:
    return set(_Lowerer(GraphBuilder().build([]), {}, {}, True).kinds)


@pytest.mark.parametrize("op", sorted(all_ops()))
def test_every_op_lowers_through_a_kind_the_executor_has(op: str) -> None:
    """(An op with no lowering must say why: tests/test_segments.py checks that.)"""
    low = all_ops()[op].lowering
    if low is not None:
        assert low.kind in lowering_kinds(), f"op {op!r}: unknown lowering kind {low.kind!r}"


@pytest.mark.parametrize("op", sorted(all_ops()))
def test_every_op_exports_to_onnx_or_says_why_not(op: str) -> None:
    assert exportable(op) or op in NOT_EXPORTED, op


def test_kernel_codes_are_the_records() -> None:
    from shapegraph.executor import kernels as k

    ops = all_ops()
    assert ops["relu"].lowering.code == k.ACT_RELU  # type: ignore[union-attr]
    assert ops["square"].lowering.code == k.ACT_SQUARE  # type: ignore[union-attr]
    assert ops["div"].lowering.code == k.OP_DIV  # type: ignore[union-attr]
    assert ops["mean"].lowering.code == k.RED_MEAN  # type: ignore[union-attr]
    codes = [o.lowering.code for o in ops.values()
             if o.lowering is not None and o.lowering.kind == "activation"]
    assert len(codes) == len(set(codes)) and 0 not in codes  # 0 is "no activation"


# ----------------------------------------------------------------- attribute schemas

# the required attributes of each op that has any, as a node would give them
REQUIRED: dict[str, dict[str, Any]] = {
    "conv": {"channels": 4, "kernel": (3, 3)}, "pool": {"kind": "max", "kernel": (2, 2)},
    "pool_argmax": {"kernel": (2, 2)},
    "global_pool": {"kind": "avg", "ndim": 2}, "dense": {"units": 3},
    "embedding": {"input_dim": 5, "output_dim": 2}, "param": {"shape": (3, None)},
    "constant": {"value": np.zeros(2, np.float32)}, "unsqueeze": {"axes": (0,)},
    "slice": {"starts": (0,), "ends": (2,)}, "cast": {"to": "int64"}, "lrn": {"size": 5},
    "unsupported": {"op_type": "Resize", "opset": 13},
}


@pytest.mark.parametrize("op", sorted(all_ops()))
def test_every_attribute_has_one_default_or_is_required(op: str) -> None:
    """``complete`` fills every attribute in; a missing required one is an AttrError."""
    rec = all_ops()[op]
    given = REQUIRED.get(op, {})
    full = rec.complete(given)
    assert set(full) == {a.name for a in rec.schema}
    assert rec.complete(full) == full or op == "constant"  # completing twice changes nothing
    for name in given:
        rest = {k: v for k, v in given.items() if k != name}
        with pytest.raises(AttrError, match=f"op `{op}`: attribute `{name}` is required"):
            rec.complete(rest)
    with pytest.raises(AttrError, match=f"op `{op}`: unknown attribute `bogus`"):
        rec.complete({**given, "bogus": 1})


@pytest.mark.parametrize(("op", "attrs", "message"), [
    ("conv", {"channels": 4, "kernel": (3, 3), "strides": 2},
     "attribute `strides` must be a tuple of ints, got 2"),
    ("conv", {"channels": 4, "kernel": (3, 3), "strides": (1, 1, 1)},
     "`strides`=(1, 1, 1) has 3 entries for ndim=2"),
    ("conv", {"channels": 0, "kernel": (3,)}, "attribute `channels` must be positive"),
    ("pool", {"kind": "mean", "kernel": (2,)}, "attribute `kind` must be one of 'max', 'avg'"),
    ("dense", {"units": 3, "flatten": "no"}, "attribute `flatten` must be True or False"),
    ("leaky_relu", {"alpha": "0.1"}, "attribute `alpha` must be a number, got '0.1'"),
    ("clip", {"min": 1.0, "max": 0.0}, "min=1.0 is above max=0.0"),
    ("dropout", {"rate": 1.0}, "attribute `rate` must be in [0, 1), got 1.0"),
    ("cast", {"to": "nonsense"}, "attribute `to` must be a numpy dtype name"),
])
def test_bad_attributes_name_the_op_and_attribute(op: str, attrs: dict[str, Any],
                                                  message: str) -> None:
    with pytest.raises(AttrError) as e:
        all_ops()[op].complete(attrs)
    assert f"op `{op}`: " in str(e.value) and message in str(e.value)


def test_defaults_are_filled_in_canonical_form() -> None:
    conv = all_ops()["conv"].complete({"channels": 8, "kernel": [3, 3], "groups": np.int64(2)})
    assert conv == {"channels": 8, "kernel": (3, 3), "ndim": 2, "strides": (1, 1),
                    "padding": (0, 0), "pads_end": (0, 0), "auto_pad": "NOTSET",
                    "dilation": (1, 1), "groups": 2,
                    "use_bias": True,
                    "in_channels": None}
    assert type(conv["groups"]) is int
    assert all_ops()["pool"].complete({"kind": "max", "kernel": (3,)})["strides"] == (3,)


def test_no_pass_repeats_an_attribute_default() -> None:
    """Defaults live in the schemas: no module reads a node's attributes with a default
    (``attrs.get("axis", 1)``); every node's attributes are complete."""
    root = Path(shapegraph.__file__).parent
    pattern = re.compile(r"attrs\.get\([^)]*,")
    found = [f"{p.relative_to(root)}:{i}" for p in sorted(root.rglob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []


def test_a_node_with_a_bad_attribute_names_its_layer() -> None:
    b = GraphBuilder()
    x = b.add_input("x", 2)
    prov = Provenance("body.3", "LeakyReLU", "model.py", 7, "LeakyReLU(0.1)")
    with pytest.raises(AttrError, match=r"LeakyReLU `body.3`: op `leaky_relu`: unknown "
                                        r"attribute `slope` \(it takes alpha\)"):
        add_layer(b, "leaky_relu", [x], {"slope": 0.1}, prov)


def test_forward_calls_describe_themselves_from_the_schema() -> None:
    from shapegraph import nn, ops

    class Net(nn.Block):
        def forward(self, x: Any) -> Any:
            return ops.concat(ops.clip(x, 0.0, 6.0), ops.leaky_relu(ops.relu(x)),
                              dim=0).reshape((2, -1))

    model = shapegraph.compile(Net(), shapegraph.Input("x", (3, 4)))
    details = [n.prov.detail for n in model.graph.nodes]
    assert details == ["clip(min=0.0, max=6.0) in forward", "relu in forward",
                       "leaky_relu in forward", "concat(axis=0) in forward",
                       "reshape in forward"]
