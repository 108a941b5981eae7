"""The core mission end to end: a signature outlives the certificate of its timestamp's TSA.

``tsa-short`` (samples/pki: valid 2020-01-01..2027-01-01) timestamps a B-LT signature of
signer-good on 2026-06-15. After 2027 that timestamp can only be trusted through *past
validation* (ETSI EN 319 102-1 §5.6.2.4, §5.6.3): a later document timestamp from a TSA still
valid (``tsa``, until 2050) is proof that the signature timestamp existed while its TSA
certificate was valid, so the TSA chain is validated at that document timestamp's genTime.
Without the renewal, the signature falls back to validation at "now" and is INDETERMINATE.

Fixtures are made by ltv itself (``Signer`` / ``Extender``) against the loopback PKI with its
clock frozen (tests/unit/pipeline/fixtures.py), so no verdict depends on the real clock. The
verdicts are checked offline, with that server stopped and a socket guard; two tests use the
running ``pki_server`` (frozen too): ``online = fallback`` in 2030, and ``ltv extend``.
"""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ltv.policy import Online, ValidationPolicy
from ltv.report import (
    Indication,
    Level,
    Report,
    RevocationState,
    SignatureReport,
    SubIndication,
    TimeSource,
)
from ltv.trust import TrustStore
from ltv.verify import Verifier
from samples import pki
from samples.pki.server import PkiServer
from tests.unit.pipeline import fixtures as fx

BEFORE_EXPIRY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
"""A 'now' before tsa-short expires (2027-01-01)."""
Y2030 = datetime(2030, 1, 1, tzinfo=UTC)
"""tsa-short expired; signer-good (until 2036) and tsa (until 2050) still valid."""
Y2045 = datetime(2045, 1, 1, tzinfo=UTC)
"""signer-good expired too; tsa still valid."""
Y2051 = datetime(2051, 1, 1, tzinfo=UTC)
"""tsa (and both roots) expired as well: nothing is left to anchor the chain of POEs."""


@pytest.fixture(scope="module")
def pdfs() -> dict[str, bytes]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    return fx.get_longterm_fixtures()


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> fx.SocketGuard:
    return fx.SocketGuard(monkeypatch)


def verify(data: bytes, now: datetime) -> Report:
    policy = ValidationPolicy(
        trust=TrustStore.from_paths([pki.ROOT_CERT]),
        tsa_trust=TrustStore.from_paths([pki.TSA_ROOT_CERT]),
    )
    report = Verifier(policy).verify(data, now=now)
    fx.assert_schema(report.to_dict())
    assert report.network.requests == 0
    return report


def sig(report: Report) -> SignatureReport:
    (s,) = [s for s in report.signatures if s.kind == "signature"]
    return s


def doc_ts(report: Report) -> SignatureReport:
    (d,) = [s for s in report.signatures if s.kind == "document-timestamp"]
    return d


def dss_ocsp_subjects(data: bytes) -> list[str]:
    """Labels of the sample certificates the DSS's OCSP responses answer for (a CertID is
    matched on the issuer name hash *and* the serial)."""
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    certs = {label: pki.load_cert(label) for label in pki.CERT_LABELS}
    out: list[str] = []
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(data)))
    for ref in dss.ocsps:
        resp = asn1_ocsp.OCSPResponse.load(ref.get_object().data)
        basic = resp["response_bytes"]["response"].parsed
        for single in basic["tbs_response_data"]["responses"]:
            cid = single["cert_id"]
            algo = cid["hash_algorithm"]["algorithm"].native
            out.extend(
                label
                for label, cert in certs.items()
                if cert.serial_number == cid["serial_number"].native
                and hashlib.new(algo, cert.issuer.dump()).digest() == cid["issuer_name_hash"].native
            )
    return out


# -- (a) B-LT whose signature timestamp is by the short-lived TSA, never renewed ---------------


