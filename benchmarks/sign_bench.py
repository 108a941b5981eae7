"""Signing throughput: ltv's Signer vs pyHanko's PdfSigner, B-LT and B-LTA, on one loopback PKI.

Both sides sign ``samples/unsigned.pdf`` with ``signer-good`` against one
:class:`samples.pki.server.PkiServer` started here on 127.0.0.1, and both reach it through the
same network path: ltv's HTTP client behind :class:`benchmarks.common.LoopbackOnly`, used by
ltv's ``Signer`` directly and by pyHanko through ltv's ``HttpFetcherBackend`` (OCSP/CRL/certs)
and ltv's ``make_timestamper`` (RFC 3161) — pyHanko's own aiohttp fetchers cannot honour the
``connect_to`` map for ``pki.ltv.test``. So the comparison is about the signing work.

Implementations, per level:

* ``ltv-warm``  one ``Signer`` reused: its ``EvidenceCache`` serves the chain's OCSP answers
                while they are fresh (the designed server behaviour: one fetch per validity
                window), so a document costs one TSA call (two at B-LTA).
* ``ltv-cold``  the same, with the evidence cache cleared before every document: the same
                fetches as pyHanko makes.
* ``pyhanko``   ``PdfSigner`` with ``embed_validation_info=True`` (``use_pades_lta=True`` at
                B-LTA), a fresh ``ValidationContext`` per document (pyHanko's rule: one per
                operation), trust roots ``root`` + ``tsa-root``, fetching on.

One timestamper per implementation is reused across documents (its size-estimating TSA call
happens once, in the warm-up). Every variant's output is verified once by ltv (offline) as a
sanity check; that is not timed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import (
    LoopbackOnly,
    Samples,
    fmt_ms,
    fmt_ratio,
    interleaved_order,
    quiet_pyhanko_logs,
    ratio,
    settle,
    table,
    timed,
    union_length,
)

ROOT = Path(__file__).resolve().parent.parent
LEVELS: tuple[str, ...] = ("B-LT", "B-LTA")
IMPLS: tuple[str, ...] = ("ltv-warm", "ltv-cold", "pyhanko")
FIELD = "Signature1"

Runner = Callable[[], bytes]


def _ltv_runner(level: str, network: Any, *, cold: bool) -> Runner:
    from ltv.sign import PadesLevel, Signer, SigningPolicy
    from samples import pki

    signer = Signer.from_pkcs12(
        pki.SIGNER_GOOD_P12,
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel(level), tsa_url=pki.TSA_URL),
        network=network,
        chain=[pki.CERTS_DIR / "tsa-root.cert.pem"],
    )
    pdf = (ROOT / "samples" / "unsigned.pdf").read_bytes()

    def run() -> bytes:
        if cold:
            signer.cache.clear()
        return signer.sign(pdf, field=FIELD)

    return run


def _pyhanko_runner(level: str, network: Any) -> Runner:
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator import ValidationContext

    from ltv.evidence.fetchers import HttpFetcherBackend
    from ltv.sign import make_timestamper
    from samples import pki

    roots: list[Any] = []
    for label in ("root", "tsa-root"):
        raw = (pki.CERTS_DIR / f"{label}.cert.pem").read_bytes()
        roots.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(raw, multiple=True))
    signer = signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
        str(pki.SIGNER_GOOD_P12), passphrase=pki.P12_PASSPHRASE.encode()
    )
    if signer is None:
        raise RuntimeError("pyHanko could not load the sample PKCS#12")
    backend = HttpFetcherBackend(network)
    stamper = make_timestamper(pki.TSA_URL, network)
    pdf = (ROOT / "samples" / "unsigned.pdf").read_bytes()
    lta = level == "B-LTA"

    def run() -> bytes:
        vc = ValidationContext(trust_roots=roots, allow_fetching=True, fetcher_backend=backend)
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD,
            md_algorithm="sha256",
            subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=True,
            validation_context=vc,
            use_pades_lta=lta,
        )
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=stamper)
        out = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)))
        data: bytes = out.getvalue()
        return data

    return run


def _ltv_verdict(data: bytes) -> str:
    from ltv.policy import ValidationPolicy
    from ltv.trust import TrustStore
    from ltv.verify import Verifier
    from samples import pki

    policy = ValidationPolicy(
        trust=TrustStore.from_file(pki.CERTS_DIR / "root.cert.pem"),
        tsa_trust=TrustStore.from_file(pki.CERTS_DIR / "tsa-root.cert.pem"),
    )
    report = Verifier(policy).verify(data, now=datetime.now(UTC))
    levels = {s.level.value for s in report.signatures if s.level is not None}
    return f"{report.indication.value} {'/'.join(sorted(levels))}".strip()


def run(*, rounds: int, log: Any = None) -> dict[str, Any]:
    from samples.pki.server import PkiServer

    quiet_pyhanko_logs()
    with PkiServer(port=0) as server:
        network = LoopbackOnly(server.connect_to)
        runners: dict[tuple[str, str], Runner] = {}
        for level in LEVELS:
            runners[(level, "ltv-warm")] = _ltv_runner(level, network, cold=False)
            runners[(level, "ltv-cold")] = _ltv_runner(level, network, cold=True)
            runners[(level, "pyhanko")] = _pyhanko_runner(level, network)
        outputs: dict[tuple[str, str], bytes] = {}
        for key, runner in runners.items():  # warm-up: imports, TSA size estimate, first fetch
            outputs[key] = runner()
        samples = {key: Samples() for key in runners}
        work = {key: Samples() for key in runners}  # minus the union of HTTP request intervals
        requests = dict.fromkeys(runners, 0)
        for r in range(rounds):
            settle()
            for level in LEVELS:
                for impl in interleaved_order(IMPLS, r):
                    key = (level, impl)
                    before = len(server.log)
                    network.take_intervals()
                    seconds, outputs[key] = timed(runners[key])
                    requests[key] += len(server.log) - before
                    samples[key].add(seconds)
                    work[key].add(seconds - union_length(network.take_intervals()))
            if log is not None:
                log(f"sign: round {r + 1}/{rounds}")
    verdicts = {key: _ltv_verdict(data) for key, data in outputs.items()}
    rows = []
    for level in LEVELS:
        row: dict[str, Any] = {"level": level, "impls": {}}
        for impl in IMPLS:
            key = (level, impl)
            row["impls"][impl] = {
                **samples[key].summary(),
                "work_median_ms": round(work[key].median_ms, 3),
                "work_p90_ms": round(work[key].p90_ms, 3),
                "http_requests_per_doc": round(requests[key] / max(rounds, 1), 2),
                "output_bytes": len(outputs[key]),
                "ltv_verdict_of_output": verdicts[key],
            }
        for impl in ("ltv-warm", "ltv-cold"):
            value = ratio(samples[(level, impl)].median_ms, samples[(level, "pyhanko")].median_ms)
            row[f"ratio_{impl}_pyhanko"] = None if value is None else round(value, 3)
            value = ratio(work[(level, impl)].median_ms, work[(level, "pyhanko")].median_ms)
            row[f"work_ratio_{impl}_pyhanko"] = None if value is None else round(value, 3)
        rows.append(row)
    return {"rounds": rounds, "levels": rows}


def render(result: dict[str, Any]) -> str:
    ratio_cols = ("ltv-warm", "ltv-cold")
    out = []
    for prefix, what in (("", "wall"), ("work_", "wall minus time waiting on HTTP")):
        headers = [
            "level",
            *(f"{i} med/p90" for i in IMPLS),
            *(f"{i.removeprefix('ltv-')}/pyhanko" for i in ratio_cols),
        ]
        rows = []
        for row in result["levels"]:
            cells = [row["level"]]
            for impl in IMPLS:
                d = row["impls"][impl]
                med = d[f"{prefix}median_ms"]
                p90 = d[f"{prefix}p90_ms"]
                cells.append(f"{fmt_ms(med)} / {fmt_ms(p90)}")
            cells += [fmt_ratio(row[f"{prefix}ratio_{i}_pyhanko"]) for i in ratio_cols]
            rows.append(cells)
        out.append(
            table(
                headers,
                rows,
                title=(
                    f"sign, {what}, ms/doc (median / p90 of {result['rounds']} interleaved "
                    "rounds, loopback PKI; ratio = median ltv / median pyHanko)"
                ),
            )
        )
    drows = []
    for row in result["levels"]:
        for impl in IMPLS:
            d = row["impls"][impl]
            drows.append(
                [
                    row["level"] if impl == IMPLS[0] else "",
                    impl,
                    f"{d['http_requests_per_doc']:g}",
                    str(d["output_bytes"]),
                    d["ltv_verdict_of_output"],
                ]
            )
    out.append(
        table(
            ["level", "impl", "HTTP req/doc", "output bytes", "ltv verify of the output"],
            drows,
            title="sign: work per document",
            align="llrrl",
        )
    )
    return "\n\n".join(out)
