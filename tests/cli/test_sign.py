"""``ltv sign`` / ``ltv extend`` through the real entry point (``ltv.cli.main``), in process.

Exit codes (DESIGN.md): 0 written, 2 usage, 4 input or evidence problem — one line on stderr,
never a traceback; OUT never exists after a failure; IN is never modified.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ltv.cli._common import parse_connect_to
from ltv.errors import UsageError
from samples import pki
from samples.make_samples import make_unsigned_pdf
from samples.pki.server import PkiServer
from tests.cli_in_process import run_cli as run

PASS_ENV = "LTV_TEST_P12_PASS"  # noqa: S105 - the *name* of an env var
TRUST = ["--trust", str(pki.ROOT_CERT), "--trust", str(pki.TSA_ROOT_CERT)]
"""What extend verifies against first."""


@pytest.fixture
def unsigned(tmp_path: Path) -> Path:
    path = tmp_path / "in.pdf"
    path.write_bytes(make_unsigned_pdf())
    return path


@pytest.fixture
def net(pki_server: PkiServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv(PASS_ENV, pki.P12_PASSPHRASE)
    args: list[str] = []
    for key, (addr, port) in pki_server.connect_to.items():
        args += ["--connect-to", f"{key}:{addr}:{port}"]
    return args


def p12(label: str = "signer-good") -> list[str]:
    return ["--p12", str(pki.p12_path(label)), "--passphrase-env", PASS_ENV]


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
def test_sign_each_level(
    capsys: pytest.CaptureFixture[str], unsigned: Path, net: list[str], level: str
) -> None:
    out = unsigned.with_name(f"out-{level}.pdf")
    before = hashlib.sha256(unsigned.read_bytes()).hexdigest()
    code, stdout, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", level, *p12(),
        "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT), "--reason", "test", *net,
    )  # fmt: skip
    assert code == 0, err
    assert f"signed {out} ({level}" in stdout
    assert out.read_bytes().startswith(unsigned.read_bytes())
    assert hashlib.sha256(unsigned.read_bytes()).hexdigest() == before


def test_sign_with_pem_key(capsys: pytest.CaptureFixture[str], unsigned: Path) -> None:
    out = unsigned.with_name("pem.pdf")
    code, _, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", "B-B",
        "--key", str(pki.SIGNER_GOOD_KEY), "--cert", str(pki.SIGNER_GOOD_CERT),
        "--chain", str(pki.INTERM_CERT),
    )  # fmt: skip
    assert code == 0, err
    assert out.exists()


@pytest.mark.parametrize(
    ("label", "needle"),
    [
        ("signer-revoked", "revoked (revoked at 2026-06-01T00:00:00Z, key_compromise)"),
        ("signer-unknown", "/ocsp/unknown: unknown"),
        ("signer-refused", "http://refused.ltv.test/ltv/ocsp/refused: offline (refused)"),
        ("signer-slow", "/ocsp/slow: offline (timeout)"),
    ],
)
def test_bad_evidence_exit_4_and_nothing_written(
    capsys: pytest.CaptureFixture[str],
    pki_server: PkiServer,
    unsigned: Path,
    net: list[str],
    label: str,
    needle: str,
) -> None:
    pki_server.slow_seconds = 5
    out = unsigned.with_name("out.pdf")
    code, stdout, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", "B-LT", *p12(label),
        "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT), "--timeout", "0.5", *net,
    )  # fmt: skip
    assert code == 4
    assert stdout == ""
    assert err.count("\n") == 1 and err.startswith("ltv: error: refusing to sign: signer")
    assert needle in err
    assert "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in unsigned.parent.iterdir()) == ["in.pdf"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--level", "B-T", *p12()], "--level B-T needs --tsa URL"),
        (["--level", "B-Q", *p12()], "--level 'B-Q'"),
        (["--level", "B-B"], "give --p12 FILE, or --key PEM and --cert PEM"),
        (["--level", "B-B", *p12(), "--key", "k.pem"], "either --p12 or --key/--cert"),
        (["--level", "B-B", *p12(), "--connect-to", "nonsense"], "HOST:PORT:ADDRESS:PORT"),
        (["--level", "B-B", "--p12", "x.p12", "--passphrase-env", "LTV_NOT_SET_X"], "not set"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str],
    unsigned: Path,
    extra: list[str],
    needle: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASS_ENV, pki.P12_PASSPHRASE)
    monkeypatch.delenv("LTV_NOT_SET_X", raising=False)
    out = unsigned.with_name("out.pdf")
    code, _, err = run(capsys, "sign", str(unsigned), str(out), *extra)
    assert code == 2, err
    assert needle in err
    assert not out.exists()


def test_output_equal_to_input_and_existing_output(
    capsys: pytest.CaptureFixture[str], unsigned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASS_ENV, pki.P12_PASSPHRASE)
    original = unsigned.read_bytes()
    code, _, err = run(capsys, "sign", str(unsigned), str(unsigned), "--level", "B-B", *p12())
    assert code == 2 and "is the input file" in err
    assert unsigned.read_bytes() == original

    other = unsigned.with_name("other.pdf")
    other.write_bytes(b"keep me")
    code, _, err = run(capsys, "sign", str(unsigned), str(other), "--level", "B-B", *p12())
    assert code == 2 and "--force" in err
    assert other.read_bytes() == b"keep me"
    code, _, err = run(
        capsys, "sign", str(unsigned), str(other), "--level", "B-B", *p12(), "--force"
    )
    assert code == 0, err
    assert other.read_bytes().startswith(original)


def test_input_problems_exit_4(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASS_ENV, "wrong")
    notpdf = tmp_path / "x.pdf"
    notpdf.write_bytes(b"hello")
    code, _, err = run(
        capsys, "sign", str(notpdf), str(tmp_path / "o.pdf"), "--level", "B-B", *p12()
    )
    assert code == 4 and "passphrase" in err
    monkeypatch.setenv(PASS_ENV, pki.P12_PASSPHRASE)
    code, _, err = run(
        capsys, "sign", str(notpdf), str(tmp_path / "o.pdf"), "--level", "B-B", *p12()
    )
    assert code == 4 and "not a PDF" in err
    code, _, err = run(
        capsys, "sign", str(tmp_path / "missing.pdf"), str(tmp_path / "o.pdf"), "--level", "B-B",
        *p12(),
    )  # fmt: skip
    assert code == 4 and "does not exist" in err
    assert not (tmp_path / "o.pdf").exists()


def test_passphrase_prompt_when_no_env(
    capsys: pytest.CaptureFixture[str], unsigned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    asked: list[str] = []

    def fake_prompt(text: str, **kw: object) -> str:
        asked.append(text)
        assert kw.get("hide_input") is True
        return pki.P12_PASSPHRASE

    monkeypatch.setattr(typer, "prompt", fake_prompt)
    out = unsigned.with_name("prompted.pdf")
    code, _, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", "B-B", "--p12", str(pki.SIGNER_GOOD_P12)
    )
    assert code == 0, err
    assert asked and "Passphrase" in asked[0]


def test_extend_twice(capsys: pytest.CaptureFixture[str], unsigned: Path, net: list[str]) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    lta = unsigned.with_name("lta.pdf")
    code, _, err = run(
        capsys, "sign", str(unsigned), str(lta), "--level", "B-LTA", *p12(),
        "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT), *net,
    )  # fmt: skip
    assert code == 0, err
    ext1, ext2 = unsigned.with_name("ext1.pdf"), unsigned.with_name("ext2.pdf")
    for src, dst in ((lta, ext1), (ext1, ext2)):
        original = src.read_bytes()
        code, stdout, err = run(
            capsys, "extend", str(src), str(dst), "--tsa", pki.TSA_URL, *TRUST, *net,
        )  # fmt: skip
        assert code == 0, err
        assert stdout.startswith(f"extended {dst}")
        assert src.read_bytes() == original  # the input is never modified
        assert dst.read_bytes().startswith(original)

    def doc_ts(path: Path) -> int:
        with path.open("rb") as fh:
            return len(PdfFileReader(fh).embedded_timestamp_signatures)

    assert (doc_ts(lta), doc_ts(ext1), doc_ts(ext2)) == (1, 2, 3)


def test_extend_refuses_b_b(
    capsys: pytest.CaptureFixture[str], unsigned: Path, net: list[str]
) -> None:
    bb = unsigned.with_name("bb.pdf")
    assert run(capsys, "sign", str(unsigned), str(bb), "--level", "B-B", *p12())[0] == 0
    out = unsigned.with_name("x.pdf")
    code, _, err = run(capsys, "extend", str(bb), str(out), "--tsa", pki.TSA_URL, *TRUST, *net)
    assert code == 4 and "no DSS" in err
    assert not out.exists()


def test_parse_connect_to() -> None:
    assert parse_connect_to(["pki.ltv.test:80:127.0.0.1:5555", "[::1]:443:[::1]:8443"]) == {
        "pki.ltv.test:80": ("127.0.0.1", 5555),
        "::1:443": ("::1", 8443),
    }
    with pytest.raises(UsageError):
        parse_connect_to(["a:b:c:d"])


def test_help_lists_both_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ltv", "--help"], capture_output=True, text=True, check=True
    )
    assert "sign" in result.stdout and "extend" in result.stdout


# -- stderr stays clean: pyHanko's log records (some with tracebacks) only with --verbose -------


def _sloppy_xref_pdf(path: Path) -> Path:
    """The unsigned sample with object 1's xref offset one byte early (on the newline before
    ``1 0 obj``): readable, but pyHanko's strict reader logs 'Superfluous whitespace'."""
    data = make_unsigned_pdf()
    offset = data.index(b"\n1 0 obj") + 1
    entry = b"%010d 00000 n" % offset
    assert entry in data
    path.write_bytes(data.replace(entry, b"%010d 00000 n" % (offset - 1), 1))
    return path


