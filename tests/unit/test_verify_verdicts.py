"""Every verdict of issue 4 on fixtures built through pyHanko on the sample PKI.

Offline tests run with the fixture-building PKI server stopped and a socket guard that fails
the test on any connection attempt; online tests (fallback/always) use the running server.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from ltv.policy import Online, ValidationPolicy
from ltv.report import Indication, Level, Report, RevocationState, SubIndication, TimeSource
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    return fx.get_fixtures()


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> fx.SocketGuard:
    return fx.SocketGuard(monkeypatch)


def policy(**changes: object) -> ValidationPolicy:
    return ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store()).replace(**changes)


def offline(pdfs: dict[str, bytes], name: str, *, now: datetime = NOW, **changes: object) -> Report:
    report = Verifier(policy(**changes)).verify(pdfs[name], now=now)
    fx.assert_schema(report.to_dict())
    assert report.network.requests == 0
    return report


def sig(report: Report):  # type: ignore[no-untyped-def]
    (s,) = [s for s in report.signatures if s.kind == "signature"]
    return s


def test_good_b_lt_offline_passes(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "good-b-lt")
    s = sig(r)
    assert r.indication is Indication.TOTAL_PASSED and r.exit_code == 0
    assert s.level is Level.B_LT
    assert s.validation_time_source is TimeSource.SIGNATURE_TIMESTAMP
    assert s.validation_time == fx.T_SIGN
    assert [c.role for c in s.chain] == ["signer", "ca", "ca"]
    assert s.chain[0].revocation.status is RevocationState.GOOD
    assert s.chain[0].revocation.method == "ocsp" and s.chain[0].revocation.source == "dss"
    assert s.chain[-1].revocation.status is RevocationState.NOT_CHECKED
    assert guard.attempts == []


def test_good_b_lt_any_time_before_tsa_expiry(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    r = offline(pdfs, "good-b-lt", now=datetime(2049, 6, 1, tzinfo=UTC))
    assert r.indication is Indication.TOTAL_PASSED


def test_good_b_lta_passes_long_after_ocsp_expired(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    for now in (NOW, NOW + timedelta(days=3650)):
        r = offline(pdfs, "good-b-lta", now=now)
        assert r.indication is Indication.TOTAL_PASSED, r.to_dict()
        assert sig(r).level is Level.B_LTA
        kinds = [s.kind for s in r.signatures]
        assert kinds == ["signature", "document-timestamp"]


def test_revoked_before_timestamp_fails(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "revoked-before-ts")
    s = sig(r)
    assert (r.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    assert r.exit_code == 1
    assert s.chain[0].revocation.status is RevocationState.REVOKED
    assert s.chain[0].revocation.revoked_at == datetime(2026, 6, 1, tzinfo=UTC)
    assert s.chain[0].revocation.reason == "key_compromise"


def test_revoked_without_timestamp_is_revoked_no_poe(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    r = offline(pdfs, "revoked-no-ts")
    assert (r.indication, sig(r).subindication) == (
        Indication.INDETERMINATE,
        SubIndication.REVOKED_NO_POE,
    )
    assert r.exit_code == 3


def test_revoked_after_timestamp_passes_and_reports_revocation(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    r = offline(pdfs, "revoked-after-ts")
    s = sig(r)
    assert r.indication is Indication.TOTAL_PASSED
    rev = s.chain[0].revocation
    assert rev.status is RevocationState.REVOKED
    assert rev.status_at_validation_time is RevocationState.GOOD
    assert rev.revoked_at == datetime(2026, 6, 1, tzinfo=UTC)
    assert any("after the validation time" in w for w in s.warnings)


@pytest.mark.parametrize("name", ["expired-ts", "expired-no-ts"])
def test_expired_signer_without_poe_in_validity(
    pdfs: dict[str, bytes], guard: fx.SocketGuard, name: str
) -> None:
    r = offline(pdfs, name)
    assert (r.indication, sig(r).subindication) == (
        Indication.INDETERMINATE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    )


def test_signed_unknown_only_is_indeterminate(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    r = offline(pdfs, "unknown")
    s = sig(r)
    assert r.indication is Indication.INDETERMINATE
    assert s.subindication is not SubIndication.TRY_LATER  # never merged with offline
    assert any("responder says unknown" in reason for reason in s.reasons)
    assert s.chain[0].revocation.status is RevocationState.UNKNOWN


def test_crl_settles_beside_unknown_with_warning(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    r = offline(pdfs, "unknown-plus-crl")
    s = sig(r)
    assert r.indication is Indication.TOTAL_PASSED
    assert s.chain[0].revocation.status is RevocationState.GOOD
    assert s.chain[0].revocation.method == "crl"
    assert any("says unknown" in w for w in s.warnings)
    assert any("says unknown" in w for w in s.chain[0].revocation.warnings)


def test_unknown_is_fatal_policy(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "unknown-plus-crl", unknown_is_fatal=True)
    assert r.indication is Indication.INDETERMINATE
    assert any("responder says unknown" in x for x in sig(r).reasons)


def test_offline_only_is_try_later(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "good-b-t")
    s = sig(r)
    assert (r.indication, s.subindication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert s.chain[0].revocation.status is RevocationState.OFFLINE
    assert "network-disabled" in (s.chain[0].revocation.detail or "")


def test_no_timestamp_uses_at_option(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    at = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    report = Verifier(policy()).verify(pdfs["good-b-b"], now=NOW, at=at)
    s = sig(report)
    assert s.validation_time == at and s.validation_time_source is TimeSource.AT_OPTION
    report = Verifier(policy()).verify(pdfs["good-b-b"], now=NOW)
    assert sig(report).validation_time_source is TimeSource.NOW


def test_tampered_fails_hash(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "tampered")
    s = sig(r)
    assert (r.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert s.integrity is not None and not s.integrity.intact


def test_unsigned_is_no_signature(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "unsigned")
    assert r.indication is Indication.NO_SIGNATURE and r.exit_code == 4 and r.error


def test_not_a_pdf_is_exit_4(guard: fx.SocketGuard) -> None:
    r = Verifier(policy()).verify(b"hello", now=NOW)
    fx.assert_schema(r.to_dict())
    assert r.exit_code == 4 and r.error == "not a PDF (no %PDF header)"


def test_min_level_policy(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "good-b-lt", min_level=Level.B_LTA)
    assert (r.indication, sig(r).subindication) == (
        Indication.INDETERMINATE,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    assert offline(pdfs, "good-b-lta", min_level=Level.B_LTA).indication is Indication.TOTAL_PASSED


def test_wrong_trust_anchor_no_chain(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    r = offline(pdfs, "good-b-lt", trust=fx.tsa_store())
    assert sig(r).subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


# -- online, with the server running -------------------------------------------------------


def test_fallback_fetches_only_what_is_missing(
    pdfs: dict[str, bytes],
    pki_server,
    pki_connect_to,  # type: ignore[no-untyped-def]
) -> None:
    v = Verifier(policy(online=Online.FALLBACK), connect_to=pki_connect_to, timeout=5)
    settled = v.verify(pdfs["good-b-lt"], now=NOW)
    fx.assert_schema(settled.to_dict())
    # the signer chain is settled by the DSS; only the TSA chain (stale evidence) is fetched
    assert all("/ocsp/interm" not in u for u in settled.network.urls)
    r = v.verify(pdfs["good-b-t"], now=NOW)
    fx.assert_schema(r.to_dict())
    assert r.indication is Indication.TOTAL_PASSED, r.to_dict()
    assert r.network.requests >= 2 and r.network.requests == len(r.network.urls)
    assert sig(r).chain[0].revocation.source == "fetched"
    assert sig(r).level is Level.B_T


def test_always_fetches_even_when_embedded(
    pdfs: dict[str, bytes],
    pki_server,
    pki_connect_to,  # type: ignore[no-untyped-def]
) -> None:
    v = Verifier(policy(online=Online.ALWAYS), connect_to=pki_connect_to, timeout=5)
    r = v.verify(pdfs["good-b-lt"], now=NOW)
    fx.assert_schema(r.to_dict())
    assert r.indication is Indication.TOTAL_PASSED
    assert any("/ocsp/interm" in u for u in r.network.urls)
    assert sig(r).level is Level.B_LT  # embedded evidence still settles it


def test_fallback_revoked_online(pdfs: dict[str, bytes], pki_server, pki_connect_to) -> None:  # type: ignore[no-untyped-def]
    data = fx.sign("signer-revoked", tst_time=None)
    v = Verifier(policy(online=Online.FALLBACK), connect_to=pki_connect_to, timeout=5)
    r = v.verify(data, now=NOW)
    fx.assert_schema(r.to_dict())
    assert sig(r).subindication is SubIndication.REVOKED_NO_POE
    assert sig(r).chain[0].revocation.source == "fetched"
