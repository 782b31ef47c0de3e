"""Parameters too large for memory are refused before anything is allocated (SG401,
issue 8): one huge parameter, or a batch whose total is too large while each fits, on
every path that creates parameters; nothing changes when they are refused."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import nn
from shapegraph.frontend import limits
from shapegraph.frontend.limits import ENV, ParameterMemoryError, human_bytes, parse_bytes


@pytest.fixture(autouse=True)
def _no_limit_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)


def snapshot(net: nn.Block) -> dict[str, tuple[tuple[int | None, ...], bool, bool]]:
    return {k: (p.shape, p.is_initialized, p._initialize_called)
            for k, p in net.collect_params().items()}


def test_a_huge_parameter_is_refused_at_once() -> None:
    """Dense(10**9) on 10**6 features: a 3.55 PiB weight, refused in milliseconds whatever
    the machine (the default limit is a third of the available memory)."""
    net = nn.Dense(10**9, in_units=10**6)
    before = snapshot(net)
    start = time.perf_counter()
    with pytest.raises(ParameterMemoryError) as info:
        net.initialize()
    assert time.perf_counter() - start < 2.0
    e = info.value
    assert isinstance(e, sg.ShapeError) and isinstance(e, MemoryError)
    [d] = e.diagnostics
    assert d.code == "SG401" and d.severity == "error"
    assert d.message.startswith("creating 2 parameters needs 3.55 PiB, more than the limit")
    assert d.related[0].value == "3.55 PiB"
    assert d.related[0].text == "'weight' (1000000000, 1000000) float32"
    assert d.related[1].text == "'bias' (1000000000,) float32"
    assert d.related[-1].text.startswith("the limit: a third of the ")
    assert ENV in d.help and "nothing was allocated or changed" in str(e)
    assert snapshot(net) == before
    with pytest.raises(RuntimeError, match="has not been initialized"):
        net.weight.data()


def test_a_set_of_parameters_that_each_fit_but_not_together(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "3000")  # bytes: each weight below (2000 B) fits, both do not
    net = nn.Sequential()
    line = sys._getframe().f_lineno + 1
    net.add(nn.Dense(25, in_units=20), nn.Dense(20, in_units=25))
    before = snapshot(net)
    with pytest.raises(ParameterMemoryError) as info:
        net.initialize()
    [d] = info.value.diagnostics
    assert d.message == "creating 4 parameters needs 4.08 KiB, more than the limit of 2.93 KiB"
    assert [r.value for r in d.related] == ["1.95 KiB", "1.95 KiB", "100 B", "80 B", "2.93 KiB"]
    assert d.related[-1].text == f"the limit: {ENV}=3000"
    assert d.path == "0" and d.layer == "Dense(25, in_units=20)"
    assert d.location and d.location.endswith(f"test_limits.py:{line}")
    assert snapshot(net) == before
    monkeypatch.setenv(ENV, "4200")  # room for all of it: the same call now works
    net.initialize()
    assert all(p.is_initialized for p in net.collect_params().values())


def test_the_first_forward_refuses_and_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    net = nn.Sequential()
    net.add(nn.Dense(64), nn.Dense(10))
    net.initialize()  # the biases are created: 296 bytes
    monkeypatch.setenv(ENV, "20KiB")  # 64x300 floats are 75 KiB
    before = snapshot(net)
    with pytest.raises(ParameterMemoryError, match=r"needs 77\.5 KiB, more than the limit of "
                       r"20 KiB"):
        net(np.ones((2, 300), np.float32))
    assert snapshot(net) == before
    assert net(np.ones((2, 20), np.float32)).shape == (2, 10)  # 5 KiB of weights: fine


def test_compile_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    net = nn.Sequential()
    net.add(nn.Dense(64), nn.Dense(10))
    net.initialize()
    monkeypatch.setenv(ENV, "1KiB")
    before = snapshot(net)
    with pytest.raises(ParameterMemoryError):
        sg.compile(net, sg.Input("x", ("batch", 300)))
    assert snapshot(net) == before


def test_parameter_dict_initialize_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "100")
    net = nn.Dense(10, in_units=20)
    with pytest.raises(ParameterMemoryError, match="needs 840 B"):
        net.collect_params().initialize()
    assert not any(p.is_initialized for p in net.collect_params().values())


def test_none_switches_the_limit_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "_available_memory", lambda: 1000)  # a 333-byte default
    net = nn.Dense(10, in_units=20)
    with pytest.raises(ParameterMemoryError, match="a third of the 1000 B of memory"):
        net.initialize()
    monkeypatch.setenv(ENV, "none")
    net.initialize()
    assert net.weight.data().shape == (10, 20)


def test_no_limit_when_the_memory_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "_available_memory", lambda: None)
    assert limits.param_byte_limit().bytes is None


def test_the_default_is_a_third_of_the_available_memory() -> None:
    limit = limits.param_byte_limit()
    avail = limits._available_memory()
    assert avail is not None and limit.bytes == avail // 3


def test_a_bad_limit_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "lots")
    with pytest.raises(ValueError, match=f"{ENV}='lots': expected a number of bytes"):
        nn.Dense(10, in_units=20).initialize()


@pytest.mark.parametrize(("text", "n"), [
    ("1000", 1000), ("8GiB", 8 * 2**30), ("8 gib", 8 * 2**30), ("500MB", 500 * 10**6),
    ("1.5KiB", 1536), ("2TB", 2 * 10**12), ("none", None), ("unlimited", None),
])
def test_parse_bytes(text: str, n: int | None) -> None:
    assert parse_bytes(text) == n


@pytest.mark.parametrize("text", ["", "-1", "8 GiBs", "1e9", "GiB"])
def test_parse_bytes_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bytes(text)


@pytest.mark.parametrize(("n", "shown"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1536, "1.5 KiB"), (2**20 - 1, "1 MiB"),
    (4 * 10**15, "3.55 PiB"), (1000 * 2**30, "1000 GiB"), (2**90, "1024 YiB"),
])
def test_human_bytes(n: int, shown: str) -> None:
    assert human_bytes(n) == shown


def test_initialize_refuses_a_network_that_cannot_fit_before_creating_any(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Dense(10**8) then Dense(10): the bias (400 MB) is known and the first weight is at
    least as big, the second (4 GB) is inferred: initialize() creates nothing."""
    import shapegraph as sg
    from shapegraph import nn

    monkeypatch.setenv("SHAPEGRAPH_MAX_PARAM_BYTES", "1GiB")
    net = nn.Sequential()
    net.add(nn.Dense(10**8), nn.Dense(10))
    with pytest.raises(sg.ShapeError) as e:
        net.initialize()
    text = str(e.value)
    assert "SG401" in text and "'1.weight' (10, 100000000)" in text
    assert "at least 381 MiB: '0.weight' (100000000, ?)" in text
    assert not any(p.is_initialized for p in net.collect_params().values())
