"""What an op is: one declarative record with its shape rule, parameter rule and reference.

Shape rules are pure functions ``rule(ins, params, attrs) -> Out | Fail``:

* ``ins``: the input :class:`~shapegraph.core.types.TensorType` s, dims already resolved as far as
  the pass knows them;
* ``params``: the parameter dims by role (``"weight"`` -> ``(256, Hole)``);
* ``attrs``: the node's attributes.

They return the output types with, for every output dim, a :class:`Src` saying where the
dim came from (so diagnostics can walk back to the origin of any number), and the
equalities the op requires (:class:`Eq`). They never raise for bad shapes: a
:class:`Fail` is a reason, and only the pass turns reasons into diagnostics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import numpy as np

from shapegraph.core.dims import Dim
from shapegraph.core.types import TensorType

if TYPE_CHECKING:  # values.py builds on Src; the lattice is defined there
    from shapegraph.opset.values import Val

__all__ = [
    "REQUIRED",
    "Attr",
    "AttrError",
    "Derived",
    "Eq",
    "Fail",
    "FromAttr",
    "FromInput",
    "FromParam",
    "GivenInput",
    "Lowering",
    "MacRule",
    "OpDef",
    "Out",
    "ParamDecl",
    "RuleResult",
    "Src",
    "ValueRule",
    "inp",
    "non_negative",
    "pass_through",
    "positive",
    "with_bias",
]


class Src:
    """Where a dim came from, relative to the node whose rule produced it."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class FromInput(Src):
    """Dim ``j`` of input ``i`` of this node (a pass-through)."""

    i: int
    j: int


@dataclass(frozen=True, slots=True)
class FromParam(Src):
    """Dim ``j`` of this node's parameter with role ``role``."""

    role: str
    j: int


@dataclass(frozen=True, slots=True)
class FromAttr(Src):
    """An attribute of this node (``units``, ``channels``, a reshape target...)."""

    name: str


@dataclass(frozen=True, slots=True)
class GivenInput(Src):
    """Dim ``j`` of graph input ``name`` as the caller gave it (propagation's source
    for input dims)."""

    name: str
    j: int


@dataclass(frozen=True, slots=True)
class Derived(Src):
    """Computed by this node from other dims (conv arithmetic, flatten product...)."""

    what: str
    parts: tuple[Src, ...]


@lru_cache(maxsize=4096)
def inp(i: int, j: int) -> FromInput:
    """The shared :class:`FromInput` record for input ``i`` dim ``j``."""
    return FromInput(i, j)


@lru_cache(maxsize=1024)
def pass_through(rank: int, i: int = 0) -> tuple[Src, ...]:
    """Sources for an output that copies input ``i`` dim for dim (shared tuples)."""
    return tuple(inp(i, j) for j in range(rank))


class Eq(NamedTuple):
    """A requirement ``lhs == rhs``; the labels name each side in messages."""

    lhs: Dim
    lhs_src: Src
    rhs: Dim
    rhs_src: Src
    lhs_label: str
    rhs_label: str
    hint: str = ""  # a likelier fix than changing either number, when the rule knows one


class Out(NamedTuple):
    """A successful rule: output types, per-dim sources, requirements.

    ``pending`` asks the pass to run the rule again once more is known (for instance a
    broadcast against a dim that is still a hole); outputs are refined, never changed.
    """

    types: tuple[TensorType, ...]
    srcs: tuple[tuple[Src, ...], ...]
    eqs: tuple[Eq, ...] = ()
    pending: bool = False


@dataclass(frozen=True, slots=True)
class Fail:
    """A rule that cannot produce outputs: a diagnostic code, message, help and the dims
    involved (label, value, source) so the message can say where each came from."""

    code: str
    message: str
    help: str
    involved: tuple[tuple[str, Dim, Src], ...] = ()
    # requirements that do not depend on what failed (a conv's channels when its window
    # does not fit): the pass still checks them, so a second mistake is not hidden
    eqs: tuple[Eq, ...] = ()


RuleResult: TypeAlias = Out | Fail
Attrs: TypeAlias = Mapping[str, Any]
ShapeRule: TypeAlias = Callable[
    [tuple[TensorType, ...], Mapping[str, tuple[Dim, ...]], Attrs], RuleResult
]
Reference: TypeAlias = Callable[
    [Sequence[np.ndarray], Mapping[str, np.ndarray], Attrs], tuple[np.ndarray, ...]
]


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """A parameter an op needs, as far as its attributes declare it.

    ``shape`` has None where the size is unknown until propagation; ``notes`` says where
    each known size comes from (``"units"``); ``declare`` names the layer argument that
    would fix each dim (``"in_units"``) or ``""``; ``init`` is the default initializer
    name (``"weight"`` means the global initializer).
    """

    role: str
    shape: tuple[int | None, ...]
    notes: tuple[str, ...]
    declare: tuple[str, ...]
    init: str = "weight"


