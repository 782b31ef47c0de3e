"""Parameters on disk: ``.npz`` that never unpickles, written atomically.

The file holds one array per structured parameter name plus ``__shapegraph__``, a small
JSON header (format and version) stored as bytes. Saving writes a temporary file next to
the target and renames it over the target, so an interrupted save leaves the old file
intact. Loading checks everything first (the file, every name, every shape, and the
shapes against the network's declarations) and changes nothing unless all of it fits.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import TYPE_CHECKING

import numpy as np

from shapegraph.frontend.params import Parameter, shape_str
from shapegraph.frontend.root import static_shapes

if TYPE_CHECKING:
    from shapegraph.frontend.block import Block

__all__ = ["CheckpointError", "load_parameters", "save_parameters"]

FORMAT = "shapegraph-parameters"
VERSION = 1
_HEADER = "__shapegraph__"


class CheckpointError(ValueError):
    """A parameter file that cannot be used: names the file and the parameter."""


def save_parameters(block: Block, filename: str | os.PathLike[str]) -> None:
    """Write every initialized parameter of ``block`` to ``filename``."""
    path = os.fspath(filename)
    params = block.collect_params()
    arrays: dict[str, np.ndarray] = {}
    for key, p in params.items():
        if not p.is_initialized:
            p.data()  # raises the error that says why the parameter does not exist yet
        arrays[key] = p.data()
    header = json.dumps({"format": FORMAT, "version": VERSION, "names": list(arrays)})
    arrays[_HEADER] = np.frombuffer(header.encode(), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".shapegraph-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(path: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such parameter file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a shapegraph parameter file (not an .npz archive; "
                              "truncated or another format)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise CheckpointError(f"{path}: not a readable shapegraph parameter file ({e})") from None
    header = arrays.pop(_HEADER, None)
    try:
        meta = json.loads(bytes(header).decode()) if header is not None else None
    except (ValueError, UnicodeDecodeError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a shapegraph parameter file (no valid "
                              f"{_HEADER} header)")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: parameter file version {meta.get('version')} is not "
                              f"supported (this shapegraph reads version {VERSION})")
    return arrays


def _check_shape(path: str, key: str, p: Parameter, arr: np.ndarray) -> None:
    if arr.ndim != len(p.shape) or any(
            want is not None and want != got for want, got in zip(p.shape, arr.shape,
                                                                    strict=False)):
        raise CheckpointError(f"{path}: parameter '{key}' has shape {arr.shape} in the file, "
                              f"but the network declares {shape_str(p.shape)}")
    if arr.dtype.kind not in "fiu":
        raise CheckpointError(f"{path}: parameter '{key}' has dtype {arr.dtype} in the file")


def load_parameters(block: Block, filename: str | os.PathLike[str],
                    allow_missing: bool = False, ignore_extra: bool = False) -> None:
    """Load ``filename`` into ``block``; unknown dims of deferred parameters are filled in
    after checking the file's shapes against every declaration of the network."""
    path = os.fspath(filename)
    arrays = _read(path)
    params = block.collect_params()
    missing = [k for k in params if k not in arrays]
    extra = [k for k in arrays if k not in params]
    if missing and not allow_missing:
        raise CheckpointError(f"{path}: parameter '{missing[0]}' is missing from the file "
                              f"({len(missing)} missing; pass allow_missing=True to keep them)")
    if extra and not ignore_extra:
        raise CheckpointError(f"{path}: the file has parameter '{extra[0]}', which the network "
                              f"does not have ({len(extra)} extra; pass ignore_extra=True)")
    todo = {k: arrays[k] for k in params if k in arrays}
    for key, arr in todo.items():
        _check_shape(path, key, params[key], arr)
    _check_network(block, {k: tuple(a.shape) for k, a in todo.items()
                           if not params[k].known})
    for key, arr in todo.items():
        p = params[key]
        notes = [f"loaded from {os.path.basename(path)}" if d is None else None
                 for d in p.shape]
        p._commit(np.array(arr, dtype=p.dtype), notes)
        p._initialize_called = True


def _check_network(block: Block, shapes: dict[str, tuple[int, ...]]) -> None:
    """Raise ShapeError when the loaded shapes contradict the network's declarations."""
    if not shapes:
        return
    static_shapes(block, shapes)
