"""``ltv verify`` end to end through the typer app: exit codes, JSON Lines, --output, errors."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ltv.cli import app
from tests.unit.pipeline import fixtures as fx

NOW_ARGS = ["--at", "2026-11-28T10:00:00Z"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    d = tmp_path_factory.mktemp("pdfs")
    out = {}
    for name, data in fx.get_fixtures().items():
        (d / f"{name}.pdf").write_bytes(data)
        out[name] = d / f"{name}.pdf"
    (d / "corrupt.pdf").write_bytes(b"%PDF-1.7\n garbage \x00\x01")
    out["corrupt"] = d / "corrupt.pdf"
    return out


def trust_args() -> list[str]:
    import samples.pki as pki

    return ["--trust", str(pki.cert_path("root")), "--tsa-trust", str(pki.cert_path("tsa-root"))]


class _Result:
    """CliRunner result with the exit code ltv's ``main`` gives an LtvError (one boundary)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        from ltv.errors import LtvError

        self.inner = inner
        self.stdout: str = inner.stdout
        self.stderr: str = inner.stderr
        self.output: str = inner.output
        exc = inner.exception
        if isinstance(exc, LtvError):
            self.exit_code = exc.exit_code
        elif exc is not None and not isinstance(exc, SystemExit):
            raise exc
        else:
            self.exit_code = inner.exit_code


def run(*args: str) -> _Result:
    return _Result(CliRunner().invoke(app, ["verify", *args]))


def jsonl(text: str) -> list[dict]:  # type: ignore[type-arg]
    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    for doc in docs:
        fx.assert_schema(doc)
    return docs


@pytest.mark.parametrize(
    ("name", "code", "indication"),
    [
        ("good-b-lt", 0, "TOTAL-PASSED"),
        ("good-b-lta", 0, "TOTAL-PASSED"),
        ("revoked-before-ts", 1, "TOTAL-FAILED"),
        ("tampered", 1, "TOTAL-FAILED"),
        ("unknown", 3, "INDETERMINATE"),
        ("expired-no-ts", 3, "INDETERMINATE"),
        ("unsigned", 4, "NO_SIGNATURE"),
    ],
)
def test_exit_codes_and_json(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, name: str, code: int, indication: str
) -> None:
    fx.SocketGuard(monkeypatch)
    result = run(str(files[name]), *trust_args(), "--format", "json")
    assert result.exit_code == code, result.output
    (doc,) = jsonl(result.stdout)
    assert doc["indication"] == indication
    assert doc["network"] == {"requests": 0, "urls": []}
    assert doc["policy"] == {"name": "default", "online": "never"}


def test_several_files_json_lines_worst_exit(files: dict[str, Path]) -> None:
    result = run(
        str(files["good-b-lt"]),
        str(files["corrupt"]),
        str(files["revoked-before-ts"]),
        *trust_args(),
        "--format",
        "json",
    )
    assert result.exit_code == 1
    docs = jsonl(result.stdout)
    assert [d["indication"] for d in docs] == ["TOTAL-PASSED", "NO_SIGNATURE", "TOTAL-FAILED"]
    assert "Traceback" not in result.output


def test_corrupt_file_one_line_exit_4(files: dict[str, Path]) -> None:
    result = run(str(files["corrupt"]), *trust_args())
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    err_lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1 and "corrupt.pdf" in err_lines[0]


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    # audit (issue 9): a missing path is a usage error naming it (exit 2), no longer exit 4
    result = run(str(tmp_path / "nope.pdf"), *trust_args())
    assert result.exit_code == 2


def test_text_output_verdict_first(files: dict[str, Path]) -> None:
    result = run(str(files["revoked-after-ts"]), *trust_args())
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("TOTAL-PASSED")
    assert "validation time: 2026-03-01T12:00:00Z (signature-timestamp)" in result.stdout
    assert "[signer]" in result.stdout and "revoked at 2026-06-01T00:00:00Z" in result.stdout


def test_output_file_atomic(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.jsonl"
    result = run(str(files["good-b-lt"]), *trust_args(), "--format", "json", "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    (doc,) = jsonl(out.read_text())
    assert doc["indication"] == "TOTAL-PASSED"
    assert not list(tmp_path.glob(".*tmp"))


def test_output_may_not_be_an_input(files: dict[str, Path]) -> None:
    result = run(str(files["good-b-lt"]), *trust_args(), "--output", str(files["good-b-lt"]))
    assert result.exit_code == 2


def test_no_trust_is_usage_error(files: dict[str, Path]) -> None:
    result = run(str(files["good-b-lt"]))
    assert result.exit_code == 2


def test_empty_trust_dir_is_usage_error(files: dict[str, Path], tmp_path: Path) -> None:
    result = run(str(files["good-b-lt"]), "--trust", str(tmp_path))
    assert result.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--online", "sometimes"],
        ["--at", "yesterday"],
        ["--at", "2026-01-01T00:00:00"],
        ["--format", "xml"],
    ],
)
def test_bad_options_exit_2(files: dict[str, Path], args: list[str]) -> None:
    result = run(str(files["good-b-lt"]), *trust_args(), *args)
    assert result.exit_code == 2


def test_bad_policy_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    p = tmp_path / "p.toml"
    p.write_text('online = "never"\nfrobnicate = true\n')
    result = run(str(files["good-b-lt"]), *trust_args(), "--policy", str(p))
    assert result.exit_code == 2


