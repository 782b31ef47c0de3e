"""The memory plan: where every value lives, reusing activation memory by liveness.

Values live in one of: a graph input array, an output array (handed to the caller), the
packed weight array, or the activation *arena*, one float32 array per plan. A value holds
its arena space from the step that writes it to its last use; an elementwise step (or a
convolution's residual sum) writes over an input that dies there (in place). A concat whose
parts are each one contiguous run of its output (batch 1 along the channels) copies
nothing: each part is written where the concat's output has it (``_concat_parts``). Space
is placed once every lifetime is known, largest values first (``_place``). The plan
reports its arena size next to what giving every value its own buffer would take.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from shapegraph.core.dims import as_int
from shapegraph.core.graph import Graph
from shapegraph.core.types import TensorType
from shapegraph.executor.lower import Lowered

__all__ = ["ALIGN", "Plan", "Storage", "aligned", "plan_memory"]

ALIGN = 16  # floats: 64-byte aligned buffers


def aligned(size: int, zero: bool = False) -> np.ndarray:
    """A float32 array of ``size`` elements whose first one is 64-byte aligned (zeros
    where ``zero``; else as ``np.empty``). The arena and the packed weights are: their
    buffers' offsets are multiples of ALIGN floats, so that every buffer starts a cache
    line, and a 16-lane vector load from it does not straddle two lines (numpy aligns to
    16 bytes: on an Intel core with 512-bit loads, ResNet-50's 64 -> 256 convolution at
    56x56 took 750 µs on such a buffer and 623 on an aligned one)."""
    raw = (np.zeros if zero else np.empty)(size + ALIGN, np.float32)
    s = (-raw.ctypes.data % (4 * ALIGN)) // 4
    return raw[s:s + size]


@dataclass(frozen=True)
class Storage:
    """Where a base value lives: ``kind`` in input/output/weight/arena, with an index or
    an element offset."""

    kind: str
    index: int
    size: int


@dataclass
class Plan:
    """A lowered graph with a home for every value; immutable once built."""

    lowered: Lowered
    storage: dict[int, Storage]
    shapes: dict[int, tuple[int, ...]]
    arena_size: int
    separate_size: int
    weight_offsets: list[int] = field(default_factory=list)
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    input_values: list[int] = field(default_factory=list)
    output_values: list[int] = field(default_factory=list)
    output_shapes: list[tuple[int, ...]] = field(default_factory=list)
    copies: list[tuple[int, int]] = field(default_factory=list)  # (output k, source value)
    # a concat's part written in place in the concat's output: part -> (output, offset)
    inside: dict[int, tuple[int, int]] = field(default_factory=dict)

    def base(self, v: int) -> int:
        alias = self.lowered.alias
        while v in alias:
            v = alias[v]
        return v

    def locate(self, v: int) -> tuple[str, int | None]:
        """Where value ``v`` lives, as the run function names it: ``("x0", None)`` (a whole
        input or output array) or ``("W", offset)`` / ``("A", offset)`` (a slice)."""
        st = self.storage[self.base(v)]
        if st.kind == "input":
            return f"x{st.index}", None
        if st.kind == "output":
            return f"o{st.index}", None
        if st.kind == "weight":
            return "W", self.weight_offsets[st.index]
        return "A", st.index

    def view(self, v: int, W: np.ndarray, A: np.ndarray, inputs: Sequence[np.ndarray],
             outputs: Sequence[np.ndarray]) -> np.ndarray:
        """Value ``v`` as an array, from the arrays a run works on."""
        name, off = self.locate(v)
        shape = self.shapes[v]
        if off is None:
            k = int(name[1:])
            return (inputs if name[0] == "x" else outputs)[k].reshape(shape)
        return (W if name == "W" else A)[off:off + prod(shape)].reshape(shape)

    @property
    def arena_bytes(self) -> int:
        return self.arena_size * 4

    @property
    def weight_bytes(self) -> int:
        return int(self.weights.size) * 4


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _place(blocks: list[tuple[int, int, int]]) -> tuple[list[int], int]:
    """Offsets for ``blocks`` (size, first step, last step): two blocks whose step
    intervals meet never overlap in memory. Greedy by size, largest first, each at the
    lowest offset free of the blocks already placed that live at the same time (TFLite's
    "greedy by size"). Step order with first fit left holes a large value could not use:
    ResNet-50's arena at batch 8 was 55.1 MiB, placed by size 39.8."""
    n = len(blocks)
    size = np.array([b[0] for b in blocks], np.int64)
    start = np.array([b[1] for b in blocks], np.int64)
    stop = np.array([b[2] for b in blocks], np.int64)
    offsets = np.zeros(n, np.int64)
    placed = np.zeros(n, bool)
    for k in sorted(range(n), key=lambda q: (-blocks[q][0], blocks[q][1])):
        # the placed blocks alive at the same time (a few: the live set), by offset
        near = np.flatnonzero(placed & (start <= stop[k]) & (stop >= start[k]))
        off = 0
        for q in near[np.argsort(offsets[near], kind="stable")]:
            if off + size[k] <= offsets[q]:
                break
            off = max(off, int(offsets[q] + size[q]))
        offsets[k] = off
        placed[k] = True
    peak = int((offsets + size).max()) if n else 0
    return [int(o) for o in offsets], peak


