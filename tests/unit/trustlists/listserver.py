"""A loopback HTTP(S) server publishing trusted lists, started by the tests themselves.

``ListServer({"tl.ltv.test": {"/lotl.xml": data}})`` serves by Host header and path on
127.0.0.1 (plain HTTP, or HTTPS with a certificate for every host, issued by a throw-away CA
made here: :attr:`ssl_context` is what a client must trust). :attr:`connect_to` maps each
host to the server for ltv's HttpClient, and :class:`OnlyMapped` refuses any URL whose host
is not mapped, so a test can never reach the internet even if a list names a real host.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ltv.evidence.http import HttpResponse, Transport

Sites = Mapping[str, Mapping[str, bytes]]


def _tls_material(hosts: list[str], directory: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC) - timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ltv test list server CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


class ListServer:
    def __init__(self, sites: Sites, *, tls: bool = False) -> None:
        self.sites = {h.lower(): dict(paths) for h, paths in sites.items()}
        self.tls = tls
        self.log: list[tuple[str, str, int]] = []
        self.ssl_context: ssl.SSLContext | None = None
        self._tmp = tempfile.TemporaryDirectory()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                body = server.sites.get(host, {}).get(self.path)
                status = 200 if body is not None else 404
                server.log.append((host, self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.etsi.tsl+xml")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls:
            ca, cert, key = _tls_material(list(self.sites), Path(self._tmp.name))
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(cert, key)
            self._httpd.socket = server_ctx.wrap_socket(self._httpd.socket, server_side=True)
            self.ssl_context = ssl.create_default_context(cafile=str(ca))
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def connect_to(self) -> dict[str, tuple[str, int]]:
        port = 443 if self.tls else 80
        return {f"{h}:{port}": ("127.0.0.1", self.port) for h in self.sites}

    def __enter__(self) -> ListServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._tmp.cleanup()


class OnlyMapped:
    """A transport that passes requests to ``inner`` only for hosts in ``connect_to``."""

    def __init__(self, inner: Transport, connect_to: Mapping[str, tuple[str, int]]) -> None:
        self.inner = inner
        self.hosts = {k.rsplit(":", 1)[0] for k in connect_to}
        self.refused: list[str] = []

    @property
    def exchanges(self) -> tuple[Any, ...]:
        return self.inner.exchanges

    def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        host = (urlsplit(url).hostname or "").lower()
        if host not in self.hosts:
            self.refused.append(url)
            raise AssertionError(f"the test tried to reach {url}, which is not on loopback")
        return self.inner.request(method, url, **kwargs)
