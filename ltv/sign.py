"""PAdES signing (B-B, B-T, B-LT, B-LTA) and LTA renewal ("extend"), built on pyHanko's signer.

ETSI EN 319 142-1 (PAdES digital signatures) defines the four baseline levels this module produces:

* **B-B** (§6.3, Table 1): a CMS signature in a PDF signature dictionary with
  ``/SubFilter /ETSI.CAdES.detached``, a signing-certificate-v2 attribute, the signing time in
  the ``/M`` entry (no CMS signing-time attribute) — pyHanko's ``PdfSigner`` with the PAdES
  subfilter does exactly that.
* **B-T** (§6.3, Table 1, ``signature-time-stamp``): B-B plus an RFC 3161 signature timestamp over
  the signature value (RFC 3161 §2.4.1, SHA-256 imprint here), requested through ltv's own HTTP
  client (:class:`LtvTimeStamper`), so no socket is opened outside :mod:`ltv.evidence.http`.
* **B-LT** (§5.4.2 DSS, §5.4.2.2 VRI, §6.3): B-T plus, in a Document Security Store added by an
  incremental update, the certificates and revocation data (OCSP responses, CRLs) of **every**
  certificate the signature relies on: the signer's chain and the chain of the TSA that signed the
  signature timestamp. The evidence is fetched and *checked* before anything is written (OCSP first,
  CRL when OCSP is absent or unusable; signature, CertID, freshness at the signing time); any
  ``revoked``, ``unknown`` or ``offline`` outcome refuses the signature (:class:`SigningError`).
* **B-LTA** (§5.4.3 document timestamp, §6.3 B-LTA): B-LT plus a document timestamp whose
  ByteRange covers the DSS, with the evidence for that TSA's chain in the DSS it covers.

:class:`Extender` performs the archive renewal of EN 319 142-1 §5.5 / Annex A.2 ("long-term
availability"): fresh evidence for every timestamp already in the document (signature timestamps and
earlier document timestamps), then one new document timestamp, as a single incremental update, so
the earlier revisions stay a byte-identical prefix.

Time and network are arguments: ``at=`` (timezone-aware; defaults to the current UTC time at the
call) and ``network=`` (an :class:`ltv.evidence.http.HttpClient`, or ``NoNetwork``). Nothing here
reads a global clock implicitly or opens sockets itself.

Chains are completed from the certificates given (PKCS#12, ``chain``/``extra_certs``, the token,
the DSS); a CA certificate still missing is fetched from the caIssuers URL of the certificate it
issued (RFC 5280 §4.2.2.1, :func:`build_chain`), through the same ``network``, and used only if
its key verifies that certificate's signature.

Evidence reuse (DESIGN.md "Library shape"): a :class:`Signer` keeps the good evidence it fetched in
an :class:`EvidenceCache` until the evidence's ``nextUpdate``; concurrent requests (threads, or
tasks of one or more event loops) wait for the one fetch in flight instead of asking again — the
idea of OCSP stapling, so a busy signing server makes one request per certificate per validity
window.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ltv.errors import InputError, LtvError, PolicyError, SigningError, UsageError
from ltv.names import name_str

if TYPE_CHECKING:
    from asn1crypto import cms, tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509 as pyca_x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    from ltv.evidence.http import Transport
    from ltv.evidence.outcome import RevocationOutcome

__all__ = [
    "CertificateEvidence",
    "EvidenceCache",
    "ExtendResult",
    "Extender",
    "LtvTimeStamper",
    "PadesLevel",
    "Signer",
    "SigningPolicy",
    "build_chain",
    "ca_issuers_urls",
    "embed_evidence",
    "fetch_evidence",
    "fetch_issuer_certs",
    "load_certificate_files",
    "make_timestamper",
    "parse_issuer_certs",
]

DEFAULT_MD: Final = "sha256"
"""Digest for the signature, the signature timestamp imprint and document timestamps."""
DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)
"""Tolerance when judging freshness (thisUpdate slightly after the signing time is accepted)."""
MAX_ISSUER_FETCHES: Final = 5
"""Most issuer certificates :func:`build_chain` fetches from caIssuers URLs for one chain."""


class PadesLevel(enum.StrEnum):
    """The PAdES baseline levels of ETSI EN 319 142-1 §6."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def needs_tsa(self) -> bool:
        """B-T and above carry an RFC 3161 signature timestamp (§6.3)."""
        return self is not PadesLevel.B_B

    @property
    def needs_evidence(self) -> bool:
        """B-LT and above carry validation data in the DSS (§5.4.2)."""
        return self in (PadesLevel.B_LT, PadesLevel.B_LTA)

    @property
    def needs_document_timestamp(self) -> bool:
        """B-LTA carries a document timestamp over the DSS (§5.4.3)."""
        return self is PadesLevel.B_LTA


@dataclass(frozen=True, kw_only=True)
class SigningPolicy:
    """What a :class:`Signer` produces. Frozen; checked when built.

    :param level: PAdES baseline level (a :class:`PadesLevel` or its string, e.g. ``"B-LT"``).
    :param tsa_url: RFC 3161 time-stamping service; required for B-T and above.
    :param md_algorithm: digest for the signature and the timestamp imprints (SHA-256 or better).
    :param clock_skew: tolerance when judging the freshness of revocation evidence.
    :param field: default signature field name.
    """

    level: PadesLevel = PadesLevel.B_LT
    tsa_url: str | None = None
    md_algorithm: str = DEFAULT_MD
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    field: str = "Signature1"

    def __post_init__(self) -> None:
        try:
            level = PadesLevel(self.level)
        except ValueError:
            choices = ", ".join(lv.value for lv in PadesLevel)
            raise PolicyError(
                f"unknown PAdES level {self.level!r}", hint=f"one of {choices}"
            ) from None
        object.__setattr__(self, "level", level)
        if level.needs_tsa and not self.tsa_url:
            raise PolicyError(
                f"PAdES {level.value} needs a time-stamping authority",
                hint="give a TSA URL (--tsa URL), or sign at B-B",
            )
        if self.md_algorithm not in ("sha256", "sha384", "sha512", "sha3_256", "sha3_512"):
            raise PolicyError(f"digest {self.md_algorithm!r} is not SHA-256 or better")


# -- certificates ------------------------------------------------------------------------------


def _subject(cert: asn1_x509.Certificate) -> str:
    """RFC 4514 string of a certificate's subject (what error messages name)."""
    return name_str(cert.subject)


