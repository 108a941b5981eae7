"""CLI start-up: wall time of fresh processes, so import-time regressions are visible.

Commands (each a new interpreter from this venv, run interleaved):

* ``python -c pass``                 the interpreter alone (the floor)
* ``python -c "import pyhanko.sign"`` the incumbent's import cost (the reference)
* ``ltv --help``                      must stay lazy: no pyHanko
* ``ltv verify samples/good-b-lt.pdf --trust root --tsa-trust tsa-root --as-of T`` one offline
  verification
* ``pyhanko sign adesverify --validation-time T --trust root --trust tsa-root --trust-replace
  samples/good-b-lt.pdf`` the same file through pyHanko's own CLI (package ``pyhanko-cli``), the
  one route of it that validates offline from the embedded evidence (TOOLCHAIN.md)

T is the file's newest timestamp + 1 minute for both. The two verifications run in a network
namespace of their own (``unshare -n``: no interface but a loopback that is down) when the
machine allows it, so that neither can send a packet anywhere — pyHanko's CLI has no switch
that forbids fetching. Where ``unshare -n`` is not available the pyHanko row is skipped (never
risk traffic off the machine). The ratio to watch: ``ltv verify`` / ``pyhanko adesverify``.
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
LTV_VERIFY = "ltv verify good-b-lt.pdf"
PYHANKO_VERIFY = "pyhanko sign adesverify good-b-lt.pdf"


def _isolated() -> list[str] | None:
    """``unshare -n`` when it works here (a process with no network at all), else None."""
    import shutil

    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    try:
        ok = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode
    except OSError:
        return None
    return [unshare, "-n"] if ok == 0 else None


def commands() -> dict[str, list[str]]:
    from benchmarks.verify_bench import _at
    from samples import pki

    python = sys.executable
    ltv = str(Path(sys.executable).with_name("ltv"))
    pyhanko = Path(sys.executable).with_name("pyhanko")
    sample = ROOT / "samples" / "good-b-lt.pdf"
    at = _at(sample.read_bytes()).isoformat().replace("+00:00", "Z")
    root, tsa_root = str(pki.CERTS_DIR / "root.cert.pem"), str(pki.CERTS_DIR / "tsa-root.cert.pem")
    jail = _isolated()
    out = {
        "python -c pass": [python, "-c", "pass"],
        REFERENCE: [python, "-c", "import pyhanko.sign"],
        "ltv --help": [ltv, "--help"],
        LTV_VERIFY: [
            *(jail or []),
            ltv,
            "verify",
            str(sample),
            "--trust",
            root,
            "--tsa-trust",
            tsa_root,
            "--as-of",
            at,
        ],
    }
    if jail is not None and pyhanko.is_file():
        out[PYHANKO_VERIFY] = [
            *jail,
            str(pyhanko),
            "sign",
            "adesverify",
            "--validation-time",
            at,
            "--trust",
            root,
            "--trust",
            tsa_root,
            "--trust-replace",
            str(sample),
        ]
    return out


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
    verify_ratio = None
    if PYHANKO_VERIFY in samples:
        verify_ratio = ratio(samples[LTV_VERIFY].median_ms, samples[PYHANKO_VERIFY].median_ms)
    return {
        "rounds": rounds,
        "commands": rows,
        "ratio_ltv_verify_to_pyhanko_adesverify": (
            None if verify_ratio is None else round(verify_ratio, 3)
        ),
        "isolated": PYHANKO_VERIFY in samples,
    }


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
    out = table(
        ["command", "wall ms med/p90", f"/ {REFERENCE!r}", "exit"],
        rows,
        title=f"startup, fresh process each (median / p90 of {result['rounds']} interleaved runs)",
    )
    verify_ratio = result.get("ratio_ltv_verify_to_pyhanko_adesverify")
    if verify_ratio is None:
        return out + "\n(pyhanko adesverify not run: no 'unshare -n' here, or no pyhanko-cli)"
    return (
        out + f"\nltv verify / pyhanko sign adesverify (same file, same time, no network): "
        f"{fmt_ratio(verify_ratio)} (target <= 1.00x)"
    )
