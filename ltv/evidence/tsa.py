"""RFC 3161 time-stamping client: requests through ltv's HTTP client, every token checked.

A :class:`TsaClient` is one TSA, shared by all operations of a Signer / Extender (and by
concurrent requests). Each operation stamps through its own :meth:`TsaClient.stamper` — a
pyHanko ``TimeStamper`` whose requests go through that operation's
:class:`~ltv.evidence.http.Session` (its budget, its request record) and which records the
tokens it obtained with their checks.

* RFC 3161 §3.4: ``POST`` with ``Content-Type: application/timestamp-query``; the answer must be
  ``application/timestamp-reply``; a nonce is sent and must come back (pyHanko's
  ``handle_tsp_response``).
* Every token is checked by :func:`ltv.tst.check_token`, the checker verification uses: the
  imprint is the digest asked for (under the algorithm asked for), the TSTInfo is what the TSA
  signed (signed message-digest), the TSA certificate is the one named by the SignerInfo's sid
  *and* the ESS signing-certificate attribute (:attr:`Timestamp.tsa_cert`), and its signature
  verifies. Anything else — a malformed response, an error status, a parser exception — is a
  :class:`~ltv.errors.SigningError` with one line naming the TSA.
* **No size-estimating round trip**: pyHanko's ``HTTPTimeStamper`` asks the TSA for a dummy
  token before each signature to size the ``/Contents`` placeholder. Here the reservation comes
  from :meth:`TsaClient.reserve` — the largest token this TSA has returned so far plus a margin,
  or a generous default before the first one — so a signature costs exactly one TSA request.
* Connection reuse and the per-request timeout are the transport's (``HttpClient(keep_alive=
  True)``, the default network of :class:`~ltv.sign.Signer`).

>>> from ltv.evidence.http import NoNetwork
>>> client = TsaClient("http://tsa.example/")
>>> client.reserve("sha256")      # hex digits reserved before this TSA's first token
32768
>>> import asyncio
>>> from ltv.errors import SigningError
>>> try:
...     asyncio.run(client.stamper(NoNetwork()).async_timestamp(bytes(32), "sha256"))
... except SigningError as err:
...     print(err.message)
refusing to sign: time-stamping authority http://tsa.example/: offline (network-disabled)
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from asn1crypto import cms, tsp
from pyhanko.sign.timestamps.api import TimeStamper

from ltv.errors import LtvError, SigningError

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.evidence.http import Transport
    from ltv.tst import TokenCheck

__all__ = ["DEFAULT_TOKEN_BYTES", "OperationStamper", "Timestamp", "TsaClient"]

DEFAULT_TOKEN_BYTES: Final = 16 * 1024
"""DER bytes reserved for a token before a TSA's first one is seen (tokens with a few
certificates are 2-8 kB)."""
_REQUEST_TYPE: Final = "application/timestamp-query"
_REPLY_TYPE: Final = "application/timestamp-reply"


@dataclass(frozen=True)
class Timestamp:
    """A token a TSA returned, checked."""

    url: str
    token: cms.ContentInfo
    check: TokenCheck

    @property
    def tsa_cert(self) -> x509.Certificate:
        """The TSA certificate named by sid + ESS attribute (never "the first that matches")."""
        cert = self.check.tsa_cert
        assert cert is not None  # noqa: S101 - a Timestamp exists only for bound tokens
        return cert

    @property
    def other_certs(self) -> tuple[x509.Certificate, ...]:
        return self.check.other_certs

    @property
    def gen_time(self) -> datetime:
        value = self.check.gen_time
        assert value is not None  # noqa: S101 - bound tokens have a genTime
        return value.astimezone(UTC)


class TsaClient:
    """One RFC 3161 TSA, shared by operations; see the module docstring."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._largest: dict[str, int] = {}
        self._latest: Timestamp | None = None

    def observe(self, stamp: Timestamp, md_algorithm: str) -> None:
        size = len(stamp.token.dump())
        with self._lock:
            self._largest[md_algorithm] = max(size, self._largest.get(md_algorithm, 0))
            self._latest = stamp

    @property
    def latest(self) -> Timestamp | None:
        """The last token this TSA returned (tells its current certificate)."""
        with self._lock:
            return self._latest

    def reserve(self, md_algorithm: str) -> int:
        """Hex digits to reserve for one of this TSA's tokens: twice the largest DER seen, plus
        a quarter (TSAs differ in a few bytes: serial numbers, genTime precision, nonce) and
        512; ``2 * DEFAULT_TOKEN_BYTES`` before the first token."""
        with self._lock:
            seen = self._largest.get(md_algorithm)
        if seen is None:
            return 2 * DEFAULT_TOKEN_BYTES
        return 2 * (seen + seen // 4 + 512)

    def stamper(self, network: Transport) -> OperationStamper:
        """A pyHanko ``TimeStamper`` for one operation, requesting through *network*."""
        return OperationStamper(self, network)


class OperationStamper(TimeStamper):
    """pyHanko's ``TimeStamper`` for one operation: requests through the operation's session;
    every token checked (:func:`ltv.tst.check_token`) and kept in :attr:`stamps`."""

    def __init__(self, client: TsaClient, network: Transport) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self.client = client
        self.url = client.url
        self.network = network
        self.stamps: list[Timestamp] = []

    def _error(self, what: str, hint: str | None = None) -> SigningError:
        return SigningError(
            f"refusing to sign: time-stamping authority {self.url}: {what}",
            hint=hint or "nothing was written",
        )

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        from ltv.evidence.http import HttpError

        headers = {"Content-Type": _REQUEST_TYPE, "Accept": _REPLY_TYPE}
        try:
            resp = await asyncio.to_thread(
                self.network.request, "POST", self.url, body=req.dump(), headers=headers
            )
        except HttpError as err:
            raise self._error(
                f"offline ({err.detail})",
                "check --tsa and --connect-to, or raise --timeout; nothing was written",
            ) from None
        if resp.content_type != _REPLY_TYPE:
            raise self._error(f"answered {resp.content_type or 'no type'}, not {_REPLY_TYPE}")
        try:
            parsed = tsp.TimeStampResp.load(resp.body, strict=True)
            parsed["status"].native  # noqa: B018 - parse what pyHanko reads first, now
            _ = parsed["time_stamp_token"]["content"]  # the token: check_token parses it
        except Exception:
            refusal = _refusal_status(resp.body)
            if refusal is not None:
                raise self._error(f"refused our request ({refusal})") from None
            raise self._error("sent a malformed response") from None
        return parsed

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        from ltv.tst import check_token

        try:
            token = await super().async_timestamp(message_digest, md_algorithm)
            signed_data = token["content"]
        except LtvError:
            raise
        except Exception as err:  # error status, nonce mismatch, a parser choking on the token
            msg = getattr(err, "failure_message", None) or " ".join(str(err).split())
            raise self._error(msg or type(err).__name__) from None

        # (RFC 3161 §2.4.2) the same binding checks as verification (ltv.tst): imprint == our
        # digest under our algorithm, TSTInfo == what the TSA signed, TSA certificate named by
        # sid + ESS signing-certificate, signature under that certificate
        def expected(algorithm: str) -> bytes:
            return message_digest if algorithm == md_algorithm else b""

        check = check_token(signed_data, expected)
        if not check.imprint_ok:
            raise self._error("returned a token over another digest")
        if not check.bound:
            raise self._error("returned a token that does not verify: " + "; ".join(check.problems))
        stamp = Timestamp(self.url, token, check)
        self.stamps.append(stamp)
        self.client.observe(stamp, md_algorithm)
        return token

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        """A token for size estimates: the last one this TSA returned, else one real request."""
        latest = self.client.latest
        if latest is not None:
            return latest.token
        from pyhanko.sign.timestamps.common_utils import dummy_digest

        return await self.async_timestamp(dummy_digest(md_algorithm), md_algorithm)

    async def learn(self, md_algorithm: str) -> Timestamp:
        """This TSA's current token (its certificate): the last one seen, or one request."""
        latest = self.client.latest
        if latest is not None:
            return latest
        await self.async_dummy_response(md_algorithm)
        return self.stamps[-1]


def _refusal_status(body: bytes) -> str | None:
    """RFC 3161 §2.4.2: a TimeStampResp without a token (asn1crypto's TimeStampResp insists on
    one): its PKIStatusInfo, if that is what *body* is and it is not ``granted``."""
    from asn1crypto import core

    try:
        outer = core.Sequence.load(body, strict=True)
        info = tsp.PKIStatusInfo.load(outer[0].dump())
        status = str(info["status"].native)
        texts = info["status_string"].native or []
        failure = info["fail_info"].native
    except Exception:
        return None
    if status in ("granted", "granted_with_mods"):
        return None
    detail = "; ".join(str(t) for t in texts)
    return (
        f"status {status}"
        + (f": {detail}" if detail else "")
        + (f", failInfo {', '.join(sorted(failure))}" if failure else "")
    )
