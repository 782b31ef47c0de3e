"""``Block`` and ``Sequential``: the Gluon-style containers.

Subclass :class:`Block`, assign child blocks as attributes and write ``forward``. Calling a
block with arrays traces ``forward`` into a graph, propagates shapes, creates any deferred
parameters and runs it (see :mod:`shapegraph.frontend.root`); calling it inside another block's
``forward`` records its layers into the enclosing trace.

>>> from shapegraph import nn
>>> net = nn.Sequential()
>>> net.add(nn.Dense(256, activation="relu"), nn.Dense(10))
>>> net.collect_params()["0.weight"]
Parameter 0.weight (shape=(256, ?), dtype=float32)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from shapegraph.core.diagnostics import warn_user
from shapegraph.core.graph import Provenance
from shapegraph.frontend import functional as ops
from shapegraph.frontend.checkpoint import load_parameters, save_parameters
from shapegraph.frontend.init import Initializer
from shapegraph.frontend.params import (
    Parameter,
    ParameterDict,
    bump_structure,
    shape_str,
    structure_version,
)
from shapegraph.frontend.root import call_root, initialize
from shapegraph.frontend.trace import SymbolicTensor, current, user_site

if TYPE_CHECKING:
    from shapegraph.render.summary import Summary

__all__ = ["Block", "HybridBlock", "HybridSequential", "InferShapeNotNeeded", "Sequential",
           "structure_version"]  # structure_version: params keeps the counter



class InferShapeNotNeeded(UserWarning):
    """A block defines Gluon 2's ``infer_shape`` hook, which shapegraph does not need."""


