"""The sample PKI server, exercised over real sockets with plain ``http.client``.

Responses are parsed with asn1crypto and their signatures checked with ``cryptography`` against
the committed certificates, so these tests also pin the committed material to what is served.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, cms, crl, ocsp, tsp
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from samples import pki
from samples.pki.server import GARBAGE_BODY, LogEntry, PkiServer, decode_ocsp_get_path

T_AFTER = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC)
"""A time after signer-revoked's revocation."""
T_BEFORE = datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC)
"""One second before signer-revoked's revocation."""
OCSP_MIME = "application/ocsp-response"
REPO_ROOT = Path(__file__).resolve().parents[2]


# ---- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


def _http(
    server: PkiServer,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    content_type: str | None = None,
    timeout: float = 5.0,
) -> Reply:
    """One exchange with the server, sending ``Host: pki.ltv.test`` like a connect-to client."""
    address, port = server.connect_to[f"{pki.HOST}:80"]
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    headers = {"Host": pki.HOST}
    if content_type is not None:
        headers["Content-Type"] = content_type
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, response.getheader("Content-Type", ""), response.read())
    finally:
        conn.close()


def _path(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname == pki.HOST
    return parsed.path


def _ocsp_request(
    cert_label: str, issuer_label: str, *, hash_algo: str = "sha1", nonce: bytes | None = None
) -> bytes:
    cert, issuer = pki.load_cert(cert_label), pki.load_cert(issuer_label)
    cert_id = ocsp.CertId(
        {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": hash_algo}),
            "issuer_name_hash": getattr(issuer.subject, hash_algo),
            "issuer_key_hash": getattr(issuer.public_key, hash_algo),
            "serial_number": cert.serial_number,
        }
    )
    tbs: dict[str, Any] = {"request_list": [{"req_cert": cert_id}]}
    if nonce is not None:
        tbs["request_extensions"] = [{"extn_id": "nonce", "critical": False, "extn_value": nonce}]
    der: bytes = ocsp.OCSPRequest({"tbs_request": tbs}).dump()
    return der


def _verify_signature(
    signer_label: str, signature: bytes, data: bytes, algo: algos.SignedDigestAlgorithm
) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` over ``data`` is by that label's key."""
    public_key = pyca_x509.load_pem_x509_certificate(
        pki.cert_path(signer_label).read_bytes()
    ).public_key()
    assert algo.hash_algo == "sha256"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        assert algo.signature_algo == "ecdsa"
        public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    elif isinstance(public_key, rsa.RSAPublicKey):
        assert algo.signature_algo == "rsassa_pkcs1v15"
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:  # pragma: no cover - the sample PKI only has EC and RSA keys
        raise AssertionError(f"unexpected key type {type(public_key)}")


def _check_ocsp(
    body: bytes, *, responder: str, cert_label: str, at: datetime | None = None
) -> ocsp.SingleResponse:
    """Parse, check the signature by ``responder`` and return the single response."""
    response = ocsp.OCSPResponse.load(body)
    assert response["response_status"].native == "successful"
    basic = response.basic_ocsp_response
    tbs = basic["tbs_response_data"]
    _verify_signature(
        responder, basic["signature"].native, tbs.dump(), basic["signature_algorithm"]
    )
    responder_cert = pki.load_cert(responder)
    assert tbs["responder_id"].name == "by_key"
    assert tbs["responder_id"].native == responder_cert.public_key.sha1
    assert [c.dump() for c in basic["certs"]] == [responder_cert.dump()]
    (single,) = tbs["responses"]
    assert single["cert_id"]["serial_number"].native == pki.load_cert(cert_label).serial_number
    if at is not None:
        assert tbs["produced_at"].native == at
        assert single["this_update"].native == at
        assert single["next_update"].native == at + timedelta(days=1)
    return single


def _tsa_request(message: bytes, nonce: int) -> bytes:
    der: bytes = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(message).digest(),
            },
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    return der


# ---- OCSP ---------------------------------------------------------------------------------------


def test_ocsp_post_good_is_signed_by_delegated_responder(pki_server: PkiServer) -> None:
    pki_server.freeze(T_AFTER)
    nonce = secrets.token_bytes(16)
    request = _ocsp_request("signer-good", "interm", nonce=nonce)

    reply = _http(
        pki_server,
        "POST",
        _path(pki.OCSP_INTERM_URL),
        request,
        content_type="application/ocsp-request",
    )

    assert (reply.status, reply.content_type) == (200, OCSP_MIME)
    single = _check_ocsp(reply.body, responder="interm-ocsp", cert_label="signer-good", at=T_AFTER)
    assert single["cert_status"].name == "good"
    basic = ocsp.OCSPResponse.load(reply.body).basic_ocsp_response
    (ext,) = basic["tbs_response_data"]["response_extensions"]
    assert (ext["extn_id"].native, ext["extn_value"].native) == ("nonce", nonce)
    assert pki_server.log.snapshot() == [
        LogEntry(
            method="POST",
            path="/ltv/ocsp/interm",
            host="pki.ltv.test",
            status=200,
            content_type=OCSP_MIME,
            body_length=len(request),
            received_at=pki_server.log[0].received_at,
        )
    ]


def _request_with_awkward_base64() -> bytes:
    """An OCSP request whose base64 has both '/' and '+' (nonce varied until it does)."""
    for _ in range(1000):
        der = _ocsp_request("signer-good", "interm", hash_algo="sha256", nonce=os.urandom(16))
        b64 = base64.b64encode(der).decode()
        if "/" in b64 and "+" in b64:
            return der
    raise AssertionError("no request with '/' and '+' in its base64")  # pragma: no cover


@pytest.mark.parametrize("quoted", [True, False], ids=["percent-encoded", "raw-base64"])
def test_ocsp_get_rfc6960_a1(pki_server: PkiServer, quoted: bool) -> None:
    pki_server.freeze(T_AFTER)
    der = _request_with_awkward_base64()
    b64 = base64.b64encode(der).decode()
    encoded = urllib.parse.quote(b64, safe="") if quoted else b64

    reply = _http(pki_server, "GET", f"{_path(pki.OCSP_INTERM_URL)}/{encoded}")

    assert (reply.status, reply.content_type) == (200, OCSP_MIME)
    single = _check_ocsp(reply.body, responder="interm-ocsp", cert_label="signer-good", at=T_AFTER)
    assert single["cert_status"].name == "good"
    assert single["cert_id"]["hash_algorithm"]["algorithm"].native == "sha256"
    (entry,) = pki_server.log
    assert (entry.method, entry.host, entry.status, entry.body_length) == (
        "GET",
        "pki.ltv.test",
        200,
        0,
    )
    assert entry.path == f"/ltv/ocsp/interm/{b64}"


def test_decode_ocsp_get_path_tolerates_spaces_padding_and_double_encoding() -> None:
    der = _request_with_awkward_base64()
    b64 = base64.b64encode(der).decode()
    assert decode_ocsp_get_path(b64) == der
    assert decode_ocsp_get_path(b64.replace("+", " ")) == der
    assert decode_ocsp_get_path(b64.rstrip("=")) == der
    assert decode_ocsp_get_path(urllib.parse.quote(b64, safe="")) == der


@pytest.mark.parametrize(
    ("at", "expected"),
    [(T_BEFORE, "good"), (pki.REVOKED_SINCE, "revoked"), (T_AFTER, "revoked")],
    ids=["before", "at-revocation", "after"],
)
def test_ocsp_revoked_signer_follows_frozen_clock(
    pki_server: PkiServer, at: datetime, expected: str
) -> None:
    pki_server.freeze(at)
    request = _ocsp_request("signer-revoked", "interm")

    reply = _http(pki_server, "POST", _path(pki.OCSP_INTERM_URL), request)

    single = _check_ocsp(reply.body, responder="interm-ocsp", cert_label="signer-revoked", at=at)
    status = single["cert_status"]
    assert status.name == expected
    if expected == "revoked":
        assert status.chosen["revocation_time"].native == pki.REVOKED_SINCE
        assert status.chosen["revocation_reason"].native == pki.REVOCATION_REASON


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_ocsp_unknown_responder_signs_unknown(pki_server: PkiServer, method: str) -> None:
    pki_server.freeze(T_AFTER)
    request = _ocsp_request("signer-unknown", "interm", nonce=b"n" * 8)
    path = _path(pki.OCSP_UNKNOWN_URL)
    if method == "GET":
        reply = _http(pki_server, "GET", f"{path}/{base64.b64encode(request).decode()}")
    else:
        reply = _http(pki_server, "POST", path, request)

    assert (reply.status, reply.content_type) == (200, OCSP_MIME)
    single = _check_ocsp(
        reply.body, responder="interm-ocsp", cert_label="signer-unknown", at=T_AFTER
    )
    assert single["cert_status"].name == "unknown"


@pytest.mark.parametrize(
    ("label", "issuer", "responder_url", "responder"),
    [
        # the roots delegate (the responders in interm's and tsa's AIA) ...
        ("interm", "root", pki.OCSP_ROOT_URL, "root-ocsp"),
        ("tsa", "tsa-root", pki.OCSP_TSA_ROOT_URL, "tsa-root-ocsp"),
        ("tsa-short", "tsa-root", pki.OCSP_TSA_ROOT_URL, "tsa-root-ocsp"),
        # ... and answer with their own key only at the -self URLs (in no certificate)
        ("interm", "root", pki.OCSP_ROOT_SELF_URL, "root"),
        ("tsa", "tsa-root", pki.OCSP_TSA_ROOT_SELF_URL, "tsa-root"),
    ],
)
def test_ocsp_ca_responders(
    pki_server: PkiServer, label: str, issuer: str, responder_url: str, responder: str
) -> None:
    pki_server.freeze(T_AFTER)
    reply = _http(pki_server, "POST", _path(responder_url), _ocsp_request(label, issuer))
    single = _check_ocsp(reply.body, responder=responder, cert_label=label, at=T_AFTER)
    assert single["cert_status"].name == "good"


def test_ocsp_real_clock_when_not_frozen(pki_server: PkiServer) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    reply = _http(
        pki_server, "POST", _path(pki.OCSP_INTERM_URL), _ocsp_request("signer-good", "interm")
    )
    after = datetime.now(UTC)
    basic = ocsp.OCSPResponse.load(reply.body).basic_ocsp_response
    produced_at = basic["tbs_response_data"]["produced_at"].native
    assert before <= produced_at <= after


def test_ocsp_http500(pki_server: PkiServer) -> None:
    request = _ocsp_request("signer-http500", "interm")
    reply = _http(pki_server, "POST", _path(pki.OCSP_HTTP500_URL), request)
    assert reply.status == 500
    (entry,) = pki_server.log
    assert (entry.path, entry.status, entry.body_length) == ("/ltv/ocsp/http500", 500, len(request))


def test_ocsp_garbage_is_200_but_not_der(pki_server: PkiServer) -> None:
    reply = _http(
        pki_server, "POST", _path(pki.OCSP_GARBAGE_URL), _ocsp_request("signer-garbage", "interm")
    )
    assert (reply.status, reply.content_type, reply.body) == (200, OCSP_MIME, GARBAGE_BODY)
    with pytest.raises(ValueError):
        ocsp.OCSPResponse.load(reply.body).native  # noqa: B018 (forces the parse)


def test_ocsp_malformed_request_gets_malformed_request_status(pki_server: PkiServer) -> None:
    for method, path, body in [
        ("POST", _path(pki.OCSP_INTERM_URL), b"\x30\x03junk"),
        ("GET", _path(pki.OCSP_INTERM_URL) + "/not*base64", None),
    ]:
        reply = _http(pki_server, method, path, body)
        assert (reply.status, reply.content_type) == (200, OCSP_MIME)
        assert ocsp.OCSPResponse.load(reply.body)["response_status"].native == "malformed_request"
    assert (
        _http(pki_server, "POST", "/ltv/ocsp/nosuch", _ocsp_request("signer-good", "interm")).status
        == 404
    )


def test_ocsp_slow_times_out_a_client_without_blocking_others(pki_server: PkiServer) -> None:
    pki_server.slow_seconds = 1.5
    request = _ocsp_request("signer-slow", "interm")
    outcome: dict[str, BaseException | Reply] = {}

    def slow_call() -> None:
        try:
            outcome["slow"] = _http(
                pki_server, "POST", _path(pki.OCSP_SLOW_URL), request, timeout=0.5
            )
        except BaseException as exc:
            outcome["slow"] = exc

    worker = threading.Thread(target=slow_call)
    started = time.monotonic()
    worker.start()
    # Served concurrently while the slow handler sleeps (threaded server).
    fast = _http(pki_server, "GET", _path(pki.CRL_INTERM_URL), timeout=1.0)
    fast_elapsed = time.monotonic() - started
    worker.join()

    assert fast.status == 200
    assert fast_elapsed < 1.0
    assert isinstance(outcome["slow"], TimeoutError)


def test_ocsp_slow_answers_after_its_sleep(pki_server: PkiServer) -> None:
    pki_server.slow_seconds = 0.3
    pki_server.freeze(T_AFTER)
    started = time.monotonic()
    reply = _http(
        pki_server, "POST", _path(pki.OCSP_SLOW_URL), _ocsp_request("signer-slow", "interm")
    )
    assert time.monotonic() - started >= 0.3
    single = _check_ocsp(reply.body, responder="interm-ocsp", cert_label="signer-slow", at=T_AFTER)
    assert single["cert_status"].name == "good"


def test_stop_wakes_a_sleeping_slow_handler() -> None:
    with PkiServer(slow_seconds=60.0) as server:
        request = _ocsp_request("signer-slow", "interm")
        worker = threading.Thread(
            target=lambda: _http(server, "POST", _path(pki.OCSP_SLOW_URL), request, timeout=5),
            daemon=True,
        )
        worker.start()
        time.sleep(0.2)
        started = time.monotonic()
    assert time.monotonic() - started < 2.0


def test_reset_wakes_a_sleeping_slow_handler_and_keeps_it_out_of_the_log() -> None:
    """A slow request left over from one test must not show up in the next test's log."""
    with PkiServer(slow_seconds=60.0) as server:
        request = _ocsp_request("signer-slow", "interm")
        replies: list[Reply] = []
        worker = threading.Thread(
            target=lambda: replies.append(
                _http(server, "POST", _path(pki.OCSP_SLOW_URL), request, timeout=5)
            ),
            daemon=True,
        )
        worker.start()
        time.sleep(0.3)
        started = time.monotonic()
        server.reset()
        worker.join(timeout=3)
        assert time.monotonic() - started < 2.0
        assert [r.status for r in replies] == [503]
        assert len(server.log) == 0


def test_refused_host_maps_to_a_port_where_nothing_listens(pki_server: PkiServer) -> None:
    address, port = pki_server.connect_to[f"{pki.REFUSED_HOST}:80"]
    assert address == "127.0.0.1"
    assert port != pki_server.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, port), timeout=2).close()


def test_connect_to_and_base_url(pki_server: PkiServer) -> None:
    assert pki_server.connect_to == {
        "pki.ltv.test:80": ("127.0.0.1", pki_server.port),
        "refused.ltv.test:80": ("127.0.0.1", pki_server.refused_port),
    }
    assert pki_server.base_url == f"http://127.0.0.1:{pki_server.port}"


def test_freeze_requires_an_aware_datetime(pki_server: PkiServer) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pki_server.freeze(datetime(2026, 7, 1))  # noqa: DTZ001 (the point of the test)
    with pytest.raises(ValueError, match="timezone-aware"):
        PkiServer(fake_time=datetime(2026, 7, 1))  # noqa: DTZ001
    pki_server.freeze(datetime(2026, 7, 1, 16, 0, tzinfo=timezone(timedelta(hours=2))))
    assert pki_server.now() == datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
    assert pki_server.now().tzinfo is UTC


# ---- CRLs ---------------------------------------------------------------------------------------


def _fetch_crl(server: PkiServer, url: str, issuer: str) -> crl.CertificateList:
    reply = _http(server, "GET", _path(url))
    assert (reply.status, reply.content_type) == (200, "application/pkix-crl")
    cert_list = crl.CertificateList.load(reply.body)
    _verify_signature(
        issuer,
        cert_list["signature"].native,
        cert_list["tbs_cert_list"].dump(),
        cert_list["signature_algorithm"],
    )
    assert cert_list.issuer == pki.load_cert(issuer).subject
    return cert_list


def test_interm_crl_lists_revoked_signer_after_revocation(pki_server: PkiServer) -> None:
    pki_server.freeze(T_AFTER)
    cert_list = _fetch_crl(pki_server, pki.CRL_INTERM_URL, "interm")
    tbs = cert_list["tbs_cert_list"]
    assert tbs["this_update"].native <= T_AFTER < tbs["next_update"].native
    assert tbs["next_update"].native - tbs["this_update"].native == timedelta(days=1)
    revoked = {entry["user_certificate"].native: entry for entry in tbs["revoked_certificates"]}
    assert set(revoked) == {pki.load_cert("signer-revoked").serial_number}
    entry = revoked[pki.load_cert("signer-revoked").serial_number]
    assert entry["revocation_date"].native == pki.REVOKED_SINCE
    assert entry.crl_reason_value.native == pki.REVOCATION_REASON


def test_interm_crl_is_empty_before_revocation(pki_server: PkiServer) -> None:
    pki_server.freeze(T_BEFORE)
    cert_list = _fetch_crl(pki_server, pki.CRL_INTERM_URL, "interm")
    assert len(cert_list["tbs_cert_list"]["revoked_certificates"]) == 0


@pytest.mark.parametrize(
    ("url", "issuer"), [(pki.CRL_ROOT_URL, "root"), (pki.CRL_TSA_ROOT_URL, "tsa-root")]
)
def test_ca_crls_parse_and_are_empty(pki_server: PkiServer, url: str, issuer: str) -> None:
    pki_server.freeze(T_AFTER)
    cert_list = _fetch_crl(pki_server, url, issuer)
    assert len(cert_list["tbs_cert_list"]["revoked_certificates"]) == 0


# ---- TSA ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "label"), [(pki.TSA_URL, "tsa"), (pki.TSA_SHORT_URL, "tsa-short")])
def test_tsa_answers_a_valid_token_at_the_frozen_time(
    pki_server: PkiServer, url: str, label: str
) -> None:
    pki_server.freeze(T_AFTER)
    nonce = secrets.randbits(63)
    reply = _http(
        pki_server,
        "POST",
        _path(url),
        _tsa_request(b"signature value", nonce),
        content_type="application/timestamp-query",
    )
    assert (reply.status, reply.content_type) == (200, "application/timestamp-reply")

    response = tsp.TimeStampResp.load(reply.body)
    assert response["status"]["status"].native == "granted"
    signed_data: cms.SignedData = response["time_stamp_token"]["content"]
    tst_info_der = signed_data["encap_content_info"]["content"].contents
    tst_info = tsp.TSTInfo.load(tst_info_der)
    assert tst_info["gen_time"].native == T_AFTER
    assert tst_info["nonce"].native == nonce
    assert (
        tst_info["message_imprint"]["hashed_message"].native
        == hashlib.sha256(b"signature value").digest()
    )

    (signer_info,) = signed_data["signer_infos"]
    certs = [c.chosen.dump() for c in signed_data["certificates"]]
    assert pki.load_cert(label).dump() in certs
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert attrs["message_digest"].native == hashlib.sha256(tst_info_der).digest()
    _verify_signature(
        label,
        signer_info["signature"].native,
        signer_info["signed_attrs"].untag().dump(),
        signer_info["signature_algorithm"],
    )


def test_tsa_rejects_garbage_with_400(pki_server: PkiServer) -> None:
    assert _http(pki_server, "POST", _path(pki.TSA_URL), b"junk").status == 400


# ---- committed material --------------------------------------------------------------------------


def test_served_certificates_are_the_committed_ones(pki_server: PkiServer) -> None:
    for repo in pki.CA_LABELS:
        reply = _http(pki_server, "GET", f"/ltv/certs/{repo}/ca.crt")
        assert reply.status == 200
        assert reply.body == pki.load_cert(repo).dump()


@pytest.mark.parametrize("label", pki.CERT_LABELS)
def test_committed_certificates_chain_and_urls(label: str) -> None:
    cert = pki.load_cert(label)
    chain = pki.chain_paths(label)
    issuer_label = chain[0].name.removesuffix(".cert.pem") if chain else label
    issuer = pyca_x509.load_pem_x509_certificate(pki.cert_path(issuer_label).read_bytes())
    pyca_x509.load_pem_x509_certificate(
        pki.cert_path(label).read_bytes()
    ).verify_directly_issued_by(issuer)
    ocsp_urls = list(cert.ocsp_urls)
    crl_urls = [u for dp in cert.crl_distribution_points for u in dp["distribution_point"].native]
    if label in pki.SIGNERS:
        assert ocsp_urls == [pki.SIGNER_OCSP_URL[label]]
        expected_crl = pki.SIGNER_CRL_URL[label]
        assert crl_urls == ([] if expected_crl is None else [expected_crl])
        assert cert.not_valid_after > datetime(2030, 1, 1, tzinfo=UTC) or label == "signer-expired"
    elif label in {"interm", "tsa", "tsa-short"}:
        parent = "root" if label == "interm" else "tsa-root"
        assert ocsp_urls == [pki.ocsp_url(parent)]
        assert crl_urls == [pki.crl_url(parent)]
    else:
        assert (ocsp_urls, crl_urls) == ([], [])
    if label in {"tsa", "tsa-short"}:
        assert cert.extended_key_usage_value.native == ["time_stamping"]
        assert cert.critical_extensions >= {"extended_key_usage"}
    if label == "tsa-short":  # expires early: its timestamps need a later document timestamp
        assert cert.not_valid_after == pki.TSA_SHORT_NOT_AFTER
    if label in pki.RESPONDERS:
        # RFC 6960 §4.2.2.2: issued directly by the CA it answers for, id-kp-OCSPSigning;
        # §4.2.2.2.1 id-pkix-ocsp-nocheck (so no revocation data is needed for it).
        assert issuer_label == label.removesuffix("-ocsp")
        assert cert.extended_key_usage_value.native == ["ocsp_signing"]
        assert cert.critical_extensions >= {"extended_key_usage", "key_usage"}
        assert cert.key_usage_value.native == {"digital_signature"}
        assert cert.ocsp_no_check_value is not None
        assert not cert.ca


def test_p12_opens_with_documented_passphrase() -> None:
    key, cert, cas = pkcs12.load_key_and_certificates(
        pki.SIGNER_GOOD_P12.read_bytes(), pki.P12_PASSPHRASE.encode()
    )
    assert key is not None and cert is not None
    assert cert.public_bytes(Encoding.DER) == pki.load_cert("signer-good").dump()
    assert [c.public_bytes(Encoding.DER) for c in cas] == [
        pki.load_cert("interm").dump(),
        pki.load_cert("root").dump(),
    ]


# ---- CLI ----------------------------------------------------------------------------------------


def test_serve_cli_prints_connect_to_and_stops_on_sigterm() -> None:
    command = [sys.executable, "-m", "samples.pki", "serve", "--port", "0"]
    command += ["--fake-time", "2026-07-01T12:00:00Z"]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            host, port = info["connect_to"]["pki.ltv.test:80"]
            assert (host, port) == ("127.0.0.1", info["port"])
            assert info["connect_to"]["refused.ltv.test:80"][0] == "127.0.0.1"
            conn = http.client.HTTPConnection(host, port, timeout=5)
            body = _tsa_request(b"x", 1)
            conn.request("POST", _path(pki.TSA_URL), body=body, headers={"Host": pki.HOST})
            token = tsp.TimeStampResp.load(conn.getresponse().read())
            conn.close()
            content = token["time_stamp_token"]["content"]["encap_content_info"]["content"]
            assert content.parsed["gen_time"].native == T_AFTER
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0


def test_per_service_latency(pki_server: PkiServer) -> None:
    """``latency`` delays one kind of service (here CRLs) and not the others; reset drops it."""
    pki_server.latency["crls"] = 0.4
    start = time.monotonic()
    _fetch_crl(pki_server, pki.CRL_ROOT_URL, "root")
    assert time.monotonic() - start >= 0.4
    start = time.monotonic()
    reply = _http(pki_server, "GET", "/ltv/certs/root/ca.crt")
    assert reply.status == 200 and time.monotonic() - start < 0.35
    pki_server.reset()
    assert pki_server.latency == {}


def test_latency_is_the_round_trip_the_responders_work_included(
    pki_server: PkiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A latency is when the answer leaves after the request came, as a measured round trip
    is: a responder that works 0.3 s answers at 0.5 s under a latency of 0.5 s (not 0.8 s), and
    at 0.3 s under one of 0.1 s."""
    dispatch = pki_server._dispatch

    def slow_dispatch(*args: Any) -> Any:
        time.sleep(0.3)
        return dispatch(*args)

    monkeypatch.setattr(pki_server, "_dispatch", slow_dispatch)
    for latency, low, high in ((0.5, 0.5, 0.75), (0.1, 0.3, 0.55)):
        pki_server.latency["crls"] = latency
        start = time.monotonic()
        _fetch_crl(pki_server, pki.CRL_ROOT_URL, "root")
        assert low <= time.monotonic() - start < high, latency