def plan_memory(graph: Graph, types: Mapping[int, TensorType], lowered: Lowered,
                previous: Plan | None = None) -> Plan:
    """Assign storage to every base value of ``lowered`` (see the module docstring).
    ``previous``: the model's plan for another input shape, whose weights ``lowered`` was
    given to reuse; when it kept every one (a new batch size lowers the same weights),
    that plan's packed array serves this one too instead of a new copy."""
    shapes = {v: tuple(as_int(d) for d in t.shape) for v, t in types.items() if t is not None}
    plan = Plan(lowered, {}, shapes, 0, 0)
    for k, gi in enumerate(graph.inputs):
        plan.storage[gi.value] = Storage("input", k, prod(shapes[gi.value]))
        plan.input_values.append(gi.value)
    for v, slot in lowered.weight_values.items():
        plan.storage[v] = Storage("weight", slot, prod(shapes[v]))
    _assign_outputs(graph, plan)
    plan.inside = _concat_parts(plan)
    _assign_arena(plan)
    if previous is None or not _share_weights(plan, previous):
        _pack_weights(plan)
    return plan


def _assign_outputs(graph: Graph, plan: Plan) -> None:
    for k, v in enumerate(graph.outputs):
        plan.output_values.append(v)
        plan.output_shapes.append(plan.shapes[v])
        b = plan.base(v)
        if b in plan.storage:  # an input, a weight, or already another output: copy it
            plan.copies.append((k, b))
        else:
            plan.storage[b] = Storage("output", k, prod(plan.shapes[b]))


def _concat_parts(plan: Plan) -> dict[int, tuple[int, int]]:
    """The concat parts that need no copy: part -> (the concat's output, element offset in
    it); their ``copy_block`` steps are dropped from the plan. A part qualifies when it is
    one contiguous run of the output (nothing outside the concat axis but batch 1 before
    it), both live in the arena (not an input, weight or output array), every step that
    writes the part comes before the copy, and the part is copied exactly once. Parts of a
    concat that is itself a part nest (DenseNet's chain of concats: one buffer a block)."""
    steps = plan.lowered.steps
    copied: dict[int, int] = {}  # part -> copy steps that read it
    for s in steps:
        if s.kernel == "copy_block":
            b = plan.base(s.reads[0])
            copied[b] = copied.get(b, 0) + 1
    written: dict[int, int] = {}  # base -> last step that writes it
    for i, s in enumerate(steps):
        written[plan.base(s.writes)] = i
    inside: dict[int, tuple[int, int]] = {}
    drop = set()
    for i, s in enumerate(steps):
        if s.kernel != "copy_block":
            continue
        src, dst, off = s.args
        part, whole = plan.base(src.ref), plan.base(dst.ref)
        outer, _, inner = src.shape
        if (outer == 1 and part != whole and part not in plan.storage
                and whole not in plan.storage and copied[part] == 1
                and written.get(part, i) < i and part not in inside):
            inside[part] = (whole, int(off.ref) * inner)
            drop.add(i)
    if drop:
        plan.lowered.steps = [s for i, s in enumerate(steps) if i not in drop]
    return inside


