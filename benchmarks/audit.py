"""``ltv audit`` throughput against pyHanko's own AdES validation, on a generated archive.

The archive: N signed PDFs from the sample PKI (``samples/pki``), made through pyHanko's API
with evidence fetched once per (signer, day) from a loopback ``PkiServer`` and injected into the
DSS, and timestamps from pyHanko's ``DummyTimeStamper`` with the sample TSA keys at fixed times
(as ``tests/unit/pipeline/fixtures.py`` does), so generation is fast and every time is chosen
here. The mix (deterministic, seed 9): signer-good B-LT with the long-lived ``tsa`` or the
short-lived ``tsa-short`` (expires 2027-01-01), signer-good B-LTA (a document timestamp from
``tsa``), signer-revoked signed before / after its revocation, signer-unknown (a signed
'unknown'), signer-expired with a 2026 timestamp, B-T without evidence, and tampered files. Each
document has its own text, so no two files are alike. Generated once into
``out/bench-audit/`` (kept for later runs).

Measured in the same run (docs/s; wall time):

(a) pyHanko in-process, one document after another: ``PdfFileReader`` then
    ``ades_lta_validation`` for every signature (``RevinfoOnlineFetchingRule.LOCAL_ONLY``,
    ``CertificateFetchingRule.NEVER_FETCH``) at ``T1``;
(b) ``ltv audit DIR --db NEW --jobs 2 --as-of T1`` (a fresh process, start-up included);
(c) ``ltv audit DIR --db SAME --as-of T2`` later (T2 = T1 + 6 months: tsa-short expired) on
    the same store: the facts are re-used, only judgement is redone.

Interleaved in :data:`ROUNDS` (2) rounds — (a) on half of the files, (b), (c); (a) on the
other half, (b), (c) on a fresh store — so that the machine's drift over the minutes of a run
lands on every side alike (measured here: pyHanko's own rate moved from 16 to 21 docs/s
between runs of one evening).

Printed: the ratios (b)/(a), (c)/(a) (targets on 2 cores: >= 5x, >= 30x), the verdicts each side
reached, where (b)'s time goes (the run's own timings per stage, the caches' hit rates, and a
cProfile of the worker code over a sample grouped by library), and the peak RSS of the audit
process and of its workers at N and at the larger archive (``--audit-rss-docs``, default 5,000).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import fmt_ratio, quiet_pyhanko_logs, table

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "out" / "bench-audit"
GENERATOR_VERSION = 1
T1 = datetime(2026, 12, 1, tzinfo=UTC)
T2 = datetime(2027, 6, 1, tzinfo=UTC)
KINDS: tuple[tuple[str, float], ...] = (
    ("good-lt-tsa", 0.30),
    ("good-lt-short", 0.25),
    ("good-lta", 0.20),
    ("revoked-before", 0.04),
    ("revoked-after", 0.04),
    ("unknown", 0.04),
    ("expired", 0.04),
    ("b-t", 0.04),
    ("tampered", 0.05),
)
DAYS = 24
"""Distinct signing days: evidence is fetched once per (signer, day), shared by its documents
(a signing service re-uses an OCSP answer while it is fresh)."""


def _log(log: Callable[[str], None] | None, message: str) -> None:
    if log is not None:
        log(message)


# -- the archive --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    index: int
    kind: str
    day: int


def _plan(index: int) -> _Plan:
    """Document ``index``'s kind and signing day: the same whatever the archive's size (so a
    larger archive extends a smaller one)."""
    rng = random.Random(9_000_000 + index)  # noqa: S311 - a reproducible mix, not cryptography
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    return _Plan(index, rng.choices(kinds, weights)[0], rng.randrange(DAYS))


def _day_time(day: int, kind: str) -> datetime:
    if kind == "revoked-before":
        return datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=day)
    if kind == "revoked-after":
        return datetime(2026, 7, 1, 12, tzinfo=UTC) + timedelta(days=day)
    return datetime(2026, 1, 5, 12, tzinfo=UTC) + timedelta(days=day * 13)


def _signer_of(kind: str) -> str:
    if kind.startswith("revoked"):
        return "signer-revoked"
    return {"unknown": "signer-unknown", "expired": "signer-expired"}.get(kind, "signer-good")


def _tsa_of(kind: str) -> str:
    return "tsa-short" if kind == "good-lt-short" else "tsa"


def _fetch_evidence(
    plans: list[_Plan], log: Callable[[str], None] | None
) -> dict[str, list[bytes]]:
    """OCSP answers for (signer, interm, TSA) per (signer, TSA, day), from a loopback PKI."""
    from ltv.evidence.http import HttpClient
    from ltv.evidence.ocsp import fetch_ocsp
    from samples import pki
    from samples.pki.server import PkiServer

    wanted = {(_signer_of(p.kind), _tsa_of(p.kind), p.kind, p.day) for p in plans}
    out: dict[str, list[bytes]] = {}
    with PkiServer(port=0) as server:
        client = HttpClient(timeout=10, connect_to=server.connect_to)
        for signer, tsa, kind, day in sorted(wanted):
            key = f"{signer}/{tsa}/{kind}/{day}"
            at = _day_time(day, kind) + timedelta(minutes=1)
            server.freeze(at)
            url = pki.OCSP_UNKNOWN_URL if signer == "signer-unknown" else None
            answers = []
            for leaf, issuer, leaf_url in (
                (signer, "interm", url),
                ("interm", "root", None),
                (tsa, "tsa-root", None),
            ):
                outcome = fetch_ocsp(
                    client, pki.load_cert(leaf), pki.load_cert(issuer), url=leaf_url
                )
                if outcome.raw is None:
                    raise RuntimeError(f"no OCSP answer for {leaf} at {at}: {outcome.detail}")
                answers.append(outcome.raw)
            out[key] = answers
        server.freeze(None)
    _log(log, f"audit: evidence fetched for {len(out)} (signer, TSA, day) sets")
    return out


_WORKER: dict[str, Any] = {}


def _tsa_stamper(label: str, at: datetime) -> Any:
    """pyHanko's DummyTimeStamper with a sample TSA key at a fixed genTime (``tsa-short``'s
    EC key too: the stock one signs with RSA only)."""
    from asn1crypto import algos, cms, core
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from pyhanko.keys import load_private_key_from_pemder
    from pyhanko.sign import general
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    from samples import pki

    class EcCapable(DummyTimeStamper):  # type: ignore[misc]
        def _sign_tst_info(self, data: bytes, md_algorithm: str, dt: datetime) -> Any:
            key = serialization.load_der_private_key(self.tsa_key.dump(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                return super()._sign_tst_info(data, md_algorithm, dt)
            md = hashes.Hash(hashes.SHA256())
            md.update(data)
            attrs = cms.CMSAttributes(
                [
                    general.simple_cms_attribute("content_type", "tst_info"),
                    general.simple_cms_attribute(
                        "signing_time", cms.Time({"utc_time": core.UTCTime(dt)})
                    ),
                    general.simple_cms_attribute(
                        "signing_certificate", general.as_signing_certificate(self.tsa_cert)
                    ),
                    general.simple_cms_attribute("message_digest", md.finalize()),
                ]
            )
            return key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256())), attrs

        def _build_signed_data(self, *args: Any, **kwargs: Any) -> Any:
            out = super()._build_signed_data(*args, **kwargs)
            if self.tsa_cert.public_key.algorithm == "ec":
                out["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm(
                    {"algorithm": "sha256_ecdsa"}
                )
            return out

    return EcCapable(
        tsa_cert=pki.load_cert(label),
        tsa_key=load_private_key_from_pemder(str(pki.key_path(label)), passphrase=None),
        certs_to_embed=[pki.load_cert(label), pki.load_cert("tsa-root")],
        fixed_dt=at,
        override_md="sha256",
    )


def _make_one(plan: _Plan) -> bytes:
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    from samples import pki
    from samples.make_samples import make_unsigned_pdf

    kind, signer, tsa = plan.kind, _signer_of(plan.kind), _tsa_of(plan.kind)
    at = _day_time(plan.day, kind)
    simple = _WORKER.setdefault(
        signer,
        signers.SimpleSigner.load(
            str(pki.key_path(signer)),
            str(pki.cert_path(signer)),
            ca_chain_files=[str(p) for p in pki.chain_paths(signer)],
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Signature1", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    unsigned = make_unsigned_pdf(f"ltv audit benchmark document {plan.index:06d} ({kind})")
    w = IncrementalPdfFileWriter(io.BytesIO(unsigned))
    data = bytes(
        signers.PdfSigner(meta, simple, timestamper=_tsa_stamper(tsa, at)).sign_pdf(w).getvalue()
    )
    if kind == "b-t":
        return data
    answers = _WORKER["evidence"][f"{signer}/{tsa}/{kind}/{plan.day}"]
    certs = [pki.load_cert(label) for label in (signer, "interm", "root", tsa, "tsa-root")]
    buf = io.BytesIO(data)
    DocumentSecurityStore.add_dss(
        buf, None, certs=certs, ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in answers], crls=[]
    )
    data = buf.getvalue()
    if kind == "good-lta":
        w = IncrementalPdfFileWriter(io.BytesIO(data))
        stamper = signers.PdfTimeStamper(_tsa_stamper("tsa", at + timedelta(days=1)))
        data = bytes(stamper.timestamp_pdf(w, md_algorithm="sha256").getvalue())
    if kind == "tampered":
        flipped = bytearray(data)
        pos = flipped.index(b") Tj")
        flipped[pos - 3] ^= 0x01  # a character of the signed page text
        data = bytes(flipped)
    return data


def _init_generator(evidence: dict[str, list[bytes]]) -> None:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    _WORKER["evidence"] = evidence


def _write_one(args: tuple[_Plan, str]) -> str:
    plan, directory = args
    path = Path(directory) / f"doc-{plan.index:06d}.pdf"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_make_one(plan))
    tmp.replace(path)  # a killed generation leaves no half document behind
    return plan.kind


def archive(n: int, *, log: Callable[[str], None] | None = None) -> Path:
    """A directory of the first ``n`` documents (generated once into ``out/bench-audit/docs``,
    hard-linked into ``out/bench-audit/n{n}``; larger archives extend smaller ones)."""
    import multiprocessing

    docs = CACHE_DIR / f"v{GENERATOR_VERSION}" / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    missing = [_plan(i) for i in range(n) if not (docs / f"doc-{i:06d}.pdf").is_file()]
    if missing:
        evidence = _fetch_evidence(missing, log)
        started = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(
            os.cpu_count() or 2, initializer=_init_generator, initargs=(evidence,)
        ) as pool:
            jobs = [(p, str(docs)) for p in missing]
            for i, _kind in enumerate(pool.imap_unordered(_write_one, jobs, chunksize=8)):
                if (i + 1) % 500 == 0:
                    _log(log, f"audit: generated {i + 1}/{len(missing)} documents")
        _log(
            log,
            f"audit: generated {len(missing)} documents in {time.perf_counter() - started:.0f} s",
        )
    directory = CACHE_DIR / f"v{GENERATOR_VERSION}" / f"n{n}"
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        link = directory / f"doc-{i:06d}.pdf"
        if not link.exists():
            os.link(docs / f"doc-{i:06d}.pdf", link)
    return directory


def mix(n: int) -> Counter[str]:
    return Counter(_plan(i).kind for i in range(n))


# -- (a) pyHanko ------------------------------------------------------------------------------


def pyhanko_ades(files: list[Path], at: datetime) -> tuple[float, Counter[str]]:
    """pyHanko's AdES validation of every file, one after another: (seconds, verdicts)."""
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        CertificateFetchingRule,
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    from ltv.evidence.fetchers import HttpFetcherBackend
    from ltv.evidence.http import NoNetwork
    from samples import pki

    def load(label: str) -> Any:
        _, _, der = pem.unarmor(pki.cert_path(label).read_bytes())
        return x509.Certificate.load(der)

    def cvp(labels: tuple[str, ...]) -> CertValidationPolicySpec:
        return CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=[load(lb) for lb in labels]),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        )

    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=cvp(("root",)),
            ts_cert_validation_policy=cvp(("tsa-root",)),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
                fetcher_backend=HttpFetcherBackend(NoNetwork()),
            ),
        )
    )
    timing = ValidationTimingInfo(at, at, False)
    verdicts: Counter[str] = Counter()

    async def one(data: bytes) -> str:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        subs = []
        for sig in reader.embedded_regular_signatures:
            result = await ades_lta_validation(sig, spec, timing_info=timing)
            subs.append(str(getattr(result.ades_subindic, "name", result.ades_subindic)))
        if not subs:
            return "no signature"
        return "PASSED" if all(s == "OK" for s in subs) else ",".join(sorted(set(subs)))

    async def all_files() -> None:
        for path in files:
            data = path.read_bytes()  # reading the file is part of the work, as for ltv
            try:
                verdicts[await one(data)] += 1
            except Exception as err:  # a library failure on a (tampered) file is its verdict
                verdicts[f"error: {type(err).__name__}"] += 1

    started = time.perf_counter()
    asyncio.run(all_files())
    return time.perf_counter() - started, verdicts