def _fingerprint(cert: asn1_x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def _is_self_signed(cert: asn1_x509.Certificate) -> bool:
    return bool(cert.self_signed in ("maybe", "yes"))


def _issued_by(child: asn1_x509.Certificate, parent: asn1_x509.Certificate) -> bool:
    """True if *parent*'s subject is *child*'s issuer and *parent*'s key verifies *child*."""
    if child.issuer != parent.subject:
        return False
    from cryptography import x509 as pyca

    try:
        c = pyca.load_der_x509_certificate(child.dump())
        p = pyca.load_der_x509_certificate(parent.dump())
        c.verify_directly_issued_by(p)
    except Exception:  # any failure means "not issued by"
        return False
    return True


def _to_asn1(cert: pyca_x509.Certificate) -> asn1_x509.Certificate:
    from asn1crypto import x509 as asn1
    from cryptography.hazmat.primitives.serialization import Encoding

    return asn1.Certificate.load(cert.public_bytes(Encoding.DER))


def load_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """Every certificate in *data* (one or more PEM blocks, or one DER certificate)."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1

    certs: list[asn1_x509.Certificate] = []
    try:
        if pem.detect(data):
            for kind, _headers, der in pem.unarmor(data, multiple=True):
                if kind == "CERTIFICATE":
                    certs.append(asn1.Certificate.load(der))
        else:
            cert = asn1.Certificate.load(data)
            cert.native  # noqa: B018 - parse eagerly to surface errors here
            certs.append(cert)
    except (ValueError, TypeError) as err:
        raise InputError(f"not a certificate file: {err}") from None
    return certs


def load_certificate_files(paths: Iterable[str | os.PathLike[str]]) -> list[asn1_x509.Certificate]:
    """Certificates from PEM/DER files, or from every ``*.pem|*.crt|*.cer|*.der`` in directories."""
    out: list[asn1_x509.Certificate] = []
    for p in paths:
        path = Path(p)
        files: list[Path]
        if path.is_dir():
            files = sorted(
                f for f in path.iterdir() if f.suffix.lower() in (".pem", ".crt", ".cer", ".der")
            )
        else:
            files = [path]
        for f in files:
            try:
                data = f.read_bytes()
            except OSError as err:
                raise InputError(
                    f"cannot read certificate file {str(f)!r}: {err.strerror}"
                ) from None
            certs = load_certificates(data)
            if not certs:
                raise InputError(f"no certificate in {str(f)!r}")
            out.extend(certs)
    return out


def ca_issuers_urls(cert: asn1_x509.Certificate) -> list[str]:
    """The HTTP(S) caIssuers URLs of *cert*'s Authority Information Access (RFC 5280 §4.2.2.1)."""
    aia = cert.authority_information_access_value
    if aia is None:
        return []
    urls: list[str] = []
    for desc in aia:
        if desc["access_method"].native != "ca_issuers":
            continue
        location = desc["access_location"]
        if location.name != "uniform_resource_identifier":
            continue
        url = str(location.native)
        if url.lower().startswith(("http://", "https://")) and url not in urls:
            urls.append(url)
    return urls


def parse_issuer_certs(data: bytes) -> list[asn1_x509.Certificate]:
    """Certificates served at a caIssuers URL: DER or PEM certificate(s), or a "certs-only"
    (degenerate) PKCS#7 SignedData, DER or PEM (RFC 5280 §4.2.2.1).

    Raises :class:`ValueError` if *data* is none of these.
    """
    from asn1crypto import cms, pem
    from asn1crypto import x509 as asn1

    def one_cert(der: bytes) -> asn1_x509.Certificate:
        cert = asn1.Certificate.load(der, strict=True)
        cert.native  # noqa: B018 - parse eagerly to surface errors here
        return cert

    def p7_certs(der: bytes) -> list[asn1_x509.Certificate]:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not a PKCS#7 SignedData")
        out: list[asn1_x509.Certificate] = []
        for choice in info["content"]["certificates"] or ():
            if choice.name == "certificate":
                cert = choice.chosen
                cert.native  # noqa: B018 - parse eagerly
                out.append(cert)
        return out

    try:
        if pem.detect(data):
            certs: list[asn1_x509.Certificate] = []
            for kind, _headers, der in pem.unarmor(data, multiple=True):
                if kind == "CERTIFICATE":
                    certs.append(one_cert(der))
                elif kind in ("PKCS7", "CMS"):
                    certs.extend(p7_certs(der))
        else:
            try:
                certs = [one_cert(data)]
            except (ValueError, TypeError, KeyError):
                certs = p7_certs(data)
    except (ValueError, TypeError, KeyError):
        raise ValueError("not a certificate or a PKCS#7 certs-only bundle") from None
    if not certs:
        raise ValueError("no certificate in the response")
    return certs


def fetch_issuer_certs(network: Transport, url: str) -> list[asn1_x509.Certificate]:
    """GET *url* (a caIssuers URL) through *network* and parse what it serves.

    Raises :class:`ltv.evidence.http.HttpError` (transport) or :class:`ValueError` (content).
    """
    resp = network.request(
        "GET",
        url,
        headers={"Accept": "application/pkix-cert, application/pkcs7-mime;q=0.9, */*;q=0.5"},
    )
    return parse_issuer_certs(resp.body)


def build_chain(
    leaf: asn1_x509.Certificate,
    pool: Iterable[asn1_x509.Certificate],
    *,
    role: str,
    network: Transport | None = None,
    cache: EvidenceCache | None = None,
    max_fetches: int = MAX_ISSUER_FETCHES,
) -> list[asn1_x509.Certificate]:
    """The chain leaf → … → self-signed root, from the certificates in *pool*.

    When the issuer of a certificate is not in *pool* and a *network* is given, it is fetched
    from the certificate's caIssuers URLs (RFC 5280 §4.2.2.1; at most *max_fetches* issuers per
    chain), and used only if its key verifies the certificate's signature. *cache* (an
    :class:`EvidenceCache`) keeps what each URL served. Certificates in *pool* always win: a
    URL is asked only when the pool cannot complete the chain.

    Raises :class:`SigningError` naming the certificate whose issuer is missing (the caller
    must supply it, e.g. with ``--chain``), with each caIssuers URL tried and why it failed.
    """
    candidates = list(pool)
    chain = [leaf]
    current = leaf
    fetched = 0
    while not _is_self_signed(current):
        issuer = next(
            (c for c in candidates if c.dump() != current.dump() and _issued_by(current, c)),
            None,
        )
        if issuer is None:
            failures: list[str] = []
            if network is not None:
                urls = ca_issuers_urls(current)
                if not urls:
                    failures.append("it names no caIssuers URL")
                elif fetched >= max_fetches:
                    failures.append(f"more than {max_fetches} issuers to fetch")
                else:
                    fetched += 1
                    issuer = _fetch_issuer(network, cache, current, urls, failures)
            if issuer is None:
                detail = f" ({'; '.join(failures)})" if failures else ""
                raise SigningError(
                    f"cannot complete the chain of {role} certificate '{_subject(current)}': "
                    f"its issuer '{name_str(current.issuer)}' is not available{detail}",
                    hint="pass the CA certificate with --chain (or --trust for extend)",
                )
            candidates.append(issuer)
        if any(c.dump() == issuer.dump() for c in chain):
            raise SigningError(f"certificate chain of '{_subject(leaf)}' loops")
        chain.append(issuer)
        current = issuer
    return chain


def _fetch_issuer(
    network: Transport,
    cache: EvidenceCache | None,
    child: asn1_x509.Certificate,
    urls: Sequence[str],
    failures: list[str],
) -> asn1_x509.Certificate | None:
    """The first certificate served at one of *urls* that issued *child* (signature checked);
    appends ``caIssuers URL: why`` to *failures* for every URL that gave none."""
    from ltv.evidence.http import HttpError

    for url in urls:
        try:
            if cache is not None:
                served = cache.issuer_certs(url, lambda u: fetch_issuer_certs(network, u))
            else:
                served = tuple(fetch_issuer_certs(network, url))
        except HttpError as err:
            failures.append(f"caIssuers {url}: {err.detail}")
            continue
        except ValueError as err:
            failures.append(f"caIssuers {url}: {err}")
            continue
        found = next((c for c in served if _issued_by(child, c)), None)
        if found is not None:
            return found
        names = ", ".join(f"'{_subject(c)}'" for c in served)
        failures.append(f"caIssuers {url}: the certificate served ({names}) did not issue it")
    return None


# -- evidence ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateEvidence:
    """Checked revocation evidence for one certificate, ready for the DSS.

    ``outcome`` is the ltv four-state result; ``ocsp`` / ``crl`` hold the DER that said so
    (exactly one of them is set for a non-root certificate).
    """

    cert: asn1_x509.Certificate
    issuer: asn1_x509.Certificate
    role: str
    outcome: RevocationOutcome
    ocsp: bytes | None = None
    crl: bytes | None = None

    @property
    def subject(self) -> str:
        return _subject(self.cert)

    def fresh_at(self, at: datetime, skew: timedelta) -> bool:
        """Usable at *at*: thisUpdate ≤ at + skew and at ≤ nextUpdate (if any)."""
        o = self.outcome
        if o.this_update is not None and o.this_update > at + skew:
            return False
        return not (o.next_update is not None and at > o.next_update)


def _describe(outcome: RevocationOutcome) -> str:
    text = outcome.status.value
    extras: list[str] = []
    if outcome.detail:
        extras.append(outcome.detail)
    if outcome.revoked_at is not None:
        extras.append(f"revoked at {outcome.revoked_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}")
    if outcome.reason:
        extras.append(outcome.reason)
    if extras:
        text += f" ({', '.join(extras)})"
    return text


def _refusal(role: str, cert: asn1_x509.Certificate, attempts: Sequence[RevocationOutcome]) -> str:
    parts = [f"{a.method.upper()} {a.url or '(no URL)'}: {_describe(a)}" for a in attempts]
    return f"{role} certificate '{_subject(cert)}': " + "; ".join(parts)


Fetch = Callable[
    ["asn1_x509.Certificate", "asn1_x509.Certificate", str, datetime], "CertificateEvidence"
]


def fetch_evidence(
    network: Transport,
    cert: asn1_x509.Certificate,
    issuer: asn1_x509.Certificate,
    role: str,
    at: datetime,
    *,
    skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> CertificateEvidence:
    """Fetch and check revocation evidence for *cert* (issued by *issuer*) through *network*.

    OCSP first (RFC 6960, every AIA responder in turn), then the CRL distribution points
    (RFC 5280 §4.2.1.13) when OCSP is absent or gave no usable answer (``offline``: transport
    failure, error status, bad signature, CertID mismatch, or not fresh at *at*). A definite
    ``revoked`` or ``unknown`` is final. Anything but ``good`` raises :class:`SigningError` with
    one line naming the certificate, each URL tried and its outcome.
    """
    from ltv.evidence.crl import crl_urls_of, fetch_crl_status
    from ltv.evidence.ocsp import fetch_ocsp
    from ltv.evidence.outcome import RevocationOutcome, RevocationStatus

    attempts: list[RevocationOutcome] = []

    def judge(outcome: RevocationOutcome) -> CertificateEvidence | None:
        ev = CertificateEvidence(
            cert=cert,
            issuer=issuer,
            role=role,
            outcome=outcome,
            ocsp=outcome.raw if outcome.method == "ocsp" else None,
            crl=outcome.raw if outcome.method == "crl" else None,
        )
        if outcome.status is RevocationStatus.GOOD and not ev.fresh_at(at, skew):
            attempts.append(
                RevocationOutcome(
                    status=RevocationStatus.OFFLINE,
                    method=outcome.method,
                    detail=f"not fresh at {at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}",
                    url=outcome.url,
                    this_update=outcome.this_update,
                    next_update=outcome.next_update,
                )
            )
            return None
        attempts.append(outcome)
        if outcome.status is RevocationStatus.GOOD:
            return ev
        if outcome.status in (RevocationStatus.REVOKED, RevocationStatus.UNKNOWN):
            raise SigningError(
                "refusing to sign: " + _refusal(role, cert, [outcome]),
                hint="the CA does not vouch for this certificate; nothing was written",
            )
        return None

    ocsp_urls = list(cert.ocsp_urls)
    for url in ocsp_urls:
        found = judge(fetch_ocsp(network, cert, issuer, url=url, at=at, skew=skew))
        if found is not None:
            return found
    crl_urls = crl_urls_of(cert)
    for url in crl_urls:
        found = judge(fetch_crl_status(network, cert, issuer, url=url, at=at, skew=skew))
        if found is not None:
            return found
    if not ocsp_urls and not crl_urls:
        raise SigningError(
            f"refusing to sign: {role} certificate '{_subject(cert)}' names no OCSP responder "
            "and no CRL distribution point",
            hint="B-LT needs revocation evidence for every certificate; sign at B-T",
        )
    raise SigningError(
        "refusing to sign: " + _refusal(role, cert, attempts),
        hint="no usable revocation evidence; retry later or raise --timeout; nothing was written",
    )


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    evidence: CertificateEvidence | None = None


class EvidenceCache:
    """Good evidence per certificate, reused while fresh; one fetch in flight per certificate.

    Thread-safe and usable from any number of event loops: a caller holding a certificate's slot
    lock fetches; others block on the lock (in a worker thread when called from async code) and
    then find the fresh entry. Only ``good`` evidence with a ``nextUpdate`` is kept; it is dropped
    once the time asked about passes ``nextUpdate`` (one fetch per validity window).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self.fetches = 0
        """Number of fetches performed (cache misses)."""
        self._issuers: dict[str, tuple[asn1_x509.Certificate, ...]] = {}
        self._issuer_locks: dict[str, threading.Lock] = {}
        self.issuer_fetches = 0
        """Number of caIssuers URLs fetched (cache misses)."""

    def _slot(self, cert: asn1_x509.Certificate) -> _Slot:
        key = _fingerprint(cert)
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
            return slot

    def get(
        self,
        cert: asn1_x509.Certificate,
        issuer: asn1_x509.Certificate,
        role: str,
        at: datetime,
        fetch: Fetch,
        *,
        skew: timedelta = DEFAULT_CLOCK_SKEW,
    ) -> CertificateEvidence:
        """Cached evidence fresh at *at*, or the result of ``fetch(cert, issuer, role, at)``."""
        slot = self._slot(cert)
        with slot.lock:
            ev = slot.evidence
            if ev is not None and ev.fresh_at(at, skew):
                return CertificateEvidence(ev.cert, ev.issuer, role, ev.outcome, ev.ocsp, ev.crl)
            self.fetches += 1
            ev = fetch(cert, issuer, role, at)
            if ev.outcome.next_update is not None:
                slot.evidence = ev
            return ev

    def issuer_certs(
        self, url: str, fetch: Callable[[str], Sequence[asn1_x509.Certificate]]
    ) -> tuple[asn1_x509.Certificate, ...]:
        """What the caIssuers *url* served (kept once fetched and parsed), or ``fetch(url)``.

        CA certificates do not change behind a URL within a process's life, so entries do not
        expire; failures are not kept. The caller still checks that a certificate issued the
        child it is used for.
        """
        with self._lock:
            lock = self._issuer_locks.setdefault(url, threading.Lock())
        with lock:
            certs = self._issuers.get(url)
            if certs is None:
                self.issuer_fetches += 1
                certs = tuple(fetch(url))
                self._issuers[url] = certs
            return certs

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()
            self._issuers.clear()


# -- time stamping -----------------------------------------------------------------------------


def _tsa_base() -> type[Any]:
    from pyhanko.sign.timestamps.api import TimeStamper

    return TimeStamper


class LtvTimeStamper:
    """pyHanko ``TimeStamper`` whose RFC 3161 requests go through ltv's HTTP client.

    Built by :func:`make_timestamper` (pyHanko is imported lazily). RFC 3161 §3.4: POST with
    ``Content-Type: application/timestamp-query``; the answer must be
    ``application/timestamp-reply``. pyHanko checks the status and the nonce
    (``handle_tsp_response``); we also check that the token's imprint is the digest we asked for
    (RFC 3161 §2.4.2).
    """


def make_timestamper(url: str, network: Transport) -> Any:
    """A pyHanko ``TimeStamper`` for *url* over *network* (see :class:`LtvTimeStamper`)."""
    base = _tsa_base()

    class _Stamper(base, LtvTimeStamper):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__(include_nonce=True)
            self.url = url
            self.network = network

        async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
            from asn1crypto import tsp as asn1_tsp

            from ltv.evidence.http import HttpError

            headers = {
                "Content-Type": "application/timestamp-query",
                "Accept": "application/timestamp-reply",
            }
            try:
                resp = await asyncio.to_thread(
                    network.request, "POST", url, body=req.dump(), headers=headers
                )
            except HttpError as err:
                raise SigningError(
                    f"refusing to sign: time-stamping authority {url}: offline ({err.detail})",
                    hint="check --tsa and --connect-to, or raise --timeout; nothing was written",
                ) from None
            if resp.content_type != "application/timestamp-reply":
                raise SigningError(
                    f"time-stamping authority {url} answered {resp.content_type or 'no type'}, "
                    "not application/timestamp-reply"
                )
            try:
                parsed = asn1_tsp.TimeStampResp.load(resp.body)
                parsed.native  # noqa: B018 - parse eagerly
            except (ValueError, TypeError):
                raise SigningError(
                    f"time-stamping authority {url} sent a malformed response"
                ) from None
            return parsed

        async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
            from pyhanko.sign.timestamps.common_utils import TimestampRequestError

            try:
                token = await super().async_timestamp(message_digest, md_algorithm)
            except TimestampRequestError as err:
                raise SigningError(f"time-stamping authority {url}: {err}") from None
            from ltv.tst import check_token

            # the same binding checks as verify (ltv.tst): imprint == our digest under our
            # algorithm, TSTInfo == what the TSA signed, TSA certificate named by sid + ESS
            def _expected(algo: str) -> bytes:
                return message_digest if algo == md_algorithm else b""

            check = check_token(token["content"], _expected)
            if not check.imprint_ok:
                raise SigningError(
                    f"time-stamping authority {url} returned a token over another digest"
                )
            if not check.bound:
                raise SigningError(
                    f"time-stamping authority {url} returned a token that does not verify: "
                    + "; ".join(check.problems)
                )
            return token

    return _Stamper()


def _token_signer(
    signed_data: cms.SignedData,
) -> tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]]:
    from pyhanko.sign.general import extract_certificate_info

    info = extract_certificate_info(signed_data)
    if info.signer_cert is None:
        raise InputError("a timestamp token does not carry its TSA certificate")
    return info.signer_cert, list(info.other_certs)


def _gen_time(signed_data: cms.SignedData) -> datetime:
    value: datetime = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    return value.astimezone(UTC)


# -- PDF plumbing ------------------------------------------------------------------------------


def _writer(pdf: bytes) -> Any:
    """An incremental writer over a copy of *pdf*; :class:`InputError` if it is not a usable PDF."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError

    if not pdf.lstrip()[:5].startswith(b"%PDF"):
        raise InputError("input is not a PDF file (no %PDF header)")
    try:
        w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as err:
        raise InputError(f"cannot read the PDF: {' '.join(str(err).split())}") from None
    if w.security_handler is not None:
        raise InputError("encrypted PDFs are not supported")
    return w


def _reader(pdf: bytes) -> Any:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        return PdfFileReader(io.BytesIO(pdf))
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as err:
        raise InputError(f"cannot read the PDF: {' '.join(str(err).split())}") from None


def _add_dss(
    writer: Any,
    evidence: Iterable[CertificateEvidence],
    *,
    certs: Iterable[asn1_x509.Certificate] = (),
    vri_for: bytes | None = None,
) -> None:
    """Put certificates, OCSP responses and CRLs in the DSS (EN 319 142-1 §5.4.2.2, VRI).

    ``vri_for`` is the signature's /Contents (with padding): its SHA-1 names the VRI entry.
    """
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    all_certs: dict[str, asn1_x509.Certificate] = {}
    ocsps: dict[bytes, Any] = {}
    crls: dict[bytes, Any] = {}
    for c in certs:
        all_certs.setdefault(_fingerprint(c), c)
    for ev in evidence:
        for c in (ev.cert, ev.issuer):
            all_certs.setdefault(_fingerprint(c), c)
        if ev.ocsp is not None:
            ocsps.setdefault(ev.ocsp, asn1_ocsp.OCSPResponse.load(ev.ocsp))
        if ev.crl is not None:
            crls.setdefault(ev.crl, asn1_crl.CertificateList.load(ev.crl))
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        vri_for,
        certs=list(all_certs.values()),
        ocsps=list(ocsps.values()),
        crls=list(crls.values()),
    )


def embed_evidence(
    pdf: bytes,
    *,
    ocsps: Iterable[bytes] = (),
    crls: Iterable[bytes] = (),
    certs: Iterable[asn1_x509.Certificate] = (),
    vri_field: str | None = None,
) -> bytes:
    """Append a DSS update holding the given OCSP responses, CRLs and certificates *as is*.

    No fetching and no judging: this is the tool for building fixtures (e.g. a document whose
    DSS says 'revoked') and for importing evidence obtained elsewhere. ``vri_field`` names the
    signature whose VRI entry (EN 319 142-1 §5.4.2.2) should list the data.
    """
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    vri_for = None
    if vri_field is not None:
        reader = _reader(pdf)
        match = [s for s in reader.embedded_signatures if s.field_name == vri_field]
        if not match:
            raise InputError(f"no signature field {vri_field!r}")
        vri_for = match[0].pkcs7_content
    writer = _writer(pdf)
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        vri_for,
        certs=list(certs),
        ocsps=[asn1_ocsp.OCSPResponse.load(d) for d in ocsps],
        crls=[asn1_crl.CertificateList.load(d) for d in crls],
    )
    return _write_update(writer)


