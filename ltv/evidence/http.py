"""The only place in ltv that opens sockets: a small, bounded, synchronous HTTP/1.1 client.

(One exception: :mod:`ltv.evidence.tls`, the TLS stapling probe, makes its own handshake through
pyOpenSSL — see docs/decisions.md D13.)

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

For measurement (``ltv probe``) the client also records a :class:`Timing` per attempt (name
lookup, connect, TLS handshake, time to first byte, total) and the peer address, and
:meth:`HttpClient.request` can force an address family (``family="ipv4"|"ipv6"``) or send the
request the way OpenSSL's OCSP client did, HTTP/1.0 without a ``Host`` header
(``send_host=False``). A ``connect_to`` entry may list several addresses (a dual-stack name:
``[("127.0.0.1", p4), ("::1", p6)]``), tried in order like the addresses a resolver returns.

``HttpClient(keep_alive=True)`` reuses connections (HTTP/1.1 persistent connections, RFC 9112
§9.3): a connection whose response was read to its end and that neither side asked to close
goes back to a small idle pool per (scheme, addresses, server name); an idle connection the
server has closed meanwhile is dropped before use, and a reused one that fails before any
response byte is replaced by a fresh one once, transparently. :attr:`HttpClient.connections_opened`
counts the TCP connections made. Off by default (every request ``Connection: close``);
measurement requests (a forced address family, no ``Host``) never reuse a connection.
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
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
    "Timing",
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
        self.exchange: Exchange | None = None
        """The last attempt as recorded by :class:`HttpClient` (timing, peer), if any."""

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
class Timing:
    """Where the time of one attempt went, in seconds (``None``: that phase did not happen).

    ``dns``, ``connect`` and ``tls`` are the durations of name lookup, TCP connect and TLS
    handshake; ``ttfb`` (time to first byte) and ``total`` count from the start of the attempt,
    like curl's ``time_starttransfer`` and ``time_total``.
    """

    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    ttfb: float | None = None
    total: float | None = None
    phase: str | None = None
    """Where a failed attempt stopped: ``dns``, ``connect``, ``tls``, ``send``, ``wait`` (no
    response byte) or ``read``; ``None`` on success."""


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
    timing: Timing | None = None
    """Phase breakdown (recorded by :class:`HttpClient`; ``None`` where not measured)."""
    peer: str | None = None
    """The address connected to (``127.0.0.1``, ``::1``...), when a connection was made."""


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
    timing: Timing | None = None
    """Phase breakdown of the attempt that answered (:class:`HttpClient` only)."""
    peer: str | None = None
    """The address that answered (:class:`HttpClient` only)."""

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
    start: float = 0.0
    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    first_byte: float | None = None
    """Monotonic time the first response byte arrived."""
    phase: str = "dns"
    peer: str | None = None

    def timing(self, end: float, *, failed: bool) -> Timing:
        return Timing(
            dns=self.dns,
            connect=self.connect,
            tls=self.tls,
            ttfb=None if self.first_byte is None else self.first_byte - self.start,
            total=end - self.start,
            phase=self.phase if failed else None,
        )


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
        if n and self._counter.first_byte is None:
            self._counter.first_byte = time.monotonic()
            self._counter.phase = "read"
        self._counter.received += n
        return n


class _SocketShim:
    """Just enough of a socket for :class:`http.client.HTTPResponse` (it calls ``makefile``)."""

    def __init__(self, reader: _DeadlineReader) -> None:
        self._reader = reader

    def makefile(self, mode: str, *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(self._reader, _CHUNK)


_FAMILY_NAMES: dict[int, str] = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}
_FAMILIES = frozenset(_FAMILY_NAMES.values())


def _is_pair(value: object) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)


@dataclass(frozen=True)
class _Options:
    family: str | None = None
    send_host: bool = True


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
        A value may also be a list of ``(address, port)`` pairs, tried in order (a name with
        several addresses, e.g. IPv4 and IPv6); :attr:`connect_to` keeps the first of each.
    :param retries: extra attempts after a connection-level failure (``refused`` or
        ``connection-error`` before any response byte); timeouts and HTTP errors are not retried.
    :param ssl_context: for https; the default verifies certificates against the system store.
    :param keep_alive: reuse connections (see the module docstring); :meth:`close` drops the
        idle ones.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        connect_to: Mapping[str, tuple[str, int] | Sequence[tuple[str, int]]] | None = None,
        retries: int = 1,
        user_agent: str = USER_AGENT,
        follow_redirects: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        keep_alive: bool = False,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._connect_all: dict[str, list[tuple[str, int]]] = {}
        for key, value in (connect_to or {}).items():
            pairs: list[Any] = [value] if _is_pair(value) else list(value)
            if not pairs:
                raise ValueError(f"connect_to[{key!r}]: no address")
            self._connect_all[key.lower()] = [(str(a), int(p)) for a, p in pairs]
        self.connect_to: dict[str, tuple[str, int]] = {
            k: v[0] for k, v in self._connect_all.items()
        }
        self.retries = retries
        self.user_agent = user_agent
        self.follow_redirects = follow_redirects
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self.keep_alive = keep_alive
        self._pool = _ConnectionPool() if keep_alive else None
        self._connections = 0

    @property
    def connections_opened(self) -> int:
        """TCP connections this client opened (with ``keep_alive``, fewer than requests)."""
        with self._lock:
            return self._connections

    def close(self) -> None:
        """Close the idle kept-alive connections (the client stays usable)."""
        if self._pool is not None:
            self._pool.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        family: str | None = None,
        send_host: bool = True,
    ) -> HttpResponse:
        """Send one request and return the complete 2xx response, or raise :class:`HttpError`.

        ``timeout`` overrides the client's budget for this call. GET/HEAD redirects
        (301/302/303/307/308) are followed up to 3 times within the same budget.
        ``family`` (``"ipv4"`` or ``"ipv6"``) connects only to addresses of that family (none:
        ``unresolvable``). ``send_host=False`` sends ``HTTP/1.0`` without a ``Host`` header, as
        OpenSSL's ``ocsp`` client did (a shared virtual host cannot route such a request).
        """
        method = method.upper()
        if family is not None and family not in _FAMILIES:
            raise ValueError(f"family must be one of {sorted(_FAMILIES)}")
        options = _Options(family=family, send_host=send_host)
        deadline = _Deadline(self.timeout if timeout is None else timeout)
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            response = self._with_retries(method, current, body, headers, deadline, options)
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
                error = HttpError(f"http-{response.status}", current)
                error.exchange = self._last_exchange()
                raise error
            return response
        raise HttpError("too-many-redirects", url, f"{url}: more than {_MAX_REDIRECTS} redirects")

    def resolve(self, url: str, *, timeout: float | None = None) -> list[tuple[str, str, int]]:
        """``(family, address, port)`` for every address ``url`` would be connected to.

        ``family`` is ``ipv4`` or ``ipv6``. Honours ``connect_to`` (no lookup for mapped
        hosts, nor for ``.test``/``.invalid``: unmapped, they give ``[]``); otherwise asks the
        system resolver. Raises :class:`HttpError` (``bad-url``, ``unresolvable``).
        """
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise HttpError("bad-url", url)
        try:
            targets, _host = self._target(parts)
        except _Attempt as exc:
            raise HttpError(exc.detail, url) from None
        except ValueError:
            raise HttpError("bad-url", url) from None
        out: list[tuple[str, str, int]] = []
        for address, port in targets:
            try:
                infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)
            except socket.gaierror:
                continue
            for fam, _t, _p, _n, sockaddr in infos:
                name = _FAMILY_NAMES.get(fam)
                entry = (name, str(sockaddr[0]), int(sockaddr[1])) if name else None
                if entry is not None and entry not in out:
                    out.append(entry)
        if not out:
            raise HttpError("unresolvable", url)
        return out

    def _last_exchange(self) -> Exchange | None:
        with self._lock:
            return self._exchanges[-1] if self._exchanges else None

    # -- internals -----------------------------------------------------------------------------

    def _with_retries(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        deadline: _Deadline,
        options: _Options | None = None,
    ) -> HttpResponse:
        options = options or _Options()
        attempt = 0
        while True:
            start = time.monotonic()
            counter = _Counter(start=start)
            try:
                response = self._attempt(method, url, body, headers, deadline, counter, options)
            except _Attempt as failure:
                end = time.monotonic()
                exchange = Exchange(
                    url=url,
                    method=method,
                    status=failure.status,
                    bytes_sent=counter.sent,
                    bytes_received=counter.received,
                    latency=end - start,
                    error=failure.detail,
                    timing=counter.timing(end, failed=True),
                    peer=counter.peer,
                )
                self._record(exchange)
                if (
                    failure.retryable
                    and attempt < self.retries
                    and deadline.end - time.monotonic() > 0
                ):
                    attempt += 1
                    continue
                error = HttpError(failure.detail, url)
                error.exchange = exchange
                raise error from failure
            self._record(
                Exchange(
                    url=url,
                    method=method,
                    status=response.status,
                    bytes_sent=counter.sent,
                    bytes_received=counter.received,
                    latency=response.latency,
                    error=None if response.status < 400 else f"http-{response.status}",
                    timing=response.timing,
                    peer=response.peer,
                )
            )
            return response

    def _target(self, parts: SplitResult) -> tuple[list[tuple[str, int]], str]:
        """Resolve ([(address, port)...], Host header) for a URL, honouring ``connect_to``."""
        host = (parts.hostname or "").lower()
        default_port = _DEFAULT_PORTS[parts.scheme]
        port = parts.port or default_port
        bracketed = f"[{host}]" if ":" in host else host
        host_header = bracketed if port == default_port else f"{bracketed}:{port}"
        mapped = self._connect_all.get(f"{bracketed}:{port}") or self._connect_all.get(host)
        if mapped is not None:
            return list(mapped), host_header
        if host.rstrip(".").endswith(_RESERVED_TLDS) or host.rstrip(".") in ("test", "invalid"):
            # RFC 6761 §6.2/§6.4: never ask a resolver about reserved names.
            raise _Attempt("unresolvable", retryable=False)
        return [(host, port)], host_header

    def _connect(
        self,
        targets: list[tuple[str, int]],
        deadline: _Deadline,
        counter: _Counter | None = None,
        family: str | None = None,
    ) -> socket.socket:
        counter = counter or _Counter(start=time.monotonic())
        counter.phase = "dns"
        lookup_start = time.monotonic()
        infos: list[Any] = []
        for address, port in targets:
            try:
                # getaddrinfo itself cannot be bounded by the stdlib; connect is.
                infos.extend(socket.getaddrinfo(address, port, type=socket.SOCK_STREAM))
            except socket.gaierror:
                continue
        counter.dns = time.monotonic() - lookup_start
        if family is not None:
            infos = [i for i in infos if _FAMILY_NAMES.get(i[0]) == family]
        if not infos:
            raise _Attempt("unresolvable", retryable=False)
        counter.phase = "connect"
        last: _Attempt | None = None
        for family_, socktype, proto, _name, sockaddr in infos:
            sock = socket.socket(family_, socktype, proto)
            connect_start = time.monotonic()
            try:
                sock.settimeout(deadline.remaining())
                sock.connect(sockaddr)
                counter.connect = time.monotonic() - connect_start
                counter.peer = str(sockaddr[0])
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
                with self._lock:
                    self._connections += 1
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
        options: _Options | None = None,
    ) -> HttpResponse:
        options = options or _Options()
        start = time.monotonic()
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise _Attempt("bad-url", retryable=False)
        try:
            targets, host_header = self._target(parts)
        except ValueError as exc:  # bad port
            raise _Attempt("bad-url", retryable=False) from exc
        # keep-alive (RFC 9112 §9.3): only plain requests reuse a connection; a measurement that
        # forces an address family or omits Host always opens its own
        reusable = self._pool is not None and options.send_host and options.family is None
        pool_key = (parts.scheme, repr(targets), parts.hostname or "")
        if reusable and self._pool is not None:
            reused = self._pool.take(pool_key)
            if reused is not None:
                try:
                    return self._exchange(
                        reused, pool_key, url, parts, method, body, headers, deadline,
                        counter, options, host_header, start, fresh=False,
                    )  # fmt: skip
                except _Attempt as failure:
                    # a kept-alive connection the server closed meanwhile; nothing of a
                    # response arrived, so the request goes once more, on a fresh connection
                    if not (failure.retryable and counter.received == 0):
                        raise
                    counter.sent = 0
        try:
            sock = self._connect(targets, deadline, counter, options.family)
        except TimeoutError as exc:
            raise _Attempt("timeout", retryable=False) from exc
        return self._exchange(
            sock, pool_key if reusable else None, url, parts, method, body, headers, deadline,
            counter, options, host_header, start, fresh=True,
        )  # fmt: skip

    def _exchange(
        self,
        sock: socket.socket,
        pool_key: tuple[str, str, str] | None,
        url: str,
        parts: SplitResult,
        method: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        deadline: _Deadline,
        counter: _Counter,
        options: _Options,
        host_header: str,
        start: float,
        *,
        fresh: bool,
    ) -> HttpResponse:
        """One request/response on a connected socket (TLS set up on a fresh one); the socket
        is closed, or goes back to the pool when the response was read to its end and the
        connection may persist."""
        got_response = False
        keep = False
        try:
            if parts.scheme == "https" and fresh:
                counter.phase = "tls"
                tls_start = time.monotonic()
                context = self._ssl_context or ssl.create_default_context()
                sock.settimeout(deadline.remaining())
                sock = context.wrap_socket(sock, server_hostname=parts.hostname)
                counter.tls = time.monotonic() - tls_start
            counter.phase = "send"
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            head = {
                "Host": host_header,
                "User-Agent": self.user_agent,
                "Accept": "*/*",
                "Connection": "keep-alive" if pool_key is not None else "close",
            }
            version = "HTTP/1.1"
            if not options.send_host:
                # OpenSSL's ocsp client: HTTP/1.0 and no Host (HTTP/1.1 requires one).
                del head["Host"]
                version = "HTTP/1.0"
            if headers:
                head.update(headers)
            if body is not None or method in ("POST", "PUT"):
                head["Content-Length"] = str(len(body or b""))
            lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in head.items()]
            payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
            sock.settimeout(deadline.remaining())
            sock.sendall(payload)
            counter.sent += len(payload)
            counter.phase = "wait"

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
            end = time.monotonic()
            keep = pool_key is not None and not response.will_close
            return HttpResponse(
                url=url,
                status=response.status,
                headers=merged,
                body=b"".join(chunks),
                latency=end - start,
                timing=counter.timing(end, failed=False),
                peer=counter.peer,
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
            if keep and pool_key is not None and self._pool is not None:
                self._pool.give(pool_key, sock)
            else:
                sock.close()


class _ConnectionPool:
    """Idle kept-alive connections per (scheme, addresses, server name); thread-safe."""

    MAX_IDLE_PER_KEY = 16
    MAX_IDLE_SECONDS = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, str], list[tuple[socket.socket, float]]] = {}

    def take(self, key: tuple[str, str, str]) -> socket.socket | None:
        """An idle connection that is still open, or ``None``."""
        while True:
            with self._lock:
                stack = self._idle.get(key)
                if not stack:
                    return None
                sock, since = stack.pop()
            if time.monotonic() - since < self.MAX_IDLE_SECONDS and self._still_open(sock):
                return sock
            sock.close()

    @staticmethod
    def _still_open(sock: socket.socket) -> bool:
        # An idle connection has nothing to read: readable means closed by the server (EOF)
        # or unsolicited bytes; either way it is not reused.
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def give(self, key: tuple[str, str, str], sock: socket.socket) -> None:
        with self._lock:
            stack = self._idle.setdefault(key, [])
            if len(stack) < self.MAX_IDLE_PER_KEY:
                stack.append((sock, time.monotonic()))
                return
        sock.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for stack in idle.values():
            for sock, _ in stack:
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
