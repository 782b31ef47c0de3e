"""The machine around ``shapegraph bench``: how busy it is before and during a run (the
1-minute load average, and the CPU the other processes use, from ``/proc/stat`` less this
process and its children), the warning a user reads when it is busy, the peers that are not
installed, and the progress shown while the run goes on (a rich bar on a terminal, one plain
line per measurement otherwise)."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

__all__ = [
    "BUSY_CORES",
    "PEERS",
    "Load",
    "LoadMeter",
    "PlainProgress",
    "RichProgress",
    "busy_warning",
    "installed",
    "missing_note",
    "missing_peers",
    "progress_for",
    "sample_load",
]

BUSY_CORES = 0.25  # other processes using more than this many cores: the machine is busy
# the peers (and the packages the harness uses) and the extra that installs them
PEERS = (("onnxruntime", "ONNX Runtime"), ("torch", "PyTorch"),
         ("onnx", "the onnx package (ONNX export and the ONNX CNN workloads)"),
         ("threadpoolctl", "threadpoolctl (limits the BLAS threads)"))
EXTRA = "pip install 'shapegraph[bench]'"


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked package
        return False


def missing_peers(use_torch: bool = True) -> list[tuple[str, str]]:
    """``(module, what it is)`` of each peer or harness package that is not installed."""
    return [(m, what) for m, what in PEERS
            if (use_torch or m != "torch") and not installed(m)]


def missing_note(missing: list[tuple[str, str]]) -> str | None:
    if not missing:
        return None
    names = "; ".join(f"{what} ({m})" for m, what in missing)
    return (f"not installed, so left out: {names}. {EXTRA} installs them; the rest of "
            "the benchmark runs.")


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Load:
    """How busy the machine was over a stretch of time."""

    load1: float | None  # the 1-minute load average at the end (highest seen, during a run)
    others: float | None  # cores' worth of CPU other processes used (None: unknown)
    seconds: float = 0.0


def _cpu_busy_s() -> float | None:
    """Seconds of CPU used on all cores since boot, from the first line of /proc/stat."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in parts[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _load1() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on this platform
        return None


class LoadMeter:
    """CPU use of the other processes from :meth:`start` to :meth:`stop`; :meth:`tick`
    keeps the highest 1-minute load average seen in between."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.busy0, self.own0 = _cpu_busy_s(), _own_s()
        self.load1 = _load1()

    def tick(self) -> None:
        now = _load1()
        if now is not None:
            self.load1 = max(self.load1 or 0.0, now)

    def stop(self) -> Load:
        self.tick()
        dt = max(time.perf_counter() - self.t0, 1e-9)
        busy = _cpu_busy_s()
        others = None
        if busy is not None and self.busy0 is not None:
            others = max(0.0, (busy - self.busy0 - (_own_s() - self.own0)) / dt)
        return Load(self.load1, others, dt)


def sample_load(seconds: float = 0.5) -> Load:
    """How busy the machine is now: the other processes' CPU over ``seconds`` of sleep."""
    meter = LoadMeter()
    time.sleep(seconds)
    return meter.stop()


def _busy(load: Load, own: float, cores: int) -> bool:
    if load.others is not None:
        return load.others > BUSY_CORES
    # no /proc/stat: the load average, less what this run itself adds
    return load.load1 is not None and load.load1 - own > max(0.5, 0.25 * cores)


def busy_warning(before: Load, during: Load | None, cores: int, threads: int) -> str | None:
    """Words for a user when other programs used the CPU before or during the run
    (``threads``: the most threads the run itself uses)."""
    was = _busy(before, 0.0, cores)
    now = during is not None and _busy(during, threads, cores)
    if not (was or now):
        return None
    parts = []
    if during is not None and during.others is not None:
        parts.append(f"other programs used {during.others:.1f} of its {cores} CPU cores "
                     "during the run")
    if before.others is not None:
        parts.append(f"{before.others:.1f} just before it" if parts else
                     f"other programs used {before.others:.1f} of its {cores} CPU cores "
                     "just before the run")
    loads = [x.load1 for x in (before, during) if x is not None and x.load1 is not None]
    if loads:
        parts.append(f"1-minute load average up to {max(loads):.1f}")
    return (f"the machine was busy ({'; '.join(parts)}). Timings are slower and vary more "
            "than on an idle machine: for figures to compare, close other programs and run "
            "again.")


# --------------------------------------------------------------------------- progress


def _eta(done: float, total: float, elapsed: float) -> str:
    if done <= 0 or done >= total:
        return ""
    left = elapsed / done * (total - done)
    return f", about {left / 60:.0f} min left" if left >= 90 else f", about {left:.0f} s left"


class PlainProgress:
    """One line per finished measurement on ``stream`` (for logs and pipes)."""

    def __init__(self, total: int, stream: IO[str] | None = None) -> None:
        self.total, self.done = total, 0.0
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.last = ""

    def stage(self, text: str) -> None:
        if text != self.last:  # once per workload
            print(f"  ... {text}", file=self.stream, flush=True)
        self.last = text

    def step(self, label: str, impl: str, rnd: int, rounds: int, fraction: float) -> None:
        pass  # a line per round would be too many

    def advance(self, units: float, text: str) -> None:
        self.done += units
        eta = _eta(self.done, self.total, time.perf_counter() - self.t0)
        print(f"  [{self.done:.0f}/{self.total}{eta}] {text}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A rich progress bar on stderr: what is running now and an estimate of the time left."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("elapsed,"),
            TimeRemainingColumn(), TextColumn("left"), console=Console(stderr=True),
            transient=True)
        self.task = self.progress.add_task("starting", total=total)
        self.base = 0.0
        self.progress.start()

    def stage(self, text: str) -> None:
        self.progress.update(self.task, description=text)

    def step(self, label: str, impl: str, rnd: int, rounds: int, fraction: float) -> None:
        self.progress.update(self.task, description=f"{label}: {impl} round {rnd}/{rounds}",
                             completed=self.base + fraction)

    def advance(self, units: float, text: str) -> None:
        self.base += units
        self.progress.update(self.task, completed=self.base)
        self.progress.console.print(f"  {text}", highlight=False)

    def close(self) -> None:
        self.progress.stop()


def progress_for(total: int, stream: Any = None) -> PlainProgress | RichProgress:
    """A bar when stderr is a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if getattr(stream, "isatty", lambda: False)() and os.environ.get("TERM") != "dumb":
        return RichProgress(total)
    return PlainProgress(total, stream)
