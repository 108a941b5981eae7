"""Measure services: rounds of real requests, each timed and classified.

A round asks every target once per method (OCSP: GET and/or POST; CRL, caIssuers: GET; TSA:
POST) and per address family its name resolves to (IPv4, IPv6). The first round also sends each
target one request without a ``Host`` header (HTTP/1.0, as OpenSSL's OCSP client did). Every
request becomes a :class:`~ltv.probe.model.Measurement`: its timing (DNS, connect, TLS, time to
first byte, total), HTTP status, size, and what the answer was worth —

* OCSP (RFC 6960): a real request for the target's CertID, checked by
  :func:`ltv.evidence.ocsp.check_ocsp_response` (CertID, responder signature and authorisation,
  nonce, freshness at the probe's clock); good / revoked / unknown are correct answers;
* CRL (RFC 5280 §5): parsed; issuer and signature checked when the issuer is known; size,
  entries, thisUpdate / nextUpdate, CRL number, delta CRL (a delta, or a freshestCRL pointer);
* caIssuers (RFC 5280 §4.2.2.1): a certificate or certs-only PKCS#7;
* TSA (RFC 3161): a timestamp request over a throw-away random digest; the token must be
  granted, echo the nonce and pass :func:`ltv.tst.check_token` (imprint, TSA signature).

A failure is recorded as what it was (``dns``, ``refused``, ``timeout``, ``tls``, ``http-500``,
``malformed``, ``wrong-certid``, ``bad-signature``...). The probe never turns its own failure into
the responder's: when every target of a round (two or more) fails without any HTTP answer, the
round is marked ``local_problem`` — the probe's network, not N outages — and is left out of
availability and latency.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ltv.evidence.http import HttpClient, HttpError, HttpResponse, Timing
from ltv.probe.model import Category, Measurement, ProbeOptions, Target

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = ["ProbeRun", "classify_transport_error", "run_probe"]

_SKEW = timedelta(minutes=5)

_OCSP_DETAILS = {
    "malformed": "malformed",
    "no-matching-certid": "wrong-certid",
    "bad-signature": "bad-signature",
    "responder-id-mismatch": "not-authorized",
    "responder-not-authorized": "not-authorized",
    "expired": "stale",
    "not-yet-valid": "stale",
    "nonce-mismatch": "nonce-mismatch",
}
_NETWORK = {
    "unresolvable": "dns",
    "refused": "refused",
    "timeout": "timeout",
    "connection-error": "connection",
}


@dataclass
class ProbeRun:
    """Everything one ``ltv probe`` run measured."""

    options: ProbeOptions
    targets: list[Target]
    started_at: datetime
    finished_at: datetime | None = None
    measurements: list[Measurement] = field(default_factory=list)
    rounds: int = 0
    local_problem_rounds: list[int] = field(default_factory=list)
    families: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Per target key: ``(family, address)`` its name resolved to."""

    @property
    def run_id(self) -> str:
        """The run's identity: its start time (RFC 3339)."""
        return self.started_at.isoformat()


def classify_transport_error(err: HttpError) -> tuple[str, Category]:
    """An :class:`HttpError` as a probe error and whose failure it is."""
    detail = err.detail
    timing = err.exchange.timing if err.exchange is not None else None
    if detail == "connection-error" and timing is not None and timing.phase == "tls":
        return "tls", Category.NETWORK
    if detail in _NETWORK:
        return _NETWORK[detail], Category.NETWORK
    if detail.startswith("http-") or detail == "too-large":
        return detail, Category.RESPONDER
    return detail, Category.PROBE


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000.0, 3)


def _timing_fields(timing: Timing | None) -> dict[str, Any]:
    if timing is None:
        return {}
    return {
        "dns_ms": _ms(timing.dns),
        "connect_ms": _ms(timing.connect),
        "tls_ms": _ms(timing.tls),
        "ttfb_ms": _ms(timing.ttfb),
        "total_ms": _ms(timing.total),
    }


def _load_cert(der: bytes) -> x509.Certificate:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(der)


# -- per kind: build the request, judge the answer ---------------------------------------------


@dataclass
class _Prepared:
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    judge: Callable[[bytes, datetime], dict[str, Any]]
    """Body → Measurement fields (``ok``, ``error``, ``detail``, kind-specific values)."""


