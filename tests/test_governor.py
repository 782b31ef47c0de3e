"""The thread governor: a plan runs on one thread while calls on all threads are slow (a busy
machine), and goes back when a probe call on all threads beats one thread again."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shapegraph as sg
from shapegraph import nn
from shapegraph.executor import governor as G
from shapegraph.executor.governor import ThreadGovernor


class Clock:
    """Calls laid end to end on a fake timeline (seconds)."""

    def __init__(self, gov: ThreadGovernor) -> None:
        self.gov, self.now = gov, 0.0

    def call(self, parallel_s: float, serial_s: float) -> bool:
        """One call taking ``parallel_s`` on all threads or ``serial_s`` on one, as the
        governor decides; returns whether it ran on all threads."""
        par = self.gov.parallel(self.now)
        end = self.now + (parallel_s if par else serial_s)
        self.gov.record(par, self.now, end)
        self.now = end
        return par

    def calibrate(self, parallel_s: float, serial_s: float) -> None:
        """The first calls, up to the one on one thread (``CALIBRATE_AT``)."""
        ran = [self.call(parallel_s, serial_s) for _ in range(G.CALIBRATE_AT + 1)]
        assert ran == [True] * G.CALIBRATE_AT + [False]


def test_slow_calls_in_a_row_switch_to_one_thread_and_a_fast_probe_switches_back() -> None:
    c = Clock(ThreadGovernor())
    c.calibrate(0.001, 0.0018)
    assert all(c.call(0.001, 0.0018) for _ in range(10))  # quiet: all threads
    # a busy neighbour: calls on all threads take 8 ms, on one 2 ms
    ran = [c.call(0.008, 0.002) for _ in range(G.SLOW_CALLS)]
    assert all(ran) and c.gov.one_thread  # the last slow call switched
    ran = [c.call(0.008, 0.002) for _ in range(40)]  # 80 ms on one thread
    assert not any(ran)
    ran = [c.call(0.008, 0.002) for _ in range(20)]  # past PROBE_S: one probe, slow
    assert ran.count(True) == 1 and c.gov.one_thread
    # the neighbour leaves: the next probe (after twice PROBE_S) wins, all threads again
    ran = [c.call(0.001, 0.0018) for _ in range(int(2 * G.PROBE_S / 0.0018) + 2)]
    assert ran[-1] and not c.gov.one_thread and c.gov.streak == 0


def test_isolated_slow_calls_do_not_switch() -> None:
    c = Clock(ThreadGovernor())
    c.calibrate(0.001, 0.002)
    for _ in range(50):  # a hiccup every few calls (an interrupt, a page fault)
        for _ in range(G.SLOW_CALLS - 1):
            assert c.call(0.005, 0.002)
        assert c.call(0.001, 0.002)
    assert not c.gov.one_thread


def test_no_probe_before_one_thread_was_timed() -> None:
    """Rare calls (further apart than PROBE_S) still get one-thread calls to compare with:
    a probe comes only after PROBE_AFTER of them."""
    g = ThreadGovernor()
    t = 0.0
    for _ in range(5):
        g.record(True, t, t + 0.001)
        t += 1.0
    for _ in range(G.SLOW_CALLS):
        assert g.parallel(t)
        g.record(True, t, t + 0.01)
        t += 1.0
    assert g.one_thread
    for _ in range(G.PROBE_AFTER):
        assert not g.parallel(t)
        g.record(False, t, t + 0.002)
        t += 1.0
    assert g.parallel(t)  # a probe
    g.record(True, t, t + 0.01)  # slow: stay
    assert g.one_thread and not g.parallel(t + 0.01)


def test_probes_that_lose_come_less_and_less_often() -> None:
    c = Clock(ThreadGovernor())
    c.calibrate(0.001, 0.002)
    for _ in range(G.SLOW_CALLS):
        c.call(0.012, 0.002)  # busy from here on: all threads 12 ms, one 2 ms
    probes = []
    for _ in range(6000):  # 12 s
        start = c.now
        if c.call(0.012, 0.002):
            probes.append(start)
    gaps = np.diff(probes)
    want = [min(G.PROBE_S * 2 ** (k + 1), G.PROBE_MAX_S) for k in range(len(gaps))]
    np.testing.assert_allclose(gaps, np.array(want) + 0.012, atol=0.0021)
    assert c.gov.one_thread
    # the cost of probing stays small: at most 2% of the time went to slow probes
    assert len(probes) * 0.012 < 0.02 * c.now


def test_a_probe_is_a_few_calls_as_the_first_after_idle_are_slow() -> None:
    """LeNet-64 on two threads, measured: 1273, 984, 840, 688 µs after 0.2 s idle, then
    545; on one thread 890. A probe of one call would lose every time."""
    g = ThreadGovernor()
    t = 0.0
    for took in [0.000545] * 5 + [0.003] * G.SLOW_CALLS * 3:  # settle, then busy
        g.record(g.parallel(t), t, t + took)
        t += took
    assert g.one_thread
    while not g.parallel(t):  # quiet again: one thread
        g.record(False, t, t + 0.00089)
        t += 0.00089
    for took in (0.001273, 0.000984, 0.000840):
        assert g.parallel(t)
        g.record(True, t, t + took)
        t += took
    assert not g.one_thread  # the third call beat one thread's 890 µs


def test_slow_calls_must_add_up_to_slow_s() -> None:
    """A short model's hiccups (a few slow 30 µs calls) are not a busy machine."""
    c = Clock(ThreadGovernor())
    c.calibrate(0.00002, 0.00003)
    for _ in range(100):
        assert c.call(0.00005, 0.00003)  # 5 ms of slow calls in a row: not yet
    assert not c.gov.one_thread
    while c.call(0.00005, 0.00003):  # ... until they reach SLOW_S
        pass
    assert c.gov.one_thread and c.now >= G.SLOW_S