class Block:
    """Base class of every layer and model.

    ``params`` (Gluon 1 style) shares parameters: ``nn.Dense(8, params=other.params)``
    uses ``other``'s parameters wherever the roles match.
    """

    _children: dict[str, Block]
    _reg_params: dict[str, Parameter]
    _shared: dict[str, Parameter]
    _path: str
    _site: tuple[str | None, int | None]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "infer_shape" in cls.__dict__:
            warn_user(f"{cls.__name__}.infer_shape is not needed and is never called: "
                      "shapegraph infers every unknown parameter dim from how forward uses "
                      "the parameter (declare it with None for the unknown dims)",
                      InferShapeNotNeeded)

    def __init__(self, prefix: str | None = None, params: Mapping[str, Parameter] | None = None
                 ) -> None:
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "_reg_params", {})
        object.__setattr__(self, "_shared", dict(params) if params is not None else {})
        object.__setattr__(self, "_path", "")
        file, line = user_site()
        object.__setattr__(self, "_site", (file, line))
        _ = prefix  # accepted for Gluon compatibility; names are structured paths

    # -- registration -------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Block):
            self._children[name] = value
            bump_structure()
        elif isinstance(value, Parameter):
            self._reg_params[name] = value
            value.owner = value.owner or self
            bump_structure()
        object.__setattr__(self, name, value)

    def register_child(self, block: Block, name: str | None = None) -> Block:
        """Add ``block`` as a child (named by its position when ``name`` is None)."""
        if not isinstance(block, Block):
            raise TypeError(f"register_child() takes a Block, got {type(block).__name__}")
        name = name if name is not None else str(len(self._children))
        self._children[name] = block
        bump_structure()
        return block

    def _param(self, role: str, make: Parameter) -> Parameter:
        """Register this layer's parameter ``role``: the shared one when given, else ``make``."""
        p: Parameter = self._shared.get(role, make)
        if p is not make:
            p.merge_declaration(make, self)
        setattr(self, role, p)
        return p

    @property
    def params(self) -> ParameterDict:
        """This block's own parameters by role (pass to ``params=`` to share them)."""
        return ParameterDict(self._reg_params, block=self)

    # -- the tree -----------------------------------------------------------------------
    def walk(self, prefix: str = "") -> Iterator[tuple[str, Block]]:
        """(path, block) for this block and every block below it, depth first; a block
        reachable twice is listed once, at its first path."""
        seen: set[int] = set()
        stack: list[tuple[str, Block]] = [(prefix, self)]
        while stack:
            path, block = stack.pop()
            if id(block) in seen:
                continue
            seen.add(id(block))
            yield path, block
            kids = [(f"{path}.{name}" if path else name, child)
                    for name, child in block._children.items()]
            stack.extend(reversed(kids))

    def collect_params(self, select: str | None = None) -> ParameterDict:
        """Every parameter below this block by structured name (``"encoder.1.weight"``),
        each once (a shared parameter under its first name); ``select`` is a regex."""
        out: dict[str, Parameter] = {}
        seen: set[int] = set()
        for path, block in self.walk():
            object.__setattr__(block, "_path", path)
            for role, p in block._reg_params.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                key = f"{path}.{role}" if path else role
                p.name = key
                if select is None or re.fullmatch(select, key):
                    out[key] = p
        return ParameterDict(out, owner=type(self).__name__)

    def share_parameters(self, shared: Mapping[str, Parameter]) -> Block:
        """Use ``shared`` (structured name -> Parameter, e.g. another block's
        ``collect_params()``) for this block's parameters of the same names (Gluon 2)."""
        own = {key: (block, role) for path, block in self.walk()
               for role in block._reg_params
               for key in [f"{path}.{role}" if path else role]}
        for key, p in shared.items():
            if key in own:
                block, role = own[key]
                setattr(block, role, p)
        return self

    # -- lifecycle (the root machinery lives in shapegraph.frontend.root) ----------------------
    def initialize(self, init: Initializer | str | None = None, ctx: Any = None,
                   verbose: bool = False, force_reinit: bool = False) -> None:
        """Record the initializer and create every parameter whose shape is known or
        follows from the declarations; the rest wait for the first forward (deferred).
        ``ctx`` (only the CPU exists here) and ``verbose`` are accepted as in Gluon."""
        _cpu_only(ctx, "initialize")
        initialize(self, init, force_reinit)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = current()
        if tracer is not None and any(isinstance(a, SymbolicTensor)
                                      for a in (*args, *kwargs.values())):
            path = tracer.paths.get(id(self), f"{tracer.path[-1]}.<{type(self).__name__}>")
            with tracer.scope(path, type(self).__name__, id(self)):
                return self.forward(*args, **kwargs)
        return call_root(self, args, kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What the block computes; subclasses write it. A Gluon 1 block that writes
        ``hybrid_forward(self, F, x, ..., weight=None)`` instead gets it called with ``F``
        the ops (``shapegraph.ops``) and each of its own parameters by name."""
        if type(self).hybrid_forward is Block.hybrid_forward:
            raise NotImplementedError(f"{type(self).__name__} must define forward() (or "
                                      "Gluon 1's hybrid_forward(self, F, x, ...))")
        named = {role: p.data() for role, p in self._reg_params.items()}
        return self.hybrid_forward(ops, *args, **kwargs, **named)

    def hybrid_forward(self, F: Any, *args: Any, **kwargs: Any) -> Any:
        """Gluon 1's forward: ``F`` gives the ops, parameters come by name."""
        raise NotImplementedError

    def hybridize(self, active: bool = True, static_alloc: bool = False,
                  static_shape: bool = False, **kwargs: Any) -> None:
        """Run each plan as one compiled function (as ``sg.compile`` does) instead of step
        by step; the first call per input shape then pays the JIT compilation. Plans are
        always statically allocated per input shape, so ``static_alloc`` and
        ``static_shape`` change nothing; other Gluon options (``inline_limit``,
        ``forward_bulk_size``, ``backend``...) are accepted and mean nothing here."""
        object.__setattr__(self, "_hybridized", bool(active))
        object.__setattr__(self, "_rt", None)

    def save_parameters(self, filename: str) -> None:
        """Write every parameter to ``filename`` (npz, atomically; see ``checkpoint``)."""
        save_parameters(self, filename)

    def load_parameters(self, filename: str, ctx: Any = None, allow_missing: bool = False,
                        ignore_extra: bool = False) -> None:
        """Read parameters saved by ``save_parameters``; unknown dims are filled in.
        ``ctx`` is accepted as in Gluon (only the CPU exists here)."""
        _cpu_only(ctx, "load_parameters")
        load_parameters(self, filename, allow_missing, ignore_extra)

    # -- display ------------------------------------------------------------------------
    def summary(self, *inputs: Any, dims: Mapping[str, int] | None = None,
                show: bool = True) -> Summary:
        """Print (as Gluon does; ``show=False``: do not) and return the summary: per layer,
        output type, parameter shapes and counts, FLOPs and activation memory, and totals.
        ``inputs``: sample arrays, ``sg.Input`` specs or shape tuples such as ``("batch",
        20)``; none: what the declarations determine. ``dims`` gives symbols sizes for the
        totals. Creates and allocates nothing.

        >>> from shapegraph import nn
        >>> net = nn.Sequential(); net.add(nn.Dense(10))
        >>> net.summary(("batch", 20), show=False).total_params
        210
        """
        from shapegraph.frontend.summary import show_summary, summarize_block

        out = summarize_block(self, inputs, dims)
        if show:
            show_summary(out)
        return out

    def provenance(self) -> Provenance:
        file, line = self._site
        return Provenance(self._path, type(self).__name__, file, line, self.describe())

    def describe(self) -> str:
        """A one-line description used in messages (layers override it)."""
        return type(self).__name__

    def _param_summary(self) -> str:
        return "  ".join(f"{role}{shape_str(p.shape)}" for role, p in self._reg_params.items())

    def __repr__(self) -> str:
        if not self._children:
            return self.describe()
        lines = [f"{type(self).__name__}("]
        for name, child in self._children.items():
            body = repr(child).replace("\n", "\n  ")
            extra = child._param_summary()
            lines.append(f"  ({name}): {body}" + (f"  [{extra}]" if extra else ""))
        lines.append(")")
        return "\n".join(lines)


def _cpu_only(ctx: Any, where: str) -> None:
    """Gluon's ``ctx``: None, ``"cpu"`` or an object whose name says cpu."""
    name = str(getattr(ctx, "device_type", ctx)).lower() if ctx is not None else "cpu"
    if not name.startswith("cpu") and not (isinstance(ctx, list | tuple) and all(
            str(getattr(c, "device_type", c)).lower().startswith("cpu") for c in ctx)):
        raise ValueError(f"{where}(ctx={ctx!r}): shapegraph runs on the CPU only; leave ctx "
                         "out")


class Sequential(Block):
    """Blocks applied one after the other: ``add``, indexing, ``len``."""

    def add(self, *blocks: Block) -> None:
        for b in blocks:
            self.register_child(b)

    def forward(self, x: Any, *args: Any) -> Any:
        for block in self._children.values():
            x = block(x, *args)
            args = ()
        return x

    def __getitem__(self, key: int | slice) -> Any:
        kids = list(self._children.values())
        if isinstance(key, slice):
            net = type(self)()
            net.add(*kids[key])
            return net
        return kids[key]

    def __len__(self) -> int:
        return len(self._children)


HybridBlock = Block
HybridSequential = Sequential
