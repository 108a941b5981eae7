"""The network is an object handed to the Verifier, and the policy decides whether it is used.

Also runs the README's library example (sign, then verify) against the live sample PKI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ltv import (
    Online,
    PadesLevel,
    Signer,
    SigningPolicy,
    TrustStore,
    ValidationPolicy,
    Verifier,
)
from ltv.evidence.http import HttpClient
from samples import pki

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _policy(online: Online) -> ValidationPolicy:
    return ValidationPolicy(
        trust=TrustStore.from_file(pki.cert_path("root")),
        tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
        online=online,
    )


def test_network_is_used_only_when_the_policy_allows(pki_server: Any) -> None:
    """One transport object is handed in; each verification sees it through its own Session
    (own request record); under online=never it is not touched at all."""
    network = HttpClient(timeout=5.0, connect_to=pki_server.connect_to)
    b_b = (SAMPLES / "no-timestamp.pdf").read_bytes()  # B-B, no embedded evidence

    offline = Verifier(_policy(Online.NEVER), network=network).verify(b_b)
    assert network.exchanges == ()
    assert len(pki_server.log) == 0
    assert offline.indication.value == "INDETERMINATE"

    verifier = Verifier(_policy(Online.FALLBACK), network=network)
    online = verifier.verify(b_b)
    assert online.indication.value == "TOTAL-PASSED"
    assert online.network.requests == len(network.exchanges) == len(pki_server.log) > 0
    again = verifier.verify(b_b)  # the second report lists only its own requests
    assert again.network.requests == online.network.requests
    assert len(network.exchanges) == 2 * online.network.requests


def test_readme_library_example(pki_server: Any) -> None:
    network = HttpClient(connect_to=pki_server.connect_to)
    signer = Signer.from_pkcs12(
        pki.p12_path("signer-good"),
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel.B_LT, tsa_url=pki.TSA_URL),
        network=network,
        chain=[pki.cert_path("tsa-root")],
    )
    signed = signer.sign(
        (SAMPLES / "unsigned.pdf").read_bytes(), field="Approval", reason="Approved"
    )
    before = len(pki_server.log)  # from here on, only stapled evidence may count
    report = Verifier(_policy(Online.NEVER)).verify(signed)
    assert len(pki_server.log) == before
    assert report.indication.value == "TOTAL-PASSED"
    (sig,) = report.signatures
    assert sig.field == "Approval"
    assert sig.level is not None and sig.level.value == "B-LT"
    assert sig.chain[0].revocation.status == "good"
