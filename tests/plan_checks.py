"""A check of memory plans, independent of the planner's own bookkeeping."""

from __future__ import annotations

import itertools
from typing import Any


def arena_conflicts(plan: Any) -> list[str]:
    """Pairs of arena values that share memory while both are live. A value lives from
    the first step that writes it to the last that reads it (the step that writes it,
    when none does); the one pair allowed is a step's output written over an input that
    dies at that step and that it names as its ``inplace`` input."""
    steps = plan.lowered.steps
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, s in enumerate(steps):
        first.setdefault(plan.base(s.writes), i)
        for r in s.reads:
            last[plan.base(r)] = i
    # a concat part written in place in the concat's output (no copy step): the output
    # holds the part's data from the part's first write on
    inside: dict[int, tuple[int, int]] = plan.inside

    def wholes(x: int) -> list[int]:
        out = []
        while x in inside:
            x = inside[x][0]
            out.append(x)
        return out

    for part in inside:
        for w in wholes(part):
            if part in first:
                first[w] = min(first.get(w, first[part]), first[part])
    arena = [b for b, st in plan.storage.items() if st.kind == "arena"]
    out = []
    for a, b in itertools.combinations(arena, 2):
        sa, sb = plan.storage[a], plan.storage[b]
        if not (sa.index < sb.index + sb.size and sb.index < sa.index + sa.size):
            continue  # apart in memory
        if a in wholes(b) or b in wholes(a):
            (p, sp), (w, sw) = ((b, sb), (a, sa)) if a in wholes(b) else ((a, sa), (b, sb))
            if not (sw.index <= sp.index and sp.index + sp.size <= sw.index + sw.size):
                out.append(f"concat part {p} is not within concat {w}")
            continue  # a part where its concat holds it
        (fa, la), (fb, lb) = ((first[v], last.get(v, first[v])) for v in (a, b))
        if la < fb or lb < fa:
            continue  # apart in time
        over = [(x, y) for x, y in ((a, b), (b, a))
                if last.get(x) == first[y] and steps[first[y]].inplace is not None
                and plan.base(steps[first[y]].inplace) == x
                and sum(plan.base(r) == x for r in steps[first[y]].reads) == 1]
        if not over:
            out.append(f"values {a} (steps {fa}-{la}) and {b} (steps {fb}-{lb}) share "
                       f"arena memory at {max(sa.index, sb.index)}")
    return out


def unrecorded_types(model: Any, *arrays: Any) -> list[str]:
    """After ``model(*arrays)``: the kernel and segment calls that the first-call recorder
    (``shapegraph.executor.warm``) finds for that plan whose argument types the call itself
    did not compile or load. Each would be a helper's compile for nothing, and the call
    would then compile it again. (A compiled segment loaded from the disk cache compiled
    none of its kernels: they are not asked about.)"""
    import numpy as np

    from shapegraph.executor.runtime import Runner
    from shapegraph.executor.warm import kernel_calls, segment_type

    runner = model._runners[tuple(tuple(a.shape) for a in arrays)]
    if not isinstance(runner, Runner):
        return []
    outs = [np.empty(s, np.float32) for s in runner.out_shapes]
    args = (runner.weights, runner.arena(), 2, runner.ints, [*arrays, *outs])
    seg = segment_type(*args)
    missing = []
    for fn in runner.gen.functions:
        compiled = hasattr(fn, "py_func")
        calls = [(fn, seg)] if compiled else []
        if not (compiled and fn.stats.cache_hits.get(seg)):
            calls += kernel_calls(fn, *args)
        missing += [f"{d.py_func.__name__}{t} (compiled: {d.signatures})" for d, t in calls
                    if t not in d.overloads]
    return missing
