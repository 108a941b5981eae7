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
    roles = [c.role for c in s.chain]
    assert roles[:3] == ["signer", "ca", "ca"] and set(roles[3:]) <= {"responder"}
    assert s.chain[0].revocation.status is RevocationState.GOOD
    assert s.chain[0].revocation.method == "ocsp" and s.chain[0].revocation.source == "dss"
    assert s.chain[2].revocation.status is RevocationState.NOT_CHECKED  # the anchor
    assert guard.attempts == []


def test_b_lt_needs_validation_data_for_the_tsa_chain(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    """ETSI EN 319 142-1 §6.3: B-LT = B-T + validation data for the signer's AND the
    timestamps' certificates; the signer's chain alone is not enough."""
    r = offline(pdfs, "b-lt-no-tsa-data")
    s = sig(r)
    assert r.indication is Indication.TOTAL_PASSED  # lenient default: TSA evidence optional
    assert s.level is Level.B_T
    assert any("TSA chain" in w and "B-LT" in w for w in s.warnings)
    assert s.chain[0].revocation.source == "dss"
    # with the TSA's evidence in the DSS the same signature is B-LT
    assert sig(offline(pdfs, "good-b-lt")).level is Level.B_LT


def test_delegated_responder_in_chain(pdfs: dict[str, bytes], guard: fx.SocketGuard) -> None:
    """The delegated OCSP responder that settled the signer's status is reported with role
    'responder'; its own status is honestly 'not-checked' (id-pkix-ocsp-nocheck)."""
    s = sig(offline(pdfs, "good-b-lt"))
    responders = [c for c in s.chain if c.role == "responder"]
    assert responders and [c.role for c in s.chain[: -len(responders)]] == ["signer", "ca", "ca"]
    # interm's delegated responder (samples/pki: interm-ocsp) signed the signer's response
    assert any("Intermediate OCSP Responder" in c.subject for c in responders)
    for c in responders:
        rev = c.revocation
        assert rev.status is RevocationState.NOT_CHECKED and rev.method == "none"
        assert rev.source == "none" and "ocsp-nocheck" in (rev.detail or "")
    assert len({c.sha256 for c in s.chain}) == len(s.chain)
    # stale evidence settles nothing: its responder is not listed (the TSA's, checked at now)
    assert s.timestamp is not None
    assert [c.role for c in s.timestamp.chain] == ["tsa", "ca"]


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


@pytest.fixture(autouse=True)
def _server_answers_as_of_now(request: pytest.FixtureRequest) -> None:
    """The responder answers as of NOW, the moment these tests judge at: an answer dated after
    the moment of judgement is future-dated and ignored (ltv.pipeline.revocation)."""
    if "pki_server" in request.fixturenames:
        request.getfixturevalue("pki_server").freeze(NOW)


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


def _ocsp_paths(pki_server) -> list[str]:  # type: ignore[no-untyped-def]
    """The responder each logged request went to (/ltv/ocsp/<name>), in order."""
    out = []
    for e in pki_server.log.snapshot():
        parts = e.path.split("/")
        out.append("/".join(parts[:4]) if parts[2:3] == ["ocsp"] else e.path)
    return out


def test_fallback_b_b_makes_exactly_the_needed_requests(
    pdfs: dict[str, bytes],
    pki_server,
    pki_connect_to,  # type: ignore[no-untyped-def]
) -> None:
    """B-B, nothing embedded: one OCSP request per non-anchor certificate of the signer's
    chain (the signer at interm's responder, interm at root's), no CRL (OCSP settled), no
    TSA; the server's log and report.network agree request for request."""
    v = Verifier(policy(online=Online.FALLBACK), connect_to=pki_connect_to, timeout=5)
    r = v.verify(pdfs["good-b-b"], now=NOW)
    fx.assert_schema(r.to_dict())
    assert r.indication is Indication.TOTAL_PASSED, r.to_dict()
    assert sorted(_ocsp_paths(pki_server)) == ["/ltv/ocsp/interm", "/ltv/ocsp/root"]
    assert r.network.requests == len(pki_server.log.snapshot()) == 2
    assert len(r.network.urls) == 2 and all(
        u.startswith("http://pki.ltv.test/ltv/ocsp/") for u in r.network.urls
    )
    s = sig(r)
    assert [c.revocation.source for c in s.chain if c.role != "responder"] == [
        "fetched",
        "fetched",
        "none",
    ]
    assert s.level is Level.B_B


def test_fallback_fetches_nothing_when_embedded_settles(
    pdfs: dict[str, bytes],
    pki_server,
    pki_connect_to,  # type: ignore[no-untyped-def]
) -> None:
    """good-b-lt at --at just after signing: the DSS settles the signer's chain and the TSA's
    (its evidence is fresh then), so fallback opens no connection at all."""
    v = Verifier(policy(online=Online.FALLBACK), connect_to=pki_connect_to, timeout=5)
    r = v.verify(pdfs["good-b-lt"], now=fx.T_SIGN.replace(minute=30))
    assert r.indication is Indication.TOTAL_PASSED, r.to_dict()
    assert r.network.requests == 0 and pki_server.log.snapshot() == []


def test_always_keeps_both_and_the_fresher_decides(
    pdfs: dict[str, bytes],
    pki_server,
    pki_connect_to,  # type: ignore[no-untyped-def]
) -> None:
    v = Verifier(policy(online=Online.ALWAYS), connect_to=pki_connect_to, timeout=5)
    r = v.verify(pdfs["good-b-lt"], now=NOW)
    fx.assert_schema(r.to_dict())
    assert r.indication is Indication.TOTAL_PASSED
    s = sig(r)
    assert s.level is Level.B_LT  # the embedded evidence still makes the file B-LT
    rev = s.chain[0].revocation
    sources = sorted(e.source for e in rev.evidence)
    assert sources == ["dss", "fetched"]
    (deciding,) = [e for e in rev.evidence if e.deciding]
    assert deciding.source == "fetched" and rev.source == "fetched"  # the fresher one
    # every request is in the report, and only those
    assert r.network.requests == len(r.network.urls) == len(pki_server.log.snapshot())
    assert "/ltv/ocsp/interm" in _ocsp_paths(pki_server)


def test_always_revoked_from_any_source_wins(
    pdfs: dict[str, bytes],
    pki_server,
    pki_connect_to,  # type: ignore[no-untyped-def]
) -> None:
    """Embedded 'good' made before the revocation (accepted under a long max age) vs. a fresh
    answer 'revoked since 2026-06-01', before the timestamp: revoked wins under `always`."""
    ev = fx.fetch_evidence(pki_server, "signer-revoked", at=fx.T_SIGN.replace(minute=1))
    data = fx.add_dss(
        fx.sign("signer-revoked", tst_time=fx.T_AFTER_REVOCATION), "signer-revoked", ev
    )
    pki_server.log.clear()
    pki_server.freeze(NOW)  # fetch_evidence unfroze it: answer as of the moment of judgement
    lenient = {"max_evidence_age": timedelta(days=365)}
    never = Verifier(policy(**lenient)).verify(data, now=NOW)
    assert never.indication is Indication.TOTAL_PASSED  # what the stale embedded 'good' says
    v = Verifier(policy(online=Online.ALWAYS, **lenient), connect_to=pki_connect_to, timeout=5)
    r = v.verify(data, now=NOW)
    fx.assert_schema(r.to_dict())
    s = sig(r)
    assert (r.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    rev = s.chain[0].revocation
    assert rev.status is RevocationState.REVOKED and rev.source == "fetched"
    assert {e.status for e in rev.evidence} == {"good", "revoked"}
