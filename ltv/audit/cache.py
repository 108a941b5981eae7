"""Work done once per archive, not once per document: judgements cached by content.

Archives re-use the same bytes again and again: the same CA and TSA certificates, the same OCSP
response stapled into every document signed within its validity window, the same chains. What
is cached here is a *pure function of bytes*, or holds for a time interval that is checked on
every use:

- :class:`BoundedCertificateCache`: DER → parsed certificate (``ltv.pipeline.run``'s cache,
  with a size bound so that a worker's memory stays flat over any archive).
- :class:`OutcomeCache`: what an OCSP response or a CRL says about a certificate.
  ``check_ocsp_response`` / ``check_crl`` called *without* ``at`` are a pure function of
  (response DER, certificate, issuer): freshness is judged separately, at the validation time,
  by ``ltv.pipeline.revocation``. Parsed CRLs (``CrlIndex``) and the responder certificate
  found in an OCSP response are kept too.
- :class:`ChainCache`: a certification path found for a leaf under an anchor set and a purpose.
  With revocation off inside certvalidator (ltv judges revocation itself, stage 5) and its
  default algorithm policy (which does not depend on time), a path validated at one moment is
  valid at any moment T inside every path certificate's validity window (certvalidator's
  RFC 5280 §6.1.3 (a)(2) check; the trust anchor's window is included, which is stricter than
  needed). So a success is cached as (path, window) and re-used for any T inside the window —
  and only for a document that carries the path's certificates itself, so that a document is
  never judged with a chain it could not have built alone. A failure holds for nothing wider
  than its inputs: it is kept in memory (never stored) for exactly the same leaf, anchors,
  purpose, moment and certificates on offer, in the same order — what every document of an
  archive asks again when, say, a TSA chain has expired by the time of judgement.
- :meth:`JudgementCache.per_certificate`: pure functions of one certificate (its plain
  description in a report), once per certificate object.

Keys are SHA-256 digests of the DER (:class:`CertDigests` computes a certificate's once). Every
cache is an LRU with a bound on its entries and counts its hits and misses
(:meth:`JudgementCache.stats`, printed in the benchmark profile). Thread-safe.

Across runs: evidence checks and chain successes are timeless in the same sense as the facts
(a pure function of bytes; a path with its window), so ``ltv audit`` also keeps them in its
store. A :class:`Backing` (``ltv.audit.store.StoreReader``) is asked on an LRU miss; what was
computed here is collected (:meth:`JudgementCache.take_fresh`) for the store to keep.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from ltv.certs import der_sha256
from ltv.pipeline.run import CertificateCache

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.evidence.crl import CrlIndex
    from ltv.evidence.outcome import RevocationOutcome
    from ltv.pipeline.chain import ChainResult
    from ltv.trust import TrustStore

__all__ = [
    "BoundedCertificateCache",
    "CertDigests",
    "ChainCache",
    "JudgementCache",
    "Lru",
    "OutcomeCache",
]

OutcomeKey = tuple[str, bytes, bytes, bytes]
"""(``ocsp``/``crl``, SHA-256 of the evidence, of the certificate, of its issuer)."""
ChainKey = tuple[bytes, bytes, str]
"""(SHA-256 of the leaf, fingerprint of the anchor set, purpose)."""


@dataclass(frozen=True)
class StoredChain:
    """A validated path as a store keeps it: DER, leaf first."""

    path: tuple[bytes, ...]
    anchor_included: bool
    not_before: datetime
    not_after: datetime


class Backing(Protocol):
    """Where judgements made by earlier runs are found (``ltv.audit.store.StoreReader``)."""

    def outcome(self, key: OutcomeKey) -> RevocationOutcome | None: ...

    def chain(self, key: ChainKey) -> StoredChain | None: ...


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")

CERTIFICATES = 4096
OUTCOMES = 8192
RESPONDERS = 4096
CRL_INDEXES = 32
CHAINS = 4096
CHAIN_FAILURES = 1024


class Lru(Generic[K, V]):
    """A thread-safe least-recently-used map with at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = make()  # outside the lock: may be slow; a race computes it twice, harmlessly
            self.put(key, value)
        return value

    def unhit(self) -> None:
        """Count the last hit as a miss (a key found, but its value not usable)."""
        with self._lock:
            self.hits -= 1
            self.misses += 1

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "entries": len(self._data)}


def _digest(der: bytes) -> bytes:
    return hashlib.sha256(der).digest()


