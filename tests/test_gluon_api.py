"""The Gluon API around the chapter (model construction, parameter management, custom
layers): custom parameters with deferred shapes, Gluon 1's params.get / get_constant and
hybrid_forward, keyword inputs, ctx, and what is refused with a clear message."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import init, nn, ops
from shapegraph.frontend.block import InferShapeNotNeeded


class MyDense(nn.Block):
    """Gluon 2: a custom layer whose weight's input width is unknown at declaration."""

    def __init__(self, units: int) -> None:
        super().__init__()
        self.weight = sg.Parameter("weight", shape=(units, None))
        self.bias = sg.Parameter("bias", shape=(units,))

    def forward(self, x: Any) -> Any:
        return ops.relu(x @ self.weight.data().T + self.bias.data())


class MyDense1(nn.Block):
    """Gluon 1 (what D2L uses): params.get with 0 for unknown, a constant, hybrid_forward."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weight = self.params.get("weight", shape=(units, 0))
        self.scale = self.params.get_constant("scale", [2.0])

    def hybrid_forward(self, F: Any, x: Any, weight: Any, scale: Any) -> Any:
        return F.relu(F.matmul(x, weight.T)) * scale


@pytest.mark.parametrize("layer", [MyDense, MyDense1])
def test_custom_parameter_is_inferred_created_and_run(layer: Any) -> None:
    net = nn.Sequential()
    net.add(layer(4), nn.Dense(2))
    net.initialize(init.Xavier())
    assert net[0].weight.shape == (4, None) and not net[0].weight.is_initialized
    assert sg.check(net, sg.Input("x", ("b", 6))).ok  # before any data
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    y = net(x)
    w = net[0].weight.data()
    assert w.shape == (4, 6)
    h = np.maximum(x @ w.T + (net[0].bias.data() if layer is MyDense else 0), 0)
    h = h * (2.0 if layer is MyDense1 else 1.0)
    want = h @ net[1].weight.data().T + net[1].bias.data()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    model = sg.compile(net, sg.Input("x", ("b", 6)))
    np.testing.assert_allclose(model(x), y, rtol=1e-5, atol=1e-5)


def test_custom_parameter_conflict_names_the_layer() -> None:
    net = MyDense(4)
    net.weight.set_data(np.ones((4, 5), np.float32))
    report = sg.check(net, sg.Input("x", ("b", 6)))
    assert not report.ok
    assert "6" in report.render("text") and "5" in report.render("text")


def test_constant_survives_force_reinit() -> None:
    net = MyDense1(3)
    net.initialize()
    net(np.ones((1, 2), np.float32))
    net.initialize(force_reinit=True)
    assert net.scale.data().tolist() == [2.0]


def test_parameter_declarations_are_checked() -> None:
    with pytest.raises(TypeError, match="give a shape"):
        sg.Parameter("w")
    with pytest.raises(ValueError, match="only float32"):
        sg.Parameter("w", shape=(2,), dtype="float16")
    with pytest.raises(ValueError, match="positive ints"):
        sg.Parameter("w", shape=(2, -1))
    with pytest.raises(TypeError, match="unexpected keyword"):
        sg.Parameter("w", shape=(2,), grad_reqq="null")  # type: ignore[call-arg]
    assert sg.Parameter("w", shape=(3, 0), grad_req="null").shape == (3, None)


def test_infer_shape_hook_is_told_it_is_not_needed() -> None:
    with pytest.warns(InferShapeNotNeeded, match="not needed"):
        class WithHook(MyDense):
            def infer_shape(self, x: Any) -> None:
                self.weight.shape = (4, x.shape[1])
    net = WithHook(4)
    net.initialize()
    assert net(np.ones((2, 6), np.float32)).shape == (2, 4)


class Diff(nn.Block):
    def forward(self, x: Any, y: Any) -> Any:
        return x - y


def test_keyword_inputs() -> None:
    net = Diff()
    net.initialize()
    a, b = np.ones((1, 2), np.float32), np.full((1, 2), 3, np.float32)
    np.testing.assert_array_equal(net(x=a, y=b), a - b)
    np.testing.assert_array_equal(net(a, y=b), a - b)
    np.testing.assert_array_equal(net(y=b, x=a), a - b)
    with pytest.raises(TypeError, match="given twice"):
        net(a, x=a)
    with pytest.raises(TypeError, match="unknown input `z`"):
        net(x=a, z=b)


def test_ctx_and_gluon_options() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(2))
    net.initialize(ctx="cpu", verbose=True)
    with pytest.raises(ValueError, match="CPU only"):
        net.initialize(ctx="gpu(0)", force_reinit=True)
    with pytest.raises(TypeError):
        net.initialize(inti=init.Xavier())  # type: ignore[call-arg]
    net.hybridize(static_alloc=True, static_shape=True)
    assert net(np.ones((1, 3), np.float32)).shape == (1, 2)


# -- integer token ids ---------------------------------------------------------------------


def test_integer_token_ids_are_not_pushed_through_float32() -> None:
    net = nn.Sequential()
    net.add(nn.Embedding(20_000_000, 2))
    net.initialize(init="zeros")
    net[0].weight.data()[16_777_217] = 7.0  # float32 cannot hold 16777217: it rounds down
    ids = np.array([[16_777_217, 3]], np.int64)
    assert net(ids)[0, 0].tolist() == [7.0, 7.0]
    model = sg.compile(net, sg.Input("ids", ("b", 2), dtype="int64"))
    assert model(ids)[0, 0].tolist() == [7.0, 7.0]
    assert model(ids.astype(np.int32))[0, 0].tolist() == [7.0, 7.0]
    with pytest.raises(TypeError, match="takes int64 token ids"):
        model(ids.astype(np.float32))


def test_integer_input_into_a_float_layer_is_a_diagnostic() -> None:
    net = nn.Sequential()
    net.add(nn.Dense(3))
    net.initialize()
    report = sg.check(net, sg.Input("x", ("b", 2), dtype="int32"))
    assert [d.code for d in report.diagnostics] == ["SG211"]
    assert "reads it as float32" in report.diagnostics[0].message
    with pytest.raises(sg.ShapeError, match="SG211"):
        sg.compile(net, sg.Input("x", ("b", 2), dtype="int32"))
    with pytest.raises(ValueError, match="int32/int64 for token ids"):
        sg.Input("x", ("b", 2), dtype="float16")
    assert net(np.ones((1, 2), np.int64)).shape == (1, 3)  # ints into a Dense: as floats


def test_cli_input_dtype(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from shapegraph.tools.cli import main

    path = tmp_path / "m.py"
    path.write_text("from shapegraph import nn\nnet = nn.Sequential()\n"
                    "net.add(nn.Embedding(100, 4), nn.Dense(2))\n"
                    "bad = nn.Sequential()\nbad.add(nn.Dense(2))\n")
    assert main(["check", f"{path}:net", "--input", "x=batch,7:int64", "--color", "never"]) == 0
    assert "i64[batch,7]" in capsys.readouterr().out
    assert main(["check", f"{path}:bad", "--input", "x=batch,7:int32"]) == 1
    assert "SG211" in capsys.readouterr().out
    assert main(["check", f"{path}:net", "--input", "x=batch,7:int8"]) == 2
    assert "unknown dtype" in capsys.readouterr().err
