"""ONNX interchange (optional dependency ``onnx``): export now, import in a later issue."""

from shapegraph.onnx.export import OPSET, to_onnx

__all__ = ["OPSET", "to_onnx"]