class CertDigests:
    """SHA-256 of a certificate object's DER, computed once per object
    (:func:`ltv.certs.der_sha256`, whose memo holds the objects weakly)."""

    def __call__(self, cert: x509.Certificate) -> bytes:
        return der_sha256(cert)


class BoundedCertificateCache(CertificateCache):
    """:class:`ltv.pipeline.run.CertificateCache` with a bound on its entries."""

    def __init__(self, size: int = CERTIFICATES) -> None:
        super().__init__()
        self.lru: Lru[bytes, x509.Certificate] = Lru(size)

    def get(self, der: bytes) -> x509.Certificate:
        def parse() -> x509.Certificate:
            from asn1crypto import x509 as asn1_x509

            return asn1_x509.Certificate.load(der)

        return self.lru.get_or_make(der, parse)


class OutcomeCache:
    """(evidence DER, certificate, issuer) → :class:`~ltv.evidence.outcome.RevocationOutcome`
    of ``check_ocsp_response`` / ``check_crl`` without ``at`` (see the module docstring)."""

    def __init__(
        self,
        size: int = OUTCOMES,
        crl_indexes: int = CRL_INDEXES,
        digests: CertDigests | None = None,
        backing: Backing | None = None,
        load: Callable[[bytes], x509.Certificate] | None = None,
    ) -> None:
        self.digest = digests or CertDigests()
        self.backing = backing
        self._load = load
        self.outcomes: Lru[OutcomeKey, RevocationOutcome] = Lru(size)
        self.crls: Lru[bytes, CrlIndex] = Lru(crl_indexes)
        self.responders: Lru[bytes, tuple[x509.Certificate | None]] = Lru(RESPONDERS)
        self.stored_hits = 0
        self.fresh: list[tuple[OutcomeKey, RevocationOutcome]] = []
        self._lock = threading.Lock()

    def _stored(self, key: OutcomeKey, der: bytes) -> RevocationOutcome | None:
        if self.backing is None:
            return None
        found = self.backing.outcome(key)
        if found is None:
            return None
        from dataclasses import replace

        with self._lock:
            self.stored_hits += 1
        found = replace(found, raw=der)  # the store keeps the verdict, not the evidence again
        self.outcomes.put(key, found)
        return found

    def _made(self, key: OutcomeKey, outcome: RevocationOutcome) -> RevocationOutcome:
        self.outcomes.put(key, outcome)
        with self._lock:
            self.fresh.append((key, outcome))
        return outcome

    def ocsp(
        self, der: bytes, cert: x509.Certificate, issuer: x509.Certificate
    ) -> RevocationOutcome:
        from ltv.evidence.ocsp import check_ocsp_response

        key = ("ocsp", _digest(der), self.digest(cert), self.digest(issuer))
        found = self.outcomes.get(key) or self._stored(key, der)
        if found is None:
            found = self._made(key, check_ocsp_response(der, cert, issuer))
        return found

    def crl(
        self, der: bytes, cert: x509.Certificate, issuer: x509.Certificate
    ) -> RevocationOutcome | None:
        """``check_crl``; None when ``der`` is not a CRL."""
        from ltv.evidence.crl import CrlIndex, check_crl

        der_key = _digest(der)
        key = ("crl", der_key, self.digest(cert), self.digest(issuer))
        cached = self.outcomes.get(key) or self._stored(key, der)
        if cached is None:
            index = self.crls.get(der_key)
            if index is None:
                try:
                    index = CrlIndex.load(der)
                except ValueError:
                    return None
                self.crls.put(der_key, index)
            cached = self._made(key, check_crl(index, cert, issuer))
        return cached

    def check(
        self, kind: str, der: bytes, cert: x509.Certificate, issuer: x509.Certificate
    ) -> RevocationOutcome | None:
        """What the OCSP response or CRL ``der`` says about ``cert`` (None: not a CRL)."""
        return self.ocsp(der, cert, issuer) if kind == "ocsp" else self.crl(der, cert, issuer)

    def responder(self, der: bytes) -> x509.Certificate | None:
        """``ltv.pipeline.revocation.responder_certificate`` of an OCSP response, once; the
        same object as the certificate cache's for the same DER (so that what is memoised per
        certificate object is found again, whichever response carried it)."""
        from ltv.pipeline.revocation import responder_certificate

        def find() -> tuple[x509.Certificate | None]:
            cert = responder_certificate(der)
            if cert is not None and self._load is not None:
                cert = self._load(cert.dump())
            return (cert,)

        return self.responders.get_or_make(_digest(der), find)[0]


