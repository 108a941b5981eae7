"""Trusted lists for the sample PKI, made and signed by the tests themselves.

ETSI TS 119 612 XML (the namespaces and element order of the EU lists) built with lxml and
signed with signxml's ``XAdESSigner`` (enveloped XAdES, exclusive c14n, ECDSA-SHA256) by a
test "LOTL signer" / "TL signer" key made here (EC P-256, self-signed). Nothing is mocked: ltv
verifies these signatures and parses these lists exactly as it does the EU's.

Also: signer certificates with QC statements (ETSI EN 319 412-5), issued by the sample
``interm`` CA with its committed key, and PAdES signatures with them at a fixed genTime.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# asn1crypto.tsp adds the tst_info content type to cms.ContentType, whose reverse map is built
# at the first ContentType made: import it before any (DummyTimeStamper needs "tst_info")
import asn1crypto.tsp  # noqa: F401

TSL = "http://uri.etsi.org/02231/v2#"
ECC = "http://uri.etsi.org/TrstSvc/SvcInfoExt/eSigDir-1999-93-EC-TrustedList/#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
ADDT = "http://uri.etsi.org/02231/v2/additionaltypes#"
SVCTYPE = "http://uri.etsi.org/TrstSvc/Svctype/"
STATUS = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/"
SIE = "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/"
RULES = "http://uri.etsi.org/TrstSvc/TrustedList/schemerules/"
TSLTYPE = "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/"
TSL_MIME = "application/vnd.etsi.tsl+xml"

POLICY_QSCD = "1.3.6.1.4.1.55555.1.1"
"""Certificate policy the test CA/QC service marks QCWithQSCD."""
POLICY_NO_QSCD = "1.3.6.1.4.1.55555.1.2"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# -- keys and certificates -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeyPair:
    key: Any
    cert_der: bytes

    @property
    def cert_pem(self) -> bytes:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        return x509.load_der_x509_certificate(self.cert_der).public_bytes(Encoding.PEM)

    def asn1(self) -> Any:
        from asn1crypto import x509

        return x509.Certificate.load(self.cert_der)


_SIGNERS_FROM = datetime(2019, 1, 1, tzinfo=UTC)
_QC_FROM = datetime(2025, 1, 1, tzinfo=UTC)


def list_signer(cn: str, not_before: datetime = _SIGNERS_FROM, years: int = 21) -> KeyPair:
    """A self-signed EC P-256 certificate for signing lists."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ltv tests"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ZZ"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before.replace(year=not_before.year + years))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, cert.public_bytes(Encoding.DER))


def qc_statements_der(*, qc_type: str = "qct_esign", sscd: bool = False) -> bytes:
    """QCStatements (RFC 3739 / ETSI EN 319 412-5): QcCompliance, QcType, optionally QcSSCD."""
    from pyhanko.sign.ades import qualified_asn1 as qa

    statements = [
        {"statement_id": "qc_compliance"},
        {"statement_id": "qc_type", "statement_info": qa.QcCertificateType([qc_type])},
    ]
    if sscd:
        statements.append({"statement_id": "qc_sscd"})
    return bytes(qa.QcStatements(statements).dump())


