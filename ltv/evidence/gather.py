"""Gathering what a signature relies on: certificate chains and checked revocation evidence.

* :func:`build_chain` completes a chain from the certificates at hand and, for a CA certificate
  still missing, from the caIssuers URL of the certificate it issued (RFC 5280 §4.2.2.1) — used
  only if its key verifies that certificate's signature (a name match proves nothing).
* :func:`fetch_evidence` asks the certificate's OCSP responders (RFC 6960), then its CRL
  distribution points (RFC 5280 §4.2.1.13) when OCSP gives no usable answer, and checks what
  comes back: signature, CertID, freshness at the moment asked about. Anything but ``good`` is a
  :class:`~ltv.errors.SigningError` naming the certificate, each URL tried and its outcome.
  Evidence a responder serves that ltv's parsers cannot read (or choke on) is ``offline`` with
  the cause as detail — never an internal error.
* :class:`Gatherer` does both for an operation (one signature, one extension) through that
  operation's :class:`~ltv.evidence.http.Session`, sharing an
  :class:`~ltv.evidence.cache.EvidenceCache` between operations when it has one, and asking for
  the certificates of a chain concurrently.

>>> from datetime import UTC, datetime
>>> from ltv.evidence.http import NoNetwork
>>> from samples import pki
>>> chain = build_chain(pki.load_cert("signer-good"), [pki.load_cert("interm"),
...                     pki.load_cert("root")], role="signer")
>>> [c.subject.native["common_name"] for c in chain]
['Signer Good', 'ltv Sample Intermediate CA', 'ltv Sample Root CA']
>>> try:
...     fetch_evidence(NoNetwork(), chain[0], chain[1], "signer", datetime.now(UTC))
... except SigningError as err:
...     for part in err.message.split("; "):
...         print(part.split(": ")[-2:])
['OCSP http://pki.ltv.test/ltv/ocsp/interm', 'offline (network-disabled)']
['CRL http://pki.ltv.test/ltv/crls/interm/latest.crl', 'offline (network-disabled)']
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from ltv.certs import fingerprint, is_self_signed, issued_by, parse_certificates, subject
from ltv.errors import InputError, SigningError
from ltv.evidence.cache import CachedEvidence, EvidenceCache
from ltv.names import name_str

if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509

    from ltv.evidence.http import Transport
    from ltv.evidence.outcome import RevocationOutcome

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "MAX_ISSUER_FETCHES",
    "CertificateEvidence",
    "Gatherer",
    "build_chain",
    "ca_issuers_urls",
    "fetch_evidence",
    "fetch_issuer_certs",
    "status_key",
]

DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)
"""Tolerance when judging freshness (thisUpdate slightly after the moment asked about)."""
MAX_ISSUER_FETCHES: Final = 5
"""Most issuer certificates :func:`build_chain` fetches from caIssuers URLs for one chain."""


# -- evidence ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateEvidence:
    """Checked revocation evidence for one certificate, ready for the DSS.

    ``outcome`` is the ltv four-state result; ``ocsp`` / ``crl`` hold the DER that said so
    (exactly one of them is set).
    """

    cert: asn1_x509.Certificate
    issuer: asn1_x509.Certificate
    role: str
    outcome: RevocationOutcome
    ocsp: bytes | None = None
    crl: bytes | None = None

    @property
    def subject(self) -> str:
        return subject(self.cert)

    def fresh_at(self, at: datetime, skew: timedelta) -> bool:
        """Usable at *at*: thisUpdate ≤ at + skew and at ≤ nextUpdate (if any)."""
        o = self.outcome
        if o.this_update is not None and o.this_update > at + skew:
            return False
        return not (o.next_update is not None and at > o.next_update)

    def record(self, key: str, fetched_at: datetime) -> CachedEvidence | None:
        """What an :class:`EvidenceCache` keeps of this (``None`` unless good with nextUpdate)."""
        from ltv.evidence.outcome import RevocationStatus

        der = self.ocsp if self.ocsp is not None else self.crl
        o = self.outcome
        if o.status is not RevocationStatus.GOOD or o.next_update is None or der is None:
            return None
        return CachedEvidence(
            key=key,
            kind=o.method,
            subject=self.subject,
            serial=format(self.cert.serial_number, "x"),
            url=o.url,
            this_update=o.this_update,
            next_update=o.next_update,
            fetched_at=fetched_at,
            der=der,
        )


def status_key(cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> str:
    """The cache key of *cert*'s status: its RFC 6960 §4.1.1 CertID (SHA-1, as RFC 5019)."""
    from ltv.evidence.ocsp import CertId

    cid = CertId.for_cert(cert, issuer, "sha1")
    return f"certid:sha1:{cid.issuer_name_hash.hex()}:{cid.issuer_key_hash.hex()}:{cid.serial:x}"


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
    return f"{role} certificate '{subject(cert)}': " + "; ".join(parts)


