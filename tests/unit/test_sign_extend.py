"""``ltv extend``: verify first (refuse what fails), ``--add-evidence`` (LTV-enable a B-T made
elsewhere), ``--at``; through the real CLI entry point and the library."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ltv.errors import SigningError
from ltv.evidence.http import HttpClient
from ltv.extend import Extender
from ltv.policy import ValidationPolicy
from ltv.trust import TrustStore
from ltv.verify import Verifier
from samples import pki
from samples.make_samples import SAMPLES_DIR, make_unsigned_pdf
from samples.pki.server import PkiServer
from tests.cli_in_process import run_cli

UNSIGNED = make_unsigned_pdf()
TRUST = ["--trust", str(pki.ROOT_CERT), "--trust", str(pki.TSA_ROOT_CERT)]
POLICY = ValidationPolicy(
    trust=TrustStore.from_file(pki.ROOT_CERT), tsa_trust=TrustStore.from_file(pki.TSA_ROOT_CERT)
)


def net(server: PkiServer) -> list[str]:
    return [a for k, (h, p) in server.connect_to.items() for a in ("--connect-to", f"{k}:{h}:{p}")]


def pyhanko_b_t(server: PkiServer, label: str) -> bytes:
    """A PAdES B-T made by pyHanko's own signer and its own (aiohttp) TSA client."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers, timestamps
    from pyhanko.sign.fields import SigSeedSubFilter

    simple = signers.SimpleSigner.load(
        str(pki.key_path(label)),
        str(pki.cert_path(label)),
        ca_chain_files=[str(p) for p in pki.chain_paths(label)],
    )
    assert simple is not None
    meta = signers.PdfSignatureMetadata(
        field_name="Elsewhere", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    stamper = timestamps.HTTPTimeStamper(f"{server.base_url}/ltv/tsa/tsa")
    pdf_signer = signers.PdfSigner(meta, simple, timestamper=stamper)
    out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(UNSIGNED)))
    return bytes(out.getvalue())


@pytest.mark.parametrize(
    ("sample", "needle"),
    [
        ("tampered-after-signing.pdf", "is TOTAL-FAILED (HASH_FAILURE"),
        ("revoked-before-timestamp.pdf", "is TOTAL-FAILED (REVOKED"),
    ],
)
def test_extend_refuses_failing_documents_and_writes_nothing(
    capsys: pytest.CaptureFixture[str],
    pki_server: PkiServer,
    tmp_path: Path,
    sample: str,
    needle: str,
) -> None:
    src = tmp_path / sample
    src.write_bytes((SAMPLES_DIR / sample).read_bytes())
    out = tmp_path / "out.pdf"
    code, stdout, err = run_cli(
        capsys, "extend", str(src), str(out), "--tsa", pki.TSA_URL, *TRUST, *net(pki_server)
    )
    assert code == 4, err
    assert stdout == "" and err.count("\n") == 1
    assert err.startswith("ltv: error: refusing to extend: signature 'Signature1' ")
    assert needle in err and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [sample]
    assert len(pki_server.log) == 0  # verified first: nothing was asked of anyone
    # --force renews it anyway, and says so
    code, stdout, err = run_cli(
        capsys, "extend", str(src), str(out), "--tsa", pki.TSA_URL, *TRUST, *net(pki_server),
        "--force",
    )  # fmt: skip
    assert code == 0, err
    assert err.startswith("ltv: warning: --force: renewed although verification says")
    assert out.read_bytes().startswith(src.read_bytes())


def test_extend_needs_trust_unless_forced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes((SAMPLES_DIR / "good-b-lta.pdf").read_bytes())
    code, _, err = run_cli(capsys, "extend", str(src), str(tmp_path / "o.pdf"), "--tsa", "x")
    assert code == 2 and "needs trust anchors (--trust)" in err


