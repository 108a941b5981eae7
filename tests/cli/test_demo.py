"""`make demo` is the first thing a new user runs: it must work, offline after signing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_signs_then_verifies_offline() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "samples.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    # signing went through the PKI by GET (OCSP, small and nonce-free) and POST (TSA) ...
    assert "GET  200 Host=pki.ltv.test /ltv/ocsp/" in out
    assert "POST 200 Host=pki.ltv.test /ltv/tsa/" in out
    # ... and the TSA's CA certificate came from the caIssuers URL (no --chain given)
    assert "GET  200 Host=pki.ltv.test /ltv/certs/tsa-root/ca.crt" in out
    # ... and verification happened after the PKI stopped, with no request at all.
    assert out.index("sample PKI stopped") < out.index("$ ltv verify")
    report = json.loads((ROOT / "out" / "demo.json").read_text())
    assert report["indication"] == "TOTAL-PASSED"
    assert report["network"]["requests"] == 0
    (sig, doc_ts) = report["signatures"]
    assert sig["level"] == "B-LTA"
    assert sig["validation_time_source"] == "signature-timestamp"
    assert doc_ts["kind"] == "document-timestamp"
    statuses = {c["role"]: c["revocation"]["status"] for c in sig["chain"]}
    assert statuses["signer"] == "good"