ParamRule: TypeAlias = Callable[[Attrs], tuple[ParamDecl, ...]]
# the multiply-accumulates of one call, from the input and output types, the parameter dims
# by role and the attributes (symbolic where the types are: ``51200*batch``)
MacRule: TypeAlias = Callable[
    [Sequence[TensorType], Sequence[TensorType], Mapping[str, tuple[Dim, ...]], Attrs], Dim]
# a value rule: (input types, input values (None: unknown), attrs) -> the output values,
# or None when nothing is known (see shapegraph.opset.values)
ValueRule: TypeAlias = Callable[
    [tuple[TensorType, ...], tuple["Val | None", ...], Attrs], "tuple[Val | None, ...] | None"
]


def with_bias(attrs: Attrs, weight: ParamDecl, size: int, note: str) -> tuple[ParamDecl, ...]:
    """``weight``, plus a ``bias`` of ``size`` unless ``attrs["use_bias"]`` is false."""
    if not attrs["use_bias"]:
        return (weight,)
    return weight, ParamDecl("bias", (size,), (note,), ("",), init="bias")


def _no_params(attrs: Attrs) -> tuple[ParamDecl, ...]:
    return ()


def _max_rank(ranks: tuple[int, ...], attrs: Attrs) -> int | None:
    return max(ranks) if ranks else None


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # an attribute without a default: every node must give it


class AttrError(ValueError):
    """A node's attributes do not fit its op's schema (unknown name, wrong type, missing)."""


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) \
        else None


def _ints(v: Any) -> tuple[int, ...] | None:
    if isinstance(v, str) or not isinstance(v, Sequence | np.ndarray):
        return None
    out = tuple(_int(e) for e in v)
    return None if None in out else out  # type: ignore[return-value]


def _float(v: Any) -> float | None:
    ok = isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_)
    return float(v) if ok else None


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool | np.bool_) or (_int(v) is not None and v in (0, 1)):
        return bool(v)
    return None


def _dims(v: Any) -> tuple[int | None, ...] | None:
    if isinstance(v, str) or not isinstance(v, Sequence):
        return None
    out = tuple(None if e is None else _int(e) for e in v)
    return None if any(o is None and e is not None for o, e in zip(out, v, strict=True)) \
        else out


def _array(v: Any) -> np.ndarray | None:
    if isinstance(v, str | bytes | dict) or v is None:
        return None
    try:
        a = np.asarray(v)
    except (TypeError, ValueError):
        return None
    return a if a.dtype.kind in "biuf" else None


def _dtype(v: Any) -> str | None:
    try:
        return str(np.dtype(v).name)
    except TypeError:
        return None


# attribute kind -> (the value converted to its canonical form, or None; what it must be)
_KINDS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "int": (_int, "an int"),
    "float": (_float, "a number"),
    "bool": (_bool, "True or False"),
    "str": (lambda v: v if isinstance(v, str) else None, "a string"),
    "ints": (_ints, "a tuple of ints"),
    "dims": (_dims, "a tuple of ints or None"),
    "array": (_array, "a numeric array"),
    "dtype": (_dtype, "a numpy dtype name"),
    "any": (lambda v: v, "anything"),  # checked by the shape rule, which reports it
}


