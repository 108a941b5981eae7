"""The sample PKI on 127.0.0.1: certomancer's Animator + OCSP GET, misbehaving responders, a log.

Routes (``{ARCH}`` = ``ltv``; every answer is computed "as of" :meth:`PkiServer.now`):

- ``POST /ltv/ocsp/<label>`` and ``GET /ltv/ocsp/<label>/<url-encoded base64 of DER OCSPRequest>``
  (RFC 6960 appendix A.1) for ``root``, ``interm``, ``tsa-root`` (certomancer's responders) and:
  ``unknown`` (a response signed by ``interm-ocsp`` that says 'unknown' for every CertID of interm),
  ``slow`` (sleeps :attr:`PkiServer.slow_seconds`, then answers like ``interm``),
  ``http500`` (HTTP 500), ``garbage`` (HTTP 200, ``application/ocsp-response``, not DER).
- Everything else goes to certomancer's Animator: ``GET /ltv/crls/<label>/latest.crl``,
  ``POST /ltv/tsa/tsa`` and ``/ltv/tsa/tsa-short``, ``GET /ltv/certs/<label>/ca.crt`` ...

Every exchange is appended to :attr:`PkiServer.log`. The ``X-Certomancer-Fake-Time`` header is
ignored: :meth:`PkiServer.freeze` is the one way to move the clock.

For responder monitoring (``ltv probe``): ``PkiServer(ipv6=True)`` also listens on ``[::1]``
where the machine has IPv6 loopback (:attr:`PkiServer.ipv6_port`,
:attr:`PkiServer.dual_stack_connect_to`);
:attr:`PkiServer.virtual_host` makes it a shared virtual host that answers only requests whose
``Host`` header names it (others get 404, as a default virtual host would); :attr:`PkiServer.down`
makes chosen services answer 503 (an outage of one responder while the others answer).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, cast

from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from samples.pki import (
    ARCH,
    CERT_LABELS,
    CONFIG_PATH,
    HOST,
    PKI_DIR,
    REFUSED_HOST,
    cert_path,
    load_cert,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from asn1crypto import ocsp

__all__ = ["GARBAGE_BODY", "LogEntry", "PkiServer", "RequestLog", "has_ipv6_loopback"]

logger = logging.getLogger(__name__)

GARBAGE_BODY: Final = b"\x00\xffthis is not an OCSPResponse\xfe\x01" * 4
"""Body of the ``garbage`` responder (HTTP 200, ``application/ocsp-response``): not DER."""

OCSP_MIME: Final = "application/ocsp-response"
MAX_BODY: Final = 1 << 20
_OCSP_PREFIX: Final = f"/{ARCH}/ocsp/"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One HTTP exchange as the server saw it."""

    method: str
    path: str
    """Decoded request path without the query (for an OCSP GET: including the encoded request)."""
    host: str
    """The ``Host`` header as sent (``pki.ltv.test`` when a client honours the URL's authority)."""
    status: int
    content_type: str
    """``Content-Type`` of the *response* ('' if none)."""
    body_length: int
    """Length of the *request* body in bytes."""
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """Wall-clock time (UTC) the request arrived; not the frozen clock."""


class RequestLog:
    """A thread-safe, append-only (until :meth:`clear`) list of :class:`LogEntry`.

    Reading it (iteration, indexing, ``len``) works on a snapshot, so it is safe while requests
    are being served.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LogEntry] = []
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """Bumped by :meth:`clear`: a request that started before a clear is not logged after it."""
        with self._lock:
            return self._epoch

    def append(self, entry: LogEntry, *, epoch: int | None = None) -> None:
        """Log ``entry`` unless the log was cleared since ``epoch`` (when the request started)."""
        with self._lock:
            if epoch is None or epoch == self._epoch:
                self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._epoch += 1

    def snapshot(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def matching(self, *, method: str | None = None, path_prefix: str = "") -> list[LogEntry]:
        """Entries with this method (any if ``None``) whose path starts with ``path_prefix``."""
        return [
            e
            for e in self.snapshot()
            if (method is None or e.method == method) and e.path.startswith(path_prefix)
        ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.snapshot())

    def __getitem__(self, index: int) -> LogEntry:
        with self._lock:
            return self._entries[index]

    def __repr__(self) -> str:
        return f"RequestLog({self.snapshot()!r})"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {value!r}")
    return value.astimezone(UTC)


def decode_ocsp_get_path(encoded: str) -> bytes:
    """DER OCSPRequest from the last part of an RFC 6960 A.1 GET URL.

    ``encoded`` is the path after ``.../ocsp/<label>/`` as the WSGI server passes it (percent
    decoding done once). It is unquoted once more (harmless for base64, whose alphabet has no
    '%', and it accepts clients that double-encode), a space is read as '+' (a client that
    form-encoded), and missing '=' padding is tolerated.
    """
    text = urllib.parse.unquote(encoded).replace(" ", "+").strip()
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


class _AlwaysUnknown:
    """Revocation source for the ``unknown`` responder: 'unknown' for every CertID it serves."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def get_issuer_cert(self) -> Any:
        return self._inner.get_issuer_cert()

    def check_revocation_status(self, cid: Any, at_time: datetime) -> tuple[Any, list[Any]]:
        from asn1crypto import core, ocsp

        return ocsp.CertStatus(name="unknown", value=core.Null()), []


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the per-request line on stderr (our log has it)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s -> %s", self.command, self.path, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        getattr(logger, type if type in {"info", "warning", "error"} else "debug")(message, *args)


