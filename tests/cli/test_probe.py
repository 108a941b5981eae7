"""``ltv probe`` end to end: the CLI against the loopback PKI, the history store, JSON schema,
HTML in headless Chromium, and ``--tls`` against Debian's ``openssl s_server -status_file``."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from ltv.cli import app
from ltv.evidence.http import HttpClient
from ltv.evidence.ocsp import build_ocsp_request
from samples import pki as sample
from samples.pki.server import PkiServer
from tests.browser import render
from tests.unit.probe.conftest import connect_to_args

REPO = Path(__file__).parents[2]
SCHEMA = json.loads((REPO / "schemas" / "probe.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
SAMPLE_PDF = REPO / "samples" / "good-b-lta.pdf"


@pytest.fixture(scope="module")
def server() -> Iterator[PkiServer]:
    with PkiServer(port=0, ipv6=True) as s:
        yield s


@pytest.fixture
def pki(server: PkiServer) -> Iterator[PkiServer]:
    server.reset()
    yield server
    server.reset()


def run(*args: str | Path) -> Any:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def run_json(*args: str | Path, code: int | None = 0) -> dict[str, Any]:
    result = run(*args, "--format", "json")
    if code is not None:
        assert result.exit_code == code, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    VALIDATOR.validate(doc)
    return doc


def test_from_pdf_probes_every_url_of_the_document(pki: PkiServer, tmp_path: Path) -> None:
    html = tmp_path / "probe.html"
    doc = run_json("probe", "--from", SAMPLE_PDF, "--html", html, *connect_to_args(pki), code=None)
    urls = {t["url"] for t in doc["targets"]}
    assert {sample.OCSP_INTERM_URL, sample.OCSP_ROOT_URL, sample.OCSP_TSA_ROOT_URL} <= urls
    assert {sample.CRL_INTERM_URL, sample.INTERM_CERT_URL, sample.TSA_ROOT_CERT_URL} <= urls
    assert all(t["verdict"] in ("up", "degraded") for t in doc["targets"]), doc["targets"]
    signer = next(t for t in doc["targets"] if t["url"] == sample.OCSP_INTERM_URL)
    assert signer["ocsp"]["status"] == "good"
    assert signer["subject"] == "CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ"
    assert {x["method"] for x in signer["latency"]} == {"GET", "POST"}
    # only the loopback PKI was asked, and only for what the document names
    assert {e.host for e in pki.log} <= {"pki.ltv.test", ""}
    assert html.is_file() and b"<svg" in html.read_bytes()
    assert SAMPLE_PDF.read_bytes()[:5] == b"%PDF-"  # input untouched (read only)


def test_text_table_and_sla_breach(pki: PkiServer) -> None:
    pki.latency["ocsp"] = 0.25
    result = run(
        "probe",
        sample.OCSP_INTERM_URL,
        "--cert",
        sample.SIGNER_GOOD_CERT,
        "--issuer",
        sample.INTERM_CERT,
        "--sla",
        "0.1",
        "--method",
        "post",
        *connect_to_args(pki),
    )
    assert result.exit_code == 1, result.output  # an SLA breach is worth an alert
    header = result.stdout.splitlines()[2]
    for column in ("RESPONDER", "METHOD", "MEDIAN ms", "P95 ms", "SIZE", "IPv6", "SLA"):
        assert column in header
    assert "BREACH" in result.stdout and "SLA breaches: " in result.stdout
    assert "GET" not in result.stdout.split("\n\n")[1]  # --method post: no GET row
    assert not pki.log.matching(method="GET")


def test_failures_and_local_problem_exit_codes(pki: PkiServer) -> None:
    doc = run_json(
        "probe",
        sample.OCSP_HTTP500_URL,
        sample.OCSP_GARBAGE_URL,
        sample.OCSP_REFUSED_URL,
        "--cert",
        sample.SIGNER_GOOD_CERT,
        "--issuer",
        sample.INTERM_CERT,
        *connect_to_args(pki),
        code=1,
    )
    failures = {t["url"]: set(t["failures"]) for t in doc["targets"]}
    assert failures == {
        sample.OCSP_HTTP500_URL: {"http-500"},
        sample.OCSP_GARBAGE_URL: {"malformed"},
        sample.OCSP_REFUSED_URL: {"refused"},
    }
    assert not doc["local_problem"]
    # every target unreachable at once: a local network problem, exit 3, not N outages
    port = pki.refused_port
    doc = run_json(
        "probe",
        "--from",
        SAMPLE_PDF,
        "--connect-to",
        f"pki.ltv.test:80:127.0.0.1:{port}",
        code=3,
    )
    assert doc["local_problem"] and doc["local_problem_rounds"] == [1]
    assert {t["verdict"] for t in doc["targets"]} == {"local-problem"}
    result = run("probe", "--from", SAMPLE_PDF, "--connect-to", f"pki.ltv.test:80:127.0.0.1:{port}")
    assert "LOCAL NETWORK PROBLEM" in result.stdout and "DOWN" not in result.stdout


def test_db_over_three_runs_and_report(pki: PkiServer, tmp_path: Path) -> None:
    db = tmp_path / "probe.sqlite"
    common = [
        sample.OCSP_INTERM_URL,
        sample.CRL_INTERM_URL,
        "--cert",
        sample.SIGNER_GOOD_CERT,
        "--issuer",
        sample.INTERM_CERT,
        "--method",
        "post",
        "--db",
        db,
    ]
    ipv4 = ["--connect-to", f"pki.ltv.test:80:127.0.0.1:{pki.port}"]
    assert run("probe", *common, *ipv4).exit_code == 0  # 1: all up
    broken = ["--connect-to", f"pki.ltv.test:80:127.0.0.1:{pki.refused_port}"]
    assert run("probe", *common, *broken).exit_code == 3  # 2: local problem
    pki.down.add("ocsp/interm")
    assert run("probe", *common, *ipv4).exit_code == 1  # 3: the OCSP responder is down
    doc = run_json("probe", "report", "--db", db)
    assert doc["runs"] == 3 and doc["rounds"] == 3 and doc["excluded_rounds"] == 1
    by_url = {r["url"]: r for r in doc["responders"]}
    ocsp, crl = by_url[sample.OCSP_INTERM_URL], by_url[sample.CRL_INTERM_URL]
    assert (ocsp["availability"], ocsp["requests"], ocsp["excluded"]) == (0.5, 2, 1)
    assert ocsp["failures"] == {"http-503": 1}
    assert (crl["availability"], crl["requests"], crl["excluded"]) == (1.0, 2, 1)
    # text and HTML of the same history
    html = tmp_path / "report.html"
    result = run("probe", "report", "--db", db, "--html", html)
    assert result.exit_code == 0 and "availability 50.0% (1/2)" in result.stdout
    assert "1 round(s) excluded" in result.stdout
    page = render(html)
    assert page.console_errors == [] and page.requests == []
    assert page.dom.count("<svg") == 2 and "50.0%" in page.dom
    # a period before everything: nothing
    empty = run_json("probe", "report", "--db", db, "--until", "2000-01-01T00:00:00Z")
    assert empty["responders"] == []


def test_probe_html_opens_in_chromium_without_errors(pki: PkiServer, tmp_path: Path) -> None:
    html = tmp_path / "probe.html"
    result = run(
        "probe",
        sample.OCSP_INTERM_URL,
        sample.OCSP_HTTP500_URL,
        "--cert",
        sample.SIGNER_GOOD_CERT,
        "--issuer",
        sample.INTERM_CERT,
        "--html",
        html,
        *connect_to_args(pki),
    )
    assert result.exit_code == 1
    page = render(html)
    assert page.console_errors == [], page.console_errors
    assert page.requests == []  # self-contained: nothing fetched
    assert page.dom.count("<svg") == 2
    assert "http-500" in page.dom and sample.OCSP_INTERM_URL in page.dom


def test_render_reports_console_errors(tmp_path: Path) -> None:
    """The helper itself: a broken page is caught (so an empty list above means something)."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); nope();</script>")
    page = render(bad)
    assert any("boom" in e for e in page.console_errors)
    assert any("nope" in e for e in page.console_errors)


