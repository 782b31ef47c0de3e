"""ONNX interchange (optional dependency ``onnx``): import (``load_onnx``) and export
(``to_onnx``)."""

from shapegraph.onnx.export import OPSET, to_onnx
from shapegraph.onnx.importer import SUPPORTED, OnnxError, OnnxModel, load_onnx

__all__ = ["OPSET", "SUPPORTED", "OnnxError", "OnnxModel", "load_onnx", "to_onnx"]
