"""The only place in ltv that opens sockets: a small, bounded, synchronous HTTP/1.1 client.

Why not ``requests``/``aiohttp``: we need three guarantees they do not give together —

* a **deadline** per request covering name lookup, connect, send and every read (a server that
  drips one byte per second must not hold us for longer than the budget; a per-``recv`` timeout
  would). The default, 10 s, is the CA/Browser Forum Baseline Requirements' limit for OCSP/CRL
  responders (BR §4.10.2 "response time of ten seconds or less");
* a **size bound** on the response body (CRLs of tens of MB exist; the default allows 20 MiB);
* an explicit **connect-to map** (curl's ``--connect-to``): ``{"pki.ltv.test:80": ("127.0.0.1",
  54321)}`` connects to the loopback port while the request still says ``Host: pki.ltv.test``.
  Names under the reserved ``.test`` and ``.invalid`` TLDs (RFC 6761 §6.2, §6.4) are never handed
  to a DNS resolver: unmapped, they fail with detail ``unresolvable``.

Every attempt is recorded in :attr:`HttpClient.exchanges` (thread-safe). Failures raise
:class:`HttpError` whose ``detail`` is one of ``timeout``, ``refused``, ``unresolvable``,
``http-<code>``, ``too-large``, ``connection-error``, ``bad-url``, ``bad-redirect`` (to a scheme
other than http/https), ``too-many-redirects`` or ``network-disabled`` (and, from a
:class:`Session`, ``budget-exhausted``).
Retries (bounded) happen only for connection-level failures before any response byte arrived,
and only while the deadline allows.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import SplitResult, urljoin, urlsplit

from ltv.errors import NetworkError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "Exchange",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "NoNetwork",
    "Session",
    "Transport",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds; CA/Browser Forum Baseline Requirements §4.10.2."""
DEFAULT_BUDGET = 30.0
"""Seconds for ALL requests of one operation (one verification, one signing): four slow
responders must not add up to four times the per-request limit."""
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Largest response body accepted by default (large CRLs fit)."""
USER_AGENT = "ltv/0.1"

_RESERVED_TLDS = (".test", ".invalid")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class HttpError(NetworkError):
    """A request failed; ``detail`` is the short machine-readable cause."""

    def __init__(self, detail: str, url: str, message: str | None = None) -> None:
        super().__init__(message or f"{url}: {detail}", hint=_HINTS.get(detail.split("-")[0]))
        self.detail = detail
        self.url = url

    @property
    def status(self) -> int | None:
        """The HTTP status code for ``http-<code>`` failures, else ``None``."""
        if self.detail.startswith("http-"):
            return int(self.detail[5:])
        return None


_HINTS = {
    "timeout": "the server did not answer within the time budget",
    "refused": "nothing listens at that address",
    "unresolvable": "host names under .test/.invalid need a connect_to mapping",
    "network": "the policy forbids network access (online=never)",
    "budget": "the operation's network budget is spent; raise it or fix the slow servers",
}


@dataclass(frozen=True)
class Exchange:
    """One request attempt, as recorded by a client (also the attempts that failed)."""

    url: str
    method: str
    status: int | None
    """HTTP status code, ``None`` when no response line was received."""
    bytes_sent: int
    bytes_received: int
    latency: float
    """Seconds from the start of the attempt to its end (or failure)."""
    error: str | None
    """The failure detail (see :class:`HttpError`), ``None`` on success."""


@dataclass(frozen=True)
class HttpResponse:
    """A complete, successful (2xx) response."""

    url: str
    """The URL that answered (after redirects)."""
    status: int
    headers: Mapping[str, str]
    """Header names in lower case; repeated headers joined with ``", "``."""
    body: bytes
    latency: float

    @property
    def content_type(self) -> str | None:
        """The media type without parameters, lower case."""
        value = self.headers.get("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None


class Transport(Protocol):
    """What the OCSP/CRL code needs from a client: :class:`HttpClient` or :class:`NoNetwork`."""

    @property
    def exchanges(self) -> tuple[Exchange, ...]: ...

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse: ...


class NoNetwork:
    """The client for ``online=never``: it opens no socket, every request fails.

    Failures carry detail ``network-disabled``. Nothing is added to :attr:`exchanges` (no request
    was made); the URLs that would have been asked are kept in :attr:`attempted`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempted: list[str] = []

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        return ()

    @property
    def attempted(self) -> tuple[str, ...]:
        """URLs that callers tried to fetch."""
        with self._lock:
            return tuple(self._attempted)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        with self._lock:
            self._attempted.append(url)
        raise HttpError("network-disabled", url, f"{url}: network access is disabled by policy")


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline reached")
        return left


@dataclass
class _Counter:
    sent: int = 0
    received: int = 0


