"""Fixtures of the probe tests: a dual-stack loopback PKI (IPv4 + [::1] where the machine has
it), helpers to build targets for the sample certificates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ltv.evidence.http import HttpClient
from samples.pki.server import PkiServer


@pytest.fixture(scope="module")
def probe_pki() -> Iterator[PkiServer]:
    with PkiServer(port=0, ipv6=True) as server:
        yield server


@pytest.fixture
def pki(probe_pki: PkiServer) -> Iterator[PkiServer]:
    """The module's server, clean for each test (log, clock, latency, vhost, outages)."""
    probe_pki.reset()
    yield probe_pki
    probe_pki.reset()


@pytest.fixture
def client(pki: PkiServer) -> HttpClient:
    return HttpClient(connect_to=pki.dual_stack_connect_to, retries=0, timeout=5.0)


def clock() -> datetime:
    return datetime.now(UTC)


def connect_to_args(server: PkiServer) -> list[str]:
    """``--connect-to`` options for the CLI (both listeners of pki.ltv.test)."""
    args: list[str] = []
    for key, pairs in server.dual_stack_connect_to.items():
        for address, port in pairs:
            shown = f"[{address}]" if ":" in address else address
            args += ["--connect-to", f"{key}:{shown}:{port}"]
    return args
