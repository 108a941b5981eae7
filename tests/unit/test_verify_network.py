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
from ltv.evidence.http import HttpClient, Transport
from samples import pki

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _policy(online: Online) -> ValidationPolicy:
    return ValidationPolicy(
        trust=TrustStore.from_file(pki.cert_path("root")),
        tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
        online=online,
    )


def test_network_factory_is_used_only_when_the_policy_allows(pki_server: Any) -> None:
    made: list[HttpClient] = []

    def network() -> Transport:
        client = HttpClient(timeout=5.0, connect_to=pki_server.connect_to)
        made.append(client)
        return client

    b_b = (SAMPLES / "no-timestamp.pdf").read_bytes()  # B-B, no embedded evidence

    offline = Verifier(_policy(Online.NEVER), network=network).verify(b_b)
    assert made == []
    assert len(pki_server.log) == 0
    assert offline.indication.value == "INDETERMINATE"

    online = Verifier(_policy(Online.FALLBACK), network=network).verify(b_b)
    assert len(made) == 1
    assert online.indication.value == "TOTAL-PASSED"
    assert online.network.requests == len(made[0].exchanges) == len(pki_server.log) > 0


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