def _write_update(writer: Any) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _now(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None or at.utcoffset() is None:
        raise UsageError("signing time must be timezone-aware")
    return at.astimezone(UTC)


def _run(coro: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise UsageError("called the synchronous API inside a running event loop; await the a* method")


# -- the shared evidence / timestamp engine -----------------------------------------------------


class _Engine:
    """What Signer and Extender share: network, certificate pool, cache, TSA clients."""

    def __init__(
        self,
        *,
        network: Transport,
        extra_certs: Iterable[asn1_x509.Certificate],
        cache: EvidenceCache | None,
        skew: timedelta,
    ) -> None:
        self.network = network
        self.extra_certs = list(extra_certs)
        self.cache = cache
        self.issuer_cache = cache if cache is not None else EvidenceCache()
        """Where certificates fetched from caIssuers URLs are kept (the Signer's cache)."""
        self.skew = skew
        self._stampers: dict[str, Any] = {}
        self._stamper_lock = threading.Lock()
        self._chains: dict[str, list[asn1_x509.Certificate]] = {}

    def stamper(self, url: str) -> Any:
        """One pyHanko TimeStamper per TSA URL, reused (its size-estimating token is cached)."""
        with self._stamper_lock:
            st = self._stampers.get(url)
            if st is None:
                st = self._stampers[url] = make_timestamper(url, self.network)
            return st

    def _fetch(
        self, cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate, role: str, at: datetime
    ) -> CertificateEvidence:
        return fetch_evidence(self.network, cert, issuer, role, at, skew=self.skew)

    def _evidence_sync(
        self, chain: Sequence[asn1_x509.Certificate], role: str, at: datetime, *, fresh: bool
    ) -> list[CertificateEvidence]:
        out: list[CertificateEvidence] = []
        for i, cert in enumerate(chain[:-1]):
            r = role if i == 0 else f"{role} CA"
            if self.cache is None or fresh:
                out.append(self._fetch(cert, chain[i + 1], r, at))
            else:
                out.append(self.cache.get(cert, chain[i + 1], r, at, self._fetch, skew=self.skew))
        return out

    async def evidence(
        self,
        chain: Sequence[asn1_x509.Certificate],
        role: str,
        at: datetime,
        *,
        fresh: bool = False,
    ) -> list[CertificateEvidence]:
        """Checked evidence for every non-root certificate of *chain* (leaf first)."""
        return await asyncio.to_thread(self._evidence_sync, chain, role, at, fresh=fresh)

    def build_chain(
        self,
        leaf: asn1_x509.Certificate,
        others: Iterable[asn1_x509.Certificate],
        *,
        role: str,
    ) -> list[asn1_x509.Certificate]:
        """:func:`build_chain` over *others* + the engine's certificates; a missing issuer is
        fetched from caIssuers through the engine's network (kept in its issuer cache)."""
        return build_chain(
            leaf,
            [*others, *self.extra_certs],
            role=role,
            network=self.network,
            cache=self.issuer_cache,
        )

    async def chain_of(
        self,
        leaf: asn1_x509.Certificate,
        others: Iterable[asn1_x509.Certificate],
        *,
        role: str,
    ) -> list[asn1_x509.Certificate]:
        """:meth:`build_chain` (in a worker thread: it may fetch), memoised per leaf.

        The pool only grows by what tokens carry, so a chain found once stays valid; a
        busy signer then checks each TSA chain's signatures once, not once per document.
        """
        key = _fingerprint(leaf)
        chain = self._chains.get(key)
        if chain is None:
            others = list(others)
            chain = await asyncio.to_thread(self.build_chain, leaf, others, role=role)
            self._chains[key] = chain
        return chain

    async def tsa_chain_of_stamper(self, url: str, md: str) -> list[asn1_x509.Certificate]:
        """The chain of the TSA at *url*, learned from its (cached) size-estimating token."""
        token = await self.stamper(url).async_dummy_response(md)
        tsa_cert, others = _token_signer(token["content"])
        return await self.chain_of(tsa_cert, others, role="TSA")

    async def document_timestamp(
        self,
        writer: Any,
        url: str,
        md: str,
        at: datetime,
        covered: dict[str, CertificateEvidence],
        *,
        fresh: bool,
    ) -> bytes:
        """Add evidence for the TSA's chain to the DSS, then a document timestamp over it.

        EN 319 142-1 §5.4.3: the document timestamp's ByteRange covers the whole revision,
        including the DSS just updated, so the evidence is itself protected by it. If the
        token's TSA certificate turns out to differ from the one the TSA announced, its
        evidence is added in one more (uncovered) DSS update, keyed to the new timestamp.
        """
        from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

        chain = await self.tsa_chain_of_stamper(url, md)
        new = [
            ev
            for ev in await self.evidence(chain, "TSA", at, fresh=fresh)
            if _fingerprint(ev.cert) not in covered
        ]
        for ev in new:
            covered[_fingerprint(ev.cert)] = ev
        _add_dss(writer, new, certs=chain)
        recorder = _RecordingStamper(self.stamper(url))
        duck: Any = recorder  # a TimeStamper by duck typing (the two methods pyHanko calls)
        out = await PdfTimeStamper(duck).async_timestamp_pdf(writer, md, output=io.BytesIO())
        out.seek(0)
        data: bytes = out.read()
        # The token actually returned (recorded, not re-read from the PDF): is its TSA
        # certificate the one we covered?
        if recorder.token is None:  # pragma: no cover - pyHanko always asks for one
            raise SigningError("internal error: no document timestamp token was requested")
        token_sd = recorder.token["content"]
        tsa_cert, others = _token_signer(token_sd)
        if _fingerprint(tsa_cert) not in covered:
            # Rare (the TSA switched certificates since its size-estimating token): the new
            # chain's evidence goes in one more DSS update, keyed to this timestamp's VRI.
            tchain = await self.chain_of(tsa_cert, others, role="TSA")
            extra = await self.evidence(tchain, "TSA", _gen_time(token_sd), fresh=fresh)
            last = _reader(data).embedded_timestamp_signatures[-1]
            w2 = _writer(data)
            _add_dss(w2, extra, certs=tchain, vri_for=last.pkcs7_content)
            data = _write_update(w2)
        return data


class _RecordingStamper:
    """A per-call view of a shared pyHanko TimeStamper that remembers the token it got.

    ``PdfTimeStamper.async_timestamp_pdf`` uses ``async_dummy_response`` (size estimate, cached
    by the shared stamper) and ``async_timestamp`` (the real request); the shared stamper
    serves concurrent requests, so the token is recorded here, per call.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.token: cms.ContentInfo | None = None

    async def async_dummy_response(self, md_algorithm: str) -> Any:
        return await self._inner.async_dummy_response(md_algorithm)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        token = await self._inner.async_timestamp(message_digest, md_algorithm)
        self.token = token
        return token

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# -- Signer ------------------------------------------------------------------------------------


class Signer:
    """Signs PDFs at a PAdES baseline level with one key (ETSI EN 319 142-1 §6).

    Build with :meth:`from_pkcs12` or :meth:`from_pem`. ``network`` is the only way out (an
    ``HttpClient`` with its ``connect_to`` map and timeout); ``extra_certs`` completes chains
    (e.g. the TSA's CA, which RFC 3161 tokens usually omit) and wins over fetching: a CA
    certificate missing from them is fetched from the caIssuers URL of the certificate it issued
    (through ``network``) and kept in the :class:`EvidenceCache`. One Signer can serve many
    concurrent requests: :meth:`asign` is safe to run concurrently, and the evidence for the
    signer's chain and the TSA's chain is shared through the :class:`EvidenceCache`.
    """

    def __init__(
        self,
        *,
        key: PrivateKeyTypes,
        cert: pyca_x509.Certificate,
        chain: Sequence[pyca_x509.Certificate] = (),
        policy: SigningPolicy,
        network: Transport | None = None,
        extra_certs: Sequence[pyca_x509.Certificate] = (),
        cache: EvidenceCache | None = None,
    ) -> None:
        from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
        from pyhanko.sign.signers.pdf_cms import SimpleSigner
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        if network is None:
            from ltv.evidence.http import NoNetwork

            network = NoNetwork()
        self.policy = policy
        self._cert = _to_asn1(cert)
        self._chain_certs = [_to_asn1(c) for c in chain]
        extras = [_to_asn1(c) for c in extra_certs]
        try:
            kinfo = translate_pyca_cryptography_key_to_asn1(key)
        except (ValueError, TypeError, NotImplementedError) as err:
            raise InputError(f"unsupported private key: {err}") from None
        self._pyhanko_signer = SimpleSigner(
            signing_cert=self._cert,
            signing_key=kinfo,
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [self._cert, *self._chain_certs]
            ),
        )
        self._check_key_matches(key, cert)
        self.cache = cache if cache is not None else EvidenceCache()
        self._engine = _Engine(
            network=network,
            extra_certs=[*self._chain_certs, *extras],
            cache=self.cache,
            skew=policy.clock_skew,
        )
        self._full_chain: list[asn1_x509.Certificate] | None = None

    @staticmethod
    def _check_key_matches(key: PrivateKeyTypes, cert: pyca_x509.Certificate) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        pub = key.public_key()
        if pub.public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        ) != cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo):
            raise InputError("the private key does not belong to the certificate")

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_pkcs12(
        cls,
        path: str | os.PathLike[str],
        passphrase: str | bytes | None,
        *,
        policy: SigningPolicy,
        network: Transport | None = None,
        chain: Iterable[str | os.PathLike[str]] = (),
        cache: EvidenceCache | None = None,
    ) -> Signer:
        """Key, certificate and CA certificates from a PKCS#12 file (plus PEM ``chain`` files)."""
        from cryptography.hazmat.primitives.serialization import pkcs12

        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise InputError(f"cannot read {str(path)!r}: {err.strerror}") from None
        pw = passphrase.encode() if isinstance(passphrase, str) else passphrase
        try:
            key, cert, others = pkcs12.load_key_and_certificates(data, pw)
        except ValueError:
            raise InputError(
                f"cannot open PKCS#12 file {str(path)!r}: wrong passphrase or not PKCS#12",
                hint="check the passphrase (--passphrase-env VAR)",
            ) from None
        if key is None or cert is None:
            raise InputError(f"PKCS#12 file {str(path)!r} holds no key and certificate")
        extra = _pyca_certs(chain)
        return cls(
            key=key,
            cert=cert,
            chain=[*others, *extra],
            policy=policy,
            network=network,
            cache=cache,
        )

    @classmethod
    def from_pem(
        cls,
        key: str | os.PathLike[str],
        cert: str | os.PathLike[str],
        *,
        chain: Iterable[str | os.PathLike[str]] = (),
        passphrase: str | bytes | None = None,
        policy: SigningPolicy,
        network: Transport | None = None,
        cache: EvidenceCache | None = None,
    ) -> Signer:
        """Key (PEM/DER, optionally encrypted), certificate and CA certificates from files."""
        from cryptography.hazmat.primitives.serialization import (
            load_der_private_key,
            load_pem_private_key,
        )

        try:
            key_data = Path(key).read_bytes()
        except OSError as err:
            raise InputError(f"cannot read key file {str(key)!r}: {err.strerror}") from None
        pw = passphrase.encode() if isinstance(passphrase, str) else passphrase
        loader = load_pem_private_key if b"-----BEGIN" in key_data else load_der_private_key
        try:
            pkey = loader(key_data, pw)
        except TypeError as err:
            raise InputError(
                f"key file {str(key)!r}: {err}",
                hint="give the passphrase with --passphrase-env VAR",
            ) from None
        except ValueError:
            raise InputError(
                f"cannot load private key {str(key)!r}: wrong passphrase or not a key"
            ) from None
        certs = _pyca_certs([cert])
        if not certs:
            raise InputError(f"no certificate in {str(cert)!r}")
        return cls(
            key=pkey,
            cert=certs[0],
            chain=[*certs[1:], *_pyca_certs(chain)],
            policy=policy,
            network=network,
            cache=cache,
        )

    # -- signing -----------------------------------------------------------------------------

    @property
    def subject(self) -> str:
        """RFC 4514 subject of the signing certificate."""
        return _subject(self._cert)

    def chain(self) -> list[asn1_x509.Certificate]:
        """Signer → … → root (asn1crypto), built from the certificates given; a CA certificate
        missing from them is fetched from the caIssuers URL of the one it issued."""
        if self._full_chain is None:
            self._full_chain = self._engine.build_chain(self._cert, (), role="signer")
        return self._full_chain

    def sign(
        self,
        pdf: bytes,
        *,
        field: str | None = None,
        reason: str | None = None,
        location: str | None = None,
        at: datetime | None = None,
    ) -> bytes:
        """Synchronous :meth:`asign` (not inside a running event loop)."""
        result: bytes = _run(self.asign(pdf, field=field, reason=reason, location=location, at=at))
        return result

    async def asign(
        self,
        pdf: bytes,
        *,
        field: str | None = None,
        reason: str | None = None,
        location: str | None = None,
        at: datetime | None = None,
    ) -> bytes:
        """Sign *pdf* and return the signed bytes (the input is a byte-identical prefix).

        ``at`` is the claimed signing time (``/M``) and the time at which the evidence must be
        fresh; default: now (UTC). Raises :class:`SigningError` (nothing produced) if any
        evidence is not ``good``, or the TSA fails; :class:`InputError` for unusable input.
        """
        try:
            return await self._asign(pdf, field=field, reason=reason, location=location, at=at)
        except LtvError:
            raise
        except Exception as err:
            from pyhanko.sign.general import SigningError as PyHankoSigningError

            if isinstance(err, PyHankoSigningError):
                raise SigningError(f"pyHanko refused to sign: {err}") from None
            raise

    async def _asign(
        self,
        pdf: bytes,
        *,
        field: str | None,
        reason: str | None,
        location: str | None,
        at: datetime | None,
    ) -> bytes:
        from pyhanko.sign.fields import SigSeedSubFilter
        from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner

        policy = self.policy
        level = policy.level
        md = policy.md_algorithm
        when = _now(at)
        field_name = field or policy.field
        writer = _writer(pdf)
        if _field_is_signed(pdf, field_name):
            raise InputError(
                f"field {field_name!r} is already signed", hint="choose another --field name"
            )

        # (0) RFC 5280 §4.1.2.5: a certificate outside its validity period cannot sign now.
        _check_validity(self._cert, "signer", when)
        covered: dict[str, CertificateEvidence] = {}
        chain: list[asn1_x509.Certificate] = []
        if level.needs_evidence:
            # (1) fail fast: the signer's own chain before any timestamp is requested.
            chain = await asyncio.to_thread(self.chain)
            for ca in chain[1:]:
                _check_validity(ca, "CA", when)
            for ev in await self._engine.evidence(chain, "signer", when):
                covered[_fingerprint(ev.cert)] = ev

        # (2) EN 319 142-1 §6.3 B-B/B-T: CMS with /SubFilter /ETSI.CAdES.detached; for B-T an
        # RFC 3161 signature-time-stamp over the signature value (§6.3 Table 1).
        meta = PdfSignatureMetadata(
            field_name=field_name,
            reason=reason,
            location=location,
            md_algorithm=md,
            subfilter=SigSeedSubFilter.PADES,
        )
        stamper = (
            self._engine.stamper(policy.tsa_url) if policy.tsa_url and level.needs_tsa else None
        )
        pdf_signer = PdfSigner(meta, signer=self._pyhanko_signer, timestamper=stamper)
        signed, contents = await _sign_at_with_contents(pdf_signer, writer, when)
        if not level.needs_evidence:
            return signed

        # (3) B-LT: the TSA certificate arrives inside the token: collect its chain's evidence.
        # The token is read from the /Contents just written (no second parse of the PDF).
        from asn1crypto import cms as asn1_cms
        from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

        signed_data = asn1_cms.ContentInfo.load(contents)["content"]
        (signer_info,) = signed_data["signer_infos"]
        tsa_chains: list[list[asn1_x509.Certificate]] = []
        for tst in extract_tst_data_iter(signer_info, signed=False):
            tsa_cert, others = _token_signer(tst)
            tchain = await self._engine.chain_of(tsa_cert, others, role="TSA")
            tsa_chains.append(tchain)
            for ev in await self._engine.evidence(tchain, "TSA", _gen_time(tst)):
                covered.setdefault(_fingerprint(ev.cert), ev)

        # (4) EN 319 142-1 §5.4.2: DSS with certificates, OCSP responses, CRLs; VRI keyed by
        # SHA-1 of the signature's /Contents (§5.4.2.2).
        w2 = _writer(signed)
        all_certs = [*chain, *(c for tc in tsa_chains for c in tc)]
        _add_dss(w2, covered.values(), certs=all_certs, vri_for=contents)
        if not level.needs_document_timestamp:
            return _write_update(w2)

        # (5) B-LTA: evidence for the document timestamp's TSA, then the timestamp over the DSS.
        assert policy.tsa_url is not None  # noqa: S101 - guaranteed by SigningPolicy
        return await self._engine.document_timestamp(
            w2, policy.tsa_url, md, when, covered, fresh=False
        )


def _check_validity(cert: asn1_x509.Certificate, role: str, when: datetime) -> None:
    validity = cert["tbs_certificate"]["validity"]
    not_before: datetime = validity["not_before"].native
    not_after: datetime = validity["not_after"].native
    if not not_before <= when <= not_after:
        state = "expired" if when > not_after else "not yet valid"
        raise SigningError(
            f"refusing to sign: {role} certificate '{_subject(cert)}' is {state} at "
            f"{when:%Y-%m-%dT%H:%M:%SZ} (valid {not_before:%Y-%m-%dT%H:%M:%SZ} .. "
            f"{not_after:%Y-%m-%dT%H:%M:%SZ})"
        )


def _field_is_signed(pdf: bytes, field_name: str) -> bool:
    reader = _reader(pdf)
    try:
        return any(s.field_name == field_name for s in reader.embedded_signatures)
    except Exception:
        return False


def _pyca_certs(paths: Iterable[str | os.PathLike[str]]) -> list[pyca_x509.Certificate]:
    from cryptography import x509 as pyca

    return [pyca.load_der_x509_certificate(c.dump()) for c in load_certificate_files(paths)]


async def _sign_at(pdf_signer: Any, writer: Any, when: datetime) -> bytes:
    """pyHanko's ``PdfSigner.async_sign_pdf`` with an explicit signing time (``/M``)."""
    data, _contents = await _sign_at_with_contents(pdf_signer, writer, when)
    return data


async def _sign_at_with_contents(
    pdf_signer: Any, writer: Any, when: datetime
) -> tuple[bytes, bytes]:
    """:func:`_sign_at`, also returning the signature's ``/Contents`` (CMS + zero padding).

    pyHanko reads the local clock for the session's ``system_time``; the steps below are those
    of ``async_sign_pdf`` with the session time set to *when*. The ``/Contents`` bytes are cut
    from the reserved region pyHanko filled (exactly what a reader's ``pkcs7_content`` would
    give), so the caller need not parse the signed PDF again to find the signature.
    """
    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    session = pdf_signer.init_signing_session(writer)
    session.system_time = when
    validation_info = await session.perform_presign_validation(writer)
    bytes_reserved = await session.estimate_signature_container_size(validation_info)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info, bytes_reserved=bytes_reserved
    )
    prepared, output = tbs.digest_tbs_document(in_place=False, output=io.BytesIO())
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=when,
            cades_signed_attrs=pdf_signer.signature_meta.cades_signed_attr_spec,
        ),
    )
    await post.post_signature_processing(output)
    output.seek(0)
    data: bytes = output.read()
    # The reserved region is '<' + hex + '>' (pdf_byterange.fill_reserved_region).
    hex_contents = data[prepared.reserved_region_start + 1 : prepared.reserved_region_end - 1]
    return data, bytes.fromhex(hex_contents.decode("ascii"))