def test_usage_and_input_errors(tmp_path: Path) -> None:
    cases = [
        (["probe", "http://x.test/ocsp", "--interval", "0.5"], 2, "--interval"),
        (["probe", "http://x.test/a.crl", "--method", "put"], 2, "--method"),
        (["probe", "ocsp=http://x.test/ocsp"], 2, "--cert"),
        (["probe", "ftp://x.test/a.crl"], 2, "not an http"),
        (["probe"], 2, "nothing to probe"),
        (["probe", "report"], 2, "--db"),
        (["probe", "--tls", "nohostport"], 2, "HOST:PORT"),
        (["probe", "--from", tmp_path / "missing.pdf"], 4, "cannot read"),
        (["probe", "report", "--db", tmp_path / "missing.sqlite"], 4, "no such probe database"),
    ]
    for args, code, fragment in cases:
        result = run(*args)
        assert result.exit_code == code, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("ltv: error: "), result.stderr
        assert fragment in lines[0], lines[0]
    # a database of something else is refused and left untouched
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    result = run("probe", "report", "--db", other)
    assert result.exit_code == 4 and "something else" in result.stderr
    result = run("probe", "http://x.test/a.crl", "--db", other)
    assert result.exit_code == 4 and other.read_bytes() == before


# -- --tls: stapling -------------------------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")


