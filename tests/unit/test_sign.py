"""ltv.sign and ltv.output: PAdES levels against the live loopback PKI, then checked offline.

The module fixture ``signed`` starts its *own* PkiServer, signs at every level, and stops the
server before any assertion about the outputs is made: whatever the checks below find, they
find in the files alone (LOCAL_ONLY fetching in pyHanko, no client in ltv).
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl

from ltv.certs import to_pem
from ltv.errors import InputError, PolicyError, SigningError, UsageError
from ltv.evidence.gather import build_chain
from ltv.evidence.http import HttpClient, HttpError, HttpResponse
from ltv.extend import Extender
from ltv.output import check_output_path, same_file, write_atomic
from ltv.sign import PadesLevel, Signer, SigningPolicy
from samples import pki
from samples.make_samples import make_unsigned_pdf
from samples.pki.server import PkiServer

UNSIGNED = make_unsigned_pdf()
TSA_URL = pki.TSA_URL
CA_OCSP_URLS = frozenset({pki.OCSP_ROOT_URL, pki.OCSP_TSA_ROOT_URL})
ANCHORS = [pki.ROOT_CERT, pki.TSA_ROOT_CERT]
"""What extend verifies against first (the signer's and the TSA's roots)."""


class BlockingTransport:
    """An HttpClient wrapper that refuses some URLs (as if that responder were down)."""

    def __init__(self, inner: HttpClient, blocked_prefixes: frozenset[str]) -> None:
        self.inner = inner
        self.blocked = blocked_prefixes

    @property
    def exchanges(self) -> tuple[Any, ...]:
        return self.inner.exchanges

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        if any(url.startswith(p) for p in self.blocked):
            raise HttpError("refused", url)
        return self.inner.request(method, url, body=body, headers=headers, timeout=timeout)


def make_signer(
    network: Any, level: str = "B-LTA", label: str = "signer-good", **kw: Any
) -> Signer:
    return Signer.from_pkcs12(
        pki.p12_path(label),
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel(level), tsa_url=None if level == "B-B" else TSA_URL),
        network=network,
        chain=[pki.TSA_ROOT_CERT],
        **kw,
    )


RENEWED_AFTER = timedelta(days=3)
"""When the fixture renews the B-LTA output: the sample OCSP answers are valid one day, so by
then the evidence embedded at signing time is stale and only proofs of existence carry it."""


@dataclass
class Signed:
    outputs: dict[str, bytes]
    crl_variant: dict[str, bytes]
    renewed: bytes
    """``outputs["B-LTA"]`` extended at ``signed_at + RENEWED_AFTER`` (server clock frozen)."""
    signed_at: datetime
    server: PkiServer


@pytest.fixture(scope="module")
def signed() -> Iterator[Signed]:
    server = PkiServer(port=0).start()
    try:
        client = HttpClient(connect_to=server.connect_to, timeout=5)
        at = datetime.now(UTC).replace(microsecond=0)
        outputs = {
            lv.value: make_signer(client, lv.value).sign(UNSIGNED, field="Sig", at=at)
            for lv in PadesLevel
        }
        # Same, with the CA responders (root, tsa-root) down: OCSP unusable -> CRL fallback.
        blocking = BlockingTransport(client, CA_OCSP_URLS)
        crl_variant = {
            lv: make_signer(blocking, lv).sign(UNSIGNED, field="Sig", at=at)
            for lv in ("B-LT", "B-LTA")
        }
        crl_variant["extended"] = Extender(tsa_url=TSA_URL, network=blocking, trust=ANCHORS).extend(
            crl_variant["B-LTA"], at=at
        )
        # The archive's renewal, three days on.
        server.freeze(at + RENEWED_AFTER)
        renewed = Extender(tsa_url=TSA_URL, network=client, trust=ANCHORS).extend(
            outputs["B-LTA"], at=at + RENEWED_AFTER
        )
    finally:
        server.stop()
    yield Signed(outputs, crl_variant, renewed, at, server)


# -- offline inspection helpers ----------------------------------------------------------------


def dss_contents(pdf: bytes) -> tuple[list[Any], list[bytes], list[bytes]]:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = PdfFileReader(io.BytesIO(pdf))
    dss = DocumentSecurityStore.read_dss(reader)
    certs = list(dss.load_certs())
    ocsps = [ref.get_object().data for ref in dss.ocsps]
    crls = [ref.get_object().data for ref in dss.crls]
    return certs, ocsps, crls


def evidence_status(pdf: bytes, label: str, issuer: str) -> str | None:
    """What the DSS (alone) says about certificate ``label``: via OCSP, else CRL."""
    from ltv.evidence.crl import check_crl
    from ltv.evidence.ocsp import check_ocsp_response

    cert, iss = pki.load_cert(label), pki.load_cert(issuer)
    _, ocsps, crls = dss_contents(pdf)
    for der in ocsps:
        outcome = check_ocsp_response(der, cert, iss)
        if outcome.ok:
            return f"ocsp:{outcome.status.value}"
    for der in crls:
        outcome = check_crl(der, cert, iss)
        if outcome.ok:
            return f"crl:{outcome.status.value}"
    return None


def ades(pdf: bytes, when: datetime) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        CertificateFetchingRule,
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    reader = PdfFileReader(io.BytesIO(pdf))
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(
            trust_roots=[pki.load_cert("root"), pki.load_cert("tsa-root")]
        ),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
            ),
        )
    )
    timing = ValidationTimingInfo(
        validation_time=when, best_signature_time=when, point_in_time_validation=True
    )
    sig = reader.embedded_regular_signatures[0]
    return asyncio.run(ades_lta_validation(sig, spec, timing_info=timing))


def count_doc_timestamps(pdf: bytes) -> int:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return len(PdfFileReader(io.BytesIO(pdf)).embedded_timestamp_signatures)


# -- levels ------------------------------------------------------------------------------------


def test_every_level_is_an_incremental_update_of_the_input(signed: Signed) -> None:
    for level, data in signed.outputs.items():
        assert data.startswith(UNSIGNED), level
    assert count_doc_timestamps(signed.outputs["B-LT"]) == 0
    assert count_doc_timestamps(signed.outputs["B-LTA"]) == 1


def test_b_b_has_no_timestamp_and_b_t_has_a_sha256_signature_timestamp(signed: Signed) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    def tokens(pdf: bytes) -> list[Any]:
        sig = PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures[0]
        assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
        return list(extract_tst_data_iter(sig.signer_info, signed=False))

    assert tokens(signed.outputs["B-B"]) == []
    (tst,) = tokens(signed.outputs["B-T"])
    imprint = tst["encap_content_info"]["content"].parsed["message_imprint"]
    assert imprint["hash_algorithm"]["algorithm"].native == "sha256"


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_dss_holds_evidence_for_signer_intermediate_and_tsa(signed: Signed, level: str) -> None:
    data = signed.outputs[level]
    assert evidence_status(data, "signer-good", "interm") == "ocsp:good"
    assert evidence_status(data, "interm", "root") == "ocsp:good"
    assert evidence_status(data, "tsa", "tsa-root") == "ocsp:good"
    certs, _, _ = dss_contents(data)
    subjects = {c.subject.native["common_name"] for c in certs}
    assert {"Signer Good", "ltv Sample Intermediate CA", "ltv Sample Time Stamping Authority"} <= (
        subjects
    )


def test_dss_has_a_vri_entry_for_the_signature(signed: Signed) -> None:
    import hashlib

    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(signed.outputs["B-LT"]))
    sig = reader.embedded_regular_signatures[0]
    key = "/" + hashlib.sha1(sig.pkcs7_content).hexdigest().upper()  # noqa: S324 - PAdES VRI key
    vri = reader.root["/DSS"]["/VRI"]
    assert key in vri
    assert len(vri[key]["/OCSP"]) >= 3


def test_crl_is_used_when_ocsp_is_unusable(signed: Signed) -> None:
    data = signed.crl_variant["B-LT"]
    assert evidence_status(data, "signer-good", "interm") == "ocsp:good"
    assert evidence_status(data, "interm", "root") == "crl:good"
    assert evidence_status(data, "tsa", "tsa-root") == "crl:good"


def test_pyhanko_offline_ades_accepts_b_lt(signed: Signed) -> None:
    """B-LT: the strongest verdict ``ades_lta_validation`` can give without a document timestamp.

    What B-LT *can* get (EN 319 102-1 §5.5, validation with time): at a validation time inside
    the embedded evidence's validity window (the sample OCSP answers are valid one day) the
    signature is intact, valid and trusted from the DSS alone, and its signature timestamp is
    validated and trusted too: ``api_status.bottom_line``.

    What it *cannot* get: ``ades_subindic`` OK. pyHanko always runs past signature validation
    (§5.6.2.4) in the LTA process; the time slide moves the control time back to the OCSP
    answers' thisUpdate (≈ the signing time), and then needs a proof of existence of the
    certificates and revocation data *before* that time. The signature timestamp proves only
    the signature value; DSS material gets its POE from a document timestamp, which B-LT does
    not have, so the POE is the validation time itself: NO_POE ("Unable to construct plausible
    past validation path"). Once the evidence expires (here after a day) even the current-time
    validation fails offline: that is what B-LTA and renewal are for (next test).
    """
    result = ades(signed.outputs["B-LT"], signed.signed_at + timedelta(minutes=5))
    status = result.api_status
    assert status.bottom_line, result.failure_msg
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert result.ades_subindic.name == "NO_POE"
    assert "past validation" in (result.failure_msg or "")
    stale = ades(signed.outputs["B-LT"], signed.signed_at + RENEWED_AFTER)
    assert not stale.api_status.bottom_line


def test_pyhanko_offline_ades_passes_b_lta_with_crl_evidence_for_cas(signed: Signed) -> None:
    """Validated a few minutes after signing — but never after the embedded CRLs' nextUpdate:
    the sample CRLs are issued daily at 00:00 UTC, so a document signed at 23:57 carries CRLs
    that lapse at 00:00, and pyHanko's LTA validation of a B-LTA (one document timestamp, at
    signing time) at 00:02 is NO_POE by design: the evidence lapsed and nothing renewed it.
    (That made this test fail whenever its fixture signed in the last five minutes of a UTC
    day.) The extended document is held to the same moment."""
    for name in ("B-LTA", "extended"):
        pdf = signed.crl_variant[name]
        _, _, crls = dss_contents(pdf)
        assert crls
        lapse = min(
            crl.CertificateList.load(der)["tbs_cert_list"]["next_update"].native for der in crls
        )
        when = min(signed.signed_at + timedelta(minutes=5), lapse - timedelta(seconds=1))
        result = ades(pdf, when)
        assert result.ades_subindic.name == "OK", (name, when, result.failure_msg)
        assert result.api_status.bottom_line


def test_pyhanko_offline_ades_passes_b_lta(signed: Signed) -> None:
    """B-LTA and its renewal pass pyHanko's LTA validation (EN 319 102-1 §5.6.3) offline.

    The OCSP answers for ``interm`` and ``tsa`` come from the roots' *delegated* responders
    (``root-ocsp``, ``tsa-root-ocsp``: id-kp-OCSPSigning + ocsp-nocheck). With issuer-signed
    root answers pyhanko-certvalidator 0.33 fails here with NO_POE: its past-validation
    provenance path for a response signed by a trust anchor is [anchor -> anchor]
    (``_delegated_ocsp_response_path``), and the time slide then asks for revocation data
    *for the root* (see samples/pki/README.md).
    """
    result = ades(signed.outputs["B-LTA"], signed.signed_at + timedelta(minutes=5))
    assert result.ades_subindic.name == "OK", result.failure_msg
    assert result.api_status.bottom_line
    assert result.oldest_evidence_record_timestamp is not None
    # The newest document timestamp is validated at the validation time, so its TSA's
    # evidence must be fresh then: three days on, the original B-LTA is stale offline ...
    stale = ades(signed.outputs["B-LTA"], signed.signed_at + RENEWED_AFTER + timedelta(minutes=5))
    assert stale.ades_subindic.name != "OK"
    # ... and the renewed file passes on proofs of existence alone: the first document
    # timestamp vouches for the stale signing-time evidence (past validation, §5.6.2.4).
    renewed = ades(signed.renewed, signed.signed_at + RENEWED_AFTER + timedelta(minutes=5))
    assert renewed.ades_subindic.name == "OK", renewed.failure_msg
    assert renewed.api_status.bottom_line
    assert renewed.failure_msg is None  # past validation succeeded, not merely skipped


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "needle"),
    [
        ("signer-revoked", "revoked (revoked at 2026-06-01T00:00:00Z, key_compromise)"),
        ("signer-unknown", f"OCSP {pki.OCSP_UNKNOWN_URL}: unknown"),
        ("signer-refused", f"OCSP {pki.OCSP_REFUSED_URL}: offline (refused)"),
        ("signer-slow", f"OCSP {pki.OCSP_SLOW_URL}: offline (timeout)"),
    ],
)
def test_bad_evidence_refuses_before_the_timestamp(
    pki_server: PkiServer, label: str, needle: str
) -> None:
    pki_server.slow_seconds = 5
    client = HttpClient(connect_to=pki_server.connect_to, timeout=0.5, retries=0)
    with pytest.raises(SigningError) as info:
        make_signer(client, "B-LT", label).sign(UNSIGNED)
    message = info.value.diagnostics()
    assert needle in message
    assert f"CN={label.replace('signer-', 'Signer ').title()}" in message.replace("Http500", "")
    assert "\n" not in message
    # fail fast: the TSA was never asked
    assert not [e for e in client.exchanges if "/tsa/" in e.url]


def test_expired_signer_is_refused_at_any_level(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    with pytest.raises(SigningError, match="is expired at"):
        make_signer(client, "B-B", "signer-expired").sign(UNSIGNED)


def test_tsa_down_is_a_signing_error(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to, retries=0)
    signer = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12,
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel.B_T, tsa_url="http://refused.ltv.test/tsa"),
        network=client,
    )
    with pytest.raises(SigningError, match=r"time-stamping authority .*offline \(refused\)"):
        signer.sign(UNSIGNED)


def test_policy_needs_a_tsa_above_b_b() -> None:
    with pytest.raises(PolicyError):
        SigningPolicy(level=PadesLevel.B_T)
    with pytest.raises(PolicyError):
        SigningPolicy(level="B-X", tsa_url=TSA_URL)  # type: ignore[arg-type]
    assert SigningPolicy(level="B-LTA", tsa_url=TSA_URL).level is PadesLevel.B_LTA  # type: ignore[arg-type]


def test_wrong_passphrase_and_bad_input_are_input_errors() -> None:
    with pytest.raises(InputError, match="passphrase"):
        Signer.from_pkcs12(pki.SIGNER_GOOD_P12, "nope", policy=SigningPolicy(level=PadesLevel.B_B))
    signer = Signer.from_pem(
        pki.SIGNER_GOOD_KEY,
        pki.SIGNER_GOOD_CERT,
        chain=[pki.INTERM_CERT],
        policy=SigningPolicy(level=PadesLevel.B_B),
    )
    with pytest.raises(InputError, match="not a PDF"):
        signer.sign(b"hello")
    once = signer.sign(UNSIGNED, field="A")
    with pytest.raises(InputError, match="already signed"):
        signer.sign(once, field="A")
    with pytest.raises(UsageError, match="timezone-aware"):
        signer.sign(UNSIGNED, at=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_key_must_match_certificate() -> None:
    with pytest.raises(InputError, match="does not belong"):
        Signer.from_pem(
            pki.key_path("signer-revoked"),
            pki.SIGNER_GOOD_CERT,
            policy=SigningPolicy(level=PadesLevel.B_B),
        )


# -- evidence reuse ----------------------------------------------------------------------------


def test_concurrent_requests_share_one_fetch_per_certificate(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    signer = make_signer(client, "B-LT")

    async def many() -> list[bytes]:
        return await asyncio.gather(*(signer.asign(UNSIGNED) for _ in range(6)))

    outs = asyncio.run(many())
    # and from threads, each with its own event loop
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(signer.sign(UNSIGNED))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outs) == 6 and len(results) == 3
    ocsp_requests = [e for e in client.exchanges if "/ocsp/" in e.url]
    # signer, intermediate, TSA: one fetch each for 9 signatures
    assert len(ocsp_requests) == 3
    assert signer.cache.fetches == 3


def test_reused_signer_at_b_lta_fetches_nothing_twice(pki_server: PkiServer) -> None:
    """Two consecutive B-LTA signatures with one Signer: the first asks OCSP once per
    certificate and the TSA exactly twice (signature and document timestamps: no
    size-estimating round trip), the second asks the network only for its two timestamps."""
    client = HttpClient(connect_to=pki_server.connect_to)
    signer = make_signer(client, "B-LTA")

    def kinds(exchanges: Any) -> list[str]:
        return sorted(e.url.removeprefix(pki.URL_PREFIX).split("/")[2] for e in exchanges)

    signer.sign(UNSIGNED)
    first = list(client.exchanges)
    # OCSP for signer-good, interm and tsa; the TSA: signature and document timestamps.
    assert kinds(first) == ["ocsp"] * 3 + ["tsa"] * 2
    signer.sign(UNSIGNED)
    second = client.exchanges[len(first) :]
    assert kinds(second) == ["tsa", "tsa"]  # signature timestamp + document timestamp
    assert [e.method for e in second] == ["POST", "POST"]
    assert len(pki_server.log.snapshot()) == len(first) + 2
    assert signer.cache.fetches == 3


def test_cache_expires_at_next_update(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    signer = make_signer(client, "B-LT")
    now = datetime.now(UTC)
    signer.sign(UNSIGNED, at=now)
    signer.sign(UNSIGNED, at=now + timedelta(hours=1))
    assert signer.cache.fetches == 3
    # The responses are valid one day; two days on, the server's answers are fresh again.
    later = now + timedelta(days=2)
    pki_server.freeze(later)
    signer.sign(UNSIGNED, at=later)
    assert signer.cache.fetches == 6


# -- caIssuers (RFC 5280 §4.2.2.1): a missing CA certificate is fetched ------------------------


class StubTransport:
    """Answers every request with one fixed body (or failure); records the URLs asked."""

    def __init__(self, body: bytes | None = None, error: str | None = None) -> None:
        self.body = body
        self.error = error
        self.urls: list[str] = []

    @property
    def exchanges(self) -> tuple[Any, ...]:
        return ()

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        self.urls.append(url)
        if self.error is not None:
            raise HttpError(self.error, url)
        assert self.body is not None
        return HttpResponse(url, 200, {"content-type": "application/pkix-cert"}, self.body, 0.0)


def ad_hoc_leaf(issuer_name: str, ca_issuers: str | None) -> tuple[Any, Any, bytes]:
    """(ad-hoc CA certificate, leaf it issued, the leaf's PEM key), certificates as asn1crypto.

    The CA's subject is *issuer_name*'s certificate subject (so a name match alone proves
    nothing); its key is new."""
    from asn1crypto import x509 as asn1
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

    ca_name = x509.load_der_x509_certificate(pki.load_cert(issuer_name).dump()).subject
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2036, 1, 1, tzinfo=UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ad-hoc Leaf")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(8)
        .not_valid_before(start)
        .not_valid_after(end)
    )
    if ca_issuers is not None:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(ca_issuers),
                    )
                ]
            ),
            critical=False,
        )
    leaf = builder.sign(ca_key, hashes.SHA256())
    der = serialization.Encoding.DER
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        asn1.Certificate.load(ca.public_bytes(der)),
        asn1.Certificate.load(leaf.public_bytes(der)),
        key_pem,
    )


def _p7_certs_only(*certs: Any) -> bytes:
    from asn1crypto import cms

    return cms.ContentInfo(
        {
            "content_type": "signed_data",
            "content": {
                "version": "v1",
                "digest_algorithms": [],
                "encap_content_info": {"content_type": "data"},
                "certificates": list(certs),
                "signer_infos": [],
            },
        }
    ).dump()


def test_b_lt_and_b_lta_without_chain_fetch_the_tsa_root_from_ca_issuers(
    pki_server: PkiServer,
) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    policy = SigningPolicy(level=PadesLevel.B_LTA, tsa_url=TSA_URL)
    signer = Signer.from_pkcs12(
        pki.p12_path("signer-good"), pki.P12_PASSPHRASE, policy=policy, network=client
    )
    first = signer.sign(UNSIGNED)
    signer.sign(UNSIGNED)  # the fetched issuer is kept on the Signer, like the evidence
    gets = pki_server.log.matching(method="GET", path_prefix="/ltv/certs/")
    assert [(e.path, e.host, e.status, e.content_type) for e in gets] == [
        ("/ltv/certs/tsa-root/ca.crt", "pki.ltv.test", 200, "application/pkix-cert")
    ]
    assert [e.url for e in client.exchanges if "/certs/" in e.url] == [pki.TSA_ROOT_CERT_URL]
    assert signer.cache.issuer_fetches == 1
    certs, _, _ = dss_contents(first)
    assert pki.load_cert("tsa-root").dump() in {c.dump() for c in certs}
    b_lt = make_signer(client, "B-LT")  # sanity: same DSS certificates as with --chain
    assert {c.dump() for c in dss_contents(b_lt.sign(UNSIGNED))[0]} <= {c.dump() for c in certs}


def test_signer_chain_is_fetched_hop_by_hop_when_only_the_leaf_is_given(
    pki_server: PkiServer,
) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    signer = Signer.from_pem(
        pki.SIGNER_GOOD_KEY,
        pki.SIGNER_GOOD_CERT,
        policy=SigningPolicy(level=PadesLevel.B_LT, tsa_url=TSA_URL),
        network=client,
    )
    signer.sign(UNSIGNED)
    assert list(signer.chain()) == [
        to_pem(pki.load_cert(label)) for label in ("signer-good", "interm", "root")
    ]
    assert [e.path for e in pki_server.log.matching(path_prefix="/ltv/certs/")] == [
        "/ltv/certs/interm/ca.crt",
        "/ltv/certs/root/ca.crt",
        "/ltv/certs/tsa-root/ca.crt",
    ]


def test_explicit_chain_wins_and_nothing_is_fetched(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    make_signer(client, "B-LTA").sign(UNSIGNED)
    assert pki_server.log.matching(path_prefix="/ltv/certs/") == []
    extender = Extender(tsa_url=TSA_URL, network=client, trust=ANCHORS)
    extender.extend(make_signer(client, "B-LTA").sign(UNSIGNED))
    assert pki_server.log.matching(path_prefix="/ltv/certs/") == []


@pytest.mark.parametrize(
    ("transport", "detail"),
    [
        (StubTransport(error="http-404"), "http-404"),
        (StubTransport(error="network-disabled"), "network-disabled"),
        (StubTransport(body=b"<html>not a certificate</html>"), "not a certificate"),
        (StubTransport(body=b"\x30\x03\x02\x01\x05"), "not a certificate"),
    ],
    ids=["404", "no-network", "garbage-text", "garbage-der"],
)
def test_failed_ca_issuers_fetch_is_one_line_naming_the_url(
    transport: StubTransport, detail: str
) -> None:
    url = "http://pki.ltv.test/ltv/certs/somewhere/ca.crt"
    _, leaf, _ = ad_hoc_leaf("interm", url)
    with pytest.raises(SigningError) as info:
        build_chain(leaf, [], role="TSA", network=transport)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("cannot complete the chain of TSA certificate 'CN=Ad-hoc Leaf'")
    assert "its issuer 'CN=ltv Sample Intermediate CA" in msg and "is not available" in msg
    assert f"caIssuers {url}: {detail}" in msg
    assert transport.urls == [url]


def test_no_ca_issuers_url_keeps_the_old_message() -> None:
    _, leaf, _ = ad_hoc_leaf("interm", None)
    transport = StubTransport(error="http-404")
    with pytest.raises(SigningError, match=r"is not available \(it names no caIssuers URL\)"):
        build_chain(leaf, [], role="signer", network=transport)
    with pytest.raises(SigningError, match=r"is not available$"):
        build_chain(leaf, [], role="signer")  # no transport: no fetch, today's message
    assert transport.urls == []


def test_fetched_certificate_must_have_issued_the_child() -> None:
    # the ad-hoc CA has interm's subject but another key: interm's certificate (the same name!)
    # did not sign the leaf
    _, leaf, _ = ad_hoc_leaf("interm", pki.INTERM_CERT_URL)
    transport = StubTransport(body=pki.load_cert("interm").dump())
    with pytest.raises(SigningError) as info:
        build_chain(leaf, [], role="signer", network=transport)
    assert (
        f"caIssuers {pki.INTERM_CERT_URL}: the certificate served "
        "('CN=ltv Sample Intermediate CA,O=ltv sample PKI,C=ZZ') did not issue it"
    ) in str(info.value)


def test_fetched_certificate_must_have_issued_the_child_live(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    _, leaf, _ = ad_hoc_leaf("interm", pki.INTERM_CERT_URL)
    with pytest.raises(SigningError, match="did not issue it"):
        build_chain(leaf, [], role="signer", network=client)
    assert [(e.path, e.host) for e in pki_server.log.matching(path_prefix="/ltv/certs/")] == [
        ("/ltv/certs/interm/ca.crt", "pki.ltv.test")
    ]


@pytest.mark.parametrize("form", ["der", "pem", "p7-der", "p7-pem"])
def test_ca_issuers_accepts_der_pem_and_pkcs7_certs_only(form: str) -> None:
    from asn1crypto import pem

    ca, leaf, _ = ad_hoc_leaf("interm", "http://ca.ltv.test/ca")
    other = pki.load_cert("root")  # a bundle may carry more than the issuer
    body = {
        "der": ca.dump(),
        "pem": pem.armor("CERTIFICATE", other.dump()) + pem.armor("CERTIFICATE", ca.dump()),
        "p7-der": _p7_certs_only(other, ca),
        "p7-pem": pem.armor("PKCS7", _p7_certs_only(other, ca)),
    }[form]
    chain = build_chain(leaf, [], role="TSA", network=StubTransport(body=body))
    assert [c.dump() for c in chain] == [leaf.dump(), ca.dump()]


def test_ca_issuers_hops_are_bounded() -> None:
    ca, leaf, _ = ad_hoc_leaf("interm", "http://ca.ltv.test/ca")
    with pytest.raises(SigningError, match="more than 0 issuers to fetch"):
        build_chain(leaf, [], role="TSA", network=StubTransport(body=ca.dump()), max_fetches=0)
    chain = build_chain(leaf, [], role="TSA", network=StubTransport(body=ca.dump()))
    assert chain[-1].dump() == ca.dump()


# -- extend ------------------------------------------------------------------------------------


def test_extend_adds_one_document_timestamp_and_fresh_evidence(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    original = make_signer(client, "B-LTA").sign(UNSIGNED)
    extender = Extender(tsa_url=TSA_URL, network=client, trust=ANCHORS)
    _, ocsps_before, _ = dss_contents(original)

    first = extender.extend(original)
    assert first.startswith(original)
    assert count_doc_timestamps(first) == count_doc_timestamps(original) + 1
    _, ocsps_after, _ = dss_contents(first)
    assert set(ocsps_before) < set(ocsps_after)

    second = extender.extend(first)
    assert second.startswith(first)
    assert count_doc_timestamps(second) == 3


def test_extend_refuses_documents_without_dss_and_untrusted_tsa(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    b_t = make_signer(client, "B-T").sign(UNSIGNED)
    extender = Extender(tsa_url=TSA_URL, network=client, trust=ANCHORS)
    with pytest.raises(InputError, match="no DSS"):
        extender.extend(b_t)
    with pytest.raises(InputError, match="no signature"):
        extender.extend(UNSIGNED)
    with pytest.raises(UsageError, match="needs trust anchors"):
        Extender(tsa_url=TSA_URL, network=client)
    b_lta = make_signer(client, "B-LTA").sign(UNSIGNED)
    # the TSA's root is not an anchor: verification fails first, and nothing was fetched
    before = len(client.exchanges)
    wrong = Extender(tsa_url=TSA_URL, network=client, trust=[pki.ROOT_CERT])
    with pytest.raises(SigningError, match="refusing to extend: "):
        wrong.extend(b_lta)
    assert len(client.exchanges) == before
    # --force gets past the verification; the TSA chain must still end at an anchor
    forced = Extender(tsa_url=TSA_URL, network=client, trust=[pki.ROOT_CERT], force=True)
    with pytest.raises(SigningError, match="not among the --trust anchors"):
        forced.extend(b_lta)


# -- output ------------------------------------------------------------------------------------


def test_write_atomic_replaces_whole_files_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.pdf"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]


def test_write_atomic_failure_keeps_destination(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "out.pdf"
    target.write_bytes(b"old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]


def test_check_output_path_rules(tmp_path: Path) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(b"%PDF")
    with pytest.raises(UsageError, match="is the input"):
        check_output_path(tmp_path / "." / "in.pdf", inputs=[src])
    link = tmp_path / "link.pdf"
    link.symlink_to(src)
    assert same_file(link, src)
    with pytest.raises(UsageError, match="is the input"):
        check_output_path(link, inputs=[src], force=True)
    with pytest.raises(UsageError, match="already exists"):
        check_output_path(src, inputs=[])
    assert check_output_path(src, inputs=[], force=True) == src
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(tmp_path / "nodir" / "x.pdf")


def test_every_sample_in_the_table_is_committed() -> None:
    from samples.make_samples import SAMPLES, SAMPLES_DIR

    for sample in SAMPLES:
        data = (SAMPLES_DIR / sample.name).read_bytes()
        assert data.startswith(b"%PDF"), sample.name
    assert (SAMPLES_DIR / "unsigned.pdf").read_bytes() == UNSIGNED


def test_samples_readme_table_agrees_with_make_samples() -> None:
    from samples.make_samples import SAMPLES, SAMPLES_DIR

    rows: dict[str, list[str]] = {}
    for line in (SAMPLES_DIR / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and cells[0].endswith(".pdf`"):
            rows[cells[0].strip("`")] = cells[1:4]
    for sample in SAMPLES:
        indication, subindication, level = rows.pop(sample.name)
        assert indication == sample.indication, sample.name
        assert subindication.split(" (")[0] == (sample.subindication or "—"), sample.name
        assert level.split(" (")[0] == (sample.level or "—"), sample.name
    assert list(rows) == ["unsigned.pdf"]


def test_the_signing_certificate_attribute_built_once_is_pyhankos() -> None:
    """``ltv._cms.caching_signer`` keeps the ESS signing-certificate-v2 attribute of its
    certificate: the signed attributes it makes, once and again, are byte for byte those of
    pyHanko's own ``SimpleSigner`` (and another signer's certificate gets its own)."""
    from pyhanko.keys import load_private_key_from_pemder
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from ltv._cms import caching_signer

    when = datetime(2026, 5, 1, tzinfo=UTC)

    def attrs(signer: Any, digest: bytes) -> bytes:
        made = asyncio.run(
            signer.signed_attrs(
                digest, "sha256", attr_settings=PdfCMSSignedAttributes(signing_time=when)
            )
        )
        return bytes(made.dump())

    for label in ("signer-good", "signer-revoked"):
        cert = pki.load_cert(label)
        key = load_private_key_from_pemder(pki.key_path(label), None)
        kwargs = {
            "signing_cert": cert,
            "signing_key": key,
            "cert_registry": SimpleCertificateStore.from_certs([cert, pki.load_cert("interm")]),
        }
        fast, plain = caching_signer(**kwargs), SimpleSigner(**kwargs)
        for digest in (b"\x01" * 32, b"\x02" * 32):
            assert attrs(fast, digest) == attrs(plain, digest)
        assert fast._signing_cert_v2 is not None  # built once, kept


@pytest.mark.parametrize("broken_assembly", [False, True])
def test_the_signed_data_assembled_around_a_signature_is_pyhankos(
    broken_assembly: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ltv._cms.caching_signer`` assembles the ContentInfo around each signature's signed
    attributes, signature value and unsigned attributes (the signature timestamp) from DER
    taken off pyHanko's own packaging of its first signature. Every later one is byte for byte
    what pyHanko's ``_package_signature`` makes of the same parts: with and without a
    timestamp, an EC and an RSA key (signature values of different lengths). When the
    assembly does not reproduce pyHanko's first packaging, pyHanko packages every signature."""
    from asn1crypto import cms
    from pyhanko.keys import load_private_key_from_pemder
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, SimpleSigner
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    import ltv._cms
    from ltv._cms import caching_signer

    if broken_assembly:
        monkeypatch.setattr(ltv._cms._Template, "assemble", lambda self, *a: b"\x30\x00")
    when = datetime(2026, 5, 1, tzinfo=UTC)
    stamper = DummyTimeStamper(
        tsa_cert=pki.load_cert("tsa"),
        tsa_key=load_private_key_from_pemder(pki.key_path("tsa"), None),
        fixed_dt=when,
    )
    for label, issuer in (("signer-good", "interm"), ("tsa", "tsa-root")):  # EC, RSA
        cert = pki.load_cert(label)
        key = load_private_key_from_pemder(pki.key_path(label), None)
        registry = SimpleCertificateStore.from_certs([cert, pki.load_cert(issuer)])
        fast = caching_signer(signing_cert=cert, signing_key=key, cert_registry=registry)
        plain = SimpleSigner(signing_cert=cert, signing_key=key, cert_registry=registry)
        for timestamper in (None, stamper):
            for n in range(4):
                made = asyncio.run(
                    fast.async_sign(
                        bytes([n]) * 32,
                        "sha256",
                        use_pades=True,
                        timestamper=timestamper,
                        signed_attr_settings=PdfCMSSignedAttributes(signing_time=when),
                    )
                )
                der = bytes(made.dump())
                info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
                unsigned = info["unsigned_attrs"]
                again = plain._package_signature(
                    digest_algorithm="sha256",
                    cms_version="v1",
                    signed_attrs=cms.CMSAttributes.load(info["signed_attrs"].untag().dump()),
                    signature=bytes(info["signature"]),
                    unsigned_attrs=(
                        None
                        if unsigned.native is None
                        else cms.CMSAttributes.load(unsigned.untag().dump())
                    ),
                    encap_content_info=None,
                )
                assert der == again.dump(), (label, timestamper, n)
                assert (timestamper is None) == (unsigned.native is None)
        template = fast._templates[("sha256", "v1")]  # type: ignore[attr-defined]
        assert (template is None) == broken_assembly