# -- Extender ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtendResult:
    """What :meth:`Extender.aextend` did (besides returning the new bytes)."""

    data: bytes
    timestamps_refreshed: int
    """How many earlier timestamps (signature + document) got fresh evidence."""
    certificates_checked: tuple[str, ...]
    """Subjects whose evidence was fetched and embedded."""


class Extender:
    """Archive renewal (EN 319 142-1 §5.5): fresh evidence for every embedded timestamp's chain,
    then one new document timestamp — one incremental update.

    :param tsa_url: the TSA for the new document timestamp.
    :param network: the evidence client.
    :param trust: anchors; when given, every timestamp chain must end at one of them.
    :param extra_certs: CA certificates to complete chains (besides those in the document);
        a CA certificate still missing is fetched from caIssuers through *network*.
    """

    def __init__(
        self,
        *,
        tsa_url: str,
        network: Transport | None = None,
        trust: Sequence[asn1_x509.Certificate] = (),
        extra_certs: Sequence[asn1_x509.Certificate] = (),
        md_algorithm: str = DEFAULT_MD,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    ) -> None:
        if not tsa_url:
            raise PolicyError("extend needs a time-stamping authority (--tsa URL)")
        if network is None:
            from ltv.evidence.http import NoNetwork

            network = NoNetwork()
        self.tsa_url = tsa_url
        self.md_algorithm = md_algorithm
        self.trust = list(trust)
        self._extra = list(extra_certs)
        self._skew = clock_skew
        self._network = network

    def extend(self, pdf: bytes, *, at: datetime | None = None) -> bytes:
        """Synchronous :meth:`aextend`."""
        result: ExtendResult = _run(self.aextend(pdf, at=at))
        return result.data

    async def aextend(self, pdf: bytes, *, at: datetime | None = None) -> ExtendResult:
        """Renew *pdf*; returns the new bytes (*pdf* is a byte-identical prefix of them)."""
        try:
            return await self._aextend(pdf, at=at)
        except LtvError:
            raise
        except Exception as err:
            from pyhanko.sign.general import SigningError as PyHankoSigningError

            if isinstance(err, PyHankoSigningError):
                raise SigningError(f"pyHanko refused to timestamp: {err}") from None
            raise

    def _check_anchor(self, chain: Sequence[asn1_x509.Certificate]) -> None:
        if not self.trust:
            return
        top = chain[-1]
        if not any(t.dump() == top.dump() for t in self.trust):
            raise SigningError(
                f"refusing to extend: the chain of TSA certificate '{_subject(chain[0])}' ends at "
                f"'{_subject(top)}', which is not among the --trust anchors"
            )

    async def _aextend(self, pdf: bytes, *, at: datetime | None) -> ExtendResult:
        from pyhanko.sign.validation.dss import DocumentSecurityStore
        from pyhanko.sign.validation.errors import NoDSSFoundError
        from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

        when = _now(at)
        writer = _writer(pdf)
        reader = _reader(pdf)
        try:
            sigs = list(reader.embedded_signatures)
        except Exception as err:
            raise InputError(f"cannot read the signatures: {err}") from None
        if not sigs:
            raise InputError("the PDF has no signature to extend")
        try:
            dss = DocumentSecurityStore.read_dss(reader)
        except NoDSSFoundError:
            raise InputError(
                "the PDF has no DSS (it is not B-LT)",
                hint="extend renews B-LT/B-LTA documents; sign with --level B-LT or B-LTA",
            ) from None
        pool = [*dss.load_certs(), *self._extra, *self.trust]

        # (1) Every timestamp already in the document: signature timestamps and document
        # timestamps, with the signature they belong to (for the VRI key).
        tokens: list[tuple[Any, cms.SignedData, bool]] = []
        for emb in sigs:
            if emb.sig_object_type == "/DocTimeStamp":
                tokens.append((emb, emb.signed_data, True))
            else:
                tokens.extend(
                    (emb, tst, False)
                    for tst in extract_tst_data_iter(emb.signer_info, signed=False)
                )
        if not tokens:
            raise InputError(
                "the PDF has no timestamp to renew", hint="sign at B-LT or B-LTA first"
            )

        # (2) Fresh evidence for each timestamp's TSA chain, checked at `when` (now).
        engine = _Engine(
            network=self._network,
            extra_certs=pool,
            cache=None,
            skew=self._skew,
        )
        covered: dict[str, CertificateEvidence] = {}
        checked: list[str] = []
        for emb, tst, is_doc_ts in tokens:
            tsa_cert, others = _token_signer(tst)
            chain = await engine.chain_of(tsa_cert, others, role="TSA")
            self._check_anchor(chain)
            new: list[CertificateEvidence] = []
            for ev in await engine.evidence(chain, "TSA", when, fresh=True):
                fp = _fingerprint(ev.cert)
                if fp not in covered:
                    covered[fp] = ev
                    checked.append(ev.subject)
                new.append(covered[fp])
            # VRI for document timestamps (they have none yet); for signatures the VRI made
            # at signing time is kept and the new evidence goes to the DSS arrays only.
            _add_dss(writer, new, certs=chain, vri_for=emb.pkcs7_content if is_doc_ts else None)

        # (3) One new document timestamp over the lot (EN 319 142-1 §5.4.3).
        data = await engine.document_timestamp(
            writer, self.tsa_url, self.md_algorithm, when, covered, fresh=True
        )
        if not data.startswith(pdf):  # pragma: no cover - incremental update by construction
            raise SigningError("internal error: the update is not incremental")
        return ExtendResult(
            data=data, timestamps_refreshed=len(tokens), certificates_checked=tuple(checked)
        )