def qc_signer(
    cn: str,
    *,
    policy: str,
    qc: bool = True,
    qc_type: str = "qct_esign",
    sscd: bool = False,
    not_before: datetime = _QC_FROM,
) -> KeyPair:
    """An end-entity certificate issued by the sample ``interm`` CA (its committed key), with
    the sample signers' profile (CRL DP, OCSP and caIssuers) plus a certificate policy and,
    when ``qc``, QC statements."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

    import samples.pki as pki

    issuer_cert = x509.load_pem_x509_certificate(pki.cert_path("interm").read_bytes())
    issuer_key = serialization.load_pem_private_key(
        pki.key_path("interm").read_bytes(), password=None
    )
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, cn),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ltv tests"),
                ]
            )
        )
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(utc(2030, 1, 1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()),  # type: ignore[arg-type]
            False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(pki.CRL_INTERM_URL)], None, None, None
                    )
                ]
            ),
            False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(pki.INTERM_CERT_URL),
                    )
                ]
            ),
            False,
        )
        .add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(ObjectIdentifier(policy), None)]),
            False,
        )
    )
    if qc:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                ObjectIdentifier("1.3.6.1.5.5.7.1.3"), qc_statements_der(qc_type=qc_type, sscd=sscd)
            ),
            False,
        )
    cert = builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    return KeyPair(key, cert.public_bytes(Encoding.DER))


# -- lists ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    status: str
    """Short status: granted, withdrawn, undersupervision..."""
    since: datetime


@dataclass(frozen=True)
class Qual:
    qualifiers: tuple[str, ...]
    policies: tuple[str, ...]
    """Criteria: atLeastOne of these certificate policies."""


@dataclass(frozen=True)
class Svc:
    name: str
    type: str
    """Short type: CA/QC, TSA/QTST, CA/PKC..."""
    certs: tuple[bytes, ...]
    history: tuple[Status, ...]
    """Oldest first; the last one is the current status."""
    quals: tuple[Qual, ...] = ()
    additional: tuple[str, ...] = ()
    """Short AdditionalServiceInformation names: ForeSignatures, ForeSeals..."""
    critical_unknown: bool = False


@dataclass(frozen=True)
class Tsp:
    name: str
    services: tuple[Svc, ...]


@dataclass(frozen=True)
class Ptr:
    territory: str
    location: str
    signers: tuple[bytes, ...]
    lotl: bool = False


def _e(parent: Any, ns: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    from lxml import etree

    el = etree.SubElement(parent, f"{{{ns}}}{tag}", **attrs)
    if text is not None:
        el.text = text
    return el


def _name(parent: Any, tag: str, text: str) -> None:
    holder = _e(parent, TSL, tag)
    _e(holder, TSL, "Name", text, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})


def _uri_list(parent: Any, tag: str, uris: Sequence[str]) -> None:
    holder = _e(parent, TSL, tag)
    for uri in uris:
        _e(holder, TSL, "URI", uri, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sdi(parent: Any, tag: str, certs: Sequence[bytes]) -> None:
    sdi = _e(parent, TSL, tag)
    for der in certs:
        digital_id = _e(sdi, TSL, "DigitalId")
        _e(digital_id, TSL, "X509Certificate", base64.b64encode(der).decode())


def _service_info(parent: Any, tag: str, svc: Svc, status: Status) -> None:
    info = _e(parent, TSL, tag)
    _e(info, TSL, "ServiceTypeIdentifier", SVCTYPE + svc.type)
    _name(info, "ServiceName", svc.name)
    _sdi(info, "ServiceDigitalIdentity", svc.certs)
    _e(info, TSL, "ServiceStatus", STATUS + status.status)
    _e(info, TSL, "StatusStartingTime", _iso(status.since))
    if not (svc.quals or svc.additional or svc.critical_unknown):
        return
    exts = _e(info, TSL, "ServiceInformationExtensions")
    for add in svc.additional:
        ext = _e(exts, TSL, "Extension", Critical="true")
        asi = _e(ext, TSL, "AdditionalServiceInformation")
        _e(asi, TSL, "URI", SIE + add, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})
    if svc.quals:
        ext = _e(exts, TSL, "Extension", Critical="true")
        quals = _e(ext, ECC, "Qualifications")
        for q in svc.quals:
            element = _e(quals, ECC, "QualificationElement")
            qualifiers = _e(element, ECC, "Qualifiers")
            for name in q.qualifiers:
                _e(qualifiers, ECC, "Qualifier", uri=SIE + name)
            crit = _e(element, ECC, "CriteriaList", **{"assert": "atLeastOne"})
            for oid in q.policies:
                ps = _e(crit, ECC, "PolicySet")
                pid = _e(ps, ECC, "PolicyIdentifier")
                _e(pid, XADES, "Identifier", oid)
    if svc.critical_unknown:
        ext = _e(exts, TSL, "Extension", Critical="true")
        _e(ext, "urn:ltv:test", "SomethingNobodyKnows", "x")


def build_list(
    *,
    territory: str,
    sequence: int,
    issued: datetime,
    next_update: datetime,
    tsps: Sequence[Tsp] = (),
    pointers: Sequence[Ptr] = (),
    lotl: bool = False,
) -> Any:
    """An unsigned list (lxml root element)."""
    from lxml import etree

    nsmap = {"tsl": TSL, "ecc": ECC, "xades": XADES, "addt": ADDT}
    root = etree.Element(
        f"{{{TSL}}}TrustServiceStatusList",
        nsmap=nsmap,
        Id="TrustServiceStatusList",
        TSLTag="http://uri.etsi.org/19612/TSLTag",
    )
    info = _e(root, TSL, "SchemeInformation")
    _e(info, TSL, "TSLVersionIdentifier", "5")
    _e(info, TSL, "TSLSequenceNumber", str(sequence))
    _e(info, TSL, "TSLType", TSLTYPE + ("EUlistofthelists" if lotl else "EUgeneric"))
    _name(info, "SchemeOperatorName", f"ltv test scheme operator {territory}")
    _name(info, "SchemeName", f"{territory}: ltv test trusted list")
    _uri_list(info, "SchemeInformationURI", [f"http://tl.ltv.test/{territory}/info"])
    _e(
        info,
        TSL,
        "StatusDeterminationApproach",
        "http://uri.etsi.org/TrstSvc/TrustedList/StatusDetn/EUappropriate",
    )
    _uri_list(
        info,
        "SchemeTypeCommunityRules",
        [RULES + ("EUlistofthelists" if lotl else "EUcommon")],
    )
    _e(info, TSL, "SchemeTerritory", territory)
    _e(info, TSL, "HistoricalInformationPeriod", "65535")
    if pointers:
        holder = _e(info, TSL, "PointersToOtherTSL")
        for p in pointers:
            ptr = _e(holder, TSL, "OtherTSLPointer")
            sdis = _e(ptr, TSL, "ServiceDigitalIdentities")
            _sdi(sdis, "ServiceDigitalIdentity", p.signers)
            _e(ptr, TSL, "TSLLocation", p.location)
            add = _e(ptr, TSL, "AdditionalInformation")
            other = _e(add, TSL, "OtherInformation")
            _e(other, TSL, "TSLType", TSLTYPE + ("EUlistofthelists" if p.lotl else "EUgeneric"))
            other = _e(add, TSL, "OtherInformation")
            _name(other, "SchemeOperatorName", f"ltv test scheme operator {p.territory}")
            other = _e(add, TSL, "OtherInformation")
            _uri_list(
                other,
                "SchemeTypeCommunityRules",
                [RULES + ("EUlistofthelists" if p.lotl else "EUcommon")],
            )
            other = _e(add, TSL, "OtherInformation")
            _e(other, TSL, "SchemeTerritory", p.territory)
            other = _e(add, TSL, "OtherInformation")
            _e(other, ADDT, "MimeType", TSL_MIME)
    _e(info, TSL, "ListIssueDateTime", _iso(issued))
    nu = _e(info, TSL, "NextUpdate")
    _e(nu, TSL, "dateTime", _iso(next_update))
    if tsps:
        tspl = _e(root, TSL, "TrustServiceProviderList")
        for tsp in tsps:
            t = _e(tspl, TSL, "TrustServiceProvider")
            tinfo = _e(t, TSL, "TSPInformation")
            _name(tinfo, "TSPName", tsp.name)
            services = _e(t, TSL, "TSPServices")
            for svc in tsp.services:
                s = _e(services, TSL, "TSPService")
                _service_info(s, "ServiceInformation", svc, svc.history[-1])
                if len(svc.history) > 1:
                    hist = _e(s, TSL, "ServiceHistory")
                    for status in reversed(svc.history[:-1]):
                        _service_info(hist, "ServiceHistoryInstance", svc, status)
    return root


def sign_list(root: Any, signer: KeyPair) -> bytes:
    """Enveloped XAdES signature over the whole list (Reference URI ""), as the EU lists."""
    from lxml import etree
    from signxml import DigestAlgorithm, SignatureMethod
    from signxml.algorithms import CanonicalizationMethod
    from signxml.xades.xades import XAdESSigner

    # (C14N 1.1: signxml 5.2 does not verify its own exclusive-c14n XAdES output, whose
    # SignedProperties digest then mismatches; the EU's exc-c14n lists verify fine)
    signed = XAdESSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1,
    ).sign(root, key=signer.key, cert=[signer.cert_pem.decode()])
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


def make_list(signer: KeyPair, **kwargs: Any) -> bytes:
    return sign_list(build_list(**kwargs), signer)


# -- the sample PKI's trusted lists --------------------------------------------------------------

CA_WITHDRAWN = utc(2026, 5, 1)
"""The intermediate CA's CA/QC service is withdrawn on this date (list #2)."""
TSA_WITHDRAWN = utc(2026, 7, 1)
"""The TSA's TSA/QTST service is withdrawn on this date (list #2)."""
GRANTED = utc(2020, 1, 1)


