"""What lowering produces: kernel steps (``Step``) with their arguments (``Arg``), and the
plan's packed weights and aliases (``Lowered``). Lowering (``lower``), fusion (``fusion``)
and weight packing (``packing``) all work on these records."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["NO_ACT", "Act", "Arg", "Lowered", "Step", "has_residual", "literal"]

# a fused activation: (its kernel code, parameter 0, parameter 1), as the kernels take it
# (``act_apply``): leaky relu's alpha, clip's bounds; (0, 0.0, 0.0) is none
Act = tuple[int, float, float]
NO_ACT: Act = (0, 0.0, 0.0)


@dataclass(frozen=True)
class Arg:
    """A kernel argument: a value viewed with ``shape`` (kind "val"; "idx" casts it to
    int64 indices), a packed weight slot ("w"), an int64 constant array ("ints"), an
    activation ``(code, alpha, beta)`` ("act"), the plan's threads ("threads") or one
    thread ("one"), or a Python literal ("lit")."""

    kind: str
    ref: Any
    shape: tuple[int, ...] = ()


@dataclass
class Step:
    """One kernel call: ``kernel(*args)``; it writes ``writes`` and reads ``reads``."""

    kernel: str
    args: list[Arg]
    writes: int
    reads: list[int]
    inplace: int | None = None  # a read value whose buffer the output may reuse
    node: int = -1
    source: tuple[str, str] | None = None  # (source, name) of a specialized kernel
    act: Act = NO_ACT
    # the axis of the output value along which a dense/conv writes its output channels:
    # a batchnorm folds into the weights only when it normalizes exactly this axis
    channel_axis: int = -1
    # the algorithm chosen for this step where there is a choice (convolutions: "gemm",
    # "gemm 1x1", or the template's "wino", "flat", "vo", "rows"); shown by memory_plan()
    algo: str = ""
    # a depthwise convolution that reads the input of the channel shuffle before it: the
    # plane of that input each of its input channels is (empty: channel c is plane c)
    planes: tuple[int, ...] = ()
    # a max pool after this convolution, folded into it (``kernels_cpool.conv_maxpool``, or
    # a generated direct convolution's output pass: ``templates.template_pools``):
    # the pool's window rows and columns, the convolution's output rows and columns, the
    # pool's padding top, left, bottom, right (the step then writes the pool's output);
    # empty: none
    pool: tuple[int, ...] = ()


@dataclass
class Lowered:
    """The steps, the packed weights, and which value is an alias of which."""

    steps: list[Step] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    alias: dict[int, int] = field(default_factory=dict)  # value -> value it views
    weight_values: dict[int, int] = field(default_factory=dict)  # constant value -> slot
    ref_nodes: list[int] = field(default_factory=list)
    ref_reasons: dict[int, str] = field(default_factory=dict)  # ref node -> why no kernel

    # another plan's weights: where this one makes an equal array, that one is kept and
    # the new one freed at once (a new batch size then holds its weights once, and never
    # twice on the way there)
    reuse: Sequence[np.ndarray] = ()

    def slot(self, array: np.ndarray) -> int:
        k = len(self.weights)
        if k < len(self.reuse):
            old = self.reuse[k]
            if old.shape == array.shape and np.array_equal(old, array):
                array = old
        self.weights.append(np.ascontiguousarray(array, dtype=np.float32))
        return k


def literal(value: Any) -> str:
    """``value`` (a number, bool or tuple of them) as source code for generated kernels:
    ``repr``, except that infinities and NaN (clip's open bounds) name numpy's."""
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float) and not math.isfinite(value):
        return "np.nan" if math.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    return repr(value)


def act_arg(act: Act) -> Arg:
    """An activation argument: its code is written as a typed int, not a literal, so that
    one compiled kernel serves every activation (a literal code compiles one per kind)."""
    return Arg("act", act)


def has_residual(step: Step) -> bool:
    """A convolution that adds a residual input in its output pass."""
    return step.kernel == "conv" and step.args[3].kind == "val"
