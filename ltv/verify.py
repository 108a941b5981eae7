"""Verifier: the public face of the verify pipeline (:mod:`ltv.pipeline.run`).

One API shape with :class:`~ltv.sign.Signer` and :class:`~ltv.sign.Extender`:

- ``network=``: a transport *instance* (:class:`~ltv.evidence.http.HttpClient` by default), shared
  by every verification; each verification sees it through its own
  :class:`~ltv.evidence.http.Session` — its own request record (``report.network``) and a total
  budget over all its requests (``budget``, default 30 s). Under ``online=never`` no request is
  ever made: the transport is a :class:`~ltv.evidence.http.NoNetwork`, whatever was passed.
- ``clock=``: where "now" comes from when the caller does not pass it (default: UTC wall clock);
  the only place ltv reads the wall clock is :func:`utc_now`.
- documents as ``bytes``, a path (``str`` / ``os.PathLike``) or a seekable binary file; a path is
  read in place, streaming (a large file is never copied into memory).
- ``verify`` (sync) and ``averify`` (async) return the same :class:`~ltv.report.Report`; calling
  ``verify`` inside a running event loop is a :class:`~ltv.errors.UsageError` (await ``averify``).
- Bad input never raises: the report says why it could not be evaluated (``Report.error``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from ltv.errors import LtvError, UsageError
from ltv.policy import Online, ValidationPolicy
from ltv.runtime import (
    Clock,
    Document,
    document_name,
    open_document,
    operation_session,
    resolve_time,
    run_sync,
    utc_now,
)

if TYPE_CHECKING:
    from ltv.evidence.http import Transport
    from ltv.pipeline.run import CertificateCache
    from ltv.report import Report

__all__ = [
    "PYHANKO_LOGGERS",
    "DocumentInput",
    "Verifier",
    "keep_library_logs_off_stderr",
    "utc_now",
]

_log = logging.getLogger("ltv.verify")

DocumentInput = Document
"""A document: its bytes, a path to it, or a binary file opened on it (ltv.runtime)."""

PYHANKO_LOGGERS = ("pyhanko", "pyhanko_certvalidator")
"""Loggers of the libraries the pipeline wraps."""


def keep_library_logs_off_stderr() -> None:
    """pyHanko logs the failures it hands back to us with a traceback
    (``logger.warning(..., exc_info=True)``: an expired signer, a path not found, a diff
    error). For ltv those failures are report data, not crashes. Python prints such records
    to stderr only through its *last-resort* handler, i.e. when the host application configured
    no logging at all; a ``NullHandler`` on each wrapped library's logger switches exactly that
    off (the usual library etiquette) while records still propagate to any handler the host
    did configure. Idempotent."""
    for name in PYHANKO_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())


class Verifier:
    """Validates signed PDFs under a :class:`ValidationPolicy`.

    >>> from ltv import TrustStore, ValidationPolicy, Verifier
    >>> from samples import pki
    >>> verifier = Verifier(ValidationPolicy(trust=TrustStore.from_file(pki.cert_path("root")),
    ...                     tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root"))))
    >>> report = verifier.verify("samples/good-b-lta.pdf")
    >>> report.indication.value, report.signatures[0].level.value, report.network.requests
    ('TOTAL-PASSED', 'B-LTA', 0)

    :param policy: what to require; its signer trust anchors are mandatory (TrustError, exit 2).
    :param network: the transport for online modes (default: an ``HttpClient`` with
        ``connect_to`` and ``timeout``); never used under ``online=never``.
    :param network_budget: seconds for all requests of one verification (``None``: unbounded).
    :param connect_to: ``{"host:port": (address, port)}`` for the default HTTP client.
    :param timeout: seconds per request, for the default HTTP client.
    :param clock: where "now" comes from when the caller does not pass it.
    :param certificates: a parsed-certificate cache to share across verifications (a batch).
    """

    def __init__(
        self,
        policy: ValidationPolicy,
        *,
        network: Transport | None = None,
        network_budget: float | None = 30.0,
        connect_to: Mapping[str, tuple[str, int]] | None = None,
        timeout: float = 10.0,
        clock: Clock = utc_now,
        certificates: CertificateCache | None = None,
    ) -> None:
        from ltv.pipeline.run import CertificateCache

        policy.require_trust()  # TrustError (exit 2) early, not per file
        keep_library_logs_off_stderr()
        self.policy = policy
        self.network_budget = network_budget
        self.clock = clock
        if network is None:
            from ltv.evidence.http import HttpClient

            network = HttpClient(
                timeout=timeout, connect_to=dict(connect_to or {}), keep_alive=True
            )
        self.network: Transport = network
        self.certificates = certificates or CertificateCache()

    def _session(self) -> Transport:
        from ltv.evidence.http import NoNetwork

        match self.policy.online:
            case Online.NEVER:
                return NoNetwork()
            case Online.FALLBACK | Online.ALWAYS:
                return operation_session(self.network, self.network_budget)

    def verify(
        self,
        document: DocumentInput,
        *,
        path: str | None = None,
        at: datetime | None = None,
        now: datetime | None = None,
    ) -> Report:
        """Validate one document; see :meth:`averify`. Not inside a running event loop."""
        return run_sync(self.averify(document, path=path, at=at, now=now), method="verify")

    def verify_file(
        self, path: str, *, at: datetime | None = None, now: datetime | None = None
    ) -> Report:
        """Same as ``verify(path)`` (kept for callers of the first API)."""
        return self.verify(path, at=at, now=now)

    async def averify(
        self,
        document: DocumentInput,
        *,
        path: str | None = None,
        at: datetime | None = None,
        now: datetime | None = None,
    ) -> Report:
        """Validate one document at ``now`` (default: the clock); ``at`` is the validation time
        for signatures without a trusted timestamp. Never raises for bad input: see
        ``Report.error``. Parsing runs in a worker thread and network fetches too: the event
        loop stays responsive."""
        from ltv.pipeline.run import (
            build_report,
            digest_of,
            examine,
            judge,
            unevaluable_report,
        )

        now = resolve_time(now, self.clock, what="now")
        if at is not None:
            at = resolve_time(at, self.clock)
        label = path or document_name(document)
        sha256, size = "", 0
        try:
            with open_document(document) as data:
                sha256, size = await asyncio.to_thread(digest_of, data)
                facts = await asyncio.to_thread(examine, data, self.policy.limits)
            session = self._session()
            signatures = await judge(
                facts,
                self.policy,
                now=now,
                at=at,
                transport=session,
                certificates=self.certificates,
            )
        except OSError as err:
            return unevaluable_report(
                path=label,
                sha256=sha256 or _EMPTY_SHA256,
                size=size,
                policy=self.policy,
                now=now,
                message=f"cannot read: {err.strerror or err}",
            )
        except UsageError:
            raise
        except LtvError as err:
            return unevaluable_report(
                path=label,
                sha256=sha256 or _EMPTY_SHA256,
                size=size,
                policy=self.policy,
                now=now,
                message=err.message,
            )
        except Exception as err:
            # A bug met on this file must not abort a batch: this file is reported as not
            # evaluable, the next one is verified. The traceback goes to the "ltv" logger
            # (shown with --verbose).
            _log.exception("internal error while verifying %s", label)
            why = " ".join(str(err).split())[:200] or "no message"
            return unevaluable_report(
                path=label,
                sha256=sha256 or _EMPTY_SHA256,
                size=size,
                policy=self.policy,
                now=now,
                message=f"could not be evaluated: internal error {type(err).__name__}: {why} "
                "(please report it, with the file if you can)",
            )
        return build_report(
            path=label,
            facts=facts,
            signatures=signatures,
            policy=self.policy,
            now=now,
            urls=[e.url for e in session.exchanges],
        )


_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
