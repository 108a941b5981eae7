"""Forgers for the security tests: rewrite what no ByteRange covers — a signature's /Contents.

Every function takes the bytes of a signed PDF and returns a forged copy of the same length (the
CMS is re-encoded and written, hex, into the same /Contents slot, padded with zeros as signers
do), so the ByteRange digests of every signature stay intact: only the checks that bind a
token's content to its signature can catch these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable

from asn1crypto import algos, cms, keys, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

_BR = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def contents_slots(pdf: bytes) -> list[tuple[int, int]]:
    """(start, end) of each signature's /Contents hex string (without the angle brackets),
    in file order, found from the /ByteRange gaps."""
    slots = []
    for m in _BR.finditer(pdf):
        _a, b, c, _d = (int(x) for x in m.groups())
        if pdf[b : b + 1] == b"<" and pdf[c - 1 : c] == b">":
            slots.append((b + 1, c - 1))
    return list(dict.fromkeys(slots))


def read_cms(pdf: bytes, index: int) -> cms.ContentInfo:
    start, end = contents_slots(pdf)[index]
    return cms.ContentInfo.load(bytes.fromhex(pdf[start:end].decode()).rstrip(b"\0") or b"\0")


def write_cms(pdf: bytes, index: int, der: bytes) -> bytes:
    start, end = contents_slots(pdf)[index]
    hexed = der.hex().encode()
    if len(hexed) > end - start:
        raise ValueError("forged CMS does not fit the /Contents slot")
    return pdf[:start] + hexed + b"0" * (end - start - len(hexed)) + pdf[end:]


# -- TSTInfo rewrites ---------------------------------------------------------------------------


def rewrite_tst_info(token: cms.ContentInfo, change: Callable[[tsp.TSTInfo], None]) -> bytes:
    """The token with its encapsulated TSTInfo changed by ``change`` (signature untouched)."""
    ci = cms.ContentInfo.load(token.dump())
    sd = ci["content"]
    tst = tsp.TSTInfo.load(sd["encap_content_info"]["content"].parsed.dump())
    change(tst)
    sd["encap_content_info"] = cms.EncapsulatedContentInfo(
        {"content_type": "tst_info", "content": cms.ParsableOctetString(tst.dump(force=True))}
    )
    return ci.dump()


def _signature_tst_attr(signer_info: cms.SignerInfo) -> cms.CMSAttribute:
    for attr in signer_info["unsigned_attrs"]:
        if attr["type"].native == "signature_time_stamp_token":
            return attr
    raise LookupError("no signature timestamp")


def signature_token(pdf: bytes, index: int = 0) -> cms.ContentInfo:
    sd = read_cms(pdf, index)["content"]
    return _signature_tst_attr(sd["signer_infos"][0])["values"][0]


def replace_signature_token(pdf: bytes, index: int, token_der: bytes) -> bytes:
    """Put ``token_der`` in place of signature ``index``'s signature timestamp."""
    ci = cms.ContentInfo.load(read_cms(pdf, index).dump())
    sd = ci["content"]
    si = sd["signer_infos"][0]
    attrs = [a for a in si["unsigned_attrs"] if a["type"].native != "signature_time_stamp_token"]
    attrs.append(
        cms.CMSAttribute(
            {"type": "signature_time_stamp_token", "values": [cms.ContentInfo.load(token_der)]}
        )
    )
    si["unsigned_attrs"] = cms.CMSAttributes(attrs)
    return write_cms(pdf, index, ci.dump())


def set_gen_time(when: dt.datetime) -> Callable[[tsp.TSTInfo], None]:
    def change(tst: tsp.TSTInfo) -> None:
        tst["gen_time"] = when

    return change


def set_imprint(digest: bytes) -> Callable[[tsp.TSTInfo], None]:
    def change(tst: tsp.TSTInfo) -> None:
        mi = tst["message_imprint"]
        tst["message_imprint"] = tsp.MessageImprint(
            {"hash_algorithm": mi["hash_algorithm"], "hashed_message": digest}
        )

    return change


def add_field(tst: tsp.TSTInfo) -> None:
    """Re-encode with an extra (optional) field: ``ordering TRUE``."""
    tst["ordering"] = True


# -- a re-signed token under an injected look-alike certificate --------------------------------


def lookalike_key_and_cert(real: x509.Certificate) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A certificate with the real TSA certificate's issuer, serial and subject but the
    attacker's own key (its CA signature is the real one copied, so it cannot verify)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = keys.PublicKeyInfo.load(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    tbs = x509.TbsCertificate.load(real["tbs_certificate"].dump())
    tbs["subject_public_key_info"] = spki
    tbs["extensions"] = [e for e in tbs["extensions"] if e["extn_id"].native != "key_identifier"]
    cert = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": real["signature_algorithm"],
            "signature_value": real["signature_value"],
        }
    )
    return key, x509.Certificate.load(cert.dump(force=True))


def resign_token(
    token: cms.ContentInfo,
    change: Callable[[tsp.TSTInfo], None],
    *,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    cert_first: bool = True,
    ess_names: x509.Certificate | None = None,
    ess: bool = True,
) -> bytes:
    """Change the TSTInfo, then sign it afresh with ``key`` — a fully consistent SignedData
    whose sid matches the real TSA certificate's issuer+serial (the look-alike shares them),
    with ``cert`` injected into the bag and named by the ESS attribute (or ``ess_names``)."""
    ci = cms.ContentInfo.load(token.dump())
    sd = ci["content"]
    tst = tsp.TSTInfo.load(sd["encap_content_info"]["content"].parsed.dump())
    change(tst)
    tst_der = tst.dump(force=True)
    named = ess_names or cert
    attr_list: list[dict[str, object]] = [
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
    ]
    if ess:
        attr_list.append(
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "hash_algorithm": {"algorithm": "sha256"},
                                "cert_hash": hashlib.sha256(named.dump()).digest(),
                            }
                        ]
                    }
                ],
            }
        )
    attrs = cms.CMSAttributes(attr_list)
    to_sign = attrs.dump(force=True)
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
        sig_algo = "sha256_rsa"
    else:
        signature = key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
        sig_algo = "sha256_ecdsa"
    si = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": cert.issuer,
                        "serial_number": cert.serial_number,
                    }
                }
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": cms.CMSAttributes.load(to_sign).retag("implicit", 0),
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_algo}),
            "signature": signature,
        }
    )
    bag = [c.chosen for c in sd["certificates"] if c.chosen.dump() != cert.dump()]
    bag = [cert, *bag] if cert_first else [*bag, cert]
    sd["certificates"] = cms.CertificateSet(
        [cms.CertificateChoices({"certificate": c}) for c in bag]
    )
    sd["encap_content_info"] = cms.EncapsulatedContentInfo(
        {"content_type": "tst_info", "content": cms.ParsableOctetString(tst_der)}
    )
    sd["digest_algorithms"] = [algos.DigestAlgorithm({"algorithm": "sha256"})]
    sd["signer_infos"] = cms.SignerInfos([si])
    return ci.dump()


def no_change(_tst: tsp.TSTInfo) -> None:
    return None


__all__ = [
    "add_field",
    "contents_slots",
    "lookalike_key_and_cert",
    "no_change",
    "read_cms",
    "replace_signature_token",
    "resign_token",
    "rewrite_tst_info",
    "set_gen_time",
    "set_imprint",
    "signature_token",
    "write_cms",
]
