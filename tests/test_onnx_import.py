"""ONNX import on the nine real models the onnx package ships (``backend/test/data/light``,
opset 9, weights as ``ConstantOfShape`` over int64 shape initializers): every one checks
clean for its declared input; with a symbolic batch, the seven whose Reshape target is a
constant report SG212; injected errors are each found at their node, independent ones in
one run; every model runs and matches its shipped reference output and ONNX Runtime (and,
with random weights put in place of the constant ones, ONNX Runtime still). Plus the
importer's refusals: unreadable files and unsupported ops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plan_checks import arena_conflicts

import shapegraph as sg
from shapegraph.onnx.importer import OnnxError, load_onnx

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))
# the models whose Reshape target is a constant with the batch size 1 in it
PINNED = {"bvlc_alexnet": "n15", "inception_v1": "n140", "inception_v2": "n506",
          "resnet50": "n173", "shufflenet": "n7", "vgg19": "n37", "zfnet512": "n15"}


def path(name: str) -> str:
    return str(LIGHT / f"light_{name}.onnx")


def test_the_nine_models_are_there() -> None:
    assert MODELS == ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2",
                      "resnet50", "shufflenet", "squeezenet", "vgg19", "zfnet512"]


@pytest.mark.parametrize("name", MODELS)
def test_each_model_checks_clean_for_its_declared_input(name: str) -> None:
    model = load_onnx(path(name))
    report = sg.check(model)
    assert report.ok and report.diagnostics == ()
    (out,) = model.graph.outputs
    assert str(report.resolution.type_of(out)) in ("f32[1,1000]", "f32[1,1000,1,1]")


@pytest.mark.parametrize("name", MODELS)
def test_a_symbolic_batch_finds_the_models_that_only_work_at_batch_1(name: str) -> None:
    model = load_onnx(path(name))
    report = sg.check(model, ("N", 3, 224, 224))
    found = [(d.code, d.path) for d in report.diagnostics]
    if name in PINNED:
        assert found == [("SG212", PINNED[name])]
        (d,) = report.diagnostics
        assert "only works for batch size N = 1" in d.message
        assert "initializer" in str(d)  # the constant's origin is named
    else:
        assert found == []


def _alexnet_with(**shapes: list[int]) -> Any:
    proto = onnx.load(path("bvlc_alexnet"))
    for i, init in enumerate(proto.graph.initializer):
        if init.name in shapes:
            proto.graph.initializer[i].CopyFrom(numpy_helper.from_array(
                np.array(shapes[init.name], np.int64), init.name))
    return proto


def _inject(proto: Any, kind: str) -> str | None:
    """Put one error into ``proto`` (in place) and return the initializer changed: ``conv``
    gives the first Conv's weight one input channel too many; ``gemm`` gives the first Gemm
    whose weight is a ConstantOfShape (the last Conv where there is none) one inner
    feature too few; ``reshape`` makes the first Reshape target's last size one smaller.
    None when the model has no such node."""
    nodes = list(proto.graph.node)
    shape_of = {n.output[0]: n.input[0] for n in nodes if n.op_type == "ConstantOfShape"}
    if kind == "conv":
        conv = next(n for n in nodes if n.op_type == "Conv")
        target, where, delta = shape_of[conv.input[1]], 1, 1
    elif kind == "gemm":
        gemms = [n for n in nodes if n.op_type == "Gemm" and n.input[1] in shape_of]
        node = (gemms or [n for n in nodes if n.op_type == "Conv"][-1:])[0]
        target, where, delta = shape_of[node.input[1]], 1, -1
    else:
        reshapes = [n for n in nodes if n.op_type == "Reshape"]
        if not reshapes:
            return None
        target, where, delta = reshapes[0].input[1], -1, -1
    for init in proto.graph.initializer:
        if init.name == target:
            dims = numpy_helper.to_array(init).copy()
            dims[where] += delta
            init.CopyFrom(numpy_helper.from_array(dims, target))
    return target


# Each model with each injected error alone (the diagnostics, written out), then with all
# of them at once: independent errors each at their own node in one run (a Gemm after a
# broken Reshape has no input width to compare, so its error is not independent).
_CONV = ("SG201", "n0", "input channels = 3, but in_channels = 4")
INJECTED: dict[str, dict[str, list[tuple[str, str, str]]]] = {
    "bvlc_alexnet": {
        "conv": [_CONV],
        "gemm": [("SG201", "n16", "input features = 9216, but weight in_units = 9215")],
        "reshape": [("SG205", "n15", "cannot reshape f32[1,256,6,6] (9216 elements) to "
                     "(1, 9215) (9215 elements)")],
        "all": [_CONV[:2], ("SG205", "n15")]},
    "densenet121": {
        "conv": [_CONV],
        "gemm": [("SG201", "n909", "input channels = 1024, but in_channels = 1023")],
        "all": [_CONV[:2], ("SG201", "n909")]},
    "inception_v1": {
        "conv": [_CONV],
        "gemm": [("SG201", "n135", "input channels = 832, but in_channels = 831")],
        "reshape": [("SG205", "n140", "cannot reshape f32[1,1024,1,1] (1024 elements) to "
                     "(1, 1023) (1023 elements)")],
        "all": [_CONV[:2], ("SG201", "n135"), ("SG205", "n140")]},
    "inception_v2": {
        "conv": [_CONV],
        "gemm": [("SG201", "n507", "input features = 1024, but weight in_units = 1023")],
        "reshape": [("SG205", "n506", "cannot reshape f32[1,1024,1,1] (1024 elements) to "
                     "(1, 1023) (1023 elements)")],
        "all": [_CONV[:2], ("SG205", "n506")]},
    "resnet50": {
        "conv": [_CONV],
        "gemm": [("SG201", "n174", "input features = 2048, but weight in_units = 2047")],
        "reshape": [("SG205", "n173", "cannot reshape f32[1,2048,1,1] (2048 elements) to "
                     "(1, 2047) (2047 elements)")],
        "all": [_CONV[:2], ("SG205", "n173")]},
    "shufflenet": {
        "conv": [_CONV],
        "gemm": [("SG201", "n201", "input features = 544, but weight in_units = 543")],
        "reshape": [("SG205", "n7", "cannot reshape f32[1,112,56,56] (351232 elements) to "
                     "(1, 4, 28, 56, 55) (344960 elements)")],
        "all": [_CONV[:2], ("SG205", "n7")]},
    "squeezenet": {
        "conv": [_CONV],
        "gemm": [("SG201", "n62", "input channels = 512, but in_channels = 511")],
        "all": [_CONV[:2], ("SG201", "n62")]},
    "vgg19": {
        "conv": [_CONV],
        "gemm": [("SG201", "n38", "input features = 25088, but weight in_units = 25087")],
        "reshape": [("SG205", "n37", "cannot reshape f32[1,512,7,7] (25088 elements) to "
                     "(1, 25087) (25087 elements)")],
        "all": [_CONV[:2], ("SG205", "n37")]},
    "zfnet512": {
        "conv": [_CONV],
        "gemm": [("SG201", "n16", "input features = 18432, but weight in_units = 18431")],
        "reshape": [("SG205", "n15", "cannot reshape f32[1,512,6,6] (18432 elements) to "
                     "(1, 18431) (18431 elements)")],
        "all": [_CONV[:2], ("SG205", "n15")]},
}


def test_every_model_has_its_injections_written_out() -> None:
    assert sorted(INJECTED) == MODELS


@pytest.mark.parametrize(("name", "kind"), [(m, k) for m in MODELS
                                            for k in ("conv", "gemm", "reshape", "all")])
def test_each_injected_error_is_found_at_its_node(name: str, kind: str) -> None:
    proto = onnx.load(path(name))
    kinds = ("conv", "gemm", "reshape") if kind == "all" else (kind,)
    changed = [t for t in (_inject(proto, k) for k in kinds) if t is not None]
    want = INJECTED[name].get(kind)
    if want is None:  # the model has no Reshape
        assert not changed
        return
    report = sg.check(load_onnx(proto))
    if kind == "all":
        assert [(d.code, d.path) for d in report.diagnostics] == want
        return
    assert [(d.code, d.path, d.message) for d in report.diagnostics] == want
    (d,) = report.diagnostics
    assert f"initializer `{changed[0]}`" in str(d)  # the wrong number's origin is named


def test_two_injected_errors_are_each_found_at_their_node() -> None:
    both = sg.check(load_onnx(_alexnet_with(conv1_w_0__SHAPE=[96, 4, 11, 11],
                                            fc6_w_0__SHAPE=[4096, 9215])))
    assert [(d.code, d.path) for d in both.diagnostics] == [("SG201", "n0"), ("SG201", "n16")]


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_each_model_runs_and_matches_its_reference_and_onnx_runtime(name: str) -> None:
    """With the generic kernels (debug mode): generating a kernel for each of a model's
    convolutions costs minutes cold, which the benchmarks measure, not the tests. The two
    models whose batch is not pinned also run at batch 8 (against ONNX Runtime)."""
    ort = pytest.importorskip("onnxruntime")
    proto = onnx.load(path(name))
    model = load_onnx(proto)
    ((input_name, t),) = model.input_types.items()
    x = np.random.default_rng(0).standard_normal([int(d) for d in t.shape]).astype(np.float32)
    compiled = sg.compile(model, debug=True)
    got = compiled(x)
    assert arena_conflicts(next(iter(compiled._runners.values())).plan) == []
    want = numpy_helper.to_array(onnx.load_tensor(str(LIGHT / f"light_{name}_output_0.pb")))
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-4, atol=1e-6)
    sess = ort.InferenceSession(path(name), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(got, sess.run(None, {input_name: x})[0], rtol=1e-4, atol=1e-6)
    if name in PINNED:
        return
    # batch 8: the declared batch of 1 made symbolic in the graph ONNX Runtime runs too
    (vi,) = [i for i in proto.graph.input if i.name == input_name]
    vi.type.tensor_type.shape.dim[0].dim_param = "N"
    model8 = load_onnx(proto)
    x8 = np.random.default_rng(8).standard_normal((8, *x.shape[1:])).astype(np.float32)
    got8 = sg.compile(model8, sg.Input(input_name, ("N", *x.shape[1:])), debug=True)(x8)
    sess8 = ort.InferenceSession(proto.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(got8, sess8.run(None, {input_name: x8})[0], rtol=1e-4,
                               atol=1e-6)


def _random_weights(name: str) -> Any:
    """The model with every ConstantOfShape weight replaced by random values (the
    benchmark's helper: scaled by the fan-in; 1-D ones, such as variances, in [0.5, 1.5])."""
    from shapegraph.tools.workloads import random_weights

    return random_weights(onnx.load(path(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bvlc_alexnet", "squeezenet", "resnet50", "densenet121",
                                  "inception_v2"])
def test_random_weights_match_onnx_runtime(name: str) -> None:
    """Compiled (the GEMM and template convolutions, every fusion: DenseNet's and
    Inception v2's batchnorms written as Mul and Add by per-channel constants fold into
    their neighbours) against ONNX Runtime, with weights that make a difference."""
    ort = pytest.importorskip("onnxruntime")
    proto = _random_weights(name)
    model = load_onnx(proto)
    ((input_name, t),) = model.input_types.items()
    x = np.random.default_rng(0).standard_normal([int(d) for d in t.shape]).astype(np.float32)
    got = sg.compile(model)(x)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    want = sess.run(None, {input_name: x})[0]
    assert float(want.max() - want.min()) > 1e-3  # the weights make a difference
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-5)


# ----------------------------------------------------------------------------- refusals


def _tiny(op: str, **attrs: Any) -> Any:
    """x (1, 3, 8, 8) -> op -> Relu -> Conv whose weight wants 4 channels."""
    w = numpy_helper.from_array(np.zeros((2, 4, 3, 3), np.float32), "w")
    nodes = [helper.make_node(op, ["x"], ["a"], name="odd", **attrs),
             helper.make_node("Relu", ["a"], ["b"], name="act"),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info(
        "x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])], [
        helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, None),
        helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_an_unsupported_op_is_one_diagnostic_and_the_rest_is_checked() -> None:
    report = sg.check(load_onnx(_tiny("Hardmax")))
    assert [(d.code, d.path) for d in report.diagnostics] == [("SG213", "odd"),
                                                              ("SG201", "conv")]
    assert report.diagnostics[0].message == "Hardmax (opset 17) is not supported"


def test_an_unsupported_configuration_says_why() -> None:
    proto = _tiny("Softmax", axis=2)
    proto.opset_import[0].version = 11
    report = sg.check(load_onnx(proto))
    assert report.diagnostics[0].message == ("Softmax (opset 11) is not supported: axis=2 "
                                             "before opset 13 (a 2-D coercion at that axis)")


def test_a_node_with_too_few_inputs_is_one_diagnostic_at_the_node() -> None:
    """The op's ONNX schema says how many inputs and outputs it takes: a Conv without its
    weight is SG213 at that node, not a traceback from the importer."""
    nodes = [helper.make_node("Conv", ["x"], ["y"], name="c", kernel_shape=[3, 3]),
             helper.make_node("Relu", ["x"], ["z"], name="r")]
    g = helper.make_graph(nodes, "t", [helper.make_tensor_value_info(
        "x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])], [
        helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None),
        helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, None)])
    report = sg.check(load_onnx(helper.make_model(g, opset_imports=[
        helper.make_opsetid("", 17)])))
    assert [(d.code, d.path, d.message) for d in report.diagnostics] == [
        ("SG213", "c", "Conv (opset 17) is not supported: 1 input: Conv takes 2 to 3")]


@pytest.mark.parametrize(("content", "message"), [
    (b"not a model", "not an ONNX model"),
    (None, "is a directory"),
])
def test_unreadable_files_are_one_line(tmp_path: Path, content: bytes | None,
                                       message: str) -> None:
    target = tmp_path / "m.onnx"
    if content is None:
        target.mkdir()
    else:
        target.write_bytes(content)
    with pytest.raises(OnnxError, match=message):
        load_onnx(target)
    run = subprocess.run([sys.executable, "-m", "shapegraph", "check", str(target)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_newer_opset_is_refused(tmp_path: Path) -> None:
    proto = _tiny("Relu")
    proto.opset_import[0].version = 99
    with pytest.raises(OnnxError, match="opset 99 is newer than this importer knows"):
        load_onnx(proto)


def test_shapegraph_check_on_an_onnx_file() -> None:
    run = subprocess.run([sys.executable, "-m", "shapegraph", "check", path("bvlc_alexnet"),
                          "--input", "data_0=N,3,224,224"], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"})
    assert run.returncode == 1
    assert run.stdout.startswith("error[SG212]: reshape target (1, 9216) holds 9216 "
                                 "elements, but f32[N,256,6,6] holds 9216*N")
    assert "= in layer `n15` Reshape" in run.stdout


def test_dim_binds_a_dim_param(tmp_path: Path) -> None:
    """``--dim N=1`` binds the model's symbolic batch: a target that pins it then fits."""
    nodes = [helper.make_node("Reshape", ["x", "t"], ["y"], name="flat")]
    target = helper.make_tensor("t", onnx.TensorProto.INT64, [2], [1, 8])
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(
        "x", onnx.TensorProto.FLOAT, ["N", 4, 2])], [helper.make_tensor_value_info(
            "y", onnx.TensorProto.FLOAT, None)], [target])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "m.onnx"))

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shapegraph", "check", "m.onnx", *args],
                              capture_output=True, text=True, cwd=tmp_path,
                              env={**os.environ, "NO_COLOR": "1"})

    assert check().returncode == 1 and "error[SG212]" in check().stdout
    assert check("--dim", "N=1").returncode == 0
    bad = check("--dim", "M=1")
    assert bad.returncode == 2 and "no input has a dim named `M` (symbols: N)" in bad.stderr


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_a_torch_style_mobilenet_checks_and_runs_at_any_batch(opset: int) -> None:
    """Depthwise convolution, BatchNormalization, ReLU6 as Clip with input bounds, a
    residual Add, Flatten + Gemm: a symbolic batch stays symbolic, and the outputs at
    batch 1 and 4 are ONNX Runtime's."""
    ort = pytest.importorskip("onnxruntime")
    from onnx_models import mobilenet_like

    proto = mobilenet_like(opset)
    onnx.checker.check_model(proto, full_check=True)
    model = load_onnx(proto)
    report = sg.check(model)
    assert report.ok and str(report.resolution.type_of(model.graph.outputs[0])) == "f32[N,10]"
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    compiled = sg.compile(model)
    for batch in (1, 4):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 32, 32)).astype(
            np.float32)
        np.testing.assert_allclose(compiled(x), sess.run(None, {"input": x})[0], rtol=1e-4,
                                   atol=1e-5)
    assert "not compiled" not in compiled.memory_plan(N=4)


