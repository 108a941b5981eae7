"""I/O failures are the environment's, not bugs (issue 7, finding 6): a read-only output
directory, the file-size limit (``ulimit -f``) and a full disk make ``verify --output`` and
``inspect`` print one line naming the path and exit 4 — never exit 70, never a traceback, never
a partial or temporary file left behind. Real faults, no mocks: the child runs as an
unprivileged user, under RLIMIT_FSIZE, or writes to a tiny tmpfs."""

from __future__ import annotations

import contextlib
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from samples import pki

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _ltv(
    *args: str, preexec: Callable[[], None] | None = None, stdout: object = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ltv", *args],
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=preexec,
        check=False,
    )


def _one_error_line(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 4, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ltv: error: cannot write "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


def _verify_args(out: Path, copies: int = 1) -> list[str]:
    files = [str(SAMPLES / "good-b-lta.pdf")] * copies
    return [
        "verify",
        *files,
        "--trust",
        str(pki.cert_path("root")),
        "--tsa-trust",
        str(pki.cert_path("tsa-root")),
        "--format",
        "json",
        "--output",
        str(out),
    ]


@contextlib.contextmanager
def _tmpfs(*options: str) -> Iterator[Path]:
    """A small tmpfs (real ENOSPC / EROFS); skipped where mounting is not allowed."""
    mount = Path(tempfile.mkdtemp(prefix="ltv-io-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        for option in options:
            subprocess.run(["mount", "-o", f"remount,{option}", str(mount)], check=True)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


@pytest.fixture
def full_disk() -> Iterator[Path]:
    with _tmpfs() as mount:
        yield mount


@pytest.fixture
def read_only_dir() -> Iterator[Path]:
    with _tmpfs("ro") as mount:
        yield mount


def test_verify_output_into_a_read_only_directory(read_only_dir: Path) -> None:
    out = read_only_dir / "report.json"
    proc = _ltv(*_verify_args(out))
    _one_error_line(proc, str(out), "Read-only file system")
    assert list(read_only_dir.iterdir()) == []


def _fsize_limit(limit: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_verify_output_over_the_file_size_limit(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = _ltv(*_verify_args(out), preexec=_fsize_limit(1024))
    _one_error_line(proc, str(out), "File too large")
    assert list(tmp_path.iterdir()) == []  # no partial report, no temporary file


def test_inspect_output_over_the_file_size_limit(tmp_path: Path) -> None:
    target = tmp_path / "inspect.txt"
    with target.open("w") as fh:
        proc = _ltv(
            "inspect", str(SAMPLES / "good-b-lta.pdf"), "--format", "json",
            preexec=_fsize_limit(1024), stdout=fh,
        )  # fmt: skip
    _one_error_line(proc, "standard output", "File too large")


def test_verify_output_on_a_full_disk(full_disk: Path) -> None:
    out = full_disk / "report.json"
    proc = _ltv(*_verify_args(out, copies=12))
    _one_error_line(proc, str(out), "No space left on device")
    assert list(full_disk.iterdir()) == []


def test_inspect_output_on_a_full_disk(full_disk: Path) -> None:
    with (full_disk / "inspect.json").open("w") as fh:
        proc = _ltv("inspect", str(SAMPLES / "good-b-lta.pdf"), "--format", "json", stdout=fh)
    _one_error_line(proc, "standard output", "No space left on device")