def pem_der(label: str) -> bytes:
    from asn1crypto import pem

    import samples.pki as pki

    _, _, der = pem.unarmor(pki.cert_path(label).read_bytes())
    return bytes(der)


def sample_services(*, withdrawn: bool, ca_type: str = "CA/QC") -> tuple[Tsp, ...]:
    """The sample PKI as a QTSP: ``interm`` as a CA/QC service (QCWithQSCD for certificates
    with POLICY_QSCD), ``tsa`` as a TSA/QTST. ``withdrawn``: the state of list #2."""
    ca_hist = [Status("granted", GRANTED)]
    tsa_hist = [Status("granted", GRANTED)]
    if withdrawn:
        ca_hist.append(Status("withdrawn", CA_WITHDRAWN))
        tsa_hist.append(Status("withdrawn", TSA_WITHDRAWN))
    return (
        Tsp(
            "ltv Sample QTSP",
            (
                Svc(
                    "ltv Sample Qualified CA",
                    ca_type,
                    (pem_der("interm"),),
                    tuple(ca_hist),
                    quals=(Qual(("QCWithQSCD",), (POLICY_QSCD,)),),
                    additional=("ForeSignatures", "ForeSeals"),
                ),
                Svc("ltv Sample Qualified TSA", "TSA/QTST", (pem_der("tsa"),), tuple(tsa_hist)),
            ),
        ),
    )