class _DeadlineReader(io.RawIOBase):
    """Raw reader over a socket: every ``recv`` gets only the time left until the deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline, counter: _Counter) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._counter = counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._sock.settimeout(self._deadline.remaining())
        n = self._sock.recv_into(buffer)
        self._counter.received += n
        return n


class _SocketShim:
    """Just enough of a socket for :class:`http.client.HTTPResponse` (it calls ``makefile``)."""

    def __init__(self, reader: _DeadlineReader) -> None:
        self._reader = reader

    def makefile(self, mode: str, *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(self._reader, _CHUNK)


class _Attempt(Exception):
    """Internal: an attempt failed; ``retryable`` when nothing of a response arrived."""

    def __init__(self, detail: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status = status


class HttpClient:
    """Bounded HTTP/1.1 client (http, and https through :mod:`ssl`).

    :param timeout: total seconds per :meth:`request` call (all attempts, redirects included).
    :param max_bytes: largest accepted response body; larger ones fail with ``too-large``.
    :param connect_to: ``{"host:port": (address, port)}``; the key's port is the URL's effective
        port (80 for http when absent). Mapped hosts connect there, keeping the ``Host`` header.
    :param retries: extra attempts after a connection-level failure (``refused`` or
        ``connection-error`` before any response byte); timeouts and HTTP errors are not retried.
    :param ssl_context: for https; the default verifies certificates against the system store.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        connect_to: Mapping[str, tuple[str, int]] | None = None,
        retries: int = 1,
        user_agent: str = USER_AGENT,
        follow_redirects: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.connect_to: dict[str, tuple[str, int]] = {
            k.lower(): v for k, v in (connect_to or {}).items()
        }
        self.retries = retries
        self.user_agent = user_agent
        self.follow_redirects = follow_redirects
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        """Every attempt made so far, oldest first (a snapshot)."""
        with self._lock:
            return tuple(self._exchanges)

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    # -- public --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Send one request and return the complete 2xx response, or raise :class:`HttpError`.

        ``timeout`` overrides the client's budget for this call. GET/HEAD redirects
        (301/302/303/307/308) are followed up to 3 times within the same budget.
        """
        method = method.upper()
        deadline = _Deadline(self.timeout if timeout is None else timeout)
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._with_retries(method, current, body, headers, deadline)
            location = response.headers.get("location")
            if (
                self.follow_redirects
                and response.status in (301, 302, 303, 307, 308)
                and method in ("GET", "HEAD")
                and location
            ):
                target = urljoin(current, location)
                if urlsplit(target).scheme not in _DEFAULT_PORTS:
                    # a redirect to file:, ftp:, ldap:... is never followed
                    raise HttpError("bad-redirect", current, f"{current}: redirect to {target!r}")
                # another host is reached under the same rules (connect_to, no DNS for
                # reserved names) and within the same deadline
                current = target
                continue
            if not 200 <= response.status < 300:
                raise HttpError(f"http-{response.status}", current)
            return response
        raise HttpError("too-many-redirects", url, f"{url}: more than {_MAX_REDIRECTS} redirects")

    # -- internals -----------------------------------------------------------------------------

    def _with_retries(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        deadline: _Deadline,
    ) -> HttpResponse:
        attempt = 0
        while True:
            start = time.monotonic()
            counter = _Counter()
            try:
                response = self._attempt(method, url, body, headers, deadline, counter)
            except _Attempt as failure:
                self._record(
                    Exchange(
                        url=url,
                        method=method,
                        status=failure.status,
                        bytes_sent=counter.sent,
                        bytes_received=counter.received,
                        latency=time.monotonic() - start,
                        error=failure.detail,
                    )
                )
                if (
                    failure.retryable
                    and attempt < self.retries
                    and deadline.end - time.monotonic() > 0
                ):
                    attempt += 1
                    continue
                raise HttpError(failure.detail, url) from failure
            self._record(
                Exchange(
                    url=url,
                    method=method,
                    status=response.status,
                    bytes_sent=counter.sent,
                    bytes_received=counter.received,
                    latency=response.latency,
                    error=None if response.status < 400 else f"http-{response.status}",
                )
            )
            return response

    def _target(self, parts: SplitResult) -> tuple[str, int, str]:
        """Resolve (address, port, Host header) for a URL, honouring ``connect_to``."""
        host = (parts.hostname or "").lower()
        default_port = _DEFAULT_PORTS[parts.scheme]
        port = parts.port or default_port
        bracketed = f"[{host}]" if ":" in host else host
        host_header = bracketed if port == default_port else f"{bracketed}:{port}"
        mapped = self.connect_to.get(f"{bracketed}:{port}") or self.connect_to.get(host)
        if mapped is not None:
            return mapped[0], mapped[1], host_header
        if host.rstrip(".").endswith(_RESERVED_TLDS) or host.rstrip(".") in ("test", "invalid"):
            # RFC 6761 §6.2/§6.4: never ask a resolver about reserved names.
            raise _Attempt("unresolvable", retryable=False)
        return host, port, host_header

    def _connect(self, address: str, port: int, deadline: _Deadline) -> socket.socket:
        try:
            # getaddrinfo itself cannot be bounded by the stdlib; connect is.
            infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise _Attempt("unresolvable", retryable=False) from exc
        last: _Attempt | None = None
        for family, socktype, proto, _name, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                sock.settimeout(deadline.remaining())
                sock.connect(sockaddr)
            except ConnectionRefusedError:
                sock.close()
                last = _Attempt("refused", retryable=True)
            except TimeoutError as exc:
                sock.close()
                raise _Attempt("timeout", retryable=False) from exc
            except OSError:
                sock.close()
                last = _Attempt("connection-error", retryable=True)
            else:
                return sock
        raise last or _Attempt("unresolvable", retryable=False)

    def _attempt(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        deadline: _Deadline,
        counter: _Counter,
    ) -> HttpResponse:
        start = time.monotonic()
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise _Attempt("bad-url", retryable=False)
        try:
            address, port, host_header = self._target(parts)
        except ValueError as exc:  # bad port
            raise _Attempt("bad-url", retryable=False) from exc
        try:
            sock = self._connect(address, port, deadline)
        except TimeoutError as exc:
            raise _Attempt("timeout", retryable=False) from exc
        got_response = False
        try:
            if parts.scheme == "https":
                context = self._ssl_context or ssl.create_default_context()
                sock.settimeout(deadline.remaining())
                sock = context.wrap_socket(sock, server_hostname=parts.hostname)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            head = {
                "Host": host_header,
                "User-Agent": self.user_agent,
                "Accept": "*/*",
                "Connection": "close",
            }
            if headers:
                head.update(headers)
            if body is not None or method in ("POST", "PUT"):
                head["Content-Length"] = str(len(body or b""))
            lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in head.items()]
            payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
            sock.settimeout(deadline.remaining())
            sock.sendall(payload)
            counter.sent += len(payload)

            reader = _DeadlineReader(sock, deadline, counter)
            response = http.client.HTTPResponse(_SocketShim(reader), method=method)  # type: ignore[arg-type]
            response.begin()
            got_response = True
            declared = response.getheader("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise _Attempt("too-large", retryable=False, status=response.status)
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise _Attempt("too-large", retryable=False, status=response.status)
                chunks.append(chunk)
            merged: dict[str, str] = {}
            for name, value in response.getheaders():
                key = name.lower()
                merged[key] = f"{merged[key]}, {value}" if key in merged else value
            return HttpResponse(
                url=url,
                status=response.status,
                headers=merged,
                body=b"".join(chunks),
                latency=time.monotonic() - start,
            )
        except _Attempt:
            raise
        except TimeoutError as exc:
            raise _Attempt("timeout", retryable=False) from exc
        except ssl.SSLError as exc:
            raise _Attempt("connection-error", retryable=False) from exc
        except (OSError, http.client.HTTPException) as exc:
            # Reset/closed before a status line arrived: a connection-level failure, retryable.
            raise _Attempt("connection-error", retryable=not got_response) from exc
        finally:
            sock.close()


class Session:
    """One operation's view of a transport (one verification, one signing, one extension).

    * records exactly the requests made through it (:attr:`exchanges`: one entry per
      :meth:`request` call, whatever the shared transport underneath did for others meanwhile);
    * enforces a **total budget** over all of them: each request gets at most the time left
      (and never more than its own per-request timeout); once the budget is spent a request
      fails at once with detail ``budget-exhausted``, without touching the network.

    Thread-safe; the inner transport (an :class:`HttpClient`, shared by many sessions) is not
    modified. Requests refused by :class:`NoNetwork` (``network-disabled``) are not recorded:
    nothing was sent.
    """

    def __init__(
        self,
        inner: Transport,
        *,
        budget: float | None = DEFAULT_BUDGET,
        per_request: float | None = None,
    ) -> None:
        if budget is not None and budget <= 0:
            raise ValueError("budget must be positive")
        self.inner = inner
        self.budget = budget
        self.per_request = (
            per_request if per_request is not None else getattr(inner, "timeout", DEFAULT_TIMEOUT)
        )
        self._end = None if budget is None else time.monotonic() + budget
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        with self._lock:
            return tuple(self._exchanges)

    def remaining(self) -> float | None:
        """Seconds left in the budget (``None``: unbounded)."""
        return None if self._end is None else max(0.0, self._end - time.monotonic())

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        limit = self.per_request if timeout is None else timeout
        left = self.remaining()
        if left is not None:
            if left <= 0.001:
                self._record(url, method, None, 0.0, "budget-exhausted", 0)
                raise HttpError(
                    "budget-exhausted",
                    url,
                    f"{url}: the network budget of {self.budget:g} s for this operation is spent",
                )
            limit = min(limit, left)
        start = time.monotonic()
        try:
            response = self.inner.request(method, url, body=body, headers=headers, timeout=limit)
        except HttpError as err:
            if err.detail != "network-disabled":
                self._record(url, method, err.status, time.monotonic() - start, err.detail, 0)
            raise
        self._record(url, method, response.status, response.latency, None, len(response.body))
        return response

    def _record(
        self,
        url: str,
        method: str,
        status: int | None,
        latency: float,
        error: str | None,
        received: int,
    ) -> None:
        with self._lock:
            self._exchanges.append(
                Exchange(
                    url=url,
                    method=method.upper(),
                    status=status,
                    bytes_sent=0,
                    bytes_received=received,
                    latency=latency,
                    error=error,
                )
            )
