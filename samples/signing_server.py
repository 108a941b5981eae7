"""A small HTTP signing service on the ltv library (Starlette + uvicorn).

Start it (the sample PKI must be reachable; here the loopback one from ``python -m samples.pki
serve``, at 127.0.0.1:8000)::

    LTV_SIGNER_P12=samples/pki/signer-good.p12 LTV_SIGNER_PASSPHRASE=... \\
    LTV_TSA_URL=http://pki.ltv.test/ltv/tsa/tsa LTV_CHAIN=samples/pki/certs/tsa-root.cert.pem \\
    LTV_TRUST=samples/pki/certs/root.cert.pem:samples/pki/certs/tsa-root.cert.pem \\
    LTV_CONNECT_TO=pki.ltv.test:80:127.0.0.1:8000 python -m samples.signing_server

Endpoints:

* ``POST /sign?level=B-LT&field=NAME&reason=TEXT&location=TEXT&visible=PAGE:X1,Y1,X2,Y2`` —
  body: the PDF; answer: the signed PDF (``application/pdf``).
* ``POST /verify`` — body: a PDF; answer: the JSON report (``schemas/report.schema.json``),
  verified offline against ``LTV_TRUST``.
* ``POST /extend?add_evidence=1`` — body: a signed PDF; answer: the renewed PDF (verified
  first; refused if it fails).
* ``GET /health`` — the signer, and per certificate the cached evidence and when it lapses.

Errors are JSON ``{"error": "<one line>", "kind": "<LtvError class>"}``: 400 bad request
(parameters), 413 body too large, 422 the document or its evidence is refused, 502 a
responder or the TSA failed, 503 a feature not configured, 500 anything else (logged, never
with key material).

Configuration, by environment variables:

=========================  ==================================================================
``LTV_SIGNER_P12``         PKCS#12 with key and certificate (or ``LTV_SIGNER_KEY`` +
                           ``LTV_SIGNER_CERT``, PEM/DER)
``LTV_SIGNER_PASSPHRASE``  its passphrase (removed from the environment once read)
``LTV_TSA_URL``            RFC 3161 TSA (needed for B-T and above)
``LTV_LEVEL``              default level, ``B-LT``
``LTV_CHAIN``              CA certificates completing chains (paths, ``:``-separated)
``LTV_TRUST``              trust anchors for ``/verify`` and ``/extend`` (paths)
``LTV_CONNECT_TO``         ``HOST:PORT:ADDR:PORT`` mappings, comma-separated
``LTV_TIMEOUT``            seconds per request to a responder / the TSA (10)
``LTV_NETWORK_BUDGET``     seconds for all requests of one document (30)
``LTV_CACHE``              SQLite file for the evidence cache (default: memory only)
``LTV_MAX_BYTES``          largest request body accepted (50 000 000)
``LTV_HOST``/``LTV_PORT``  where to listen (127.0.0.1:8080)
``LTV_WORKERS``            worker processes sharing the port (1; signing is CPU-bound: one per
                           core). Set ``LTV_CACHE`` with more than one, so that the workers
                           share the evidence cache (a cold start may then fetch a certificate's
                           evidence once per worker, never once per document)
``LTV_THREADS``            threads per worker for blocking I/O — responder and TSA requests,
                           cache reads (64). Each request in flight holds one while it waits on
                           the TSA: fewer threads than concurrent requests queue them (Python's
                           default is the CPU count + 4)
``LTV_NO_SPEEDUPS``        ``1``: pyHanko's own PDF token readers instead of ltv's equivalent,
                           faster ones (:mod:`ltv.audit.speedups`, as ``ltv verify`` and
                           ``ltv audit`` use them; ``/health`` says which)
=========================  ==================================================================

Key material and passphrases are never logged or returned: the configuration's ``repr`` omits
the passphrase, errors are LtvError one-liners, and an unexpected exception answers a generic
500. SIGTERM/SIGINT shut down gracefully: no new connections, requests in flight finish (up to
``LTV_GRACE`` seconds, 30), then the evidence cache is closed.

With ``LTV_WORKERS`` > 1 the configuration (and the key, to check it) is read once, the port is
bound once, and that many processes are forked, each building its own service (HTTP client,
cache connection, threads: nothing crosses the fork but the configuration). The passphrase is
never put back into an environment. The parent forwards SIGTERM/SIGINT to the workers and waits
for them; a worker that dies stops the others (exit 1), so that a supervisor restarts the whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ltv.errors import InputError, LtvError, NetworkError, SigningError, UsageError
from ltv.runtime import Clock, utc_now

if TYPE_CHECKING:
    from ltv.evidence.http import Transport
    from ltv.extend import Extender
    from ltv.sign import Signer
    from ltv.verify import Verifier

__all__ = ["Config", "SigningService", "create_app", "main"]

_log = logging.getLogger("ltv.signing_server")

DEFAULT_MAX_BYTES = 50_000_000
PDF = "application/pdf"


class TooLarge(Exception):
    """The request body exceeds ``max_bytes``."""


@dataclass(frozen=True)
class Config:
    """The service's configuration (see the module docstring); ``passphrase`` never shows."""

    p12: Path | None = None
    key: Path | None = None
    cert: Path | None = None
    passphrase: str | None = field(default=None, repr=False)
    tsa_url: str | None = None
    level: str = "B-LT"
    chain: tuple[Path, ...] = ()
    trust: tuple[Path, ...] = ()
    connect_to: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    timeout: float = 10.0
    network_budget: float = 30.0
    cache_path: Path | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    host: str = "127.0.0.1"
    port: int = 8080
    grace: float = 30.0
    workers: int = 1
    threads: int = 64

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        from ltv.cli._common import parse_connect_to

        def paths(name: str) -> tuple[Path, ...]:
            return tuple(Path(p) for p in env.get(name, "").split(os.pathsep) if p)

        def path(name: str) -> Path | None:
            value = env.get(name)
            return Path(value) if value else None

        def number(name: str, default: float) -> float:
            value = env.get(name)
            try:
                return default if value is None else float(value)
            except ValueError:
                raise UsageError(f"{name}={value!r} is not a number") from None

        connect = [c for c in env.get("LTV_CONNECT_TO", "").split(",") if c.strip()]
        return cls(
            p12=path("LTV_SIGNER_P12"),
            key=path("LTV_SIGNER_KEY"),
            cert=path("LTV_SIGNER_CERT"),
            passphrase=env.get("LTV_SIGNER_PASSPHRASE"),
            tsa_url=env.get("LTV_TSA_URL") or None,
            level=env.get("LTV_LEVEL", "B-LT"),
            chain=paths("LTV_CHAIN"),
            trust=paths("LTV_TRUST"),
            connect_to=parse_connect_to(connect),
            timeout=number("LTV_TIMEOUT", 10.0),
            network_budget=number("LTV_NETWORK_BUDGET", 30.0),
            cache_path=path("LTV_CACHE"),
            max_bytes=int(number("LTV_MAX_BYTES", DEFAULT_MAX_BYTES)),
            host=env.get("LTV_HOST", "127.0.0.1"),
            port=int(number("LTV_PORT", 8080)),
            grace=number("LTV_GRACE", 30.0),
            workers=_workers(env.get("LTV_WORKERS")),
            threads=_threads(env.get("LTV_THREADS")),
        )


