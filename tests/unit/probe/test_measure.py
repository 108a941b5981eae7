"""ltv.probe against the loopback PKI: real OCSP/CRL/caIssuers/TSA requests on 127.0.0.1 / [::1]."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltv.evidence.http import HttpClient
from ltv.probe import ProbeOptions, run_probe, summarize, targets_from_pdf, targets_from_urls
from ltv.probe.measure import _prepare_ocsp
from ltv.probe.model import Category, Target
from samples import pki as sample
from samples.pki.server import PkiServer, has_ipv6_loopback

from .conftest import clock

REPO = Path(__file__).parents[3]
SIGNER = sample.load_cert("signer-good")
INTERM = sample.load_cert("interm")

needs_ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1) here")


def _ocsp(url: str) -> list[Target]:
    return targets_from_urls([url], SIGNER, INTERM)


def _families(server: PkiServer) -> set[str]:
    return {"ipv4", "ipv6"} if server.ipv6_port else {"ipv4"}


def test_get_and_post_latencies_recorded(pki: PkiServer, client: HttpClient) -> None:
    waits: list[float] = []
    run = run_probe(
        _ocsp(sample.OCSP_INTERM_URL),
        client=client,
        options=ProbeOptions(count=2, interval=1.0),
        clock=clock,
        sleep=waits.append,
    )
    assert run.rounds == 2 and len(waits) == 1 and 0 < waits[0] <= 1.0
    counted = [m for m in run.measurements if m.host_header]
    assert {(m.method, m.family) for m in counted} == {
        (method, fam) for method in ("GET", "POST") for fam in _families(pki)
    }
    assert len(counted) == 2 * 2 * len(_families(pki))
    for m in counted:
        assert m.ok, m
        assert m.ocsp_status == "good" and m.status == 200 and m.size and m.size > 100
        assert m.total_ms is not None and m.ttfb_ms is not None and m.connect_ms is not None
        assert 0 < m.ttfb_ms <= m.total_ms
        assert m.this_update and m.next_update and m.next_update > m.this_update
    # the server saw real GETs (RFC 6960 A.1 path) and POSTs, with the URL's Host header
    gets = pki.log.matching(method="GET", path_prefix="/ltv/ocsp/interm/")
    posts = pki.log.matching(method="POST", path_prefix="/ltv/ocsp/interm")
    assert len(gets) == 2 * len(_families(pki))
    assert len(posts) == 2 * len(_families(pki)) + 1  # + the no-Host check
    assert {e.host for e in gets} == {"pki.ltv.test"}
    (summary,) = summarize(run.measurements, run.targets, run.families)
    assert summary.verdict in ("up", "degraded")  # degraded only if the machine is very slow
    assert {(x.method, x.ok) for x in summary.latency} >= {("GET", 2), ("POST", 2)}
    for x in summary.latency:
        assert x.min_ms is not None and x.median_ms is not None and x.p95_ms is not None
        assert x.min_ms <= x.median_ms <= x.p95_ms <= (x.max_ms or 0)
    assert summary.ocsp_status == "good"
    assert summary.validity_seconds == 24 * 3600
    assert summary.get_post in ("identical", "same-produced-at", "different")
    assert summary.no_host_answers is True


@needs_ipv6
def test_each_address_family_is_asked_and_reported(pki: PkiServer, client: HttpClient) -> None:
    run = run_probe(
        [Target(url=sample.CRL_INTERM_URL, kind="crl", issuer_der=INTERM.dump())],
        client=client,
        options=ProbeOptions(check_host=False),
        clock=clock,
    )
    assert {m.peer for m in run.measurements} == {"127.0.0.1", "::1"}
    (summary,) = summarize(run.measurements, run.targets, run.families)
    assert [(f.family, f.address, f.answers) for f in summary.families] == [
        ("ipv4", "127.0.0.1", True),
        ("ipv6", "::1", True),
    ]
    # an IPv6 listener that stops answering is reported per family
    ipv6_only = HttpClient(
        connect_to={"pki.ltv.test:80": [("127.0.0.1", pki.port), ("::1", pki.refused_port)]},
        retries=0,
    )
    run = run_probe(
        [Target(url=sample.CRL_INTERM_URL, kind="crl")],
        client=ipv6_only,
        options=ProbeOptions(check_host=False),
        clock=clock,
    )
    (summary,) = summarize(run.measurements, run.targets, run.families)
    assert {(f.family, f.answers) for f in summary.families} == {("ipv4", True), ("ipv6", False)}
    assert summary.verdict == "degraded"


def test_crl_and_ca_issuers_and_tsa_details(pki: PkiServer, client: HttpClient) -> None:
    targets = [
        Target(url=sample.CRL_INTERM_URL, kind="crl", issuer_der=INTERM.dump()),
        Target(url=sample.INTERM_CERT_URL, kind="ca-issuers"),
        Target(url=sample.TSA_URL, kind="tsa"),
    ]
    run = run_probe(targets, client=client, options=ProbeOptions(check_host=False), clock=clock)
    crl, certs, tsa = summarize(run.measurements, run.targets, run.families)
    assert crl.verdict in ("up", "degraded") and crl.ok >= 1
    assert crl.crl_entries == 1  # signer-revoked
    assert crl.delta_crl is False and crl.this_update and crl.next_update
    assert crl.size_median and crl.size_median > 200
    assert certs.subjects == ("CN=ltv Sample Intermediate CA,O=ltv sample PKI,C=ZZ",)
    assert tsa.ok >= 1 and tsa.gen_time is not None
    assert tsa.subjects == ("CN=ltv Sample Time Stamping Authority,O=ltv sample PKI,C=ZZ",)
    assert all(m.method == "POST" for m in run.measurements if m.kind == "tsa")
    # a CRL checked against the wrong issuer is not "up"
    wrong = run_probe(
        [Target(url=sample.CRL_ROOT_URL, kind="crl", issuer_der=INTERM.dump())],
        client=client,
        options=ProbeOptions(check_host=False, families=False),
        clock=clock,
    )
    assert [m.error for m in wrong.measurements] == ["wrong-issuer"]


def test_slow_responder_is_an_sla_breach(pki: PkiServer, client: HttpClient) -> None:
    pki.latency["ocsp"] = 0.3
    targets = [*_ocsp(sample.OCSP_INTERM_URL), Target(url=sample.CRL_INTERM_URL, kind="crl")]
    run = run_probe(
        targets,
        client=client,
        options=ProbeOptions(sla=0.2, check_host=False, families=False),
        clock=clock,
    )
    ocsp, crl = summarize(run.measurements, run.targets, run.families)
    assert ocsp.sla_breaches == 2 and ocsp.verdict == "degraded"
    assert all(m.ok and m.sla_breach and (m.total_ms or 0) >= 300 for m in run.measurements[:2])
    assert crl.sla_breaches == 0 and crl.verdict == "up"
    # with the SLA above the delay, no breach
    run = run_probe(
        targets[:1],
        client=client,
        options=ProbeOptions(sla=5.0, check_host=False, families=False),
        clock=clock,
    )
    assert not any(m.sla_breach for m in run.measurements)


def test_failures_are_reported_as_what_they_were(pki: PkiServer, client: HttpClient) -> None:
    targets = targets_from_urls(
        [
            sample.OCSP_REFUSED_URL,
            sample.OCSP_HTTP500_URL,
            sample.OCSP_GARBAGE_URL,
            "ocsp=http://nowhere.invalid/ocsp",
        ],
        SIGNER,
        INTERM,
    )
    run = run_probe(targets, client=client, options=ProbeOptions(check_host=False), clock=clock)
    by_url = {s.url: s for s in summarize(run.measurements, run.targets, run.families)}
    refused = by_url[sample.OCSP_REFUSED_URL]
    assert refused.verdict == "down" and set(refused.failures) == {"refused"}
    http500 = by_url[sample.OCSP_HTTP500_URL]
    assert http500.verdict == "down" and set(http500.failures) == {"http-500"}
    assert http500.statuses == {"500": http500.requests}
    garbage = by_url[sample.OCSP_GARBAGE_URL]
    assert garbage.verdict == "down" and set(garbage.failures) == {"malformed"}
    assert set(by_url["http://nowhere.invalid/ocsp"].failures) == {"dns"}
    categories = {m.url: m.category for m in run.measurements}
    assert categories[sample.OCSP_REFUSED_URL] is Category.NETWORK
    assert categories[sample.OCSP_HTTP500_URL] is Category.RESPONDER
    # one answered (HTTP 500, garbage): not a local problem, each responder is down
    assert run.local_problem_rounds == []


def test_wrong_certid_and_bad_signature_are_named(pki: PkiServer, client: HttpClient) -> None:
    """A real answer for another certificate, and the same answer with a flipped signature bit."""
    from ltv.evidence.ocsp import build_ocsp_request

    other = sample.load_cert("signer-revoked")
    der = client.request(
        "POST",
        sample.OCSP_INTERM_URL,
        body=build_ocsp_request(other, INTERM),
        headers={"Content-Type": "application/ocsp-request"},
    ).body
    (target,) = _ocsp(sample.OCSP_INTERM_URL)
    judge = _prepare_ocsp(target, "POST", ProbeOptions()).judge
    assert judge(der, clock())["error"] == "wrong-certid"
    mine = client.request(
        "POST",
        sample.OCSP_INTERM_URL,
        body=build_ocsp_request(SIGNER, INTERM),
        headers={"Content-Type": "application/ocsp-request"},
    ).body
    assert judge(mine, clock())["ok"] is True
    from asn1crypto import ocsp

    response = ocsp.OCSPResponse.load(mine)
    basic = response["response_bytes"]["response"].parsed
    signature = bytearray(basic["signature"].native)
    signature[-3] ^= 0x01
    basic["signature"] = bytes(signature)
    response["response_bytes"]["response"] = basic
    assert judge(response.dump(force=True), clock())["error"] == "bad-signature"


def test_responder_rejecting_requests_without_host_is_detected(
    pki: PkiServer, client: HttpClient
) -> None:
    pki.virtual_host = "pki.ltv.test"
    run = run_probe(
        _ocsp(sample.OCSP_INTERM_URL),
        client=client,
        options=ProbeOptions(families=False),
        clock=clock,
    )
    (summary,) = summarize(run.measurements, run.targets, run.families)
    assert summary.verdict == "up"  # requests with Host are served
    assert summary.no_host_answers is False and summary.no_host_error == "http-404"
    assert summary.requests == 2  # the no-Host check is not counted against availability
    assert [e.host for e in pki.log if e.status == 404] == [""]
    # a responder that does not care about Host answers the same check
    pki.virtual_host = None
    run = run_probe(
        _ocsp(sample.OCSP_INTERM_URL),
        client=client,
        options=ProbeOptions(families=False),
        clock=clock,
    )
    (summary,) = summarize(run.measurements, run.targets, run.families)
    assert summary.no_host_answers is True


def test_from_pdf_finds_signer_intermediate_and_tsa_urls() -> None:
    targets = targets_from_pdf((REPO / "samples" / "good-b-lta.pdf").read_bytes())
    keys = {t.key for t in targets}
    by_key = {t.key: t for t in targets}
    signer = f"ocsp {sample.OCSP_INTERM_URL} #{SIGNER.serial_number:x}"
    interm = f"ocsp {sample.OCSP_ROOT_URL} #{INTERM.serial_number:x}"
    tsa = f"ocsp {sample.OCSP_TSA_ROOT_URL} #{sample.load_cert('tsa').serial_number:x}"
    assert {signer, interm, tsa} <= keys
    # real CertIDs: each OCSP target knows the issuer (found in the document, signature checked)
    assert by_key[signer].issuer_der == INTERM.dump()
    assert by_key[interm].issuer_der == sample.load_cert("root").dump()
    assert by_key[tsa].issuer_der == sample.load_cert("tsa-root").dump()
    assert by_key[signer].subject == "CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ"
    for url in (
        sample.CRL_INTERM_URL,
        sample.CRL_ROOT_URL,
        sample.CRL_TSA_ROOT_URL,
        sample.INTERM_CERT_URL,
        sample.ROOT_CERT_URL,
        sample.TSA_ROOT_CERT_URL,
    ):
        assert any(t.url == url for t in targets), url
    assert len(keys) == 9  # nothing else: roots and responder certificates name no URL


def test_all_targets_failing_at_once_is_a_local_problem() -> None:
    """Server stopped after round 1: round 2 fails everywhere and is not N outages."""
    server = PkiServer(port=0).start()
    client = HttpClient(connect_to=server.connect_to, retries=0, timeout=3.0)
    targets = [
        *_ocsp(sample.OCSP_INTERM_URL),
        Target(url=sample.CRL_INTERM_URL, kind="crl"),
        Target(url=sample.INTERM_CERT_URL, kind="ca-issuers"),
    ]
    try:
        run = run_probe(
            targets,
            client=client,
            options=ProbeOptions(count=2, families=False, check_host=False),
            clock=clock,
            sleep=lambda _s: server.stop(),  # between the rounds: the server goes away
        )
    finally:
        server.stop()
    assert run.local_problem_rounds == [2]
    round2 = [m for m in run.measurements if m.round == 2]
    assert round2 and all(m.local_problem and m.error == "refused" for m in round2)
    for summary in summarize(run.measurements, run.targets, run.families):
        assert summary.verdict == "up", summary  # round 1 answered, round 2 excluded
        assert summary.availability == 1.0 and summary.excluded >= 1
    # only failures, all at once: "local-problem", never "down"
    run = run_probe(
        targets, client=client, options=ProbeOptions(families=False, check_host=False), clock=clock
    )
    assert run.local_problem_rounds == [1]
    assert {s.verdict for s in summarize(run.measurements, run.targets)} == {"local-problem"}


def test_options_bound_count_and_interval() -> None:
    from ltv.errors import UsageError

    with pytest.raises(UsageError, match="at least 1"):
        ProbeOptions(interval=0.5)
    with pytest.raises(UsageError):
        ProbeOptions(count=0)
    with pytest.raises(UsageError):
        ProbeOptions(methods=("PUT",))


def test_nonce_is_sent_and_checked(pki: PkiServer, client: HttpClient) -> None:
    run = run_probe(
        _ocsp(sample.OCSP_INTERM_URL),
        client=client,
        options=ProbeOptions(methods=("POST",), nonce=True, families=False, check_host=False),
        clock=clock,
    )
    (m,) = run.measurements
    assert m.ok and m.ocsp_status == "good"
    (entry,) = pki.log.matching(method="POST")
    plain = run_probe(
        _ocsp(sample.OCSP_INTERM_URL),
        client=client,
        options=ProbeOptions(methods=("POST",), families=False, check_host=False),
        clock=clock,
    )
    assert plain.measurements[0].ok
    # the nonced request carries the RFC 8954 extension (32 octets more than the plain one)
    assert entry.body_length > pki.log.matching(method="POST")[-1].body_length + 32
