"""Forged RFC 3161 tokens (issue 7, finding 1): a token's content must be bound to its signature.

The tokens sit in /Contents, which no ByteRange covers, so rewriting them leaves every signed
byte intact. Each forgery below was reported TOTAL-PASSED (or "trusted") before ltv checked the
signed message-digest attribute against the TSTInfo and the ESS signing-certificate against the
certificate that verifies. The committed samples are the victims.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms, pem, x509

from ltv.policy import ValidationPolicy
from ltv.report import Indication, Report, SubIndication
from ltv.tst import check_token
from ltv.verify import Verifier
from tests import forge
from tests.unit.pipeline import fixtures as fx

SAMPLES = Path(__file__).parents[2] / "samples"
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def verify(data: bytes) -> Report:
    policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
    report = Verifier(policy).verify(data, now=NOW)
    fx.assert_schema(report.to_dict())
    return report


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sig_report(report: Report):  # type: ignore[no-untyped-def]
    (s,) = [s for s in report.signatures if s.kind == "signature"]
    return s


def test_untouched_samples_are_the_baseline() -> None:
    """The forgeries below change exactly one thing in files that verify as stated."""
    assert verify(sample("revoked-before-timestamp.pdf")).indication is Indication.TOTAL_FAILED
    assert verify(sample("good-b-lta.pdf")).indication is Indication.TOTAL_PASSED
    # the forger's re-encoding alone changes nothing
    pdf = sample("good-b-lt.pdf")
    same = forge.replace_signature_token(pdf, 0, forge.signature_token(pdf).dump(force=True))
    assert verify(same).indication is Indication.TOTAL_PASSED


def test_back_dated_gen_time_is_not_a_proof_of_existence() -> None:
    """The issue's attack: genTime 2026-07-01 → 2026-05-01, before the revocation (2026-06-01),
    would turn REVOKED into TOTAL-PASSED: back-dating a signature made with a compromised key."""
    pdf = sample("revoked-before-timestamp.pdf")
    token = forge.signature_token(pdf)
    forged = forge.replace_signature_token(
        pdf, 0, forge.rewrite_tst_info(token, forge.set_gen_time(datetime(2026, 5, 1, tzinfo=UTC)))
    )
    report = verify(forged)
    s = sig_report(report)
    assert report.indication is not Indication.TOTAL_PASSED
    assert s.timestamp is not None and not s.timestamp.trusted and not s.timestamp.signature_ok
    assert s.validation_time != datetime(2026, 5, 1, tzinfo=UTC)
    assert any("changed after the TSA signed it" in p for p in s.timestamp.problems)


def test_signature_timestamp_imprint_rewritten() -> None:
    pdf = sample("good-b-lt.pdf")
    token = forge.signature_token(pdf)
    forged = forge.replace_signature_token(
        pdf, 0, forge.rewrite_tst_info(token, forge.set_imprint(b"\x11" * 32))
    )
    s = sig_report(verify(forged))
    assert s.timestamp is not None and not s.timestamp.trusted
    assert not s.timestamp.imprint_ok and not s.timestamp.signature_ok


def test_document_timestamp_imprint_rewritten_over_other_bytes() -> None:
    """The TSA never stamped these bytes: change a byte the document timestamp covers *and* set
    its imprint to the new ByteRange digest. Before, that passed: only the signature value was
    checked, not that it covered this TSTInfo."""
    pdf = sample("good-b-lta.pdf")
    slots = forge.contents_slots(pdf)
    doc_index = len(slots) - 1  # the document timestamp is the last signature in the file
    token = forge.read_cms(pdf, doc_index)
    # change one byte of the covered region that is not in the earlier signature's range:
    # the trailer comment area of the revision before the timestamp ("%%EOF" is covered)
    pos = pdf.rindex(b"/Type /DocTimeStamp")
    changed = bytearray(pdf)
    changed[pos + 1 : pos + 5] = b"Typf"  # /Type → /Typf, a covered byte outside any /Contents
    start, end = slots[doc_index]
    covered = bytes(changed[: start - 1]) + bytes(changed[end + 1 :])
    forged = forge.write_cms(
        bytes(changed),
        doc_index,
        forge.rewrite_tst_info(token, forge.set_imprint(hashlib.sha256(covered).digest())),
    )
    report = verify(forged)
    doc = [s for s in report.signatures if s.kind == "document-timestamp"][-1]
    assert doc.indication is Indication.TOTAL_FAILED
    assert doc.subindication is SubIndication.SIG_CRYPTO_FAILURE
    assert doc.integrity is not None and doc.integrity.intact and not doc.integrity.valid
    assert any("changed after the TSA signed it" in r for r in doc.reasons)
    assert report.indication is not Indication.TOTAL_PASSED


def test_tst_info_reencoded_with_an_extra_field() -> None:
    pdf = sample("good-b-lt.pdf")
    forged = forge.replace_signature_token(
        pdf, 0, forge.rewrite_tst_info(forge.signature_token(pdf), forge.add_field)
    )
    s = sig_report(verify(forged))
    assert s.timestamp is not None and not s.timestamp.trusted and not s.timestamp.signature_ok


def _tsa_cert() -> x509.Certificate:
    _, _, der = pem.unarmor((SAMPLES / "pki" / "certs" / "tsa.cert.pem").read_bytes())
    return x509.Certificate.load(der)


@pytest.mark.parametrize("cert_first", [True, False])
def test_injected_lookalike_certificate_resigning_the_token(cert_first: bool) -> None:
    """A second certificate in the bag — same issuer, serial and subject as the TSA's, the
    attacker's key — verifies a re-signed, back-dated TSTInfo. The TSA certificate is the one the
    ESS attribute names; a look-alike is not issued by the TSA CA, so nothing is trusted."""
    pdf = sample("revoked-before-timestamp.pdf")
    key, fake = forge.lookalike_key_and_cert(_tsa_cert())
    back = forge.set_gen_time(datetime(2026, 5, 1, tzinfo=UTC))
    forged = forge.replace_signature_token(
        pdf,
        0,
        forge.resign_token(
            forge.signature_token(pdf), back, key=key, cert=fake, cert_first=cert_first
        ),
    )
    report = verify(forged)
    s = sig_report(report)
    assert report.indication is not Indication.TOTAL_PASSED
    assert s.timestamp is not None and not s.timestamp.trusted


def test_resigned_token_naming_the_real_certificate_does_not_verify() -> None:
    """Re-signed with the attacker's key while the ESS attribute still names the real TSA
    certificate: the signature must be checked under that certificate, where it fails."""
    pdf = sample("revoked-before-timestamp.pdf")
    key, fake = forge.lookalike_key_and_cert(_tsa_cert())
    token = forge.resign_token(
        forge.signature_token(pdf),
        forge.set_gen_time(datetime(2026, 5, 1, tzinfo=UTC)),
        key=key,
        cert=fake,
        ess_names=_tsa_cert(),
    )
    signed_data = cms.ContentInfo.load(token)["content"]
    sig_value = forge.read_cms(pdf, 0)["content"]["signer_infos"][0]["signature"].native
    check = check_token(signed_data, lambda a: hashlib.new(a, sig_value).digest())
    assert check.imprint_ok and check.digest_ok and check.signer_identified
    assert check.tsa_cert is not None and check.tsa_cert.dump() == _tsa_cert().dump()
    assert not check.signature_ok and not check.bound
    report = verify(forge.replace_signature_token(pdf, 0, token))
    assert report.indication is not Indication.TOTAL_PASSED


def test_token_copied_from_another_signature() -> None:
    """A valid token, honestly signed by the TSA — over another signature's value."""
    donor = sample("revoked-after-timestamp.pdf")
    victim = sample("good-b-lt.pdf")
    token = forge.signature_token(donor)
    report = verify(forge.replace_signature_token(victim, 0, token.dump(force=True)))
    s = sig_report(report)
    assert s.timestamp is not None and not s.timestamp.imprint_ok and not s.timestamp.trusted
    assert report.indication is not Indication.TOTAL_PASSED


