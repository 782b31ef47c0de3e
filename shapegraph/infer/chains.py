"""Origin chains as people read them: brief deeper steps, steps that change nothing
folded into ``via``, long chains cut with a count, and the source column to point at.

>>> from shapegraph.core.diagnostics import Related
>>> chain = Related("1", "a")
>>> for k in range(2, 8):
...     chain = Related(str(k), f"step at layer `{k}`", parts=(chain,))
>>> short = cap_depth(chain)
>>> [short.value, short.parts[0].value, short.parts[0].parts[0].value]
['7', '6', '5']
>>> short.parts[0].parts[0].parts[0].text
'3 more steps elided (layers `2` to `4`)'
"""

from __future__ import annotations

import linecache
import re
from dataclasses import replace

from shapegraph.core.diagnostics import Related, show_dims
from shapegraph.core.dims import Dim
from shapegraph.core.graph import Node

__all__ = ["cap_depth", "closing", "computed", "layer_label", "one_dim", "source_span", "with_via"]

_LAYER = re.compile(r"layer (`[^`]*`)")
_SHOWN_DEPTH = 4  # levels of an origin chain shown before the rest is elided
_MAX_VIA = 4  # layers named in a via before the middle ones are counted


def source_span(location: str | None, call: str, arg: str = "") -> tuple[int, int] | None:
    """(1-based column, width) of ``arg`` inside the layer call ``call`` on the source
    line of ``location`` (the call itself without ``arg``); None when it is not there
    or not there once: several layers on one line are told apart by their arguments."""
    if not location or ":" not in location:
        return None
    path, _, line = location.rpartition(":")
    text = linecache.getline(path, int(line)) if line.isdigit() else ""
    start = text.find(call) if call.endswith(("(", ")")) and text.count(call) == 1 else -1
    if start < 0:
        return None
    if call.endswith("("):  # the call's own parenthesis closes it
        call = text[start:closing(text, start + len(call) - 1) + 1]
    if arg:
        at = text.find(arg, start, start + len(call))
        if at >= 0:
            return at + 1, len(arg)
    return start + 1, len(call)


def one_dim(d: Dim) -> str:
    """One dim as text, its unknowns told apart (``?1*?2``)."""
    return show_dims([d])[0]


def closing(text: str, at: int) -> int:
    """Where the parenthesis opened at ``at`` closes (the line's end when it does not)."""
    depth = 0
    for i in range(at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return len(text.rstrip()) - 1


def layer_label(node: Node) -> str:
    """How a via names a layer: its path and kind (```3` Conv2D``); an op of its own
    (a functional ``relu`` in ``forward``) by its op."""
    kind = node.prov.kind if node.prov.kind not in ("Block", "") else node.op
    return f"`{node.prov.display_path}` {kind}"


def computed(what: str, node: Node, depth: int) -> str:
    """The text of a computed step; deeper steps are brief (``MaxPool2D output size =
    (in - 2)//2 + 1 at layer `9```): the layer's full arguments are on its own line."""
    head, sep, formula = what.partition(" = ")
    if depth <= 2 or not sep:
        return f"{what}, computed by layer {node.describe()}"
    return f"{head.partition(' along ')[0]} = {formula} at layer `{node.prov.display_path}`"


def with_via(r: Related, *labels: str) -> Related:
    """``r`` reached through the layers ``labels`` (outermost first), each named once."""
    out: list[str] = []
    for label in (*labels, *r.via):
        if not out or out[-1] != label:
            out.append(label)
    if len(out) > _MAX_VIA:  # keep the ends: the layers next to the value and the origin
        out = [*out[:2], f"... {len(out) - 3} more", out[-1]]
    return replace(r, via=tuple(out))


def cap_depth(r: Related, keep: int = _SHOWN_DEPTH) -> Related:
    """A chain of single-part steps deeper than ``keep`` levels: the first ``keep - 1``
    steps, a line counting the elided ones, and the origin at the end of the chain."""
    chain = [r]
    while len(chain[-1].parts) == 1:
        chain.append(chain[-1].parts[0])
    if len(chain) <= keep + 1:
        return replace(r, parts=tuple(cap_depth(p, keep) for p in r.parts))
    if len(chain) == 1:
        return r
    head, hidden, leaf = chain[:keep - 1], chain[keep - 1:-1], chain[-1]
    layers = [m.group(1) for h in hidden for m in [_LAYER.search(h.text)] if m]
    span = f" (layers {layers[-1]} to {layers[0]})" if len(set(layers)) > 1 else ""
    elided = Related("...", f"{len(hidden)} more step{'s' if len(hidden) != 1 else ''} "
                     f"elided{span}", parts=(leaf,))
    out = elided
    for step in reversed(head):
        out = replace(step, parts=(out,))
    return out
