"""A cold first call's compile shared out over helper processes (executor/warm.py).

The tests run with helpers off (``SHAPEGRAPH_COMPILE_WORKERS=0``, conftest.py: the
pytest-xdist workers have the cores already); the tests here turn them on.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pytest
from plan_checks import unrecorded_types

import shapegraph as sg
from shapegraph import init, nn, ops
from shapegraph.executor import warm
from shapegraph.executor.runtime import Runner


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def runner_of(model: sg.CompiledModel) -> Runner:
    (runner,) = model._runners.values()
    assert isinstance(runner, Runner)
    return runner


def convnet(width: int = 8) -> nn.Sequential:
    """Convolutions of two generated shapes and the GEMM path, pools, batchnorm, a dense
    layer: kernels with literal, int and tuple arguments. (Each test that needs a plan
    nothing has compiled yet in this process gives its own ``width``.)"""
    net = nn.Sequential()
    net.add(nn.Conv2D(width, 3, padding=1, activation="relu"), nn.BatchNorm(),
            nn.MaxPool2D(2), nn.Conv2D(12, 5, padding=2, strides=2, activation="tanh"),
            nn.Conv2D(6, 1), nn.AvgPool2D(2), nn.Dense(10))
    net.initialize(init.Xavier())
    return net


class Transposed(nn.Block):
    """dense -> a rank-7 transpose (a numpy reference step) -> dense: two segments."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.d1 = nn.Dense(width, activation="relu", flatten=False)
        self.d2 = nn.Dense(4, flatten=False)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return ops.softmax(self.d2(ops.transpose(self.d1(x), (0, 2, 1, 3, 4, 5, 6))))


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Helpers on, every estimate worth one, and a plan cache of its own: the generated
    module is new, so its segments and generated kernels are compiled nowhere yet."""
    monkeypatch.setenv("SHAPEGRAPH_CACHE", str(tmp_path))
    monkeypatch.setenv("SHAPEGRAPH_COMPILE_WORKERS", "1")
    monkeypatch.setattr(warm, "MIN_PARALLEL_SECONDS", 0.0)


def models(width: int) -> list[tuple[Any, tuple[int, ...]]]:
    net = convnet(width)
    t = Transposed(width)
    t.initialize()
    return [(lambda: sg.compile(net, sg.Input("x", ("b", 3, 12, 12))), (2, 3, 12, 12)),
            (lambda: sg.compile(net, sg.Input("x", ("b", 3, 12, 12)), debug=True),
             (1, 3, 12, 12)),
            (lambda: sg.compile(t, sg.Input("x", ("b", 2, 3, 2, 2, 2, 4))),
             (3, 2, 3, 2, 2, 2, 4))]


@pytest.mark.parametrize("case", range(3), ids=["segments", "debug", "reference step"])
def test_recorded_types_are_those_the_first_call_compiles(
        case: int, fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorder's types for each kernel call are the ones the call compiled (the plan
    is new, so its segments are compiled here and type their kernels' arguments)."""
    monkeypatch.setenv("SHAPEGRAPH_COMPILE_WORKERS", "0")
    make, shape = models(12 + case)[case]
    model = make()
    x = rand(*shape)
    model(x)
    assert unrecorded_types(model, x) == []


def test_large_steps_called_from_python_record_argument_types() -> None:
    """A plan of large steps calls its kernels from Python: plain ints, not literals."""
    net = nn.Sequential()
    net.add(nn.Conv2D(64, 3, padding=1, activation="relu"), nn.Conv2D(64, 3, padding=1))
    net.initialize(init.Xavier())
    model = sg.compile(net, sg.Input("x", (1, 64, 112, 112)))
    x = rand(1, 64, 112, 112)
    model(x)
    gen = runner_of(model).gen
    assert gen.from_python
    assert unrecorded_types(model, x) == []


