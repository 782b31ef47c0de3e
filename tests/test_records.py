"""Every op record says how it compiles and how it exports: the passes look these up in
the record (``OpDef.lowering``, ``OpDef.onnx``), and an op that has neither says so here,
in one table, so that nothing falls through silently."""

from __future__ import annotations

import pytest

from shapegraph.core.graph import GraphBuilder
from shapegraph.executor.lower import _Lowerer
from shapegraph.onnx.export import exportable
from shapegraph.opset import all_ops

# ops without an ONNX export, and why
NOT_EXPORTED: dict[str, str] = {}


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
