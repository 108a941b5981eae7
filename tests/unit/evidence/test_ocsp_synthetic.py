"""OCSP validation with responses forged here (sample PKI keys), for cases no corpus file covers:
multiple SingleResponses, delegated responders without authority, nonces, responder IDs, RSA-PSS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import algos, core, keys, ocsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ltv.evidence._crypto import UnsupportedSignature, key_hash, verify_signature
from ltv.evidence.ocsp import (
    CertId,
    build_ocsp_request,
    check_ocsp_response,
    request_for_cert_id,
)
from ltv.evidence.outcome import RevocationStatus

pki = pytest.importorskip("samples.pki")

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _key(label: str) -> Any:
    return serialization.load_pem_private_key(pki.key_path(label).read_bytes(), password=None)


def _single(cert_id: CertId, status: str = "good", **extra: Any) -> dict[str, Any]:
    if status == "revoked":
        cert_status: Any = (
            "revoked",
            {"revocation_time": NOW - timedelta(days=30), "revocation_reason": "key_compromise"},
        )
    else:
        cert_status = (status, core.Null())
    return {
        "cert_id": cert_id.to_asn1(),
        "cert_status": ocsp.CertStatus(name=cert_status[0], value=cert_status[1]),
        "this_update": NOW - timedelta(hours=1),
        "next_update": NOW + timedelta(hours=1),
        **extra,
    }


def _response(
    singles: list[dict[str, Any]],
    *,
    signer: str = "interm-ocsp",
    responder: x509.Certificate | None = None,
    by_key: bool = False,
    certs: list[x509.Certificate] | None = None,
    nonce: bytes | None = None,
    produced_at: datetime | None = None,
) -> bytes:
    signer_cert = pki.load_cert(signer)
    responder = responder or signer_cert
    responder_id = (
        ocsp.ResponderId(name="by_key", value=key_hash(responder.public_key, "sha1"))
        if by_key
        else ocsp.ResponderId(name="by_name", value=responder.subject)
    )
    tbs: dict[str, Any] = {
        "responder_id": responder_id,
        "produced_at": produced_at or NOW - timedelta(minutes=1),
        "responses": singles,
    }
    if nonce is not None:
        tbs["response_extensions"] = [{"extn_id": "nonce", "extn_value": core.OctetString(nonce)}]
    data = ocsp.ResponseData(tbs)
    signature = _key(signer).sign(data.dump(), ec.ECDSA(hashes.SHA256()))
    basic = ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": data,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": signature,
            "certs": certs if certs is not None else ([signer_cert] if signer != "interm" else []),
        }
    )
    return bytes(
        ocsp.OCSPResponse(
            {
                "response_status": "successful",
                "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
            }
        ).dump()
    )


@pytest.fixture
def good() -> x509.Certificate:
    return pki.load_cert("signer-good")


@pytest.fixture
def interm() -> x509.Certificate:
    return pki.load_cert("interm")


def test_our_entry_is_found_among_others(good: x509.Certificate, interm: x509.Certificate) -> None:
    ours = CertId.for_cert(good, interm, "sha256")
    other_serial = CertId.for_cert(pki.load_cert("signer-revoked"), interm)
    other_issuer = CertId(
        hash_algo="sha1",
        issuer_name_hash=bytes(20),
        issuer_key_hash=bytes(20),
        serial=good.serial_number,
    )
    der = _response(
        [
            _single(other_serial, "revoked"),
            _single(other_issuer, "revoked"),
            _single(ours, "good"),
        ]
    )
    outcome = check_ocsp_response(der, good, interm, at=NOW)
    assert outcome.status is RevocationStatus.GOOD
    assert outcome.serial == good.serial_number
    assert outcome.responder_delegated is True
    assert outcome.responder is not None
    assert "OCSP Responder" in outcome.responder


def test_revoked_with_time_and_reason(good: x509.Certificate, interm: x509.Certificate) -> None:
    der = _response([_single(CertId.for_cert(good, interm), "revoked")])
    outcome = check_ocsp_response(der, good, interm, at=NOW)
    assert outcome.status is RevocationStatus.REVOKED
    assert outcome.revoked_at == NOW - timedelta(days=30)
    assert outcome.reason == "key_compromise"


def test_signed_unknown_is_authoritative(good: x509.Certificate, interm: x509.Certificate) -> None:
    der = _response([_single(CertId.for_cert(good, interm), "unknown")])
    outcome = check_ocsp_response(der, good, interm, at=NOW)
    assert (outcome.status, outcome.detail) == (RevocationStatus.UNKNOWN, None)


def test_issuer_signed_by_key(good: x509.Certificate, interm: x509.Certificate) -> None:
    der = _response([_single(CertId.for_cert(good, interm))], signer="interm", by_key=True)
    outcome = check_ocsp_response(der, good, interm, at=NOW)
    assert outcome.status is RevocationStatus.GOOD
    assert outcome.responder_delegated is False


def test_delegated_responder_without_ocsp_signing_eku_is_refused(
    good: x509.Certificate, interm: x509.Certificate
) -> None:
    """RFC 6960 §4.2.2.2: any certificate of the CA is not a responder (signer-revoked's key)."""
    der = _response([_single(CertId.for_cert(good, interm))], signer="signer-revoked")
    outcome = check_ocsp_response(der, good, interm, at=NOW)
    assert (outcome.status, outcome.detail) == (
        RevocationStatus.OFFLINE,
        "responder-not-authorized",
    )


def test_responder_of_another_ca_is_refused(good: x509.Certificate) -> None:
    """interm-ocsp is authorised for interm, not for certificates that root issued."""
    interm, root = pki.load_cert("interm"), pki.load_cert("root")
    der = _response([_single(CertId.for_cert(interm, root))])
    outcome = check_ocsp_response(der, interm, root, at=NOW)
    assert outcome.detail == "responder-not-authorized"


def test_responder_id_must_name_the_signer(
    good: x509.Certificate, interm: x509.Certificate
) -> None:
    der = _response(
        [_single(CertId.for_cert(good, interm))], responder=pki.load_cert("root"), by_key=True
    )
    assert check_ocsp_response(der, good, interm).detail == "responder-id-mismatch"


def test_responder_cert_must_be_carried(good: x509.Certificate, interm: x509.Certificate) -> None:
    der = _response([_single(CertId.for_cert(good, interm))], certs=[])
    assert check_ocsp_response(der, good, interm).detail == "responder-id-mismatch"


def test_signature_under_the_wrong_key(good: x509.Certificate, interm: x509.Certificate) -> None:
    # Claims to be interm (byName) but is signed with the responder key.
    der = _response(
        [_single(CertId.for_cert(good, interm))], responder=interm, signer="interm-ocsp", certs=[]
    )
    assert check_ocsp_response(der, good, interm).detail == "bad-signature"


def test_responder_certificate_must_be_valid_at_produced_at(
    good: x509.Certificate, interm: x509.Certificate
) -> None:
    responder = pki.load_cert("interm-ocsp")
    not_after = responder["tbs_certificate"]["validity"]["not_after"].native
    der = _response(
        [_single(CertId.for_cert(good, interm))], produced_at=not_after + timedelta(days=1)
    )
    assert check_ocsp_response(der, good, interm).detail == "responder-not-authorized"


def test_nonce_echo(good: x509.Certificate, interm: x509.Certificate) -> None:
    cid = CertId.for_cert(good, interm)
    sent = b"\x01" * 16
    echoed = _response([_single(cid)], nonce=sent)
    other = _response([_single(cid)], nonce=b"\x02" * 16)
    silent = _response([_single(cid)])
    assert check_ocsp_response(echoed, good, interm, nonce=sent).status is RevocationStatus.GOOD
    assert check_ocsp_response(other, good, interm, nonce=sent).detail == "nonce-mismatch"
    # RFC 5019 responders do not echo: tolerated.
    assert check_ocsp_response(silent, good, interm, nonce=sent).status is RevocationStatus.GOOD


def test_missing_next_update_and_max_age(good: x509.Certificate, interm: x509.Certificate) -> None:
    single = _single(CertId.for_cert(good, interm))
    del single["next_update"]
    der = _response([single])
    later = NOW + timedelta(days=30)
    assert check_ocsp_response(der, good, interm, at=later).status is RevocationStatus.GOOD
    stale = check_ocsp_response(der, good, interm, at=later, max_age=timedelta(days=7))
    assert stale.detail == "expired"


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        ("malformed_request", "malformed-request"),
        ("internal_error", "internal-error"),
        ("try_later", "try-later"),
        ("sign_required", "sig-required"),
        ("unauthorized", "unauthorized"),
    ],
)
def test_error_statuses_are_offline(
    status: str, detail: str, good: x509.Certificate, interm: x509.Certificate
) -> None:
    der = ocsp.OCSPResponse({"response_status": status}).dump()
    outcome = check_ocsp_response(der, good, interm, url="http://x.test/")
    assert (outcome.status, outcome.detail, outcome.url) == (
        RevocationStatus.OFFLINE,
        detail,
        "http://x.test/",
    )


