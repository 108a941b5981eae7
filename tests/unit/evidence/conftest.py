"""Helpers for the evidence tests: a tiny scripted loopback HTTP server and corpus access."""

from __future__ import annotations

import os
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CORPUS = Path(
    os.environ.get("LTV_CORPUS") or Path(__file__).resolve().parents[4] / "shared" / "corpus"
)
OCSP_CORPUS = CORPUS / "tokens" / "ocsp"

Script = Callable[[socket.socket, bytes], None]
"""Called with the connected socket and the raw request head (+ any body bytes read so far)."""


class ScriptedServer:
    """A loopback TCP server whose every connection is handled by ``script``."""

    def __init__(self) -> None:
        self.script: Script = lambda sock, _req: sock.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        self.requests: list[bytes] = []
        self.connections = 0
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server.connections += 1
                sock: socket.socket = self.request
                sock.settimeout(5)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    server.requests.append(data)
                    server.script(sock, data)
                except OSError:
                    pass

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def ocsp_corpus() -> Path:
    if not OCSP_CORPUS.is_dir():
        pytest.skip(f"corpus not present at {OCSP_CORPUS}")
    return OCSP_CORPUS