def _bad(error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": error, "category": Category.RESPONDER, "detail": detail, **extra}


def _prepare_ocsp(target: Target, method: str, options: ProbeOptions) -> _Prepared:
    from ltv.evidence.ocsp import OCSP_REQUEST_TYPE, build_ocsp_request, check_ocsp_response

    if target.cert_der is None or target.issuer_der is None:  # measure() checks first
        raise ValueError("an OCSP target needs the certificate and its issuer")
    cert = _load_cert(target.cert_der)
    issuer = _load_cert(target.issuer_der)
    nonce = secrets.token_bytes(32) if options.nonce else None
    der = build_ocsp_request(cert, issuer, nonce=nonce)

    def judge(body: bytes, at: datetime) -> dict[str, Any]:
        outcome = check_ocsp_response(body, cert, issuer, at=at, nonce=nonce, skew=_SKEW)
        fields: dict[str, Any] = {
            "produced_at": outcome.produced_at,
            "this_update": outcome.this_update,
            "next_update": outcome.next_update,
        }
        if outcome.ok:
            status = str(outcome.status)
            return {"ok": True, "ocsp_status": status, "detail": f"OCSP {status}", **fields}
        detail = outcome.detail or "malformed"
        error = _OCSP_DETAILS.get(detail, f"ocsp-{detail}")
        return _bad(error, f"OCSP response unusable: {detail}", **fields)

    accept = {"Accept": "application/ocsp-response"}
    if method == "GET":
        # RFC 6960 App. A.1: {url}/{url-encoding of base64 of DER OCSPRequest}
        encoded = quote(base64.b64encode(der).decode("ascii"), safe="")
        base = target.url if target.url.endswith("/") else target.url + "/"
        return _Prepared("GET", base + encoded, None, accept, judge)
    headers = {**accept, "Content-Type": OCSP_REQUEST_TYPE}
    return _Prepared("POST", target.url, der, headers, judge)


def _freshest_crl(der: bytes) -> bool:
    from cryptography import x509 as cx509
    from cryptography.x509.oid import ExtensionOID

    try:
        crl = cx509.load_der_x509_crl(der)
        crl.extensions.get_extension_for_oid(ExtensionOID.FRESHEST_CRL)
    except (cx509.ExtensionNotFound, ValueError):
        return False
    return True


def _judge_crl(issuer_der: bytes | None) -> Callable[[bytes, datetime], dict[str, Any]]:
    def judge(body: bytes, at: datetime) -> dict[str, Any]:
        from asn1crypto import pem

        from ltv.evidence.crl import CrlIndex

        der = body
        if pem.detect(der):
            try:
                _, _, der = pem.unarmor(der)
            except ValueError:
                return _bad("malformed", "not a CRL")
        try:
            index = CrlIndex(bytes(der))
        except ValueError:
            return _bad("malformed", "not a CRL (RFC 5280 §5 CertificateList)")
        fields: dict[str, Any] = {
            "this_update": index.this_update,
            "next_update": index.next_update,
            "crl_entries": len(index),
            "crl_number": index.number,
            "delta_crl": index.is_delta or _freshest_crl(index.raw),
        }
        if issuer_der is not None:
            issuer = _load_cert(issuer_der)
            if index.issuer != issuer.subject:
                return _bad("wrong-issuer", "the CRL is not issued by the expected CA", **fields)
            if not index.signed_by(issuer):
                return _bad("bad-signature", "the CRL signature does not verify", **fields)
        if index.next_update is not None and at - _SKEW > index.next_update:
            return _bad("stale", "the CRL is past its nextUpdate", **fields)
        if at + _SKEW < index.this_update:
            return _bad("stale", "the CRL's thisUpdate is in the future", **fields)
        signed = "signature checked" if issuer_der is not None else "signature not checked"
        return {"ok": True, "detail": f"CRL, {len(index)} entries, {signed}", **fields}

    return judge


def _judge_certs(body: bytes, at: datetime) -> dict[str, Any]:
    from ltv.certs import parse_certificates
    from ltv.errors import InputError
    from ltv.names import name_str

    try:
        certs = parse_certificates(body)
    except (ValueError, InputError):
        return _bad("malformed", "not a certificate or a PKCS#7 certs-only bundle")
    subjects = tuple(name_str(c.subject) for c in certs)
    return {"ok": True, "detail": f"{len(certs)} certificate(s)", "subjects": subjects}


def _prepare_tsa(target: Target) -> _Prepared:
    from asn1crypto import tsp

    digest = secrets.token_bytes(32)  # throw-away: nothing real is timestamped
    nonce = int.from_bytes(secrets.token_bytes(8), "big")
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )

    def judge(body: bytes, at: datetime) -> dict[str, Any]:
        from ltv.names import name_str
        from ltv.tst import check_token

        try:
            response = tsp.TimeStampResp.load(body, strict=True)
            status = str(response["status"]["status"].native)
            token = response["time_stamp_token"]
            response.native  # noqa: B018 - parse in full now
        except (ValueError, TypeError, KeyError):
            return _bad("malformed", "not an RFC 3161 TimeStampResp")
        if status not in ("granted", "granted_with_mods"):
            return _bad("tsa-rejected", f"the TSA answered {status}")
        try:
            signed_data = token["content"]
            tst_info = signed_data["encap_content_info"]["content"].parsed
            echoed = tst_info["nonce"].native
        except (ValueError, TypeError, KeyError, AttributeError):
            return _bad("malformed", "the timestamp token is unreadable")
        check = check_token(signed_data, lambda algo: digest if algo == "sha256" else b"")
        fields: dict[str, Any] = {"gen_time": check.gen_time}
        if check.tsa_cert is not None:
            fields["subjects"] = (name_str(check.tsa_cert.subject),)
        if echoed != nonce:
            return _bad("nonce-mismatch", "the token does not echo our nonce", **fields)
        if not check.imprint_ok:
            return _bad("wrong-imprint", "the token covers another digest", **fields)
        if not check.bound:
            return _bad("bad-signature", "; ".join(check.problems) or "token unbound", **fields)
        return {"ok": True, "detail": "timestamp granted, token verifies", **fields}

    headers = {
        "Content-Type": "application/timestamp-query",
        "Accept": "application/timestamp-reply",
    }
    return _Prepared("POST", target.url, bytes(request.dump()), headers, judge)


