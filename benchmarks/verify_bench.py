"""Offline verification throughput: ltv's Verifier vs pyHanko's two offline library routes.

Implementations (same bytes, same trust anchors, same explicit timezone-aware validation time):

* ``ltv``       ``Verifier(ValidationPolicy(trust=..., tsa_trust=..., online=NEVER)).verify(data,
                now=at)`` — the whole pipeline, report included.
* ``ph-legacy`` pyHanko ``validate_pdf_signature`` for every signature (its signature timestamp
                included) and ``validate_pdf_timestamp`` for every document timestamp, each with
                a fresh ``ValidationContext`` built from the DSS by pyHanko itself
                (``DocumentSecurityStore.as_validation_context``) plus the CMS
                adbe-revocationInfoArchival values, ``allow_fetching=False``, ``moment=at``.
* ``ph-ades``   ``pyhanko.sign.validation.ades.ades_lta_validation`` for every signature with
                ``RevinfoOnlineFetchingRule.LOCAL_ONLY`` and ``CertificateFetchingRule.NEVER_FETCH``
                (and a fetcher backend that refuses every request, as a guard),
                ``ValidationTimingInfo(at, at, False)``.

Per-case set-up (loading anchors, building the policy/spec) is outside the timed region: a
verifying service does it once. Parsing the PDF is inside it, for every implementation.

Run as a child process (``python -m benchmarks.verify_bench IMPL``) it reports the process's
peak RSS after import and after verifying every case, as one JSON line.
"""

from __future__ import annotations

import asyncio
import fnmatch
import io
import json
import resource
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Samples,
    fmt_ms,
    fmt_ratio,
    geomean,
    interleaved_order,
    quiet_pyhanko_logs,
    ratio,
    settle,
    table,
    timed,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
CORPUS = Path("/work/shared/corpus")
IMPLS: tuple[str, ...] = ("ltv", "ph-legacy", "ph-ades")
BASELINES: tuple[str, ...] = ("ph-legacy", "ph-ades")

# Corpus files with the trust anchors their original tests configured (manifest.json), chosen
# to cover B-LT, B-LTA with 1-3 document timestamps, RSA and EC, 47-240 kB.
CORPUS_FILES: dict[str, str] = {
    "pades/dss_doc-firmado-LT.pdf": "dss-firmado-LT",
    "pades/dss_Test.signed_Certipost-2048-SHA512.extended-LTA.pdf": "dss-certipost-LTA",
    "pades/pyhanko_pades-lta-dss-indirect-arrs-test.pdf": "pyhanko-lta-indirect",
    "pades/dss_dss-1959_pades-revoc-removed-from-dss-dict.pdf": "dss-1959-3doctst",
}


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    signer_anchors: tuple[Path, ...]
    tsa_anchors: tuple[Path, ...]
    at: datetime
    """Explicit validation time: one minute after the newest timestamp in the file, so the
    embedded evidence is fresh for pyHanko's legacy route (which has no time-slide)."""


# -- cases -------------------------------------------------------------------------------------


def _latest_timestamp(data: bytes) -> datetime | None:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    times: list[datetime] = []
    for sig in reader.embedded_signatures:
        if sig.sig_object_type == "/DocTimeStamp":
            tokens = [sig.signed_data]
        else:
            tokens = list(extract_tst_data_iter(sig.signer_info, signed=False))
        for tok in tokens:
            tst_info = tok["encap_content_info"]["content"].parsed
            times.append(tst_info["gen_time"].native)
        if not tokens and sig.self_reported_timestamp is not None:
            times.append(sig.self_reported_timestamp)
    return max(times) if times else None


def _at(data: bytes) -> datetime:
    latest = _latest_timestamp(data)
    if latest is None:
        raise ValueError("no timestamp or signing time in file")
    return (latest + timedelta(minutes=1)).astimezone(UTC).replace(microsecond=0)


