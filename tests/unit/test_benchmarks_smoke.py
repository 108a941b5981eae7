"""The benchmark harness runs end to end on one round and writes well-formed output.

Nothing here looks at how fast anything is: performance lives in ``benchmarks/`` and is read by
people, side by side with pyHanko, never asserted (project rule). The harness runs in a child
process so that its logging settings and its PkiServer stay out of this test session.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@pytest.mark.timeout(180)
def test_harness_runs_one_round_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--rounds",
            "1",
            "--no-corpus",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for title in ("verify, offline", "sign, wall", "startup, fresh process"):
        assert title in proc.stdout

    data = json.loads(out.read_text())
    assert data["mode"] == "quick"
    assert set(data) >= {"environment", "verify", "sign", "startup", "elapsed_s"}

    cases = data["verify"]["cases"]
    assert [c["case"] for c in cases] == ["good-b-lt", "good-b-lta"]
    for case in cases:
        assert set(case["impls"]) == {"ltv", "ph-legacy", "ph-ades"}
        for figures in case["impls"].values():
            assert figures["n"] == 1
            assert _is_number(figures["median_ms"]) and _is_number(figures["p90_ms"])
            assert isinstance(figures["verdict"], str) and figures["verdict"]
        assert _is_number(case["ratio_ltv_ph-legacy"]) and _is_number(case["ratio_ltv_ph-ades"])

    levels = data["sign"]["levels"]
    assert [lv["level"] for lv in levels] == ["B-LT", "B-LTA"]
    for level in levels:
        assert set(level["impls"]) == {"ltv-warm", "ltv-cold", "pyhanko"}
        for figures in level["impls"].values():
            assert figures["n"] == 1 and _is_number(figures["median_ms"])
            assert _is_number(figures["work_median_ms"])
            assert figures["output_bytes"] > 0

    commands = data["startup"]["commands"]
    assert {c["command"] for c in commands} >= {"ltv --help", "import pyhanko.sign"}
    for command in commands:
        assert command["n"] == 1 and _is_number(command["median_ms"])
