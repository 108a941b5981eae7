"""Signing against misbehaving services, bounded networks and failing disks (issues 7 and 10).

Responders and TSAs misbehave through :class:`Proxy`, a real loopback HTTP/1.1 server (keep-alive
capable) in front of the sample PKI that rewrites chosen answers; disks fail for real (a full or
read-only tmpfs when root may mount one, ``ulimit -f`` in a child process). Every failure must be
one line on stderr with exit 4 — never 70 — and leave no output and no temporary file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ltv.errors import SigningError
from ltv.evidence.http import HttpClient
from ltv.sign import PadesLevel, Signer, SigningPolicy
from samples import pki
from samples.make_samples import make_unsigned_pdf
from samples.pki.server import PkiServer
from tests.cli_in_process import run_cli

UNSIGNED = make_unsigned_pdf()
PASS_ENV = "LTV_TEST_P12_PASS"  # noqa: S105 - the *name* of an env var

Rule = Callable[[bytes], tuple[int, str, bytes]]
"""Upstream body -> (status, content type, body) to send instead."""


class Proxy:
    """A loopback HTTP/1.1 server forwarding to the PKI, with per-path-prefix rewrites.

    It keeps connections alive (unlike the PKI's werkzeug), counts the TCP connections it
    accepted and logs every request.
    """

    def __init__(self, upstream: PkiServer, rules: dict[str, Rule] | None = None) -> None:
        self.upstream_port = upstream.port
        self.rules = rules or {}
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                with proxy._lock:
                    proxy.connections += 1
                super().setup()

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.requests.append((self.command, self.path))
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                status, ctype, data = resp.status, resp.getheader("Content-Type", ""), resp.read()
                conn.close()
                for prefix, rule in proxy.rules.items():
                    if self.path.startswith(prefix):
                        status, ctype, data = rule(data)
                        break
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _forward
            do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def connect_to(self) -> dict[str, tuple[str, int]]:
        return {f"{pki.HOST}:80": ("127.0.0.1", self.port)}

    def cli_args(self) -> list[str]:
        return ["--connect-to", f"{pki.HOST}:80:127.0.0.1:{self.port}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(pki_server: PkiServer) -> Iterator[Proxy]:
    p = Proxy(pki_server)
    yield p
    p.close()


def sign_args(src: Path, out: Path, level: str, label: str = "signer-good") -> list[str]:
    return [
        "sign", str(src), str(out), "--level", level,
        "--p12", str(pki.p12_path(label)), "--passphrase-env", PASS_ENV,
        "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT),
    ]  # fmt: skip


@pytest.fixture
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASS_ENV, pki.P12_PASSPHRASE)
    path = tmp_path / "in.pdf"
    path.write_bytes(UNSIGNED)
    return path


# -- the TSA client ----------------------------------------------------------------------------


def test_tsa_connections_are_reused_and_no_size_estimating_call(
    pki_server: PkiServer, proxy: Proxy
) -> None:
    client = HttpClient(connect_to=proxy.connect_to, keep_alive=True)
    signer = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12,
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel.B_T, tsa_url=pki.TSA_URL),
        network=client,
    )
    for _ in range(4):
        signer.sign(UNSIGNED)
    # one TSA request per signature (no dummy token first), all on one connection
    assert [p for _, p in proxy.requests] == ["/ltv/tsa/tsa"] * 4
    assert proxy.connections == 1
    assert client.connections_opened == 1
    # without keep-alive: one connection per request
    plain = HttpClient(connect_to=proxy.connect_to)
    signer = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12,
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel.B_T, tsa_url=pki.TSA_URL),
        network=plain,
    )
    signer.sign(UNSIGNED)
    signer.sign(UNSIGNED)
    assert plain.connections_opened == 2


def test_tsa_timeout_is_a_one_line_refusal(pki_server: PkiServer) -> None:
    pki_server.latency["tsa"] = 3.0
    client = HttpClient(connect_to=pki_server.connect_to, timeout=0.5, retries=0)
    signer = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12,
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel.B_T, tsa_url=pki.TSA_URL),
        network=client,
    )
    started = time.monotonic()
    with pytest.raises(SigningError, match=r"time-stamping authority .*: offline \(timeout\)"):
        signer.sign(UNSIGNED)
    assert time.monotonic() - started < 2.5


def _rewrite_gen_time(body: bytes) -> tuple[int, str, bytes]:
    """The TSA's answer with one digit of genTime changed (the TSA's signature stays)."""
    at = body.index(b"\x18")  # the first GeneralizedTime: the TSTInfo's genTime
    while not body[at + 2 : at + 6].isdigit():
        at = body.index(b"\x18", at + 1)
    year = body[at + 2 : at + 6]
    forged = body[: at + 2] + str(int(year) - 1).encode() + body[at + 6 :]
    return 200, "application/timestamp-reply", forged


def _rejection(_body: bytes) -> tuple[int, str, bytes]:
    from asn1crypto import tsp

    status = tsp.PKIStatusInfo({"status": "rejection", "status_string": ["busy"]}).dump()
    return 200, "application/timestamp-reply", b"\x30" + bytes([len(status)]) + status


def _garbage(ctype: str) -> Rule:
    return lambda _body: (200, ctype, b"\x30\x82\xff\xff garbage")


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        (_rewrite_gen_time, "returned a token that does not verify: the TSTInfo was changed"),
        (_rejection, "refused our request"),
        (_garbage("application/timestamp-reply"), "sent a malformed response"),
        (_garbage("text/html"), "answered text/html, not application/timestamp-reply"),
    ],
    ids=["forged-genTime", "rejection", "garbage", "wrong-type"],
)
def test_bad_tsa_answers_exit_4_one_line(
    capsys: pytest.CaptureFixture[str],
    pki_server: PkiServer,
    src: Path,
    rule: Rule,
    needle: str,
) -> None:
    proxy = Proxy(pki_server, {"/ltv/tsa/": rule})
    try:
        out = src.with_name("out.pdf")
        code, stdout, err = run_cli(capsys, *sign_args(src, out, "B-LT"), *proxy.cli_args())
    finally:
        proxy.close()
    assert code == 4, err
    assert stdout == "" and err.count("\n") == 1
    assert err.startswith(f"ltv: error: refusing to sign: time-stamping authority {pki.TSA_URL}")
    assert needle in err
    assert sorted(p.name for p in src.parent.iterdir()) == ["in.pdf"]


# -- malformed evidence is offline evidence, never an internal error ----------------------------


def _unknown_response_status(_body: bytes) -> tuple[int, str, bytes]:
    return 200, "application/ocsp-response", bytes.fromhex("3003 0a01 07".replace(" ", ""))


def _crl_with_duplicate_extension(body: bytes) -> tuple[int, str, bytes]:
    from asn1crypto import crl

    parsed = crl.CertificateList.load(body)
    tbs = parsed["tbs_cert_list"]
    exts = list(tbs["crl_extensions"])
    tbs["crl_extensions"] = [*exts, exts[0]]
    return 200, "application/pkix-crl", parsed.dump(force=True)


def _crl_with_invalid_version(body: bytes) -> tuple[int, str, bytes]:
    assert b"\x02\x01\x01" in body[:16]  # TBSCertList version v2, the first field
    return 200, "application/pkix-crl", body.replace(b"\x02\x01\x01", b"\x02\x01\x07", 1)


@pytest.mark.parametrize(
    "crl_rule", [_crl_with_duplicate_extension, _crl_with_invalid_version], ids=["dup", "version"]
)
def test_malformed_ocsp_and_crl_from_responders_are_offline_exit_4(
    capsys: pytest.CaptureFixture[str], pki_server: PkiServer, src: Path, crl_rule: Rule
) -> None:
    proxy = Proxy(
        pki_server,
        {"/ltv/ocsp/interm": _unknown_response_status, "/ltv/crls/interm/": crl_rule},
    )
    try:
        out = src.with_name("out.pdf")
        code, _, err = run_cli(capsys, *sign_args(src, out, "B-LT"), *proxy.cli_args())
    finally:
        proxy.close()
    assert code == 4, err
    assert err.count("\n") == 1 and "internal error" not in err
    assert err.startswith("ltv: error: refusing to sign: signer certificate 'CN=Signer Good")
    assert f"OCSP {pki.SIGNER_OCSP_URL['signer-good']}: offline (" in err
    assert f"CRL {pki.SIGNER_CRL_URL['signer-good']}: offline (" in err
    assert not out.exists()
    # and the same objects pass through fine when the responders behave
    code, _, err = run_cli(capsys, *sign_args(src, out, "B-LT"), *Proxy_args(pki_server))
    assert code == 0, err


def Proxy_args(server: PkiServer) -> list[str]:
    return [a for k, (h, p) in server.connect_to.items() for a in ("--connect-to", f"{k}:{h}:{p}")]


# -- the per-document network budget -----------------------------------------------------------


def test_network_budget_bounds_the_whole_signature(
    capsys: pytest.CaptureFixture[str], pki_server: PkiServer, src: Path
) -> None:
    pki_server.slow_seconds = 20
    out = src.with_name("out.pdf")
    started = time.monotonic()
    code, _, err = run_cli(
        capsys, *sign_args(src, out, "B-LT", "signer-slow"), *Proxy_args(pki_server),
        "--timeout", "10", "--network-budget", "1.5",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert code == 4 and err.count("\n") == 1, err
    assert "offline (timeout)" in err or "budget-exhausted" in err
    assert elapsed < 5, elapsed  # per-request --timeout 10 alone would allow 10 s and more
    assert not out.exists()


def test_network_budget_option_is_checked(capsys: pytest.CaptureFixture[str], src: Path) -> None:
    out = src.with_name("out.pdf")
    code, _, err = run_cli(capsys, *sign_args(src, out, "B-B"), "--network-budget", "0")
    assert code == 2 and "--network-budget must be positive" in err


# -- output: checked before the network, failures are exit 4 and leave nothing ----------------


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a tmpfs with the given options (root only; skip otherwise)."""
    mounts: list[Path] = []

    def mount(options: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("needs root to mount a tmpfs")
        where = tmp_path / f"mnt{len(mounts)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_read_only_output_directory_fails_before_any_request(
    capsys: pytest.CaptureFixture[str],
    pki_server: PkiServer,
    src: Path,
    mounted: Callable[[str], Path],
) -> None:
    ro = mounted("ro,size=1m")
    out = ro / "out.pdf"
    code, stdout, err = run_cli(capsys, *sign_args(src, out, "B-LTA"), *Proxy_args(pki_server))
    assert code == 4 and stdout == "" and err.count("\n") == 1, err
    assert err.startswith(f"ltv: error: cannot write {str(ro)!r}: read-only file system")
    assert len(pki_server.log) == 0  # no OCSP, no TSA: the directory was checked first
    assert list(ro.iterdir()) == []