@dataclass(frozen=True)
class _CachedPath:
    path: tuple[x509.Certificate, ...]
    anchor_included: bool
    not_before: datetime
    not_after: datetime
    needs: frozenset[bytes]
    """SHA-256 of the path certificates below the anchor other than the leaf: a document must
    carry them (or have them among the anchors) to re-use the path."""


def _window(path: Sequence[x509.Certificate]) -> tuple[datetime, datetime]:
    starts, ends = [], []
    for cert in path:
        validity = cert["tbs_certificate"]["validity"]
        starts.append(validity["not_before"].native)
        ends.append(validity["not_after"].native)
    return max(starts), min(ends)


_AnchorKey = tuple[tuple["x509.Certificate", ...], bytes, frozenset[bytes]]
_FailureKey = tuple[bytes, bytes, str, datetime, tuple[bytes, ...]]


class ChainCache:
    """(leaf SHA-256, anchor-set fingerprint, purpose) → a validated path and its window."""

    def __init__(
        self,
        size: int = CHAINS,
        digests: CertDigests | None = None,
        backing: Backing | None = None,
        load: Callable[[bytes], x509.Certificate] | None = None,
    ) -> None:
        self.digest = digests or CertDigests()
        self.backing = backing
        self._load = load
        self.paths: Lru[ChainKey, _CachedPath] = Lru(size)
        self.stored_hits = 0
        self.fresh: list[tuple[ChainKey, StoredChain]] = []
        self._lock = threading.Lock()
        self._anchor_keys: Lru[tuple[int, ...], _AnchorKey] = Lru(64)
        self.failures: Lru[_FailureKey, ChainResult] = Lru(CHAIN_FAILURES)

    def _anchors(self, anchors: Sequence[x509.Certificate]) -> tuple[bytes, frozenset[bytes]]:
        # Keyed by object identity (a judgement passes the same anchor objects every time, see
        # JudgementCache.anchors). The entry holds the objects, so that an id cannot be taken
        # by another object while it is cached; identity is checked again on every hit.
        ident = tuple(id(a) for a in anchors)
        hit = self._anchor_keys.get(ident)
        if (
            hit is None
            or len(hit[0]) != len(anchors)
            or any(a is not b for a, b in zip(hit[0], anchors, strict=False))
        ):
            digests = frozenset(self.digest(a) for a in anchors)
            fingerprint = hashlib.sha256(b"".join(sorted(digests))).digest()
            hit = (tuple(anchors), fingerprint, digests)
            self._anchor_keys.put(ident, hit)
        return hit[1], hit[2]

    def lookup(
        self,
        cert: x509.Certificate,
        *,
        anchors: Sequence[x509.Certificate],
        other_certs: Sequence[x509.Certificate],
        moment: datetime,
        purpose: str,
    ) -> ChainResult | None:
        """The cached path when ``moment`` lies inside its window and the document carries its
        intermediate certificates, or the failure met with exactly these inputs; else None
        (validate, then :meth:`store`)."""
        fingerprint, anchor_digests = self._anchors(anchors)
        key = (self.digest(cert), fingerprint, purpose)
        cached = self.paths.get(key) or self._stored(key)
        if cached is not None and not cached.not_before <= moment <= cached.not_after:
            self.paths.unhit()
            cached = None
        if cached is not None and cached.needs:
            available = anchor_digests | {self.digest(c) for c in other_certs}
            if not cached.needs <= available:
                self.paths.unhit()
                cached = None
        if cached is None:
            if not len(self.failures):
                return None
            failed = self.failures.get(self._failure_key(key, moment, other_certs))
            if failed is None or not failed.path:
                return failed
            from dataclasses import replace

            return replace(failed, path=(cert, *failed.path[1:]))  # this document's leaf
        from ltv.pipeline.chain import ChainResult

        return ChainResult(
            path=(cert, *cached.path[1:]), anchor_included=cached.anchor_included, problem=None
        )

    def _failure_key(
        self, key: ChainKey, moment: datetime, other_certs: Sequence[x509.Certificate]
    ) -> _FailureKey:
        """A failure holds for exactly its inputs: the path key, the moment, and the
        certificates on offer in their order."""
        return (*key, moment, tuple(self.digest(c) for c in other_certs))

    def _stored(self, key: ChainKey) -> _CachedPath | None:
        if self.backing is None:
            return None
        found = self.backing.chain(key)
        if found is None:
            return None
        if self._load is not None:
            load = self._load
        else:
            from asn1crypto import x509 as asn1_x509

            load = asn1_x509.Certificate.load
        path = tuple(load(der) for der in found.path)
        below = path[1:-1] if found.anchor_included else path[1:]
        cached = _CachedPath(
            path=path,
            anchor_included=found.anchor_included,
            not_before=found.not_before,
            not_after=found.not_after,
            needs=frozenset(self.digest(c) for c in below),
        )
        with self._lock:
            self.stored_hits += 1
        self.paths.put(key, cached)
        return cached

    def store(
        self,
        cert: x509.Certificate,
        *,
        anchors: Sequence[x509.Certificate],
        other_certs: Sequence[x509.Certificate],
        moment: datetime,
        purpose: str,
        result: ChainResult,
    ) -> None:
        """Remember a validation: a success with its window (and for the store), a failure in
        memory for exactly these inputs (``moment``, ``other_certs``)."""
        fingerprint, _ = self._anchors(anchors)
        key = (self.digest(cert), fingerprint, purpose)
        if result.problem is not None or not result.path:
            self.failures.put(self._failure_key(key, moment, other_certs), result)
            return
        start, end = _window(result.path)
        below_anchor = result.path[1:-1] if result.anchor_included else result.path[1:]
        self.paths.put(
            key,
            _CachedPath(
                path=result.path,
                anchor_included=result.anchor_included,
                not_before=start,
                not_after=end,
                needs=frozenset(self.digest(c) for c in below_anchor),
            ),
        )
        stored = StoredChain(
            path=tuple(c.dump() for c in result.path),
            anchor_included=result.anchor_included,
            not_before=start,
            not_after=end,
        )
        with self._lock:
            self.fresh.append((key, stored))


