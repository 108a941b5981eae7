"""Damaged real files never crash ltv: seeded mutations of a signed B-LTA sample.

Truncations, byte flips, deleted and duplicated ranges, a zeroed signature, a broken xref: what a
batch audit of a real archive meets. `ltv verify` must answer every file with one schema-valid JSON
line and an exit code from the contract, `ltv inspect` with a description or a one-line error —
never a traceback, never an internal error (exit 70), and a damaged signature never passes.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ltv.cli import app
from samples import pki
from tests.unit.pipeline import fixtures as fx

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "samples" / "good-b-lta.pdf"


def _mutants(data: bytes, count: int, seed: int = 20261128) -> dict[str, bytes]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not cryptography
    out: dict[str, bytes] = {
        "truncated-half": data[: len(data) // 2],
        "truncated-tail": data[:-7],
        "no-eof": data.replace(b"%%EOF", b"%%EOX"),
        "xref-broken": data.replace(b"startxref", b"startxrex"),
        "contents-zeroed": data.replace(b"/Contents <30", b"/Contents <00", 1),
    }
    for i in range(count):
        m = bytearray(data)
        match i % 3:
            case 0:  # flip a few bytes
                for _ in range(rng.randint(1, 4)):
                    m[rng.randrange(len(m))] ^= 1 << rng.randrange(8)
            case 1:  # delete a range
                a = rng.randrange(len(m))
                del m[a : a + rng.randint(1, 64)]
            case _:  # duplicate a range somewhere else
                a = rng.randrange(len(m))
                chunk = m[a : a + rng.randint(1, 64)]
                b = rng.randrange(len(m))
                m[b:b] = chunk
        out[f"mutant-{i:02d}"] = bytes(m)
    return {name: blob for name, blob in out.items() if blob != data}


@pytest.fixture(scope="module")
def mangled(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("mangled")
    paths = []
    for name, blob in _mutants(SOURCE.read_bytes(), 36).items():
        path = folder / f"{name}.pdf"
        path.write_bytes(blob)
        paths.append(path)
    return paths


def test_verify_answers_every_mangled_file(mangled: list[Path]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LTV_DEBUG"}
    result = subprocess.run(
        [
            sys.executable, "-m", "ltv", "verify", *map(str, mangled),
            "--trust", str(pki.cert_path("root")), "--tsa-trust", str(pki.cert_path("tsa-root")),
            "--format", "json",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode in {0, 1, 3, 4}, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["file"]["path"] for d in docs] == [str(p) for p in mangled]
    for doc in docs:
        fx.assert_schema(doc)
    for line in result.stderr.splitlines():
        assert line.startswith("ltv: ") and "internal error" not in line, line
    # a byte changed inside the signed range can never pass
    by_name = {Path(d["file"]["path"]).stem: d for d in docs}
    for name in ("truncated-half", "contents-zeroed"):
        assert by_name[name]["indication"] != "TOTAL-PASSED", name


def test_inspect_answers_every_mangled_file(mangled: list[Path]) -> None:
    runner = CliRunner()
    for path in mangled:
        result = runner.invoke(app, ["inspect", str(path), "--format", "json"])
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            path.name,
            repr(result.exception),
        )
        assert result.exit_code in {0, 4}, (path.name, result.output)
