"""pyHanko's fetcher interface (``pyhanko_certvalidator.fetchers.api``) over ltv's HTTP client.

With :class:`HttpFetcherBackend` passed as ``ValidationContext(fetcher_backend=...)`` (or to
``RevocationInfoGatheringSpec``), every OCSP, CRL and caIssuers request pyHanko makes goes
through our :class:`~ltv.evidence.http.HttpClient` — deadline, size bound, ``connect_to``,
exchange log — or is refused by :class:`~ltv.evidence.http.NoNetwork`. pyHanko never opens a
socket of its own.

Differences from pyHanko's built-in backends: OCSP uses GET for small nonce-less requests
(RFC 6960 App. A.1 / RFC 5019 §5) and falls back to POST on 404/405; nonces are off by default
(RFC 5019 responders ignore them); URLs are tried one after another, not raced. The sync client
runs in a worker thread (:func:`asyncio.to_thread`), so the event loop is never blocked.

Failures raise what pyHanko's soft-fail logic expects: :class:`OCSPFetchError`,
:class:`CRLFetchError`, :class:`CertificateFetchError`. Like the built-in backends, fetches are
de-duplicated and cached per :class:`Fetchers` instance and bounded by :class:`FetchLimits`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Callable, Iterable
from functools import partial
from typing import Any

from asn1crypto import cms, crl, ocsp, pem, x509
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import CertificateFetchError, CRLFetchError, OCSPFetchError
from pyhanko_certvalidator.fetchers.api import (
    CertificateFetcher,
    CRLFetcher,
    FetcherBackend,
    Fetchers,
    FetchLimits,
    OCSPFetcher,
)
from pyhanko_certvalidator.fetchers.common_utils import (
    ACCEPTABLE_CERT_DER_ALIASES,
    ACCEPTABLE_CERT_PEM_ALIASES,
    ACCEPTABLE_PKCS7_DER_ALIASES,
    ACCEPTABLE_STRICT_CERT_CONTENT_TYPES,
    FetchBudget,
    FetchKind,
    cap_aia_urls,
    enumerate_delivery_point_urls,
    gather_aia_issuer_urls,
    queue_fetch_task,
    unpack_cert_content,
)
from pyhanko_certvalidator.util import get_ocsp_urls, get_relevant_crl_dps, issuer_serial

from ltv.evidence._crypto import MALFORMED
from ltv.evidence.crl import CRL_TYPE
from ltv.evidence.http import HttpError, Transport
from ltv.evidence.ocsp import (
    NONCE_BYTES,
    CertId,
    request_for_cert_id,
    send_ocsp_request,
)

__all__ = [
    "HttpCRLFetcher",
    "HttpCertificateFetcher",
    "HttpFetcherBackend",
    "HttpOCSPFetcher",
]

logger = logging.getLogger(__name__)

_CERT_FETCH_ERRORS: tuple[type[Exception], ...] = (HttpError, *MALFORMED)

_CERT_TYPES = (
    ACCEPTABLE_STRICT_CERT_CONTENT_TYPES
    | ACCEPTABLE_CERT_PEM_ALIASES
    | ACCEPTABLE_CERT_DER_ALIASES
    | ACCEPTABLE_PKCS7_DER_ALIASES
)


class _Cache:
    """Per-:class:`Fetchers` results, de-duplicated with pyHanko's own job queue."""

    def __init__(self, budget: FetchBudget) -> None:
        self.budget = budget
        self.results: dict[Any, Any] = {}
        self.running: dict[Any, asyncio.Event] = {}

    async def run(self, tag: object, job: Callable[[], Any]) -> Any:
        return await queue_fetch_task(self.results, self.running, tag, job)

    def successes(self) -> list[tuple[Any, Any]]:
        return [(k, v) for k, v in self.results.items() if not isinstance(v, Exception)]