def _tsa_key():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(
        (SAMPLES / "pki" / "keys" / "tsa.key.pem").read_bytes(), password=None
    )


def _imprint_of(pdf: bytes):  # type: ignore[no-untyped-def]
    value = forge.read_cms(pdf, 0)["content"]["signer_infos"][0]["signature"].native
    return lambda algo: hashlib.new(algo, value).digest()


def test_resigning_with_the_real_tsa_key_is_bound() -> None:
    """The forger's construction is sound: re-signed with the TSA's own key (the sample's
    committed test key), naming the TSA certificate, the token is bound and the file passes.
    (So the failures above come from the forgery, not from the re-encoding.)"""
    pdf = sample("good-b-lt.pdf")
    token = forge.resign_token(
        forge.signature_token(pdf), forge.no_change, key=_tsa_key(), cert=_tsa_cert()
    )
    check = check_token(cms.ContentInfo.load(token)["content"], _imprint_of(pdf))
    assert check.bound, check.problems
    assert verify(forge.replace_signature_token(pdf, 0, token)).indication is (
        Indication.TOTAL_PASSED
    )


def test_token_without_ess_attribute_is_not_bound() -> None:
    """RFC 3161 §2.4.1: the TSA MUST name its certificate in an ESS signing-certificate
    attribute; without it "whichever certificate verifies" would be the TSA. Even signed with
    the real TSA key, such a token is refused."""
    pdf = sample("good-b-lt.pdf")
    token = forge.resign_token(
        forge.signature_token(pdf), forge.no_change, key=_tsa_key(), cert=_tsa_cert(), ess=False
    )
    check = check_token(cms.ContentInfo.load(token)["content"], _imprint_of(pdf))
    assert not check.bound and check.failure is SubIndication.NO_SIGNING_CERTIFICATE_FOUND
    s = sig_report(verify(forge.replace_signature_token(pdf, 0, token)))
    assert s.timestamp is None or not s.timestamp.trusted
