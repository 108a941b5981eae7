"""Peak memory of ``ltv sign`` and ``ltv verify`` on large PDFs, in fresh processes.

``python -m benchmarks.memory [--sizes 100,1000] [--level B-LTA] [--keep DIR]`` (also run by
``make bench`` through ``benchmarks.run``, section ``memory``).

For each size (MB) a PDF is built in a temporary directory: one page, plus one image XObject
of that many random (incompressible) bytes — the shape of a scanned archive or a PDF with a
large attachment. ``ltv sign`` runs on it as a subprocess (the sample PKI, on loopback, serves
OCSP and the TSA), then ``ltv verify`` on the signed output, offline (the PKI stopped: the
stapled evidence only); each one's peak resident set size is read from ``wait4``'s rusage
(``ru_maxrss``) for that child alone. Targets (issue 7): signing a 1 GB PDF < 600 MB;
verifying < 300 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
SIGN_TARGET_MB = 600
VERIFY_TARGET_MB = 300


def build_large_pdf(path: Path, size_bytes: int) -> int:
    """Write a valid one-page PDF holding an image XObject of *size_bytes* random bytes."""
    width = 4096
    height = max(1, -(-size_bytes // width))
    data_len = width * height
    offsets: list[int] = []
    with path.open("wb") as fh:

        def obj(body: bytes) -> None:
            offsets.append(fh.tell())
            fh.write(f"{len(offsets)} 0 obj\n".encode() + body + b"\nendobj\n")

        fh.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
        obj(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /XObject << /Blob 5 0 R >> >> >>"
        )
        content = b"0.9 g 36 36 540 720 re f"
        obj(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        offsets.append(fh.tell())
        fh.write(
            b"5 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n"
            % (width, height, data_len)
        )
        left = data_len
        while left:
            chunk = os.urandom(min(left, 1 << 22))
            fh.write(chunk)
            left -= len(chunk)
        fh.write(b"\nendstream\nendobj\n")
        xref = fh.tell()
        fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for off in offsets:
            fh.write(b"%010d 00000 n \n" % off)
        fh.write(
            b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(offsets) + 1, xref)
        )
    return path.stat().st_size


def peak_rss_of(cmd: Sequence[str], env: dict[str, str]) -> tuple[int, float, int, str]:
    """(exit code, seconds, peak RSS in bytes, stderr) of *cmd* run as a child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return proc.returncode, elapsed, usage.ru_maxrss * scale, stderr


def _baseline(env: dict[str, str]) -> int:
    """Peak RSS of the interpreter importing what ``ltv sign`` imports, doing nothing."""
    code = "import ltv.sign, ltv.cli"
    _, _, rss, _ = peak_rss_of([sys.executable, "-c", code], env)
    return rss


def run(*, sizes_mb: Sequence[int], level: str = "B-LTA", keep: Path | None = None,
        log: Any = None) -> dict[str, Any]:  # fmt: skip
    from samples import pki
    from samples.pki.server import PkiServer

    say = log or (lambda _m: None)
    tmp = Path(tempfile.mkdtemp(prefix="ltv-memory-", dir=keep))
    rows: list[dict[str, Any]] = []
    env = {**os.environ, "LTV_BENCH_P12": pki.P12_PASSPHRASE}
    try:
        baseline = _baseline(env)
        with PkiServer(port=0) as server:
            connect = [f"{key}:{a}:{p}" for key, (a, p) in server.connect_to.items()]
            for size in sizes_mb:
                src, out = tmp / f"in-{size}mb.pdf", tmp / f"out-{size}mb.pdf"
                say(f"memory: building a {size} MB PDF")
                actual = build_large_pdf(src, size * MB)
                cmd = [
                    sys.executable, "-m", "ltv", "sign", str(src), str(out), "--level", level,
                    "--p12", str(pki.SIGNER_GOOD_P12), "--passphrase-env", "LTV_BENCH_P12",
                    "--tsa", pki.TSA_URL, "--chain", str(pki.TSA_ROOT_CERT), "--force",
                    *(a for c in connect for a in ("--connect-to", c)),
                ]  # fmt: skip
                say(f"memory: ltv sign {level} on {size} MB")
                code, seconds, rss, err = peak_rss_of(cmd, env)
                rows.append(
                    {
                        "command": "sign",
                        "level": level,
                        "input_bytes": actual,
                        "exit": code,
                        "seconds": round(seconds, 2),
                        "peak_rss_bytes": rss,
                        "output_bytes": out.stat().st_size if out.exists() else None,
                        "error": err.strip()[:200] if code else None,
                    }
                )
                src.unlink(missing_ok=True)
        # ---- verify side: the signed outputs, offline (no PKI running), streamed from disk -----
        for size in sizes_mb:
            out = tmp / f"out-{size}mb.pdf"
            if not out.exists():
                continue
            cmd = [
                sys.executable, "-m", "ltv", "verify", str(out),
                "--trust", str(pki.cert_path("root")), "--tsa-trust", str(pki.TSA_ROOT_CERT),
            ]  # fmt: skip
            say(f"memory: ltv verify on {size} MB")
            code, seconds, rss, err = peak_rss_of(cmd, env)
            rows.append(
                {
                    "command": "verify",
                    "level": level,
                    "input_bytes": out.stat().st_size,
                    "exit": code,
                    "seconds": round(seconds, 2),
                    "peak_rss_bytes": rss,
                    "output_bytes": None,
                    # 0 = TOTAL-PASSED; anything else is reported with its first stderr line
                    "error": err.strip()[:200] if code else None,
                }
            )
            out.unlink(missing_ok=True)
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return {
        "baseline_rss_bytes": baseline,
        "rows": rows,
        "sign_target_mb": SIGN_TARGET_MB,
        "verify_target_mb": VERIFY_TARGET_MB,
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        "memory: peak RSS of one `ltv sign` / `ltv verify` process per file (wait4 ru_maxrss); "
        f"interpreter + imports alone: {result['baseline_rss_bytes'] / MB:.0f} MB",
        f"{'command':8} {'level':6} {'input MB':>9} {'peak RSS MB':>12} {'RSS/input':>10} "
        f"{'seconds':>8} {'exit':>5}  target",
    ]
    for r in result["rows"]:
        size = r["input_bytes"] / MB
        rss = r["peak_rss_bytes"] / MB
        limit = result["sign_target_mb" if r["command"] == "sign" else "verify_target_mb"]
        target = f"< {limit} MB at 1 GB"
        lines.append(
            f"{r['command']:8} {r['level']:6} {size:9.0f} {rss:12.0f} {rss / size:10.2f} "
            f"{r['seconds']:8.1f} {r['exit']:5}  {target}"
            + (f"  ERROR {r['error']}" if r["error"] else "")
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__)
    parser.add_argument("--sizes", default="100,1000", help="sizes in MB, comma-separated")
    parser.add_argument("--level", default="B-LTA", choices=("B-B", "B-T", "B-LT", "B-LTA"))
    parser.add_argument("--keep", type=Path, help="build the files under this directory")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    result = run(
        sizes_mb=sizes,
        level=args.level,
        keep=args.keep,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(render(result))
    worst = [r for r in result["rows"] if r["exit"] != 0]
    return 1 if worst else 0


if __name__ == "__main__":
    _ = resource  # ru_maxrss units documented in resource(2)
    raise SystemExit(main())
