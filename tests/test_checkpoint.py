"""save_parameters / load_parameters: no unpickling, atomic writes, clear errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import shapegraph as sg
from shapegraph import nn
from shapegraph.frontend.checkpoint import CheckpointError


def mlp(in_units: int | None = None, hidden: int = 8) -> nn.Sequential:
    net = nn.Sequential()
    net.add(nn.Dense(hidden, activation="relu", in_units=in_units), nn.Dense(3))
    return net


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, nn.Sequential]:
    net = mlp()
    net.initialize()
    net(np.ones((2, 5)))
    path = tmp_path / "net.params"
    net.save_parameters(str(path))
    return path, net


def test_round_trip_into_a_deferred_network(saved: tuple[Path, nn.Sequential]) -> None:
    path, net = saved
    other = mlp()
    other.initialize()
    other.load_parameters(str(path))
    assert other[0].weight.shape == (8, 5)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(other(x), net(x))
    fresh = mlp()
    fresh.load_parameters(str(path))  # without initialize(): loading creates them
    np.testing.assert_array_equal(fresh(x), net(x))


def test_save_before_shapes_are_known_says_why(tmp_path: Path) -> None:
    net = mlp()
    net.initialize()
    with pytest.raises(sg.DeferredInitializationError):
        net.save_parameters(str(tmp_path / "x.params"))
    assert not (tmp_path / "x.params").exists()


def test_mismatched_shape_names_the_parameter_and_changes_nothing(
        saved: tuple[Path, nn.Sequential]) -> None:
    path, _ = saved
    other = mlp(hidden=9)
    other.initialize()
    with pytest.raises(CheckpointError, match=r"'0\.weight' has shape \(8, 5\)"):
        other.load_parameters(str(path))
    assert other[0].weight.shape == (9, None)


def test_shapes_that_contradict_declarations_are_refused(
        saved: tuple[Path, nn.Sequential]) -> None:
    path, _ = saved
    other = mlp(in_units=None)
    other.add(nn.Dense(2, in_units=4))  # 3 features come out of layer 1, not 4
    with pytest.raises(sg.ShapeError):
        other.initialize()
    other2 = mlp(in_units=7)
    with pytest.raises(CheckpointError, match=r"declares \(8, 7\)"):
        other2.load_parameters(str(path))


def test_missing_and_extra_parameters(saved: tuple[Path, nn.Sequential], tmp_path: Path) -> None:
    path, _ = saved
    bigger = mlp()
    bigger.add(nn.Dense(2))
    with pytest.raises(CheckpointError, match=r"'2\.weight' is missing"):
        bigger.load_parameters(str(path))
    assert not bigger[0].weight.is_initialized
    bigger.load_parameters(str(path), allow_missing=True)
    assert bigger[0].weight.shape == (8, 5) and not bigger[2].weight.is_initialized
    smaller = nn.Sequential()
    smaller.add(nn.Dense(8, activation="relu"))
    with pytest.raises(CheckpointError, match=r"'1\.weight', which the network does not have"):
        smaller.load_parameters(str(path))
    smaller.load_parameters(str(path), ignore_extra=True)


def test_truncated_foreign_and_pickled_files(saved: tuple[Path, nn.Sequential],
                                             tmp_path: Path) -> None:
    path, _ = saved
    net = mlp()
    truncated = tmp_path / "t.params"
    truncated.write_bytes(path.read_bytes()[:100])
    foreign = tmp_path / "f.npz"
    np.savez(foreign, weights=np.ones(3))
    pickled = tmp_path / "p.params"
    pickled.write_bytes(pickle.dumps({"0.weight": np.ones((8, 5))}))
    for bad, pattern in ((truncated, "not"), (foreign, "not a shapegraph parameter file"),
                         (pickled, "not an .npz archive"), (tmp_path / "none", "no such")):
        with pytest.raises(CheckpointError, match=pattern):
            net.load_parameters(str(bad))
        assert not any(p.is_initialized for p in net.collect_params().values())


def test_interrupted_save_leaves_the_old_file(saved: tuple[Path, nn.Sequential],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path, net = saved
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        net.save_parameters(str(path))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".shapegraph")] == []


def test_file_shapes_that_contradict_the_network_are_refused(
        saved: tuple[Path, nn.Sequential], tmp_path: Path) -> None:
    path, _ = saved
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["1.weight"] = np.ones((3, 9), np.float32)  # layer 0 gives 8 features, not 9
    doctored = tmp_path / "doctored.params"
    with open(doctored, "wb") as fh:
        np.savez(fh, **arrays)
    net = mlp()
    with pytest.raises(sg.ShapeError, match=r"8.*9|9.*8"):
        net.load_parameters(str(doctored))
    assert not any(p.is_initialized for p in net.collect_params().values())