class HttpOCSPFetcher(OCSPFetcher):
    """OCSP fetcher: RFC 6960 CertID from the issuing authority, GET/POST per RFC 5019 §5."""

    def __init__(
        self,
        client: Transport,
        budget: FetchBudget,
        *,
        hash_algo: str = "sha1",
        nonce: bool = False,
    ) -> None:
        self._client = client
        self._cache = _Cache(budget)
        self._hash_algo = hash_algo
        self._nonce = nonce

    async def fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, authority: Authority
    ) -> ocsp.OCSPResponse:
        tag = (issuer_serial(cert), authority.hashable)
        return await self._cache.run(tag, lambda: self._fetch(cert, authority))

    async def _fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, authority: Authority
    ) -> ocsp.OCSPResponse:
        urls = get_ocsp_urls(cert)
        if not urls:
            raise OCSPFetchError("No URLs to fetch OCSP responses from")
        if isinstance(cert, x509.Certificate):
            serial = cert.serial_number
        else:
            serial = cert["ac_info"]["serial_number"].native
        cert_id = CertId.for_issuer(serial, authority.name, authority.public_key, self._hash_algo)
        nonce = os.urandom(NONCE_BYTES) if self._nonce else None
        request = request_for_cert_id(cert_id, nonce)
        request_der = request.dump()
        last: Exception = OCSPFetchError("No OCSP results")
        for url in urls:
            self._cache.budget.charge(FetchKind.OCSP)  # on the loop thread, as required
            try:
                body, _ = await asyncio.to_thread(
                    send_ocsp_request, self._client, url, request_der, has_nonce=nonce is not None
                )
                return _parse_ocsp(body, url, nonce)
            except HttpError as exc:
                last = OCSPFetchError(f"Failed to fetch OCSP response from {url}: {exc.detail}")
            except OCSPFetchError as exc:
                last = exc
            logger.info("%s", last)
        raise last

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return [v for _, v in self._cache.successes()]

    def fetched_responses_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[ocsp.OCSPResponse]:
        target = issuer_serial(cert)
        return [v for (subject, _), v in self._cache.successes() if subject == target]


def _parse_ocsp(body: bytes, url: str, nonce: bytes | None) -> ocsp.OCSPResponse:
    """Structure, responseStatus and nonce echo; pyHanko validates the rest."""
    try:
        response = ocsp.OCSPResponse.load(body, strict=True)
        status = response["response_status"].native
    except MALFORMED as exc:  # an unknown responseStatus is a KeyError in asn1crypto
        raise OCSPFetchError(f"Malformed OCSP response from {url}") from exc
    if status != "successful":
        # RFC 6960 §2.3: error statuses are unsigned; treat as a failed fetch (soft-fail).
        raise OCSPFetchError(f"OCSP responder at {url} returned status {status!r}")
    if nonce is not None:
        try:
            echoed = response.nonce_value
        except MALFORMED as exc:
            raise OCSPFetchError(f"Malformed OCSP response from {url}") from exc
        # RFC 8954 §2.1: a mismatching echo is fatal, a missing one is tolerated.
        if echoed is not None and echoed.native != nonce:
            raise OCSPFetchError(f"OCSP nonce mismatch in response from {url}")
    return response


class HttpCRLFetcher(CRLFetcher):
    """CRL fetcher over the cRLDistributionPoints (and freshestCRL with ``use_deltas``)."""

    def __init__(self, client: Transport, budget: FetchBudget) -> None:
        self._client = client
        self._cache = _Cache(budget)
        self._by_cert: dict[bytes, list[crl.CertificateList]] = {}

    async def fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, *, use_deltas: bool = True
    ) -> Iterable[crl.CertificateList]:
        key = issuer_serial(cert)
        if key in self._by_cert:
            return self._by_cert[key]
        results: list[crl.CertificateList] = []
        last: CRLFetchError | None = None
        for point in get_relevant_crl_dps(cert, use_deltas=use_deltas):
            for url in enumerate_delivery_point_urls(point):
                try:
                    results.append(await self._cache.run(url, partial(self._fetch_one, url)))
                except CRLFetchError as exc:
                    last = exc
        if not results and last is not None:
            raise last
        self._by_cert[key] = results
        return results

    async def _fetch_one(self, url: str) -> crl.CertificateList:
        self._cache.budget.charge(FetchKind.CRL)
        try:
            response = await asyncio.to_thread(
                self._client.request, "GET", url, headers={"Accept": CRL_TYPE}
            )
        except HttpError as exc:
            raise CRLFetchError(f"Failure to fetch CRL from URL {url}: {exc.detail}") from exc
        data = response.body
        try:
            if pem.detect(data):
                _, _, data = pem.unarmor(data)
            parsed = crl.CertificateList.load(data, strict=True)
            parsed["tbs_cert_list"]["issuer"].native  # noqa: B018 (fail here, not in pyHanko)
        except MALFORMED as exc:
            raise CRLFetchError(f"Malformed CRL from URL {url}") from exc
        return parsed

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        return [v for _, v in self._cache.successes()]

    def fetched_crls_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[crl.CertificateList]:
        return self._by_cert[issuer_serial(cert)]


