"""Fuzz targets over ltv's public APIs: one ``run(data)`` per target, engine-agnostic.

Each target feeds one input to public entry points only and judges the outcome:

* an exception escaping the API (other than the documented ``InputError``/``ValueError``)
  is a finding of kind ``exception``;
* a report whose ``error`` says "internal error" is a finding of kind ``internal-error``;
* a TOTAL-PASSED for a signature whose signed bytes, CMS signed parts or timestamp token were
  changed is a finding of kind ``verdict`` (the worst bug ltv can have);
* an input that takes longer than :data:`SLOW_SECONDS` is a finding of kind ``slow`` (the
  engines also kill hangs).

Findings are written to ``FINDINGS_DIR/<target>/<kind>-<sha256[:16]>.bin`` with a ``.txt``
beside it (what happened, the crash site); ``tests/regressions/`` replays committed ones.

Targets: ``ocsp``, ``crl``, ``tst`` (RFC 3161 tokens), ``inspect`` (DER objects through
``ltv inspect``'s describers, text and JSON rendering), ``pdf`` (extraction + inspect of raw
mutated PDFs), ``verify`` (the whole ``Verifier`` on raw mutated PDFs) and ``signed`` (the
whole ``Verifier`` on structure-aware mutations inside ByteRanges, CMS signed parts and
timestamp tokens, with the verdict asserted).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CORPUS = Path(os.environ.get("LTV_CORPUS") or ROOT.parent / "shared" / "corpus")
FINDINGS_DIR = Path(os.environ.get("LTV_FUZZ_FINDINGS") or ROOT / "fuzz" / "findings")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
"""The moment of judgement for every fuzzed verification (the samples' reference time)."""
SLOW_SECONDS = 10.0
MAX_SEED_BYTES = 400_000


# --------------------------------------------------------------------------- findings


@dataclass
class Stats:
    runs: int = 0
    findings: dict[str, int] = field(default_factory=dict)


STATS = Stats()


def crash_site(exc: BaseException) -> str:
    """``Type at file:line [via ltv/file:line]``: where it was raised and the deepest ltv frame
    it passed through (the place that should have turned it into data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__

    def short(frame: traceback.FrameSummary) -> str:
        path = frame.filename
        if "site-packages/" in path:
            path = path.split("site-packages/", 1)[1]
        with contextlib.suppress(ValueError):
            path = str(Path(path).relative_to(ROOT))
        return f"{path}:{frame.lineno}"

    site = f"{type(exc).__name__} at {short(frames[-1])}"
    ours = [f for f in frames if "/ltv/" in f.filename]
    if ours and ours[-1] is not frames[-1]:
        site += f" via {short(ours[-1])}"
    return site


def record(target: str, kind: str, data: bytes, detail: str) -> None:
    """Save one finding (idempotent: the file name is the input's digest)."""
    STATS.findings[kind] = STATS.findings.get(kind, 0) + 1
    folder = FINDINGS_DIR / target
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{kind}-{hashlib.sha256(data).hexdigest()[:16]}"
    (folder / f"{stem}.bin").write_bytes(data)
    (folder / f"{stem}.txt").write_text(detail + "\n", encoding="utf-8")


class Finding(Exception):
    """Raised inside a target to report a finding of ``kind``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# --------------------------------------------------------------------------- shared fixtures


def _pem_cert(label: str) -> Any:
    from samples import pki

    return pki.load_cert(label)


@cache
def cert_pairs() -> list[tuple[Any, Any]]:
    """(certificate, issuer) pairs of the sample PKI the evidence targets judge against."""
    return [
        (_pem_cert("signer-good"), _pem_cert("interm")),
        (_pem_cert("interm"), _pem_cert("root")),
        (_pem_cert("tsa"), _pem_cert("tsa-root")),
        (_pem_cert("signer-revoked"), _pem_cert("interm")),
    ]


@cache
def verifier() -> Any:
    from ltv import TrustStore, ValidationPolicy, Verifier
    from samples import pki

    return Verifier(
        ValidationPolicy(
            trust=TrustStore.from_file(pki.cert_path("root")),
            tsa_trust=TrustStore.from_file(pki.cert_path("tsa-root")),
        )
    )


def extract_adapter(data: bytes) -> Any:
    """The one place the harness calls extraction (its name may change in a refactor)."""
    from ltv.pipeline.extract import extract

    return extract(data)


class _LastError(logging.Handler):
    """Keeps the exception the Verifier logged for its catch-all, to name the crash site."""

    exc: BaseException | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exc = record.exc_info[1]


_LAST = _LastError()
logging.getLogger("ltv").addHandler(_LAST)


def _check_report(report: Any) -> None:
    if report.error and "internal error" in report.error:
        site = crash_site(_LAST.exc) if _LAST.exc is not None else "?"
        tb = "".join(traceback.format_exception(_LAST.exc)) if _LAST.exc is not None else ""
        raise Finding("internal-error", f"{site}\n{report.error}\n{tb}")
    report.to_dict()  # the JSON projection must never fail either
    from rich.console import Console

    from ltv.render import render_text

    Console(file=io.StringIO(), width=100, no_color=True).print(render_text(report))


# --------------------------------------------------------------------------- seeds


def _files(folder: Path, *patterns: str) -> list[Path]:
    if not folder.is_dir():
        return []
    out: list[Path] = []
    for pattern in patterns:
        out.extend(p for p in folder.rglob(pattern) if p.is_file())
    return sorted(set(out))


def seed_pdfs() -> list[bytes]:
    paths = _files(SAMPLES, "*.pdf") + _files(CORPUS, "*.pdf")
    return [p.read_bytes() for p in paths if p.stat().st_size <= MAX_SEED_BYTES]


def _der_of(raw: bytes) -> bytes | None:
    if raw[:1] == b"\x30":
        return raw
    text = raw.strip()
    if text.startswith(b"-----BEGIN"):
        from asn1crypto import pem

        with contextlib.suppress(ValueError):
            return bytes(pem.unarmor(text)[2])
        return None
    with contextlib.suppress(ValueError):
        der = base64.b64decode(b"".join(text.split()), validate=True)
        return der if der[:1] == b"\x30" else None
    return None


@cache
def _pdf_evidence() -> dict[str, list[bytes]]:
    """OCSP responses, CRLs and timestamp tokens found in the sample PDFs."""
    out: dict[str, list[bytes]] = {"ocsp": [], "crl": [], "tst": []}
    for pdf in _files(SAMPLES, "*.pdf"):
        try:
            ex = extract_adapter(pdf.read_bytes())
        except Exception:  # noqa: S112 - an unsigned sample
            continue
        for item in ex.evidence:
            out[item.kind].append(item.der)
        for sig in ex.signatures:
            from asn1crypto import cms

            for tst in sig.signature_tsts:
                out["tst"].append(
                    cms.ContentInfo({"content_type": "signed_data", "content": tst}).dump()
                )
            if sig.kind == "document-timestamp":
                out["tst"].append(
                    cms.ContentInfo(
                        {"content_type": "signed_data", "content": sig.embedded.signed_data}
                    ).dump()
                )
    return out


def seed_ders(kind: str) -> list[bytes]:
    """Seeds for a DER target: from the sample PDFs and ../shared/corpus (when present)."""
    found = list(_pdf_evidence().get(kind, []))
    patterns = {
        "ocsp": ("*.ors", "*ocsp*.der", "*.ocsp"),
        "crl": ("*.crl",),
        "tst": ("*.tsr", "*.tst", "*timestamp*.der"),
        "inspect": ("*.ors", "*.crl", "*.tsr", "*.cer", "*.crt", "*.der", "*.pem"),
    }[kind]
    for path in _files(CORPUS / "tokens", *patterns) + _files(CORPUS / "trust", *patterns):
        der = _der_of(path.read_bytes())
        if der is not None and len(der) <= MAX_SEED_BYTES:
            found.append(der)
    if kind == "inspect":
        for sub in ("ocsp", "crl", "tst"):
            found.extend(_pdf_evidence()[sub])
    if kind == "tst":
        # TimeStampResp files: keep the token inside
        from asn1crypto import tsp

        tokens = []
        for der in found:
            try:
                resp = tsp.TimeStampResp.load(der)
                tokens.append(resp["time_stamp_token"].dump())
            except Exception:
                tokens.append(der)
        found = tokens
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------- DER targets


def run_ocsp(data: bytes) -> None:
    from ltv.evidence.ocsp import check_ocsp_response, read_single_responses

    for cert, issuer in cert_pairs():
        outcome = check_ocsp_response(data, cert, issuer, at=NOW)
        outcome2 = check_ocsp_response(data, cert, issuer)
        for o in (outcome, outcome2):
            if o.ok and (o.this_update is None or o.responder is None):
                raise Finding("exception", f"authoritative outcome without its fields: {o}")
    with contextlib.suppress(ValueError):
        read_single_responses(data)


def run_crl(data: bytes) -> None:
    from ltv.evidence.crl import CrlIndex, check_crl

    for cert, issuer in cert_pairs():
        check_crl(data, cert, issuer, at=NOW)
    try:
        index = CrlIndex(data)
    except ValueError:
        return
    for cert, issuer in cert_pairs():
        check_crl(index, cert, issuer)
        index.lookup(cert.serial_number)


def run_tst(data: bytes) -> None:
    from asn1crypto import cms

    from ltv.tst import check_token, digest

    try:  # parsing the envelope is asn1crypto's business, not ltv's API
        ci = cms.ContentInfo.load(data)
        if ci["content_type"].native != "signed_data":
            return
        token = ci["content"]
    except (ValueError, TypeError, KeyError):
        return
    extra = [c for pair in cert_pairs() for c in pair]
    for imprint in (b"", data[:64]):
        result = check_token(
            token, lambda algo, imprint=imprint: digest(algo, imprint), extra_certs=extra
        )
        if result.bound:
            raise Finding("verdict", "a mutated token is bound to an imprint it never covered")


def _render_inspect(result: dict[str, Any]) -> None:
    from ltv.cli.inspect import render_text

    json.dumps(result, ensure_ascii=False)
    with contextlib.redirect_stdout(io.StringIO()):
        render_text(result)
    _inspect_schema().validate(result)


@cache
def _inspect_schema() -> Any:
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "inspect.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def run_inspect(data: bytes) -> None:
    from ltv.errors import InputError
    from ltv.inspect import inspect_bytes

    try:
        result = inspect_bytes(data, path="fuzz")
    except InputError:
        return
    _render_inspect(result)


# --------------------------------------------------------------------------- PDF targets


def run_pdf(data: bytes) -> None:
    from ltv.errors import InputError
    from ltv.inspect import inspect_bytes

    with contextlib.suppress(InputError):
        extract_adapter(data)
    try:
        result = inspect_bytes(data, path="fuzz.pdf")
    except InputError:
        return
    _render_inspect(result)


@dataclass(frozen=True)
class SigLayout:
    """Where one signature's signed things are in the file (absolute offsets)."""

    field: str
    byte_range: tuple[tuple[int, int], ...]
    contents_start: int
    """Offset of the first hex digit of /Contents."""
    cms_signed: tuple[tuple[int, int], ...]
    """DER-byte spans of the CMS that its signature protects (signed attrs, eContent, value)."""
    token_signed: tuple[tuple[int, int], ...]
    """DER-byte spans of the signature timestamp token's signed parts."""
    passed: bool
    signed_digest: str

    def covers(self, offset: int) -> bool:
        return any(a <= offset < a + n for a, n in self.byte_range)

    def der_index(self, offset: int) -> int | None:
        i = offset - self.contents_start
        return i // 2 if i >= 0 else None


def _spans_in(der: bytes, parts: list[bytes], base: int = 0) -> list[tuple[int, int]]:
    spans = []
    for part in parts:
        if not part:
            continue
        pos = der.find(part)
        if pos >= 0:
            spans.append((base + pos, base + pos + len(part)))
    return spans


def _signed_parts(signed_data: Any) -> list[bytes]:
    from asn1crypto import core

    parts: list[bytes] = []
    eci = signed_data["encap_content_info"]["content"]
    if not isinstance(eci, core.Void):
        parts.append(bytes(eci.contents))
    for si in signed_data["signer_infos"]:
        if not isinstance(si["signed_attrs"], core.Void):
            parts.append(si["signed_attrs"].contents)
        parts.append(si["signature"].contents)
    return parts


@dataclass(frozen=True)
class Seed:
    data: bytes
    layouts: tuple[SigLayout, ...]


def _layout(data: bytes) -> Seed:
    report = verifier().verify(data, now=NOW)
    verdicts = {s.field: s.indication.value == "TOTAL-PASSED" for s in report.signatures}
    layouts = []
    try:
        ex = extract_adapter(data)
    except Exception:
        return Seed(data, ())
    for sig in ex.signatures:
        try:
            br = [int(x) for x in sig.embedded.byte_range]
            pairs = tuple((br[i], br[i + 1]) for i in range(0, len(br) - 1, 2))
            start = pairs[0][0] + pairs[0][1] + 1
            der = bytes(sig.embedded.pkcs7_content)
            cms_spans = _spans_in(der, _signed_parts(sig.embedded.signed_data))
            token_spans: list[tuple[int, int]] = []
            for tst in sig.signature_tsts:
                token_spans += _spans_in(der, _signed_parts(tst))
            signed = b"".join(data[a : a + n] for a, n in pairs)
        except Exception:  # noqa: S112 - a seed signature we cannot lay out is just skipped
            continue
        layouts.append(
            SigLayout(
                field=sig.field,
                byte_range=pairs,
                contents_start=start,
                cms_signed=tuple(cms_spans),
                token_signed=tuple(token_spans),
                passed=verdicts.get(sig.field, False),
                signed_digest=hashlib.sha256(signed).hexdigest(),
            )
        )
    return Seed(data, tuple(layouts))


@cache
def signed_seeds() -> list[Seed]:
    seeds = [_layout(d) for d in seed_pdfs()]
    return [s for s in seeds if s.layouts]


@cache
def known_signed_digests() -> frozenset[str]:
    return frozenset(lay.signed_digest for s in signed_seeds() for lay in s.layouts)


def _passed_signed_digests(data: bytes, report: Any) -> Iterator[tuple[str, str]]:
    passed = {s.field for s in report.signatures if s.indication.value == "TOTAL-PASSED"}
    if not passed:
        return
    ex = extract_adapter(data)
    for sig in ex.signatures:
        if sig.field in passed:
            br = [int(x) for x in sig.embedded.byte_range]
            signed = b"".join(data[br[i] : br[i] + br[i + 1]] for i in range(0, len(br) - 1, 2))
            yield sig.field, hashlib.sha256(signed).hexdigest()


def run_verify(data: bytes) -> None:
    """Raw mutations of whole PDFs through the Verifier."""
    report = verifier().verify(data, now=NOW)
    _check_report(report)
    for fld, digest in _passed_signed_digests(data, report):
        if digest not in known_signed_digests():
            raise Finding("verdict", f"{fld!r} TOTAL-PASSED over bytes nobody signed")


def _mutate(seed: Seed, decisions: bytes) -> tuple[bytes, list[int]]:
    """Apply 1-3 mutations chosen by ``decisions``; return (data, changed file offsets)."""
    out = bytearray(seed.data)
    changed: list[int] = []
    pos = 0

    def take(n: int) -> int:
        nonlocal pos
        chunk = decisions[pos : pos + n].ljust(n, b"\x00")
        pos += n
        return int.from_bytes(chunk, "big")

    count = 1 + take(1) % 3
    for _ in range(count):
        lay = seed.layouts[take(1) % len(seed.layouts)]
        region = take(1) % 4
        xor = take(1) or 1
        if region in (1, 2):  # inside /Contents: a DER byte of the CMS / the token
            spans = lay.cms_signed if region == 1 else lay.token_signed
            if not spans:
                spans = lay.cms_signed or ((0, 1),)
            a, b = spans[take(1) % len(spans)]
            i = a + take(4) % max(1, b - a)
            hex_at = lay.contents_start + 2 * i
            old = bytes.fromhex(out[hex_at : hex_at + 2].decode("ascii", "replace"))
            new = f"{old[0] ^ xor:02x}".encode()
            if out[hex_at : hex_at + 2].isupper():
                new = new.upper()
            out[hex_at : hex_at + 2] = new
            changed += [hex_at, hex_at + 1]
        else:  # in a signed byte range (region 0) or anywhere in the file (region 3)
            if region == 0:
                a, n = lay.byte_range[take(1) % len(lay.byte_range)]
                offset = a + take(4) % max(1, n)
            else:
                offset = take(4) % len(out)
            out[offset] ^= xor
            changed.append(offset)
    return bytes(out), changed


def run_signed(decisions: bytes) -> None:
    """Structure-aware mutations of signed PDFs; the verdict is asserted."""
    seeds = signed_seeds()
    if not seeds or not decisions:
        return
    seed = seeds[decisions[0] % len(seeds)]
    data, changed = _mutate(seed, decisions[1:])
    if data == seed.data:
        return
    must_fail: set[str] = set()
    token_broken: set[str] = set()
    for lay in seed.layouts:
        for off in changed:
            if seed.data[off] == data[off]:
                continue
            if lay.covers(off):
                must_fail.add(lay.field)
            i = lay.der_index(off)
            if i is not None and any(a <= i < b for a, b in lay.cms_signed):
                must_fail.add(lay.field)
            if i is not None and any(a <= i < b for a, b in lay.token_signed):
                token_broken.add(lay.field)
    try:
        _judge_signed(seed, data, must_fail, token_broken)
    except Finding as finding:  # keep the mutated PDF too: a regression case of its own
        record("verify", finding.kind, data, finding.detail)
        raise


def _judge_signed(seed: Seed, data: bytes, must_fail: set[str], token_broken: set[str]) -> None:
    report = verifier().verify(data, now=NOW)
    _check_report(report)
    passed_before = sum(lay.passed for lay in seed.layouts)
    can_pass = passed_before - sum(lay.passed for lay in seed.layouts if lay.field in must_fail)
    passed = [s for s in report.signatures if s.indication.value == "TOTAL-PASSED"]
    for s in passed:
        if s.field in must_fail:
            raise Finding("verdict", f"{s.field!r} TOTAL-PASSED after its signed bytes changed")
        if s.field in token_broken and s.timestamp is not None and s.timestamp.trusted:
            raise Finding("verdict", f"{s.field!r}: a changed timestamp token is trusted")
    if len(passed) > can_pass:
        raise Finding(
            "verdict", f"{len(passed)} signatures passed, at most {can_pass} may after mutation"
        )


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    allowed: tuple[type[BaseException], ...] = ()
    max_len: int = 65_536
    prepare: Callable[[], object] | None = None
    """Builds (and caches) what the target needs, outside the timing of an input."""


def _signed_decision_seeds() -> list[bytes]:
    seeds = signed_seeds()
    return [
        bytes([i, 0, j, r, 0x41, 0, 0, 0, 7])
        for i in range(len(seeds))
        for j in range(2)
        for r in range(4)
    ]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("ocsp", run_ocsp, lambda: seed_ders("ocsp")),
        Target("crl", run_crl, lambda: seed_ders("crl"), max_len=200_000),
        Target("tst", run_tst, lambda: seed_ders("tst")),
        Target("inspect", run_inspect, lambda: seed_ders("inspect")),
        Target("pdf", run_pdf, seed_pdfs, max_len=MAX_SEED_BYTES),
        Target(
            "verify", run_verify, seed_pdfs, max_len=MAX_SEED_BYTES, prepare=known_signed_digests
        ),
        Target("signed", run_signed, _signed_decision_seeds, max_len=64, prepare=signed_seeds),
    )
}


def one_input(target: Target, data: bytes) -> str | None:
    """Run one input; record and return the finding kind, if any."""
    if target.prepare is not None:
        target.prepare()
    STATS.runs += 1
    _LAST.exc = None
    start = time.monotonic()
    kind: str | None = None
    try:
        target.run(data)
    except Finding as finding:
        kind = finding.kind
        record(target.name, kind, data, finding.detail)
    except Exception as exc:
        kind = "exception"
        record(
            target.name,
            kind,
            data,
            f"{crash_site(exc)}\n{''.join(traceback.format_exception(exc))}",
        )
    elapsed = time.monotonic() - start
    if kind is None and elapsed > SLOW_SECONDS:
        kind = "slow"
        record(target.name, kind, data, f"{elapsed:.1f} s for one input")
    return kind