LOTL_URL = "http://tl.ltv.test/lotl.xml"
ZZ_URL = "http://tl.ltv.test/zz.xml"


@dataclass
class TestLists:
    """A LOTL naming the ZZ list's signer, and two issues of the ZZ list."""

    lotl_signer: KeyPair
    tl_signer: KeyPair
    lotl: bytes
    zz1: bytes
    """#1, 2026-01-15: both services granted since 2020."""
    zz2: bytes
    """#2, 2026-09-01: CA withdrawn since 2026-05-01, TSA since 2026-07-01."""
    extra: dict[str, bytes] = field(default_factory=dict)

    def write(self, directory: Path) -> dict[str, Path]:
        out = {}
        for name, data in {"lotl": self.lotl, "zz1": self.zz1, "zz2": self.zz2}.items():
            path = directory / f"{name}.xml"
            path.write_bytes(data)
            out[name] = path
        signer = directory / "lotl-signer.pem"
        signer.write_bytes(self.lotl_signer.cert_pem)
        out["lotl-signer"] = signer
        return out


def make_test_lists() -> TestLists:
    lotl_signer = list_signer("ltv test LOTL signer")
    tl_signer = list_signer("ltv test ZZ list signer")
    lotl = make_list(
        lotl_signer,
        territory="EU",
        sequence=7,
        issued=utc(2026, 1, 10),
        next_update=utc(2026, 7, 10),
        lotl=True,
        pointers=(
            Ptr("EU", LOTL_URL, (lotl_signer.cert_der,), lotl=True),
            Ptr("ZZ", ZZ_URL, (tl_signer.cert_der,)),
        ),
    )
    zz1 = make_list(
        tl_signer,
        territory="ZZ",
        sequence=1,
        issued=utc(2026, 1, 15),
        next_update=utc(2026, 12, 31),
        tsps=sample_services(withdrawn=False),
    )
    zz2 = make_list(
        tl_signer,
        territory="ZZ",
        sequence=2,
        issued=utc(2026, 9, 1),
        next_update=utc(2027, 3, 1),
        tsps=sample_services(withdrawn=True),
    )
    return TestLists(lotl_signer, tl_signer, lotl, zz1, zz2)


# -- signed PDFs ---------------------------------------------------------------------------------


def sign_pdf(signer: KeyPair, tmp: Path, *, tst_time: datetime, field_name: str = "Sig1") -> bytes:
    """PAdES B-T by ``signer`` (issued by interm) with a DummyTimeStamper token (sample TSA key)
    at ``tst_time``."""
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    import samples.pki as pki
    from tests.unit.pipeline.fixtures import _tsa, unsigned_pdf

    key_file = tmp / f"{field_name}-{tst_time:%Y%m%d}.key.pem"
    cert_file = tmp / f"{field_name}-{tst_time:%Y%m%d}.cert.pem"
    key_file.write_bytes(
        signer.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(signer.cert_pem)
    simple = signers.SimpleSigner.load(
        str(key_file),
        str(cert_file),
        ca_chain_files=[str(pki.cert_path("interm")), str(pki.cert_path("root"))],
    )
    assert simple is not None
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = signers.PdfSigner(meta, simple, timestamper=_tsa(tst_time)).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(unsigned_pdf()))
    )
    return bytes(out.getvalue())


