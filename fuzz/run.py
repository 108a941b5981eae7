"""Drive the fuzz targets: ``python -m fuzz [--seconds N] [--targets a,b] [--engine E]``.

The orchestrator gives every target a share of ``--seconds`` (weights in :data:`WEIGHTS`: most
time to the fast DER parsers, a meaningful share to whole PDFs and the Verifier) and runs each in
its own process (``python -m fuzz.run --worker TARGET``), restarting it when the engine stops it
early (a hang killed by libFuzzer's ``-timeout=10``, an out-of-memory), until its share is used.
Each worker writes its input count to ``fuzz/out/stats/``; the orchestrator prints the counts
per target and the findings (``fuzz/findings/``) at the end, and writes ``fuzz/out/summary.json``.

Engines: ``atheris`` (coverage-guided libFuzzer; ``pip install -c constraints.txt '.[fuzz]'``)
or ``random`` (seeded byte-level mutations of the seeds, no coverage feedback; always there).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from fuzz import targets as T

OUT = T.ROOT / "fuzz" / "out"
WEIGHTS = {
    "ocsp": 3,
    "crl": 2,
    "tst": 2,
    "inspect": 2,
    "pdf": 2,
    "verify": 2,
    "signed": 2,
}
"""Relative share of the time per target."""


# --------------------------------------------------------------------------- worker


class _Flusher:
    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.target = target
        self.last = 0.0
        self.base = 0
        if path.exists():
            with contextlib.suppress(ValueError, OSError):
                self.base = int(json.loads(path.read_text())["runs"])

    def maybe(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last > 1.0:
            self.last = now
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "target": self.target,
                        "runs": self.base + T.STATS.runs,
                        "findings": T.STATS.findings,
                    }
                )
            )
            os.replace(tmp, self.path)


def _warm_up(target: T.Target) -> list[bytes]:
    """Import everything and build the seeds (so instrumentation sees the libraries)."""
    import ltv.cli.inspect
    import ltv.evidence.crl
    import ltv.evidence.ocsp
    import ltv.inspect
    import ltv.pipeline.extract
    import ltv.render
    import ltv.tst
    import ltv.verify  # noqa: F401

    seeds = target.seeds()
    for seed in seeds[:3]:
        T.one_input(target, seed)
    T.STATS.runs = 0
    return seeds


def _corpus_dir(target: T.Target, seeds: list[bytes]) -> Path:
    import hashlib

    folder = OUT / "corpus" / target.name
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        path = folder / hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        if not path.exists():
            path.write_bytes(seed[: target.max_len])
    return folder


def worker(name: str, seconds: float, engine: str, seed: int) -> None:
    target = T.TARGETS[name]
    stats = OUT / "stats" / f"{name}.json"
    stats.parent.mkdir(parents=True, exist_ok=True)
    flusher = _Flusher(stats, name)
    atexit.register(flusher.maybe, True)

    def test_one(data: bytes) -> None:
        T.one_input(target, data)
        flusher.maybe()

    if engine == "atheris":
        import atheris

        with atheris.instrument_imports(
            include=["ltv", "asn1crypto", "pyhanko", "pyhanko_certvalidator"]
        ):
            seeds = _warm_up(target)
        corpus = _corpus_dir(target, seeds)
        artifacts = T.FINDINGS_DIR / name
        artifacts.mkdir(parents=True, exist_ok=True)
        atheris.Setup(
            [
                sys.argv[0],
                f"-max_total_time={max(1, int(seconds))}",
                f"-timeout={int(T.SLOW_SECONDS)}",
                "-rss_limit_mb=3072",
                f"-max_len={target.max_len}",
                f"-artifact_prefix={artifacts}/",
                "-print_final_stats=1",
                str(corpus),
            ],
            test_one,
        )
        atheris.Fuzz()
        return
    seeds = _warm_up(target) or [b"0"]
    rng = random.Random(seed)  # noqa: S311 - fuzzing, not cryptography
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        test_one(_random_mutation(rng, rng.choice(seeds), target.max_len))
    flusher.maybe(True)


_INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x84\xff\xff\xff\xff", b"9999999999", b"-1"]


def _random_mutation(rng: random.Random, seed: bytes, max_len: int) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        if not data:
            data.extend(rng.randbytes(4))
        op = rng.randrange(5)
        i = rng.randrange(len(data))
        if op == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[i] = rng.randrange(256)
        elif op == 2:
            del data[i : i + rng.randint(1, 16)]
        elif op == 3:
            data[i:i] = rng.choice(_INTERESTING)
        else:
            j = rng.randrange(len(data))
            data[i : i + 8] = data[j : j + 8]
    return bytes(data[:max_len])


# --------------------------------------------------------------------------- orchestrator


def _engine_available(engine: str) -> str:
    if engine != "auto":
        return engine
    try:
        import atheris  # noqa: F401
    except ImportError:
        return "random"
    return "atheris"


def orchestrate(seconds: float, names: list[str], engine: str, fresh: bool) -> int:
    engine = _engine_available(engine)
    stats_dir = OUT / "stats"
    if fresh and stats_dir.exists():
        for f in stats_dir.glob("*.json"):
            f.unlink()
    total_weight = sum(WEIGHTS[n] for n in names)
    base_seed = int(time.time())  # a new random sequence every campaign (printed: replayable)
    print(
        f"fuzz: engine {engine}, {seconds:g} s over {', '.join(names)}, seed {base_seed}",
        flush=True,
    )
    for name in names:
        share = seconds * WEIGHTS[name] / total_weight
        end = time.monotonic() + share
        attempt = 0
        while (left := end - time.monotonic()) > 5:
            cmd = [
                sys.executable,
                "-m",
                "fuzz.run",
                "--worker",
                name,
                "--seconds",
                f"{left:.0f}",
                "--engine",
                engine,
                "--seed",
                str(base_seed + attempt),
            ]
            log = OUT / "logs" / f"{name}.{attempt}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("wb") as fh:
                # the worker stops by itself at its deadline; the margin covers start-up
                proc = subprocess.run(  # noqa: S603
                    cmd, stdout=fh, stderr=subprocess.STDOUT, timeout=left + 300, check=False
                )
            attempt += 1
            if proc.returncode == 0:
                break
            print(f"fuzz: {name}: worker exited {proc.returncode} (see {log}); restarting")
    return summarize(names)


def summarize(names: list[str]) -> int:
    rows = []
    total = 0
    for name in names:
        path = OUT / "stats" / f"{name}.json"
        runs = 0
        if path.exists():
            runs = int(json.loads(path.read_text())["runs"])
        folder = T.FINDINGS_DIR / name
        found = sorted(p.name for p in folder.glob("*.bin")) if folder.is_dir() else []
        hangs = (
            sorted(
                p.name
                for p in folder.glob("*")
                if p.name.startswith(("timeout-", "oom-", "crash-"))
            )
            if folder.is_dir()
            else []
        )
        rows.append({"target": name, "runs": runs, "findings": found + hangs})
        total += runs
    (OUT / "summary.json").write_text(json.dumps({"total": total, "targets": rows}, indent=2))
    for row in rows:
        print(f"fuzz: {row['target']:8} {row['runs']:>9} inputs  {len(row['findings'])} finding(s)")
    print(f"fuzz: total    {total:>9} inputs")
    return 1 if any(row["findings"] for row in rows) else 0


REGRESSIONS = T.ROOT / "tests" / "regressions" / "cases"


def promote(per_site: int = 3) -> int:
    """Copy findings to tests/regressions/cases/: per target and crash site (first line of the
    ``.txt``), the ``per_site`` smallest inputs. Returns how many were copied."""
    import shutil

    copied = 0
    for folder in sorted(p for p in T.FINDINGS_DIR.glob("*") if p.is_dir()):
        sites: dict[str, list[Path]] = {}
        for case in folder.glob("*.bin"):
            text = case.with_suffix(".txt")
            site = text.read_text().splitlines()[0] if text.exists() else "?"
            sites.setdefault(site, []).append(case)
        for site, cases in sorted(sites.items()):
            for case in sorted(cases, key=lambda p: p.stat().st_size)[:per_site]:
                dest = REGRESSIONS / folder.name
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy(case, dest / case.name)
                (dest / case.with_suffix(".txt").name).write_text(site + "\n")
                copied += 1
    return copied


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 600)))
    ap.add_argument("--targets", default=os.environ.get("FUZZ_TARGETS", ",".join(T.TARGETS)))
    ap.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    ap.add_argument("--fresh", action="store_true", help="reset the input counts first")
    ap.add_argument("--summary", action="store_true", help="only print the counts so far")
    ap.add_argument(
        "--promote", action="store_true", help="copy findings to tests/regressions/cases/"
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = [n for n in names if n not in T.TARGETS]
    if unknown:
        ap.error(f"unknown target(s): {', '.join(unknown)}; known: {', '.join(T.TARGETS)}")
    if args.worker:
        worker(args.worker, args.seconds, _engine_available(args.engine), args.seed)
        return 0
    if args.summary:
        return summarize(names)
    if args.promote:
        print(f"fuzz: {promote()} finding(s) copied to {REGRESSIONS}")
        return 0
    return orchestrate(args.seconds, names, args.engine, args.fresh)


if __name__ == "__main__":
    sys.exit(main())
