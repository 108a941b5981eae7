"""Summaries and the history store on measurements written by hand (the report's arithmetic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ltv.errors import InputError
from ltv.probe import Measurement, ProbeOptions, ProbeStore, summarize
from ltv.probe.model import Category
from ltv.probe.summary import percentile

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _m(round_no: int, total: float | None, *, ok: bool = True, **kw: object) -> Measurement:
    fields: dict[str, object] = {
        "target": "ocsp http://ocsp.example.test/ #1",
        "url": "http://ocsp.example.test/",
        "kind": "ocsp",
        "round": round_no,
        "at": T0 + timedelta(minutes=round_no),
        "method": "GET",
        "family": "ipv4",
        "ok": ok,
        "total_ms": total,
        "run": "r1",
    }
    fields.update(kw)
    return Measurement(**fields)  # type: ignore[arg-type]


def test_percentiles_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([7.0], 0.95) == 7.0


def test_sub_millisecond_numbers_are_flagged() -> None:
    near = summarize([_m(i, 0.4) for i in range(1, 6)])
    assert near[0].near_probe is True
    far = summarize([_m(i, 80.0) for i in range(1, 6)])
    assert far[0].near_probe is False


def test_availability_excludes_local_problems_and_no_host_checks() -> None:
    ms = [
        _m(1, 50.0),
        _m(2, None, ok=False, error="refused", category=Category.NETWORK, local_problem=True),
        _m(3, None, ok=False, error="http-503", category=Category.RESPONDER),
        _m(4, 60.0),
        _m(1, None, ok=False, error="http-404", host_header=False),
    ]
    (s,) = summarize(ms)
    assert (s.requests, s.ok, s.excluded) == (3, 2, 1)
    assert s.availability == pytest.approx(2 / 3)
    assert s.failures == {"http-503": 1}
    assert s.no_host_answers is False and s.no_host_error == "http-404"
    assert s.verdict == "degraded"


def test_store_round_trip_and_refusals(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    ms = [_m(1, 12.5, produced_at=T0, subjects=("CN=a",)), _m(2, None, ok=False, error="timeout")]
    with ProbeStore(db) as store:
        store.begin_run("r1", T0, ProbeOptions(sla=2.0))
        store.add_round("r1", 1, ms[:1], False)
        store.add_round("r1", 2, ms[1:], True)
    with ProbeStore(db, create=False) as store:
        assert store.measurements() == ms
        (run,) = store.runs()
        assert (run.rounds, run.local_problem_rounds, run.sla) == (2, (2,), 2.0)
        assert store.measurements(since=T0 + timedelta(minutes=2)) == ms[1:]
    garbage = tmp_path / "g.sqlite"
    garbage.write_bytes(b"not a database at all" * 10)
    with pytest.raises(InputError, match="not an SQLite"):
        ProbeStore(garbage)