def _unreadable(method: str, url: str, err: Exception) -> RevocationOutcome:
    """What the parsers could not make sense of is evidence that says nothing (offline)."""
    from ltv.evidence.outcome import RevocationOutcome, RevocationStatus

    why = " ".join(str(err).split())[:120]
    detail = f"unusable response: {type(err).__name__}" + (f": {why}" if why else "")
    return RevocationOutcome(
        status=RevocationStatus.OFFLINE,
        method="ocsp" if method == "ocsp" else "crl",
        detail=detail,
        url=url,
    )


CrlSource = Callable[[str], bytes]
"""Gets the DER of the CRL at a URL (raises ``HttpError``)."""


def fetch_evidence(
    network: Transport,
    cert: asn1_x509.Certificate,
    issuer: asn1_x509.Certificate,
    role: str,
    at: datetime,
    *,
    skew: timedelta = DEFAULT_CLOCK_SKEW,
    crl_source: CrlSource | None = None,
    verb: str = "sign",
) -> CertificateEvidence:
    """Fetch and check revocation evidence for *cert* (issued by *issuer*) through *network*.

    OCSP first (every AIA responder in turn), then the CRL distribution points when OCSP is
    absent or gave no usable answer (``offline``: transport failure, error status, bad
    signature, CertID mismatch, malformed, or not fresh at *at*). A definite ``revoked`` or
    ``unknown`` is final. Anything but ``good`` raises :class:`SigningError` (one line).
    ``crl_source`` gets a CRL's DER by URL (e.g. through a cache); default: fetch it.
    ``verb`` names the refused operation in messages ("refusing to sign: ...").
    """
    from ltv.evidence.crl import check_crl, crl_urls_of, fetch_crl
    from ltv.evidence.http import HttpError
    from ltv.evidence.ocsp import fetch_ocsp
    from ltv.evidence.outcome import RevocationOutcome, RevocationStatus

    attempts: list[RevocationOutcome] = []
    get_crl: CrlSource = crl_source or (lambda url: fetch_crl(network, url))

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
                f"refusing to {verb}: " + _refusal(role, cert, [outcome]),
                hint="the CA does not vouch for this certificate; nothing was written",
            )
        return None

    def ocsp_outcome(url: str) -> RevocationOutcome:
        try:
            return fetch_ocsp(network, cert, issuer, url=url, at=at, skew=skew)
        except Exception as err:  # a parser choking on what the responder sent
            return _unreadable("ocsp", url, err)

    def crl_outcome(url: str) -> RevocationOutcome:
        try:
            der = get_crl(url)
        except HttpError as err:
            return RevocationOutcome(
                status=RevocationStatus.OFFLINE, method="crl", detail=err.detail, url=url
            )
        except Exception as err:
            return _unreadable("crl", url, err)
        try:
            return check_crl(der, cert, issuer, at=at, skew=skew, url=url)
        except Exception as err:
            return _unreadable("crl", url, err)

    try:
        ocsp_urls = [str(u) for u in cert.ocsp_urls]
        crl_urls = crl_urls_of(cert)
    except Exception as err:  # an undecodable AIA / CRLDP extension
        raise SigningError(
            f"refusing to {verb}: {role} certificate '{subject(cert)}': cannot read its "
            f"OCSP/CRL URLs ({type(err).__name__})"
        ) from None
    for url in ocsp_urls:
        found = judge(ocsp_outcome(url))
        if found is not None:
            return found
    for url in crl_urls:
        found = judge(crl_outcome(url))
        if found is not None:
            return found
    if not ocsp_urls and not crl_urls:
        raise SigningError(
            f"refusing to {verb}: {role} certificate '{subject(cert)}' names no OCSP responder "
            "and no CRL distribution point",
            hint="B-LT needs revocation evidence for every certificate; sign at B-T",
        )
    raise SigningError(
        f"refusing to {verb}: " + _refusal(role, cert, attempts),
        hint="no usable revocation evidence; retry later or raise --timeout; nothing was written",
    )


