"""The evidence client against the sample PKI server on 127.0.0.1 (fixture ``pki_server``)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ltv.evidence.crl import check_crl, fetch_crl, fetch_crl_status
from ltv.evidence.fetchers import HttpFetcherBackend
from ltv.evidence.http import HttpClient, NoNetwork
from ltv.evidence.ocsp import GET_MAX_REQUEST_BYTES, build_ocsp_request, fetch_ocsp
from ltv.evidence.outcome import RevocationStatus

pki = pytest.importorskip("samples.pki")

AFTER_REVOCATION = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
BEFORE_REVOCATION = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(pki_server: Any) -> HttpClient:
    return HttpClient(connect_to=pki_server.connect_to, timeout=5.0)


@pytest.fixture
def interm() -> Any:
    return pki.load_cert("interm")


def _ocsp_log(server: Any) -> list[Any]:
    return [e for e in server.log.snapshot() if "/ocsp/" in e.path]


def test_small_request_without_nonce_goes_by_get(
    pki_server: Any, client: HttpClient, interm: Any
) -> None:
    cert = pki.load_cert("signer-good")
    assert len(build_ocsp_request(cert, interm)) <= GET_MAX_REQUEST_BYTES
    outcome = fetch_ocsp(client, cert, interm)
    assert outcome.status is RevocationStatus.GOOD
    assert outcome.url == pki.OCSP_INTERM_URL
    (entry,) = _ocsp_log(pki_server)
    assert entry.method == "GET"
    assert entry.path.startswith("/ltv/ocsp/interm/")
    assert entry.host == pki.HOST == "pki.ltv.test"
    (exchange,) = client.exchanges
    assert exchange.method == "GET"
    assert exchange.status == 200


def test_nonced_request_goes_by_post(pki_server: Any, client: HttpClient, interm: Any) -> None:
    outcome = fetch_ocsp(client, pki.load_cert("signer-good"), interm, nonce=True)
    assert outcome.status is RevocationStatus.GOOD
    (entry,) = _ocsp_log(pki_server)
    assert (entry.method, entry.path, entry.host) == ("POST", "/ltv/ocsp/interm", "pki.ltv.test")
    assert entry.body_length > 0


def test_sha256_certid(client: HttpClient, interm: Any) -> None:
    outcome = fetch_ocsp(client, pki.load_cert("signer-good"), interm, hash_algo="sha256")
    assert outcome.status is RevocationStatus.GOOD


def test_issuer_signed_responder_for_the_intermediate(client: HttpClient, interm: Any) -> None:
    # The root answers through its delegated responder at the AIA URL; its own key answers
    # at the "-self" URL, which no certificate names (RFC 6960 §4.2.2.2, first case).
    outcome = fetch_ocsp(client, interm, pki.load_cert("root"), url=pki.OCSP_ROOT_SELF_URL)
    assert outcome.status is RevocationStatus.GOOD
    assert outcome.responder_delegated is False


def test_delegated_responder_for_the_intermediate(client: HttpClient, interm: Any) -> None:
    outcome = fetch_ocsp(client, interm, pki.load_cert("root"))
    assert outcome.status is RevocationStatus.GOOD
    assert outcome.responder_delegated is True


def test_revoked_after_the_revocation_date(
    pki_server: Any, client: HttpClient, interm: Any
) -> None:
    pki_server.freeze(AFTER_REVOCATION)
    outcome = fetch_ocsp(client, pki.load_cert("signer-revoked"), interm, at=AFTER_REVOCATION)
    assert outcome.status is RevocationStatus.REVOKED
    assert outcome.revoked_at == pki.REVOKED_SINCE
    assert outcome.reason == pki.REVOCATION_REASON == "key_compromise"
    assert outcome.responder_delegated is True
    assert outcome.this_update is not None
    assert outcome.this_update <= AFTER_REVOCATION
    pki_server.freeze(BEFORE_REVOCATION)
    before = fetch_ocsp(client, pki.load_cert("signer-revoked"), interm, at=BEFORE_REVOCATION)
    assert before.status is RevocationStatus.GOOD


def test_response_is_judged_at_the_given_time(
    pki_server: Any, client: HttpClient, interm: Any
) -> None:
    pki_server.freeze(AFTER_REVOCATION)
    later = AFTER_REVOCATION + timedelta(days=3)  # responses are valid for one day
    outcome = fetch_ocsp(client, pki.load_cert("signer-good"), interm, at=later)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "expired")


def test_signed_unknown(client: HttpClient, interm: Any) -> None:
    outcome = fetch_ocsp(client, pki.load_cert("signer-unknown"), interm)
    assert (outcome.status, outcome.detail) == (RevocationStatus.UNKNOWN, None)
    assert outcome.url == pki.OCSP_UNKNOWN_URL


@pytest.mark.parametrize(
    ("signer", "detail"),
    [
        ("signer-refused", "refused"),
        ("signer-http500", "http-500"),
        ("signer-garbage", "malformed"),
    ],
)
def test_unusable_responders_are_offline(
    signer: str, detail: str, client: HttpClient, interm: Any
) -> None:
    outcome = fetch_ocsp(client, pki.load_cert(signer), interm)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, detail)
    assert outcome.url == pki.SIGNER_OCSP_URL[signer]


def test_slow_responder_times_out_within_budget(pki_server: Any, interm: Any) -> None:
    pki_server.slow_seconds = 4.0
    budget = 1.5
    client = HttpClient(connect_to=pki_server.connect_to, timeout=budget)
    start = time.monotonic()
    outcome = fetch_ocsp(client, pki.load_cert("signer-slow"), interm)
    elapsed = time.monotonic() - start
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "timeout")
    assert elapsed < budget + 0.5
    assert [e.error for e in client.exchanges] == ["timeout"]


def test_no_network_client(pki_server: Any, interm: Any) -> None:
    client = NoNetwork()
    outcome = fetch_ocsp(client, pki.load_cert("signer-good"), interm)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "network-disabled")
    crl = fetch_crl_status(client, pki.load_cert("signer-good"), interm)
    assert (crl.status, crl.detail) == (RevocationStatus.OFFLINE, "network-disabled")
    assert pki_server.log.snapshot() == []


def test_crl_good_and_revoked(pki_server: Any, client: HttpClient, interm: Any) -> None:
    pki_server.freeze(AFTER_REVOCATION)
    der = fetch_crl(client, pki.CRL_INTERM_URL)
    good = check_crl(der, pki.load_cert("signer-good"), interm, at=AFTER_REVOCATION)
    assert (good.status, good.detail) == (RevocationStatus.GOOD, None)
    revoked = fetch_crl_status(client, pki.load_cert("signer-revoked"), interm, at=AFTER_REVOCATION)
    assert revoked.status is RevocationStatus.REVOKED
    assert revoked.revoked_at == pki.REVOKED_SINCE
    assert revoked.reason == "key_compromise"
    assert revoked.url == pki.CRL_INTERM_URL
    entries = [e for e in pki_server.log.snapshot() if e.path.endswith(".crl")]
    assert [(e.method, e.host) for e in entries] == [("GET", "pki.ltv.test")] * 2


def test_certificate_without_crl_url(client: HttpClient, interm: Any) -> None:
    outcome = fetch_crl_status(client, pki.load_cert("signer-unknown"), interm)
    assert (outcome.status, outcome.detail) == (RevocationStatus.OFFLINE, "no-url")


# -- pyHanko through our fetcher backend ----------------------------------------------------


def _validate(backend: HttpFetcherBackend, signer: str, moment: datetime) -> Any:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext

    context = ValidationContext(
        trust_roots=[pki.load_cert("root")],
        allow_fetching=True,
        revocation_mode="hard-fail",
        moment=moment,
        fetcher_backend=backend,
    )
    validator = CertificateValidator(
        pki.load_cert(signer),
        intermediate_certs=[pki.load_cert("interm")],
        validation_context=context,
    )
    return asyncio.run(validator.async_validate_usage({"digital_signature"}))


def test_pyhanko_fetches_through_our_client(pki_server: Any, client: HttpClient) -> None:
    pki_server.freeze(AFTER_REVOCATION)
    backend = HttpFetcherBackend(client)
    path = _validate(backend, "signer-good", AFTER_REVOCATION)
    assert path is not None
    urls = [e.url for e in client.exchanges]
    assert any(u.startswith(pki.OCSP_INTERM_URL + "/") for u in urls), urls  # GET
    assert any(u.startswith(pki.OCSP_ROOT_URL + "/") for u in urls), urls
    assert {e.host for e in pki_server.log.snapshot()} == {"pki.ltv.test"}
    assert len(pki_server.log.snapshot()) == len(client.exchanges)


def test_pyhanko_sees_revocation_through_our_client(pki_server: Any, client: HttpClient) -> None:
    from pyhanko_certvalidator.errors import RevokedError

    pki_server.freeze(AFTER_REVOCATION)
    with pytest.raises(RevokedError):
        _validate(HttpFetcherBackend(client, ocsp_nonce=True), "signer-revoked", AFTER_REVOCATION)
    assert any(e.method == "POST" for e in client.exchanges)


def test_pyhanko_with_no_network_opens_nothing(pki_server: Any) -> None:
    from pyhanko_certvalidator.errors import PathValidationError

    client = NoNetwork()
    with pytest.raises(PathValidationError):
        _validate(HttpFetcherBackend(client), "signer-good", AFTER_REVOCATION)
    assert client.attempted
    assert pki_server.log.snapshot() == []
