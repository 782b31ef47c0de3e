"""Layer arguments (issue 8): misspelled and foreign names are errors that say what was
meant, and every layer prints as the Gluon call that builds it, everywhere it is shown."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import nn
from shapegraph.frontend import activations, layers

LAYER_CLASSES = sorted([*(getattr(layers, n) for n in layers.__all__),
                        *(getattr(activations, n) for n in activations.__all__)],
                       key=lambda c: c.__name__)

# class -> the arguments that build one
BUILD: dict[type, dict[str, Any]] = {
    nn.Dense: {"units": 8}, nn.Conv1D: {"channels": 4, "kernel_size": 3},
    nn.Conv2D: {"channels": 4, "kernel_size": 3}, nn.Dropout: {"rate": 0.5},
    nn.Conv3D: {"channels": 4, "kernel_size": 3},
    nn.Activation: {"activation": "relu"}, nn.Embedding: {"input_dim": 10, "output_dim": 4},
    nn.LeakyReLU: {"alpha": 0.1},
}

# ------------------------------------------------------------------- unknown arguments

# (class, misspelled argument, the name the message must suggest): one row per class
MISSPELLED = [
    (nn.Dense, "activaton", "activation"),
    (nn.Conv1D, "dilaton", "dilation"),
    (nn.Conv2D, "stride", "strides"),
    (nn.Conv3D, "kernal_size", "kernel_size"),
    (nn.MaxPool1D, "pool_sise", "pool_size"),
    (nn.MaxPool2D, "ceilmode", "ceil_mode"),
    (nn.MaxPool3D, "stides", "strides"),
    (nn.AvgPool1D, "paddng", "padding"),
    (nn.AvgPool2D, "count_include_pads", "count_include_pad"),
    (nn.AvgPool3D, "ceil_mod", "ceil_mode"),
    (nn.GlobalAvgPool1D, "layuot", "layout"),
    (nn.GlobalAvgPool2D, "layouts", "layout"),
    (nn.GlobalAvgPool3D, "layot", "layout"),
    (nn.GlobalMaxPool1D, "lay_out", "layout"),
    (nn.GlobalMaxPool2D, "prefx", "prefix"),
    (nn.GlobalMaxPool3D, "lauout", "layout"),
    (nn.Flatten, "prefixx", "prefix"),
    (nn.Dropout, "rates", "rate"),
    (nn.Activation, "prfix", "prefix"),
    (nn.GELU, "perfix", "prefix"),
    (nn.BatchNorm, "epsilom", "epsilon"),
    (nn.LayerNorm, "in_channel", "in_channels"),
    (nn.Embedding, "output_dims", "output_dim"),
    (nn.LeakyReLU, "alph", "alpha"),
    (nn.PReLU, "in_chanels", "in_channels"),
    (nn.ELU, "alpah", "alpha"),
    (nn.SELU, "prefx", "prefix"),
    (nn.Swish, "betta", "beta"),
    (nn.SiLU, "perfix", "prefix"),
]


def test_every_layer_class_has_a_misspelling_row() -> None:
    assert sorted(c.__name__ for c, _, _ in MISSPELLED) == [c.__name__ for c in LAYER_CLASSES]


@pytest.mark.parametrize(("cls", "wrong", "meant"), MISSPELLED,
                         ids=lambda v: getattr(v, "__name__", v))
def test_misspelled_argument_names_the_layer_and_the_closest_name(
        cls: type, wrong: str, meant: str) -> None:
    with pytest.raises(TypeError) as e:
        cls(**BUILD.get(cls, {}), **{wrong: 1})
    assert str(e.value) == (f"{cls.__name__}() got an unexpected keyword argument '{wrong}'; "
                            f"did you mean '{meant}'?")


# (call, the exact message): PyTorch and Keras spellings, including ones no spelling
# match would find
FOREIGN = [
    (lambda: nn.Conv2D(16, kernel_size=3, stride=2),
     "Conv2D() got an unexpected keyword argument 'stride'; did you mean 'strides'?"),
    (lambda: nn.Dense(256, use_bais=False),
     "Dense() got an unexpected keyword argument 'use_bais'; did you mean 'use_bias'?"),
    (lambda: nn.Dense(256, activaton="relu", in_unit=30),
     "Dense() got unexpected keyword arguments 'activaton' (did you mean 'activation'?), "
     "'in_unit' (did you mean 'in_units'?)"),
    (lambda: nn.Dense(256, in_features=20),
     "Dense() got an unexpected keyword argument 'in_features'; did you mean 'in_units'? "
     "('in_features' is PyTorch's name for it)"),
    (lambda: nn.Dense(out_features=256),
     "Dense() got an unexpected keyword argument 'out_features'; did you mean 'units'? "
     "('out_features' is PyTorch's name for it)"),
    (lambda: nn.Dense(256, input_dim=20),
     "Dense() got an unexpected keyword argument 'input_dim'; did you mean 'in_units'? "
     "('input_dim' is Keras's name for it)"),
    (lambda: nn.Dense(256, bias=False),
     "Dense() got an unexpected keyword argument 'bias'; did you mean 'use_bias'? "
     "('bias' is PyTorch's name for it)"),
    (lambda: nn.Conv2D(16, kernel=3),
     "Conv2D() got an unexpected keyword argument 'kernel'; did you mean 'kernel_size'? "
     "('kernel' is a common name for it)"),
    (lambda: nn.Conv2D(kernel_size=3, out_channels=16),
     "Conv2D() got an unexpected keyword argument 'out_channels'; did you mean 'channels'? "
     "('out_channels' is PyTorch's name for it)"),
    (lambda: nn.Conv2D(kernel_size=3, filters=16),
     "Conv2D() got an unexpected keyword argument 'filters'; did you mean 'channels'? "
     "('filters' is Keras's name for it)"),
    (lambda: nn.MaxPool2D(kernel_size=3),
     "MaxPool2D() got an unexpected keyword argument 'kernel_size'; did you mean "
     "'pool_size'? ('kernel_size' is PyTorch's name for it)"),
    (lambda: nn.BatchNorm(num_features=16),
     "BatchNorm() got an unexpected keyword argument 'num_features'; did you mean "
     "'in_channels'? ('num_features' is PyTorch's name for it)"),
    (lambda: nn.BatchNorm(eps=1e-3),
     "BatchNorm() got an unexpected keyword argument 'eps'; did you mean 'epsilon'? "
     "('eps' is PyTorch's name for it)"),
    (lambda: nn.LayerNorm(normalized_shape=16),
     "LayerNorm() got an unexpected keyword argument 'normalized_shape'; did you mean "
     "'in_channels'? ('normalized_shape' is PyTorch's name for it)"),
    (lambda: nn.Dropout(p=0.5),
     "Dropout() got an unexpected keyword argument 'p'; did you mean 'rate'? "
     "('p' is PyTorch's name for it)"),
    (lambda: nn.Embedding(num_embeddings=10, embedding_dim=4),
     "Embedding() got unexpected keyword arguments 'num_embeddings' (did you mean "
     "'input_dim'? ('num_embeddings' is PyTorch's name for it)), 'embedding_dim' (did you "
     "mean 'output_dim'? ('embedding_dim' is PyTorch's name for it))"),
    (lambda: nn.Flatten(start_dim=1),
     "Flatten() got an unexpected keyword argument 'start_dim'; it takes: prefix"),
    (lambda: nn.Dense(8, ctx="cpu"),
     "Dense() got an unexpected keyword argument 'ctx'; it takes: units, activation, "
     "use_bias, flatten, dtype, weight_initializer, bias_initializer, in_units, prefix, params"),
    (lambda: nn.MaxPool2D(count_include_pad=False),  # only average pools have it
     "MaxPool2D() got an unexpected keyword argument 'count_include_pad'; it takes: "
     "pool_size, strides, padding, layout, ceil_mode, prefix"),
    (lambda: nn.MaxPool2D(params={}),  # nothing to share
     "MaxPool2D() got an unexpected keyword argument 'params'; it takes: pool_size, "
     "strides, padding, layout, ceil_mode, prefix"),
]


@pytest.mark.parametrize(("build", "message"), FOREIGN, ids=[m.split(";")[0] for _, m in FOREIGN])
def test_foreign_argument_names(build: Any, message: str) -> None:
    with pytest.raises(TypeError) as e:
        build()
    assert str(e.value) == message


# (call, exception type, a fragment of the message): positional misuse and bad values
MISUSE = [
    (lambda: nn.Dense(), TypeError, "Dense() missing a required argument: 'units'"),
    (lambda: nn.Conv2D(16), TypeError, "Conv2D() missing a required argument: 'kernel_size'"),
    (lambda: nn.Dense(8, None, True, True, "float32", None, "zeros", 20, 1), TypeError,
     "Dense() takes at most 8 positional arguments (units, activation, use_bias, flatten, "
     "dtype, weight_initializer, bias_initializer, in_units), got 9; pass the others by name"),
    (lambda: nn.Dense(256, units=10), TypeError, "Dense() multiple values for argument 'units'"),
    (lambda: nn.Flatten(1), TypeError, "Flatten() takes no positional arguments, got 1"),
    (lambda: nn.Dense(20, 256), TypeError,
     "the second argument of Dense is activation: write Dense(256, in_units=20) for 20 -> 256"),
    (lambda: nn.Dense(8, use_bias="False"), TypeError, "use_bias must be True or False"),
    (lambda: nn.AvgPool2D(3, 2, 1, "NCHW"), TypeError,  # MaxPool2D's order is not AvgPool2D's
     "AvgPool2D: ceil_mode must be True or False, got 'NCHW'"),
    (lambda: nn.BatchNorm(axis=None), TypeError, "BatchNorm: axis must be an int, got None"),
    (lambda: nn.Activation(None), TypeError, "activation must be a name such as 'relu'"),
    (lambda: nn.BatchNorm(epsilon="1e-3"), TypeError, "epsilon must be a number"),
    (lambda: nn.Dense(8, dtype="float16"), ValueError,
     "Dense: dtype='float16' is not supported: shapegraph computes in float32 only"),
    (lambda: nn.Embedding(10, 4, dtype="float64"), ValueError,
     "Embedding: dtype='float64' is not supported"),
    (lambda: nn.MaxPool2D(layout="NHWC"), ValueError, "only layout 'NCHW' is supported"),
    (lambda: nn.GlobalAvgPool1D(layout="NWC"), ValueError, "only layout 'NCW' is supported"),
    (lambda: nn.LayerNorm(center=False), ValueError, "center=False is not supported"),
    (lambda: nn.GELU(approximation="tanh"), ValueError, "approximation='tanh' is not supported"),
]


@pytest.mark.parametrize(("build", "exc", "fragment"), MISUSE, ids=[m for _, _, m in MISUSE])
def test_misuse_is_a_clear_error(build: Any, exc: type, fragment: str) -> None:
    with pytest.raises(exc) as e:
        build()
    assert fragment in str(e.value)


def test_gluon_positional_order_is_kept() -> None:
    """AvgPool2D has ceil_mode before layout in Gluon, the other pools after."""
    assert nn.AvgPool2D(3, 2, 1, True).describe() == \
        "AvgPool2D(pool_size=3, strides=2, padding=1, ceil_mode=True)"
    assert nn.MaxPool2D(3, 2, 1, "NCHW", True).describe() == \
        "MaxPool2D(pool_size=3, strides=2, padding=1, ceil_mode=True)"
    conv = nn.Conv2D(8, 3, 1, 1, 1, 1, "NCHW", "relu", False)
    assert conv.describe() == "Conv2D(8, kernel_size=3, padding=1, activation='relu', " \
                              "use_bias=False)"


# ---------------------------------------------- arguments accepted with no effect here

# arguments every layer checks rather than shows (validated values, sharing, initializers)
CHECKED = {"dtype", "layout", "params", "center", "scale", "approximation"}


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda c: c.__name__)
def test_every_argument_is_shown_checked_or_documented_as_ignored(cls: type) -> None:
    names = [p.name for p in list(inspect.signature(cls).parameters.values())]
    shown = {n for n, _ in cls.shown}  # type: ignore[attr-defined]
    ignored = set(cls.ignored)  # type: ignore[attr-defined]
    for n in names:
        assert (n in shown or n in ignored or n.endswith("_initializer")
                or (n in CHECKED and n not in shown)), f"{cls.__name__}: {n} is not classified"
    assert ignored <= set(names), f"{cls.__name__} ignores arguments it does not take"
    doc = " ".join((inspect.getdoc(cls) or "").split())
    assert "with no effect" in doc
    for n in ignored:
        assert f"``{n}``" in doc, f"{cls.__name__}'s docstring does not mention {n}"


@pytest.mark.parametrize(("cls", "name", "value"), [
    (cls, n, {"axes": (1,), "momentum": 0.5, "use_global_stats": True, "sparse_grad": True,
              "prefix": "dense0_"}[n])
    for cls in LAYER_CLASSES for n in cls.ignored],
    ids=str)
def test_ignored_arguments_are_accepted_and_change_nothing(cls: type, name: str,
                                                           value: Any) -> None:
    plain, given = cls(**BUILD.get(cls, {})), cls(**BUILD.get(cls, {}), **{name: value})
    assert given.describe() == plain.describe()
    assert {k: p.shape for k, p in given.params.items()} == \
        {k: p.shape for k, p in plain.params.items()}


def test_float32_dtype_is_accepted_in_every_spelling() -> None:
    for dtype in ("float32", np.float32, np.dtype("float32"), "f4"):
        assert nn.Dense(8, dtype=dtype).describe() == "Dense(8)"
        assert nn.Embedding(10, 4, dtype=dtype).describe() == "Embedding(10, 4)"


def test_shared_params_keep_working() -> None:
    a = nn.Dense(8, in_units=4)
    b = nn.Dense(8, params=a.params)
    assert b.weight is a.weight


# ------------------------------------------------------------------ honest descriptions

# (layer, describe()): every argument that differs from its default, as a Gluon call
DESCRIBE = [
    (nn.Dense(256), "Dense(256)"),
    (nn.Dense(256, activation="relu", use_bias=False, flatten=False, in_units=20),
     "Dense(256, activation='relu', use_bias=False, flatten=False, in_units=20)"),
    (nn.Dense(10, in_units=0), "Dense(10)"),
    (nn.Conv2D(16, kernel_size=3), "Conv2D(16, kernel_size=3)"),
    (nn.Conv2D(16, kernel_size=(3, 5), strides=2, padding=(1, 2), dilation=2, groups=4,
               activation="relu", use_bias=False, in_channels=8),
     "Conv2D(16, kernel_size=(3, 5), strides=2, padding=(1, 2), dilation=2, groups=4, "
     "activation='relu', use_bias=False, in_channels=8)"),
    (nn.Conv2D(16, kernel_size=(5, 5), strides=(1, 1)), "Conv2D(16, kernel_size=5)"),
    (nn.Conv1D(8, kernel_size=3, strides=2, activation="tanh"),
     "Conv1D(8, kernel_size=3, strides=2, activation='tanh')"),
    (nn.MaxPool2D(), "MaxPool2D(pool_size=2)"),
    (nn.MaxPool2D(pool_size=3, strides=2), "MaxPool2D(pool_size=3, strides=2)"),
    (nn.MaxPool2D(pool_size=2, strides=2), "MaxPool2D(pool_size=2)"),
    (nn.MaxPool2D(pool_size=3, strides=(2, 1), padding=1, ceil_mode=True),
     "MaxPool2D(pool_size=3, strides=(2, 1), padding=1, ceil_mode=True)"),
    (nn.MaxPool1D(4, 2), "MaxPool1D(pool_size=4, strides=2)"),
    (nn.AvgPool2D(pool_size=3, strides=1, padding=1, count_include_pad=False),
     "AvgPool2D(pool_size=3, strides=1, padding=1, count_include_pad=False)"),
    (nn.AvgPool1D(3, ceil_mode=True), "AvgPool1D(pool_size=3, ceil_mode=True)"),
    (nn.GlobalAvgPool2D(), "GlobalAvgPool2D()"),
    (nn.GlobalMaxPool1D(), "GlobalMaxPool1D()"),
    (nn.Flatten(), "Flatten()"),
    (nn.Dropout(0.5), "Dropout(0.5)"),
    (nn.Dropout(0), "Dropout(0.0)"),
    (nn.Activation("relu"), "Activation('relu')"),
    (nn.GELU(), "GELU()"),
    (nn.GELU(approximation="erf"), "GELU()"),
    (nn.BatchNorm(), "BatchNorm()"),
    (nn.BatchNorm(axis=2, epsilon=1e-3, center=False, scale=False, in_channels=16),
     "BatchNorm(axis=2, epsilon=0.001, center=False, scale=False, in_channels=16)"),
    (nn.BatchNorm(momentum=0.5, in_channels=8), "BatchNorm(in_channels=8)"),
    (nn.LayerNorm(), "LayerNorm()"),
    (nn.LayerNorm(axis=1, epsilon=1e-6, in_channels=32),
     "LayerNorm(axis=1, epsilon=1e-06, in_channels=32)"),
    (nn.Embedding(1000, 64), "Embedding(1000, 64)"),
]


@pytest.mark.parametrize(("layer", "text"), DESCRIBE, ids=[t for _, t in DESCRIBE])
def test_describe_is_the_call_that_builds_the_layer(layer: nn.Block, text: str) -> None:
    assert layer.describe() == text
    rebuilt = eval(text, {**vars(nn)})  # copyable: the text builds an equal layer
    assert rebuilt.describe() == text


# (layer, repr): Gluon's in -> out form, with the other non-default arguments
REPRS = [
    (nn.Dense(256, activation="relu"), "Dense(? -> 256, Activation(relu))"),
    (nn.Dense(10, in_units=20, use_bias=False, flatten=False),
     "Dense(20 -> 10, use_bias=False, flatten=False, linear)"),
    (nn.Conv2D(16, kernel_size=5, padding=2, activation="relu"),
     "Conv2D(? -> 16, kernel_size=5, padding=2, Activation(relu))"),
    (nn.Conv2D(16, kernel_size=3, groups=4, in_channels=8),
     "Conv2D(8 -> 16, kernel_size=3, groups=4, linear)"),
    (nn.MaxPool2D(3, 2), "MaxPool2D(pool_size=3, strides=2)"),
]


@pytest.mark.parametrize(("layer", "text"), REPRS, ids=[t for _, t in REPRS])
def test_repr(layer: nn.Block, text: str) -> None:
    assert repr(layer) == text


def _net() -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Conv2D(4, kernel_size=3, activation="relu"),
            nn.MaxPool2D(pool_size=3, strides=2), nn.Dense(10, in_units=5))
    return net


def test_table_picture_and_diagnostics_show_the_whole_layer() -> None:
    report = sg.check(_net(), sg.Input("x", ("batch", 1, 16, 16)))
    kinds = [(r["op"], r["layer"]) for r in report.rows]
    assert kinds[:3] == [("conv", "Conv2D(4, kernel_size=3, activation='relu')"),
                         ("relu", "Conv2D(4, kernel_size=3, activation='relu')"),
                         ("pool", "MaxPool2D(pool_size=3, strides=2)")]
    text = report.render("text")
    assert "computed by layer `1` MaxPool2D(pool_size=3, strides=2)" in text
    pytest.importorskip("graphviz")
    from shapegraph.render.picture import dot_source

    dot = dot_source(report).source
    assert "<b>MaxPool2D(pool_size=3, strides=2)</b>" in dot
    assert "<b>Conv2D(4, 3x3) + relu</b>" in dot  # the activation folded into its box
