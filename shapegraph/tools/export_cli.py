"""``shapegraph export TARGET --input NAME=DIMS ... -o model.onnx``: write a network as an ONNX
model, symbolic dims kept as ``dim_param``. Exit 0 when written, 1 when the network's
shapes conflict (the diagnostics are printed, nothing is written), 2 for a bad command."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from shapegraph.tools.check_cli import (
    TargetError,
    _ordered_inputs,
    input_dtypes,
    load_target,
    parse_inputs,
)

__all__ = ["add_export_parser", "run_export"]


def add_export_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="write a network as an ONNX model",
                       description="Write a network as an ONNX model (opset 17), its symbolic "
                       "dims kept as dim_param.")
    p.add_argument("target", help="file.py:NAME, package.module:NAME or model.onnx")
    p.add_argument("--input", action="append", default=[], metavar="NAME=DIMS[:DTYPE]",
                   help="every input's dims, ints or symbol names: x=batch,3,224,224")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the .onnx file")


def run_export(args: argparse.Namespace) -> int:
    """The ``export`` subcommand; returns the exit code."""
    from shapegraph.api.export import export_onnx
    from shapegraph.onnx.importer import OnnxModel
    from shapegraph.render.errors import ShapeError

    try:
        net, display = load_target(args.target)
        inputs = _ordered_inputs(net, parse_inputs(args.input), input_dtypes(args.input))
        if not inputs and not isinstance(net, OnnxModel):
            raise TargetError("--input: give every input's dims (the exported model keeps "
                              "symbol names such as batch as dim_param)")
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise TargetError(f"-o {args.output}: no such folder {folder}")
        proto = export_onnx(net, *inputs, path=args.output)
    except TargetError as e:
        print(f"shapegraph export: {e}", file=sys.stderr)
        return 2
    except ShapeError as e:
        print(str(e), file=sys.stderr)
        print(f"shapegraph export: {display}: not written (the shapes conflict)",
              file=sys.stderr)
        return 1
    ins = ", ".join(f"{i.name}[{_dims(i)}]" for i in proto.graph.input)
    print(f"wrote {args.output}: {len(proto.graph.node)} nodes, opset "
          f"{proto.opset_import[0].version}, inputs {ins}")
    return 0


def _dims(value_info: Any) -> str:
    """``batch,20``: an ONNX input's dims, dim_param names kept."""
    return ",".join(d.dim_param or str(d.dim_value) for d in value_info.type.tensor_type.shape.dim)
