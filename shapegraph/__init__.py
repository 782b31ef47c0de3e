"""shapegraph: symbolic shape inference, deferred initialization and a numba executor.

>>> import shapegraph as sg
>>> res = sg.propagate(sg.build.chain(2, [("dense", {"units": 10})]), {"x": ("batch", 20)})
>>> res.param_shape("0.weight")
(10, 20)
"""

from shapegraph import init, nd, nn, ops, render
from shapegraph.api.check import Report, check
from shapegraph.api.compile import Input, compile
from shapegraph.api.export import export_onnx
from shapegraph.api.summary import Summary, summary
from shapegraph.core import dims
from shapegraph.core.diagnostics import Diagnostic, Related
from shapegraph.core.dims import Hole, Sym
from shapegraph.core.graph import Graph
from shapegraph.core.types import TensorType
from shapegraph.executor.model import CompiledModel
from shapegraph.frontend.params import (
    DeferredInitializationError,
    Parameter,
    ParameterDict,
    UninitializedParameterError,
)
from shapegraph.frontend.root import UnusedLayerWarning
from shapegraph.frontend.trace import TraceError
from shapegraph.infer.propagate import Resolution, propagate
from shapegraph.onnx.importer import OnnxModel, load_onnx
from shapegraph.opset import build
from shapegraph.render.errors import ShapeError

__version__ = "0.1.0"

__all__ = [
    "CompiledModel",
    "DeferredInitializationError",
    "Diagnostic",
    "Graph",
    "Hole",
    "Input",
    "OnnxModel",
    "Parameter",
    "ParameterDict",
    "Related",
    "Report",
    "Resolution",
    "ShapeError",
    "Summary",
    "Sym",
    "TensorType",
    "TraceError",
    "UninitializedParameterError",
    "UnusedLayerWarning",
    "build",
    "check",
    "compile",
    "dims",
    "export_onnx",
    "init",
    "load_onnx",
    "nd",
    "nn",
    "ops",
    "propagate",
    "render",
    "summary",
]