def _revive(
    record: CachedEvidence, cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate, role: str
) -> CertificateEvidence | None:
    """Evidence read back from a cache file, checked again (signature, CertID) before use."""
    from ltv.evidence.crl import check_crl
    from ltv.evidence.ocsp import check_ocsp_response
    from ltv.evidence.outcome import RevocationStatus

    try:
        if record.kind == "ocsp":
            outcome = check_ocsp_response(record.der, cert, issuer, url=record.url)
        elif record.kind == "crl":
            outcome = check_crl(record.der, cert, issuer, url=record.url)
        else:
            return None
    except Exception:  # a damaged cache file: fetch again
        return None
    if outcome.status is not RevocationStatus.GOOD or outcome.next_update != record.next_update:
        return None
    return CertificateEvidence(
        cert=cert,
        issuer=issuer,
        role=role,
        outcome=outcome,
        ocsp=record.der if record.kind == "ocsp" else None,
        crl=record.der if record.kind == "crl" else None,
    )


# -- chains ------------------------------------------------------------------------------------


def ca_issuers_urls(cert: asn1_x509.Certificate) -> list[str]:
    """The HTTP(S) caIssuers URLs of *cert*'s Authority Information Access (RFC 5280 §4.2.2.1)."""
    try:
        aia = cert.authority_information_access_value
    except Exception:  # an undecodable extension names nothing usable
        return []
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


def fetch_issuer_certs(network: Transport, url: str) -> list[asn1_x509.Certificate]:
    """GET *url* (a caIssuers URL) through *network* and parse what it serves: DER or PEM
    certificate(s), or a certs-only PKCS#7 (RFC 5280 §4.2.2.1).

    Raises :class:`ltv.evidence.http.HttpError` (transport) or :class:`ValueError` (content).
    """
    resp = network.request(
        "GET",
        url,
        headers={"Accept": "application/pkix-cert, application/pkcs7-mime;q=0.9, */*;q=0.5"},
    )
    try:
        return parse_certificates(resp.body)
    except InputError:
        raise ValueError("not a certificate or a PKCS#7 certs-only bundle") from None


def _issuers_record(
    url: str, certs: Sequence[asn1_x509.Certificate], now: datetime
) -> CachedEvidence:
    from ltv.certs import to_pem

    not_after = max(c["tbs_certificate"]["validity"]["not_after"].native for c in certs)
    return CachedEvidence(
        key=f"ca-issuers:{url}",
        kind="ca-issuers",
        subject=url,
        serial=None,
        url=url,
        this_update=None,
        next_update=not_after,
        fetched_at=now,
        der="".join(to_pem(c) for c in certs).encode("ascii"),
    )


_Certs = tuple["asn1_x509.Certificate", ...]


