"""``ltv verify`` with many files, as people expect — and the CLI details that go with it.

Reports stream as each file is done (proved with a FIFO that blocks the third file), a totals
line follows, a progress bar shows on a terminal (a pty) and not in a pipe, Ctrl-C keeps what is
done, a missing path or a directory is a usage error naming it, ``--output`` does not overwrite
without ``--force``; help shows choices, usage errors are one line, shell completion works,
``inspect`` takes several files and names a PKCS#12; text is not wrapped when piped; start-up
imports neither aiohttp nor pyHanko's signing API, with the same verdicts.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ltv.cli import app
from tests.unit.pipeline import fixtures as fx

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"


def trust_args() -> list[str]:
    from samples import pki

    return ["--trust", str(pki.cert_path("root")), "--tsa-trust", str(pki.cert_path("tsa-root"))]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LTV_DEBUG", "COLUMNS")}
    env.update(extra)
    return env


def ltv(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ltv", *args],
        cwd=REPO,
        env=kwargs.pop("env", _env()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def _readline(stream: Any, seconds: float) -> str:
    ready, _, _ = select.select([stream], [], [], seconds)
    assert ready, "no output in time"
    return str(stream.readline())


def _release_reader(fifo: Path, proc: subprocess.Popen[str]) -> None:
    """Open the FIFO's writing end so that a reader blocked in open() returns and sees the
    interrupt — without blocking ourselves when ltv saw it before it reached the FIFO (then
    there is no reader, and a blocking open would wait forever)."""
    import errno

    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as err:
            if err.errno != errno.ENXIO:  # ENXIO: no reader (yet)
                raise
            time.sleep(0.05)
            continue
        os.close(fd)
        return


@pytest.mark.parametrize("to_file", [False, True])
def test_reports_stream_and_ctrl_c_keeps_what_is_done(tmp_path: Path, to_file: bool) -> None:
    """The third 'file' is a FIFO nobody writes to: the first two reports must be out while
    ltv waits for it; then Ctrl-C: they are kept, and ltv says so."""
    fifo = tmp_path / "third.pdf"
    os.mkfifo(fifo)
    out = tmp_path / "out.jsonl"
    files = [str(SAMPLES / "good-b-lt.pdf"), str(SAMPLES / "tampered-after-signing.pdf"), str(fifo)]
    extra = ["--output", str(out)] if to_file else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltv", "verify", *files, *trust_args(), "--format", "json", *extra],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if to_file:  # the reports are written to the temporary file as they come
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                tmp = [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.")]
                if tmp and tmp[0].read_text().count("\n") == 2:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the first two reports were not written while waiting")
        else:
            first = json.loads(_readline(proc.stdout, 90))
            second = json.loads(_readline(proc.stdout, 90))
            assert [first["file"]["path"], second["file"]["path"]] == files[:2]
        assert proc.poll() is None  # still waiting for the third file
        proc.send_signal(signal.SIGINT)
        _release_reader(fifo, proc)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted after 2 of 3 file(s)" in err and "Traceback" not in err
    assert "ltv: totals: 2 file(s): 1 TOTAL-PASSED, 1 TOTAL-FAILED" in err
    if to_file:
        docs = [json.loads(line) for line in out.read_text().splitlines()]
        assert [d["indication"] for d in docs] == ["TOTAL-PASSED", "TOTAL-FAILED"]
        assert rest == ""
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.")]
    else:
        assert rest == ""


def test_totals_line_text_on_stdout_json_on_stderr() -> None:
    files = [
        str(SAMPLES / n) for n in ("good-b-lta.pdf", "tampered-after-signing.pdf", "unsigned.pdf")
    ]
    text = ltv("verify", *files, *trust_args())
    assert text.returncode == 1
    last = text.stdout.strip().splitlines()[-1]
    assert last == (
        "totals: 3 file(s): 1 TOTAL-PASSED, 1 TOTAL-FAILED, 1 NO_SIGNATURE; "
        "LTV enabled: 2 of 2 signature(s) (exit 1)"
    )
    js = ltv("verify", *files, *trust_args(), "--format", "json")
    assert [json.loads(line)["indication"] for line in js.stdout.splitlines()] == [
        "TOTAL-PASSED",
        "TOTAL-FAILED",
        "NO_SIGNATURE",
    ]
    assert "ltv: totals: 3 file(s)" in js.stderr
    one = ltv("verify", files[0], *trust_args())
    assert "totals:" not in one.stdout + one.stderr  # one file: no totals


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    files = [
        str(SAMPLES / n) for n in ("good-b-lt.pdf", "good-b-lta.pdf", "unknown.pdf", "unsigned.pdf")
    ]
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltv", "verify", *files, *trust_args(), "--format", "json"],
        cwd=REPO,
        env=_env(TERM="xterm-256color", COLUMNS="120"),
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    seen = b""
    out, _ = proc.communicate(timeout=120)
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    screen = seen.decode("utf-8", "replace")
    assert "files/s" in screen and re.search(r"\d/4", screen), screen[-500:]
    assert len(out.splitlines()) == 4  # the reports themselves went to stdout, whole
    piped = ltv("verify", *files, *trust_args(), "--format", "json")
    assert "files/s" not in piped.stderr  # no terminal, no bar


def test_missing_path_or_directory_is_a_usage_error(tmp_path: Path) -> None:
    good = str(SAMPLES / "good-b-lt.pdf")
    missing = ltv("verify", good, str(tmp_path / "nope.pdf"), *trust_args())
    assert missing.returncode == 2 and missing.stdout == ""  # checked before any work
    assert missing.stderr.strip() == f"ltv: error: {tmp_path / 'nope.pdf'}: no such file"
    directory = ltv("verify", str(tmp_path), *trust_args())
    assert directory.returncode == 2
    (line,) = directory.stderr.strip().splitlines()
    assert f"{tmp_path} is a directory" in line and "ltv audit" in line


def test_output_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    out.write_text("previous")
    args = [str(SAMPLES / "good-b-lt.pdf"), *trust_args(), "--output", str(out)]
    refused = ltv("verify", *args)
    assert (
        refused.returncode == 2
        and "already exists" in refused.stderr
        and "--force" in refused.stderr
    )
    assert out.read_text() == "previous"
    replaced = ltv("verify", *args, "--force")
    assert replaced.returncode == 0
    assert replaced.stdout == "" and out.read_text().startswith("TOTAL-PASSED")


def test_help_shows_choices_not_type_names() -> None:
    for command in ([], ["verify"], ["audit"], ["inspect"]):
        result = ltv(*command, "--help", env=_env(COLUMNS="160"))
        assert result.returncode == 0
        for type_name in ("<list[str]>", "<str>", "<bool>", "<float>", "<int>", "<Path>"):
            assert type_name not in result.stdout, (command, type_name)
    verify_help = ltv("verify", "--help", env=_env(COLUMNS="160")).stdout
    assert "<never|fallback|always>" in verify_help and "<text|json>" in verify_help
    from ltv.cli._common import PRESET_NAMES
    from ltv.policy import PRESETS

    assert sorted(PRESET_NAMES) == sorted(PRESETS)
    assert "Policy TOML file, or a preset: default, fallback, online, strict" in verify_help


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "--bogus", "x.pdf"],
        ["verify"],
        ["verify", "samples/good-b-lt.pdf", "--format", "xml"],
        ["audit", "samples"],  # --db missing
        ["frobnicate"],
    ],
)
def test_usage_errors_are_one_line(args: list[str]) -> None:
    result = ltv(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ltv: error: "), result.stderr
    assert "--help" in lines[0]


def test_shell_completion(tmp_path: Path) -> None:
    words = ltv(env=_env(_LTV_COMPLETE="complete_bash", COMP_WORDS="ltv ver", COMP_CWORD="1"))
    assert "verify" in words.stdout.split()
    options = ltv(
        env=_env(_LTV_COMPLETE="complete_bash", COMP_WORDS="ltv verify --onl", COMP_CWORD="2")
    )
    assert "--online" in options.stdout.split()
    choices = ltv(
        env=_env(_LTV_COMPLETE="complete_bash", COMP_WORDS="ltv verify --online f", COMP_CWORD="3")
    )
    assert choices.stdout.split() == ["fallback"]
    script = ltv("--show-completion", "bash")
    assert script.returncode == 0 and "_LTV_COMPLETE" in script.stdout
    home = tmp_path / "home"
    home.mkdir()
    installed = ltv("--install-completion", "bash", env=_env(HOME=str(home), SHELL="/bin/bash"))
    assert installed.returncode == 0, installed.stderr
    written = [p for p in home.rglob("*") if p.is_file()]
    assert any("_LTV_COMPLETE" in p.read_text() for p in written), written


def test_inspect_several_files_and_a_pkcs12(tmp_path: Path) -> None:
    from samples import pki

    files = [str(SAMPLES / "good-b-lt.pdf"), str(pki.cert_path("root"))]
    text = ltv("inspect", *files)
    assert text.returncode == 0
    assert text.stdout.startswith("pdf ") and "\ncertificate " in text.stdout
    js = ltv("inspect", *files, "--format", "json")
    docs = [json.loads(line) for line in js.stdout.splitlines()]
    assert [d["type"] for d in docs] == ["pdf", "certificate"]
    p12 = ltv("inspect", str(pki.p12_path("signer-good")))
    assert p12.returncode == 4
    (line,) = p12.stderr.strip().splitlines()
    assert "a PKCS#12 key store" in line and "unrecognised" not in line and "--p12" in line
    mixed = ltv("inspect", str(pki.p12_path("signer-good")), str(pki.cert_path("root")))
    assert mixed.returncode == 4 and mixed.stdout.startswith("certificate ")


def test_text_is_not_wrapped_when_piped() -> None:
    result = ltv("verify", str(SAMPLES / "good-b-lt.pdf"), *trust_args(), env=_env(COLUMNS="80"))
    line = next(ln for ln in result.stdout.splitlines() if "timestamp: " in ln)
    assert line.endswith("(trusted=True, imprint=True, signature=True)") and len(line) > 100
    assert "    LTV enabled: yes (validation data in the file for every certificate)" in (
        result.stdout.splitlines()
    )
    inspected = ltv("inspect", str(SAMPLES / "good-b-lt.pdf"), env=_env(COLUMNS="80"))
    assert max(len(ln) for ln in inspected.stdout.splitlines()) > 120
    assert all(ln == ln.rstrip() for ln in inspected.stdout.splitlines())


def test_as_of_judges_as_if_now_were_then(tmp_path: Path) -> None:
    path = tmp_path / "short-b-lt.pdf"
    path.write_bytes(fx.get_longterm_fixtures()["short-b-lt"])
    runner = CliRunner()

    def verdict(as_of: str) -> tuple[int, dict[str, Any]]:
        result = runner.invoke(
            app, ["verify", str(path), *trust_args(), "--format", "json", "--as-of", as_of]
        )
        return result.exit_code, json.loads(result.stdout)

    code, before = verdict("2026-12-01T00:00:00Z")
    assert code == 0 and before["checked_at"] == "2026-12-01T00:00:00Z"
    assert before["signatures"][0]["ltv_enabled"] is True
    code, after = verdict("2027-06-01T00:00:00Z")  # tsa-short expired 2027-01-01
    assert code == 3 and after["indication"] == "INDETERMINATE"


_IMPORTS = """
import sys
sys.argv = ["ltv", "verify", "samples/good-b-lta.pdf", "--trust", "samples/pki/certs/root.cert.pem",
            "--tsa-trust", "samples/pki/certs/tsa-root.cert.pem", "--format", "json",
            "--as-of", "2026-12-01T00:00:00Z"]
