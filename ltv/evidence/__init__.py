"""Revocation evidence: the only part of ltv that opens sockets.

- :mod:`ltv.evidence.http` — bounded HTTP client (deadline, size bound, connect-to map, exchange
  log) and :class:`~ltv.evidence.http.NoNetwork` for ``online = never``;
- :mod:`ltv.evidence.outcome` — the four-state :class:`~ltv.evidence.outcome.RevocationOutcome`;
- :mod:`ltv.evidence.ocsp` — RFC 6960 / RFC 5019 requests, transport and response validation;
- :mod:`ltv.evidence.crl` — RFC 5280 CRL fetching, indexing and checks;
- :mod:`ltv.evidence.fetchers` — pyHanko's ``FetcherBackend`` over the same client.

Nothing is imported here, so ``import ltv.evidence.outcome`` stays cheap (CLI start-up).
"""