def _fetch_issuer(
    network: Transport,
    cache: EvidenceCache | None,
    child: asn1_x509.Certificate,
    urls: Sequence[str],
    failures: list[str],
    at: datetime,
) -> asn1_x509.Certificate | None:
    """The first certificate served at one of *urls* that issued *child* (signature checked);
    appends ``caIssuers URL: why`` to *failures* for every URL that gave none."""
    from ltv.evidence.http import HttpError

    for url in urls:
        try:
            if cache is not None:

                def fetch(
                    u: str = url,
                ) -> tuple[CachedEvidence | None, tuple[asn1_x509.Certificate, ...]]:
                    got = tuple(fetch_issuer_certs(network, u))
                    return _issuers_record(u, got, at), got

                served = cache.get(
                    f"ca-issuers:{url}",
                    at,
                    fetch,
                    revive=lambda r: tuple(parse_certificates(r.der)),
                    kind="ca-issuers",
                )
            else:
                served = tuple(fetch_issuer_certs(network, url))
        except HttpError as err:
            failures.append(f"caIssuers {url}: {err.detail}")
            continue
        except ValueError as err:
            failures.append(f"caIssuers {url}: {err}")
            continue
        found = next((c for c in served if issued_by(child, c)), None)
        if found is not None:
            return found
        names = ", ".join(f"'{subject(c)}'" for c in served)
        failures.append(f"caIssuers {url}: the certificate served ({names}) did not issue it")
    return None