def test_full_disk_is_exit_4_and_leaves_no_temp_file(
    capsys: pytest.CaptureFixture[str],
    pki_server: PkiServer,
    src: Path,
    mounted: Callable[[str], Path],
) -> None:
    full = mounted("size=8k")
    out = full / "out.pdf"
    code, stdout, err = run_cli(capsys, *sign_args(src, out, "B-LT"), *Proxy_args(pki_server))
    assert code == 4 and stdout == "" and err.count("\n") == 1, err
    assert err.startswith(f"ltv: error: cannot write {str(out)!r}: no space left on the device")
    assert list(full.iterdir()) == []
    assert src.read_bytes() == UNSIGNED


def test_file_size_limit_is_exit_4_and_leaves_no_partial_file(tmp_path: Path) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(UNSIGNED)
    out = tmp_path / "out.pdf"
    limit = len(UNSIGNED) + 2000  # the copy of the input fits, the signature does not

    def ulimit_f() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "ltv", "sign", str(src), str(out), "--level", "B-B",
         "--key", str(pki.SIGNER_GOOD_KEY), "--cert", str(pki.SIGNER_GOOD_CERT)],
        capture_output=True, text=True, preexec_fn=ulimit_f, timeout=120, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"ltv: error: cannot write {str(out)!r}: file too large")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf"]