from ltv.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
mods = {m.split(".")[0] for m in sys.modules} | set(sys.modules)
print(code, "aiohttp" in mods, "pyhanko.sign.signers" in mods, "ltv.cli.sign" in mods,
      "ltv.cli.probe" in mods, file=sys.stderr)
"""


def test_startup_imports_only_what_verify_needs_with_the_same_verdict() -> None:
    lazy = subprocess.run(
        [sys.executable, "-c", _IMPORTS], cwd=REPO, env=_env(), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    eager = subprocess.run(
        [sys.executable, "-c", _IMPORTS], cwd=REPO, env=_env(LTV_EAGER_IMPORTS="1"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert lazy.stderr.split()[-5:] == ["0", "False", "False", "False", "False"], lazy.stderr
    assert eager.stderr.split()[-5:-3] == ["0", "True"], eager.stderr
    assert lazy.stdout == eager.stdout and json.loads(lazy.stdout)["indication"] == "TOTAL-PASSED"


def test_deferred_pyhanko_sign_behaves_like_the_package() -> None:
    code = (
        "import sys\n"
        "from ltv._imports import defer_pyhanko_sign_init\n"
        "defer_pyhanko_sign_init()\n"
        "import pyhanko.sign.validation.pdf_embedded\n"
        "from pyhanko.sign import fields\n"
        "assert 'aiohttp' not in sys.modules and 'pyhanko.sign.signers' not in sys.modules\n"
        "import pyhanko.sign\n"
        "from pyhanko.sign import PdfSigner, signers\n"
        "assert PdfSigner is signers.PdfSigner is pyhanko.sign.PdfSigner\n"
        "assert pyhanko.sign.fields is fields and 'aiohttp' in sys.modules\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.stdout.strip() == "ok", result.stderr
