"""``make demo``: the main job, end to end, on the bundled sample PKI.

1. start the sample PKI (OCSP, CRL, TSA) on a free loopback port;
2. ``ltv sign`` samples/unsigned.pdf at PAdES B-LTA through the real CLI, which staples checked OCSP
   evidence for the signer, the intermediate CA and both TSA chains into the DSS (the TSA's CA
   certificate, which the RFC 3161 tokens do not carry, is fetched from the caIssuers URL in the
   TSA certificate, RFC 5280 §4.2.2.1, so no ``--chain`` is needed);
3. stop the PKI — from here on no responder exists, as decades from now;
4. ``ltv verify`` the result offline (the default ``--online never``) and show the report,
   then the same report as JSON.

Outputs go to ``out/`` (git-ignored). The demo exits with ``ltv verify``'s exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from samples import pki
from samples.pki.server import PkiServer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"


def _ltv(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"\n$ ltv {shown}", flush=True)
    result = subprocess.run(
        [sys.executable, "-m", "ltv", *args],
        env=env,
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=False,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    print(f"(exit {result.returncode})", flush=True)
    return result


def main() -> int:
    OUT.mkdir(exist_ok=True)
    signed = OUT / "demo-b-lta.pdf"
    root = pki.cert_path("root")
    tsa_root = pki.cert_path("tsa-root")

    with PkiServer(port=0) as server:
        print(f"sample PKI serving on 127.0.0.1:{server.port} as {pki.HOST}", flush=True)
        env = {**os.environ, "LTV_DEMO_P12_PASS": pki.P12_PASSPHRASE}
        signing = _ltv(
            "sign",
            str(ROOT / "samples" / "unsigned.pdf"),
            str(signed),
            "--level",
            "B-LTA",
            "--p12",
            str(pki.p12_path("signer-good")),
            "--passphrase-env",
            "LTV_DEMO_P12_PASS",
            "--tsa",
            pki.TSA_URL,
            "--reason",
            "ltv demo",
            "--connect-to",
            f"{pki.HOST}:80:127.0.0.1:{server.port}",
            "--force",
            env=env,
        )
        if signing.returncode != 0:
            return signing.returncode
        requests = server.log.snapshot()
        print(f"the PKI answered {len(requests)} requests while signing:")
        for entry in requests:
            print(f"  {entry.method:4} {entry.status} Host={entry.host} {entry.path[:72]}")
    print("\nsample PKI stopped: verification below uses only the evidence stapled in the PDF.")

    common = ["--trust", str(root), "--tsa-trust", str(tsa_root)]
    _ltv("inspect", str(signed))
    verdict = _ltv("verify", str(signed), *common)
    _ltv("verify", str(signed), *common, "--format", "json", "--output", str(OUT / "demo.json"))
    print(f"\nJSON report written to {OUT / 'demo.json'}")
    return verdict.returncode


if __name__ == "__main__":
    sys.exit(main())