def test_policy_file_and_at(files: dict[str, Path]) -> None:
    policy = Path(__file__).parents[2] / "samples" / "policies" / "strict.toml"
    result = run(
        str(files["good-b-lt"]),
        *trust_args(),
        "--policy",
        str(policy),
        "--format",
        "json",
        *NOW_ARGS,
    )
    (doc,) = jsonl(result.stdout)
    # strict: TSA chain revocation is required, and stapled TSA evidence is old by now
    assert doc["policy"]["name"] == "strict"
    assert result.exit_code == 3


def test_policy_preset_by_name(files: dict[str, Path]) -> None:
    base = [str(files["good-b-lt"]), *trust_args(), "--format", "json", *NOW_ARGS]
    strict = run(*base, "--policy", "strict")
    assert jsonl(strict.stdout)[0]["policy"]["name"] == "strict"
    assert strict.exit_code == 3  # same verdict as the strict.toml sample
    default = run(*base)
    assert jsonl(default.stdout)[0]["policy"]["name"] == "default"
    assert default.exit_code == 0
    unknown = run(*base, "--policy", "no-such-preset-or-file")
    assert unknown.exit_code == 2


def test_online_fallback_with_connect_to(files: dict[str, Path], pki_server) -> None:  # type: ignore[no-untyped-def]
    connect = [f"{k}:{v[0]}:{v[1]}" for k, v in pki_server.connect_to.items()]
    args = [a for c in connect for a in ("--connect-to", c)]
    result = run(
        str(files["good-b-t"]),
        *trust_args(),
        "--online",
        "fallback",
        *args,
        "--timeout",
        "5",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    (doc,) = jsonl(result.stdout)
    assert doc["network"]["requests"] >= 2
    assert doc["policy"]["online"] == "fallback"


# -- the real process: no traceback ever, on the samples and on the whole corpus ---------------

REPO = Path(__file__).parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


def _ltv_verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LTV_DEBUG"}
    return subprocess.run(  # our own interpreter and module
        [sys.executable, "-m", "ltv", "verify", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _assert_clean_batch(files: list[str], *trust: str) -> list[dict]:  # type: ignore[type-arg]
    result = _ltv_verify(*files, *trust, "--format", "json")
    assert "Traceback" not in result.stdout and "Traceback" not in result.stderr, result.stderr
    assert result.returncode in {0, 1, 3, 4}, result.stderr
    docs = jsonl(result.stdout)  # every line validates against the schema
    assert [d["file"]["path"] for d in docs] == files
    for line in result.stderr.splitlines():
        assert line.startswith("ltv: "), line  # one line per unreadable file, nothing else
    return docs


def test_process_samples_no_traceback() -> None:
    import samples.pki as pki

    pdfs = sorted(str(p.relative_to(REPO)) for p in (REPO / "samples").glob("*.pdf"))
    assert pdfs
    trust = ("--trust", str(pki.cert_path("root")), "--tsa-trust", str(pki.cert_path("tsa-root")))
    docs = _assert_clean_batch(pdfs, *trust)
    assert all(d["network"] == {"requests": 0, "urls": []} for d in docs)


@pytest.mark.skipif(not (CORPUS / "manifest.json").is_file(), reason="corpus absent")
def test_process_corpus_no_traceback() -> None:
    pdfs = sorted(str(p) for p in CORPUS.glob("*/*.pdf"))
    docs = _assert_clean_batch(pdfs, "--trust", str(CORPUS / "trust"))
    for doc in docs:
        if "/attacks/" in doc["file"]["path"]:
            assert doc["indication"] != "TOTAL-PASSED", doc["file"]["path"]


def test_process_verbose_shows_library_logs() -> None:
    """--verbose routes pyHanko's records (tracebacks included) to stderr; without it the
    batch tests above see nothing but ltv's one-line messages."""
    import samples.pki as pki

    loud = _ltv_verify(
        "samples/expired-without-evidence.pdf", "--trust", str(pki.cert_path("root")), "--verbose"
    )
    assert loud.returncode == 3  # expired signer, no POE inside its validity
    assert "ltv: log: pyhanko" in loud.stderr


def test_tsa_anchors_never_stand_in_for_signer_anchors(files: dict[str, Path]) -> None:
    """Issue 8: `--tsa-trust ROOT` without `--trust` used to validate the *signer* against the
    TSA anchors and say TOTAL-PASSED (even with the signer's own root given as TSA anchor).
    Signer anchors come only from --trust: exit 2 with the hint, nothing verified."""
    import samples.pki as pki

    for tsa_root in ("tsa-root", "root"):
        r = run(str(files["good-b-lt"]), "--tsa-trust", str(pki.cert_path(tsa_root)), *NOW_ARGS)
        assert r.exit_code == 2, r.output
        assert "no trust anchors given" in str(r.inner.exception)
        assert "TOTAL-PASSED" not in r.output


def test_tsa_anchors_default_to_the_signer_anchors(files: dict[str, Path]) -> None:
    """The other direction is allowed: without --tsa-trust, TSA chains use the --trust anchors
    (here the signer root does not vouch for the sample TSA, so the timestamp is untrusted;
    with the TSA root among the --trust anchors it is trusted)."""
    import samples.pki as pki

    root, tsa_root = str(pki.cert_path("root")), str(pki.cert_path("tsa-root"))
    only_signer = run(str(files["good-b-lt"]), "--trust", root, "--format", "json", *NOW_ARGS)
    (doc,) = jsonl(only_signer.stdout)
    assert doc["signatures"][0]["timestamp"]["trusted"] is False
    both = run(
        str(files["good-b-lt"]),
        "--trust",
        root,
        "--trust",
        tsa_root,
        "--format",
        "json",
        *NOW_ARGS,
    )
    (doc,) = jsonl(both.stdout)
    assert both.exit_code == 0 and doc["signatures"][0]["timestamp"]["trusted"] is True