def test_split_gives_the_longest_first_to_the_least_loaded() -> None:
    units = [warm.Unit("m", "p", name, (), cost)
             for name, cost in [("a", 1.0), ("b", 12.0), ("c", 4.0), ("d", 4.0), ("e", 2.0)]]
    own, helper = warm.split(units, [0.0, 1.0])
    assert [u.attr for u in own] == ["b"]
    assert [u.attr for u in helper] == ["c", "d", "e", "a"]
    assert warm.split([], [0.0, 1.0]) == [[], []]


def test_workers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAPEGRAPH_COMPILE_WORKERS", "2")
    assert warm.workers() == 2
    monkeypatch.setenv("SHAPEGRAPH_COMPILE_WORKERS", "0")
    assert warm.workers() == 0
    for bad in ("two", "-1", "1.5"):
        monkeypatch.setenv("SHAPEGRAPH_COMPILE_WORKERS", bad)
        with pytest.raises(ValueError, match="must be a whole number of helper processes"):
            warm.workers()
    monkeypatch.delenv("SHAPEGRAPH_COMPILE_WORKERS")
    assert 0 <= warm.workers() <= 3


def _spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {"own": [], "stages": None, "helpers": None}
    stages, compile_, precompile = warm.stages, warm._compile, warm.precompile

    def spy_stages(*a: Any) -> Any:
        seen["stages"] = stages(*a)
        return seen["stages"]

    def spy_compile(units: Any) -> None:
        seen["own"] += list(units)
        compile_(units)

    def spy_precompile(*a: Any) -> int:
        seen["helpers"] = precompile(*a)
        return seen["helpers"]

    monkeypatch.setattr(warm, "stages", spy_stages)
    monkeypatch.setattr(warm, "_compile", spy_compile)
    import shapegraph.executor.runtime as runtime
    monkeypatch.setattr(runtime, "precompile", spy_precompile)
    return seen