def test_streamed_output_is_what_the_bytes_api_produces(
    pki_server: PkiServer, tmp_path: Path
) -> None:
    """sign_to (streaming, atomic) and sign (bytes) produce equivalent, valid files."""
    from ltv.policy import ValidationPolicy
    from ltv.trust import TrustStore
    from ltv.verify import Verifier

    client = HttpClient(connect_to=pki_server.connect_to)
    signer = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12,
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel.B_LTA, tsa_url=pki.TSA_URL),
        network=client,
        chain=[pki.TSA_ROOT_CERT],
    )
    src = tmp_path / "in.pdf"
    src.write_bytes(UNSIGNED)
    result = signer.sign_to(src, tmp_path / "out.pdf")
    data = (tmp_path / "out.pdf").read_bytes()
    assert result.size == len(data) and data.startswith(UNSIGNED)
    assert sorted(u.split("/")[4] for u in result.requests) == ["ocsp"] * 3 + ["tsa", "tsa"]
    with (tmp_path / "out2.pdf").open("w+b") as fh:
        signer.sign_to(UNSIGNED, fh)
    policy = ValidationPolicy(
        trust=TrustStore.from_file(pki.ROOT_CERT), tsa_trust=TrustStore.from_file(pki.TSA_ROOT_CERT)
    )
    for blob in (data, (tmp_path / "out2.pdf").read_bytes(), signer.sign(src)):
        report = Verifier(policy).verify(blob, now=datetime.now(UTC))
        assert str(report.indication) == "TOTAL-PASSED", report.signatures[0].reasons
        assert [str(s.level) for s in report.signatures] == ["B-LTA", "None"]
    assert hashlib.sha256(src.read_bytes()).digest() == hashlib.sha256(UNSIGNED).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf", "out.pdf", "out2.pdf"]


