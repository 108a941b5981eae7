"""Build the signed sample PDFs in ``samples/`` — one per verdict — with ltv itself.

Run: ``python -m samples.make_samples`` (add ``--out DIR`` to write elsewhere). It starts its own
:class:`samples.pki.server.PkiServer` on 127.0.0.1, freezes its clock where a sample needs a
particular time, and signs through :mod:`ltv.sign`. Samples the CLI rightly refuses to produce
(revoked, unknown, expired) are made through the library: sign at B-T, then inject the
evidence into the DSS ourselves. ``samples/README.md`` states the verdict each should get.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).resolve().parent
UNSIGNED = SAMPLES_DIR / "unsigned.pdf"

# Frozen times (the PKI server answers as of these instants; see samples/pki/README.md).
BEFORE_REVOCATION = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
"""signer-revoked is revoked since 2026-06-01T00:00:00Z: a timestamp here predates it."""
AFTER_REVOCATION = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
"""… and a timestamp here is after it."""
SIGNING_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
"""Time of the 'good' and the other samples (well inside every certificate's validity)."""


def make_unsigned_pdf(text: str = "ltv sample document") -> bytes:
    """A small one-page PDF (Helvetica text), written by pyHanko's writer; deterministic."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PdfFileWriter

    w = PdfFileWriter(stream_xrefs=False)
    # A fixed document ID keeps the file byte-for-byte reproducible.
    w._document_id = generic.ArrayObject(
        [
            generic.ByteStringObject(b"ltv-sample-pdf-1"),
            generic.ByteStringObject(b"ltv-sample-pdf-1"),
        ]
    )
    font = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name("/Helvetica"),
        }
    )
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET\n".encode("latin-1")
    stream_ref = w.add_object(generic.StreamObject(stream_data=content))
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(v) for v in (0, 0, 595, 842)]
            ),
            pdf_name("/Resources"): generic.DictionaryObject(
                {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): w.add_object(font)})}
            ),
            pdf_name("/Contents"): stream_ref,
        }
    )
    w.insert_page(page)
    out = io.BytesIO()
    w.write(out)
    # pyHanko stamps /ModDate with the wall clock; pin it (same length, offsets unchanged)
    # so the file is byte-for-byte reproducible.
    return re.sub(
        rb"/ModDate \(D\\072\d{14}Z\)", rb"/ModDate (D\\07220260101000000Z)", out.getvalue()
    )


@dataclass(frozen=True)
class Sample:
    """One sample file and the verdict ``ltv verify`` should reach on it."""

    name: str
    indication: str
    subindication: str | None
    level: str | None
    """PAdES level ``ltv verify`` reports: the format level reached, independent of the verdict."""
    note: str


SAMPLES: tuple[Sample, ...] = (
    Sample("good-b-lt.pdf", "TOTAL-PASSED", None, "B-LT", "signer-good, PAdES B-LT"),
    Sample("good-b-lta.pdf", "TOTAL-PASSED", None, "B-LTA", "signer-good, PAdES B-LTA"),
    Sample(
        "revoked-before-timestamp.pdf",
        "TOTAL-FAILED",
        "REVOKED",
        "B-LT",
        "signer-revoked; signature timestamp 2026-07-01 is after the revocation (2026-06-01, "
        "keyCompromise); the DSS holds the signed 'revoked' OCSP response",
    ),
    Sample(
        "revoked-after-timestamp.pdf",
        "TOTAL-PASSED",
        None,
        "B-LT",
        "signer-revoked; B-LT made 2026-05-01 with a 'good' OCSP response, then a later DSS "
        "update adds the 'revoked' response (revoked 2026-06-01, after the timestamp: POE wins)",
    ),
    Sample(
        "expired-without-evidence.pdf",
        "INDETERMINATE",
        "OUT_OF_BOUNDS_NO_POE",
        "B-T",
        "signer-expired (valid 2021-01-01..2022-01-01), B-T timestamp 2026-11-01, no DSS",
    ),
    Sample(
        "unknown.pdf",
        "INDETERMINATE",
        "CERTIFICATE_CHAIN_GENERAL_FAILURE",
        "B-T",
        "signer-unknown; the DSS holds a signed OCSP response saying 'unknown' (never 'good')",
    ),
    Sample(
        "no-timestamp.pdf",
        "INDETERMINATE",
        "TRY_LATER",
        "B-B",
        "signer-good, PAdES B-B: no timestamp, no evidence; offline (--online never) the "
        "revocation status cannot be established (with --online fallback and the PKI running: "
        "TOTAL-PASSED)",
    ),
    Sample(
        "tampered-after-signing.pdf",
        "TOTAL-FAILED",
        "HASH_FAILURE",
        None,
        "good-b-lt.pdf with one byte of the signed page content changed (same length)",
    ),
)


def _signer(label: str, level: str, network: Any) -> Any:
    from ltv.sign import PadesLevel, Signer, SigningPolicy
    from samples import pki

    return Signer.from_pkcs12(
        pki.p12_path(label),
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(
            level=PadesLevel(level), tsa_url=None if level == "B-B" else pki.TSA_URL
        ),
        network=network,
        chain=[pki.TSA_ROOT_CERT],
    )


def _ca_and_tsa_evidence(
    network: Any, signed: bytes, at: datetime
) -> tuple[list[bytes], list[Any]]:
    """Good evidence for interm and the TSA chain of *signed* (fetched and checked)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    from ltv.evidence.gather import build_chain, fetch_evidence
    from ltv.tst import check_token
    from samples import pki

    root, interm, tsa_root = (pki.load_cert(x) for x in ("root", "interm", "tsa-root"))
    evs = [fetch_evidence(network, interm, root, "CA", at)]
    sig = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    certs = [interm, root]
    for tst in extract_tst_data_iter(sig.signer_info, signed=False):
        check = check_token(tst, lambda _algorithm: b"")
        assert check.tsa_cert is not None  # noqa: S101 - the sample TSA's token
        chain = build_chain(check.tsa_cert, [*check.other_certs, tsa_root], role="TSA")
        evs.append(fetch_evidence(network, chain[0], chain[1], "TSA", at))
        certs += chain
    return [e.ocsp or e.crl for e in evs], certs


def _ocsp_raw(network: Any, label: str, at: datetime) -> bytes:
    """The responder's signed answer for *label*, whatever it says (no judging)."""
    from ltv.evidence.ocsp import fetch_ocsp
    from samples import pki

    outcome = fetch_ocsp(network, pki.load_cert(label), pki.load_cert("interm"), at=at)
    if outcome.raw is None:
        raise RuntimeError(f"no OCSP answer for {label}: {outcome}")
    return outcome.raw


def build_samples(out: Path) -> dict[str, bytes]:
    """Start a PkiServer, build every sample; returns name -> bytes (also written to *out*)."""
    from ltv.evidence.http import HttpClient
    from ltv.output import write_atomic
    from ltv.pdfio import embed_evidence
    from samples import pki
    from samples.pki.server import PkiServer

    unsigned = make_unsigned_pdf()
    results: dict[str, bytes] = {"unsigned.pdf": unsigned}
    with PkiServer(port=0) as server:
        net = HttpClient(connect_to=server.connect_to, timeout=10)

        # Good B-LT / B-LTA at a fixed time (evidence checked by the signer itself).
        server.freeze(SIGNING_TIME)
        for level in ("B-LT", "B-LTA"):
            results[f"good-{level.lower()}.pdf"] = _signer("signer-good", level, net).sign(
                unsigned, field="Signature1", reason="sample", at=SIGNING_TIME
            )

        # Revoked *before* the timestamp: the CLI refuses (rightly), so B-T through the
        # library, then inject the signed 'revoked' answer and the CA/TSA evidence.
        server.freeze(AFTER_REVOCATION)
        b_t = _signer("signer-revoked", "B-T", net).sign(unsigned, at=AFTER_REVOCATION)
        revoked = _ocsp_raw(net, "signer-revoked", AFTER_REVOCATION)
        extra, certs = _ca_and_tsa_evidence(net, b_t, AFTER_REVOCATION)
        results["revoked-before-timestamp.pdf"] = embed_evidence(
            b_t,
            ocsps=[revoked, *extra],
            certs=[pki.load_cert("signer-revoked"), *certs],
            vri_field="Signature1",
        )

        # Revoked *after* the timestamp: a regular B-LT made before the revocation date...
        server.freeze(BEFORE_REVOCATION)
        b_lt = _signer("signer-revoked", "B-LT", net).sign(unsigned, at=BEFORE_REVOCATION)
        # ...to which a later DSS update adds the 'revoked' answer obtained after 2026-06-01.
        results["revoked-after-timestamp.pdf"] = embed_evidence(b_lt, ocsps=[revoked])

        # Expired signer, timestamp years after expiry, no evidence. ltv's Signer refuses an
        # expired certificate, so this one is put together from pyHanko's signer and ltv's
        # TSA client (same code path as Signer at B-T, minus the validity check).
        server.freeze(SIGNING_TIME)
        results["expired-without-evidence.pdf"] = _sign_expired(net, unsigned)

        # Unknown: B-T, then the signed 'unknown' answer and the CA/TSA evidence in the DSS.
        b_t = _signer("signer-unknown", "B-T", net).sign(unsigned, at=SIGNING_TIME)
        unknown = _ocsp_raw(net, "signer-unknown", SIGNING_TIME)
        extra, certs = _ca_and_tsa_evidence(net, b_t, SIGNING_TIME)
        results["unknown.pdf"] = embed_evidence(
            b_t,
            ocsps=[unknown, *extra],
            certs=[pki.load_cert("signer-unknown"), *certs],
            vri_field="Signature1",
        )

        # No timestamp: B-B.
        results["no-timestamp.pdf"] = _signer("signer-good", "B-B", net).sign(
            unsigned, at=SIGNING_TIME
        )

    # Tampered: flip one byte of the signed page content of the good B-LT.
    good = results["good-b-lt.pdf"]
    needle = b"(ltv sample document)"
    assert good.count(needle) == 1, "the page text must occur once"  # noqa: S101
    results["tampered-after-signing.pdf"] = good.replace(needle, b"(ltv sample d0cument)")

    out.mkdir(parents=True, exist_ok=True)
    for name, data in results.items():
        write_atomic(out / name, data)
    return results


def _sign_expired(net: Any, unsigned: bytes) -> bytes:
    import asyncio

    from cryptography.hazmat.primitives.serialization import pkcs12
    from pyhanko.keys.internal import (
        translate_pyca_cryptography_cert_to_asn1,
        translate_pyca_cryptography_key_to_asn1,
    )
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.signers.pdf_cms import SimpleSigner
    from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from ltv.evidence.tsa import TsaClient
    from ltv.pdfio import open_writer
    from ltv.sign import _sign_at
    from samples import pki

    key, cert, others = pkcs12.load_key_and_certificates(
        pki.p12_path("signer-expired").read_bytes(), pki.P12_PASSPHRASE.encode()
    )
    assert key is not None and cert is not None  # noqa: S101
    asn_cert = translate_pyca_cryptography_cert_to_asn1(cert)
    signer = SimpleSigner(
        signing_cert=asn_cert,
        signing_key=translate_pyca_cryptography_key_to_asn1(key),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn_cert, *(translate_pyca_cryptography_cert_to_asn1(c) for c in others)]
        ),
    )
    meta = PdfSignatureMetadata(
        field_name="Signature1", md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES
    )
    pdf_signer = PdfSigner(meta, signer, timestamper=TsaClient(pki.TSA_URL).stamper(net))
    out = io.BytesIO()
    writer = open_writer(io.BytesIO(unsigned), modified=SIGNING_TIME)
    asyncio.run(_sign_at(pdf_signer, writer, SIGNING_TIME, out))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.make_samples", description=__doc__)
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output directory")
    args = parser.parse_args(argv)
    out: Path = args.out
    for name, data in build_samples(out).items():
        print(f"wrote {out / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