def test_short_tsa_b_lt_passes_while_its_tsa_is_valid(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    r = verify(pdfs["short-b-lt"], BEFORE_EXPIRY)
    s = sig(r)
    assert r.indication is Indication.TOTAL_PASSED, r.to_dict()
    assert s.level is Level.B_LT
    assert s.validation_time_source is TimeSource.SIGNATURE_TIMESTAMP
    assert s.validation_time == fx.T_SHORT_SIGN
    assert s.timestamp is not None and s.timestamp.trusted
    assert "Short-Lived" in s.timestamp.tsa
    # the outermost (only) timestamp: its TSA chain is judged at now
    assert s.timestamp.chain_checked_at == BEFORE_EXPIRY
    assert s.chain[0].revocation.status is RevocationState.GOOD
    assert s.chain[0].revocation.source in ("dss", "vri")
    # the file carries evidence for the signer chain AND the tsa-short chain (B-LT)
    assert sorted(dss_ocsp_subjects(pdfs["short-b-lt"])) == ["interm", "signer-good", "tsa-short"]
    assert guard.attempts == []


def test_short_tsa_b_lt_after_tsa_expiry_is_indeterminate(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    """2030: tsa-short expired, nothing later proves the timestamp existed before that. The
    timestamp is no POE, so the signature is judged at now — where the 2026 evidence for the
    signer proves nothing (EN 319 102-1 §5.2.5 freshness): INDETERMINATE/TRY_LATER (fresh
    evidence fetched online could still settle it: signer-good is valid until 2036)."""
    r = verify(pdfs["short-b-lt"], Y2030)
    s = sig(r)
    assert r.indication is Indication.INDETERMINATE and r.exit_code == 3
    assert s.subindication is SubIndication.TRY_LATER
    assert s.validation_time_source is TimeSource.NOW and s.validation_time == Y2030
    assert s.timestamp is not None and not s.timestamp.trusted
    assert s.timestamp.gen_time == fx.T_SHORT_SIGN and s.timestamp.chain_checked_at == Y2030
    assert any("not valid at 2030-01-01" in p for p in s.timestamp.problems)
    assert any(
        "signature timestamp not usable as proof of existence" in w and "2027-01-01" in w
        for w in s.warnings
    )
    assert any("no usable revocation evidence" in reason for reason in s.reasons)
    # the first reason says why the signature was judged in 2030 at all
    assert s.reasons[0].startswith("signature timestamp not usable as proof of existence")
    assert "2027-01-01" in s.reasons[0] and "validated at 2030-01-01T00:00:00Z" in s.reasons[0]
    assert s.level is not Level.B_LT and s.level is not Level.B_LTA
    assert guard.attempts == []


def test_short_tsa_b_lt_try_later_means_it(
    pdfs: dict[str, bytes], pki_server: PkiServer, pki_connect_to: dict[str, tuple[str, int]]
) -> None:
    """TRY_LATER is literal: with the CA still answering in 2030 (server frozen there) and
    ``online = fallback``, fresh evidence settles the signer *at now* — TOTAL-PASSED, but only
    as a signature validated at the present (level B-B, no POE), the timestamp still unusable."""
    pki_server.freeze(Y2030)
    policy = ValidationPolicy(
        trust=TrustStore.from_paths([pki.ROOT_CERT]),
        tsa_trust=TrustStore.from_paths([pki.TSA_ROOT_CERT]),
        online=Online.FALLBACK,
    )
    r = Verifier(policy, connect_to=pki_connect_to, timeout=5).verify(pdfs["short-b-lt"], now=Y2030)
    fx.assert_schema(r.to_dict())
    s = sig(r)
    assert r.indication is Indication.TOTAL_PASSED
    assert s.validation_time_source is TimeSource.NOW and s.level is Level.B_B
    assert s.timestamp is not None and not s.timestamp.trusted
    assert r.network.requests >= 1 and s.chain[0].revocation.source == "fetched"


def test_short_tsa_b_lt_after_signer_expiry_is_out_of_bounds(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    """2045: without a POE the signer's own certificate (until 2036) is now out of bounds."""
    r = verify(pdfs["short-b-lt"], Y2045)
    s = sig(r)
    assert (r.indication, s.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    )
    assert s.validation_time_source is TimeSource.NOW


# -- (b) the same file renewed by a document timestamp of the long-lived TSA (before 2027) ------


def test_renewal_carries_evidence_for_both_tsa_chains(pdfs: dict[str, bytes]) -> None:
    data = pdfs["short-renewed"]
    assert data.startswith(pdfs["short-b-lt"])  # an incremental update
    subjects = dss_ocsp_subjects(data)
    # signing time: signer, interm, tsa-short; renewal: tsa-short again (fresh) and tsa
    assert sorted(subjects) == ["interm", "signer-good", "tsa", "tsa-short", "tsa-short"]


@pytest.mark.parametrize("now", [BEFORE_EXPIRY, Y2030, Y2045], ids=["2026", "2030", "2045"])
def test_renewed_passes_after_short_tsa_expired(
    pdfs: dict[str, bytes], guard: fx.SocketGuard, now: datetime
) -> None:
    r = verify(pdfs["short-renewed"], now)
    s, d = sig(r), doc_ts(r)
    assert r.indication is Indication.TOTAL_PASSED and r.exit_code == 0, r.to_dict()
    assert [x.kind for x in r.signatures] == ["signature", "document-timestamp"]
    assert s.level is Level.B_LTA
    # the signature's POE is still the original signature timestamp ...
    assert s.validation_time_source is TimeSource.SIGNATURE_TIMESTAMP
    assert s.validation_time == fx.T_SHORT_SIGN
    assert s.timestamp is not None and s.timestamp.trusted
    assert s.timestamp.gen_time == fx.T_SHORT_SIGN
    # ... because its TSA chain is validated in the past, at the document timestamp's genTime
    # (EN 319 102-1 §5.6.2.4), with the evidence the renewal stapled
    assert s.timestamp.chain_checked_at == fx.T_SHORT_RENEW
    tsa_short = s.timestamp.chain[0]
    assert tsa_short.role == "tsa" and "Short-Lived" in tsa_short.subject
    assert tsa_short.not_after == pki.TSA_SHORT_NOT_AFTER
    assert tsa_short.revocation.status is RevocationState.GOOD
    assert tsa_short.revocation.this_update == fx.T_SHORT_RENEW
    # the signer's chain: at the signing time, on the evidence stapled at signing
    assert s.chain[0].revocation.status is RevocationState.GOOD
    assert s.chain[0].revocation.this_update == fx.T_SHORT_SIGN
    # the document timestamp: outermost, judged at now; its TSA is the long-lived one
    assert d.indication is Indication.TOTAL_PASSED
    assert d.timestamp is not None and d.timestamp.gen_time == fx.T_SHORT_RENEW
    assert d.timestamp.chain_checked_at == now and "Short-Lived" not in d.timestamp.tsa
    assert guard.attempts == []


def test_renewed_after_long_tsa_expired_is_indeterminate(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    """2051: tsa (and the roots) expired in 2050 and nobody renewed again: no POE is left."""
    r = verify(pdfs["short-renewed"], Y2051)
    s, d = sig(r), doc_ts(r)
    assert r.indication is Indication.INDETERMINATE and r.exit_code == 3
    assert s.indication is Indication.INDETERMINATE
    assert d.indication is Indication.INDETERMINATE
    assert d.subindication is SubIndication.OUT_OF_BOUNDS_NO_POE
    assert d.timestamp is not None and not d.timestamp.trusted
    assert s.timestamp is not None and not s.timestamp.trusted
    assert s.validation_time_source is TimeSource.NOW
    assert guard.attempts == []


def test_renewal_after_short_tsa_expired_does_not_rescue(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    """Renewed on 2027-03-01, after tsa-short expired: the document timestamp cannot show that
    the signature timestamp existed while tsa-short was valid. It stands in as the POE
    (2027-03-01), where the 2026 signer evidence proves nothing: never TOTAL-PASSED."""
    r = verify(pdfs["short-renewed-late"], Y2030)
    s = sig(r)
    assert doc_ts(r).indication is Indication.TOTAL_PASSED
    assert r.indication is Indication.INDETERMINATE
    assert s.subindication is SubIndication.TRY_LATER
    assert s.timestamp is not None and not s.timestamp.trusted
    assert s.timestamp.chain_checked_at == fx.T_SHORT_LATE_RENEW
    assert s.validation_time_source is TimeSource.DOCUMENT_TIMESTAMP
    assert s.validation_time == fx.T_SHORT_LATE_RENEW


def test_timestamp_from_the_future_is_no_proof_of_existence(
    pdfs: dict[str, bytes], guard: fx.SocketGuard
) -> None:
    """Checked on 2026-11-28, a document timestamp whose genTime is 2027-03-01 cannot be a POE
    (a wrong TSA clock, or a forged token): the document timestamp is not trusted and the
    signature is judged on its own signature timestamp, at 2026-06-15."""
    r = verify(pdfs["short-renewed-late"], BEFORE_EXPIRY)
    d = doc_ts(r)
    assert d.indication is Indication.INDETERMINATE
    assert d.subindication is SubIndication.TIMESTAMP_ORDER_FAILURE
    assert d.timestamp is not None and not d.timestamp.trusted
    assert any("from the future" in p for p in d.timestamp.problems)
    s = sig(r)
    assert s.validation_time_source is TimeSource.SIGNATURE_TIMESTAMP
    assert s.validation_time < fx.T_SHORT_LATE_RENEW
    assert r.indication is not Indication.TOTAL_PASSED


# -- the archive's renewal through the real CLI ----------------------------------------------


def test_cli_extend_renews_short_tsa_signature(
    pdfs: dict[str, bytes],
    pki_server: PkiServer,
    tmp_path: Path,
) -> None:
    """``ltv extend --tsa <long TSA> --at T`` on (a), the server's clock frozen at T (nothing
    here depends on the real date)."""
    from ltv.cli import app

    pki_server.freeze(fx.T_SHORT_RENEW)
    src, dst = tmp_path / "short-b-lt.pdf", tmp_path / "renewed.pdf"
    src.write_bytes(pdfs["short-b-lt"])
    connect = [
        arg
        for key, (addr, port) in pki_server.connect_to.items()
        for arg in ("--connect-to", f"{key}:{addr}:{port}")
    ]
    args = [
        "extend",
        str(src),
        str(dst),
        "--tsa",
        pki.TSA_URL,
        "--trust",
        str(pki.TSA_ROOT_CERT),
        "--trust",
        str(pki.ROOT_CERT),
        "--at",
        fx.T_SHORT_RENEW.isoformat(),
        *connect,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "extended" in result.output
    assert src.read_bytes() == pdfs["short-b-lt"]  # IN never modified
    renewed = dst.read_bytes()
    assert renewed.startswith(pdfs["short-b-lt"])
    pki_server.freeze(None)

    r = verify(renewed, Y2030)
    s = sig(r)
    assert r.indication is Indication.TOTAL_PASSED, r.to_dict()
    assert s.level is Level.B_LTA
    assert s.validation_time_source is TimeSource.SIGNATURE_TIMESTAMP
    assert s.timestamp is not None and s.timestamp.chain_checked_at == fx.T_SHORT_RENEW
