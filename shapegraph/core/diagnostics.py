"""Diagnostics as data: stable codes, one registry of titles, and the Diagnostic record.

Each code has a section in ``docs/errors.md`` (``shapegraph explain SG201`` prints it).

>>> CODES["SG201"].title
'dimension mismatch'
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shapegraph.core.dims import Dim, Hole, Sym, dim_str, substitute
from shapegraph.core.types import TensorType

__all__ = ["CODES", "Code", "Diagnostic", "Related", "Severity", "show_dims", "show_types",
           "warn_user"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # shapegraph/


def warn_user(message: str | Warning, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the innermost caller outside shapegraph (the user's
    line), however deep inside the package the warning is raised."""
    level, frame = 2, sys._getframe(1)  # stacklevel 1 is this function, 2 its caller
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PKG_DIR):
        level += 1
        frame = frame.f_back  # type: ignore[assignment]
    warnings.warn(message, category, stacklevel=level)

Severity = Literal["error", "warning", "note"]

_MARK = re.compile(r"\?#(\d+)#")


def show_dims(dims: Sequence[Dim]) -> list[str]:
    """The dims as text, read together: one unknown is ``?``; several different ones are
    numbered left to right (``?1*?2``), so that two of them never look the same.

    >>> from shapegraph.core.dims import Hole, mul
    >>> a, b = Hole.fresh(), Hole.fresh()
    >>> show_dims([a, mul(a, b)]), show_dims([a, 4])
    (['?1', '?1*?2'], ['?', '4'])
    """
    def mark(atom: Sym | Hole) -> Dim | None:
        return Sym(f"?#{atom.id}#") if isinstance(atom, Hole) else None

    texts = [dim_str(d) if type(d) is int else dim_str(substitute(d, mark)) for d in dims]
    order: dict[str, int] = {}
    for t in texts:
        for m in _MARK.finditer(t):
            order.setdefault(m.group(1), len(order) + 1)
    if len(order) <= 1:
        return [_MARK.sub("?", t) for t in texts]
    return [_MARK.sub(lambda m: f"?{order[m.group(1)]}", t) for t in texts]


def show_types(types: Sequence[TensorType | None]) -> list[str]:
    """``f32[?1,?2*?3]``: types read together, their unknowns told apart (see
    :func:`show_dims`); None is ``(not computed)``."""
    known = [t for t in types if t is not None]
    texts = iter(show_dims([d for t in known for d in t.shape]))
    out = []
    for t in types:
        if t is None:
            out.append("(not computed)")
            continue
        dims = ",".join(next(texts) for _ in t.shape)
        out.append(f"{str(t).partition('[')[0]}[{dims}]")
    return out



@dataclass(frozen=True, slots=True)
class Code:
    """A diagnostic code: its id, default severity and short title."""

    id: str
    severity: Severity
    title: str


CODES: dict[str, Code] = {c.id: c for c in [
    Code("SG101", "note", "dimension left unknown"),
    Code("SG102", "note", "input shapes needed"),
    Code("SG201", "error", "dimension mismatch"),
    Code("SG202", "error", "wrong rank"),
    Code("SG203", "error", "symbol meets a different size"),
    Code("SG204", "error", "window larger than its input"),
    Code("SG205", "error", "reshape does not fit"),
    Code("SG206", "error", "shapes cannot broadcast"),
    Code("SG207", "error", "parameter shape depends on a symbol"),
    Code("SG208", "error", "shared parameter used at different shapes"),
    Code("SG209", "error", "no whole-number size fits"),
    Code("SG210", "error", "invalid layer configuration"),
    Code("SG211", "error", "inputs do not match the network"),
    Code("SG212", "error", "constant pins a symbolic dimension"),
    Code("SG213", "error", "operator not supported"),
    Code("SG301", "warning", "layer never used"),
    Code("SG302", "error", "network could not be traced"),
    Code("SG401", "error", "parameters too large for memory"),
]}


@dataclass(frozen=True, slots=True)
class Related:
    """A contributing value: what it is (``256``), where it came from, and how it got here.

    ``via`` lists the layers it passed through unchanged; ``parts`` explains a value
    computed from others (a conv output size from its input size, a flatten product...).
    """

    value: str
    text: str
    location: str | None = None
    via: tuple[str, ...] = ()
    parts: tuple[Related, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "origin": self.text,
            "location": self.location,
            "via": list(self.via),
            "parts": [p.to_dict() for p in self.parts],
        }

    def one_line(self) -> str:
        """``256 = units=256 of `0` Dense(256) (model.py:12), via `0` relu``."""
        loc = f" ({self.location})" if self.location else ""
        via = f", via {', '.join(self.via)}" if self.via else ""
        return f"{self.value} = {self.text}{loc}{via}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding of a pass: a stable code, a message and every place that contributed.

    ``path`` is the layer path where it surfaced, ``location`` its user source
    (``file:line``), ``signature`` the node's input and output types.
    """

    code: str
    message: str
    path: str
    location: str | None = None
    layer: str = ""
    signature: str = ""
    related: tuple[Related, ...] = ()
    help: str = ""
    severity: Severity = field(default="error")
    column: int | None = None  # 1-based, on the line of ``location``: the argument to fix
    width: int = 0  # characters from ``column`` that the caret underlines
    # the node's input and output shapes: ints, symbol names, ``?`` (None: not computed)
    input_shapes: tuple[tuple[int | str, ...] | None, ...] = ()
    output_shapes: tuple[tuple[int | str, ...] | None, ...] = ()

    @staticmethod
    def make(code: str, message: str, **kw: Any) -> Diagnostic:
        """A diagnostic with the severity its code has by default."""
        return Diagnostic(code, message, severity=CODES[code].severity, **kw)

    @property
    def title(self) -> str:
        return CODES[self.code].title

    @property
    def file(self) -> str | None:
        """The source file of ``location`` (``model.py``)."""
        return self.location.rpartition(":")[0] or self.location if self.location else None

    @property
    def line(self) -> int | None:
        """The source line of ``location``, or None."""
        tail = self.location.rpartition(":")[2] if self.location else ""
        return int(tail) if tail.isdigit() else None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "path": self.path,
            "layer": self.layer,
            "location": self.location,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "signature": self.signature,
            "input_shapes": [list(t) if t is not None else None for t in self.input_shapes],
            "output_shapes": [list(t) if t is not None else None for t in self.output_shapes],
            "related": [r.to_dict() for r in self.related],
            "help": self.help,
        }
