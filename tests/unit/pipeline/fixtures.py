"""Signed PDFs for the verify tests, built through pyHanko's API on the sample PKI.

Evidence is fetched from the loopback PKI server (``samples.pki.server.PkiServer``) with its
clock frozen where a test needs it, then *injected* into the DSS (pyHanko refuses to embed
evidence for revoked/expired signers itself). Timestamps come from pyHanko's DummyTimeStamper
with the sample TSA key and a fixed genTime, so every time in a fixture is chosen by the test.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from samples.pki.server import PkiServer

T_SIGN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""Before signer-revoked's revocation (2026-06-01)."""
T_AFTER_REVOCATION = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
T_DOC_TS = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Evidence:
    ocsps: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()


def _pki():  # type: ignore[no-untyped-def]
    import samples.pki as pki

    return pki


def unsigned_pdf() -> bytes:
    from samples.make_samples import make_unsigned_pdf

    return make_unsigned_pdf()


def _tsa(fixed: datetime):  # type: ignore[no-untyped-def]
    from asn1crypto import x509
    from pyhanko.keys import load_private_key_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    pki = _pki()

    def cert(label: str) -> x509.Certificate:
        from asn1crypto import pem

        _, _, der = pem.unarmor(pki.cert_path(label).read_bytes())
        return x509.Certificate.load(der)

    return DummyTimeStamper(
        tsa_cert=cert("tsa"),
        tsa_key=load_private_key_from_pemder(str(pki.key_path("tsa")), passphrase=None),
        certs_to_embed=[cert("tsa"), cert("tsa-root")],
        fixed_dt=fixed,
    )


