"""The activation codes and ``act_apply``, the activation of one value (as the kernels and
the generated kernels apply them), and ``act_at``: the activations other than ReLU on a run
of floats, element by element, as one C function compiled once.

A kernel that takes its activation at run time compiles every activation's code (exp,
erf, log1p, ...) unless it calls ``act_at``: it is called by name, as numba's own BLAS
helpers are, so its callers stay cacheable on disk and do not compile it again
(``conv_gemm`` 9.7 -> 9.0 s cold, each Winograd kernel 1.2 s less). Its name is
registered when this module is imported, before any caller is compiled or loaded.

>>> import numpy as np
>>> y = np.array([-1.0, 0.0, 2.0], np.float32)
>>> _act_at_c.ctypes(y.ctypes.data, 0, 3, ACT_SQUARE, 0.0, 0.0); y.tolist()
[1.0, 0.0, 4.0]
"""

from __future__ import annotations

import math
from typing import Any

from llvmlite import binding as _llvm  # type: ignore[import-untyped]

from shapegraph.executor.jit import njit, numba
from shapegraph.executor.simd import fload, fstore
from shapegraph.opset.elementwise import UNARY_CODES

__all__ = ["ACT_ABS", "ACT_CLIP", "ACT_ELU", "ACT_EXP", "ACT_GELU", "ACT_HARD_SIGMOID",
           "ACT_LEAKY_RELU", "ACT_LOG", "ACT_NONE", "ACT_RELU", "ACT_SELU", "ACT_SIGMOID",
           "ACT_SILU", "ACT_SOFTRELU", "ACT_SOFTSIGN", "ACT_SQRT", "ACT_SQUARE", "ACT_TANH",
           "MATH_CODES", "NO_ACT", "act_apply", "act_at"]

# the codes are the op records' (opset/elementwise.py, opset/reduce.py: Lowering.code)
ACT_NONE = 0
ACT_RELU = UNARY_CODES["relu"]
ACT_SIGMOID = UNARY_CODES["sigmoid"]
ACT_TANH = UNARY_CODES["tanh"]
ACT_SOFTRELU = UNARY_CODES["softrelu"]  # log(1 + e^x), computed stably
ACT_SOFTSIGN = UNARY_CODES["softsign"]
ACT_GELU = UNARY_CODES["gelu"]  # exact: 0.5 x (1 + erf(x / sqrt 2))
# unary math shares the activation codes, so it runs in (and fuses like) an activation
ACT_EXP = UNARY_CODES["exp"]
ACT_LOG = UNARY_CODES["log"]  # log(0) = -inf, log(<0) = NaN, as numpy
ACT_SQRT = UNARY_CODES["sqrt"]  # sqrt(<0) = NaN
ACT_ABS = UNARY_CODES["abs"]
ACT_SQUARE = UNARY_CODES["square"]
# with parameters: an activation is the tuple (code, p0, p1) of OpDef.lowering's params
ACT_LEAKY_RELU = UNARY_CODES["leaky_relu"]  # p0 = alpha
ACT_ELU = UNARY_CODES["elu"]  # p0 = alpha
ACT_SELU = UNARY_CODES["selu"]  # p0 = alpha, p1 = gamma
ACT_HARD_SIGMOID = UNARY_CODES["hard_sigmoid"]  # max(0, min(1, p0 * x + p1))
ACT_SILU = UNARY_CODES["silu"]  # x * sigmoid(p0 * x) (Swish; SiLU is p0 = 1)
ACT_CLIP = UNARY_CODES["clip"]  # p0 = min, p1 = max
NO_ACT = (ACT_NONE, 0.0, 0.0)
MATH_CODES = {op: UNARY_CODES[op] for op in ("exp", "log", "sqrt", "abs", "square")}

_INV_SQRT2 = 0.7071067811865476


@njit(inline="always")
def _sigmoid(v: float) -> float:
    if v >= 0.0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@njit(inline="always")
def act_apply(v: float, act: tuple[int, float, float]) -> float:
    """The activation ``act`` = (``ACT_*`` code, p0, p1) of one value; NaN propagates
    through relu, leaky relu and clip.

    With a literal ``act`` (as in generated kernels) the branches fold away.
    """
    code, p0, p1 = act
    if code == ACT_RELU:
        return 0.0 if v < 0.0 else v
    if code == ACT_SIGMOID:
        return _sigmoid(v)
    if code == ACT_LEAKY_RELU:
        return p0 * v if v < 0.0 else v
    if code == ACT_ELU:
        return p0 * math.expm1(v) if v < 0.0 else v
    if code == ACT_SELU:
        return p1 * (p0 * math.expm1(v) if v <= 0.0 else v)
    if code == ACT_HARD_SIGMOID:
        return min(1.0, max(0.0, p0 * v + p1)) if v == v else v
    if code == ACT_SILU:
        return v * _sigmoid(p0 * v)
    if code == ACT_CLIP:
        return p0 if v < p0 else (p1 if v > p1 else v)
    if code == ACT_TANH:
        return math.tanh(v)
    if code == ACT_SOFTRELU:
        return max(v, 0.0) + math.log1p(math.exp(-abs(v)))
    if code == ACT_SOFTSIGN:
        return v / (1.0 + abs(v))
    if code == ACT_GELU:
        return 0.5 * v * (1.0 + math.erf(v * _INV_SQRT2))
    if code == ACT_EXP:
        return math.exp(v)
    if code == ACT_LOG:
        if v > 0.0:
            return math.log(v)
        return -math.inf if v == 0.0 else math.nan  # NaN in, NaN out
    if code == ACT_SQRT:
        return math.sqrt(v) if v >= 0.0 else math.nan
    if code == ACT_ABS:
        return abs(v)
    if code == ACT_SQUARE:
        return v * v
    return v



_ACT_SIG = numba.types.void(numba.types.intp, numba.types.intp, numba.types.intp,
                            numba.types.intp, numba.types.float64, numba.types.float64)


@numba.cfunc(_ACT_SIG, cache=True)
def _act_at_c(addr: int, pos: int, n: int, code: int, p0: float, p1: float) -> None:
    """The activation (code, p0, p1) (``act_apply``) applied in place to the n floats at
    element pos from address ``addr``."""
    for j in range(n):
        fstore(addr, pos + j, act_apply(fload(addr, pos + j), (code, p0, p1)))


_ACT_SYMBOL = "shapegraph_act_at"
_llvm.add_symbol(_ACT_SYMBOL, _act_at_c.address)
act_at: Any = numba.types.ExternalFunction(_ACT_SYMBOL, _ACT_SIG)
"""act_at(addr, pos, n, code, p0, p1): ``_act_at_c`` for compiled callers, by name."""