def _workers(value: str | None) -> int:
    if value is None or value.strip() == "":
        return 1
    if not value.strip().isdigit() or not 1 <= int(value) <= 64:
        raise UsageError(f"LTV_WORKERS={value!r} is not a number of processes from 1 to 64")
    if int(value) > 1 and not hasattr(os, "fork"):
        raise UsageError("LTV_WORKERS above 1 needs a system with fork()")
    return int(value)


def _threads(value: str | None) -> int:
    if value is None or value.strip() == "":
        return 64
    if not value.strip().isdigit() or not 1 <= int(value) <= 1024:
        raise UsageError(f"LTV_THREADS={value!r} is not a number of threads from 1 to 1024")
    return int(value)


def _status_of(err: LtvError) -> int:
    if isinstance(err, UsageError):
        return 400
    if isinstance(err, NetworkError):
        return 502
    if isinstance(err, SigningError) and "time-stamping authority" in err.message:
        return 502
    if isinstance(err, InputError | SigningError):
        return 422
    return 400


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind}, status_code=status)


class SigningService:
    """The state behind the routes: one Signer per level (sharing key, network, cache),
    an Extender and a Verifier when trust anchors are configured."""

    def __init__(
        self, config: Config, *, clock: Clock = utc_now, network: Transport | None = None
    ) -> None:
        from ltv.evidence.cache import EvidenceCache
        from ltv.evidence.http import HttpClient
        from ltv.sign import PadesLevel, Signer, SigningPolicy

        self.config = config
        self.clock = clock
        self.network: Transport = network or HttpClient(
            timeout=config.timeout, connect_to=dict(config.connect_to), keep_alive=True
        )
        self.cache = EvidenceCache(config.cache_path, clock=clock)
        levels = [lv for lv in PadesLevel if not lv.needs_tsa or config.tsa_url]
        default = PadesLevel(config.level)
        if default not in levels:
            raise UsageError(f"LTV_LEVEL={config.level} needs LTV_TSA_URL")
        base_policy = SigningPolicy(level=default, tsa_url=config.tsa_url)
        common: dict[str, Any] = {
            "policy": base_policy,
            "chain": list(config.chain),
            "network": self.network,
            "cache": self.cache,
            "clock": clock,
            "network_budget": config.network_budget,
        }
        if config.p12 is not None:
            base = Signer.from_pkcs12(config.p12, config.passphrase, **common)
        elif config.key is not None and config.cert is not None:
            base = Signer.from_pem(config.key, config.cert, passphrase=config.passphrase, **common)
        else:
            raise UsageError("set LTV_SIGNER_P12, or LTV_SIGNER_KEY and LTV_SIGNER_CERT")
        self.default_level = default
        self.signers: dict[str, Signer] = {
            lv.value: base.with_policy(SigningPolicy(level=lv, tsa_url=config.tsa_url))
            for lv in levels
        }
        self.verifier: Verifier | None = None
        self.extender: Extender | None = None
        if config.trust:
            from ltv.extend import Extender
            from ltv.policy import ValidationPolicy
            from ltv.trust import TrustStore
            from ltv.verify import Verifier

            store = TrustStore.from_paths(list(config.trust))
            self.verifier = Verifier(ValidationPolicy(trust=store, tsa_trust=store))
            if config.tsa_url:
                self.extender = Extender(
                    tsa_url=config.tsa_url,
                    trust=store,
                    chain=list(config.chain),
                    network=self.network,
                    cache=self.cache,
                    clock=clock,
                    network_budget=config.network_budget,
                )

    def close(self) -> None:
        self.cache.close()
        close = getattr(self.network, "close", None)
        if callable(close):
            close()

    # -- helpers -----------------------------------------------------------------------------

    async def body(self, request: Request) -> bytes:
        """The request body, refused beyond ``max_bytes`` (declared or actual)."""
        limit = self.config.max_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    async def guarded(self, request: Request, work: Any) -> Response:
        try:
            return await work(request)
        except TooLarge:
            return _error(413, f"request body larger than {self.config.max_bytes} bytes", "")
        except LtvError as err:
            return _error(_status_of(err), err.diagnostics(), type(err).__name__)
        except Exception:
            # the traceback goes to the log (no locals: no key material); the client gets
            # nothing but the fact
            _log.exception("internal error on %s %s", request.method, request.url.path)
            return _error(500, "internal error", "")

    # -- routes ------------------------------------------------------------------------------

    async def sign(self, request: Request) -> Response:
        from ltv.sign import VisibleSignature

        q = request.query_params
        level = (q.get("level") or self.default_level.value).upper()
        signer = self.signers.get(level)
        if signer is None:
            raise UsageError(f"level {level!r} is not offered", hint=", ".join(self.signers))
        visible = VisibleSignature.parse(q["visible"]) if q.get("visible") else None
        pdf = await self.body(request)
        signed = await signer.asign(
            pdf,
            field=q.get("field") or None,
            reason=q.get("reason") or None,
            location=q.get("location") or None,
            visible=visible,
        )
        return Response(signed, media_type=PDF)

    async def verify(self, request: Request) -> Response:
        if self.verifier is None:
            return _error(503, "verification is not configured (set LTV_TRUST)", "")
        pdf = await self.body(request)
        report = await self.verifier.averify(pdf, path="request", now=self.clock())
        return JSONResponse(report.to_dict())

    async def extend(self, request: Request) -> Response:
        if self.extender is None:
            return _error(503, "extension is not configured (set LTV_TRUST and LTV_TSA_URL)", "")
        pdf = await self.body(request)
        extender = self.extender
        if request.query_params.get("add_evidence") in ("1", "true", "yes"):
            extender = extender.with_options(add_evidence=True)
        return Response(await extender.aextend(pdf), media_type=PDF)

    async def health(self, request: Request) -> Response:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        from ltv.audit import speedups

        signer = self.signers[self.default_level.value]
        evidence = [
            {
                "kind": e.kind,
                "certificate": e.subject,
                "serial": e.serial,
                "url": e.url,
                "this_update": iso(e.this_update),
                "next_update": iso(e.next_update),
                "lapses_at": iso(e.lapses_at),
                "refresh_at": iso(e.refresh_at),
                "last_refresh_error": e.last_refresh_error,
            }
            for e in self.cache.entries()
        ]
        return JSONResponse(
            {
                "status": "ok",
                "signer": signer.subject,
                "levels": list(self.signers),
                "default_level": self.default_level.value,
                "now": iso(self.clock()),
                "worker": os.getpid(),
                "pdf_reader_speedups": speedups.installed(),
                "evidence": evidence,
                "fetches": self.cache.fetches,
                "refreshes": self.cache.refreshes,
            }
        )