def test_pyhanko_b_t_becomes_b_lta_with_add_evidence_and_verifies_offline(
    capsys: pytest.CaptureFixture[str], pki_server: PkiServer, tmp_path: Path
) -> None:
    src = tmp_path / "b-t.pdf"
    src.write_bytes(pyhanko_b_t(pki_server, "signer-good"))
    before = Verifier(POLICY).verify(src.read_bytes(), now=datetime.now(UTC))
    assert [str(s.level) for s in before.signatures] == ["B-T"]
    out = tmp_path / "b-lta.pdf"
    # without --add-evidence: not B-LT, say what to do
    code, _, err = run_cli(
        capsys, "extend", str(src), str(out), "--tsa", pki.TSA_URL, *TRUST, *net(pki_server)
    )
    assert code == 4 and "no DSS" in err and "--add-evidence" in err
    pki_server.log.clear()
    code, stdout, err = run_cli(
        capsys, "extend", str(src), str(out), "--tsa", pki.TSA_URL, *TRUST, *net(pki_server),
        "--add-evidence",
    )  # fmt: skip
    assert code == 0, err
    assert "evidence added for Elsewhere" in stdout
    assert out.read_bytes().startswith(src.read_bytes())
    # what was fetched: OCSP for the signer, its CA, the TSA; the TSA twice: once to learn its
    # current certificate (a new process knows none of its tokens yet), once for the timestamp
    ocsp = sorted(e.path.split("/")[3] for e in pki_server.log.matching(path_prefix="/ltv/ocsp/"))
    assert ocsp == ["interm", "root", "tsa-root"]
    assert len(pki_server.log.matching(path_prefix="/ltv/tsa/")) == 2
    # offline: the policy's online=never gives the verifier NoNetwork (no socket at all)
    report = Verifier(POLICY).verify(out.read_bytes(), now=datetime.now(UTC))
    assert str(report.indication) == "TOTAL-PASSED", [s.reasons for s in report.signatures]
    assert [str(s.level) for s in report.signatures] == ["B-LTA", "None"]
    assert report.network.requests == 0


def test_add_evidence_refuses_a_revoked_signer(
    capsys: pytest.CaptureFixture[str], pki_server: PkiServer, tmp_path: Path
) -> None:
    src = tmp_path / "revoked-b-t.pdf"
    src.write_bytes(pyhanko_b_t(pki_server, "signer-revoked"))
    out = tmp_path / "out.pdf"
    code, stdout, err = run_cli(
        capsys, "extend", str(src), str(out), "--tsa", pki.TSA_URL, *TRUST, *net(pki_server),
        "--add-evidence",
    )  # fmt: skip
    assert code == 4 and stdout == "" and err.count("\n") == 1, err
    assert err.startswith("ltv: error: refusing to extend: signer certificate 'CN=Signer Revoked")
    assert "revoked (revoked at 2026-06-01T00:00:00Z, key_compromise)" in err
    assert not out.exists()


def test_extend_at_a_given_time(pki_server: PkiServer) -> None:
    """``at=`` is the time evidence is judged at and the document is verified at."""
    from ltv.sign import Signer, SigningPolicy

    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    pki_server.freeze(when)
    client = HttpClient(connect_to=pki_server.connect_to)
    signed = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12,
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level="B-LTA", tsa_url=pki.TSA_URL),  # type: ignore[arg-type]
        network=client,
        chain=[pki.TSA_ROOT_CERT],
        clock=lambda: when,
    ).sign(UNSIGNED)
    later = when + timedelta(days=30)
    pki_server.freeze(later)
    extender = Extender(
        tsa_url=pki.TSA_URL, trust=[pki.ROOT_CERT, pki.TSA_ROOT_CERT], network=client
    )
    result = extender.extend_to(signed, io.BytesIO(), at=later)
    assert result.extended_at == later
    assert result.verdict == "TOTAL-PASSED"
    # evidence from a PKI whose clock says a month earlier has lapsed at `at`: refused
    pki_server.freeze(when)
    with pytest.raises(SigningError, match=r"ocsp/tsa-root: offline \(expired\)"):
        extender.extend(signed, at=later)
