"""Shared fixtures: the sample PKI server (``samples/pki``) on 127.0.0.1.

- ``pki_server`` (session): one :class:`~samples.pki.server.PkiServer` on a free port for the
  whole run. Tests that use it get it back clean: an autouse fixture clears its log, unfreezes
  its clock and restores ``slow_seconds`` before and after each such test.
- ``pki_connect_to``: its connect-to map (``pki.ltv.test:80``, ``refused.ltv.test:80``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from samples.pki.server import PkiServer


@pytest.fixture(scope="session")
def pki_server() -> Iterator[PkiServer]:
    from samples.pki.server import PkiServer  # werkzeug + certomancer only when needed

    with PkiServer(port=0) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_pki_server(request: pytest.FixtureRequest) -> Iterator[None]:
    """Give each test that uses ``pki_server`` a clean log and a real clock (no-op otherwise)."""
    if "pki_server" not in request.fixturenames:
        yield
        return
    server: PkiServer = request.getfixturevalue("pki_server")
    server.reset()
    yield
    server.reset()


@pytest.fixture
def pki_connect_to(pki_server: PkiServer) -> dict[str, tuple[str, int]]:
    return pki_server.connect_to