def create_app(service: SigningService) -> Starlette:
    """The Starlette application over *service* (closed at shutdown)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from concurrent.futures import ThreadPoolExecutor

        # blocking I/O runs in the loop's default executor: one thread per request in flight
        io_threads = ThreadPoolExecutor(service.config.threads, thread_name_prefix="ltv-io")
        asyncio.get_running_loop().set_default_executor(io_threads)
        yield
        service.close()

    def route(work: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            return await service.guarded(request, work)

        return endpoint

    return Starlette(
        routes=[
            Route("/sign", route(service.sign), methods=["POST"]),
            Route("/verify", route(service.verify), methods=["POST"]),
            Route("/extend", route(service.extend), methods=["POST"]),
            Route("/health", route(service.health), methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _uvicorn_config(service: SigningService) -> Any:
    import uvicorn

    return uvicorn.Config(
        create_app(service),
        host=service.config.host,
        port=service.config.port,
        timeout_graceful_shutdown=int(service.config.grace),
        log_level="info",
        access_log=False,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m samples.signing_server``: configure from the environment, serve."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from ltv.audit import speedups

    speedups.install()  # before any fork: the workers inherit it (LTV_NO_SPEEDUPS=1: off)
    try:
        config = Config.from_env(os.environ)
        os.environ.pop("LTV_SIGNER_PASSPHRASE", None)  # not inherited by anything we start
        service = SigningService(config)
    except LtvError as err:
        print(f"signing_server: error: {err.diagnostics()}", file=sys.stderr)
        return 2
    _log.info(
        "signing as %s at %s (levels %s); listening on %s:%d%s",
        service.signers[service.default_level.value].subject,
        service.default_level.value,
        ", ".join(service.signers),
        config.host,
        config.port,
        f" with {config.workers} workers" if config.workers > 1 else "",
    )
    if config.workers > 1:
        service.close()  # it checked the configuration; each worker builds its own
        return _serve_forked(config)
    uvicorn.Server(_uvicorn_config(service)).run()
    return 0


def _serve_forked(config: Config) -> int:
    """Bind once, fork ``config.workers`` processes serving the one socket, supervise them."""
    import signal
    import socket

    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as err:
        print(f"signing_server: error: cannot listen on {config.host}:{config.port}: "
              f"{err.strerror}", file=sys.stderr)  # fmt: skip
        return 2
    sock.listen(2048)
    children: set[int] = set()
    for _ in range(config.workers):
        pid = os.fork()
        if pid == 0:  # a worker: its own service, uvicorn on the inherited socket
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                import uvicorn

                uvicorn.Server(_uvicorn_config(SigningService(config))).run(sockets=[sock])
            except BaseException:
                _log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children.add(pid)
    sock.close()

    stopping: int | None = None  # the signal that asked us to stop

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = signum
        for child in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if stopping is None:  # a worker died on its own: stop the rest, let a supervisor restart
            _log.error("worker %d exited (%d): stopping the others", pid, code)
            forward(signal.SIGTERM, None)
            status = 1
        elif code not in (0, -stopping):  # uvicorn re-raises the signal once it has drained
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
