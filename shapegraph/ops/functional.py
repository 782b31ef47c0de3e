"""Functions for ``forward`` code: ``ops.relu(x)``, ``ops.concat(a, b, dim=1)``, ...

They work on the symbolic tensors a trace passes to ``forward`` and record one node each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # shapegraph.trace imports the registry this package defines
    from shapegraph.trace import SymbolicTensor

__all__ = [
    "concat",
    "flatten",
    "gelu",
    "log_softmax",
    "matmul",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softrelu",
    "softsign",
    "tanh",
    "transpose",
]


def _emit(op: str, inputs: Sequence[Any], attrs: dict[str, Any] | None = None) -> SymbolicTensor:
    from shapegraph.trace import SymbolicTensor, TraceError, current

    tr = current()
    if tr is None or not any(isinstance(t, SymbolicTensor) for t in inputs):
        raise TraceError(f"shapegraph.ops.{op} works on the tensors forward receives; "
                         "call the network with arrays instead")
    return tr.op(op, [tr.tensor(t) for t in inputs], attrs or {})


def relu(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("relu", [x])


def sigmoid(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("sigmoid", [x])


def tanh(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("tanh", [x])


def softrelu(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("softrelu", [x])


def softsign(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("softsign", [x])


def gelu(x: SymbolicTensor) -> SymbolicTensor:
    return _emit("gelu", [x])


def softmax(x: SymbolicTensor, axis: int = -1) -> SymbolicTensor:
    return _emit("softmax", [x], {"axis": axis})


def log_softmax(x: SymbolicTensor, axis: int = -1) -> SymbolicTensor:
    return _emit("log_softmax", [x], {"axis": axis})


def concat(*xs: SymbolicTensor, dim: int = 1) -> SymbolicTensor:
    """Join along ``dim`` (MXNet's name and default)."""
    return _emit("concat", list(xs), {"axis": dim})


def reshape(x: SymbolicTensor, shape: Sequence[int]) -> SymbolicTensor:
    return x.reshape(tuple(shape))


def flatten(x: SymbolicTensor) -> SymbolicTensor:
    return x.flatten()


def transpose(x: SymbolicTensor, axes: Sequence[int] | None = None) -> SymbolicTensor:
    return x.transpose(*(axes or ()))


def matmul(a: SymbolicTensor, b: SymbolicTensor) -> SymbolicTensor:
    return _emit("matmul", [a, b])