def _ltv(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``ltv ARGS`` in a fresh interpreter (pytest's own log handlers would hide leaks)."""
    code = f"{prelude}\nimport sys\nsys.argv = ['ltv', *{list(args)!r}]\nimport ltv.__main__\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def _pem_b_b(src: Path, out: Path) -> list[str]:
    return [
        "sign", str(src), str(out), "--level", "B-B",
        "--key", str(pki.SIGNER_GOOD_KEY), "--cert", str(pki.SIGNER_GOOD_CERT),
        "--chain", str(pki.INTERM_CERT),
    ]  # fmt: skip


def test_pyhanko_warnings_stay_off_stderr_unless_verbose(tmp_path: Path) -> None:
    src = _sloppy_xref_pdf(tmp_path / "sloppy.pdf")
    quiet = _ltv(*_pem_b_b(src, tmp_path / "quiet.pdf"))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    loud = _ltv(*_pem_b_b(src, tmp_path / "loud.pdf"), "--verbose")
    assert loud.returncode == 0, loud.stderr
    assert "ltv: log: pyhanko.pdf_utils.xref: WARNING: Superfluous whitespace" in loud.stderr


# pyHanko logs failures it handles with `logger.warning(..., exc_info=True)`; make one happen
# in the middle of a signing run (from a pyHanko logger, while pyHanko is at work).
_LOG_WITH_TRACEBACK = """
import logging
import pyhanko.sign.signers.pdf_signer as pdf_signer
_real = pdf_signer.PdfSigner.init_signing_session
def _noisy(self, *args, **kwargs):
    try:
        raise ValueError("simulated failure pyHanko recovered from")
    except ValueError:
        logging.getLogger("pyhanko.sign.validation").warning("handled", exc_info=True)
    return _real(self, *args, **kwargs)
pdf_signer.PdfSigner.init_signing_session = _noisy
"""


def test_no_traceback_on_stderr_from_pyhanko_logs(tmp_path: Path) -> None:
    src = tmp_path / "in.pdf"
    src.write_bytes(make_unsigned_pdf())
    quiet = _ltv(*_pem_b_b(src, tmp_path / "quiet.pdf"), prelude=_LOG_WITH_TRACEBACK)
    assert quiet.returncode == 0, quiet.stderr
    assert "Traceback" not in quiet.stderr
    assert quiet.stderr == ""
    loud = _ltv(*_pem_b_b(src, tmp_path / "loud.pdf"), "--verbose", prelude=_LOG_WITH_TRACEBACK)
    assert loud.returncode == 0, loud.stderr
    assert "ltv: log: pyhanko.sign.validation: WARNING: handled" in loud.stderr
    assert "Traceback" in loud.stderr and "simulated failure" in loud.stderr


def test_extend_has_verbose_too() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ltv", "extend", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert "--verbose" in result.stdout


# -- caIssuers (RFC 5280 §4.2.2.1): no --chain needed for the TSA -------------------------------


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_sign_without_chain_fetches_the_tsa_ca_from_ca_issuers(
    capsys: pytest.CaptureFixture[str],
    pki_server: PkiServer,
    unsigned: Path,
    net: list[str],
    level: str,
) -> None:
    out = unsigned.with_name(f"no-chain-{level}.pdf")
    code, stdout, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", level, *p12(),
        "--tsa", pki.TSA_URL, *net,
    )  # fmt: skip
    assert code == 0, err
    assert f"signed {out} ({level}" in stdout
    gets = pki_server.log.matching(method="GET", path_prefix="/ltv/certs/")
    assert [(e.path, e.host, e.status) for e in gets] == [
        ("/ltv/certs/tsa-root/ca.crt", "pki.ltv.test", 200)
    ]
    # and the result renews without --chain as well (the DSS now holds tsa-root)
    renewed = unsigned.with_name(f"renewed-{level}.pdf")
    code, _, err = run(capsys, "extend", str(out), str(renewed), "--tsa", pki.TSA_URL, *TRUST, *net)
    assert code == 0, err
    assert len(pki_server.log.matching(method="GET", path_prefix="/ltv/certs/")) == 1


def test_explicit_chain_wins_and_makes_no_ca_issuers_fetch(
    capsys: pytest.CaptureFixture[str], pki_server: PkiServer, unsigned: Path, net: list[str]
) -> None:
    out = unsigned.with_name("with-chain.pdf")
    code, _, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", "B-LTA", *p12(),
        "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT), *net,
    )  # fmt: skip
    assert code == 0, err
    assert pki_server.log.matching(path_prefix="/ltv/certs/") == []
    assert pki_server.log.matching(method="POST", path_prefix="/ltv/tsa/")  # it did sign online


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        (f"{pki.URL_PREFIX}/ltv/certs/missing/ca.crt", "http-404"),
        (pki.CRL_INTERM_URL, "not a certificate or a PKCS#7 certs-only bundle"),
        (pki.INTERM_CERT_URL, "did not issue it"),
    ],
    ids=["404", "garbage", "wrong-issuer"],
)
def test_unusable_ca_issuers_is_one_line_naming_the_url(
    capsys: pytest.CaptureFixture[str],
    pki_server: PkiServer,
    unsigned: Path,
    net: list[str],
    url: str,
    needle: str,
) -> None:
    from asn1crypto import pem

    from tests.unit.test_sign import ad_hoc_leaf

    # a leaf issued by a CA named like interm but with another key: whatever is fetched, the
    # signature check decides
    _, leaf, key_pem = ad_hoc_leaf("interm", url)
    key, cert = unsigned.with_name("leaf.key.pem"), unsigned.with_name("leaf.cert.pem")
    key.write_bytes(key_pem)
    cert.write_bytes(pem.armor("CERTIFICATE", leaf.dump()))
    out = unsigned.with_name("out.pdf")
    code, stdout, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", "B-LT",
        "--key", str(key), "--cert", str(cert), "--tsa", pki.TSA_URL, *net,
    )  # fmt: skip
    assert code == 4
    assert stdout == ""
    assert err.count("\n") == 1, err
    assert err.startswith(
        "ltv: error: cannot complete the chain of signer certificate 'CN=Ad-hoc Leaf': "
        "its issuer 'CN=ltv Sample Intermediate CA,O=ltv sample PKI,C=ZZ' is not available "
        f"(caIssuers {url}: "
    )
    assert needle in err
    assert not out.exists()
    gets = pki_server.log.matching(method="GET")
    assert [(e.path, e.host) for e in gets] == [(url.removeprefix(pki.URL_PREFIX), "pki.ltv.test")]


