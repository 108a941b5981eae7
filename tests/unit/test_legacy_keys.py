"""Legacy encodings and keys ltv cannot use (issue 8): verify what can honestly be verified.

A signer certificate whose RSA modulus is DER-encoded as a *negative* INTEGER (a national
ID-card generation issued them for years) is refused by cryptography. Before, ltv then said
``intact=false`` / TOTAL-FAILED: "this document was altered", about a document nobody altered.
The fixtures are made here: such a certificate issued by the sample intermediate CA, a PDF signed
with its key, a signature timestamp and stapled evidence (a CRL of the intermediate, which
speaks for any serial, and OCSP for the rest of the chain), all fetched from the loopback PKI.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import core, keys, pem, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ltv.policy import ValidationPolicy
from ltv.report import Indication, SubIndication
from ltv.verify import Verifier
from samples import pki
from samples.pki.server import PkiServer
from tests import forge
from tests.unit.pipeline import fixtures as fx

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def _load(label: str) -> x509.Certificate:
    _, _, der = pem.unarmor(pki.cert_path(label).read_bytes())
    return x509.Certificate.load(der)


def _negative_modulus_spki(key: rsa.RSAPrivateKey) -> keys.PublicKeyInfo:
    """The key's SubjectPublicKeyInfo with the modulus INTEGER missing its leading zero octet."""
    numbers = key.public_key().public_numbers()
    modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    assert modulus[0] & 0x80  # a 2048-bit modulus has its top bit set: needs the 0x00 in DER
    bad_int = b"\x02\x82" + len(modulus).to_bytes(2, "big") + modulus
    exp = core.Integer(numbers.e).dump()
    body = bad_int + exp
    rsa_key = b"\x30\x82" + len(body).to_bytes(2, "big") + body
    spki = keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "rsa", "parameters": core.Null()},
            "public_key": core.ParsableOctetBitString(rsa_key),
        }
    )
    return keys.PublicKeyInfo.load(spki.dump())


def _issue(spki: keys.PublicKeyInfo, serial: int) -> x509.Certificate:
    """A signer certificate for ``spki``, issued (really signed) by the sample intermediate."""
    interm = _load("interm")
    interm_key = serialization.load_pem_private_key(
        pki.key_path("interm").read_bytes(), password=None
    )
    assert isinstance(interm_key, ec.EllipticCurvePrivateKey)
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": {"algorithm": "sha256_ecdsa"},
            "issuer": interm.subject,
            "validity": {
                "not_before": x509.Time({"utc_time": datetime(2026, 1, 1, tzinfo=UTC)}),
                "not_after": x509.Time({"utc_time": datetime(2028, 1, 1, tzinfo=UTC)}),
            },
            "subject": x509.Name.build(
                {"common_name": "Legacy ID Card Signer", "country_name": "ZZ"}
            ),
            "subject_public_key_info": spki,
            "extensions": [
                {
                    "extn_id": "key_usage",
                    "critical": True,
                    "extn_value": x509.KeyUsage({"digital_signature", "non_repudiation"}),
                },
                {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": interm.key_identifier},
                },
            ],
        }
    )
    signature = interm_key.sign(tbs.dump(), ec.ECDSA(hashes.SHA256()))
    return x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature_value": signature,
        }
    )


def _sign(cert: x509.Certificate, key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    private = keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=private,
        cert_registry=SimpleCertificateStore.from_certs([_load("interm"), _load("root")]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Sig1", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = signers.PdfSigner(meta, signer, timestamper=fx._tsa(fx.T_SIGN)).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data))
    )
    return bytes(out.getvalue())


@pytest.fixture(scope="module")
def legacy() -> dict[str, bytes]:
    """B-LT signed by a negative-modulus certificate, plus its evidence, built once."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    from ltv.evidence.crl import fetch_crl
    from ltv.evidence.http import HttpClient
    from ltv.evidence.ocsp import fetch_ocsp

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _issue(_negative_modulus_spki(key), serial=0x7E57_0001)
    signed = _sign(cert, key, fx.unsigned_pdf())
    with PkiServer(port=0) as server:
        server.freeze(fx.T_SIGN + timedelta(minutes=1))
        client = HttpClient(timeout=10, connect_to=server.connect_to)
        ocsps = [
            fetch_ocsp(client, _load(leaf), _load(issuer)).raw
            for leaf, issuer in (("interm", "root"), ("tsa", "tsa-root"))
        ]
        crl_der = fetch_crl(client, pki.CRL_INTERM_URL)
    assert all(ocsps)
    buf = io.BytesIO(signed)
    DocumentSecurityStore.add_dss(
        buf,
        None,
        certs=[cert, _load("interm"), _load("root"), _load("tsa"), _load("tsa-root")],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps],
        crls=[asn1_crl.CertificateList.load(crl_der)],
    )
    return {"b-lt": buf.getvalue(), "cert": cert.dump()}


def _verify(data: bytes):  # type: ignore[no-untyped-def]
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(data, now=NOW)
    fx.assert_schema(report.to_dict())
    (sig,) = [s for s in report.signatures if s.kind == "signature"]
    return report, sig


def test_cryptography_refuses_the_key_that_ltv_reads(legacy: dict[str, bytes]) -> None:
    """The precondition: the fixture really carries the quirk cryptography rejects."""
    cert = x509.Certificate.load(legacy["cert"])
    with pytest.raises(ValueError):
        serialization.load_der_public_key(cert.public_key.dump())
    assert cert.public_key["public_key"].parsed["modulus"].native < 0


def test_negative_modulus_signature_passes_with_a_warning(legacy: dict[str, bytes]) -> None:
    report, sig = _verify(legacy["b-lt"])
    assert report.indication is Indication.TOTAL_PASSED, sig.reasons
    assert sig.integrity is not None and sig.integrity.intact and sig.integrity.valid
    assert any("negative INTEGER" in w for w in sig.warnings)
    assert sig.timestamp is not None and sig.timestamp.trusted


def test_altered_document_signed_with_that_key_still_fails(legacy: dict[str, bytes]) -> None:
    data = bytearray(legacy["b-lt"])
    pos = data.index(b") Tj")  # page content, covered by the ByteRange
    data[pos] ^= 0x01
    report, sig = _verify(bytes(data))
    assert report.indication is Indication.TOTAL_FAILED
    assert sig.subindication is SubIndication.HASH_FAILURE
    assert sig.integrity is not None and not sig.integrity.intact


@pytest.mark.parametrize("mechanism", ["sha256_dsa", "1.2.3.4.5.6.7"])
def test_a_mechanism_ltv_cannot_use_is_indeterminate_not_altered(
    legacy: dict[str, bytes], mechanism: str
) -> None:
    """The signed attributes and the document are untouched, but the SignerInfo claims a DSA
    signature made with an RSA key, or a mechanism nobody knows: the value cannot be checked.
    That is INDETERMINATE with the reason; the report must not claim the document was altered."""
    from asn1crypto import cms

    pdf = legacy["b-lt"]
    ci = cms.ContentInfo.load(forge.read_cms(pdf, 0).dump())
    si = ci["content"]["signer_infos"][0]
    si["signature_algorithm"] = {"algorithm": mechanism}
    report, sig = _verify(forge.write_cms(pdf, 0, ci.dump()))
    assert report.indication is Indication.INDETERMINATE, sig.reasons
    assert sig.integrity is not None and sig.integrity.intact and not sig.integrity.valid
    assert any("cannot be checked" in r for r in sig.reasons)
