"""The propagation pass: resolution in both directions, and every kind of conflict."""

from __future__ import annotations

import pytest
from graphs import Net, conv_attrs, lenet, pool_attrs, seed_mlp

from shapegraph.core.dims import Hole, Sym
from shapegraph.infer.propagate import propagate
from shapegraph.render.text import render_text


def codes(res) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.code for d in res.diagnostics]


# ----------------------------------------------------------------------------- the seed MLP


@pytest.mark.parametrize("x", [(2, 20), ("batch", 20)])
def test_seed_mlp_resolves_from_an_input(x: tuple) -> None:
    res = propagate(seed_mlp(), {"x": x})
    assert res.ok and res.diagnostics == ()
    assert res.param_shape("0.weight") == (256, 20)
    assert res.param_shape("1.weight") == (10, 256)
    assert res.param_shape("1.bias") == (10,)
    out = res.output_types()[0]
    assert out is not None and out.shape == ((2 if x[0] == 2 else Sym("batch")), 10)


def test_declared_in_units_alone_resolve_every_weight() -> None:
    res = propagate(seed_mlp(in0=20), {})
    assert res.ok
    assert res.param_shape("0.weight") == (256, 20)
    assert res.param_shape("1.weight") == (10, 256)
    t = res.input_type("x")
    assert t is not None and t.shape[1] == 20 and isinstance(t.shape[0], Hole)
    assert codes(res) == []  # the batch is unknown, but no parameter depends on it


def test_declaration_downstream_leaves_first_weight_open() -> None:
    res = propagate(seed_mlp(in1=256), {})
    assert res.ok
    assert res.param_shape("1.weight") == (10, 256)
    assert res.param_shape("0.weight") == (256, None)
    assert codes(res) == ["SG101"]
    note = res.diagnostics[0]
    assert "`0.weight` dim 1" in note.message and "in_units" in note.help
    assert "input `x` (dim 1)" in note.help


def test_wrong_declared_dims_give_exactly_one_conflict_with_both_origins() -> None:
    res = propagate(seed_mlp(in1=300), {"x": (2, 20)})
    assert codes(res) == ["SG201"]
    d = res.diagnostics[0]
    assert d.path == "1"
    assert "256" in d.message and "300" in d.message
    first, second = d.related
    assert first.value == "256" and "units=256" in first.text and "`0`" in first.text
    assert first.location == "model.py:11"
    assert second.value == "300" and "in_units=300 declared" in second.text
    assert second.location == "model.py:12"
    assert "in_units=256" in d.help


def test_declaration_contradicted_by_data() -> None:
    res = propagate(seed_mlp(in0=30), {"x": (2, 20)})
    assert codes(res) == ["SG201"]
    d = res.diagnostics[0]
    assert d.path == "0"
    assert "dim 1 of input `x`" in d.related[0].text
    assert "in_units=20" in d.help


def test_backward_a_declaration_fixes_the_width_upstream() -> None:
    n = Net()
    x = n.input("x", 2)
    h = n.layer("0", "relu", x)
    y = n.layer("1", "dense", h, units=10, in_units=30)
    res = propagate(n.build(y), {"x": (2, None)})
    assert res.ok
    assert res.input_type("x").shape == (2, 30)  # type: ignore[union-attr]
    assert res.type_of(h).shape == (2, 30)  # type: ignore[union-attr]


def test_backward_through_reshape_solves_a_linear_equation() -> None:
    n = Net()
    x = n.input("x", 2)
    h = n.layer("0", "reshape", x, shape=(0, 4, 5))
    y = n.layer("1", "dense", h, units=3, flatten=False)
    res = propagate(n.build(y), {"x": ("batch", None)})
    assert res.ok
    assert res.input_type("x").shape == (Sym("batch"), 20)  # type: ignore[union-attr]
    assert res.param_shape("1.weight") == (3, 5)


# ----------------------------------------------------------------------------- LeNet


def test_lenet_resolves_with_a_symbolic_batch() -> None:
    res = propagate(lenet(), {"x": ("batch", 1, 28, 28)})
    assert res.ok, render_text(res.diagnostics)
    assert res.param_shape("0.weight") == (6, 1, 5, 5)
    assert res.param_shape("3.weight") == (16, 6, 5, 5)
    assert res.param_shape("8.weight") == (84, 120)
    assert str(res.output_types()[0]) == "f32[batch,10]"