class PkiServer:
    """The sample PKI served by a threaded werkzeug server on 127.0.0.1.

    >>> with PkiServer() as server:                    # doctest: +SKIP
    ...     server.freeze(datetime(2026, 7, 1, tzinfo=UTC))
    ...     client = HttpClient(connect_to=server.connect_to)

    ``port=0`` picks a free port. ``fake_time`` (timezone-aware) freezes the clock from the start.
    ``slow_seconds`` is how long the ``slow`` responder sleeps (can be changed while running);
    :meth:`stop` wakes sleeping handlers.
    """

    def __init__(
        self,
        port: int = 0,
        fake_time: datetime | None = None,
        slow_seconds: float = 30.0,
        *,
        ipv6: bool = False,
    ) -> None:
        self._requested_port = port
        self._frozen: datetime | None = None if fake_time is None else _utc(fake_time)
        self._initial_slow_seconds = slow_seconds
        self.slow_seconds: float = slow_seconds
        self.latency: dict[str, float] = {}
        """Seconds from a request's arrival to its answer, per service kind: ``ocsp``,
        ``crls``, ``tsa``, ``certs`` (the path segment after ``/ltv/``) — e.g. the published
        worldwide averages ``{"ocsp": 0.1, "crls": 0.25, "tsa": 0.1}``. The responder's own
        work is part of it (as in a measured round trip): an answer made in 5 ms waits 95 ms
        more, one that took longer than the latency leaves at once. Changeable while running;
        cleared by :meth:`reset`."""
        self.virtual_host: str | None = None
        """When set (e.g. ``"pki.ltv.test"``), requests whose ``Host`` header (port removed) is
        not this name — or that carry none, as OpenSSL's OCSP client sent — get 404 ``unknown
        virtual host``. Cleared by :meth:`reset`."""
        self.down: set[str] = set()
        """Services answering 503 ``service unavailable``: a service kind (``ocsp``, ``crls``,
        ``tsa``, ``certs``) or ``kind/label`` (``ocsp/interm``). Cleared by :meth:`reset`."""
        self._want_ipv6 = ipv6
        self._server6: BaseWSGIServer | None = None
        self._thread6: threading.Thread | None = None
        self.log: Final = RequestLog()
        self._clock_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._refused_socket: socket.socket | None = None
        self._arch: Any = None
        self._animator: Any = None

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Load the PKI, bind the port, reserve the refused port and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._load_pki()
        self._stopping.clear()
        # A bound socket that never listen()s: connections to it get RST (ECONNREFUSED) and no
        # other process can take the port while we hold it.
        refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        refused.bind(("127.0.0.1", 0))
        self._refused_socket = refused
        server = make_server(
            "127.0.0.1",
            self._requested_port,
            self._wsgi,
            threaded=True,
            request_handler=_QuietHandler,
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"PkiServer:{server.port}",
            daemon=True,
        )
        self._thread.start()
        if self._want_ipv6 and has_ipv6_loopback():
            server6 = make_server(
                "::1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
            )
            self._server6 = server6
            self._thread6 = threading.Thread(
                target=server6.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"PkiServer6:{server6.port}",
                daemon=True,
            )
            self._thread6.start()
        return self

    def stop(self) -> None:
        """Stop serving and release both ports (idempotent)."""
        self._stopping.set()
        server6, self._server6 = self._server6, None
        if server6 is not None:
            server6.shutdown()
            server6.server_close()
        if self._thread6 is not None:
            self._thread6.join(timeout=5)
            self._thread6 = None
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._refused_socket is not None:
            self._refused_socket.close()
            self._refused_socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- addresses -----------------------------------------------------------------------------

    def _running(self) -> BaseWSGIServer:
        if self._server is None:
            raise RuntimeError("PkiServer is not running (call start() or use it as a context)")
        return self._server

    @property
    def port(self) -> int:
        return self._running().port

    @property
    def refused_port(self) -> int:
        """A loopback port where nothing listens (held bound, so it stays that way)."""
        self._running()
        if self._refused_socket is None:
            raise RuntimeError("PkiServer is not running")
        return cast(int, self._refused_socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (for clients without a connect-to map)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def connect_to(self) -> dict[str, tuple[str, int]]:
        """``{"pki.ltv.test:80": ("127.0.0.1", port), "refused.ltv.test:80": (..., refused)}``."""
        return {
            f"{HOST}:80": ("127.0.0.1", self.port),
            f"{REFUSED_HOST}:80": ("127.0.0.1", self.refused_port),
        }

    @property
    def ipv6_port(self) -> int | None:
        """Port of the ``[::1]`` listener (``PkiServer(ipv6=True)`` on a machine with IPv6
        loopback), else ``None``."""
        self._running()
        return None if self._server6 is None else self._server6.port

    @property
    def dual_stack_connect_to(self) -> dict[str, list[tuple[str, int]]]:
        """Like :attr:`connect_to`, but ``pki.ltv.test`` maps to both listeners (IPv4 first),
        as a name with A and AAAA records would; IPv4 only without an IPv6 listener."""
        addresses = [("127.0.0.1", self.port)]
        if (port6 := self.ipv6_port) is not None:
            addresses.append(("::1", port6))
        return {
            f"{HOST}:80": addresses,
            f"{REFUSED_HOST}:80": [("127.0.0.1", self.refused_port)],
        }

    # ---- clock ---------------------------------------------------------------------------------

    def freeze(self, at: datetime | None) -> None:
        """Answer every request as of ``at`` (timezone-aware), or follow the real clock (None)."""
        frozen = None if at is None else _utc(at)
        with self._clock_lock:
            self._frozen = frozen

    @property
    def frozen_at(self) -> datetime | None:
        with self._clock_lock:
            return self._frozen

    def now(self) -> datetime:
        """The time answers are made at: the frozen time, else the real UTC time (whole seconds)."""
        with self._clock_lock:
            frozen = self._frozen
        if frozen is not None:
            return frozen
        return datetime.now(UTC).replace(microsecond=0)

    def reset(self) -> None:
        """Clear the log, unfreeze the clock, restore ``slow_seconds``, drop ``latency``,
        ``virtual_host`` and ``down``."""
        self.log.clear()
        self.freeze(None)
        self.slow_seconds = self._initial_slow_seconds
        self.latency.clear()
        self.virtual_host = None
        self.down.clear()

    # ---- WSGI ----------------------------------------------------------------------------------

    def _load_pki(self) -> None:
        if self._arch is not None:
            return
        from certomancer.integrations.animator import Animator, AnimatorArchStore
        from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig

        config = CertomancerConfig.from_file(str(CONFIG_PATH), key_search_dir=str(PKI_DIR))
        arch = config.get_pki_arch(ArchLabel(ARCH))
        # Serve the committed certificates (ECDSA signatures are randomised, so a rebuilt
        # certificate differs in its signature), after checking that each has exactly the
        # to-be-signed content the configuration and keys produce.
        for label in CERT_LABELS:
            committed = load_cert(label)
            built = arch.get_cert(CertLabel(label))
            if committed["tbs_certificate"].dump() != built["tbs_certificate"].dump():
                raise RuntimeError(
                    f"{cert_path(label)} does not match {CONFIG_PATH.name} and its key: "
                    "run `python -m samples.pki generate --keep-keys`"
                )
            arch._cert_cache[CertLabel(label)] = committed
        clock = self.now

        class _ClockedAnimator(Animator):
            def at_time(self, request: Request) -> datetime:
                return clock()

        self._arch = arch
        self._animator = _ClockedAnimator(
            AnimatorArchStore({arch.arch_label: arch}),
            with_web_ui=False,
            allow_time_override=False,
        )

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.monotonic()
        request = Request(environ)
        request.max_content_length = MAX_BODY
        epoch = self.log.epoch
        body = b""
        try:
            body = request.get_data(cache=True)
            kind, _, rest = request.path.removeprefix(f"/{ARCH}/").partition("/")
            delay = self.latency.get(kind, 0.0)
            vhost = self.virtual_host
            sent_host = environ.get("HTTP_HOST", "")
            if vhost is not None and _host_name(sent_host) != vhost.lower():
                response = Response("unknown virtual host\n", status=404, mimetype="text/plain")
            elif kind in self.down or f"{kind}/{rest.partition('/')[0]}" in self.down:
                response = Response("service unavailable\n", status=503, mimetype="text/plain")
            else:
                response = self._dispatch(request, body, epoch)
                # the answer leaves `delay` after the request came: a published latency is
                # a round trip, the responder's own work included
                remaining = delay - (time.monotonic() - arrived)
                if remaining > 0 and self._stopping.wait(remaining):
                    response = Response("server stopping\n", status=503, mimetype="text/plain")
        except HTTPException as exc:
            response = exc.get_response(environ)
        except ValueError as exc:  # asn1crypto's verdict on a malformed DER request body
            logger.info("PkiServer: %s %s: bad request: %s", request.method, request.path, exc)
            response = Response(f"bad request: {exc}\n", status=400, mimetype="text/plain")
        except Exception:
            logger.exception("PkiServer: %s %s failed", request.method, request.path)
            response = Response("internal error\n", status=500, mimetype="text/plain")
        self.log.append(
            LogEntry(
                method=request.method,
                path=request.path,
                host=request.headers.get("Host", ""),
                status=response.status_code,
                content_type=response.headers.get("Content-Type", ""),
                body_length=len(body),
            ),
            epoch=epoch,
        )
        return response(environ, start_response)

    def _dispatch(self, request: Request, body: bytes, epoch: int) -> Response:
        path = request.path
        if path.startswith(_OCSP_PREFIX):
            label, _, encoded = path[len(_OCSP_PREFIX) :].partition("/")
            return self._serve_ocsp(request.method, label, encoded, body, epoch)
        # Hand a fresh request with the already-read body to certomancer (CRLs, TSA, certs).
        environ = dict(request.environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        result = self._animator.dispatch(Request(environ))
        if isinstance(result, HTTPException):
            return result.get_response(environ)
        return cast(Response, result)

    def _serve_ocsp(
        self, method: str, label: str, encoded: str, body: bytes, epoch: int
    ) -> Response:
        from certomancer.registry import CertomancerObjectNotFoundError, ServiceLabel

        if method == "POST" and not encoded:
            der = body
        elif method == "GET" and encoded:
            try:
                der = decode_ocsp_get_path(encoded)
            except (ValueError, binascii.Error):
                return _ocsp_error("malformed_request")
        else:
            return Response(
                "OCSP: POST the DER request, or GET <url>/<base64 request>\n",
                status=405 if method not in {"GET", "POST"} else 400,
                mimetype="text/plain",
            )

        if label == "http500":
            return Response("simulated responder failure\n", status=500, mimetype="text/plain")
        if label == "garbage":
            return Response(GARBAGE_BODY, status=200, mimetype=OCSP_MIME)
        if label == "slow":
            deadline = time.monotonic() + self.slow_seconds
            while (left := deadline - time.monotonic()) > 0:
                if self._stopping.wait(min(left, 0.25)) or self.log.epoch != epoch:
                    # stopped, or reset between tests: a sleeper must not leak into the next test
                    return Response("server stopping\n", status=503, mimetype="text/plain")

        ocsp_request = _parse_ocsp_request(der)
        if ocsp_request is None:
            return _ocsp_error("malformed_request")
        try:
            responder = self._arch.service_registry.summon_responder(
                ServiceLabel(label), self.now()
            )
        except CertomancerObjectNotFoundError:
            return Response(f"no OCSP responder {label!r}\n", status=404, mimetype="text/plain")
        if label == "unknown":
            responder.revinfo_interface = _AlwaysUnknown(responder.revinfo_interface)
        response: ocsp.OCSPResponse = responder.build_ocsp_response(ocsp_request)
        return Response(response.dump(), status=200, mimetype=OCSP_MIME)


def _host_name(header: str) -> str:
    """The name of a ``Host`` header value, port removed, lower case ('' when absent)."""
    value = header.strip().lower()
    if value.startswith("["):
        return value.partition("]")[0] + "]"
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def has_ipv6_loopback() -> bool:
    """Can a socket bind to ``[::1]`` here (IPv6 enabled with a loopback address)?"""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _parse_ocsp_request(der: bytes) -> ocsp.OCSPRequest | None:
    """Parse eagerly (asn1crypto is lazy) so a bad request becomes malformedRequest, not a 500."""
    from asn1crypto import ocsp

    try:
        request = ocsp.OCSPRequest.load(der, strict=True)
        request.native  # noqa: B018 (forces the full parse)
        _ = request.nonce_value
    except (ValueError, TypeError, KeyError):
        return None
    return request


def _ocsp_error(status: str) -> Response:
    from asn1crypto import ocsp

    return Response(
        ocsp.OCSPResponse({"response_status": status}).dump(), status=200, mimetype=OCSP_MIME
    )