def sign(
    signer: str,
    *,
    tst_time: datetime | None,
    data: bytes | None = None,
    field: str = "Sig1",
) -> bytes:
    """PAdES B-B (tst_time None) or B-T signature of the sample PDF by ``signer``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    pki = _pki()
    simple = signers.SimpleSigner.load(
        str(pki.key_path(signer)),
        str(pki.cert_path(signer)),
        ca_chain_files=[str(p) for p in pki.chain_paths(signer)],
    )
    assert simple is not None
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    pdf_signer = signers.PdfSigner(
        meta, simple, timestamper=_tsa(tst_time) if tst_time is not None else None
    )
    w = IncrementalPdfFileWriter(io.BytesIO(data or unsigned_pdf()))
    out = pdf_signer.sign_pdf(w)
    return bytes(out.getvalue())


def fetch_evidence(
    server: PkiServer,
    signer: str,
    *,
    at: datetime,
    crl: bool = False,
    signer_ocsp_url: str | None = None,
) -> Evidence:
    """OCSP for signer (by its AIA) + interm + tsa, fetched with the server clock at ``at``."""
    from asn1crypto import pem, x509

    from ltv.evidence.crl import fetch_crl
    from ltv.evidence.http import HttpClient
    from ltv.evidence.ocsp import fetch_ocsp

    pki = _pki()

    def cert(label: str) -> x509.Certificate:
        _, _, der = pem.unarmor(pki.cert_path(label).read_bytes())
        return x509.Certificate.load(der)

    server.freeze(at)
    try:
        client = HttpClient(timeout=10, connect_to=server.connect_to)
        ocsps = []
        for leaf, issuer, url in (
            (signer, "interm", signer_ocsp_url),
            ("interm", "root", None),
            ("tsa", "tsa-root", None),
        ):
            outcome = fetch_ocsp(client, cert(leaf), cert(issuer), url=url)
            assert outcome.raw is not None, (leaf, outcome)
            ocsps.append(outcome.raw)
        crls = (fetch_crl(client, pki.CRL_INTERM_URL),) if crl else ()
    finally:
        server.freeze(None)
    return Evidence(ocsps=tuple(ocsps), crls=crls)


def add_dss(data: bytes, signer: str, evidence: Evidence) -> bytes:
    """Incremental update with a DSS holding the chain certificates and the evidence."""
    from asn1crypto import pem, x509
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    pki = _pki()
    certs = []
    for label in (signer, "interm", "root", "tsa", "tsa-root", "interm-ocsp"):
        _, _, der = pem.unarmor(pki.cert_path(label).read_bytes())
        certs.append(x509.Certificate.load(der))
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp

    buf = io.BytesIO(data)
    DocumentSecurityStore.add_dss(
        buf,
        None,
        certs=certs,
        ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in evidence.ocsps],
        crls=[asn1_crl.CertificateList.load(c) for c in evidence.crls],
    )
    return buf.getvalue()


def doc_timestamp(data: bytes, at: datetime) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    out = signers.PdfTimeStamper(_tsa(at)).timestamp_pdf(w, md_algorithm="sha256")
    return bytes(out.getvalue())


def build_all(server: PkiServer) -> dict[str, bytes]:
    """Every verdict fixture, by name."""
    pki = _pki()
    out: dict[str, bytes] = {}
    # good B-LT: TST at T_SIGN, OCSP fetched at T_SIGN + 1 min (after the TST: proves status)
    ev = fetch_evidence(server, "signer-good", at=T_SIGN.replace(minute=1))
    b_t = sign("signer-good", tst_time=T_SIGN)
    out["good-b-t"] = b_t
    out["good-b-lt"] = add_dss(b_t, "signer-good", ev)
    # the signer's chain is settled, but nothing in the file for the TSA's chain: not B-LT
    out["b-lt-no-tsa-data"] = add_dss(b_t, "signer-good", Evidence(ocsps=ev.ocsps[:2]))
    out["good-b-lta"] = doc_timestamp(out["good-b-lt"], T_DOC_TS)
    out["good-b-b"] = sign("signer-good", tst_time=None)
    # revoked before the timestamp: TST after 2026-06-01, evidence says revoked since then
    ev = fetch_evidence(server, "signer-revoked", at=T_AFTER_REVOCATION.replace(minute=1))
    out["revoked-before-ts"] = add_dss(
        sign("signer-revoked", tst_time=T_AFTER_REVOCATION), "signer-revoked", ev
    )
    # no timestamp at all, evidence says revoked: order cannot be shown
    out["revoked-no-ts"] = add_dss(sign("signer-revoked", tst_time=None), "signer-revoked", ev)
    # revoked after the timestamp, with evidence (fetched later) showing the revocation time
    out["revoked-after-ts"] = add_dss(sign("signer-revoked", tst_time=T_SIGN), "signer-revoked", ev)
    # expired signer (2021-2022) with a 2026 timestamp, and without any
    ev = fetch_evidence(server, "signer-expired", at=T_SIGN.replace(minute=1))
    out["expired-ts"] = add_dss(sign("signer-expired", tst_time=T_SIGN), "signer-expired", ev)
    out["expired-no-ts"] = sign("signer-expired", tst_time=None)
    # signed 'unknown' as the only evidence; and beside a CRL proving not-revoked
    ev = fetch_evidence(
        server, "signer-unknown", at=T_SIGN.replace(minute=1), signer_ocsp_url=pki.OCSP_UNKNOWN_URL
    )
    b_t = sign("signer-unknown", tst_time=T_SIGN)
    out["unknown"] = add_dss(b_t, "signer-unknown", ev)
    ev_crl = fetch_evidence(
        server,
        "signer-unknown",
        at=T_SIGN.replace(minute=1),
        signer_ocsp_url=pki.OCSP_UNKNOWN_URL,
        crl=True,
    )
    out["unknown-plus-crl"] = add_dss(b_t, "signer-unknown", ev_crl)
    # tampered: flip one byte inside the signed range of a good B-LT
    good = bytearray(out["good-b-lt"])
    pos = good.index(b") Tj")  # inside the page content stream, covered by the ByteRange
    good[pos] ^= 0x01
    out["tampered"] = bytes(good)
    # unsigned
    out["unsigned"] = unsigned_pdf()
    return out


_CACHE: dict[str, bytes] = {}


def get_fixtures() -> dict[str, bytes]:
    """Build once per test session with a private PKI server, which is stopped afterwards:
    the offline verdict tests then run with no responder anywhere."""
    if not _CACHE:
        from samples.pki.server import PkiServer

        with PkiServer(port=0) as server:
            _CACHE.update(build_all(server))
    return dict(_CACHE)


def root_store():  # type: ignore[no-untyped-def]
    from ltv.trust import TrustStore

    return TrustStore.from_paths([_pki().cert_path("root")])


def tsa_store():  # type: ignore[no-untyped-def]
    from ltv.trust import TrustStore

    return TrustStore.from_paths([_pki().cert_path("tsa-root")])


_VALIDATOR = None


def assert_schema(doc: dict) -> None:  # type: ignore[type-arg]
    """Validate one report object against schemas/report.schema.json (2020-12)."""
    global _VALIDATOR
    import json
    from pathlib import Path

    import jsonschema

    if _VALIDATOR is None:
        schema = json.loads(
            (Path(__file__).parents[3] / "schemas" / "report.schema.json").read_text()
        )
        jsonschema.Draft202012Validator.check_schema(schema)
        _VALIDATOR = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
    _VALIDATOR.validate(doc)


class SocketGuard:
    """Monkeypatches every way to open a connection so that any attempt fails the test."""

    def __init__(self, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        import socket

        self.attempts: list[object] = []

        def _refuse(*args: object, **kwargs: object) -> None:
            self.attempts.append(args)
            raise AssertionError(f"socket opened during an offline verification: {args!r}")

        monkeypatch.setattr(socket.socket, "connect", _refuse)
        monkeypatch.setattr(socket.socket, "connect_ex", _refuse)
        monkeypatch.setattr(socket, "create_connection", _refuse)


# -- long-term: a short-lived TSA renewed by a document timestamp from a long-lived one ------------

T_SHORT_SIGN = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
"""B-LT by signer-good with a signature timestamp from ``tsa-short`` (valid until 2027-01-01)."""
T_SHORT_RENEW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
"""The archive's renewal: a document timestamp from ``tsa`` (valid until 2050), before 2027."""
T_SHORT_LATE_RENEW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
"""A renewal that comes too late: ``tsa-short`` had already expired."""