def test_lenet_at_64x64_names_the_dense_and_derives_the_flatten_size() -> None:
    res = propagate(lenet(), {"x": ("batch", 1, 64, 64)})
    assert codes(res) == ["SG201"]
    d = res.diagnostics[0]
    assert d.path == "6" and "3136" in d.message and "400" in d.message
    flat, declared = d.related
    assert flat.value == "3136" and "flattened" in flat.text
    assert [p.value for p in flat.parts] == ["16", "14", "14"]
    text = render_text([d])
    assert "64: dim 2 of input `x`" in text  # the chain goes back to the input
    assert "Conv2D output size" in text and "MaxPool2D output size" in text
    assert declared.value == "400" and "in_units=400 declared" in declared.text


def test_lenet_without_in_units_infers_the_flatten_width() -> None:
    res = propagate(lenet(in_units=None), {"x": ("batch", 1, 28, 28)})
    assert res.ok and res.param_shape("6.weight") == (120, 400)


def test_symbolic_spatial_dims_cannot_meet_a_declared_width() -> None:
    res = propagate(lenet(), {"x": ("batch", 1, "H", "W")})
    assert codes(res) == ["SG203"]
    assert "`H`" in res.diagnostics[0].message


def test_symbolic_width_into_dense_is_a_parameter_error() -> None:
    res = propagate(seed_mlp(), {"x": ("batch", "n")})
    assert codes(res) == ["SG207"]
    assert "`0.weight`" in res.diagnostics[0].message and "`n`" in res.diagnostics[0].message


# ----------------------------------------------------------------------------- conflicts


def test_symbol_meets_a_different_constant() -> None:
    n = Net()
    x = n.input("x", 2)
    y = n.input("y", 2)
    out = n.layer("0", "concat", x, y, axis=1)
    res = propagate(n.build(out), {"x": ("batch", 3), "y": (32, 4)})
    assert codes(res) == ["SG203"]
    assert "`batch`" in res.diagnostics[0].message


def test_wrong_rank() -> None:
    n = Net()
    x = n.input("x", 3)
    y = n.layer("0", "conv", x, **conv_attrs(4, 3))
    res = propagate(n.build(y), {"x": (1, 3, 8)})
    assert codes(res) == ["SG202"]
    assert "rank 4" in res.diagnostics[0].message


def test_kernel_larger_than_input_and_nothing_downstream() -> None:
    n = Net()
    x = n.input("x", 4)
    h = n.layer("0", "conv", x, **conv_attrs(4, 5))
    h = n.layer("1", "pool", h, **pool_attrs())
    y = n.layer("2", "dense", h, units=10, in_units=7)
    res = propagate(n.build(y), {"x": (1, 3, 4, 4)})
    assert codes(res) == ["SG204"]  # no follow-on error at layers 1 or 2
    d = res.diagnostics[0]
    assert d.path == "0" and "larger than the input size 4" in d.message


def test_stride_that_makes_a_dim_zero() -> None:
    n = Net()
    x = n.input("x", 4)
    h = n.layer("0", "pool", x, **pool_attrs(k=3, s=2))
    y = n.layer("1", "pool", h, **pool_attrs(k=3, s=2))
    res = propagate(n.build(y), {"x": (1, 1, 5, 5)})
    assert codes(res) == ["SG204"] and res.diagnostics[0].path == "1"


def test_reshape_that_does_not_divide() -> None:
    n = Net()
    x = n.input("x", 2)
    y = n.layer("0", "reshape", x, shape=(-1, 7))
    res = propagate(n.build(y), {"x": (2, 20)})
    assert codes(res) == ["SG205"]
    assert "7 does not divide 40" in res.diagnostics[0].message


def test_reshape_element_count_mismatch() -> None:
    n = Net()
    x = n.input("x", 2)
    y = n.layer("0", "reshape", x, shape=(3, 7))
    res = propagate(n.build(y), {"x": (2, 20)})
    assert codes(res) == ["SG205"]
    assert "40" in res.diagnostics[0].message and "21" in res.diagnostics[0].message


def test_broadcast_that_cannot_work() -> None:
    n = Net()
    a, b = n.input("a", 2), n.input("b", 2)
    y = n.layer("0", "add", a, b)
    res = propagate(n.build(y), {"a": (4, 3), "b": (4, 5)})
    assert codes(res) == ["SG206"]
    assert "3 vs 5" in res.diagnostics[0].message


def test_broadcast_with_ones_and_symbols() -> None:
    n = Net()
    a, b = n.input("a", 3), n.input("b", 2)
    y = n.layer("0", "mul", a, b)
    res = propagate(n.build(y), {"a": ("batch", 1, 5), "b": (4, 1)})
    assert res.ok and str(res.type_of(y)) == "f32[batch,4,5]"


