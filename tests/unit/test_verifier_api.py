"""The Verifier's API shape and the orchestrator's seams (issue 8 "one orchestrator", issue 10
"one API shape"): documents as bytes, path or stream; facts that are timeless, plain and
re-judgeable without the PDF; no socket call inside the event loop; broken signatures counted."""

from __future__ import annotations

import asyncio
import io
import itertools
import pickle
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ltv.errors import UsageError
from ltv.evidence.http import HttpResponse
from ltv.pipeline.run import examine, judge
from ltv.policy import Online, ValidationPolicy
from ltv.report import Indication, SubIndication
from ltv.verify import Verifier
from tests import forge
from tests.unit.pipeline import fixtures as fx

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def _policy(**changes: Any) -> ValidationPolicy:
    return ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store()).replace(**changes)


def test_documents_as_bytes_path_or_stream_give_the_same_report() -> None:
    path = SAMPLES / "good-b-lta.pdf"
    verifier = Verifier(_policy())
    by_bytes = verifier.verify(path.read_bytes(), now=NOW)
    by_str = verifier.verify(str(path), now=NOW)
    by_path = verifier.verify(path, now=NOW)
    with path.open("rb") as fh:
        by_stream = verifier.verify(fh, now=NOW)
    assert by_str.file.path == str(path) and by_stream.file.path == str(path)
    docs = [r.to_dict() for r in (by_bytes, by_str, by_path, by_stream)]
    for d in docs:
        d["file"].pop("path")
    assert docs[0] == docs[1] == docs[2] == docs[3]
    assert by_bytes.indication is Indication.TOTAL_PASSED


def test_unreadable_path_is_a_report_not_an_exception(tmp_path: Path) -> None:
    report = Verifier(_policy()).verify(tmp_path / "missing.pdf", now=NOW)
    assert report.exit_code == 4 and report.error is not None and "missing.pdf" in report.error


def test_sync_verify_inside_a_running_loop_is_a_usage_error() -> None:
    verifier = Verifier(_policy())

    async def inside() -> None:
        with pytest.raises(UsageError, match="running event loop") as info:
            verifier.verify(SAMPLES / "good-b-lt.pdf", now=NOW)
        assert info.value.hint is not None and "averify" in info.value.hint

    asyncio.run(inside())


def test_facts_are_plain_and_rejudged_without_the_pdf() -> None:
    """What a file *is* pickles (no reader attached) and judges to the same report; judged at
    another time, under another policy, only the time-dependent parts change."""
    data = (SAMPLES / "good-b-lt.pdf").read_bytes()
    facts = pickle.loads(pickle.dumps(examine(data)))  # noqa: S301 - our own facts, as audit
    from ltv.evidence.http import NoNetwork

    sigs = asyncio.run(judge(facts, _policy(), now=NOW, at=None, transport=NoNetwork()))
    direct = Verifier(_policy()).verify(data, now=NOW)
    assert [s.to_dict() for s in sigs] == [s.to_dict() for s in direct.signatures]
    # the same facts, judged in 2060 with no TSA anchor: not trusted any more
    later = asyncio.run(
        judge(
            facts,
            ValidationPolicy(trust=fx.root_store()),
            now=datetime(2060, 1, 1, tzinfo=UTC),
            at=None,
            transport=NoNetwork(),
        )
    )
    assert later[0].indication is not Indication.TOTAL_PASSED


