"""Library faults on hostile input become data at the boundary (issue 7, finding 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import keys, x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ltv import TrustStore, ValidationPolicy, Verifier
from ltv.errors import InputError
from ltv.evidence._crypto import key_size
from ltv.inspect import inspect_bytes
from ltv.names import name_str, pdf_text
from ltv.pipeline.chain import _parses
from ltv.report import Indication
from samples import pki
from tests.regressions import hostile

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _verifier() -> Verifier:
    return Verifier(
        ValidationPolicy(
            trust=TrustStore.from_file(pki.cert_path("root")),
            tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
        )
    )


def test_key_size_is_none_where_asn1crypto_raises() -> None:
    """asn1crypto's ``bit_size`` raises UnboundLocalError for an Ed25519 key."""
    der = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    info = keys.PublicKeyInfo.load(der)
    with pytest.raises(UnboundLocalError):
        _ = info.bit_size
    assert key_size(info) is None
    assert key_size(pki.load_cert("signer-good").public_key) == ("ec", 256)


def broken_name_cert() -> bytes:
    """signer-good with its subject's first RDN turned from a SET into a SEQUENCE."""
    cert = pki.load_cert("signer-good")
    der = bytearray(cert.dump())
    rdn = cert.subject.chosen[0].dump()
    at = der.index(rdn, der.index(cert.issuer.dump()) + len(cert.issuer.dump()))
    der[at] = 0x30
    return bytes(der)


def test_undecodable_names_are_shown_as_hex_never_raised() -> None:
    cert = x509.Certificate.load(broken_name_cert())
    assert name_str(cert.subject).startswith("#30")
    assert not _parses(cert)  # never handed to certvalidator's registry
    assert pdf_text(b"\x9f\x9f") == "<9f9f>" and pdf_text("Sig1") == "Sig1"


def test_certificate_with_an_undecodable_name_in_a_later_dss_update() -> None:
    good = (SAMPLES / "good-b-lt.pdf").read_bytes()
    data = hostile.append_dss_raw(good, certs=[broken_name_cert()])
    report = _verifier().verify(data, now=NOW)
    assert report.error is None
    assert report.indication is Indication.TOTAL_PASSED, report.to_dict()
    assert inspect_bytes(data)["pdf"]["dss"] is not None


def test_xref_stream_with_corrupt_zlib_data_is_unreadable_not_internal() -> None:
    data = hostile.corrupt_xref_stream()
    report = _verifier().verify(data, now=NOW)
    assert report.exit_code == 4 and "internal error" not in (report.error or ""), report.error
    with pytest.raises(InputError):
        inspect_bytes(data)
