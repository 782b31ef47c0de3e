"""What ``shapegraph bench`` shows and writes: the figures (one per workload, batch, thread
count and implementation: median, min-max and IQR over the rounds, shapegraph's time over
each peer's taken round by round, GFLOP/s and % of the sgemm peak), the rich tables, the
wide-spread warning, the CSV file and the plot of the ratios.

A *row* is what the harness measured for one workload at one batch size and thread count
(a dict, as written to ``--json``): ``workload``, ``batch``, ``threads``, ``flops``,
``compile_s``, ``ort_session_s``, ``error``, ``times`` (implementation -> µs per round) and,
with ``--busy``, ``busy``; or ``workload``, ``batch`` and ``skipped`` (the reason).
"""

from __future__ import annotations

import csv
import io
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["CSV_COLUMNS", "NAMES", "ORT", "OURS", "PLOT_KINDS", "WIDE", "Figure", "Spread",
           "busy_table", "figures", "iqr", "main_table", "notes", "plot_ratios", "ratio",
           "render", "spread", "spread_warning", "stdout_console", "torch_first_table",
           "write_csv"]

OURS, ORT = "shapegraph", "onnxruntime"
ORDER = (OURS, ORT, "torch eager", "numpy ref", "bare sgemm")
NAMES = {OURS: "shapegraph", ORT: "ONNX Runtime", "torch eager": "PyTorch eager",
         "numpy ref": "numpy reference", "bare sgemm": "bare sgemm"}
PLOT_KINDS = (".png", ".svg", ".pdf")  # what --plot writes
WIDE = 1.3  # max / min over the rounds above which a figure's spread is called wide


@dataclass(frozen=True)
class Spread:
    """A median with the min-max around it."""

    median: float
    lo: float
    hi: float

    def fmt(self, digits: int | None = None, unit: str = "") -> str:
        if digits is None:  # one decimal below 100 (by the median), none above
            digits = 1 if abs(self.median) < 100 else 0

        def f(v: float) -> str:
            return f"{v:.{digits}f}"

        return f"{f(self.median)}{unit} ({f(self.lo)}-{f(self.hi)})"


def spread(values: Sequence[float]) -> Spread:
    return Spread(statistics.median(values), min(values), max(values))