def test_sign_at_a_given_time(
    capsys: pytest.CaptureFixture[str], pki_server: PkiServer, unsigned: Path, net: list[str]
) -> None:
    """``--at`` is the claimed signing time (/M) and the moment the evidence is judged at."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    pki_server.freeze(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    out = unsigned.with_name("at.pdf")
    code, _, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", "B-LT", *p12(),
        "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT), *net,
        "--at", "2026-03-01T12:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    with out.open("rb") as fh:
        reader = PdfFileReader(fh)
        sig = reader.embedded_signatures[0]
        assert sig.sig_object["/M"] == "D:20260301120000Z"
        # the document information is dated --at too (pyHanko would read the local clock) ...
        assert reader.trailer["/Info"]["/ModDate"] == "D:20260301120000Z"
        xmp = reader.root["/Metadata"].data
        assert b'xmp:ModifyDate="2026-03-01T12:00:00+00:00"' in xmp, xmp
        # ... and written by the signature's revision only: the DSS revision after it leaves
        # /Info and the XMP stream alone
        assert reader.xrefs.total_revisions == 3
        signed_revision = reader.get_historical_resolver(1)
        assert reader.trailer.raw_get("/Info") == signed_revision.trailer_view.raw_get("/Info")
        assert reader.root.raw_get("/Metadata") == signed_revision.root.raw_get("/Metadata")
        changed = {ref.idnum for ref in reader.xrefs.explicit_refs_in_revision(2)}
        assert reader.trailer.raw_get("/Info").idnum not in changed
        assert reader.root.raw_get("/Metadata").idnum not in changed
    # a year on, the PKI's answers (still dated 2026-03-01) are stale: refused
    code, _, err = run(
        capsys, "sign", str(unsigned), str(out), "--level", "B-LT", *p12(),
        "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT), *net,
        "--at", "2027-03-01T12:00:00+00:00", "--force",
    )  # fmt: skip
    assert code == 4 and "offline (expired)" in err and "refusing to sign" in err
    code, _, err = run(capsys, "sign", str(unsigned), str(out), "--level", "B-B", *p12(),
                       "--at", "2026-03-01T12:00:00", "--force")  # fmt: skip
    assert code == 2 and "needs a UTC offset" in err