BROKEN_ALEXNET = """\
error[SG201]: input channels = 3, but in_channels = 4
  --> alexnet_broken.onnx
   = in layer `n0` Conv: conv(f32[1,3,224,224]) -> f32[1,96,54,54]
   = 3: dim 1 of input `data_0` (given as f32[1,3,224,224])
   = 4: dim 1 of ConstantOfShape `ConstantOfShape_1` of initializer `conv1_w_0__SHAPE` of \
layer `n0` Conv (alexnet_broken.onnx)
   = help: feed input `data_0` with dim 1 = 4

error[SG201]: input features = 9216, but weight in_units = 9215
  --> alexnet_broken.onnx
   = in layer `n16` Gemm: dense(f32[1,9216]) -> f32[1,4096]
   = 9216: value[1] of layer `OC2_DUMMY_1` initializer `OC2_DUMMY_1` (alexnet_broken.onnx)
   = 9215: dim 1 of ConstantOfShape `ConstantOfShape_11` of initializer `fc6_w_0__SHAPE` of \
layer `n16` Gemm (alexnet_broken.onnx)
   = help: make input features and weight in_units agree
"""


def test_shapegraph_check_reports_both_injected_errors_with_their_origins(
        tmp_path: Path) -> None:
    """The command's whole report on AlexNet with a wrong first-conv weight and a wrong
    classifier weight; its JSON and picture too."""
    proto = _alexnet_with(conv1_w_0__SHAPE=[96, 4, 11, 11], fc6_w_0__SHAPE=[4096, 9215])
    onnx.save(proto, str(tmp_path / "alexnet_broken.onnx"))

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shapegraph", "check",
                               "alexnet_broken.onnx", *args], capture_output=True, text=True,
                              cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"})

    text = check()
    assert text.returncode == 1
    assert text.stdout.split("\nlayer ")[0] == BROKEN_ALEXNET  # the table follows
    assert text.stdout.rstrip().endswith("shape conflicts: alexnet_broken.onnx: 2 errors")
    import json

    report = json.loads(check("--format", "json").stdout)
    assert [(d["code"], d["path"]) for d in report["diagnostics"]] == [("SG201", "n0"),
                                                                       ("SG201", "n16")]
    assert check("--graph", "g.dot").returncode == 1
    dot = (tmp_path / "g.dot").read_text()
    assert "<b>Conv + relu</b>" in dot and ">n0, n1</font>" in dot and "SG201: 3 vs 4" in dot
