"""Layer arguments: checked against the layer's signature, and shown as the call that builds it.

A layer's ``__init__`` is its whole signature: there is no ``**kwargs`` where a misspelled
argument could disappear. :func:`strict_init` (applied to every layer by
``_Layer.__init_subclass__``) turns a call that does not fit into a ``TypeError`` that names
the layer, the argument and the closest valid name, including the usual PyTorch and Keras
names that are too far from Gluon's for a spelling match:

>>> from shapegraph import nn
>>> nn.Conv2D(16, kernel_size=3, stride=2)
Traceback (most recent call last):
TypeError: Conv2D() got an unexpected keyword argument 'stride'; did you mean 'strides'?

:func:`call_string` writes a layer the way a user would build it, from one table of
``(argument, default)`` per layer: every argument that differs from its default, so two
layers that compute different things never print alike.

>>> call_string("MaxPool2D", (("pool_size", ALWAYS), ("strides", None)),
...             {"pool_size": (3, 3), "strides": (2, 2)})
'MaxPool2D(pool_size=3, strides=2)'
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

__all__ = [
    "ALIASES",
    "ALWAYS",
    "POSITIONAL",
    "call_args",
    "call_string",
    "show_value",
    "strict_init",
    "unexpected_message",
]

F = TypeVar("F", bound=Callable[..., None])


class _Mark:
    """A table entry's default that is no default: how an argument is always shown."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


POSITIONAL: Final = _Mark("POSITIONAL")  # always shown, without its name: Dense(256)
ALWAYS: Final = _Mark("ALWAYS")  # always shown, with its name: kernel_size=3

# Other frameworks' names for Gluon's arguments that a spelling match would not find:
# wrong name -> (the Gluon names it may mean, the first one the layer has wins; whose name)
ALIASES: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "in_features": (("in_units",), "PyTorch's"),
    "out_features": (("units",), "PyTorch's"),
    "input_dim": (("in_units",), "Keras's"),
    "out_channels": (("channels",), "PyTorch's"),
    "filters": (("channels",), "Keras's"),
    "num_features": (("in_channels",), "PyTorch's"),
    "normalized_shape": (("in_channels",), "PyTorch's"),
    "bias": (("use_bias",), "PyTorch's"),
    "kernel": (("kernel_size", "pool_size"), "a common"),
    "kernel_size": (("pool_size",), "PyTorch's"),
    "dilation_rate": (("dilation",), "Keras's"),
    "kernel_initializer": (("weight_initializer",), "Keras's"),
    "embeddings_initializer": (("weight_initializer",), "Keras's"),
    "data_format": (("layout",), "Keras's"),
    "eps": (("epsilon",), "PyTorch's"),
    "p": (("rate",), "PyTorch's"),
    "num_embeddings": (("input_dim",), "PyTorch's"),
    "embedding_dim": (("output_dim",), "PyTorch's"),
}


def _names(sig: inspect.Signature) -> list[str]:
    """The arguments a caller may name (``self`` and ``*args``/``**kwargs`` left out)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in list(sig.parameters.values())[1:] if p.kind in kinds]


def _suggestion(name: str, valid: Sequence[str]) -> str:
    """`` (did you mean 'strides'?)``-style advice for one unknown name, or ``""``."""
    targets, whose = ALIASES.get(name, ((), ""))
    for target in targets:
        if target in valid:
            return f"did you mean '{target}'? ('{name}' is {whose} name for it)"
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


def unexpected_message(layer: str, unknown: Sequence[str], valid: Sequence[str]) -> str:
    """The message for keyword arguments ``unknown`` that ``layer`` does not take.

    >>> unexpected_message("Dense", ["use_bais"], ["units", "use_bias"])
    "Dense() got an unexpected keyword argument 'use_bais'; did you mean 'use_bias'?"
    """
    tips = [_suggestion(n, valid) for n in unknown]
    if len(unknown) == 1:
        text = f"{layer}() got an unexpected keyword argument '{unknown[0]}'"
        text += f"; {tips[0]}" if tips[0] else ""
    else:
        text = f"{layer}() got unexpected keyword arguments " + ", ".join(
            f"'{n}'" + (f" ({t})" if t else "") for n, t in zip(unknown, tips, strict=True))
    if not any(tips):
        text += f"; it takes: {', '.join(valid)}"
    return text


def _bind_message(layer: str, sig: inspect.Signature, args: tuple[Any, ...],
                  kwargs: Mapping[str, Any], error: TypeError) -> str:
    valid = _names(sig)
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    unknown = [] if has_var_kw else [k for k in kwargs if k not in valid]
    if unknown:
        return unexpected_message(layer, unknown, valid)
    positional = [p.name for p in list(sig.parameters.values())[1:]
                  if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    if "too many positional" in str(error):
        if not positional:
            return f"{layer}() takes no positional arguments, got {len(args)}"
        return (f"{layer}() takes at most {len(positional)} positional arguments "
                f"({', '.join(positional)}), got {len(args)}; pass the others by name")
    return f"{layer}() {error}"


def strict_init(init: F) -> F:
    """``init`` checking its call first: arguments that do not fit its signature raise a
    ``TypeError`` naming the layer (``type(self).__name__``), before anything is built."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def checked(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            sig.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(_bind_message(type(self).__name__, sig, args, kwargs, e)) from None
        init(self, *args, **kwargs)

    return checked  # type: ignore[return-value]


def _compact(value: Any) -> Any:
    """``(5, 5)`` -> ``5``: a per-dimension value that is the same in every dimension."""
    if isinstance(value, tuple) and value and all(v == value[0] for v in value):
        return value[0]
    return value


def show_value(value: Any) -> str:
    """A value as it is written in a call: ``(5, 5)`` as ``5``, ``(3, 5)`` as ``(3, 5)``."""
    return repr(_compact(value))


def _same(value: Any, default: Any) -> bool:
    value = _compact(value)  # the type too: False is not the default 0
    return type(value) is type(default) and bool(value == default)


def call_args(table: Sequence[tuple[str, Any]], args: Mapping[str, Any],
              skip: Sequence[str] = ()) -> list[str]:
    """``["16", "kernel_size=3", "strides=2"]``: the table's arguments as written in a call,
    the ones equal to their default left out."""
    out = []
    for name, default in table:
        value = args[name]
        if name in skip:
            continue
        if default is POSITIONAL:
            out.append(show_value(value))
        elif default is ALWAYS or not _same(value, default):
            out.append(f"{name}={show_value(value)}")
    return out


def call_string(layer: str, table: Sequence[tuple[str, Any]], args: Mapping[str, Any]) -> str:
    """``Conv2D(16, kernel_size=3, strides=2)``: a call that builds this layer again."""
    return f"{layer}({', '.join(call_args(table, args))})"