def _corpus_anchors(entry: dict[str, Any]) -> tuple[Path, ...]:
    spec = entry.get("trust_anchors")
    if not spec:
        return ()
    out: list[Path] = []
    for item in str(spec).split(","):
        pattern = item.strip()
        if not pattern.startswith("trust/"):
            pattern = "trust/" + pattern
        out.extend(
            sorted(
                p
                for p in (CORPUS / "trust").iterdir()
                if fnmatch.fnmatch(f"trust/{p.name}", pattern)
            )
        )
    return tuple(out)


def load_cases(*, corpus: bool = True) -> list[Case]:
    """The two good sample files, plus corpus files with anchors if the corpus is present."""
    from samples import pki

    cases = []
    for name in ("good-b-lt", "good-b-lta"):
        data = (SAMPLES / f"{name}.pdf").read_bytes()
        cases.append(
            Case(
                name=name,
                data=data,
                signer_anchors=(pki.CERTS_DIR / "root.cert.pem",),
                tsa_anchors=(pki.CERTS_DIR / "tsa-root.cert.pem",),
                at=_at(data),
            )
        )
    manifest_path = CORPUS / "manifest.json"
    if corpus and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        entries = {e["file"]: e for e in manifest["entries"]}
        for rel, short in CORPUS_FILES.items():
            entry = entries.get(rel)
            path = CORPUS / rel
            anchors = _corpus_anchors(entry) if entry else ()
            if not path.is_file() or not anchors:
                continue
            data = path.read_bytes()
            # The originating tests give one anchor set; it serves signer and TSA chains alike.
            cases.append(
                Case(
                    name="corpus:" + short,
                    data=data,
                    signer_anchors=anchors,
                    tsa_anchors=anchors,
                    at=_at(data),
                )
            )
    return cases


# -- implementations ---------------------------------------------------------------------------

Runner = Callable[[], str]


def _load_certs(paths: Sequence[Path]) -> list[Any]:
    from asn1crypto import pem, x509

    out: list[Any] = []
    for p in paths:
        raw = p.read_bytes()
        if pem.detect(raw):
            out.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(raw, multiple=True))
        else:
            out.append(x509.Certificate.load(raw))
    return out


def prepare_ltv(case: Case) -> Runner:
    from ltv.policy import Online, ValidationPolicy
    from ltv.trust import TrustStore
    from ltv.verify import Verifier

    policy = ValidationPolicy(
        trust=TrustStore.from_paths(case.signer_anchors),
        tsa_trust=TrustStore.from_paths(case.tsa_anchors),
        online=Online.NEVER,
    )
    verifier = Verifier(policy)

    def run() -> str:
        report = verifier.verify(case.data, path=case.name, now=case.at)
        if report.network.requests:
            raise AssertionError("ltv went online while verifying offline")
        subs = sorted(
            {s.subindication.value for s in report.signatures if s.subindication is not None}
        )
        return report.indication.value + (f" ({', '.join(subs)})" if subs else "")

    return run


def _adobe_revinfo(sig: Any) -> tuple[list[Any], list[Any]]:
    from pyhanko.sign.general import (
        MultivaluedAttributeError,
        NonexistentAttributeError,
        find_unique_cms_attribute,
    )

    try:
        value = find_unique_cms_attribute(
            sig.signer_info["signed_attrs"], "adobe_revocation_info_archival"
        )
    except (NonexistentAttributeError, MultivaluedAttributeError):
        return [], []
    ocsps = list(value["ocsp"]) if value["ocsp"] else []
    crls = list(value["crl"]) if value["crl"] else []
    return ocsps, crls


