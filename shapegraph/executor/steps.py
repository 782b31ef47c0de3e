"""What lowering produces: kernel steps (``Step``) with their arguments (``Arg``), and the
plan's packed weights and aliases (``Lowered``). Lowering (``lower``), fusion (``fusion``)
and weight packing (``packing``) all work on these records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Arg", "Lowered", "Step", "has_residual"]


@dataclass(frozen=True)
class Arg:
    """A kernel argument: a value viewed with ``shape`` (kind "val"; "idx" casts it to
    int64 indices), a packed weight slot ("w"), an int64 constant array ("ints"), or a
    Python literal ("lit")."""

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
    act: int = 0
    # the axis of the output value along which a dense/conv writes its output channels:
    # a batchnorm folds into the weights only when it normalizes exactly this axis
    channel_axis: int = -1


@dataclass
class Lowered:
    """The steps, the packed weights, and which value is an alias of which."""

    steps: list[Step] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)
    alias: dict[int, int] = field(default_factory=dict)  # value -> value it views
    weight_values: dict[int, int] = field(default_factory=dict)  # constant value -> slot
    ref_nodes: list[int] = field(default_factory=list)
    ref_reasons: dict[int, str] = field(default_factory=dict)  # ref node -> why no kernel

    def slot(self, array: np.ndarray) -> int:
        self.weights.append(np.ascontiguousarray(array, dtype=np.float32))
        return len(self.weights) - 1


def has_residual(step: Step) -> bool:
    """A convolution that adds a residual input in its output pass."""
    return step.kernel == "conv" and step.args[3].kind == "val"
