"""The additions to ltv.evidence.http that the probe relies on (timing, family, no Host)."""

from __future__ import annotations

import pytest

from ltv.evidence.http import HttpClient, HttpError
from samples import pki as sample
from samples.pki.server import PkiServer, has_ipv6_loopback


def test_timing_breakdown_and_peer(pki: PkiServer) -> None:
    client = HttpClient(connect_to=pki.connect_to)
    pki.latency["crls"] = 0.2
    response = client.request("GET", sample.CRL_INTERM_URL)
    timing = response.timing
    assert timing is not None and timing.phase is None
    assert timing.dns is not None and timing.connect is not None and timing.tls is None
    assert timing.ttfb is not None and timing.total is not None
    # the server's delay is waiting for the first byte, not connecting
    assert 0.2 <= timing.ttfb <= timing.total and timing.connect < 0.2
    assert response.peer == "127.0.0.1"
    assert client.exchanges[-1].timing == timing


def test_failed_attempt_keeps_its_timing_and_phase(pki: PkiServer) -> None:
    client = HttpClient(connect_to=pki.connect_to, retries=0)
    with pytest.raises(HttpError) as refused:
        client.request("GET", sample.OCSP_REFUSED_URL)
    assert refused.value.exchange is not None
    assert refused.value.exchange.timing is not None
    assert refused.value.exchange.timing.phase == "connect"
    with pytest.raises(HttpError) as http500:
        client.request("POST", sample.OCSP_HTTP500_URL, body=b"x")
    exchange = http500.value.exchange
    assert exchange is not None and exchange.status == 500 and exchange.timing is not None


def test_send_host_false_sends_http10_without_host(pki: PkiServer) -> None:
    client = HttpClient(connect_to=pki.connect_to)
    client.request("GET", sample.CRL_INTERM_URL, send_host=False)
    client.request("GET", sample.CRL_INTERM_URL)
    assert [e.host for e in pki.log] == ["", "pki.ltv.test"]
    pki.virtual_host = "pki.ltv.test"
    with pytest.raises(HttpError) as err:
        client.request("GET", sample.CRL_INTERM_URL, send_host=False)
    assert err.value.status == 404


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1) here")
def test_family_and_several_connect_to_addresses(pki: PkiServer) -> None:
    client = HttpClient(connect_to=pki.dual_stack_connect_to)
    assert [f for f, _a, _p in client.resolve(sample.CRL_INTERM_URL)] == ["ipv4", "ipv6"]
    assert client.request("GET", sample.CRL_INTERM_URL, family="ipv6").peer == "::1"
    assert client.request("GET", sample.CRL_INTERM_URL, family="ipv4").peer == "127.0.0.1"
    assert client.connect_to["pki.ltv.test:80"] == ("127.0.0.1", pki.port)  # first address
    only_v4 = HttpClient(connect_to=pki.connect_to)
    with pytest.raises(HttpError) as err:
        only_v4.request("GET", sample.CRL_INTERM_URL, family="ipv6")
    assert err.value.detail == "unresolvable"
    with pytest.raises(ValueError, match="family"):
        only_v4.request("GET", sample.CRL_INTERM_URL, family="ipx")