def _judge_any(body: bytes, at: datetime) -> dict[str, Any]:
    crl = _judge_crl(None)(body, at)
    if crl.get("error") != "malformed":
        return crl
    certs = _judge_certs(body, at)
    if certs["ok"]:
        return certs
    return {"ok": True, "detail": "answered (content not recognised)"}


def _prepare(target: Target, method: str, options: ProbeOptions) -> _Prepared:
    if target.kind == "ocsp":
        return _prepare_ocsp(target, method, options)
    if target.kind == "tsa":
        return _prepare_tsa(target)
    accept = {"Accept": "*/*"}
    if target.kind == "crl":
        accept = {"Accept": "application/pkix-crl"}
        return _Prepared("GET", target.url, None, accept, _judge_crl(target.issuer_der))
    if target.kind == "ca-issuers":
        return _Prepared("GET", target.url, None, accept, _judge_certs)
    return _Prepared("GET", target.url, None, accept, _judge_any)


def methods_for(target: Target, options: ProbeOptions) -> tuple[str, ...]:
    """The HTTP methods a target is measured with."""
    if target.kind == "ocsp":
        return options.methods
    if target.kind == "tsa":
        return ("POST",)
    return ("GET",)


# -- one request -------------------------------------------------------------------------------


def measure(
    client: HttpClient,
    target: Target,
    *,
    method: str,
    family: str | None,
    round_no: int,
    options: ProbeOptions,
    clock: Callable[[], datetime],
    host_header: bool = True,
) -> Measurement:
    """Send one request to ``target`` and classify what came back."""
    at = clock()
    base = Measurement(
        target=target.key,
        url=target.url,
        kind=target.kind,
        round=round_no,
        at=at,
        method=method,
        family=family,
        host_header=host_header,
    )
    if target.kind == "ocsp" and (target.cert_der is None or target.issuer_der is None):
        return replace(
            base,
            error="no-issuer",
            category=Category.PROBE,
            detail="the issuer certificate is unknown: no CertID to ask about",
        )
    prepared = _prepare(target, method, options)
    try:
        response: HttpResponse = client.request(
            prepared.method,
            prepared.url,
            body=prepared.body,
            headers=prepared.headers,
            timeout=options.timeout,
            family=family,
            send_host=host_header,
        )
    except HttpError as err:
        error, category = classify_transport_error(err)
        exchange = err.exchange
        timing = exchange.timing if exchange is not None else None
        total = timing.total if timing is not None else None
        return replace(
            base,
            peer=exchange.peer if exchange is not None else None,
            status=err.status,
            error=error,
            category=category,
            detail=_transport_detail(error, err),
            sla_breach=total is not None and total > options.sla,
            **_timing_fields(timing),
        )
    judged = prepared.judge(response.body, at)
    total = response.latency
    if response.timing is not None and response.timing.total is not None:
        total = response.timing.total
    return replace(
        base,
        peer=response.peer,
        status=response.status,
        size=len(response.body),
        sha256=hashlib.sha256(response.body).hexdigest(),
        sla_breach=total > options.sla,
        **_timing_fields(response.timing),
        **judged,
    )


