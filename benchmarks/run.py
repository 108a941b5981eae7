"""ltv vs pyHanko, side by side in one run: ``python -m benchmarks.run [options]``.

Sections (all by default): ``verify`` (offline validation throughput and memory), ``sign``
(B-LT/B-LTA against one loopback PkiServer; then a signing server at concurrency 8 under
realistic responder latency vs pyHanko), ``startup`` (CLI start-up as subprocesses),
``memory`` (peak RSS of ``ltv sign`` on 100 MB and 1 GB PDFs; full mode or ``--only memory``).
Prints plain tables on stdout (progress on stderr); ``--json FILE`` writes the raw figures.
Every timing is interleaved across implementations and reported as median / p90 plus the ratio
of medians; nothing is asserted about them. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTIONS: tuple[str, ...] = ("verify", "sign", "startup", "memory", "audit")


@dataclass(frozen=True)
class Budget:
    verify_rounds: int
    sign_rounds: int
    startup_rounds: int
    memory: bool
    """tracemalloc peak per doc (one extra traced run per case and implementation)."""
    rss: bool
    """peak RSS of a fresh child process per implementation (a few seconds)."""
    service_docs: int
    """documents per implementation and level in the signing-server comparison."""
    service_rounds: int
    """interleaved rounds of that comparison (``benchmarks.sign.run_service``)."""
    memory_sizes_mb: tuple[int, ...]
    """PDF sizes for the memory section (empty: skipped unless --only memory)."""
    audit_docs: int = 1000
    """Documents of the generated archive for ``ltv audit`` vs pyHanko (benchmarks/audit.py)."""
    audit_rss_docs: int = 5000
    """A larger archive for the peak RSS of ``ltv audit`` (0: skip)."""


QUICK = Budget(
    verify_rounds=5,
    sign_rounds=3,
    startup_rounds=3,
    memory=False,
    rss=False,
    service_docs=8,
    service_rounds=1,
    memory_sizes_mb=(),
    audit_docs=16,
    audit_rss_docs=0,
)
FULL = Budget(
    verify_rounds=30,
    sign_rounds=10,
    startup_rounds=10,
    memory=True,
    rss=True,
    service_docs=96,  # ~2 s a batch for the service: ramp-up and tail weigh little
    service_rounds=2,
    memory_sizes_mb=(100, 1000),
)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "git": _git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            d: _version(d)
            for d in ("ltv", "pyHanko", "pyhanko-certvalidator", "asn1crypto", "cryptography")
        },
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="ltv vs pyHanko: verify throughput, signing, CLI start-up, archive audit "
        "(side by side).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds, no memory passes (< 30 s)"
    )
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only this section (repeatable)"
    )
    parser.add_argument("--rounds", type=int, help="override every section's round count")
    parser.add_argument("--no-corpus", action="store_true", help="verify only the two sample files")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--audit-docs", type=int, help="documents in the audit archive (default 1000; quick 16)"
    )
    parser.add_argument(
        "--audit-rss-docs",
        type=int,
        help="documents of the larger archive for peak RSS (default 5000; quick: skipped; 0: skip)",
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    budget = QUICK if args.quick else FULL
    sections = tuple(s for s in SECTIONS if not args.only or s in args.only)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "command": "python -m benchmarks.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "mode": "quick" if args.quick else "full",
        "environment": environment(),
    }
    tables: list[str] = []
    from benchmarks.common import compile_bytecode

    compile_bytecode()  # start-up and worker processes load ltv as an installed package would
    if "verify" in sections:
        from benchmarks import verify_bench

        result["verify"] = verify_bench.run(
            rounds=args.rounds or budget.verify_rounds,
            corpus=not args.no_corpus,
            memory=budget.memory,
            rss=budget.rss,
            log=_log,
        )
        tables.append(verify_bench.render(result["verify"]))
    if "sign" in sections:
        from benchmarks import sign as sign_benchmark

        result["sign"] = sign_benchmark.run(rounds=args.rounds or budget.sign_rounds, log=_log)
        tables.append(sign_benchmark.render(result["sign"]))
        result["sign_service"] = sign_benchmark.run_service(
            docs=budget.service_docs, rounds=budget.service_rounds, log=_log
        )
        tables.append(sign_benchmark.render_service(result["sign_service"]))
    if "startup" in sections:
        from benchmarks import startup_bench

        result["startup"] = startup_bench.run(rounds=args.rounds or budget.startup_rounds, log=_log)
        tables.append(startup_bench.render(result["startup"]))
    if "memory" in sections and (budget.memory_sizes_mb or args.only):
        from benchmarks import memory

        result["memory"] = memory.run(sizes_mb=budget.memory_sizes_mb or (100,), log=_log)
        tables.append(memory.render(result["memory"]))
    if "audit" in sections:
        from benchmarks import audit

        docs = args.audit_docs if args.audit_docs is not None else budget.audit_docs
        rss_docs = args.audit_rss_docs if args.audit_rss_docs is not None else budget.audit_rss_docs
        result["audit"] = audit.run(docs=docs, rss_docs=rss_docs, log=_log)
        tables.append(audit.render(result["audit"]))
    env = result["environment"]
    env["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    header = (
        f"ltv benchmarks ({result['mode']}) {env['date']} git {env['git']} · "
        f"Python {env['python']} · pyHanko {env['versions']['pyHanko']} · "
        f"{env['cpus']} CPUs · load {env['loadavg_at_start'][0]:.2f} -> "
        f"{env['loadavg_at_end'][0]:.2f} · {result['elapsed_s']} s"
    )
    print("\n\n".join([header, *tables]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        _log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