_SCALAR_KINDS = frozenset({"int", "float", "bool", "str", "dtype"})


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute of an op: its ``kind`` (a key of the kinds table: ``"int"``,
    ``"float"``, ``"bool"``, ``"str"``, ``"ints"``, ``"dims"``, ``"array"``, ``"dtype"``),
    its ``default`` (``REQUIRED``: none; ``default_from`` computes one from the attributes
    before it, as a convolution's strides from its ``ndim``), whether None is allowed
    (``optional``: "not given", as ``in_units``), the allowed ``choices``, a further
    ``check`` (a problem, or ``""``) and the ONNX attribute it exports as (``onnx``). This
    is the one place an attribute's default lives: layers, the importer, the exporter and
    the reprs all read it here."""

    name: str
    kind: str
    default: Any = REQUIRED
    optional: bool = False
    choices: tuple[Any, ...] = ()
    check: Callable[[Any], str] | None = None
    default_from: Callable[[Mapping[str, Any]], Any] | None = None
    onnx: str = ""
    doc: str = ""

    def convert(self, value: Any, op: str) -> Any:
        """``value`` in its canonical form (tuples for ints, floats for numbers), or an
        :class:`AttrError` naming the op, the attribute and what it must be."""
        if (value is None and self.optional) or self.kind == "any":
            return value
        conv, what = _KINDS[self.kind]
        out = conv(value)
        problem = "" if out is not None else f"must be {what}{' or None' * self.optional}"
        if not problem and self.choices and out not in self.choices:
            problem = f"must be one of {', '.join(map(repr, self.choices))}"
        if not problem and self.check is not None:
            problem = self.check(out)
        if problem:
            raise AttrError(f"op `{op}`: attribute `{self.name}` {problem}, got {value!r}")
        return out


def positive(v: Any) -> str:
    """An :attr:`Attr.check`: every value (an int or a tuple) is at least 1."""
    vals = v if isinstance(v, tuple) else (v,)
    return "" if all(e >= 1 for e in vals) else "must be positive"


def non_negative(v: Any) -> str:
    """An :attr:`Attr.check`: every value is at least 0."""
    vals = v if isinstance(v, tuple) else (v,)
    return "" if all(e >= 0 for e in vals) else "must not be negative"


@dataclass(frozen=True, slots=True)
class Lowering:
    """How an op runs in a compiled plan: a ``kind`` of step the executor implements
    (``"dense"``, ``"activation"``, ``"alias"``...), with the kernel's ``code`` where one
    kind serves several ops (which activation, which binary operation, which reduction).
    The executor looks the kind up in one table; no pass switches on op names."""

    kind: str
    code: int = 0
    # the attributes the kernel takes as the op's float parameters, in order (an
    # activation's: leaky relu's ``("alpha",)``, clip's ``("min", "max")``; at most two)
    params: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpDef:
    """One op: its name, arity, shape rule, parameter rule and numpy reference semantics."""

    name: str
    shape_rule: ShapeRule
    reference: Reference
    param_rule: ParamRule = _no_params
    arity: tuple[int, int | None] = (1, 1)
    elementwise: bool = False
    same_shape: bool = False  # output 0 is input 0's type, dim for dim (rule not needed)
    # tracing without data: the rank this op assumes for an input of unknown rank
    # (a callable returning None passes the unknown rank on; None: it needs a known rank)
    lazy_rank: Callable[[Attrs], int | None] | None = None
    # the op takes an input of any rank of at least lazy_rank (a flattening dense): it
    # never decides an unknown rank (the static pass then tries each rank; see nn.root)
    any_rank: bool = False
    # inputs read as integer indices (an embedding's): a graph input used only there may
    # be int32/int64 instead of float32
    index_inputs: tuple[int, ...] = ()
    # the output's rank from the input ranks, when the rule fails: the pass gives the
    # output unknown dims of that rank, so independent conflicts further on still show
    out_rank: Callable[[tuple[int, ...], Attrs], int | None] = _max_rank
    doc: str = ""
    lowering: Lowering | None = None  # how it compiles (None: its numpy reference runs)
    onnx: str = ""  # the ONNX op type, when the op maps onto one node with no attributes
    no_kernel: str = ""  # why the executor has no kernel for this op (it then runs its reference)
    # the output values from the input values (shape vectors, small constants); an op with
    # one also sees its inputs' values in its shape rule (values.input_values)
    value_rule: ValueRule | None = None
    # the attributes the op takes, each with its type, default and check; a node's
    # attributes are completed and checked against this when it is created (``complete``)
    schema: tuple[Attr, ...] = ()
    # a check across attributes (a problem, or ""): one window size per spatial dim
    attrs_check: Callable[[Mapping[str, Any]], str] | None = None
    # the op's multiply-accumulates (convolutions, dense layers, matrix products: what the
    # usual FLOP figures count, a multiply-add being 2 FLOPs); None: not counted
    macs: MacRule | None = None
    # reserved for training: the op's vector-Jacobian rule (no op has one yet)
    gradient: Callable[..., Any] | None = None

    def complete(self, attrs: Mapping[str, Any]) -> dict[str, Any]:
        """``attrs`` checked against the schema, in canonical form, with every default
        filled in: passes then read ``attrs[name]`` and never repeat a default. An unknown
        name, a missing required attribute or a wrong type is an :class:`AttrError`."""
        names = {a.name for a in self.schema}
        unknown = sorted(set(attrs) - names)
        if unknown:
            takes = ", ".join(sorted(names)) or "no attributes"
            raise AttrError(f"op `{self.name}`: unknown attribute `{unknown[0]}` (it takes "
                            f"{takes})")
        out: dict[str, Any] = {}
        for a in self.schema:
            if a.name in attrs:
                out[a.name] = a.convert(attrs[a.name], self.name)
            elif a.default_from is not None:
                out[a.name] = a.default_from(out)
            elif a.default is REQUIRED:
                raise AttrError(f"op `{self.name}`: attribute `{a.name}` is required")
            else:
                out[a.name] = a.default
        problem = self.attrs_check(out) if self.attrs_check is not None else ""
        if problem:
            raise AttrError(f"op `{self.name}`: {problem}")
        return out

    def describe(self, attrs: Mapping[str, Any]) -> str:
        """``clip(min=0.0, max=6.0)``: the op with every scalar attribute that differs from
        its default (complete ``attrs``); shapes, axes lists and arrays are left out (the
        diagnostics explain those where they matter)."""
        shown = [f"{a.name}={attrs[a.name]!r}" for a in self.schema
                 if a.kind in _SCALAR_KINDS and a.name in attrs and a.default_from is None
                 and attrs[a.name] != a.default]
        return f"{self.name}({', '.join(shown)})" if shown else self.name

    def default(self, name: str) -> Any:
        """The default of attribute ``name`` (for a layer's signature: one place)."""
        for a in self.schema:
            if a.name == name:
                return a.default
        raise KeyError(f"op `{self.name}` has no attribute `{name}`")
