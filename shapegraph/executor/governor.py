"""When to run a plan's parallel kernels on one thread: a busy machine.

OpenMP's parallel regions end at a barrier every thread of the team must reach. When another
process takes one of the cores, a team thread waits behind it for the scheduler's next turn
(milliseconds), and a forward call with dozens of regions pays that at each: next to one
CPU-bound process on two cores, ResNet blocks at batch 1 took 1.1-12 ms a call on two
threads against 0.36 ms on one (0.23 ms on two when the machine is quiet). ONNX Runtime's
pool lets the calling thread take the work of a worker that has not started; numba's
OpenMP layer cannot, so the runner measures instead.

A :class:`ThreadGovernor` (one per plan and thread count) times each call. Its call number
``CALIBRATE_AT`` runs on one thread, once, to have a one-thread time to compare with.
``SLOW_CALLS`` calls in a row slower than ``SLOW`` times the fastest call seen on all
threads, or than ``SERIAL_SLOW`` times the fastest on one, together at least ``SLOW_S``
seconds long (or any number of them, ``SLOW_LONG_S`` long: a large model's), switch the
plan to one thread. (Without the one-thread time, a machine busy from the first call on
set the fastest call on all threads at its busy speed, and the plan stayed there: ResNet
blocks at batch 1 ran 12.3 ms a call on two threads for a whole benchmark measurement,
0.45 ms on one.) On one thread, after ``PROBE_S`` seconds (and at
least ``PROBE_AFTER`` calls on one thread, to compare with), up to ``PROBE_CALLS`` calls,
within about ``PROBE_BURST_S`` seconds, run on all threads again: the first calls after a
thread sat idle are slow (1.3-2.3x for about five calls, measured), so one short call would
not tell. The plan goes back to all threads as soon as one of them beats ``PROBE_WIN``
times the recent one-thread time; a call slower than ``PROBE_GIVE_UP`` times it ends the
probe at once. Each probe that loses doubles the wait before the next, up to
``PROBE_MAX_S``: on a busy machine a call on all threads can cost as much as 30 on one
(ResNet blocks: 12 ms against 0.4). Each call costs two clock reads and a few comparisons
(under a microsecond).
"""

from __future__ import annotations

__all__ = ["CALIBRATE_AT", "PROBE_AFTER", "PROBE_BURST_S", "PROBE_CALLS", "PROBE_GIVE_UP",
           "PROBE_MAX_S", "PROBE_S", "PROBE_WIN", "SERIAL_SLOW", "SLOW", "SLOW_CALLS",
           "SLOW_LONG_S", "SLOW_S", "ThreadGovernor"]

SLOW = 1.5  # a call this much slower than the fastest on all threads counts as slow
SERIAL_SLOW = 1.2  # ... and so does one this much slower than the fastest on one thread
CALIBRATE_AT = 3  # the call (from 0) that runs on one thread once (after warm-up calls)
SLOW_CALLS = 4  # slow calls in a row that switch to one thread ...
SLOW_S = 0.02  # ... when they took this long together
SLOW_LONG_S = 0.1  # slow calls in a row that took this long switch, however few
PROBE_S = 0.1  # on one thread, seconds before calls on all threads are tried again
PROBE_MAX_S = 1.6  # ... doubled after each probe that lost, up to this
PROBE_AFTER = 2  # calls on one thread before a probe
PROBE_CALLS = 4  # calls on all threads a probe makes at most ...
PROBE_BURST_S = 0.005  # ... and no more once they took this long
PROBE_WIN = 1.0  # a probe call faster than this times the recent one-thread time wins
PROBE_GIVE_UP = 4.0  # a probe call slower than this times it ends the probe


class ThreadGovernor:
    """Decides, call by call, whether a plan runs on all its threads or on one."""

    __slots__ = ("best", "calls", "next_probe", "one_thread", "probe_s", "probe_spent",
                 "probing", "serial_best", "serial_calls", "serial_time", "streak",
                 "streak_s")

    def __init__(self) -> None:
        self.calls = 0  # calls recorded
        self.best = float("inf")  # fastest call on all threads, seconds
        self.serial_best = float("inf")  # fastest call on one thread
        self.streak = 0  # slow calls in a row on all threads
        self.streak_s = 0.0  # ... and their time
        self.one_thread = False
        self.serial_time = 0.0  # recent time of a call on one thread
        self.serial_calls = 0  # calls on one thread since the switch
        self.next_probe = 0.0
        self.probe_s = PROBE_S  # the wait before the next probe
        self.probing = 0  # calls made by the probe under way
        self.probe_spent = 0.0  # ... and their time

    def parallel(self, now: float) -> bool:
        """Whether the call starting at ``now`` (``time.perf_counter()``) runs on all
        threads: always, unless the plan was switched to one thread and no probe is due or
        under way; and the calibration call (``CALIBRATE_AT``) runs on one."""
        if self.calls == CALIBRATE_AT:
            return False
        return not self.one_thread or self.probing > 0 or (
            now >= self.next_probe and self.serial_calls >= PROBE_AFTER)

    def record(self, parallel: bool, start: float, end: float) -> None:
        """Account for a call that ran from ``start`` to ``end`` on all threads
        (``parallel``) or on one."""
        took = end - start
        self.calls += 1
        if not parallel:
            self.serial_best = min(self.serial_best, took)
            if not self.one_thread:  # the calibration call
                return
            self.serial_time = took if not self.serial_calls else \
                0.75 * self.serial_time + 0.25 * took
            self.serial_calls += 1
            return
        if self.one_thread:  # a probe's call
            self.probing += 1
            self.probe_spent += took
            if took < PROBE_WIN * self.serial_time:
                self.one_thread, self.streak, self.streak_s = False, 0, 0.0
                self.probing, self.probe_spent = 0, 0.0
                self.best = min(self.best, took)
            elif self.probing >= PROBE_CALLS or self.probe_spent >= PROBE_BURST_S or \
                    took > PROBE_GIVE_UP * self.serial_time:
                self.probing, self.probe_spent = 0, 0.0
                self.probe_s = min(2 * self.probe_s, PROBE_MAX_S)
                self.next_probe = end + self.probe_s
            return
        if took < self.best:
            self.best = took
        if took > SLOW * self.best or took > SERIAL_SLOW * self.serial_best:
            self.streak += 1
            self.streak_s += took
            if (self.streak >= SLOW_CALLS and self.streak_s >= SLOW_S) or \
                    self.streak_s >= SLOW_LONG_S:
                self.one_thread, self.serial_calls, self.probe_s = True, 0, PROBE_S
                self.next_probe = end + PROBE_S
        else:
            self.streak, self.streak_s = 0, 0.0
