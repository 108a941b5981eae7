"""Per-target summaries of measurements: one run's, or a period's from the history store.

Availability counts only requests that tell something about the responder: not the no-``Host``
check, not rounds where every target failed at once (a local network problem), not requests the
probe could not make. Latency percentiles (nearest rank) are over successful requests, per method
and address family. A median below one millisecond is flagged: such numbers come from a probe
next to the responder (the same host or data centre), not from relying parties.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from ltv.probe.model import Category, Measurement, Target

__all__ = [
    "NEAR_PROBE_MS",
    "FamilyStatus",
    "LatencyStats",
    "TargetSummary",
    "percentile",
    "summarize",
]

NEAR_PROBE_MS = 1.0
"""A median total latency below this many milliseconds looks like a probe next to the
responder."""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in (0, 1]) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5) if values else None


@dataclass(frozen=True, kw_only=True)
class LatencyStats:
    """Latency of one method over one address family (milliseconds, successful requests)."""

    method: str
    family: str | None
    requests: int
    ok: int
    min_ms: float | None = None
    median_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    dns_ms: float | None = None
    """Median name-lookup time."""
    connect_ms: float | None = None
    """Median TCP connect time."""
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    """Median time to first byte (from the start of the request)."""


@dataclass(frozen=True, kw_only=True)
class FamilyStatus:
    family: str
    address: str | None
    answers: bool
    """At least one counted request over this family got a correct answer."""


@dataclass(frozen=True, kw_only=True)
class TargetSummary:
    """What is known about one target over the measurements summarised."""

    target: str
    url: str
    kind: str
    host: str
    subject: str | None = None
    serial: str | None = None
    sources: tuple[str, ...] = ()
    verdict: str = "not-measured"
    """``up`` (every counted request answered, no SLA breach), ``degraded`` (some failed or
    were too slow), ``down`` (none answered), ``local-problem`` (only failures shared by every
    target at once), ``not-measured`` (the probe could not ask)."""
    requests: int = 0
    """Counted requests (see the module docstring)."""
    ok: int = 0
    availability: float | None = None
    """``ok / requests`` (``None`` without counted requests)."""
    excluded: int = 0
    """Requests in rounds where everything failed at once (not counted)."""
    failures: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    """HTTP status codes of counted requests."""
    latency: tuple[LatencyStats, ...] = ()
    size_min: int | None = None
    size_median: int | None = None
    size_max: int | None = None
    sla_breaches: int = 0
    near_probe: bool = False
    families: tuple[FamilyStatus, ...] = ()
    first_at: datetime | None = None
    last_at: datetime | None = None
    # OCSP
    ocsp_status: str | None = None
    produced_at: datetime | None = None
    this_update: datetime | None = None
    next_update: datetime | None = None
    validity_seconds: float | None = None
    """nextUpdate - thisUpdate of the latest answer: how long a stapler may cache it."""
    get_post: str | None = None
    """``identical`` (byte-identical answers), ``same-produced-at`` (a POST answered from the GET
    cache), ``different``; from the latest round where both answered."""
    # CRL
    crl_entries: int | None = None
    crl_number: int | None = None
    delta_crl: bool | None = None
    # TSA / caIssuers
    gen_time: datetime | None = None
    subjects: tuple[str, ...] = ()
    # the OpenSSL pitfall
    no_host_answers: bool | None = None
    """Answered correctly a request without ``Host``; ``None``: not checked."""
    no_host_error: str | None = None


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _latency(ms: list[Measurement]) -> tuple[LatencyStats, ...]:
    groups: dict[tuple[str, str | None], list[Measurement]] = {}
    for m in ms:
        groups.setdefault((m.method, m.family), []).append(m)
    out: list[LatencyStats] = []
    for (method, family), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        good = [m for m in group if m.ok and m.total_ms is not None]
        totals = [m.total_ms for m in good if m.total_ms is not None]

        def med(values: Iterable[float | None]) -> float | None:
            return _median([v for v in values if v is not None])

        out.append(
            LatencyStats(
                method=method,
                family=family,
                requests=len(group),
                ok=len(good),
                min_ms=min(totals) if totals else None,
                median_ms=_median(totals),
                p95_ms=percentile(totals, 0.95) if totals else None,
                max_ms=max(totals) if totals else None,
                dns_ms=med(m.dns_ms for m in good),
                connect_ms=med(m.connect_ms for m in good),
                tls_ms=med(m.tls_ms for m in good),
                ttfb_ms=med(m.ttfb_ms for m in good),
            )
        )
    return tuple(out)


def _get_post(ms: list[Measurement]) -> str | None:
    pairs: dict[tuple[str | None, int, str | None], dict[str, Measurement]] = {}
    for m in ms:
        if m.kind == "ocsp" and m.ok and m.host_header:
            pairs.setdefault((m.run, m.round, m.family), {})[m.method] = m
    verdict: str | None = None
    latest: datetime | None = None
    for pair in pairs.values():
        get, post = pair.get("GET"), pair.get("POST")
        if get is None or post is None:
            continue
        if latest is not None and max(get.at, post.at) < latest:
            continue
        latest = max(get.at, post.at)
        if get.sha256 == post.sha256:
            verdict = "identical"
        elif get.produced_at is not None and get.produced_at == post.produced_at:
            verdict = "same-produced-at"
        else:
            verdict = "different"
    return verdict


def summarize_target(
    key: str, ms: list[Measurement], target: Target | None = None, *, addresses: dict[str, str]
) -> TargetSummary:
    """Summary of one target's measurements (any number of rounds and runs)."""
    ms = sorted(ms, key=lambda m: m.at)
    first = ms[0] if ms else None
    url = target.url if target else (first.url if first else "")
    kind = target.kind if target else (first.kind if first else "url")
    with_host = [m for m in ms if m.host_header]
    counted = [m for m in with_host if not m.local_problem and m.category is not Category.PROBE]
    excluded = [m for m in with_host if m.local_problem]
    good = [m for m in counted if m.ok]
    failures = Counter(m.error or "?" for m in counted if not m.ok)
    probe_errors = Counter(m.error or "?" for m in with_host if m.category is Category.PROBE)
    failures.update(probe_errors)
    statuses = Counter(str(m.status) for m in counted if m.status is not None)
    sizes = sorted(m.size for m in good if m.size is not None)
    breaches = sum(1 for m in counted if m.sla_breach)
    totals = [m.total_ms for m in good if m.total_ms is not None]
    median_total = _median(totals)
    if not counted:
        verdict = "local-problem" if excluded else "not-measured"
    elif not good:
        verdict = "down"
    elif len(good) < len(counted) or breaches:
        verdict = "degraded"
    else:
        verdict = "up"
    family_names = list(dict.fromkeys([*addresses, *(m.family for m in counted if m.family)]))
    families = tuple(
        FamilyStatus(
            family=f,
            address=addresses.get(f),
            answers=any(m.ok for m in counted if m.family == f),
        )
        for f in family_names
    )
    latest = good[-1] if good else None
    no_host = [m for m in ms if not m.host_header and not m.local_problem]
    last_no_host = no_host[-1] if no_host else None
    return TargetSummary(
        target=key,
        url=url,
        kind=kind,
        host=_host(url),
        subject=target.subject if target else None,
        serial=target.serial if target else None,
        sources=target.sources if target else (),
        verdict=verdict,
        requests=len(counted),
        ok=len(good),
        availability=(len(good) / len(counted)) if counted else None,
        excluded=len(excluded),
        failures=dict(sorted(failures.items())),
        statuses=dict(sorted(statuses.items())),
        latency=_latency(counted),
        size_min=sizes[0] if sizes else None,
        size_median=int(percentile(sizes, 0.5)) if sizes else None,
        size_max=sizes[-1] if sizes else None,
        sla_breaches=breaches,
        near_probe=median_total is not None and median_total < NEAR_PROBE_MS,
        families=families,
        first_at=first.at if first else None,
        last_at=ms[-1].at if ms else None,
        ocsp_status=latest.ocsp_status if latest else None,
        produced_at=latest.produced_at if latest and kind == "ocsp" else None,
        this_update=latest.this_update if latest else None,
        next_update=latest.next_update if latest else None,
        validity_seconds=(
            (latest.next_update - latest.this_update).total_seconds()
            if latest and latest.next_update and latest.this_update
            else None
        ),
        get_post=_get_post(counted) if kind == "ocsp" else None,
        crl_entries=latest.crl_entries if latest else None,
        crl_number=latest.crl_number if latest else None,
        delta_crl=latest.delta_crl if latest else None,
        gen_time=latest.gen_time if latest else None,
        subjects=latest.subjects if latest else (),
        no_host_answers=None if last_no_host is None else last_no_host.ok,
        no_host_error=None if last_no_host is None else last_no_host.error,
    )


def summarize(
    measurements: Sequence[Measurement],
    targets: Sequence[Target] = (),
    families: dict[str, list[tuple[str, str]]] | None = None,
) -> list[TargetSummary]:
    """One :class:`TargetSummary` per target, in the order of ``targets`` (then first seen)."""
    by_key: dict[str, list[Measurement]] = {t.key: [] for t in targets}
    for m in measurements:
        by_key.setdefault(m.target, []).append(m)
    known = {t.key: t for t in targets}
    families = families or {}
    return [
        summarize_target(key, ms, known.get(key), addresses=dict(families.get(key, [])))
        for key, ms in by_key.items()
    ]