# -- (b), (c) ltv audit ------------------------------------------------------------------------


def ltv_audit(directory: Path, db: Path, *, as_of: datetime, jobs: int) -> dict[str, Any]:
    """One ``ltv audit`` process: wall time, exit code, the run's stats and verdicts."""
    from samples import pki

    cmd = [
        sys.executable,
        "-m",
        "ltv",
        "audit",
        str(directory),
        "--db",
        str(db),
        "--jobs",
        str(jobs),
        "--as-of",
        as_of.isoformat().replace("+00:00", "Z"),
        "--trust",
        str(pki.cert_path("root")),
        "--tsa-trust",
        str(pki.cert_path("tsa-root")),
        "--new-run",
    ]
    env = {k: v for k, v in os.environ.items() if k != "LTV_DEBUG"}
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1, 3, 4):
        raise RuntimeError(f"ltv audit failed ({proc.returncode}): {proc.stderr[-2000:]}")
    con = sqlite3.connect(db)
    try:
        run_id, stats = con.execute(
            "SELECT id, stats FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        verdicts = Counter(
            dict(
                con.execute(
                    "SELECT indication, count(*) FROM files WHERE run_id = ? GROUP BY 1", (run_id,)
                ).fetchall()
            )
        )
    finally:
        con.close()
    return {
        "wall_s": wall,
        "exit": proc.returncode,
        "stats": json.loads(stats),
        "verdicts": verdicts,
    }