class JudgementCache:
    """Everything :func:`ltv.pipeline.run.judge` may re-use across the documents of an archive
    (one per worker process or thread)."""

    def __init__(self, backing: Backing | None = None) -> None:
        self.digest = CertDigests()
        self.certificates = BoundedCertificateCache()
        self.outcomes = OutcomeCache(
            digests=self.digest, backing=backing, load=self.certificates.get
        )
        self.chains = ChainCache(digests=self.digest, backing=backing, load=self.certificates.get)
        self._anchor_lists: Lru[tuple[bytes, ...], list[x509.Certificate]] = Lru(16)
        self._memo: dict[str, weakref.WeakKeyDictionary[x509.Certificate, object]] = {}
        self._memo_lock = threading.Lock()

    def anchors(self, store: TrustStore) -> list[x509.Certificate]:
        """The anchors of ``store``, parsed once (the same objects for every judgement)."""
        return self._anchor_lists.get_or_make(store.certificates, store.asn1)

    def per_certificate(
        self, kind: str, cert: x509.Certificate, make: Callable[[x509.Certificate], R]
    ) -> R:
        """``make(cert)`` once per certificate object (held weakly) and ``kind``: for pure
        functions of a certificate, e.g. its plain description in a report."""
        with self._memo_lock:
            memo = self._memo.setdefault(kind, weakref.WeakKeyDictionary())
            found = memo.get(cert)
        if found is None:
            found = make(cert)
            with self._memo_lock:
                memo[cert] = found
        return found  # type: ignore[return-value]

    def take_fresh(
        self,
    ) -> tuple[list[tuple[OutcomeKey, RevocationOutcome]], list[tuple[ChainKey, StoredChain]]]:
        """Evidence checks and chains computed here since the last call (for the store)."""
        with self.outcomes._lock:
            outcomes, self.outcomes.fresh = self.outcomes.fresh, []
        with self.chains._lock:
            chains, self.chains.fresh = self.chains.fresh, []
        return outcomes, chains

    def stats(self) -> dict[str, dict[str, int]]:
        """Per cache: hits and misses in memory; ``stored`` = misses answered by the store."""
        return {
            "certificates": self.certificates.lru.stats(),
            "evidence checks": {
                **self.outcomes.outcomes.stats(),
                "stored": self.outcomes.stored_hits,
            },
            "OCSP responders": self.outcomes.responders.stats(),
            "parsed CRLs": self.outcomes.crls.stats(),
            "chains": {**self.chains.paths.stats(), "stored": self.chains.stored_hits},
            "chain failures": self.chains.failures.stats(),
        }