def sign_with_ltv(server: PkiServer, *, tsa_url: str, at: datetime, level: str = "B-LT") -> bytes:
    """signer-good through ``ltv.sign.Signer`` against the live PKI, its clock frozen at ``at``
    (evidence fetched and checked at ``at``, signature timestamp genTime ``at``)."""
    from ltv.evidence.http import HttpClient
    from ltv.sign import PadesLevel, Signer, SigningPolicy
    from samples import pki

    server.freeze(at)
    try:
        signer = Signer.from_pkcs12(
            pki.SIGNER_GOOD_P12,
            pki.P12_PASSPHRASE,
            policy=SigningPolicy(level=PadesLevel(level), tsa_url=tsa_url),
            network=HttpClient(connect_to=server.connect_to, timeout=10),
            chain=[pki.TSA_ROOT_CERT],
        )
        return signer.sign(unsigned_pdf(), field="Sig1", at=at)
    finally:
        server.freeze(None)


def extend_with_ltv(
    server: PkiServer, data: bytes, *, tsa_url: str, at: datetime, force: bool = False
) -> bytes:
    """``ltv.extend.Extender``: fresh evidence for every embedded TSA chain + a document
    timestamp from ``tsa_url``, with the server clock frozen at ``at`` (``force``: renew even
    though verifying the input at ``at`` fails)."""
    from ltv.evidence.http import HttpClient
    from ltv.extend import Extender
    from samples import pki

    server.freeze(at)
    try:
        return Extender(
            tsa_url=tsa_url,
            network=HttpClient(connect_to=server.connect_to, timeout=10),
            trust=[pki.TSA_ROOT_CERT, pki.ROOT_CERT],
            force=force,
        ).extend(data, at=at)
    finally:
        server.freeze(None)


def build_longterm(server: PkiServer) -> dict[str, bytes]:
    """``short-b-lt``: B-LT whose signature timestamp is by ``tsa-short``; ``short-renewed``:
    that file extended by a document timestamp of ``tsa`` at T_SHORT_RENEW (< 2027);
    ``short-renewed-late``: the same extension made after ``tsa-short`` expired."""
    from samples import pki

    out: dict[str, bytes] = {}
    out["short-b-lt"] = sign_with_ltv(server, tsa_url=pki.TSA_SHORT_URL, at=T_SHORT_SIGN)
    out["short-renewed"] = extend_with_ltv(
        server, out["short-b-lt"], tsa_url=pki.TSA_URL, at=T_SHORT_RENEW
    )
    out["short-renewed-late"] = extend_with_ltv(  # too late: verification fails, forced
        server, out["short-b-lt"], tsa_url=pki.TSA_URL, at=T_SHORT_LATE_RENEW, force=True
    )
    return out


_LONGTERM_CACHE: dict[str, bytes] = {}


def get_longterm_fixtures() -> dict[str, bytes]:
    """Like :func:`get_fixtures`: built once with a private PKI server, stopped afterwards."""
    if not _LONGTERM_CACHE:
        from samples.pki.server import PkiServer

        with PkiServer(port=0) as server:
            _LONGTERM_CACHE.update(build_longterm(server))
    return dict(_LONGTERM_CACHE)
