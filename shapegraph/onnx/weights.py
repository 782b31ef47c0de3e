"""What the ONNX importer, its handlers and the exporter share: the optional ``onnx``
package, weights known when the file is read, and the two ways a file or a node is
refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SMALL", "OnnxError", "Unsupported", "Weight", "require_onnx"]

SMALL = 4096  # constants up to this many elements become constant nodes (values fold)


def require_onnx(what: str) -> Any:
    """The ``onnx`` package, or an ImportError saying how to install it for ``what``."""
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"{what} needs the onnx package: pip install 'shapegraph[onnx]'"
                          ) from e
    return onnx


class OnnxError(ValueError):
    """The file cannot be read as an ONNX model (one line: what and which file)."""


@dataclass(frozen=True)
class Weight:
    """A tensor known when the file is read: its shape, where it came from, and how to
    make its values (only when the model runs)."""

    shape: tuple[int, ...]
    origin: str
    make: Callable[[], np.ndarray]
    small: np.ndarray | None = None  # the values, when they are few (shape vectors...)

    def array(self) -> np.ndarray:
        return self.small if self.small is not None else self.make()


class Unsupported(Exception):
    """This node (or this configuration of it) cannot be imported: why, and what to do."""

    def __init__(self, reason: str, help: str = "") -> None:
        super().__init__(reason)
        self.reason, self.help = reason, help