def build_chain(
    leaf: asn1_x509.Certificate,
    pool: Iterable[asn1_x509.Certificate],
    *,
    role: str,
    network: Transport | None = None,
    cache: EvidenceCache | None = None,
    max_fetches: int = MAX_ISSUER_FETCHES,
    at: datetime | None = None,
) -> list[asn1_x509.Certificate]:
    """The chain leaf → … → self-signed root, from the certificates in *pool*.

    When the issuer of a certificate is not in *pool* and a *network* is given, it is fetched
    from the certificate's caIssuers URLs (at most *max_fetches* issuers per chain), and used
    only if its key verifies the certificate's signature. *cache* keeps what each URL served
    (while the certificates are valid at *at*). Certificates in *pool* always win.

    Raises :class:`SigningError` naming the certificate whose issuer is missing, with each
    caIssuers URL tried and why it failed.
    """
    candidates = list(pool)
    chain = [leaf]
    current = leaf
    fetched = 0
    moment = at or datetime.now(UTC)
    while not is_self_signed(current):
        issuer = next(
            (c for c in candidates if c.dump() != current.dump() and issued_by(current, c)),
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
                    issuer = _fetch_issuer(network, cache, current, urls, failures, moment)
            if issuer is None:
                detail = f" ({'; '.join(failures)})" if failures else ""
                raise SigningError(
                    f"cannot complete the chain of {role} certificate '{subject(current)}': "
                    f"its issuer '{name_str(current.issuer)}' is not available{detail}",
                    hint="pass the CA certificate with --chain (or --trust for extend)",
                )
            candidates.append(issuer)
        if any(c.dump() == issuer.dump() for c in chain):
            raise SigningError(f"certificate chain of '{subject(leaf)}' loops")
        chain.append(issuer)
        current = issuer
    return chain


# -- one operation's gathering ------------------------------------------------------------------


class Gatherer:
    """Chains and evidence for the operations of one Signer / Extender.

    :param network: the shared transport; operations pass their own session to each call,
        background refreshes get a session of their own over this transport.
    :param cache: shared evidence (``None``: every operation fetches).
    :param pool: certificates that complete chains before anything is fetched.
    :param budget: network budget of a background refresh.
    :param verb: the operation refusals name ("sign", "extend").
    """

    def __init__(
        self,
        *,
        network: Transport,
        cache: EvidenceCache | None,
        pool: Iterable[asn1_x509.Certificate] = (),
        skew: timedelta = DEFAULT_CLOCK_SKEW,
        budget: float | None = None,
        verb: str = "sign",
    ) -> None:
        self.verb = verb
        self.network = network
        self.cache = cache
        self.pool = list(pool)
        self.skew = skew
        self.budget = budget
        self._chains: dict[str, list[asn1_x509.Certificate]] = {}
        self._lock = threading.Lock()

    # chains

    def build_chain(
        self,
        leaf: asn1_x509.Certificate,
        others: Iterable[asn1_x509.Certificate],
        *,
        role: str,
        session: Transport,
        at: datetime,
    ) -> list[asn1_x509.Certificate]:
        return build_chain(
            leaf, [*others, *self.pool], role=role, network=session, cache=self.cache, at=at
        )

    async def chain_of(
        self,
        leaf: asn1_x509.Certificate,
        others: Iterable[asn1_x509.Certificate],
        *,
        role: str,
        session: Transport,
        at: datetime,
    ) -> list[asn1_x509.Certificate]:
        """:meth:`build_chain` (in a worker thread: it may fetch), memoised per leaf: the pool
        only grows, so a chain found once stays valid, and a busy signer checks each chain's
        signatures once, not once per document."""
        key = fingerprint(leaf)
        with self._lock:
            chain = self._chains.get(key)
        if chain is None:
            found = await asyncio.to_thread(
                self.build_chain, leaf, list(others), role=role, session=session, at=at
            )
            with self._lock:
                chain = self._chains.setdefault(key, found)
        return chain

    # evidence

    def _crl_source(self, session: Transport, at: datetime) -> CrlSource | None:
        cache = self.cache
        if cache is None:
            return None

        def source(url: str) -> bytes:
            from ltv.evidence.crl import CrlIndex, fetch_crl

            def fetch() -> tuple[CachedEvidence | None, bytes]:
                der = fetch_crl(session, url)
                try:
                    index = CrlIndex(der)
                except Exception:  # kept out of the cache; check_crl will say why
                    return None, der
                return (
                    CachedEvidence(
                        key=f"crl:{url}",
                        kind="crl-url",
                        subject=url,
                        serial=None,
                        url=url,
                        this_update=index.this_update,
                        next_update=index.next_update,
                        fetched_at=at,
                        der=der,
                    ),
                    der,
                )

            return cache.get(f"crl:{url}", at, fetch, revive=lambda r: r.der, kind="crl-url")

        return source

    def fetch_one(
        self,
        session: Transport,
        cert: asn1_x509.Certificate,
        issuer: asn1_x509.Certificate,
        role: str,
        at: datetime,
    ) -> CertificateEvidence:
        """:func:`fetch_evidence` through *session* (CRLs through the cache, if any)."""
        return fetch_evidence(
            session,
            cert,
            issuer,
            role,
            at,
            skew=self.skew,
            crl_source=self._crl_source(session, at),
            verb=self.verb,
        )

    async def _one(
        self,
        session: Transport,
        cert: asn1_x509.Certificate,
        issuer: asn1_x509.Certificate,
        role: str,
        at: datetime,
    ) -> CertificateEvidence:
        cache = self.cache
        if cache is None:
            return await asyncio.to_thread(self.fetch_one, session, cert, issuer, role, at)
        key = status_key(cert, issuer)

        def fetch() -> tuple[CachedEvidence | None, CertificateEvidence]:
            ev = self.fetch_one(session, cert, issuer, role, at)
            return ev.record(key, at), ev

        def refresh(now: datetime) -> tuple[CachedEvidence | None, CertificateEvidence]:
            from ltv.evidence.http import Session

            bg = Session(self.network, budget=self.budget)
            ev = self.fetch_one(bg, cert, issuer, role, now)
            return ev.record(key, now), ev

        ev = await cache.aget(
            key,
            at,
            fetch,
            revive=lambda record: _revive(record, cert, issuer, role),
            refresh=refresh,
        )
        return ev if ev.role == role else dataclasses.replace(ev, role=role)

    async def evidence(
        self,
        chain: Sequence[asn1_x509.Certificate],
        role: str,
        at: datetime,
        session: Transport,
        *,
        skip: Collection[str] = (),
    ) -> list[CertificateEvidence]:
        """Checked evidence for every non-root certificate of *chain* (leaf first) whose
        fingerprint is not in *skip*, asked for concurrently; the first refusal in chain order
        is raised."""
        jobs = [
            self._one(session, cert, chain[i + 1], role if i == 0 else f"{role} CA", at)
            for i, cert in enumerate(chain[:-1])
            if fingerprint(cert) not in skip
        ]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        out: list[CertificateEvidence] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            out.append(result)
        return out
