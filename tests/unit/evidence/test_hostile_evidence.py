"""Malformed and future-dated evidence (issue 7, findings 3 and 4).

Anyone may append a DSS update: no signature covers it. Evidence that cannot be decoded says
nothing — it is ignored with a warning and the signature is judged on the rest. Evidence dated
after the moment of judgement cannot exist yet — it is reported and ignored, embedded or
fetched alike; evidence dated after the *validation time* but before now is fine (§5.2.5).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import core, crl, ocsp, x509

from ltv import Online, TrustStore, ValidationPolicy, Verifier
from ltv.evidence.crl import CrlIndex, check_crl, fetch_crl_status
from ltv.evidence.http import HttpClient
from ltv.evidence.ocsp import check_ocsp_response, fetch_ocsp
from ltv.report import Indication, RevocationState
from samples import pki
from tests.regressions.hostile import append_dss_raw

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
"""good-b-lt.pdf: signature timestamp 2026-11-01, OCSP produced then; judged at NOW."""


def _verifier(**changes: object) -> Verifier:
    return Verifier(
        ValidationPolicy(
            trust=TrustStore.from_file(pki.cert_path("root")),
            tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
        ).replace(**changes)
    )


# -- malformed objects, built here ---------------------------------------------------------------


def unknown_status_ocsp() -> bytes:
    """OCSPResponse with responseStatus 4 (unused in RFC 6960 §4.2.1) and nothing else."""
    return b"\x30\x03\x0a\x01\x04"


def _tbs_crl(issuer: x509.Name, extensions: list[dict[str, object]]) -> crl.TbsCertList:
    return crl.TbsCertList(
        {
            "version": "v2",
            "signature": {"algorithm": "sha256_rsa"},
            "issuer": issuer,
            "this_update": x509.Time({"utc_time": datetime(2026, 11, 1, tzinfo=UTC)}),
            "next_update": x509.Time({"utc_time": datetime(2026, 12, 1, tzinfo=UTC)}),
            "crl_extensions": extensions,
        }
    )


def _crl(tbs: crl.TbsCertList) -> bytes:
    return bytes(
        crl.CertificateList(
            {
                "tbs_cert_list": tbs,
                "signature_algorithm": {"algorithm": "sha256_rsa"},
                "signature": b"\x00" * 256,
            }
        ).dump()
    )


def duplicate_extension_crl() -> bytes:
    number = {"extn_id": "crl_number", "critical": False, "extn_value": 7}
    return _crl(_tbs_crl(pki.load_cert("interm").subject, [number, number]))


def invalid_version_crl() -> bytes:
    der = bytearray(_crl(_tbs_crl(pki.load_cert("interm").subject, [])))
    at = der.index(b"\x02\x01\x01")  # version v2 (INTEGER 1), the first field of TBSCertList
    der[at + 2] = 0x05
    return bytes(der)


def undecodable_issuer_crl() -> bytes:
    """The issuer Name's first RDN is a SEQUENCE where a SET is required."""
    issuer = x509.Name.build({"common_name": "ZZ issuer"})
    der = bytearray(_crl(_tbs_crl(issuer, [])))
    rdn = issuer.chosen[0].dump()
    at = der.index(rdn)
    der[at] = 0x30  # SET (0x31) -> SEQUENCE
    return bytes(der)


MALFORMED_CRLS = {
    "duplicate-extension": duplicate_extension_crl,
    "invalid-version": invalid_version_crl,
    "undecodable-issuer": undecodable_issuer_crl,
}


@pytest.mark.parametrize("make", MALFORMED_CRLS.values(), ids=MALFORMED_CRLS.keys())
def test_malformed_crl_is_offline_not_an_exception(make: object) -> None:
    der = make()  # type: ignore[operator]
    with pytest.raises(ValueError, match="CRL"):
        CrlIndex(der)
    out = check_crl(der, pki.load_cert("signer-good"), pki.load_cert("interm"), at=NOW)
    assert (out.status, out.detail) == ("offline", "malformed")


def test_unknown_response_status_is_offline_not_an_exception() -> None:
    out = check_ocsp_response(
        unknown_status_ocsp(), pki.load_cert("signer-good"), pki.load_cert("interm"), at=NOW
    )
    assert (out.status, out.detail) == ("offline", "unknown-response-status")


@pytest.mark.parametrize("crl_name", MALFORMED_CRLS)
def test_malformed_evidence_in_a_later_dss_update_is_ignored_with_a_warning(
    crl_name: str,
) -> None:
    good = (SAMPLES / "good-b-lt.pdf").read_bytes()
    before = _verifier().verify(good, now=NOW)
    assert before.indication is Indication.TOTAL_PASSED
    hostile = append_dss_raw(good, ocsps=[unknown_status_ocsp()], crls=[MALFORMED_CRLS[crl_name]()])
    report = _verifier().verify(hostile, now=NOW)
    assert report.error is None
    assert report.indication is Indication.TOTAL_PASSED, report.to_dict()
    assert report.signatures[0].level == before.signatures[0].level
    warnings = " ".join(report.warnings)
    assert "OCSP response in dss" in warnings and "unknown-response-status" in warnings
    assert "CRL in dss" in warnings and "ignored" in warnings


# -- the same objects served by a responder --------------------------------------------------------


def _serve(scripted: object, body: bytes, content_type: str) -> str:
    def script(sock: object, _req: bytes) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode() + body)  # type: ignore[attr-defined]

    scripted.script = script  # type: ignore[attr-defined]
    return f"http://127.0.0.1:{scripted.port}/x"  # type: ignore[attr-defined]