def test_broadcast_against_an_unknown_dim_waits_instead_of_guessing() -> None:
    n = Net()
    a, b = n.input("a", 2), n.input("b", 2)
    y = n.layer("0", "add", a, b)
    res = propagate(n.build(y), {"a": (2, None), "b": (2, 5)})
    assert res.ok
    out = res.type_of(y)
    assert out is not None and isinstance(out.shape[1], Hole)  # could be 5 or 1 -> 5
    assert isinstance(res.input_type("a").shape[1], Hole)  # type: ignore[union-attr]


def test_tied_parameter_used_at_two_widths() -> None:
    n = Net()
    a, b = n.input("a", 2), n.input("b", 2)
    ya = n.layer("shared_a", "dense", a, units=8)
    yb = n.layer("shared_b", "dense", b, units=8,
                 params={"weight": "shared_a.weight", "bias": "shared_a.bias"})
    res = propagate(n.build(ya, yb), {"a": (2, 20), "b": (2, 30)})
    assert codes(res) == ["SG208"]
    d = res.diagnostics[0]
    assert d.path == "shared_b" and "`shared_a.weight`" in d.message
    assert "`shared_a`" in d.message and "20" in d.message and "30" in d.message
    assert res.param_shape("shared_a.weight") == (8, 20)


def test_tied_parameter_consistent_use() -> None:
    n = Net()
    a = n.input("a", 2)
    h = n.layer("l", "dense", a, units=20)
    y = n.layer("l2", "dense", h, units=20, params={"weight": "l.weight", "bias": "l.bias"})
    res = propagate(n.build(y), {"a": (2, 20)})
    assert res.ok and res.param_shape("l.weight") == (20, 20)


def test_groups_that_do_not_divide_the_channels() -> None:
    n = Net()
    x = n.input("x", 4)
    y = n.layer("0", "conv", x, **conv_attrs(8, 3, groups=4))
    res = propagate(n.build(y), {"x": (1, 6, 8, 8)})
    assert codes(res) == ["SG209"]


def test_invalid_configuration() -> None:
    n = Net()
    x = n.input("x", 4)
    y = n.layer("0", "conv", x, **conv_attrs(6, 3, groups=4))
    res = propagate(n.build(y), {"x": (1, 8, 8, 8)})
    assert codes(res) == ["SG210"]


def test_unknown_input_name_and_wrong_input_rank() -> None:
    res = propagate(seed_mlp(), {"x": (2, 20, 3), "z": (1,)})
    assert codes(res) == ["SG211", "SG211"]
    assert "`z`" in res.diagnostics[0].message and "rank 3" in res.diagnostics[1].message


def test_two_independent_conflicts_in_one_pass() -> None:
    n = Net()
    x = n.input("x", 2)
    a = n.layer("a", "dense", x, units=5, in_units=7)
    b = n.layer("b", "dense", x, units=6)
    c = n.layer("c", "dense", b, units=2, in_units=9)
    res = propagate(n.build(a, c), {"x": (2, 20)})
    assert codes(res) == ["SG201", "SG201"]
    assert [d.path for d in res.diagnostics] == ["a", "c"]


def test_conv_groups_and_declared_in_channels_resolve_backwards() -> None:
    n = Net()
    x = n.input("x", 4)
    y = n.layer("0", "conv", x, **conv_attrs(8, 3, p=1, groups=2, in_channels=4))
    res = propagate(n.build(y), {"x": ("batch", None, 16, 16)})
    assert res.ok
    assert res.param_shape("0.weight") == (8, 2, 3, 3)
    assert res.input_type("x").shape[1] == 4  # type: ignore[union-attr]


def test_pass_allocates_nothing_and_needs_no_data() -> None:
    g = lenet()
    res = propagate(g, {"x": (64, 1, 28, 28)})
    assert res.ok
    # the graph records are untouched: parameter specs still have their unknown dims
    assert g.params["3.weight"].shape == (16, None, 5, 5)


def test_broadcast_against_an_expression_with_holes_waits() -> None:
    n = Net()
    x = n.input("x", 2)
    c = n.layer("0", "concat", n.layer("a", "dense", x, units=2), x, axis=1)
    y = n.layer("1", "add", n.layer("b", "dense", c, units=2), c)
    res = propagate(n.build(y), {"x": ("batch", None)})
    assert res.ok, render_text(res.diagnostics)  # 2 vs 2 + ?: could be fine, not an error
