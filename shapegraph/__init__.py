"""shapegraph: symbolic shape inference, deferred initialization and a numba executor.

>>> import shapegraph as sg
>>> res = sg.propagate(sg.build.chain(2, [("dense", {"units": 10})]), {"x": ("batch", 20)})
>>> res.param_shape("0.weight")
(10, 20)
"""

from shapegraph import build, dims, render
from shapegraph.diagnostics import Diagnostic, Related, ShapeError
from shapegraph.dims import Hole, Sym
from shapegraph.graph import Graph
from shapegraph.propagate import Resolution, propagate
from shapegraph.types import TensorType

__version__ = "0.1.0"

__all__ = [
    "Diagnostic",
    "Graph",
    "Hole",
    "Related",
    "Resolution",
    "ShapeError",
    "Sym",
    "TensorType",
    "build",
    "dims",
    "propagate",
    "render",
]
