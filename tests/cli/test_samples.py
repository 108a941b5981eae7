"""The committed sample PDFs get exactly the verdicts samples/README.md promises.

One offline ``ltv verify`` process over all of them (as a user would run it), JSON Lines out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from samples import pki
from samples.make_samples import SAMPLES, SAMPLES_DIR

ROOT = Path(__file__).resolve().parents[2]


def test_committed_samples_get_their_stated_verdicts() -> None:
    files = [str(SAMPLES_DIR / s.name) for s in SAMPLES]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ltv",
            "verify",
            *files,
            "--trust",
            str(pki.cert_path("root")),
            "--tsa-trust",
            str(pki.cert_path("tsa-root")),
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["file"]["path"]).name for r in reports] == [s.name for s in SAMPLES]
    for sample, report in zip(SAMPLES, reports, strict=True):
        (sig,) = [s for s in report["signatures"] if s["kind"] == "signature"]
        got = (report["indication"], sig["subindication"], sig["level"])
        assert got == (sample.indication, sample.subindication, sample.level), sample.name
        assert report["network"]["requests"] == 0
    # worst first: a TOTAL-FAILED sample is among them
    assert result.returncode == 1