# -- where (b)'s time goes ----------------------------------------------------------------------

_AREAS = (
    ("pyhanko/pdf_utils", "pyHanko PDF reader/tokenizer"),
    ("pyhanko/sign/diff_analysis", "pyHanko difference analysis"),
    ("pyhanko_certvalidator", "certvalidator (paths)"),
    ("pyhanko/sign", "pyHanko CMS/validation"),
    ("asn1crypto", "asn1crypto parsing"),
    ("cryptography", "cryptography (signatures, hashes)"),
    ("ltv/audit", "ltv audit (codec, caches)"),
    ("ltv/", "ltv pipeline"),
    ("json", "json"),
)


def _area(filename: str) -> str:
    for needle, name in _AREAS:
        if needle in filename:
            return name
    return "other (Python, asyncio, ...)"


def profile_worker(files: list[Path], at: datetime) -> dict[str, Any]:
    """cProfile of the worker code (examine + judge + rows) over ``files``, in this process."""
    from ltv.audit.runner import AuditConfig, WorkItem, process_batch
    from ltv.audit.walk import digest
    from ltv.policy import ValidationPolicy
    from ltv.trust import TrustStore
    from samples import pki

    policy = ValidationPolicy(
        trust=TrustStore.from_paths([pki.cert_path("root")]),
        tsa_trust=TrustStore.from_paths([pki.cert_path("tsa-root")]),
    )
    config = AuditConfig(policy=policy, now=at, at=None)
    items = []
    for path in files:
        data = path.read_bytes()
        items.append(WorkItem(str(path), digest(data), len(data), data=data))
    process_batch(config, items[:2])  # imports and first-call costs are not the profile
    profiler = cProfile.Profile()
    profiler.enable()
    result = process_batch(config, items)
    profiler.disable()
    stats = pstats.Stats(profiler)
    by_area: Counter[str] = Counter()
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[_area(filename)] += tottime
        total += tottime
    wrappers = ("asyncio", "runner.py", "threading.py", "~")
    entries: Any = stats.stats  # type: ignore[attr-defined]
    top = sorted(
        (
            (ct, f"{Path(fn).name}:{ln}({name})")
            for (fn, ln, name), (_, _, _, ct, _) in entries.items()
            if not any(w in fn for w in wrappers)
        ),
        reverse=True,
    )
    return {
        "docs": len(files),
        "seconds": round(total, 3),
        "by_area": {k: round(v, 3) for k, v in by_area.most_common()},
        "timings": result.timings,
        "top_cumulative": [(round(ct, 3), name) for ct, name in top[:12]],
    }


