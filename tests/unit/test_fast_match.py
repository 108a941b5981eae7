"""ltv's serial-first certificate matching gives pyHanko's answers.

``ltv.evidence._crypto`` (issuer-serial, sid and ESS certificate-ID matching) and
``ltv.pipeline._embedded.certs_for_validation`` replace pyHanko's ``match_issuer_serial``,
``check_ess_certid`` and ``extract_certs_for_validation`` on the hot path (they compare the
serial before the RFC 4518-prepared names). The differential: every CMS signature and RFC 3161
token of the samples and the corpus, every certificate of each bag against every identifier,
and crafted identifiers for the cases the corpus lacks (names equal only after preparation,
same serial under another issuer, GeneralNames that are not one directoryName, a wrong hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import cms, tsp, x509
from pyhanko.sign.general import check_ess_certid, match_issuer_serial
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_certs_for_validation

from ltv.evidence._crypto import ess_certid_matches, issuer_serial_matches, sid_matches
from ltv.pipeline._embedded import certs_for_validation

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"


def _signed_datas() -> Iterator[tuple[str, cms.SignedData]]:
    """Every /Contents CMS of the sample and corpus PDFs, every token of the corpus."""
    import re

    pdfs = sorted(ROOT.glob("samples/*.pdf"))
    if CORPUS.is_dir():
        pdfs += sorted(CORPUS.glob("**/*.pdf"))
    pattern = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]{200,})>")
    for pdf in pdfs:
        for n, match in enumerate(pattern.finditer(pdf.read_bytes())):
            hexed = re.sub(rb"\s", b"", match.group(1))
            try:
                info = cms.ContentInfo.load(bytes.fromhex(hexed.decode().rstrip("0") + "00"))
                info = cms.ContentInfo.load(info.dump())  # trailing padding dropped
                if info["content_type"].native == "signed_data":
                    yield f"{pdf.name}#{n}", info["content"]
                    for signer_info in info["content"]["signer_infos"]:  # signature timestamps
                        for attr in signer_info["unsigned_attrs"] or []:
                            if attr["type"].native == "signature_time_stamp_token":
                                yield f"{pdf.name}#{n}-tst", attr["values"][0]["content"]
            except Exception:  # noqa: S112 - not CMS: nothing to compare
                continue
    for token in sorted(CORPUS.glob("tokens/*")) if CORPUS.is_dir() else []:
        try:
            info = cms.ContentInfo.load(token.read_bytes())
            if info["content_type"].native != "signed_data":
                info = tsp.TimeStampResp.load(token.read_bytes())["time_stamp_token"]
            _ = info["content"]["signer_infos"]
            yield token.name, info["content"]
        except Exception:  # noqa: S112
            continue


def _outcome(fn: object, signed_data: cms.SignedData) -> object:
    try:
        found = fn(signed_data)  # type: ignore[operator]
    except SignatureValidationError as err:
        return ("error", err.ades_subindication)
    return (
        found.signer_cert.dump(),
        [c.dump() for c in found.other_certs],
        [c.dump() for c in found.attribute_certs],
    )


SIGNED_DATAS = list(_signed_datas())


def test_the_corpus_gives_enough_cases() -> None:
    assert len(SIGNED_DATAS) >= 12


@pytest.mark.parametrize(("name", "signed_data"), SIGNED_DATAS, ids=[n for n, _ in SIGNED_DATAS])
def test_signer_certificate_as_pyhanko_finds_it(name: str, signed_data: cms.SignedData) -> None:
    assert _outcome(certs_for_validation, signed_data) == _outcome(
        extract_certs_for_validation, signed_data
    )
    certs = [c.chosen for c in signed_data["certificates"] if c.name == "certificate"]
    for signer_info in signed_data["signer_infos"]:
        sid = signer_info["sid"]
        attrs = signer_info["signed_attrs"]
        ess: list[object] = []
        for attr in attrs if isinstance(attrs, cms.CMSAttributes) else []:
            if attr["type"].native in ("signing_certificate", "signing_certificate_v2"):
                ess += list(attr["values"][0]["certs"])
        for cert in certs:
            if sid.name == "issuer_and_serial_number":
                assert sid_matches(sid, cert) == match_issuer_serial(sid.chosen, cert)
            for certid in ess:
                assert ess_certid_matches(cert, certid) == check_ess_certid(cert, certid)  # type: ignore[arg-type]


# -- crafted identifiers --------------------------------------------------------------------------


def _a_certificate() -> x509.Certificate:
    from samples import pki

    return pki.load_cert("signer-good")


def _reencoded(name: x509.Name, *, upper: bool) -> x509.Name:
    """The same name with every attribute as a UTF8String (and upper-cased): equal under RFC
    5280 §7.1 / RFC 4518, different as bytes."""
    rdns = []
    for rdn in name.chosen:
        atvs = []
        for atv in rdn:
            value = atv["value"].native
            if isinstance(atv["value"], x509.DirectoryString) and isinstance(value, str):
                value = value.upper() if upper else value
                atvs.append(
                    x509.NameTypeAndValue(
                        {"type": atv["type"], "value": x509.DirectoryString("utf8_string", value)}
                    )
                )
            else:
                atvs.append(atv)
        rdns.append(x509.RelativeDistinguishedName(atvs))
    return x509.Name.load(x509.Name(name="", value=x509.RDNSequence(rdns)).dump())


@pytest.mark.parametrize(
    "case", ["same", "prepared-equal", "other-serial", "other-issuer", "two-names", "uri"]
)
def test_crafted_issuer_serials(case: str) -> None:
    cert = _a_certificate()
    serial = cert.serial_number + (1 if case == "other-serial" else 0)
    issuer = cert.issuer
    if case == "prepared-equal":
        issuer = _reencoded(issuer, upper=True)
        assert issuer.dump() != cert.issuer.dump() and issuer == cert.issuer
    if case == "other-issuer":
        issuer = cert.subject
    expected = cms.IssuerAndSerialNumber({"issuer": issuer, "serial_number": serial})
    assert issuer_serial_matches(expected, cert) == match_issuer_serial(expected, cert)
    names = [x509.GeneralName("directory_name", issuer)]
    if case == "two-names":
        names.append(x509.GeneralName("directory_name", issuer))
    if case == "uri":
        names = [x509.GeneralName("uniform_resource_identifier", "https://ca.ltv.test/")]
    ess_issuer = tsp.IssuerSerial({"issuer": x509.GeneralNames(names), "serial_number": serial})
    assert issuer_serial_matches(ess_issuer, cert) == match_issuer_serial(ess_issuer, cert)
    for algo, good_hash in (
        ("sha256", hashlib.sha256(cert.dump()).digest()),
        ("sha256", b"\0" * 32),
        ("sha512", hashlib.sha512(cert.dump()).digest()),
    ):
        v2 = tsp.ESSCertIDv2(
            {
                "hash_algorithm": {"algorithm": algo},
                "cert_hash": good_hash,
                "issuer_serial": ess_issuer,
            }
        )
        assert ess_certid_matches(cert, v2) == check_ess_certid(cert, v2)
    v1 = tsp.ESSCertID(
        {"cert_hash": hashlib.sha1(cert.dump()).digest(), "issuer_serial": ess_issuer}  # noqa: S324
    )
    assert ess_certid_matches(cert, v1) == check_ess_certid(cert, v1)
    same = case in ("same", "prepared-equal", "two-names", "uri")
    assert issuer_serial_matches(expected, cert) is same
    assert issuer_serial_matches(ess_issuer, cert) is (case in ("same", "prepared-equal"))


def test_memoised_name_comparison_is_asn1cryptos() -> None:
    """Every pair of subject/issuer names of the corpus certificates (and re-encoded,
    upper-cased variants that are equal only after preparation), compared both ways."""
    from ltv.evidence._crypto import _same_name

    names: dict[bytes, x509.Name] = {}
    for _name, signed_data in SIGNED_DATAS:
        for choice in signed_data["certificates"] or []:
            if choice.name == "certificate":
                for name in (choice.chosen.subject, choice.chosen.issuer):
                    names.setdefault(name.dump(), name)
    variants = [_reencoded(n, upper=up) for n in list(names.values())[:20] for up in (False, True)]
    pool = list(names.values()) + variants
    assert len(pool) >= 40
    equal_pairs = 0
    for a in pool:
        for b in pool:
            try:
                expected = a == b
            except ValueError:
                with pytest.raises(ValueError):
                    _same_name(a, b)
                continue
            assert _same_name(a, b) == expected
            equal_pairs += expected and a.dump() != b.dump()
    assert equal_pairs >= 20  # the preparation path was exercised, not only identical bytes


def test_an_unpreparable_name_is_compared_as_asn1crypto_does() -> None:
    from ltv.evidence._crypto import _same_name, names_equal

    good = _a_certificate().issuer
    # a private-use character is prohibited by RFC 4518 §2.4: asn1crypto's preparation refuses
    # it, but only when the comparison gets that far (same RDN count and types)
    bad = x509.Name.build({"common_name": "ltv\ue000"})
    with pytest.raises(ValueError):
        _ = bad == x509.Name.build({"common_name": "other"})
    with pytest.raises(ValueError):
        _same_name(bad, x509.Name.build({"common_name": "other"}))
    two = x509.Name.build({"common_name": "ltv\ue000", "organization_name": "x"})
    assert (two == x509.Name.build({"common_name": "other"})) is False
    assert _same_name(two, x509.Name.build({"common_name": "other"})) is False
    assert names_equal(bad, good) is False  # ltv: only identical encodings then
    assert names_equal(bad, x509.Name.load(bad.dump())) is True
