"""``sg.export_onnx`` and ``shapegraph export``: the model passes onnx.checker (full check)
and strict shape inference with data propagation, keeps symbolic dims as ``dim_param``,
runs in ONNX Runtime with the network's outputs, and imports back (``sg.load_onnx``) to
the same types and outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import nn

onnx = pytest.importorskip("onnx")


def cnn() -> nn.Block:
    net = nn.Sequential()
    net.add(nn.Conv2D(8, 3, padding=1, activation="relu"), nn.BatchNorm(), nn.LeakyReLU(0.1),
            nn.MaxPool2D(2), nn.Conv2D(8, 3, groups=2), nn.ELU(), nn.GlobalAvgPool2D(),
            nn.Dense(10), nn.Swish())
    net.initialize()
    return net


def mlp() -> nn.Block:
    net = nn.Sequential()
    net.add(nn.Dense(32, activation="tanh"), nn.Dropout(0.5), nn.Dense(4), nn.PReLU())
    net.initialize()
    return net


CASES = [(cnn, ("batch", 3, 16, 16)), (mlp, ("n", 12))]


def _dims(vi: Any) -> list[Any]:
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


@pytest.mark.parametrize(("make", "shape"), CASES, ids=["cnn", "mlp"])
def test_export_checks_runs_and_round_trips(make: Any, shape: tuple[Any, ...],
                                            tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    net = make()
    target = tmp_path / "net.onnx"
    proto = sg.export_onnx(net, sg.Input("x", shape), path=target)
    onnx.checker.check_model(proto, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    assert _dims(inferred.graph.input[0]) == list(shape)
    assert _dims(inferred.graph.output[0])[0] == shape[0]  # the batch stays symbolic
    x = np.random.default_rng(0).standard_normal((3, *shape[1:])).astype(np.float32)
    want = net(x)
    sess = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], want, rtol=1e-5, atol=1e-5)
    back = sg.load_onnx(target)
    report = sg.check(back)
    assert report.ok
    out = report.resolution.type_of(back.graph.outputs[0])
    assert str(out) == str(sg.check(net, sg.Input("x", shape)).resolution.type_of(
        sg.compile(net, sg.Input("x", shape)).graph.outputs[0]))
    np.testing.assert_allclose(back(x), want, rtol=1e-5, atol=1e-5)


def test_a_conflict_writes_nothing(tmp_path: Path) -> None:
    net = nn.Sequential()
    net.add(nn.Dense(8, in_units=5))
    net.initialize()
    with pytest.raises(sg.ShapeError):
        sg.export_onnx(net, sg.Input("x", ("batch", 6)), path=tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shapegraph", "export", *args],
                          capture_output=True, text=True, cwd=cwd)


def test_the_export_command(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(
        "from shapegraph import nn\nnet = nn.Sequential()\n"
        "net.add(nn.Dense(16, activation='relu'), nn.Dense(3))\nnet.initialize()\n"
        "bad = nn.Sequential()\nbad.add(nn.Dense(8, in_units=5))\n")
    ok = _cli("model.py:net", "--input", "x=batch,20", "-o", "out.onnx", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "wrote out.onnx: 3 nodes, opset 17, inputs x[batch,20]\n"
    model = sg.load_onnx(tmp_path / "out.onnx")
    assert str(model.input_types["x"]) == "f32[batch,20]"
    conflict = _cli("model.py:bad", "--input", "x=batch,6", "-o", "bad.onnx", cwd=tmp_path)
    assert conflict.returncode == 1 and "error[SG201]" in conflict.stderr
    assert "not written" in conflict.stderr and not (tmp_path / "bad.onnx").exists()
    missing = _cli("model.py:net", "-o", "x.onnx", cwd=tmp_path)
    assert missing.returncode == 2 and "give every input's dims" in missing.stderr


def test_a_ceil_mode_window_onnx_would_drop_is_refused_not_exported_wrong() -> None:
    """MXNet keeps a last ceil-mode window that starts in the padding; ONNX drops it. Such
    a pool is refused with the reason; one where both agree exports and runs alike."""
    ort = pytest.importorskip("onnxruntime")
    net = nn.Sequential()
    net.add(nn.MaxPool2D(pool_size=1, strides=2, ceil_mode=True))
    net.initialize()
    with pytest.raises(NotImplementedError, match="MXNet keeps that window and ONNX drops it"):
        sg.export_onnx(net, sg.Input("x", (1, 1, 2, 2)))
    net = nn.Sequential()
    net.add(nn.AvgPool2D(pool_size=3, strides=2, ceil_mode=True))
    net.initialize()
    proto = sg.export_onnx(net, sg.Input("x", (2, 3, 8, 8)))
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], net(x), rtol=1e-5, atol=1e-6)