# -- the section ----------------------------------------------------------------------------------


ROUNDS = 2
"""(a), (b), (c) run interleaved in this many rounds: (a) on a share of the files each round,
(b) and (c) on the whole archive each round (a fresh store each time). The machine's speed
drifts by a third over minutes here; interleaving puts the drift on every side alike. A rate
is all documents over all seconds of its rounds."""


def run(
    *, docs: int, rss_docs: int, jobs: int = 2, log: Any = None, rounds: int = ROUNDS
) -> dict[str, Any]:
    quiet_pyhanko_logs()
    directory = archive(docs, log=log)
    files = sorted(directory.glob("*.pdf"))
    work = CACHE_DIR / f"v{GENERATOR_VERSION}" / "runs"
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"audit-n{docs}.sqlite"
    rounds = max(1, min(rounds, len(files)))
    a_s, a_verdicts = 0.0, Counter[str]()
    bs: list[dict[str, Any]] = []
    cs: list[dict[str, Any]] = []
    for r in range(rounds):
        share = files[r::rounds]
        _log(log, f"audit: round {r + 1}/{rounds}: (a) pyHanko over {len(share)} documents")
        seconds, verdicts = pyhanko_ades(share, T1)
        a_s += seconds
        a_verdicts.update(verdicts)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        _log(log, f"audit: round {r + 1}/{rounds}: (b) ltv audit --jobs {jobs}, first pass")
        bs.append(ltv_audit(directory, db, as_of=T1, jobs=jobs))
        _log(log, f"audit: round {r + 1}/{rounds}: (c) ltv audit re-run as of {T2.date()}")
        cs.append(ltv_audit(directory, db, as_of=T2, jobs=jobs))
    for runs in (bs, cs):  # every round must reach the same verdicts
        if any(x["verdicts"] != runs[0]["verdicts"] for x in runs):
            raise RuntimeError(f"verdicts differ between rounds: {[x['verdicts'] for x in runs]}")
    b = {**bs[-1], "wall_s": sum(x["wall_s"] for x in bs) / rounds}
    c = {**cs[-1], "wall_s": sum(x["wall_s"] for x in cs) / rounds}
    _log(log, "audit: profile of the worker code")
    profile = profile_worker(files[: min(len(files), 120)], T1)
    rate = {"a": len(files) / a_s, "b": len(files) / b["wall_s"], "c": len(files) / c["wall_s"]}
    rss: dict[str, Any] = {str(docs): b["stats"]["peak_rss_bytes"]}
    if rss_docs and rss_docs != docs:
        big = archive(rss_docs, log=log)
        big_db = work / f"audit-n{rss_docs}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{big_db}{suffix}").unlink(missing_ok=True)
        _log(log, f"audit: peak RSS over {rss_docs} documents")
        big_run = ltv_audit(big, big_db, as_of=T1, jobs=jobs)
        rss[str(rss_docs)] = {
            **big_run["stats"]["peak_rss_bytes"],
            "docs_per_s": round(rss_docs / big_run["wall_s"], 1),
        }
    return {
        "docs": len(files),
        "mix": dict(mix(len(files))),
        "jobs": jobs,
        "t1": T1.isoformat(),
        "t2": T2.isoformat(),
        "rounds": rounds,
        "a": {"seconds": round(a_s, 2), "docs_per_s": round(rate["a"], 1), "verdicts": a_verdicts},
        "b": {
            "seconds": round(b["wall_s"], 2),
            "docs_per_s": round(rate["b"], 1),
            "per_round_s": [round(x["wall_s"], 2) for x in bs],
            "verdicts": b["verdicts"],
            "stats": b["stats"],
        },
        "c": {
            "seconds": round(c["wall_s"], 2),
            "docs_per_s": round(rate["c"], 1),
            "per_round_s": [round(x["wall_s"], 2) for x in cs],
            "verdicts": c["verdicts"],
            "stats": c["stats"],
        },
        "ratio_b_a": round(rate["b"] / rate["a"], 2),
        "ratio_c_a": round(rate["c"] / rate["a"], 2),
        "profile": profile,
        "peak_rss": rss,
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f}"