def prepare_pyhanko_legacy(case: Case) -> Runner:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError
    from pyhanko_certvalidator import ValidationContext

    signer_roots = _load_certs(case.signer_anchors)
    tsa_roots = _load_certs(case.tsa_anchors)
    at = case.at

    def run() -> str:
        reader = PdfFileReader(io.BytesIO(case.data), strict=False)
        try:
            dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
        except NoDSSFoundError:
            dss = None

        def context(roots: list[Any], sig: Any) -> ValidationContext:
            ocsps, crls = _adobe_revinfo(sig) if sig.sig_object_type == "/Sig" else ([], [])
            kwargs: dict[str, Any] = {
                "trust_roots": roots,
                "allow_fetching": False,
                "moment": at,
                "revocation_mode": "hard-fail",
                "ocsps": ocsps,
                "crls": crls,
            }
            if dss is not None:
                return dss.as_validation_context(kwargs)
            return ValidationContext(**kwargs)

        verdicts = []
        for sig in reader.embedded_signatures:
            if sig.sig_object_type == "/DocTimeStamp":
                ts_status = validate_pdf_timestamp(sig, validation_context=context(tsa_roots, sig))
                verdicts.append(ts_status.valid and ts_status.intact and ts_status.trusted)
            else:
                status = validate_pdf_signature(
                    sig,
                    signer_validation_context=context(signer_roots, sig),
                    ts_validation_context=context(tsa_roots, sig),
                )
                verdicts.append(status.bottom_line)
        ok = sum(verdicts)
        if verdicts and ok == len(verdicts):
            return f"PASSED ({ok}/{len(verdicts)})"
        return f"NOT PASSED ({ok}/{len(verdicts)} ok)"

    return run


def prepare_pyhanko_ades(case: Case) -> Runner:
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

    def cvp(paths: Sequence[Path]) -> CertValidationPolicySpec:
        return CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=_load_certs(paths)),
            revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
        )

    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=cvp(case.signer_anchors),
            ts_cert_validation_policy=cvp(case.tsa_anchors),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
                certificate_fetching_rule=CertificateFetchingRule.NEVER_FETCH,
                fetcher_backend=HttpFetcherBackend(NoNetwork()),
            ),
        )
    )
    timing = ValidationTimingInfo(case.at, case.at, False)

    async def validate_all() -> list[str]:
        reader = PdfFileReader(io.BytesIO(case.data), strict=False)
        out = []
        for sig in reader.embedded_regular_signatures:
            result = await ades_lta_validation(sig, spec, timing_info=timing)
            out.append(str(getattr(result.ades_subindic, "name", result.ades_subindic)))
        return out

    def run() -> str:
        subs = asyncio.run(validate_all())
        if subs and all(s == "OK" for s in subs):
            return "PASSED"
        return "; ".join(sorted(set(subs))) or "no signature"

    return run


PREPARE: dict[str, Callable[[Case], Runner]] = {
    "ltv": prepare_ltv,
    "ph-legacy": prepare_pyhanko_legacy,
    "ph-ades": prepare_pyhanko_ades,
}


# -- the benchmark -----------------------------------------------------------------------------


def tracemalloc_peak_kib(run: Runner) -> float:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1024.0


