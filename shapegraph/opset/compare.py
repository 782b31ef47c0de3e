"""Elementwise comparison and selection with numpy broadcasting: maximum, minimum (ONNX
Max, Min), less, greater (a bool mask) and where (ONNX Where: pick from two inputs by a
mask). Function-expanded ONNX ops are written with them (Relu as ``Max(x, 0)``, Elu and
Clip with ``Less`` and ``Where``).

None of them has a compiled kernel yet: each runs its numpy reference as one step between
compiled segments (a mask lives in a float32 buffer as 0 and 1, read back as bool).

>>> import numpy as np
>>> from shapegraph.core.dims import Sym
>>> from shapegraph.core.types import TensorType
>>> x = TensorType((Sym("batch"), 5))
>>> str(LESS.shape_rule((x, TensorType((5,))), {}, {}).types[0])
'bool[batch,5]'
>>> WHERE.reference([np.array([True, False]), np.float32([1, 2]), np.float32([3, 4])],
...                 {}, {})[0].tolist()
[1.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from shapegraph.core.dims import Dim
from shapegraph.core.types import TensorType
from shapegraph.opset.base import Attrs, OpDef, Out, RuleResult, pass_through
from shapegraph.opset.common import broadcast
from shapegraph.opset.registry import register

__all__ = ["GREATER", "LESS", "MAXIMUM", "MINIMUM", "WHERE"]

_NO_KERNEL = ("no compiled kernel for comparisons and selection yet: its numpy reference "
              "runs between compiled segments")

_Ins = tuple[TensorType, ...]
_Params = Mapping[str, tuple[Dim, ...]]
_Ref = tuple[np.ndarray, ...]


def _broadcast_rule(what: str, dtype_from: int | None, first: int = 0
                    ) -> Callable[[_Ins, _Params, Attrs], RuleResult]:
    """The broadcast of the inputs from ``first`` on (the mask too, for where); the
    output's dtype is input ``dtype_from``'s, or bool when it is None."""

    def rule(ins: _Ins, params: _Params, attrs: Attrs) -> RuleResult:
        dtype = "bool" if dtype_from is None else ins[dtype_from].dtype
        if all(t.shape == ins[0].shape for t in ins):  # nothing to broadcast
            return Out((TensorType(ins[0].shape, dtype),), (pass_through(ins[0].rank),))
        r = broadcast(ins, what)
        if not isinstance(r, tuple):
            return r
        dims, srcs, pending = r
        return Out((TensorType(dims, dtype),), (srcs,), (), pending)

    return rule


def _binary_ref(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], as_bool: bool
                ) -> Callable[[Sequence[np.ndarray], Mapping[str, np.ndarray], Attrs], _Ref]:
    def ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
            ) -> _Ref:
        y = np.asarray(fn(ins[0], ins[1]))
        return (y if as_bool else y.astype(ins[0].dtype, copy=False),)

    return ref


def _where_ref(ins: Sequence[np.ndarray], params: Mapping[str, np.ndarray], attrs: Attrs
               ) -> _Ref:
    # a mask computed in the graph arrives from a float32 buffer as 0.0/1.0
    return (np.where(ins[0].astype(bool), ins[1], ins[2]).astype(ins[1].dtype, copy=False),)


def _binary(name: str, fn: Callable[[np.ndarray, np.ndarray], np.ndarray], onnx: str,
            doc: str, mask: bool = False) -> OpDef:
    return register(OpDef(name, _broadcast_rule(name, None if mask else 0),
                          _binary_ref(fn, mask), arity=(2, 2), elementwise=True, doc=doc,
                          onnx=onnx, no_kernel=_NO_KERNEL))


MAXIMUM = _binary("maximum", np.maximum, "Max", "elementwise maximum with numpy broadcasting")
MINIMUM = _binary("minimum", np.minimum, "Min", "elementwise minimum with numpy broadcasting")
LESS = _binary("less", np.less, "Less", "a < b elementwise (a bool mask), numpy broadcasting",
               mask=True)
GREATER = _binary("greater", np.greater, "Greater",
                  "a > b elementwise (a bool mask), numpy broadcasting", mask=True)
WHERE = register(OpDef(
    "where", _broadcast_rule("where", 1), _where_ref, arity=(3, 3), elementwise=True,
    doc="ONNX Where(mask, a, b): a where the mask is true, else b; the three broadcast",
    onnx="Where", no_kernel=_NO_KERNEL))