def iqr(values: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles (inclusive method: within the min-max)."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def ratio(num: Sequence[float], den: Sequence[float], paired: bool = True) -> Spread:
    """``num / den``: round by round when the rounds were measured in turns (``paired``),
    else the ratio of the medians with the widest min-max the two spreads allow."""
    if paired and len(num) == len(den):
        return spread([a / b for a, b in zip(num, den, strict=True)])
    n, d = spread(num), spread(den)
    return Spread(n.median / d.median, n.lo / d.hi, n.hi / d.lo)


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One implementation on one row: a line of the table and of the CSV file."""

    workload: str
    batch: int
    threads: int | None
    implementation: str  # the key in the row's times (onnxruntime, torch eager, ...)
    rounds: int | None = None
    median_us: float | None = None
    min_us: float | None = None
    max_us: float | None = None
    q1_us: float | None = None
    q3_us: float | None = None
    shapegraph_ratio: float | None = None  # shapegraph's time / this one's, by rounds
    shapegraph_ratio_min: float | None = None
    shapegraph_ratio_max: float | None = None
    gflops: float | None = None
    pct_sgemm_peak: float | None = None
    setup_s: float | None = None  # shapegraph: compile + first call; ORT: session
    busy_median_us: float | None = None
    busy_min_us: float | None = None
    busy_max_us: float | None = None
    note: str = ""  # a wrong result, or why the row was skipped

    @property
    def wide(self) -> bool:
        return bool(self.min_us and self.max_us and self.max_us / self.min_us > WIDE)


CSV_COLUMNS = tuple(f.name for f in fields(Figure))


def _impls(row: dict[str, Any]) -> list[str]:
    t = row.get("times", {})
    return [k for k in ORDER if k in t] + sorted(k for k in t if k not in ORDER)


def _setup(row: dict[str, Any], impl: str) -> float | None:
    if impl == OURS:
        return float(row["compile_s"]) if row.get("compile_s") is not None else None
    if impl == ORT and row.get("ort_session_s") is not None:
        return float(row["ort_session_s"])
    return None


def figures(rows: Sequence[dict[str, Any]], peaks: dict[int, float]) -> list[Figure]:
    """Every row's figures, one per implementation (a skipped row: one, with its reason)."""
    out: list[Figure] = []
    for r in rows:
        if "skipped" in r:
            out.append(Figure(r["workload"], r["batch"], r.get("threads"), "",
                              note=f"skipped: {r['skipped']}"))
            continue
        times = r["times"]
        peak = peaks.get(r["threads"]) or max(peaks.values(), default=0.0)
        for impl in _impls(r):
            t = times[impl]
            s, (q1, q3) = spread(t), iqr(t)
            rt = ratio(times[OURS], t) if OURS in times and impl != OURS else None
            g = r["flops"] / (s.median * 1e-6) / 1e9 if r.get("flops") else None
            b = spread(r["busy"][impl]) if impl in r.get("busy", {}) else None
            out.append(Figure(
                r["workload"], r["batch"], r["threads"], impl, len(t), s.median, s.lo, s.hi,
                q1, q3, rt.median if rt else None, rt.lo if rt else None,
                rt.hi if rt else None, g, g / peak * 100 if g is not None and peak else None,
                _setup(r, impl), b.median if b else None, b.lo if b else None,
                b.hi if b else None, (r.get("error") or "") if impl == OURS else ""))
    return out


# --------------------------------------------------------------------------- the tables


def _num(v: float | None, digits: int | None = None) -> str:
    if v is None:
        return "-"
    if digits is None:
        digits = 1 if abs(v) < 100 else 0
    return f"{v:.{digits}f}"


def _times(s: Spread) -> str:
    """A ratio: ``1.20x (1.09-1.32)``."""
    return f"{s.median:.2f}x ({s.lo:.2f}-{s.hi:.2f})"


def _ratio_cell(f: Figure) -> Text:
    if f.shapegraph_ratio is None:
        return Text("-")
    text = (f"{f.shapegraph_ratio:.2f}x ({f.shapegraph_ratio_min:.2f}-"
            f"{f.shapegraph_ratio_max:.2f})")
    lo, hi = f.shapegraph_ratio_min or 0.0, f.shapegraph_ratio_max or 0.0
    return Text(text, style="green" if hi < 1 else "red" if lo > 1 else "")


def main_table(figs: Sequence[Figure]) -> Table:
    """One line per workload, batch, thread count and implementation."""
    table = Table(title="forward latency, µs per call", title_justify="left",
                  box=None, pad_edge=False, header_style="bold")
    for name, justify in (("workload", "left"), ("batch", "right"), ("thr", "right"),
                          ("implementation", "left"), ("median µs", "right"),
                          ("min-max µs", "right"), ("IQR µs", "right"),
                          ("shapegraph / this", "right"), ("GFLOP/s", "right"),
                          ("% peak", "right"), ("setup s", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    last: tuple[Any, ...] | None = None
    for f in figs:
        key = (f.workload, f.batch, f.threads)
        if f.implementation == "":
            continue  # skipped: listed in the notes
        first = key != last
        if first and last is not None:
            table.add_section()
        last = key
        wide = Text(f"{_num(f.min_us)}-{_num(f.max_us)}" + (" *" if f.wide else ""),
                    style="yellow" if f.wide else "")
        table.add_row(
            f.workload if first else "", str(f.batch) if first else "",
            str(f.threads) if first else "",
            Text(NAMES.get(f.implementation, f.implementation),
                 style="bold" if f.implementation == OURS else ""),
            _num(f.median_us), wide, f"{_num(f.q1_us)}-{_num(f.q3_us)}", _ratio_cell(f),
            _num(f.gflops), _num(f.pct_sgemm_peak), _num(f.setup_s, 2))
    return table


def notes(figs: Sequence[Figure]) -> list[str]:
    """The key to the table, then the wrong results and the skipped rows."""
    out = ["median, min-max and IQR (quartiles) over the rounds; shapegraph / this: "
           "shapegraph's time over this implementation's, taken round by round (median "
           "and min-max), below 1 shapegraph is faster; GFLOP/s and % of the sgemm peak "
           "at the median; setup s: shapegraph's compile and first call, ONNX Runtime's "
           "session creation (not in the times)"]
    if any(f.wide for f in figs):
        out.append(f"* the rounds of this figure differ by more than {WIDE}x (max / min)")
    for f in figs:
        if f.note:
            out.append(f"{f.workload} batch {f.batch}: {f.note}")
    return out


def spread_warning(figs: Sequence[Figure], show: int = 4) -> str | None:
    """Words for the figures whose rounds differ by more than ``WIDE`` (max / min)."""
    wide = [f for f in figs if f.wide]
    if not wide:
        return None
    named = ", ".join(f"{f.workload} batch {f.batch} {NAMES.get(f.implementation)} "
                      f"({(f.max_us or 0) / (f.min_us or 1):.1f}x)" for f in wide[:show])
    more = f" and {len(wide) - show} more" if len(wide) > show else ""
    n = len(wide)
    return (f"{n} figure{'s' if n > 1 else ''} (marked *) changed by more than {WIDE}x "
            f"between rounds: {named}{more}. Their medians are less certain; more rounds "
            "(--rounds 9) or a quieter machine give steadier figures.")


def busy_table(rows: Sequence[dict[str, Any]]) -> Table | None:
    """Quiet and busy times per implementation and each one's rise (busy / quiet)."""
    rows = [r for r in rows if "busy" in r]
    if not rows:
        return None
    table = Table(title="busy neighbour: rise = time next to a CPU-bound process / quiet",
                  title_justify="left", box=None,
                  pad_edge=False, header_style="bold")
    for name in ("workload", "batch", "thr", "implementation", "quiet µs", "busy µs",
                 "rise"):
        table.add_column(name, justify="left" if name in ("workload", "implementation")
                         else "right")
    for n, r in enumerate(rows):
        if n:
            table.add_section()
        for i, impl in enumerate(k for k in _impls(r) if k in r["busy"]):
            rise = ratio(r["busy"][impl], r["times"][impl], paired=False)
            table.add_row(r["workload"] if i == 0 else "", str(r["batch"]) if i == 0 else "",
                          str(r["threads"]) if i == 0 else "", NAMES.get(impl, impl),
                          spread(r["times"][impl]).fmt(), spread(r["busy"][impl]).fmt(),
                          _times(rise))
    return table


def torch_first_table(plain: Sequence[dict[str, Any]], tf: Sequence[dict[str, Any]]
                      ) -> Table:
    """shapegraph's and ONNX Runtime's slowdown in the process that imported torch first."""
    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        return (r["workload"], r["batch"], r.get("threads"))

    other = {key(r): r for r in tf}
    table = Table(title="torch first: slowdown = time with torch imported before shapegraph "
                  "/ time without", title_justify="left",
                  box=None, pad_edge=False, header_style="bold")
    for name in ("workload", "batch", "thr", "shapegraph plain µs", "torch first µs",
                 "slowdown", "ONNX Runtime slowdown"):
        table.add_column(name, justify="left" if name == "workload" else "right")
    for r in plain:
        o = other.get(key(r))
        if "skipped" in r or o is None or "times" not in o:
            continue
        p, t = r["times"], o["times"]
        ort = _times(ratio(t[ORT], p[ORT], paired=False)) if ORT in p and ORT in t else "-"
        slow = ratio(t[OURS], p[OURS], paired=False)
        table.add_row(r["workload"], str(r["batch"]), str(r["threads"]),
                      spread(p[OURS]).fmt(), spread(t[OURS]).fmt(), _times(slow), ort)
    return table


def render(table: Table, width: int = 150) -> str:
    """``table`` as plain text (no colour), ``width`` columns wide."""
    out = io.StringIO()
    Console(width=width, color_system=None, force_terminal=False, file=out).print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def stdout_console() -> Console:
    """stdout; wide enough for the table when it is not a terminal (a file, a pipe)."""
    console = Console(highlight=False, markup=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, markup=False, width=150)
    return console


# --------------------------------------------------------------------------- files


def write_csv(path: str, figs: Sequence[Figure]) -> None:
    """One line per figure, the columns of :data:`CSV_COLUMNS` (empty: not measured)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for fig in figs:
            w.writerow({k: ("" if v is None else round(v, 4) if isinstance(v, float) else v)
                        for k, v in asdict(fig).items()})


def plot_ratios(path: str, figs: Sequence[Figure], caption: str = "") -> None:
    """shapegraph's time over each peer's (median, with the min-max of the rounds as error
    bars) per workload, batch and thread count, on a log axis; written to ``path``."""
    from matplotlib.figure import Figure as Canvas

    peers = [p for p in ORDER[1:] if any(f.implementation == p and f.shapegraph_ratio
                                         for f in figs)]
    labels: list[str] = []
    for f in figs:
        label = f"{f.workload}  b{f.batch}  {f.threads} thr"
        if f.shapegraph_ratio is not None and label not in labels:
            labels.append(label)
    fig = Canvas(figsize=(9, 1.9 + 0.42 * max(len(labels), 1)), layout="constrained")
    ax = fig.add_subplot()
    step = 0.7 / max(len(peers), 1)
    for i, peer in enumerate(peers):
        ys, xs, lo, hi = [], [], [], []
        for f in figs:
            label = f"{f.workload}  b{f.batch}  {f.threads} thr"
            if f.implementation != peer or f.shapegraph_ratio is None:
                continue
            ys.append(labels.index(label) + (i - (len(peers) - 1) / 2) * step)
            xs.append(f.shapegraph_ratio)
            lo.append(f.shapegraph_ratio - (f.shapegraph_ratio_min or f.shapegraph_ratio))
            hi.append((f.shapegraph_ratio_max or f.shapegraph_ratio) - f.shapegraph_ratio)
        name = NAMES[peer] + (" (bound)" if peer == "bare sgemm" else "")
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", capsize=3, label=name)
    ax.axvline(1.0, color="grey", linewidth=1, linestyle="--")
    ax.set_xscale("log")
    seen = [v for f in figs for v in (f.shapegraph_ratio_min, f.shapegraph_ratio_max) if v]
    least, most = min([*seen, 1.0]), max([*seen, 1.0])
    ticks = [t for t in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000)
             if least / 2 <= t <= most * 2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xticks([], minor=True)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("shapegraph's time / the peer's (median, and min-max over the rounds)\n"
                  "left of the dashed line: shapegraph is faster")
    ax.grid(axis="x", alpha=0.3)
    if peers:
        fig.legend(loc="outside lower center", ncols=len(peers), fontsize="small")
    ax.set_title("shapegraph bench: forward latency against each peer" +
                 (f"\n{caption}" if caption else ""), fontsize="medium")
    fig.savefig(path, dpi=110)