def rss_in_child(impl: str, *, corpus: bool) -> dict[str, float] | None:
    """Peak RSS of a fresh process running *impl* over every case (3 passes)."""
    import subprocess

    cmd = [sys.executable, "-m", "benchmarks.verify_bench", impl]
    if not corpus:
        cmd.append("--no-corpus")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        return None
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(
    *, rounds: int, corpus: bool = True, memory: bool = True, rss: bool = True, log: Any = None
) -> dict[str, Any]:
    quiet_pyhanko_logs()
    cases = load_cases(corpus=corpus)
    runners = {(c.name, impl): PREPARE[impl](c) for c in cases for impl in IMPLS}
    verdicts: dict[tuple[str, str], str] = {}
    # warm-up: imports, lazy caches, first-call costs are not throughput
    for key, runner in runners.items():
        verdicts[key] = runner()
    samples = {key: Samples() for key in runners}
    for r in range(rounds):
        settle()
        for case in cases:
            for impl in interleaved_order(IMPLS, r):
                seconds, _ = timed(runners[(case.name, impl)])
                samples[(case.name, impl)].add(seconds)
        if log is not None:
            log(f"verify: round {r + 1}/{rounds}")
    peaks: dict[tuple[str, str], float] = {}
    if memory:
        for key, runner in runners.items():
            settle()
            peaks[key] = tracemalloc_peak_kib(runner)
    rss_result = {impl: rss_in_child(impl, corpus=corpus) for impl in IMPLS} if rss else {}

    rows = []
    for case in cases:
        row: dict[str, Any] = {
            "case": case.name,
            "bytes": len(case.data),
            "at": case.at.isoformat(),
            "impls": {},
        }
        for impl in IMPLS:
            s = samples[(case.name, impl)]
            row["impls"][impl] = {
                **s.summary(),
                "verdict": verdicts[(case.name, impl)],
                "tracemalloc_peak_kib": round(peaks[(case.name, impl)], 1) if peaks else None,
            }
        for base in BASELINES:
            row[f"ratio_ltv_{base}"] = _r(
                ratio(samples[(case.name, "ltv")].median_ms, samples[(case.name, base)].median_ms)
            )
        rows.append(row)
    summary = {
        f"geomean_ratio_ltv_{base}": _r(geomean([row[f"ratio_ltv_{base}"] for row in rows]))
        for base in BASELINES
    }
    return {"rounds": rounds, "cases": rows, "summary": summary, "rss": rss_result}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def render(result: dict[str, Any]) -> str:
    headers = [
        "case",
        "kB",
        *(f"{impl} med/p90" for impl in IMPLS),
        *(f"ltv/{b}" for b in BASELINES),
    ]
    rows = []
    for row in result["cases"]:
        cells = [row["case"], f"{row['bytes'] / 1000:.0f}"]
        for impl in IMPLS:
            d = row["impls"][impl]
            cells.append(f"{fmt_ms(d['median_ms'])} / {fmt_ms(d['p90_ms'])}")
        cells += [fmt_ratio(row[f"ratio_ltv_{b}"]) for b in BASELINES]
        rows.append(cells)
    summary = result["summary"]
    rows.append(
        ["geomean", "", "", "", ""]
        + [fmt_ratio(summary[f"geomean_ratio_ltv_{b}"]) for b in BASELINES]
    )
    out = [
        table(
            headers,
            rows,
            title=(
                f"verify, offline, ms/doc (median / p90 of {result['rounds']} interleaved rounds; "
                "ratio = median ltv / median pyHanko, <1 means ltv is faster)"
            ),
        )
    ]
    vrows = []
    for row in result["cases"]:
        for impl in IMPLS:
            d = row["impls"][impl]
            peak = d["tracemalloc_peak_kib"]
            vrows.append(
                [
                    row["case"] if impl == IMPLS[0] else "",
                    impl,
                    d["verdict"],
                    "-" if peak is None else f"{peak:.0f}",
                ]
            )
    out.append(
        table(
            ["case", "impl", "verdict (at = newest timestamp + 1 min)", "tracemalloc peak KiB"],
            vrows,
            title="verify: verdicts and Python-heap peak per doc",
            align="lllr",
        )
    )
    if result["rss"]:
        rrows = []
        for impl, rss in result["rss"].items():
            if rss is None:
                rrows.append([impl, "failed", "failed", "-"])
            else:
                rrows.append(
                    [
                        impl,
                        f"{rss['after_import_mib']:.1f}",
                        f"{rss['after_verify_mib']:.1f}",
                        f"{rss['after_verify_mib'] - rss['after_import_mib']:.1f}",
                    ]
                )
        out.append(
            table(
                ["impl", "after imports + 1 doc MiB", "after all cases x3 MiB", "growth MiB"],
                rrows,
                title="verify: peak RSS of a fresh process per implementation",
            )
        )
    return "\n\n".join(out)


def _child(argv: Sequence[str]) -> int:
    impl = argv[0]
    corpus = "--no-corpus" not in argv
    quiet_pyhanko_logs()
    cases = load_cases(corpus=corpus)
    runners = [PREPARE[impl](c) for c in cases]
    runners[0]()  # the lazy imports of the implementation happen on its first document
    # ru_maxrss is in KiB on Linux
    after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    for _ in range(3):
        for r in runners:
            r()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"after_import_mib": after_import, "after_verify_mib": after}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))