class HttpCertificateFetcher(CertificateFetcher):
    """caIssuers fetcher (RFC 5280 §4.2.2.1): DER, PKCS#7 certs-only, or (tolerated) PEM."""

    def __init__(self, client: Transport, budget: FetchBudget) -> None:
        self._client = client
        self._cache = _Cache(budget)

    async def _fetch_certs(self, url: str) -> list[x509.Certificate]:
        async def job() -> list[x509.Certificate]:
            self._cache.budget.charge(FetchKind.CERT)
            try:
                response = await asyncio.to_thread(
                    self._client.request, "GET", url, headers={"Accept": ",".join(_CERT_TYPES)}
                )
                return list(unpack_cert_content(response.body, response.content_type, url, True))
            except _CERT_FETCH_ERRORS as exc:
                raise CertificateFetchError(f"Failed to fetch certificate(s) from {url}") from exc

        certs: list[x509.Certificate] = await self._cache.run(url, job)
        return certs

    async def _from_urls(self, urls: Iterable[str]) -> AsyncGenerator[x509.Certificate, None]:
        for url in cap_aia_urls(self._cache.budget, urls):
            try:
                certs = await self._fetch_certs(url)
            except CertificateFetchError as exc:
                logger.warning("Certificate fetch failed, skipping: %s", exc)
                continue
            for cert in certs:
                yield cert

    def fetch_cert_issuers(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> AsyncGenerator[x509.Certificate, None]:
        return self._from_urls(gather_aia_issuer_urls(cert))

    def fetch_crl_issuers(
        self, certificate_list: crl.CertificateList
    ) -> AsyncGenerator[x509.Certificate, None]:
        return self._from_urls(certificate_list.issuer_cert_urls)

    def fetched_certs(self) -> Iterable[x509.Certificate]:
        return [cert for _, certs in self._cache.successes() for cert in certs]


class HttpFetcherBackend(FetcherBackend):
    """A :class:`FetcherBackend` whose fetchers all use one ltv client.

    :param client: an :class:`~ltv.evidence.http.HttpClient` (or :class:`NoNetwork`, which makes
        every fetch fail). The backend does not own it; :meth:`close` leaves it alone.
    :param ocsp_hash_algo: CertID hash for OCSP requests (``sha1`` or ``sha256``).
    :param ocsp_nonce: send RFC 8954 nonces (forces POST).
    :param limits: request bounds; every :meth:`get_fetchers` call starts a fresh budget.
    """

    def __init__(
        self,
        client: Transport,
        *,
        ocsp_hash_algo: str = "sha1",
        ocsp_nonce: bool = False,
        limits: FetchLimits | None = None,
    ) -> None:
        if ocsp_hash_algo not in ("sha1", "sha256", "sha384", "sha512"):
            raise ValueError(f"unsupported OCSP CertID hash {ocsp_hash_algo!r}")
        self.client = client
        self.ocsp_hash_algo = ocsp_hash_algo
        self.ocsp_nonce = ocsp_nonce
        self.limits = limits if limits is not None else FetchLimits()

    def get_fetchers(self) -> Fetchers:
        budget = FetchBudget(self.limits)
        return Fetchers(
            ocsp_fetcher=HttpOCSPFetcher(
                self.client, budget, hash_algo=self.ocsp_hash_algo, nonce=self.ocsp_nonce
            ),
            crl_fetcher=HttpCRLFetcher(self.client, budget),
            cert_fetcher=HttpCertificateFetcher(self.client, budget),
        )

    async def close(self) -> None:
        """Nothing to release: the client holds no pooled connections."""