def _transport_detail(error: str, err: HttpError) -> str:
    texts = {
        "dns": "the name does not resolve",
        "refused": "connection refused",
        "timeout": "no complete answer within the timeout",
        "tls": "TLS handshake failed",
        "connection": "connection failed or was reset",
    }
    if err.status is not None:
        return f"HTTP {err.status}"
    return texts.get(error, err.detail)


# -- rounds ------------------------------------------------------------------------------------


def _families(client: HttpClient, target: Target) -> list[tuple[str, str]]:
    try:
        resolved = client.resolve(target.url)
    except HttpError:
        return []
    seen: dict[str, str] = {}
    for family, address, _port in resolved:
        seen.setdefault(family, address)
    return list(seen.items())


def mark_local_problems(measurements: Sequence[Measurement]) -> tuple[list[Measurement], bool]:
    """Mark a round's measurements ``local_problem`` when every target (two or more) failed
    without any HTTP answer; returns (measurements, whether the round was local)."""
    relevant = [m for m in measurements if m.host_header and m.category is not Category.PROBE]
    targets = {m.target for m in relevant}
    local = len(targets) >= 2 and all(m.category is Category.NETWORK for m in relevant)
    if not local:
        return list(measurements), False
    return [replace(m, local_problem=True) for m in measurements], True


def run_probe(
    targets: Sequence[Target],
    *,
    client: HttpClient,
    options: ProbeOptions,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
    on_start: Callable[[ProbeRun], None] | None = None,
    on_round: Callable[[int, list[Measurement], bool], None] | None = None,
) -> ProbeRun:
    """Measure ``targets`` for ``options.count`` rounds, ``options.interval`` seconds apart.

    :param client: the HTTP client (``connect_to`` for loopback names); use ``retries=0`` so
        that each measurement is one attempt.
    :param clock: the time source (timezone-aware UTC): measurement times and the freshness of
        OCSP responses and CRLs.
    :param sleep: how to wait between rounds (``time.sleep``).
    :param on_start: called once before the first request (e.g. to record the run).
    :param on_round: called after each round with (round number, its measurements, whether
        it was a local network problem) — e.g. to append them to the history store at once,
        so that nothing measured is lost when a long run is killed.
    """
    if not targets:
        from ltv.errors import UsageError

        raise UsageError("nothing to probe", hint="give URLs, --cert/--issuer or --from FILE.pdf")
    run = ProbeRun(options=options, targets=list(targets), started_at=clock())
    run_id = run.run_id
    if on_start is not None:
        on_start(run)
    for round_no in range(1, options.count + 1):
        round_start = time.monotonic()
        batch: list[Measurement] = []
        for target in targets:
            families = run.families.get(target.key) or (
                _families(client, target) if options.families else []
            )
            run.families[target.key] = families
            # not resolved (or families off): one request, the client picks the address
            asked: list[str | None] = [f for f, _a in families] if options.families else []
            batch.extend(
                measure(
                    client,
                    target,
                    method=method,
                    family=family,
                    round_no=round_no,
                    options=options,
                    clock=clock,
                )
                for method in methods_for(target, options)
                for family in asked or [None]
            )
            if options.check_host and round_no == 1:
                method = "POST" if target.kind in ("ocsp", "tsa") else "GET"
                batch.append(
                    measure(
                        client,
                        target,
                        method=method,
                        family=asked[0] if asked else None,
                        round_no=round_no,
                        options=options,
                        clock=clock,
                        host_header=False,
                    )
                )
        batch = [replace(m, run=run_id) for m in batch]
        batch, local = mark_local_problems(batch)
        if local:
            run.local_problem_rounds.append(round_no)
        run.measurements.extend(batch)
        run.rounds = round_no
        if on_round is not None:
            on_round(round_no, batch, local)
        if round_no < options.count:
            left = options.interval - (time.monotonic() - round_start)
            if left > 0:
                sleep(left)
    run.finished_at = clock()
    return run