def _assign_arena(plan: Plan) -> None:
    """Each arena value's lifetime, from the step that first writes it to the last that
    reads it; an elementwise step (or a convolution's residual) writes over an input that
    dies there, as one block with it. A concat and the parts written in place in it
    (``plan.inside``) are one block, alive from the first write of any of them to the last
    read. Then the blocks are placed (``_place``)."""
    steps = plan.lowered.steps
    last: dict[int, int] = {}
    for i, s in enumerate(steps):
        for v in s.reads:
            last[plan.base(v)] = i

    def root(b: int) -> tuple[int, int]:  # (the outermost concat b lies in, offset in it)
        off = 0
        while b in plan.inside:
            b, o = plan.inside[b]
            off += o
        return b, off

    grouped = set(plan.inside) | {w for w, _ in plan.inside.values()}
    block_of: dict[int, int] = {}  # base value -> its block
    blocks: list[list[int]] = []  # [size, first step, last step]
    members: list[list[int]] = []
    for i, s in enumerate(steps):
        b = plan.base(s.writes)
        if b in plan.storage:
            continue
        size = prod(plan.shapes[b])
        plan.separate_size += _aligned(size)
        plan.storage[b] = Storage("arena", -1, size)  # placed below
        src = plan.base(s.inplace) if s.inplace is not None else None
        if b in grouped:
            top = root(b)[0]
            if top not in block_of:
                block_of[top] = len(blocks)
                blocks.append([_aligned(prod(plan.shapes[top])), i, i])
                members.append([])
            k = block_of[top]
        # (never over a value the step reads in another role too: a convolution's
        # input that is also its residual; never over a concat or its parts)
        elif (src is not None and src in block_of and last.get(src) == i
                and prod(plan.shapes[src]) == size and src not in grouped
                and sum(plan.base(r) == src for r in s.reads) == 1):
            k = block_of[src]  # write over the input that dies here
        else:
            k = len(blocks)
            blocks.append([_aligned(max(size, 1)), i, i])
            members.append([])
        block_of[b] = k
        members[k].append(b)
        blocks[k][2] = max(blocks[k][2], last.get(b, i))  # (never read: free at once)
    for b in grouped:  # a concat all of whose parts were written in place is never
        k = block_of[root(b)[0]]  # written itself; every member keeps the block alive
        if b not in plan.storage:
            plan.storage[b] = Storage("arena", -1, prod(plan.shapes[b]))
            plan.separate_size += _aligned(prod(plan.shapes[b]))
            members[k].append(b)
        blocks[k][2] = max(blocks[k][2], last.get(b, blocks[k][2]))
    offsets, plan.arena_size = _place([(sz, a, z) for sz, a, z in blocks])
    for k, bases in enumerate(members):
        for b in bases:
            at = offsets[k] + (root(b)[1] if b in grouped else 0)
            plan.storage[b] = Storage("arena", at, plan.storage[b].size)


def _share_weights(plan: Plan, other: Plan) -> bool:
    """Use ``other``'s packed weights when they hold exactly ``plan``'s lowered ones."""
    mine, theirs = plan.lowered.weights, other.lowered.weights
    if len(mine) != len(theirs) or any(a is not b for a, b in zip(mine, theirs, strict=True)):
        return False  # (the lowering kept ``other``'s array wherever it made an equal one)
    plan.weights, plan.weight_offsets = other.weights, other.weight_offsets
    return True


def _pack_weights(plan: Plan) -> None:
    offsets, total = [], 0
    for w in plan.lowered.weights:
        offsets.append(total)
        total += _aligned(w.size)
    packed = aligned(max(total, 1), zero=True)  # pages are taken as they are written
    weights = plan.lowered.weights
    _trim_heap()  # the lowering's temporaries
    freed = 0
    for k, (off, w) in enumerate(zip(offsets, weights, strict=True)):
        packed[off:off + w.size] = w.ravel()
        # the step's array becomes a view of its packed copy: the weights are held once
        weights[k] = packed[off:off + w.size].reshape(w.shape)
        freed += w.nbytes
        del w
        if freed >= _TRIM_EVERY:  # give what the copies free back as the packed array fills,
            _trim_heap()  # so that the lowered and the packed weights never peak together
            freed = 0
    _trim_heap()
    plan.weights = packed
    plan.weight_offsets = offsets


_TRIM_EVERY = 16 << 20


def _trim_heap() -> None:
    """Return freed heap memory to the system (glibc's ``malloc_trim``; elsewhere nothing).
    Arrays of a few MB come from the heap, not from their own mappings, once glibc has
    raised its mmap threshold, and freeing them leaves the process's resident size as it
    was."""
    trim = _MALLOC_TRIM[0]
    if trim is not None:
        trim(0)


def _load_malloc_trim() -> list[Any]:
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return [None]
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return [fn]


_MALLOC_TRIM = _load_malloc_trim()