def test_served_unknown_status_ocsp_is_offline(scripted: object) -> None:
    url = _serve(scripted, unknown_status_ocsp(), "application/ocsp-response")
    out = fetch_ocsp(
        HttpClient(timeout=5), pki.load_cert("signer-good"), pki.load_cert("interm"), url=url
    )
    assert (out.status, out.detail) == ("offline", "unknown-response-status")


@pytest.mark.parametrize("crl_name", MALFORMED_CRLS)
def test_served_malformed_crl_is_offline(scripted: object, crl_name: str) -> None:
    url = _serve(scripted, MALFORMED_CRLS[crl_name](), "application/pkix-crl")
    out = fetch_crl_status(
        HttpClient(timeout=5), pki.load_cert("signer-good"), pki.load_cert("interm"), url=url
    )
    assert (out.status, out.detail) == ("offline", "malformed")


# -- future-dated evidence -------------------------------------------------------------------------


def _ocsp_from(server: object, cert: str, issuer: str, at: datetime) -> bytes:
    server.freeze(at)  # type: ignore[attr-defined]
    try:
        out = fetch_ocsp(
            HttpClient(timeout=5, connect_to=server.connect_to),  # type: ignore[attr-defined]
            pki.load_cert(cert),
            pki.load_cert(issuer),
        )
    finally:
        server.freeze(None)  # type: ignore[attr-defined]
    assert out.raw is not None and out.status == "good", out
    return out.raw


def test_future_dated_embedded_ocsp_is_ignored_with_a_warning(pki_server: object) -> None:
    """A 'good' produced in 2030 beside the B-T sample: not believed at NOW (2026-11-28)."""
    from tests.unit.pipeline import fixtures as fx

    b_t = fx.sign("signer-good", tst_time=fx.T_SIGN)
    future = datetime(2030, 1, 1, tzinfo=UTC)
    evidence = fx.Evidence(
        ocsps=(
            _ocsp_from(pki_server, "signer-good", "interm", future),
            _ocsp_from(pki_server, "interm", "root", future),
            _ocsp_from(pki_server, "tsa", "tsa-root", future),
        )
    )
    data = fx.add_dss(b_t, "signer-good", evidence)
    report = _verifier().verify(data, now=NOW)
    sig = report.signatures[0]
    assert report.indication is not Indication.TOTAL_PASSED, report.to_dict()
    rev = sig.chain[0].revocation
    assert rev.status is RevocationState.OFFLINE and "future-dated" in (rev.detail or "")
    assert any("future-dated evidence ignored" in w for w in sig.warnings)
    # judged in 2030 (the responder's clock was right after all), the same file passes
    later = _verifier().verify(data, now=future + timedelta(minutes=1))
    assert later.indication is Indication.TOTAL_PASSED, later.to_dict()


def test_evidence_after_the_validation_time_but_before_now_is_fine(pki_server: object) -> None:
    """EN 319 102-1 §5.2.5: produced after the signature's timestamp (T_SIGN) proves the
    status at T_SIGN; only 'after now' is future-dated."""
    from tests.unit.pipeline import fixtures as fx

    b_t = fx.sign("signer-good", tst_time=fx.T_SIGN)
    later = fx.T_SIGN + timedelta(days=30)
    evidence = fx.Evidence(
        ocsps=(
            _ocsp_from(pki_server, "signer-good", "interm", later),
            _ocsp_from(pki_server, "interm", "root", later),
            _ocsp_from(pki_server, "tsa", "tsa-root", later),
        )
    )
    data = fx.add_dss(b_t, "signer-good", evidence)
    report = _verifier().verify(data, now=NOW)
    assert report.indication is Indication.TOTAL_PASSED, report.to_dict()
    assert not any("future-dated" in w for w in report.signatures[0].warnings)
    # ... and the very same file judged before that evidence was produced: future-dated
    early = _verifier().verify(data, now=later - timedelta(days=1))
    assert early.indication is not Indication.TOTAL_PASSED
    assert any("future-dated" in w for w in early.signatures[0].warnings)


def test_future_dated_fetched_ocsp_is_ignored(pki_server: object) -> None:
    """--online always: the responder's clock runs ahead (2030); the answer is not believed."""
    from tests.unit.pipeline import fixtures as fx

    b_t = fx.sign("signer-good", tst_time=fx.T_SIGN)
    pki_server.freeze(datetime(2030, 1, 1, tzinfo=UTC))  # type: ignore[attr-defined]
    verifier = Verifier(
        ValidationPolicy(
            trust=TrustStore.from_file(pki.cert_path("root")),
            tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
            online=Online.ALWAYS,
        ),
        connect_to=pki_server.connect_to,  # type: ignore[attr-defined]
        timeout=5,
    )
    report = verifier.verify(b_t, now=NOW)
    assert report.network.requests > 0
    assert report.indication is not Indication.TOTAL_PASSED, report.to_dict()
    rev = report.signatures[0].chain[0].revocation
    assert rev.status is RevocationState.OFFLINE and "future-dated" in (rev.detail or "")
    assert any("future-dated" in w for w in report.signatures[0].warnings)
    # the same responder with its clock right: TOTAL-PASSED
    pki_server.freeze(NOW)  # type: ignore[attr-defined]
    assert verifier.verify(b_t, now=NOW).indication is Indication.TOTAL_PASSED


def test_generalized_time_without_this_update_is_malformed() -> None:
    """A SingleResponse must carry thisUpdate (RFC 6960 §4.2.1); asn1crypto would yield None."""
    resp = ocsp.OCSPResponse.load(unknown_status_ocsp())
    assert isinstance(resp["response_bytes"], core.Void)
