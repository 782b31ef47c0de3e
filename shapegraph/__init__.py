"""shapegraph: symbolic shape inference, deferred initialization and a numba executor.

>>> import shapegraph as sg
>>> res = sg.propagate(sg.build.chain(2, [("dense", {"units": 10})]), {"x": ("batch", 20)})
>>> res.param_shape("0.weight")
(10, 20)
"""

from shapegraph import build, dims, init, nd, nn, ops, render
from shapegraph.check import Report, check
from shapegraph.compile import CompiledModel, Input, compile
from shapegraph.diagnostics import Diagnostic, Related, ShapeError
from shapegraph.dims import Hole, Sym
from shapegraph.graph import Graph
from shapegraph.nn.root import UnusedLayerWarning
from shapegraph.params import (
    DeferredInitializationError,
    Parameter,
    ParameterDict,
    UninitializedParameterError,
)
from shapegraph.propagate import Resolution, propagate
from shapegraph.trace import TraceError
from shapegraph.types import TensorType

__version__ = "0.1.0"

__all__ = [
    "CompiledModel",
    "DeferredInitializationError",
    "Diagnostic",
    "Graph",
    "Hole",
    "Input",
    "Parameter",
    "ParameterDict",
    "Related",
    "Report",
    "Resolution",
    "ShapeError",
    "Sym",
    "TensorType",
    "TraceError",
    "UninitializedParameterError",
    "UnusedLayerWarning",
    "build",
    "check",
    "compile",
    "dims",
    "init",
    "nd",
    "nn",
    "ops",
    "propagate",
    "render",
]