def test_a_helper_compiles_its_share_into_the_cache(fresh: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy(monkeypatch)
    model = sg.compile(convnet(9), sg.Input("x", ("b", 3, 12, 12)))
    x = rand(2, 3, 12, 12)
    got = model(x)
    assert seen["helpers"] == 1
    units = [u for stage in seen["stages"] for u in stage]
    theirs = [u for u in units if u not in seen["own"]]
    assert theirs, "the helper was given nothing"
    assert any(u.attr.startswith("seg") for u in units)  # the second stage
    generated = [u for u in theirs if not u.module.startswith("shapegraph.")]
    assert generated, [u.attr for u in units]
    for u in generated:  # compiled by the helper: this process loaded it from the disk
        disp = warm._dispatcher(u)
        assert disp.stats.cache_hits.get(u.argtypes), (u.attr, u.argtypes)
    from shapegraph.infer.interpret import run_reference
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    assert unrecorded_types(model, x) == []


def test_a_helper_that_dies_leaves_its_share_to_the_first_call(
        fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy(monkeypatch)
    monkeypatch.setattr(warm, "HELPER_COMMAND", [sys.executable, "-c", "pass"])
    model = sg.compile(convnet(10), sg.Input("x", ("b", 3, 12, 12)))
    x = rand(1, 3, 12, 12)
    got = model(x)
    assert seen["helpers"] == 1
    from shapegraph.infer.interpret import run_reference
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


WARM_AGAIN = """
import sys
sys.path.insert(0, {tests!r})
import numpy as np, shapegraph as sg
from shapegraph.executor import warm
from test_warm import convnet, rand
seen = []
stages = warm.stages
warm.stages = lambda *a: seen.append(stages(*a)) or seen[-1]
warm.MIN_PARALLEL_SECONDS = 0.0
sg.compile(convnet(11), sg.Input("x", ("b", 3, 12, 12)))(rand(2, 3, 12, 12))
print(seen)
"""


def test_a_warm_cache_starts_no_helper(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second process finds everything in the disk cache: nothing to share out."""
    import subprocess
    from pathlib import Path

    seen = _spy(monkeypatch)
    sg.compile(convnet(11), sg.Input("x", ("b", 3, 12, 12)))(rand(2, 3, 12, 12))
    assert seen["stages"]
    script = WARM_AGAIN.format(tests=str(Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "[[]]", out.stdout + out.stderr


def test_a_malformed_worker_count_is_an_error_on_every_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = sg.compile(convnet(), sg.Input("x", ("b", 3, 12, 12)))
    x = rand(1, 3, 12, 12)
    monkeypatch.setenv("SHAPEGRAPH_COMPILE_WORKERS", "-")
    for _ in range(2):
        with pytest.raises(ValueError, match="SHAPEGRAPH_COMPILE_WORKERS must be a whole"):
            model(x)
    monkeypatch.setenv("SHAPEGRAPH_COMPILE_WORKERS", "0")
    from shapegraph.infer.interpret import run_reference
    (want,) = run_reference(model.graph, model.params, {"x": x})
    np.testing.assert_allclose(model(x), want, rtol=2e-4, atol=2e-4)


def test_a_helper_runs_this_shapegraph_with_this_processs_numba_cache(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from pathlib import Path

    from shapegraph.executor.jit import numba

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = warm.helper_env()
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path)
    root = str(Path(warm.__file__).resolve().parents[2])
    assert env["PYTHONPATH"].split(os.pathsep) == [root, "/elsewhere"]
    assert env["SHAPEGRAPH_COMPILE_WORKERS"] == "0"


def test_kernels_compile_at_shapegraphs_opt_level_and_leave_numbas_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """shapegraph's njit runs numba's pipeline at ``jit.OPT`` (read by numba for each
    library it optimizes), restores numba's own level after, and leaves a user's
    ``NUMBA_OPT`` in force; the register tiles (C functions) keep numba's level."""
    import numba.core.compiler
    import numba.core.config as config

    from shapegraph.executor import jit, kernels_gemm, kernels_vgemm

    seen: list[int] = []

    class Spy(jit.Compiler):  # records the level the pipeline runs at
        def _compile_bytecode(self) -> Any:
            seen.append(int(config.OPT))
            return super()._compile_bytecode()

    def add(a: int, b: int) -> int:
        return a + b

    monkeypatch.delenv("NUMBA_OPT", raising=False)
    before = int(config.OPT)
    assert jit.njit(pipeline_class=Spy)(add)(1, 2) == 3 and seen == [jit.OPT]
    assert int(config.OPT) == before  # restored
    monkeypatch.setenv("NUMBA_OPT", "1")  # the user's choice stands
    seen.clear()
    assert jit.njit(pipeline_class=Spy)(add)(2, 3) == 5 and seen == [1]
    # every kernel goes through it, the tiles through numba's own
    assert kernels_gemm.conv_gemm._compiler.pipeline_class is jit.Compiler
    assert kernels_vgemm._tile_c._compiler.pipeline_class is numba.core.compiler.Compiler


def test_numba_gets_the_hosts_features_with_wide_vectors(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """On an AVX-512 host numba compiles with the host's features and ``-prefer-256-bit``
    (so LLVM's loop vectorizer uses 512-bit vectors on Intel's cores too), in this process
    and, through the environment, in helper processes; a user's ``NUMBA_CPU_NAME`` or
    ``NUMBA_CPU_FEATURES`` stands; without AVX-512 nothing is set. And a loop left to
    LLVM's vectorizer runs on 512-bit registers where it is set."""
    import numba.core.config as config
    from llvmlite import binding

    from shapegraph.executor import jit

    host = binding.get_host_cpu_features()
    if not host.get("avx512f", False):
        assert jit.WIDE_VECTORS is None
        return
    if jit.WIDE_VECTORS is None:  # (the user's own settings, in this process)
        assert "NUMBA_CPU_NAME" in os.environ or "NUMBA_CPU_FEATURES" in os.environ
        return
    want = host.flatten() + ",-prefer-256-bit"
    assert want == jit.WIDE_VECTORS
    assert config.CPU_FEATURES == jit.WIDE_VECTORS == os.environ["NUMBA_CPU_FEATURES"]
    monkeypatch.delenv("NUMBA_CPU_FEATURES")
    assert jit._wide_vectors() == jit.WIDE_VECTORS
    monkeypatch.setenv("NUMBA_CPU_NAME", "generic")
    assert jit._wide_vectors() is None

    @jit.njit
    def scale(x: np.ndarray, y: np.ndarray) -> None:
        for i in range(x.size):
            y[i] = x[i] + x[i]

    x = np.arange(64, dtype=np.float32)
    y = np.empty_like(x)
    scale(x, y)
    assert (y == 2 * x).all()
    asm = next(iter(scale.inspect_asm().values()))
    assert any(line.split()[:1] == ["vaddps"] and "%zmm" in line for line in asm.splitlines())


def test_import_marks_follow_the_source(tmp_path: Any, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    """The mark that a module's C functions are cached lies beside numba's cache of the
    module (``NUMBA_CACHE_DIR``'s here) and names its source as it is: another source,
    another mark. A file that is not there has none."""
    from shapegraph.executor import helpers
    from shapegraph.executor.jit import numba

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "mod.py"
    src.write_text("x = 1\n")
    mark = helpers._import_mark(str(src))
    assert mark is not None and mark.name.startswith("mod.") and mark.suffix == ".imported"
    assert (tmp_path / "cache") in mark.parents
    helpers.mark_imported(str(src))
    assert mark.exists()
    src.write_text("x = 2\n")
    assert helpers._import_mark(str(src)) not in (None, mark)
    assert helpers._import_mark(str(tmp_path / "missing.py")) is None


SHARED_IMPORT = """
import shapegraph.executor.kernels_oconv
from shapegraph.executor import helpers
proc = helpers._IMPORTS.get("shapegraph.executor.kernels_vgemm")
import shapegraph.executor.kernels_vgemm
print(proc is not None, None if proc is None else proc.returncode, len(helpers._IMPORTS))
"""


def test_a_cold_import_compiles_the_other_tiles_in_a_helper(tmp_path: Any) -> None:
    """An empty numba cache: importing kernels_oconv starts a helper that imports
    kernels_vgemm (their C functions compile at once, 2.4 and 3.4 s cold, one after the
    other before), and importing kernels_vgemm then waits for it and finds them cached;
    both are marked. A second process, the cache warm, starts none; nor does one with
    helpers off."""
    import subprocess

    def run(**env: str) -> list[str]:
        out = subprocess.run([sys.executable, "-c", SHARED_IMPORT], capture_output=True,
                             text=True, timeout=300, check=True,
                             env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), **env})
        return out.stdout.split()

    assert run(SHAPEGRAPH_COMPILE_WORKERS="1") == ["True", "0", "0"]
    assert sorted(p.name.split(".")[0] for p in tmp_path.rglob("*.imported")) == [
        "kernels_oconv", "kernels_vgemm"]
    assert run(SHAPEGRAPH_COMPILE_WORKERS="1") == ["False", "None", "0"]
    for mark in tmp_path.rglob("*.imported"):
        mark.unlink()
    assert run(SHAPEGRAPH_COMPILE_WORKERS="0") == ["False", "None", "0"]


def test_generated_modules_are_named_by_every_compiled_modules_source() -> None:
    """A plan's generated module links the kernels' compiled code into its segments, and
    numba's cache of it knows only its own file: so its name hashes the source of every
    module of shapegraph's with compiled code (a change there, a new module)."""
    import ast
    import inspect
    from pathlib import Path

    from shapegraph.executor import codegen

    fingerprinted = {node.name for node in ast.walk(ast.parse(inspect.getsource(
        codegen._kernel_fingerprint))) if isinstance(node, ast.alias)}
    compiled = {f"shapegraph.{p.parent.name}.{p.stem}"
                for p in Path(codegen.__file__).parents[1].glob("*/*.py")
                if p.name != "codegen.py" and any(
                    mark in p.read_text()
                    for mark in ("@njit", "@cfunc", "intrinsic(", "_jit(cache="))}
    assert compiled <= fingerprinted, compiled - fingerprinted
