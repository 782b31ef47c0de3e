"""When to run a plan's parallel kernels on one thread: a busy machine.

OpenMP's parallel regions end at a barrier every thread of the team must reach. When another
process takes one of the cores, a team thread waits behind it for the scheduler's next turn
(milliseconds), and a forward call with dozens of regions pays that at each: next to one
CPU-bound process on two cores, ResNet blocks at batch 1 took 1.1-12 ms a call on two
threads against 0.36 ms on one (0.23 ms on two when the machine is quiet). ONNX Runtime's
pool lets the calling thread take the work of a worker that has not started; numba's
OpenMP layer cannot, so the runner measures instead.

A :class:`ThreadGovernor` (one per plan and thread count) times each call. Four calls in a
row slower than ``SLOW`` times the fastest call seen on all threads switch the plan to one
thread. On one thread, a call on all threads is tried again after ``PROBE_S`` seconds
(and at least ``PROBE_AFTER`` calls on one thread, to compare with), and the plan goes
back to all threads when that call beats ``PROBE_WIN`` times the recent one-thread time.
Each probe that loses doubles the wait before the next, up to ``PROBE_MAX_S``: a probe on
a busy machine can cost as much as 30 one-thread calls (ResNet blocks: 12 ms against 0.4).
Each call costs two clock reads and a few comparisons (under a microsecond).
"""

from __future__ import annotations

__all__ = ["PROBE_AFTER", "PROBE_MAX_S", "PROBE_S", "PROBE_WIN", "SLOW", "SLOW_CALLS",
           "ThreadGovernor"]

SLOW = 1.5  # a call this much slower than the fastest on all threads counts as slow
SLOW_CALLS = 4  # slow calls in a row that switch to one thread
PROBE_S = 0.1  # on one thread, seconds before a call on all threads
PROBE_MAX_S = 1.6  # ... doubled after each probe that lost, up to this
PROBE_WIN = 1.0  # a probe faster than this times the recent one-thread time switches back
PROBE_AFTER = 2  # calls on one thread before a probe


class ThreadGovernor:
    """Decides, call by call, whether a plan runs on all its threads or on one."""

    __slots__ = ("best", "next_probe", "one_thread", "probe_s", "serial_calls", "serial_time",
                 "streak")

    def __init__(self) -> None:
        self.best = float("inf")  # fastest call on all threads, seconds
        self.streak = 0  # slow calls in a row on all threads
        self.one_thread = False
        self.serial_time = 0.0  # recent time of a call on one thread
        self.serial_calls = 0  # calls on one thread since the switch
        self.next_probe = 0.0
        self.probe_s = PROBE_S  # the wait before the next probe

    def parallel(self, now: float) -> bool:
        """Whether the call starting at ``now`` (``time.perf_counter()``) runs on all
        threads: always, unless the plan was switched to one thread and no probe is due."""
        return not self.one_thread or (
            now >= self.next_probe and self.serial_calls >= PROBE_AFTER)

    def record(self, parallel: bool, start: float, end: float) -> None:
        """Account for a call that ran from ``start`` to ``end`` on all threads
        (``parallel``) or on one."""
        took = end - start
        if not parallel:
            self.serial_time = took if not self.serial_calls else \
                0.75 * self.serial_time + 0.25 * took
            self.serial_calls += 1
            return
        if self.one_thread:  # a probe
            if took < PROBE_WIN * self.serial_time:
                self.one_thread, self.streak = False, 0
                self.best = min(self.best, took)
            else:
                self.probe_s = min(2 * self.probe_s, PROBE_MAX_S)
                self.next_probe = end + self.probe_s
            return
        if took < self.best:
            self.best = took
        if took > SLOW * self.best:
            self.streak += 1
            if self.streak >= SLOW_CALLS:
                self.one_thread, self.serial_calls, self.probe_s = True, 0, PROBE_S
                self.next_probe = end + PROBE_S
        else:
            self.streak = 0
