"""CRL index and checks on CRLs made here with the sample PKI's interm key."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ObjectIdentifier

from ltv.evidence.crl import CrlIndex, check_crl, crl_urls_of
from ltv.evidence.outcome import RevocationStatus

pki = pytest.importorskip("samples.pki")

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _crl(
    revoked: dict[int, str | None],
    *,
    signer: str = "interm",
    issuer_label: str = "interm",
    extensions: list[tuple[Any, bool]] = (),  # type: ignore[assignment]
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime | None = NOW + timedelta(days=1),
) -> bytes:
    key: Any = serialization.load_pem_private_key(pki.key_path(signer).read_bytes(), password=None)
    issuer = cx509.load_pem_x509_certificate(pki.cert_path(issuer_label).read_bytes())
    builder = cx509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
    builder = builder.last_update(this_update)
    if next_update is not None:
        builder = builder.next_update(next_update)
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    for serial, reason in revoked.items():
        entry = (
            cx509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - timedelta(days=2))
        )
        if reason is not None:
            entry = entry.add_extension(cx509.CRLReason(cx509.ReasonFlags(reason)), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@pytest.fixture
def good() -> Any:
    return pki.load_cert("signer-good")


@pytest.fixture
def revoked() -> Any:
    return pki.load_cert("signer-revoked")


@pytest.fixture
def interm() -> Any:
    return pki.load_cert("interm")


def test_good_and_revoked(good: Any, revoked: Any, interm: Any) -> None:
    der = _crl({revoked.serial_number: "keyCompromise", 99: None})
    index = CrlIndex(der)
    assert len(index) == 2
    assert index.lookup(99) is not None
    assert index.lookup(good.serial_number) is None
    ok = check_crl(index, good, interm, at=NOW)
    assert (ok.status, ok.detail, ok.method) == (RevocationStatus.GOOD, None, "crl")
    assert ok.this_update == NOW - timedelta(hours=1)
    assert ok.next_update == NOW + timedelta(days=1)
    bad = check_crl(der, revoked, interm, at=NOW)
    assert bad.status is RevocationStatus.REVOKED
    assert bad.revoked_at == NOW - timedelta(days=2)
    assert bad.reason == "key_compromise"
    assert bad.raw == der


def test_pem_is_accepted(good: Any, interm: Any) -> None:
    der = _crl({})
    pem_bytes = cx509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    assert check_crl(pem_bytes, good, interm).status is RevocationStatus.GOOD


def test_signature_by_another_key(good: Any, interm: Any) -> None:
    der = _crl({}, signer="root")  # claims interm's name, signed with root's key
    assert check_crl(der, good, interm).detail == "bad-signature"


def test_issuer_mismatch(good: Any, interm: Any) -> None:
    der = _crl({}, signer="root", issuer_label="root")
    assert check_crl(der, good, interm).detail == "issuer-mismatch"
    # Right CRL, wrong pairing: a root-issued certificate is not covered by interm's CRL.
    assert check_crl(_crl({}), interm, pki.load_cert("root")).detail == "issuer-mismatch"


def test_issuer_without_crl_sign(good: Any) -> None:
    # The OCSP responder (keyUsage digitalSignature only) poses as the issuer of a CRL.
    der = _crl({}, signer="interm-ocsp", issuer_label="interm-ocsp")
    responder = pki.load_cert("interm-ocsp")
    shell = good.copy()
    shell["tbs_certificate"]["issuer"] = responder.subject
    outcome = check_crl(der, shell, responder)
    assert outcome.detail == "issuer-not-authorized"


def test_freshness(good: Any, interm: Any) -> None:
    der = _crl({})
    assert check_crl(der, good, interm, at=NOW - timedelta(days=1)).detail == "not-yet-valid"
    assert check_crl(der, good, interm, at=NOW + timedelta(days=2)).detail == "expired"
    assert check_crl(der, good, interm, at=NOW + timedelta(hours=2)).status is RevocationStatus.GOOD
    with pytest.raises(ValueError, match="timezone-aware"):
        check_crl(der, good, interm, at=NOW.replace(tzinfo=None))


def test_delta_crl_is_not_complete(good: Any, interm: Any) -> None:
    der = _crl({}, extensions=[(cx509.DeltaCRLIndicator(1), True)])
    assert check_crl(der, good, interm).detail == "delta-crl"


def test_unknown_critical_extension_voids_the_crl(good: Any, interm: Any) -> None:
    ext = cx509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    der = _crl({}, extensions=[(ext, True)])
    assert check_crl(der, good, interm).detail == "unsupported-critical-extension"
    lenient = _crl({}, extensions=[(ext, False)])
    assert check_crl(lenient, good, interm).status is RevocationStatus.GOOD


def test_scope_excluding_end_entities(good: Any, interm: Any) -> None:
    idp = cx509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=True,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    der = _crl({}, extensions=[(idp, True)])
    assert check_crl(der, good, interm).detail == "crl-scope"


@pytest.mark.parametrize("der", [b"", b"garbage", b"\x30\x03\x02\x01\x01"])
def test_malformed(der: bytes, good: Any, interm: Any) -> None:
    outcome = check_crl(der, good, interm)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "malformed")


def test_large_crl_is_indexed_once_and_looked_up_fast(good: Any, revoked: Any, interm: Any) -> None:
    entries: dict[int, str | None] = dict.fromkeys(range(10**9, 10**9 + 20000))
    entries[revoked.serial_number] = "superseded"
    index = CrlIndex(_crl(entries))
    assert len(index) == 20001
    start = time.perf_counter()
    for _ in range(200):
        assert check_crl(index, good, interm, at=NOW).status is RevocationStatus.GOOD
        assert check_crl(index, revoked, interm, at=NOW).reason == "superseded"
    # 400 checks reuse one parse and one signature verification.
    assert time.perf_counter() - start < 1.0


def test_crl_urls_of_signers() -> None:
    assert crl_urls_of(pki.load_cert("signer-good")) == [pki.CRL_INTERM_URL]
    assert crl_urls_of(pki.load_cert("signer-unknown")) == []