def test_two_truncated_signature_values_are_two_failing_signatures() -> None:
    """Issue 8: a field whose value is present but unparsable is a signature, present and
    broken — counted and failing, never 'no signature'."""

    one = fx.sign("signer-good", tst_time=None, field="Sig1")
    two = fx.sign("signer-good", tst_time=None, field="Sig2", data=one)
    slots = forge.contents_slots(two)
    assert len(slots) == 2
    broken = two
    for index in range(2):
        der = forge.read_cms(broken, index).dump()
        broken = forge.write_cms(broken, index, der[: len(der) // 3])  # truncated CMS
    report = Verifier(_policy()).verify(broken, now=NOW)
    fx.assert_schema(report.to_dict())
    assert report.exit_code == 1 and report.indication is Indication.TOTAL_FAILED
    assert [s.field for s in report.signatures] == ["Sig1", "Sig2"]
    for s in report.signatures:
        assert s.indication is Indication.TOTAL_FAILED
        assert s.subindication is SubIndication.FORMAT_FAILURE
        assert any("cannot be parsed" in r for r in s.reasons)


class _SlowTransport:
    """A real transport object whose every request takes ``delay`` seconds (blocking, as a
    slow responder does to a synchronous client) and then fails."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0
        self.timeout = 10.0

    @property
    def exchanges(self) -> tuple[Any, ...]:
        return ()

    def request(self, method: str, url: str, **_: Any) -> HttpResponse:
        from ltv.evidence.http import HttpError

        self.calls += 1
        time.sleep(self.delay)
        raise HttpError("timeout", url)


def test_averify_does_not_block_the_event_loop_on_a_slow_transport() -> None:
    """A verification that waits for a slow responder must not stall other tasks: a ticker on
    the same loop keeps ticking while it waits (before, the fetch ran on the loop's thread)."""
    transport = _SlowTransport(0.6)
    verifier = Verifier(_policy(online=Online.FALLBACK), network=transport)
    data = (SAMPLES / "no-timestamp.pdf").read_bytes()  # B-B, no evidence: must fetch
    ticks: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    async def main() -> Any:
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        report = await verifier.averify(data, now=NOW)
        stop.set()
        await task
        return report

    start = time.monotonic()
    report = asyncio.run(main())
    elapsed = time.monotonic() - start
    assert transport.calls >= 1 and elapsed >= 0.6
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 0.3 * elapsed / 0.05, (len(ticks), elapsed)
    assert max(gaps) < 0.45, max(gaps)  # never stalled for a whole request
    assert report.indication is Indication.INDETERMINATE  # offline: TRY_LATER
    assert threading.active_count() >= 1


def test_a_library_fault_on_a_signature_is_that_signatures_reason() -> None:
    """A library crashing on one signature's data is that signature's INDETERMINATE reason; the
    other signatures of the file are judged as usual. (ltv's own bugs are not caught: see
    test_verify_robustness.)"""
    import ltv.pipeline.chain as chain_module

    data = (SAMPLES / "good-b-lta.pdf").read_bytes()
    real = chain_module.validate_chain

    async def failing(cert: Any, **kwargs: Any) -> Any:
        if kwargs.get("purpose") == "signer":
            # what certvalidator does on some damaged certificates: raised inside asn1crypto
            from asn1crypto import core

            core.Integer.load(b"\x04\x01\x00")  # raises ValueError inside asn1crypto
        return await real(cert, **kwargs)

    chain_module.validate_chain = failing  # type: ignore[assignment]
    try:
        report = Verifier(_policy()).verify(io.BytesIO(data), now=NOW)
    finally:
        chain_module.validate_chain = real  # type: ignore[assignment]
    sig, doc = report.signatures
    assert sig.indication is Indication.INDETERMINATE and sig.subindication is SubIndication.GENERIC
    assert "asn1crypto failed" in sig.reasons[0]
    assert doc.indication is Indication.TOTAL_PASSED


def test_ltv_enabled_is_acrobats_question() -> None:
    """'Is it LTV enabled?': validation data in the file for every certificate of the signer's
    chain AND of its timestamp's TSA chain."""
    pdfs = fx.get_fixtures()
    verifier = Verifier(_policy())

    def enabled(name: str) -> bool | None:
        (sig,) = [
            s for s in verifier.verify(pdfs[name], now=NOW).signatures if s.kind == "signature"
        ]
        return sig.ltv_enabled

    assert enabled("good-b-lt") is True
    assert enabled("good-b-lta") is True
    assert enabled("good-b-t") is False  # no DSS at all
    assert enabled("b-lt-no-tsa-data") is False  # the signer's chain only, not the TSA's
    assert enabled("good-b-b") is False
