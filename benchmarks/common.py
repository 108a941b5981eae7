"""Shared pieces of the benchmarks: timing, statistics, loopback-only transport, tables."""

from __future__ import annotations

import gc
import math
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


@dataclass
class Samples:
    """Wall-clock durations (seconds) of one implementation on one case."""

    times: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.times.append(seconds)

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000.0

    @property
    def p90_ms(self) -> float:
        return percentile(self.times, 90.0) * 1000.0

    @property
    def min_ms(self) -> float:
        return min(self.times) * 1000.0

    def summary(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "median_ms": round(self.median_ms, 3),
            "p90_ms": round(self.p90_ms, 3),
            "min_ms": round(self.min_ms, 3),
        }


def compile_bytecode() -> int:
    """Compile ltv (and the samples the benchmarks import) to bytecode, as pip does for an
    installed package: an editable install under ``PYTHONDONTWRITEBYTECODE`` otherwise compiles
    every ltv module from source in every fresh process (~200 ms of start-up), while pyHanko's
    installed modules load from their .pyc — an unfair comparison. Returns the failures."""
    import compileall
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    ok = all(
        compileall.compile_dir(root / name, quiet=1, force=False) for name in ("ltv", "samples")
    )
    return 0 if ok else 1


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolation percentile (numpy's default), so p90 of few samples is defined."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Run *fn* once; return (seconds, result). GC stays enabled: its cost is part of the work."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleaved_order(names: Sequence[str], round_no: int) -> list[str]:
    """ABC, CBA, ABC, ...: every implementation runs in every position, so drift (CPU frequency,
    a neighbour process, heap growth) lands on all of them alike."""
    return list(names) if round_no % 2 == 0 else list(reversed(names))


def settle() -> None:
    """Between rounds (never inside a timed region): collect garbage left by the previous round."""
    gc.collect()


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def geomean(values: Sequence[float]) -> float | None:
    vals = [v for v in values if v > 0]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "", align: str = ""
) -> str:
    """A plain, fixed-width text table. *align* has one ``l``/``r`` per column (default: the
    first column left-aligned, the others right-aligned)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.ljust(widths[i]) if align[i] == "l" else cell.rjust(widths[i]))
        return "  ".join(out).rstrip()

    parts = []
    if title:
        parts.append(title)
    parts.append(line(headers))
    parts.append(line(["-" * w for w in widths]))
    parts.extend(line(r) for r in rows)
    return "\n".join(parts)


class LoopbackOnly:
    """An ltv ``Transport`` that lets through only hosts mapped to 127.0.0.1 by ``connect_to``.

    Wraps :class:`ltv.evidence.http.HttpClient`; any other host fails with ``network-disabled``
    before a socket is opened, so a benchmark can never send traffic off the machine (an
    unexpected AIA URL in some certificate would otherwise reach DNS).
    """

    def __init__(self, connect_to: Mapping[str, tuple[str, int]], *, timeout: float = 10.0):
        from ltv.evidence.http import HttpClient

        for target, (address, _port) in connect_to.items():
            if address != "127.0.0.1":
                raise ValueError(f"{target} maps to {address}, not 127.0.0.1")
        self._hosts = {key.rsplit(":", 1)[0].lower() for key in connect_to}
        self._client = HttpClient(timeout=timeout, connect_to=dict(connect_to))
        self._lock = threading.Lock()
        self._intervals: list[tuple[float, float]] = []

    def take_intervals(self) -> list[tuple[float, float]]:
        """(start, end) ``perf_counter`` times of the requests since the last call."""
        with self._lock:
            out, self._intervals = self._intervals, []
        return out

    @property
    def exchanges(self) -> tuple[Any, ...]:
        return self._client.exchanges

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        from ltv.evidence.http import HttpError

        host = (urlsplit(url).hostname or "").lower()
        if host not in self._hosts:
            raise HttpError("network-disabled", url, f"{url}: not a loopback benchmark host")
        start = time.perf_counter()
        try:
            return self._client.request(method, url, body=body, headers=headers, timeout=timeout)
        finally:
            end = time.perf_counter()
            with self._lock:
                self._intervals.append((start, end))


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping intervals (concurrent requests count once)."""
    total = 0.0
    cur_start = cur_end = None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def quiet_pyhanko_logs() -> None:
    """pyHanko logs every failed path at WARNING with a traceback; that is noise here."""
    import logging

    for name in ("pyhanko", "pyhanko_certvalidator", "ltv"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