def _staple(server: PkiServer, label: str, at: datetime | None = None) -> bytes:
    server.freeze(at)
    try:
        cert, issuer = sample.load_cert(label), sample.load_cert("interm")
        return (
            HttpClient(connect_to=server.connect_to)
            .request(
                "POST",
                sample.OCSP_INTERM_URL,
                body=build_ocsp_request(cert, issuer),
                headers={"Content-Type": "application/ocsp-request"},
            )
            .body
        )
    finally:
        server.freeze(None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _s_server(tmp: Path, label: str, staple: bytes | None) -> tuple[subprocess.Popen[bytes], int]:
    chain = tmp / "chain.pem"
    chain.write_bytes(sample.INTERM_CERT.read_bytes())
    args = [
        "openssl", "s_server", "-quiet", "-naccept", "1",
        "-cert", str(sample.cert_path(label)), "-key", str(sample.key_path(label)),
        "-cert_chain", str(chain),
    ]  # fmt: skip
    if staple is not None:
        (tmp / "staple.der").write_bytes(staple)
        args += ["-status_file", str(tmp / "staple.der")]
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [*args, "-accept", f"127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            # that probe connection used up -naccept 1: start the real one
            proc.wait(timeout=5)
            proc = subprocess.Popen(
                [*args, "-accept", f"127.0.0.1:{port}"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.3)
            return proc, port
        proc.kill()
        proc.wait()
    raise RuntimeError("openssl s_server did not start")


@needs_openssl
@pytest.mark.parametrize(
    ("case", "label", "verdict", "status", "detail"),
    [
        ("good", "signer-good", "valid", "good", None),
        ("stale", "signer-good", "invalid", "offline", "expired"),
        ("other-certificate", "signer-good", "invalid", "offline", "no-matching-certid"),
        ("revoked", "signer-revoked", "revoked", "revoked", None),
        ("none", "signer-good", "no-staple", None, None),
    ],
)
def test_tls_stapling(
    pki: PkiServer,
    tmp_path: Path,
    case: str,
    label: str,
    verdict: str,
    status: str | None,
    detail: str | None,
) -> None:
    staple: bytes | None
    if case == "none":
        staple = None
    elif case == "stale":
        staple = _staple(pki, label, datetime.now(UTC) - timedelta(days=3))
    elif case == "other-certificate":
        staple = _staple(pki, "signer-expired")
    else:
        staple = _staple(pki, label)
    proc, port = _s_server(tmp_path, label, staple)
    try:
        result = run(
            "probe",
            "--tls",
            f"127.0.0.1:{port}",
            "--servername",
            "tls.ltv.test",
            "--format",
            "json",
        )
    finally:
        proc.kill()
        proc.wait(timeout=5)
    assert result.exit_code == (0 if verdict == "valid" else 1), result.output
    doc = json.loads(result.stdout)
    VALIDATOR.validate(doc)
    assert doc["verdict"] == verdict
    assert doc["stapled"] is (staple is not None)
    if staple is not None:
        assert doc["staple"]["status"] == status and doc["staple"]["detail"] == detail
        assert doc["staple"]["valid"] is (verdict == "valid")
        assert doc["staple"]["size"] == len(staple)
    # the chain the server sent: its certificate, then interm
    assert [c["subject"].split(",")[0] for c in doc["chain"]] == [
        sample.load_cert(label).subject.native["common_name"].join(["CN=", ""]),
        "CN=ltv Sample Intermediate CA",
    ]
    if case == "revoked":
        assert doc["staple"]["revoked_at"] == "2026-06-01T00:00:00Z"


def test_tls_connection_refused_is_an_input_error() -> None:
    port = _free_port()
    result = run("probe", "--tls", f"127.0.0.1:{port}", "--timeout", "2")
    assert result.exit_code == 4 and "refused" in result.stderr