def test_a_machine_busy_from_the_first_call_switches_after_the_one_thread_call() -> None:
    """ResNet blocks at batch 1 next to a busy process from the start: 12.3 ms a call on
    two threads, 0.45 ms on one. Every call on all threads is as slow as the fastest of
    them; the calibration call on one thread shows they are slow."""
    c = Clock(ThreadGovernor())
    c.calibrate(0.0123, 0.00045)
    ran = [c.call(0.0123, 0.00045) for _ in range(G.SLOW_CALLS + 100)]
    assert ran[:G.SLOW_CALLS] == [True] * G.SLOW_CALLS and c.gov.one_thread
    assert ran.count(True) <= G.SLOW_CALLS + 1  # then one thread, a probe at most
    # on a quiet machine the same calibration changes nothing: two threads stay
    q = Clock(ThreadGovernor())
    q.calibrate(0.00025, 0.00045)
    assert all(q.call(0.00025, 0.00045) for _ in range(1000)) and not q.gov.one_thread


def test_a_large_model_switches_after_one_long_slow_call_and_probes_once() -> None:
    """ResNet-50 on two threads: 60 ms quiet, 190 ms next to a busy process, 90 ms on one
    thread. Four slow calls would cost most of a second."""
    c = Clock(ThreadGovernor())
    c.call(0.060, 0.090)
    assert c.call(0.190, 0.090) and c.gov.one_thread  # one call past SLOW_LONG_S
    ran = [c.call(0.190, 0.090) for _ in range(5)]
    assert ran == [False, False, True, False, False]  # a probe of one call (PROBE_BURST_S)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.5, 1.49), min_size=1, max_size=200))
def test_calls_within_slow_of_the_best_never_switch(scale: list[float]) -> None:
    c = Clock(ThreadGovernor())
    c.calibrate(0.001, 0.002)
    for s in scale:
        assert c.call(0.001 * s if s >= 1 else 0.001, 0.002)
    assert not c.gov.one_thread


def _net() -> tuple[sg.CompiledModel, np.ndarray]:
    """1x1 convolutions (``conv_gemm``: parallel, compiled once for every shape)."""
    net = nn.Sequential()
    net.add(nn.Conv2D(32, 1, activation="relu"), nn.Conv2D(32, 1), nn.GlobalAvgPool2D(),
            nn.Dense(5))
    net.initialize()
    x = np.random.default_rng(0).standard_normal((4, 16, 24, 24)).astype(np.float32)
    return sg.compile(net, x), x


def test_a_plan_switched_to_one_thread_runs_on_one_and_restores_the_setting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from shapegraph.executor.jit import numba
    from shapegraph.executor.runtime import Runner

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two threads")
    model, x = _net()
    numba.set_num_threads(2)
    try:
        want = model(x)
        seen: list[tuple[int, int]] = []
        real_call = Runner._call

        def spy(self: Runner, threads: int, *args: object) -> None:
            seen.append((threads, numba.get_num_threads()))
            real_call(self, threads, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(Runner, "_call", spy)
        monkeypatch.setattr(ThreadGovernor, "parallel", lambda self, now: False)
        got = model(x)
        assert seen == [(1, 1)]  # the kernels were told one thread, and numba too
        assert numba.get_num_threads() == 2  # the caller's setting, back
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)

        def fail(self: Runner, threads: int, *args: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(Runner, "_call", fail)
        with pytest.raises(RuntimeError, match="boom"):
            model(x)
        assert numba.get_num_threads() == 2  # restored on the way out of an error too
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
