"""``ltv probe``: measure the OCSP, CRL, caIssuers and TSA services a document depends on.

Library use::

    from ltv.evidence.http import HttpClient
    from ltv.probe import ProbeOptions, run_probe, summarize, targets_from_pdf

    targets = targets_from_pdf(pdf_bytes)
    run = run_probe(targets, client=HttpClient(retries=0), options=ProbeOptions(count=3),
                    clock=lambda: datetime.now(UTC))
    for s in summarize(run.measurements, run.targets, run.families):
        print(s.url, s.verdict, s.availability)

Modules: :mod:`~ltv.probe.model` (plain data), :mod:`~ltv.probe.targets` (what to probe),
:mod:`~ltv.probe.measure` (rounds of real requests), :mod:`~ltv.probe.summary` (per-target
statistics), :mod:`~ltv.probe.store` (SQLite history), :mod:`~ltv.probe.report` (JSON, text),
:mod:`~ltv.probe.html` (self-contained page). TLS stapling: :mod:`ltv.evidence.tls`.
"""

from __future__ import annotations

from ltv.probe.measure import ProbeRun, run_probe
from ltv.probe.model import Category, Measurement, ProbeOptions, Target
from ltv.probe.store import ProbeStore
from ltv.probe.summary import TargetSummary, summarize
from ltv.probe.targets import targets_for_cert, targets_from_pdf, targets_from_urls

__all__ = [
    "Category",
    "Measurement",
    "ProbeOptions",
    "ProbeRun",
    "ProbeStore",
    "Target",
    "TargetSummary",
    "run_probe",
    "summarize",
    "targets_for_cert",
    "targets_from_pdf",
    "targets_from_urls",
]
