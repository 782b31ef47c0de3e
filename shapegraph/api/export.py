"""``sg.export_onnx(net, *inputs, path=None)``: a network (or an imported model) as an ONNX
model, its symbolic dims kept as ``dim_param`` (``batch``), its weights as initializers.

The model passes ``onnx.checker`` (full check) and strict shape inference, and ONNX
Runtime gives the same outputs (``tests/test_onnx_export.py``).
"""

from __future__ import annotations

import os
from typing import Any

from shapegraph.api.compile import Input, compile

__all__ = ["export_onnx"]


def export_onnx(net: Any, *inputs: Input | Any, path: str | os.PathLike[str] | None = None
                ) -> Any:
    """The ONNX ``ModelProto`` of ``net`` compiled for ``inputs`` (``sg.Input`` specs or
    sample arrays, as ``sg.compile`` takes them); written to ``path`` when given. Raises
    ShapeError (nothing written) when the shapes conflict."""
    from shapegraph.onnx.export import to_onnx

    model = compile(net, *inputs, debug=True)  # the types and weights; no kernels are made
    res = model.resolution
    assert res is not None and model.input_types is not None
    types = dict(zip(model.input_names, model.input_types, strict=True))
    proto = to_onnx(model.graph, types, model.params, types=dict(enumerate(res.types)))
    if path is not None:
        import onnx

        onnx.save(proto, os.fspath(path))
    return proto
