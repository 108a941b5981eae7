"""samples/signing_server.py: the real service (uvicorn, loopback port) against the loopback PKI.

What a signing server must show (issue 10): 100 concurrent signatures on a cold cache make one
OCSP request per certificate and one TSA request per document, and every output verifies
TOTAL-PASSED offline; once the cached answers lapse, one fetch per certificate again; with the
responder unreachable and the cache still valid, signing goes on — until nothing valid is left.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from ltv.evidence.http import HttpClient, HttpError  # noqa: E402
from ltv.policy import ValidationPolicy  # noqa: E402
from ltv.trust import TrustStore  # noqa: E402
from ltv.verify import Verifier  # noqa: E402
from samples import pki  # noqa: E402
from samples.make_samples import make_unsigned_pdf  # noqa: E402
from samples.pki.server import PkiServer  # noqa: E402
from samples.signing_server import Config, SigningService, create_app  # noqa: E402

UNSIGNED = make_unsigned_pdf()
POLICY = ValidationPolicy(
    trust=TrustStore.from_file(pki.ROOT_CERT), tsa_trust=TrustStore.from_file(pki.TSA_ROOT_CERT)
)


@dataclass
class ServiceClock:
    """The service's clock: real time plus an offset the test moves."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Service:
    """The app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, config: Config, clock: ServiceClock) -> None:
        self.service = SigningService(config, clock=clock)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.service),
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=20,
                limit_concurrency=500,
                backlog=512,
            )
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> Service:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()

    def request(
        self, method: str, path: str, body: bytes | None = None, timeout: float = 120
    ) -> tuple[int, str, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body)
            resp = conn.getresponse()
            return resp.status, resp.getheader("content-type") or "", resp.read()
        finally:
            conn.close()

    def sign_many(self, n: int, path: str = "/sign?level=B-LT") -> list[tuple[int, str, bytes]]:
        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(lambda _i: self.request("POST", path, UNSIGNED), range(n)))


def config(connect_to: dict[str, tuple[str, int]], **kw: Any) -> Config:
    values: dict[str, Any] = {
        "p12": pki.SIGNER_GOOD_P12,
        "passphrase": pki.P12_PASSPHRASE,
        "tsa_url": pki.TSA_URL,
        "chain": (pki.TSA_ROOT_CERT,),
        "trust": (pki.ROOT_CERT, pki.TSA_ROOT_CERT),
        "connect_to": connect_to,
        "timeout": 5.0,
        **kw,
    }
    return Config(**values)


@pytest.fixture
def clock() -> ServiceClock:
    return ServiceClock()


@pytest.fixture
def service(pki_server: PkiServer, clock: ServiceClock) -> Iterator[Service]:
    svc = Service(config(pki_server.connect_to), clock).start()
    yield svc
    svc.stop()


def ocsp_by_responder(server: PkiServer) -> Counter[str]:
    """OCSP requests per responder label; in the sample chain each label answers for exactly
    one certificate (interm: signer-good, root: interm, tsa-root: the TSA)."""
    return Counter(e.path.split("/")[3] for e in server.log.matching(path_prefix="/ltv/ocsp/"))


def tsa_requests(server: PkiServer) -> int:
    return len(server.log.matching(method="POST", path_prefix="/ltv/tsa/"))


def verified_offline(outputs: list[tuple[int, str, bytes]], now: datetime) -> set[str]:
    verifier = Verifier(POLICY)
    verdicts = set()
    for status, ctype, body in outputs:
        assert status == 200, body[:300]
        assert ctype == "application/pdf"
        assert body.startswith(UNSIGNED)
        report = verifier.verify(body, now=now)
        verdicts.add(f"{report.indication} {report.signatures[0].level}")
    return verdicts


# -- the numbers a signing server must show ---------------------------------------------------


def test_100_concurrent_signatures_one_ocsp_per_certificate_then_once_more_after_lapse(
    pki_server: PkiServer, service: Service, clock: ServiceClock
) -> None:
    outputs = service.sign_many(100)
    assert ocsp_by_responder(pki_server) == {"interm": 1, "root": 1, "tsa-root": 1}
    assert tsa_requests(pki_server) == 100
    assert pki_server.log.matching(path_prefix="/ltv/crls/") == []
    assert verified_offline(outputs, clock()) == {"TOTAL-PASSED B-LT"}

    # The sample OCSP answers are valid one day: two days on they have lapsed.
    clock.offset = timedelta(days=2)
    pki_server.freeze(clock())
    pki_server.log.clear()
    outputs = service.sign_many(20)
    assert ocsp_by_responder(pki_server) == {"interm": 1, "root": 1, "tsa-root": 1}
    assert tsa_requests(pki_server) == 20
    assert verified_offline(outputs, clock()) == {"TOTAL-PASSED B-LT"}


def test_responder_outage_signing_goes_on_while_the_cache_is_valid(
    pki_server: PkiServer, clock: ServiceClock
) -> None:
    """OCSP/CRL/caIssuers (``pki.ltv.test``) are served by a PKI of their own that the test
    stops; the TSA (``tsa.ltv.test``) stays up on the session PKI."""
    responders = PkiServer(port=0).start()
    try:
        connect = {
            "pki.ltv.test:80": ("127.0.0.1", responders.port),
            "tsa.ltv.test:80": ("127.0.0.1", pki_server.port),
        }
        tsa_url = pki.TSA_URL.replace("pki.ltv.test", "tsa.ltv.test")
        svc = Service(config(connect, tsa_url=tsa_url), clock).start()
        try:
            assert verified_offline(svc.sign_many(3), clock()) == {"TOTAL-PASSED B-LT"}
            assert ocsp_by_responder(responders) == {"interm": 1, "root": 1, "tsa-root": 1}
            responders.stop()
            with pytest.raises(HttpError, match="refused"):
                HttpClient(connect_to=connect, retries=0).request("GET", pki.CRL_INTERM_URL)
            # the responder is unreachable; the cached answers are valid (and due for a
            # refresh, which fails in the background): signing goes on
            clock.offset = timedelta(hours=20)
            pki_server.freeze(clock())
            assert verified_offline(svc.sign_many(5), clock()) == {"TOTAL-PASSED B-LT"}
            svc.service.cache.wait_for_refreshes()
            assert svc.service.cache.count("refresh-failed:status") == 3
            health = json.loads(svc.request("GET", "/health")[2])
            errors = [e["last_refresh_error"] for e in health["evidence"] if e["kind"] == "ocsp"]
            assert len(errors) == 3 and all("offline (refused)" in e for e in errors), errors
            # once nothing valid is left, the existing refusal
            clock.offset = timedelta(days=2)
            pki_server.freeze(clock())
            status, ctype, body = svc.request("POST", "/sign?level=B-LT", UNSIGNED)
            assert (status, ctype) == (422, "application/json"), body
            error = json.loads(body)
            assert error["kind"] == "SigningError"
            assert error["error"].startswith("refusing to sign: ")
            assert "offline (refused)" in error["error"]
        finally:
            svc.stop()
    finally:
        responders.stop()


def test_background_refresh_before_lapse_and_health(
    pki_server: PkiServer, service: Service, clock: ServiceClock
) -> None:
    assert service.sign_many(2)[0][0] == 200
    status, _, body = service.request("GET", "/health")
    health = json.loads(body)
    assert status == 200 and health["signer"] == "CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ"
    status_entries = [e for e in health["evidence"] if e["kind"] == "ocsp"]
    assert {e["certificate"].split(",")[0] for e in status_entries} == {
        "CN=Signer Good",
        "CN=ltv Sample Intermediate CA",
        "CN=ltv Sample Time Stamping Authority",
    }
    first = {e["certificate"]: e for e in status_entries}
    entry = next(iter(first.values()))
    lapses = datetime.fromisoformat(entry["lapses_at"])
    refresh = datetime.fromisoformat(entry["refresh_at"])
    assert refresh < lapses < datetime.fromisoformat(entry["next_update"])
    # in the refresh window: served from the cache, refreshed in the background
    clock.offset = refresh - datetime.now(UTC) + timedelta(minutes=1)
    pki_server.freeze(clock())
    pki_server.log.clear()
    status = service.request("POST", "/sign?level=B-LT", UNSIGNED)[0]
    assert status == 200
    service.service.cache.wait_for_refreshes()
    assert service.service.cache.refreshes == 3
    assert ocsp_by_responder(pki_server) == {"interm": 1, "root": 1, "tsa-root": 1}
    health = json.loads(service.request("GET", "/health")[2])
    renewed = {e["certificate"]: e for e in health["evidence"] if e["kind"] == "ocsp"}
    for subject, old in first.items():
        assert renewed[subject]["next_update"] > old["next_update"]
        assert renewed[subject]["last_refresh_error"] is None


# -- the service's other duties ------------------------------------------------------------------


def test_verify_extend_visible_and_errors(service: Service, clock: ServiceClock) -> None:
    status, ctype, signed = service.request(
        "POST", "/sign?level=B-LTA&field=Approval&reason=ok&visible=1:36,36,236,96", UNSIGNED
    )
    assert status == 200, signed
    status, ctype, body = service.request("POST", "/verify", signed)
    report = json.loads(body)
    assert (status, ctype) == (200, "application/json")
    assert report["indication"] == "TOTAL-PASSED"
    assert report["signatures"][0]["field"] == "Approval"
    assert report["signatures"][0]["level"] == "B-LTA"
    status, ctype, extended = service.request("POST", "/extend", signed)
    assert (status, ctype) == (200, "application/pdf"), extended
    assert extended.startswith(signed)
    # a tampered document is refused by /extend (verified first)
    tampered = (Path(pki.PKI_DIR).parent / "tampered-after-signing.pdf").read_bytes()
    status, _, body = service.request("POST", "/extend", tampered)
    assert status == 422 and json.loads(body)["error"].startswith("refusing to extend: ")
    # bad parameters, bad input: one-line JSON errors with the right status
    assert service.request("POST", "/sign?level=B-X", UNSIGNED)[0] == 400
    assert service.request("POST", "/sign?visible=oops", UNSIGNED)[0] == 400
    status, _, body = service.request("POST", "/sign", b"not a pdf")
    assert status == 422 and "not a PDF" in json.loads(body)["error"]


def test_request_size_is_bounded(pki_server: PkiServer, clock: ServiceClock) -> None:
    svc = Service(config(pki_server.connect_to, max_bytes=len(UNSIGNED) - 1), clock).start()
    try:
        status, _, body = svc.request("POST", "/sign?level=B-B", UNSIGNED)
        assert status == 413, body
        # also when the client declares no length (chunked)
        conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=30)
        conn.putrequest("POST", "/sign?level=B-B")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i in range(0, len(UNSIGNED), 1000):
            part = UNSIGNED[i : i + 1000]
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        conn.send(b"0\r\n\r\n")
        assert conn.getresponse().status == 413
        conn.close()
    finally:
        svc.stop()


def test_no_key_material_or_passphrase_in_logs_or_answers(
    pki_server: PkiServer, clock: ServiceClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = config(pki_server.connect_to)
    assert pki.P12_PASSPHRASE not in repr(cfg)
    svc = Service(cfg, clock).start()
    try:
        answers = [
            svc.request("GET", "/health")[2],
            svc.request("POST", "/sign?level=B-LT", UNSIGNED)[2],
            svc.request("POST", "/sign", b"%PDF-1.7 garbage")[2],
            svc.request("POST", "/verify", b"junk")[2],
        ]
    finally:
        svc.stop()
    with pytest.raises(Exception, match="wrong passphrase"):
        SigningService(config(pki_server.connect_to, passphrase="not-it"))  # noqa: S106
    key_pem = pki.SIGNER_GOOD_KEY.read_bytes()
    secret_bits = [pki.P12_PASSPHRASE.encode(), b"PRIVATE KEY", key_pem.splitlines()[1]]
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records).encode()
    for secret in secret_bits:
        assert secret not in logged
        for answer in answers:
            assert secret not in answer


def test_graceful_shutdown_finishes_requests_in_flight(
    pki_server: PkiServer, clock: ServiceClock
) -> None:
    svc = Service(config(pki_server.connect_to), clock).start()
    pki_server.latency["tsa"] = 1.5
    result: list[tuple[int, str, bytes]] = []
    worker = threading.Thread(
        target=lambda: result.append(svc.request("POST", "/sign?level=B-T", UNSIGNED))
    )
    worker.start()
    time.sleep(0.7)  # the request waits for the TSA (1.5 s)
    assert not result
    stopping = time.monotonic()
    svc.stop()  # uvicorn: stop accepting, wait for the request in flight
    assert time.monotonic() - stopping > 0.4
    worker.join(20)
    assert result and result[0][0] == 200
    assert result[0][2].startswith(UNSIGNED)
    assert not svc.thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", svc.port), timeout=1)


def test_forked_workers_share_the_port_and_the_cache_and_stop_together(
    pki_server: PkiServer, tmp_path: Path
) -> None:
    """``LTV_WORKERS=2``: two processes answer on one port, the SQLite cache is shared (a cold
    start fetches a certificate's evidence at most once per worker), every output verifies
    offline, and SIGTERM stops parent and workers cleanly (exit 0, port closed)."""
    import os
    import signal
    import subprocess
    import sys

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {
        **os.environ,
        "LTV_SIGNER_P12": str(pki.SIGNER_GOOD_P12),
        "LTV_SIGNER_PASSPHRASE": pki.P12_PASSPHRASE,
        "LTV_TSA_URL": pki.TSA_URL,
        "LTV_CHAIN": str(pki.TSA_ROOT_CERT),
        "LTV_CONNECT_TO": ",".join(f"{k}:{a}:{p}" for k, (a, p) in pki_server.connect_to.items()),
        "LTV_PORT": str(port),
        "LTV_WORKERS": "2",
        "LTV_CACHE": str(tmp_path / "evidence.sqlite"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "samples.signing_server"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        client = Service.__new__(Service)
        client.port = port
        deadline = time.monotonic() + 60
        while True:
            try:
                client.request("GET", "/health", timeout=5)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.1)
        outputs = client.sign_many(24)
        assert verified_offline(outputs, datetime.now(UTC)) == {"TOTAL-PASSED B-LT"}
        healths = [json.loads(client.request("GET", "/health")[2]) for _ in range(40)]
        workers = {h["worker"] for h in healths}
        assert all(h["pdf_reader_speedups"] for h in healths)  # installed before the fork
        children = {
            int(p.parent.name)
            for p in Path("/proc").glob("[0-9]*/stat")
            if p.exists() and p.read_text().rsplit(")", 1)[1].split()[1] == str(proc.pid)
        }
        assert len(children) == 2 and workers <= children and proc.pid not in workers
        per_certificate = ocsp_by_responder(pki_server)
        assert set(per_certificate) == {"interm", "root", "tsa-root"}
        assert all(1 <= n <= 2 for n in per_certificate.values()), per_certificate
        assert tsa_requests(pki_server) == 24
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, proc.stderr.read().decode() if proc.stderr else ""
    for child in children:
        assert (
            not Path(f"/proc/{child}").exists()
            or "Z" in Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        )
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


@pytest.mark.parametrize(
    ("value", "workers"), [(None, 1), ("", 1), ("1", 1), ("2", 2), ("0", None), ("x", None)]
)
def test_workers_setting(value: str | None, workers: int | None) -> None:
    from ltv.errors import UsageError

    env = {} if value is None else {"LTV_WORKERS": value}
    if workers is None:
        with pytest.raises(UsageError, match="LTV_WORKERS"):
            Config.from_env(env)
    else:
        assert Config.from_env(env).workers == workers
