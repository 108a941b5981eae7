"""Trust files people already have: PEM, DER, PKCS#7 bundles; errors that name the file."""

from __future__ import annotations

from pathlib import Path

import asn1crypto.tsp  # noqa: F401 - before any ContentType is made (see tlgen)
import pytest
from asn1crypto import cms, pem, x509

import samples.pki as pki
from ltv.errors import TrustError
from ltv.trust import TrustStore, load_certificates


def _der(label: str) -> bytes:
    return bytes(pem.unarmor(pki.cert_path(label).read_bytes())[2])


def p7(*labels: str) -> bytes:
    """A certs-only PKCS#7 SignedData (what .p7b/.p7c files hold)."""
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data"},
            "certificates": [x509.Certificate.load(_der(lb)) for lb in labels],
            "signer_infos": [],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def test_every_container_gives_the_same_certificates(tmp_path: Path) -> None:
    root, tsa_root = _der("root"), _der("tsa-root")
    both = [root, tsa_root]
    files = {
        "a.pem": pki.cert_path("root").read_bytes() + pki.cert_path("tsa-root").read_bytes(),
        "b.der": root,
        "c.p7c": p7("root", "tsa-root"),
        "d.p7b": pem.armor("PKCS7", p7("root", "tsa-root")),
        "e.crt": b"junk before\n" + pki.cert_path("tsa-root").read_bytes(),
    }
    expected = {"a.pem": both, "b.der": [root], "c.p7c": both, "d.p7b": both, "e.crt": [tsa_root]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        assert load_certificates(data, name) == expected[name], name
    # a directory of them (PKCS#7 suffixes included), duplicates counted once
    assert set(TrustStore.from_dir(tmp_path).certificates) == {root, tsa_root}


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "x.pem",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "x.pem: holds no certificate (only: private key)",
        ),
        ("x.pem", b"", "x.pem: empty file, holds no certificate"),
        ("x.pem", b"hello, not a certificate", "x.pem: not an X.509 certificate"),
        ("x.p7c", p7(), "x.p7c: PKCS#7 bundle holds no certificate"),
        (
            "tl.xml",
            b'<?xml version="1.0"?>\n<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#"/>',
            "tl.xml: a trusted list (ETSI TS 119 612), not a certificate",
        ),
    ],
)
def test_errors_name_the_file(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(TrustError) as err:
        TrustStore.from_paths([path])
    assert err.value.message.startswith(f"{path}: {message.split(': ', 1)[1]}")
    assert err.value.exit_code == 2


def test_a_trusted_list_given_as_trust_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "tl.xml"
    path.write_bytes(b"<TrustServiceStatusList/>")
    with pytest.raises(TrustError) as err:
        TrustStore.from_paths([path])
    assert "--trust-store" in err.value.diagnostics()