def render(result: dict[str, Any]) -> str:
    a, b, c = result["a"], result["b"], result["c"]
    n = result["docs"]
    mixed = ", ".join(f"{k} {v}" for k, v in sorted(result["mix"].items()))
    head = table(
        ["what", "docs/s", "seconds", "/ (a)", "target", "verdicts (files)"],
        [
            [
                "(a) pyHanko ades_lta_validation, in-process, one by one",
                f"{a['docs_per_s']:.1f}",
                f"{a['seconds']:.1f}",
                "1.00x",
                "",
                ", ".join(f"{k} {v}" for k, v in sorted(a["verdicts"].items())),
            ],
            [
                f"(b) ltv audit --jobs {result['jobs']}, first pass (process start included)",
                f"{b['docs_per_s']:.1f}",
                f"{b['seconds']:.1f}",
                fmt_ratio(result["ratio_b_a"]),
                ">= 5x",
                ", ".join(f"{k} {v}" for k, v in sorted(b["verdicts"].items())),
            ],
            [
                f"(c) ltv audit re-run as of {result['t2'][:10]}, same store",
                f"{c['docs_per_s']:.1f}",
                f"{c['seconds']:.1f}",
                fmt_ratio(result["ratio_c_a"]),
                ">= 30x",
                ", ".join(f"{k} {v}" for k, v in sorted(c["verdicts"].items())),
            ],
        ],
        title=f"audit: {n} generated documents ({mixed}), judged as of {result['t1'][:10]} (a, b)",
        align="lrrrll",
    )
    rounds = result.get("rounds", 1)
    if rounds > 1:
        head += (
            f"\n{rounds} interleaved rounds (a on 1/{rounds} of the files each, then b and c on "
            f"all of them; seconds of b and c: the mean of their rounds): (b) "
            f"{' / '.join(f'{x:.2f}' for x in b['per_round_s'])} s, (c) "
            f"{' / '.join(f'{x:.2f}' for x in c['per_round_s'])} s"
        )
    s = b["stats"]
    elapsed = s["elapsed_s"]
    worker = s["worker_s"]
    parent = s["parent_s"]
    rows = [[f"workers: {k}", f"{v:.2f}", f"{1000 * v / n:.1f}"] for k, v in worker.items()]
    rows += [[f"parent: {k}", f"{v:.2f}", f"{1000 * v / n:.1f}"] for k, v in parent.items()]
    rows.append(
        ["audit loop, wall (after start-up)", f"{elapsed:.2f}", f"{1000 * elapsed / n:.1f}"]
    )
    rows.append(
        [
            "process start, imports, pool spawn (wall - loop)",
            f"{(b['per_round_s'][-1] if 'per_round_s' in b else b['seconds']) - elapsed:.2f}",
            "",
        ]
    )
    stages = table(
        ["(b) stage", "seconds", "ms/doc"],
        rows,
        title=f"where (b)'s time goes: the run's own timings ({s['workers']} workers, "
        f"{s['examined']} parsed, {s['reused']} from stored facts)",
    )
    caches = table(
        ["cache (all workers)", "hits", "misses", "hit rate"],
        [
            [
                name,
                str(f["hits"]),
                str(f["misses"]),
                f"{100 * f['hits'] / max(f['hits'] + f['misses'], 1):.1f} %",
            ]
            for name, f in s["caches"].items()
        ],
        title="(b) work done once per archive",
    )
    p = result["profile"]
    areas = table(
        ["library / area (self time)", "seconds", "share"],
        [
            [k, f"{v:.2f}", f"{100 * v / max(p['seconds'], 1e-9):.0f} %"]
            for k, v in p["by_area"].items()
        ],
        title=f"(b) worker code under cProfile, {p['docs']} documents in one process",
    )
    top = "\n".join(f"  {ct:7.2f} s  {name}" for ct, name in p["top_cumulative"])
    rss_rows = []
    for count, figures in result["peak_rss"].items():
        rss_rows.append(
            [
                count,
                _mib(figures["parent"]),
                _mib(figures["workers_max"]),
                str(figures.get("docs_per_s", "")),
            ]
        )
    rss = table(
        ["documents", "audit process MiB", "largest worker MiB", "docs/s"],
        rss_rows,
        title="peak RSS of ltv audit (first pass) as the archive grows",
    )
    return "\n\n".join([head, stages, caches, areas, "top cumulative (cProfile):\n" + top, rss])


if __name__ == "__main__":  # python -m benchmarks.audit [N]
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(render(run(docs=count, rss_docs=0, log=lambda m: print(m, file=sys.stderr))))