def test_request_encoding(good: x509.Certificate, interm: x509.Certificate) -> None:
    plain = ocsp.OCSPRequest.load(build_ocsp_request(good, interm))
    (req,) = plain["tbs_request"]["request_list"]
    assert CertId.from_asn1(req["req_cert"]) == CertId.for_cert(good, interm, "sha1")
    assert plain.nonce_value is None
    assert len(plain.dump()) <= 255
    nonced = ocsp.OCSPRequest.load(build_ocsp_request(good, interm, nonce=b"n" * 32))
    assert nonced.nonce_value.native == b"n" * 32
    sha256 = ocsp.OCSPRequest.load(build_ocsp_request(good, interm, hash_algo="sha256"))
    (req256,) = sha256["tbs_request"]["request_list"]
    assert req256["req_cert"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert req256["req_cert"]["issuer_key_hash"].native == interm.public_key.sha256
    with pytest.raises(ValueError):
        request_for_cert_id(CertId.for_cert(good, interm), b"")


def test_rsa_pss_and_pkcs1_signatures() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = keys.PublicKeyInfo.load(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    data = b"tbs"
    pss = key.sign(
        data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )
    pss_algo = algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {
                    "algorithm": "mgf1",
                    "parameters": {"algorithm": "sha256"},
                },
                "salt_length": 32,
                "trailer_field": "trailer_field_bc",
            },
        }
    )
    assert verify_signature(spki, pss_algo, pss, data)
    assert not verify_signature(spki, pss_algo, pss, b"other")
    pkcs1 = key.sign(data, padding.PKCS1v15(), hashes.SHA384())
    assert verify_signature(
        spki, algos.SignedDigestAlgorithm({"algorithm": "sha384_rsa"}), pkcs1, data
    )
    for refused in ("md5_rsa", "sha256_ecdsa"):
        with pytest.raises(UnsupportedSignature):
            verify_signature(spki, algos.SignedDigestAlgorithm({"algorithm": refused}), pkcs1, data)


def test_successful_status_without_body_is_malformed(
    good: x509.Certificate, interm: x509.Certificate
) -> None:
    der = ocsp.OCSPResponse({"response_status": "successful"}).dump()
    assert check_ocsp_response(der, good, interm).detail == "malformed"
