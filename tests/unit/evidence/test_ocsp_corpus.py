"""OCSP response validation against real-world vectors in ../shared/corpus (skipped if absent).

- openssl's OCSP test bundle (as used by pyhanko-certvalidator: ``openssl-ocsp.json``);
- pyca/cryptography's vectors: a 20-SingleResponse response, revoked, unauthorized, MD2 signature.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pem, x509

from ltv.evidence.ocsp import (
    CertId,
    check_ocsp_response,
    find_single_response,
    read_single_responses,
)
from ltv.evidence.outcome import RevocationStatus

from .conftest import OCSP_CORPUS

OPENSSL = OCSP_CORPUS / "openssl-ocsp"


def _cert(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    return x509.Certificate.load(pem.unarmor(data)[2] if pem.detect(data) else data)


def _ors(path: Path) -> bytes:
    lines = path.read_bytes().splitlines()
    return base64.b64decode(b"".join(line for line in lines if not line.startswith(b"-")))


def _openssl_cases() -> list[Any]:
    manifest = OPENSSL / "openssl-ocsp.json"
    if not manifest.is_file():
        return [pytest.param(None, id="corpus-absent")]
    return [pytest.param(case, id=case["name"]) for case in json.loads(manifest.read_text())]


# The response files' prefixes name the defect (openssl test/ocsp-tests/README); what we report.
_EXPECTED_DETAIL = {
    "ISOP": {"bad-signature"},  # invalid signature on the OCSP response
    "WRID": {"responder-id-mismatch"},  # wrong responder ID
    "WINH": {"no-matching-certid"},  # wrong issuer name hash
    "WIKH": {"no-matching-certid"},  # wrong issuer key hash
    "ISDOSC": {"responder-not-authorized"},  # invalid signature on the delegated signer cert
    # Wrong key in the delegated signer cert: with a byKey responder ID (D1) no carried cert
    # matches any more; with byName (D3) the cert matches but the signature fails under its key.
    "WKDOSC": {"bad-signature", "responder-id-mismatch"},
}


@pytest.mark.parametrize("case", _openssl_cases())
def test_openssl_case(case: dict[str, Any] | None, ocsp_corpus: Path) -> None:
    if case is None:
        pytest.skip("corpus absent")
    at = datetime.fromisoformat(case["moment"])
    chain = [
        _cert(OPENSSL / case["cert"]),
        *(_cert(OPENSSL / name) for name in case.get("other_certs", [])),
        _cert(OPENSSL / case["root"]),
    ]
    outcomes = [
        (name, check_ocsp_response(_ors(OPENSSL / name), chain[i], chain[i + 1], at=at))
        for i, name in enumerate(case["ocsps"])
    ]
    for name, outcome in outcomes:
        prefix = name.split("_")[0] if "_" in name else None
        if prefix is None and case["name"] == "direct_stale_otherwise_ok":
            # A clean response, asked about a year after its nextUpdate.
            assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "expired")
        elif prefix is None:
            assert outcome.status is RevocationStatus.GOOD, (name, outcome.detail)
            assert outcome.detail is None
            assert outcome.responder_delegated is name.startswith("D")
            assert outcome.this_update is not None
            assert outcome.this_update <= at
            assert outcome.produced_at is not None
        else:
            assert outcome.status is RevocationStatus.OFFLINE, name
            assert outcome.detail in _EXPECTED_DETAIL[prefix], (name, outcome.detail)
    if "error" in case:
        assert any(o.status is RevocationStatus.OFFLINE for _, o in outcomes)


_GOOD_PAIRS = [
    ("D1.ors", "D1_Cert_EE.pem", "D1_Issuer_ICA.pem"),
    ("D2.ors", "D2_Cert_ICA.pem", "D2_Issuer_Root.pem"),
    ("D3.ors", "D3_Cert_EE.pem", "D3_Issuer_Root.pem"),
    ("ND1.ors", "ND1_Cert_EE.pem", "ND1_Issuer_ICA.pem"),
    ("ND2.ors", "ND2_Cert_ICA.pem", "ND2_Issuer_Root.pem"),
    ("ND3.ors", "ND3_Cert_EE.pem", "ND3_Issuer_Root.pem"),
]


@pytest.mark.parametrize(("response", "cert", "issuer"), _GOOD_PAIRS)
def test_openssl_tampered_issuer_certificates(
    response: str, cert: str, issuer: str, ocsp_corpus: Path
) -> None:
    """WKIC (wrong key) / WSNIC (wrong subject name) issuer copies no longer match the CertID;
    ISIC (bad signature on the issuer cert) is the chain check's business, not OCSP's."""
    case = response.removesuffix(".ors")
    der = _ors(OPENSSL / response)
    ee = _cert(OPENSSL / cert)
    issuer_suffix = issuer.split("_", 1)[1]
    for defect, expected in [
        ("WKIC", "no-matching-certid"),
        ("WSNIC", "no-matching-certid"),
        ("ISIC", None),
    ]:
        tampered = _cert(OPENSSL / f"{defect}_{case}_{issuer_suffix}")
        outcome = check_ocsp_response(der, ee, tampered)
        assert outcome.detail == expected, defect
    assert check_ocsp_response(der, ee, _cert(OPENSSL / issuer)).status is RevocationStatus.GOOD


def test_freshness_window(ocsp_corpus: Path) -> None:
    der = _ors(OPENSSL / "ND3.ors")
    ee, issuer = _cert(OPENSSL / "ND3_Cert_EE.pem"), _cert(OPENSSL / "ND3_Issuer_Root.pem")
    plain = check_ocsp_response(der, ee, issuer)
    assert plain.this_update is not None
    assert plain.next_update is not None
    early = check_ocsp_response(der, ee, issuer, at=datetime(2000, 1, 1, tzinfo=UTC))
    late = check_ocsp_response(der, ee, issuer, at=datetime(2030, 1, 1, tzinfo=UTC))
    assert (early.status, early.detail) == (RevocationStatus.OFFLINE, "not-yet-valid")
    assert (late.status, late.detail) == (RevocationStatus.OFFLINE, "expired")
    # A stale outcome still says what the response contained.
    assert late.this_update == plain.this_update
    with pytest.raises(ValueError, match="timezone-aware"):
        check_ocsp_response(der, ee, issuer, at=datetime(2012, 10, 12))  # noqa: DTZ001


def test_sha256_certid_does_not_match_sha1_entry(ocsp_corpus: Path) -> None:
    der = _ors(OPENSSL / "ND3.ors")
    ee, issuer = _cert(OPENSSL / "ND3_Cert_EE.pem"), _cert(OPENSSL / "ND3_Issuer_Root.pem")
    sha1_id = CertId.for_cert(ee, issuer, "sha1")
    found = find_single_response(der, sha1_id)
    assert found is not None
    assert found.cert_id == sha1_id
    assert find_single_response(der, CertId.for_cert(ee, issuer, "sha256")) is None


def test_army_response_selects_the_matching_single_response(ocsp_corpus: Path) -> None:
    """20 SingleResponses: the one with our CertID is chosen, not the first."""
    der = (ocsp_corpus / "pyca_ocsp-army.deps.mil-resp.der").read_bytes()
    singles = read_single_responses(der)
    assert len(singles) == 20
    for index in (0, 7, 19):
        wanted = singles[index]
        found = find_single_response(der, wanted.cert_id)
        assert found is not None
        assert found.cert_id.serial == wanted.cert_id.serial
        assert found == wanted
    statuses = {s.cert_id.serial: s.status for s in singles}
    assert statuses[singles[0].cert_id.serial] is RevocationStatus.REVOKED
    # Same issuer hashes, a serial the response does not list: nothing selected.
    absent = CertId(
        hash_algo="sha1",
        issuer_name_hash=singles[0].cert_id.issuer_name_hash,
        issuer_key_hash=singles[0].cert_id.issuer_key_hash,
        serial=max(statuses) + 1000,
    )
    assert find_single_response(der, absent) is None
    # Right serial, another issuer: nothing selected either.
    other_issuer = CertId(
        hash_algo="sha1",
        issuer_name_hash=bytes(20),
        issuer_key_hash=singles[7].cert_id.issuer_key_hash,
        serial=singles[7].cert_id.serial,
    )
    assert find_single_response(der, other_issuer) is None


def test_army_response_first_entry_is_not_ours(ocsp_corpus: Path) -> None:
    der = (ocsp_corpus / "pyca_ocsp-army.deps.mil-resp.der").read_bytes()
    singles = read_single_responses(der)
    later = find_single_response(der, singles[12].cert_id)
    assert later is not None
    assert later.cert_id.serial == singles[12].cert_id.serial != singles[0].cert_id.serial


@pytest.mark.parametrize(
    ("name", "serial", "revoked_at", "next_update_present"),
    [
        (
            "pyca_resp-revoked.der",
            2238508373096059399630658340676916584,
            datetime(2016, 9, 2, 21, 28, 48, tzinfo=UTC),
            True,
        ),
        (
            "pyca_resp-revoked-no-next-update.der",
            16160,
            datetime(2017, 12, 27, 0, 28, 54, tzinfo=UTC),
            False,
        ),
    ],
)
def test_pyca_revoked(
    name: str, serial: int, revoked_at: datetime, next_update_present: bool, ocsp_corpus: Path
) -> None:
    (single,) = read_single_responses((ocsp_corpus / name).read_bytes())
    assert single.cert_id.serial == serial
    assert single.status is RevocationStatus.REVOKED
    assert single.revoked_at == revoked_at
    assert single.reason is None
    assert (single.next_update is not None) is next_update_present


def _letsencrypt_pair(ocsp_corpus: Path, serial: int) -> tuple[x509.Certificate, x509.Certificate]:
    issuer = _cert(ocsp_corpus / "pyca_letsencryptx3.pem")
    # Only the serial of the subject certificate enters the CertID; reuse the issuer as a shell.
    subject = issuer.copy()
    subject["tbs_certificate"]["serial_number"] = serial
    return x509.Certificate.load(subject.dump(force=True)), issuer


def test_pyca_unauthorized_is_offline(ocsp_corpus: Path) -> None:
    der = (ocsp_corpus / "pyca_resp-unauthorized.der").read_bytes()
    cert, issuer = _letsencrypt_pair(ocsp_corpus, 1)
    outcome = check_ocsp_response(der, cert, issuer)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "unauthorized")
    assert outcome.raw == der
    with pytest.raises(ValueError, match="unauthorized"):
        read_single_responses(der)


def test_pyca_md2_signature_is_refused(ocsp_corpus: Path) -> None:
    der = (ocsp_corpus / "pyca_resp-invalid-signature-oid.der").read_bytes()
    (single,) = read_single_responses(der)
    cert, issuer = _letsencrypt_pair(ocsp_corpus, single.cert_id.serial)
    assert CertId.for_cert(cert, issuer) == single.cert_id  # so it is the signature that fails
    outcome = check_ocsp_response(der, cert, issuer)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "bad-signature")


@pytest.mark.parametrize("der", [b"", b"\x30\x03\x0a\x01\x00", b"not der at all", b"\x30\x80"])
def test_garbage_is_malformed(der: bytes, ocsp_corpus: Path) -> None:
    cert, issuer = _letsencrypt_pair(ocsp_corpus, 1)
    outcome = check_ocsp_response(der, cert, issuer)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "malformed")
