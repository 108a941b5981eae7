"""What to probe: URLs from the command line, from a certificate, or from a signed PDF.

* a certificate (``--cert`` + ``--issuer``): its AIA OCSP URLs (RFC 5280 §4.2.2.1, asked about
  that certificate's CertID), cRLDistributionPoints (§4.2.1.13), AIA caIssuers, and SIA
  id-ad-timeStamping (RFC 3161 §2.3: where a TSA certificate names its service);
* a PDF (``--from``): the same for every certificate the document carries — signers,
  intermediates, TSAs of signature and document timestamps, DSS — each OCSP request built for the
  right CertID (the issuer is looked for among the document's certificates, checked by signature);
* a URL argument: ``KIND=URL`` names the kind (``ocsp=``, ``crl=``, ``ca-issuers=``, ``tsa=``);
  a bare URL is ``crl`` when it ends in ``.crl``, ``ca-issuers`` for ``.crt``/``.cer``/``.p7c``,
  ``ocsp`` when a certificate was given, else ``url`` (GET, classified by what it serves).

Traffic goes only to these URLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, cast

from ltv.errors import InputError, UsageError
from ltv.probe.model import Target, TargetKind

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = ["document_certificates", "targets_for_cert", "targets_from_pdf", "targets_from_urls"]

_KINDS: tuple[TargetKind, ...] = ("ocsp", "crl", "ca-issuers", "tsa", "url")
_TIMESTAMPING = "1.3.6.1.5.5.7.48.3"
"""id-ad-timeStamping (RFC 3161 §2.3)."""


def _http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _tsa_urls(cert: x509.Certificate) -> list[str]:
    """SIA id-ad-timeStamping URLs (RFC 3161 §2.3) of a TSA certificate."""
    urls: list[str] = []
    for ext in cert["tbs_certificate"]["extensions"] or []:
        if ext["extn_id"].native != "subject_information_access":
            continue
        for desc in ext["extn_value"].parsed:
            method = desc["access_method"].dotted
            location = desc["access_location"]
            if method == _TIMESTAMPING and location.name == "uniform_resource_identifier":
                url = str(location.native)
                if _http(url) and url not in urls:
                    urls.append(url)
    return urls


def _find_issuer(
    cert: x509.Certificate, pool: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    """The certificate in ``pool`` that issued ``cert`` (name match AND signature verifies)."""
    from ltv.evidence._crypto import UnsupportedSignature, certificate_signed_by

    for candidate in pool:
        if candidate.subject != cert.issuer or candidate is cert:
            continue
        try:
            if certificate_signed_by(cert, candidate):
                return candidate
        except (UnsupportedSignature, ValueError, TypeError):
            continue
    return None


def targets_for_cert(
    cert: x509.Certificate, issuer: x509.Certificate | None, *, origin: str = "certificate"
) -> list[Target]:
    """Every URL ``cert`` points to (OCSP, CRL, caIssuers, TSA service)."""
    from ltv.evidence.crl import crl_urls_of
    from ltv.evidence.gather import ca_issuers_urls
    from ltv.names import name_str

    subject = name_str(cert.subject)
    issuer_der = None if issuer is None else bytes(issuer.dump())
    serial = format(cert.serial_number, "x")
    cert_der = bytes(cert.dump())
    out = [
        Target(
            url=url,
            kind="ocsp",
            cert_der=cert_der,
            issuer_der=issuer_der,
            subject=subject,
            serial=serial,
            sources=(f"ocsp of {origin} {subject}",),
        )
        for url in dict.fromkeys(str(u) for u in cert.ocsp_urls)
        if _http(url)
    ]
    out.extend(
        Target(
            url=url,
            kind="crl",
            issuer_der=issuer_der,
            subject=subject,
            sources=(f"crl of {origin} {subject}",),
        )
        for url in crl_urls_of(cert)
    )
    out.extend(
        Target(url=url, kind="ca-issuers", subject=subject, sources=(f"caIssuers of {subject}",))
        for url in ca_issuers_urls(cert)
    )
    out.extend(
        Target(url=url, kind="tsa", subject=subject, sources=(f"TSA {subject}",))
        for url in _tsa_urls(cert)
    )
    return out


def merge(targets: Iterable[Target]) -> list[Target]:
    """One target per :attr:`Target.key`, first occurrence first, sources merged."""
    merged: dict[str, Target] = {}
    for t in targets:
        seen = merged.get(t.key)
        if seen is None:
            merged[t.key] = t
            continue
        sources = tuple(dict.fromkeys((*seen.sources, *t.sources)))
        issuer_der = seen.issuer_der or t.issuer_der
        from dataclasses import replace

        merged[t.key] = replace(seen, sources=sources, issuer_der=issuer_der)
    return list(merged.values())


def document_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate a signed PDF carries (CMS, timestamp tokens, DSS, OCSP responses).

    The one place ``ltv probe`` uses the verify pipeline's extraction.
    """
    from ltv.pipeline.extract import extract

    extracted = extract(data)
    if not extracted.signatures:
        raise InputError("the PDF has no signature or document timestamp", hint="nothing to probe")
    return list(extracted.certificates)


def targets_from_pdf(data: bytes) -> list[Target]:
    """Every OCSP, CRL, caIssuers and TSA URL the document's certificates point to."""
    certs = document_certificates(data)
    out: list[Target] = []
    for cert in certs:
        # without the issuer there is no CertID: the OCSP target is kept, reported "no-issuer"
        issuer = None if cert.self_signed != "no" else _find_issuer(cert, certs)
        out.extend(targets_for_cert(cert, issuer, origin="document certificate"))
    return merge(out)


def parse_kind(argument: str) -> tuple[TargetKind | None, str]:
    """``KIND=URL`` → (kind, url); a bare URL → (None, url)."""
    prefix, sep, rest = argument.partition("=")
    if sep and prefix.lower() in _KINDS and _http(rest):
        return cast(TargetKind, prefix.lower()), rest
    return None, argument


def targets_from_urls(
    arguments: Sequence[str],
    cert: x509.Certificate | None = None,
    issuer: x509.Certificate | None = None,
) -> list[Target]:
    """Targets for URL arguments (see the module docstring for how the kind is chosen)."""
    from ltv.names import name_str

    out: list[Target] = []
    for argument in arguments:
        kind, url = parse_kind(argument.strip())
        if not _http(url):
            raise UsageError(
                f"{argument!r}: not an http(s) URL",
                hint="give URLs like http://ocsp.example/ or KIND=URL (ocsp, crl, tsa...)",
            )
        path = url.split("?", 1)[0].lower()
        if kind is None:
            if path.endswith(".crl"):
                kind = "crl"
            elif path.endswith((".crt", ".cer", ".p7c", ".der")):
                kind = "ca-issuers"
            elif cert is not None:
                kind = "ocsp"
            else:
                kind = "url"
        if kind == "ocsp" and (cert is None or issuer is None):
            raise UsageError(
                f"{argument!r}: an OCSP responder is probed with a real request",
                hint="give the certificate to ask about: --cert CERT.pem --issuer ISSUER.pem",
            )
        ocsp = kind == "ocsp" and cert is not None
        out.append(
            Target(
                url=url,
                kind=kind,
                cert_der=bytes(cert.dump()) if ocsp and cert is not None else None,
                issuer_der=bytes(issuer.dump()) if issuer is not None else None,
                subject=name_str(cert.subject) if cert is not None else None,
                serial=format(cert.serial_number, "x") if ocsp and cert is not None else None,
                sources=("argument",),
            )
        )
    return merge(out)
