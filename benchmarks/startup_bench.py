"""CLI start-up: wall time of fresh processes, so import-time regressions are visible.

Commands (each a new interpreter from this venv, run interleaved):

* ``python -c pass``                 the interpreter alone (the floor)
* ``python -c "import pyhanko.sign"`` the incumbent's import cost (the reference)
* ``ltv --help``                      must stay lazy: no pyHanko
* ``ltv verify samples/good-b-lt.pdf --trust root --tsa-trust tsa-root`` one offline verification
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Samples,
    fmt_ms,
    fmt_ratio,
    interleaved_order,
    ratio,
    table,
    timed,
)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "import pyhanko.sign"


def commands() -> dict[str, list[str]]:
    from samples import pki

    python = sys.executable
    ltv = str(Path(sys.executable).with_name("ltv"))
    return {
        "python -c pass": [python, "-c", "pass"],
        REFERENCE: [python, "-c", "import pyhanko.sign"],
        "ltv --help": [ltv, "--help"],
        "ltv verify good-b-lt.pdf": [
            ltv,
            "verify",
            str(ROOT / "samples" / "good-b-lt.pdf"),
            "--trust",
            str(pki.CERTS_DIR / "root.cert.pem"),
            "--tsa-trust",
            str(pki.CERTS_DIR / "tsa-root.cert.pem"),
        ],
    }


def _run_once(cmd: list[str]) -> int:
    proc = subprocess.run(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return proc.returncode


def run(*, rounds: int, log: Any = None) -> dict[str, Any]:
    cmds = commands()
    names = list(cmds)
    exit_codes = {name: _run_once(cmd) for name, cmd in cmds.items()}  # warm the page cache
    samples = {name: Samples() for name in names}
    for r in range(rounds):
        for name in interleaved_order(names, r):
            seconds, code = timed(partial(_run_once, cmds[name]))
            samples[name].add(seconds)
            exit_codes[name] = max(exit_codes[name], code)
        if log is not None:
            log(f"startup: round {r + 1}/{rounds}")
    ref = samples[REFERENCE].median_ms
    rows = []
    for name in names:
        rv = ratio(samples[name].median_ms, ref)
        rows.append(
            {
                "command": name,
                **samples[name].summary(),
                "exit_code": exit_codes[name],
                "ratio_to_import_pyhanko_sign": None if rv is None else round(rv, 3),
            }
        )
    return {"rounds": rounds, "commands": rows}


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            row["command"],
            f"{fmt_ms(row['median_ms'])} / {fmt_ms(row['p90_ms'])}",
            fmt_ratio(row["ratio_to_import_pyhanko_sign"]),
            str(row["exit_code"]),
        ]
        for row in result["commands"]
    ]
    return table(
        ["command", "wall ms med/p90", f"/ {REFERENCE!r}", "exit"],
        rows,
        title=f"startup, fresh process each (median / p90 of {result['rounds']} interleaved runs)",
    )