def add_evidence(data: bytes, crl: bytes, ocsps: Sequence[bytes], certs: Sequence[bytes]) -> bytes:
    """DSS with the chain certificates, the interm CRL (evidence for the QC signers) and OCSP
    responses for interm and tsa (needed when the chains go up to the PKI's roots)."""
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import x509
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    buf = io.BytesIO(data)
    DocumentSecurityStore.add_dss(
        buf,
        None,
        certs=[x509.Certificate.load(c) for c in certs],
        crls=[asn1_crl.CertificateList.load(crl)],
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps],
    )
    return buf.getvalue()


T_BEFORE = utc(2026, 3, 1, 12)
"""genTime before both withdrawals: CA and TSA granted."""
T_AFTER_CA = utc(2026, 6, 1, 12)
"""genTime after the CA's withdrawal (2026-05-01), before the TSA's (2026-07-01)."""
T_AFTER_TSA = utc(2026, 8, 1, 12)
"""genTime after the TSA's withdrawal."""
NOW = utc(2026, 12, 1)
"""The 'now' of the verification tests."""


@dataclass(frozen=True)
class Docs:
    qes: bytes
    """QC signer (QcCompliance, QcType esign) with POLICY_QSCD, TST at T_BEFORE: QES."""
    ades_qc: bytes
    """QC signer with POLICY_NO_QSCD (no QSCD qualifier, no QcSSCD), TST at T_BEFORE."""
    not_qc: bytes
    """A signer without QC statements (POLICY_QSCD), TST at T_BEFORE: AdES."""
    seal: bytes
    """QC signer, QcType eseal, POLICY_QSCD, TST at T_BEFORE: QSeal."""
    after_ca: bytes
    """The QES signer, TST at T_AFTER_CA."""
    after_tsa: bytes
    """The QES signer, TST at T_AFTER_TSA."""


_DOCS: list[Docs] = []


def get_docs(server: Any, tmp: Path) -> Docs:
    """Signed B-LT PDFs (DSS: chain, the interm CRL and OCSP for interm and tsa, fetched from
    the loopback PKI just after genTime), built once per session."""
    if _DOCS:
        return _DOCS[0]
    import samples.pki as pki
    from ltv.evidence.crl import fetch_crl
    from ltv.evidence.http import HttpClient
    from ltv.evidence.ocsp import fetch_ocsp

    def evidence_at(at: datetime) -> tuple[bytes, list[bytes]]:
        server.freeze(at)
        try:
            client = HttpClient(timeout=10, connect_to=server.connect_to)
            ocsps = []
            for leaf, issuer in (("interm", "root"), ("tsa", "tsa-root")):
                outcome = fetch_ocsp(client, pki.load_cert(leaf), pki.load_cert(issuer))
                assert outcome.raw is not None, outcome
                ocsps.append(outcome.raw)
            return fetch_crl(client, pki.CRL_INTERM_URL), ocsps
        finally:
            server.freeze(None)

    signers = {
        "qes": qc_signer("ltv QC signer (QSCD policy)", policy=POLICY_QSCD),
        "ades_qc": qc_signer("ltv QC signer (no QSCD)", policy=POLICY_NO_QSCD),
        "not_qc": qc_signer("ltv signer without QC statements", policy=POLICY_QSCD, qc=False),
        "seal": qc_signer("ltv QC seal", policy=POLICY_QSCD, qc_type="qct_eseal"),
    }
    chain = [pem_der("interm"), pem_der("root"), pem_der("tsa"), pem_der("tsa-root")]
    out: dict[str, bytes] = {}
    for name, signer_name, when in (
        ("qes", "qes", T_BEFORE),
        ("ades_qc", "ades_qc", T_BEFORE),
        ("not_qc", "not_qc", T_BEFORE),
        ("seal", "seal", T_BEFORE),
        ("after_ca", "qes", T_AFTER_CA),
        ("after_tsa", "qes", T_AFTER_TSA),
    ):
        signer = signers[signer_name]
        pdf = sign_pdf(signer, tmp, tst_time=when, field_name=f"Sig-{name}")
        crl, ocsps = evidence_at(when.replace(minute=1))
        out[name] = add_evidence(pdf, crl, ocsps, [signer.cert_der, *chain])
    _DOCS.append(Docs(**out))
    return _DOCS[0]