def test_killed_midway_leaves_nothing(pki_server: PkiServer, tmp_path: Path) -> None:
    """``kill -9`` while the TSA is being asked: no output, no temporary file (O_TMPFILE)."""
    import signal

    pki_server.latency["tsa"] = 30.0
    src = tmp_path / "in.pdf"
    src.write_bytes(UNSIGNED)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltv", *sign_args(src, out_dir / "out.pdf", "B-LT"),
         *Proxy_args(pki_server), "--timeout", "60", "--network-budget", "60"],
        env={**os.environ, PASS_ENV: pki.P12_PASSPHRASE},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not pki_server.log.matching(path_prefix="/ltv/ocsp/") and time.monotonic() < deadline:
        time.sleep(0.05)  # the OCSP answers are in: the TSA request comes next
    time.sleep(1.0)
    assert proc.poll() is None, "ltv finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert list(out_dir.iterdir()) == []
    assert src.read_bytes() == UNSIGNED


def test_sync_calls_inside_a_running_loop_are_a_usage_error() -> None:
    import asyncio

    from ltv.errors import UsageError
    from ltv.extend import Extender

    signer = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12, pki.P12_PASSPHRASE, policy=SigningPolicy(level=PadesLevel.B_B)
    )
    extender = Extender(tsa_url=pki.TSA_URL, trust=[pki.ROOT_CERT])

    async def server_handler() -> list[str]:
        messages = []
        for call in (
            lambda: signer.sign(UNSIGNED),
            lambda: signer.sign_to(UNSIGNED, "never.pdf"),
            lambda: extender.extend(UNSIGNED),
        ):
            with pytest.raises(UsageError) as info:
                call()
            messages.append(info.value.diagnostics())
        signed = await signer.asign(UNSIGNED)  # the async twin works there
        assert signed.startswith(UNSIGNED)
        return messages

    messages = asyncio.run(server_handler())
    assert messages[0] == (
        "sign() called inside a running event loop (hint: await asign() instead)"
    )
    assert "await asign_to()" in messages[1] and "await aextend()" in messages[2]
    assert not Path("never.pdf").exists()
