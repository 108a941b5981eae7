"""Describers for DER structures: certificates, OCSP, CRLs, RFC 3161 and CMS.

Each ``describe_*`` function takes a parsed asn1crypto object (or DER bytes)
and returns a JSON-ready dict of plain types. They read lazily-parsed
asn1crypto values, so a corrupt structure raises while being described: the
callers decide whether that is fatal (a top-level file) or an ``error`` field
(an item inside a PDF, see :func:`ltv.inspect._common.guarded`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import asn1crypto.pdf  # noqa: F401  (registers adbe-revocationInfoArchival with asn1crypto)
from asn1crypto import cms, core, crl, ocsp, tsp, x509

from ltv.inspect._common import (
    Json,
    general_name_str,
    guarded,
    hex_bytes,
    hex_int,
    iso,
    name_str,
    optional,
    sha256_hex,
)

MAX_CRL_ENTRIES = 200
"""At most this many revoked entries of a CRL are listed (all are counted)."""


# --------------------------------------------------------------------------- certificates


def _public_key(cert: x509.Certificate) -> Json:
    pk = cert.public_key
    algo = pk.algorithm
    curve = optional(lambda: pk.curve[1]) if algo == "ec" else None
    return {"algorithm": algo, "bits": optional(lambda: pk.bit_size), "curve": curve}


def _uris(general_names: Any) -> list[str]:
    return [gn.chosen.native for gn in general_names if gn.name == "uniform_resource_identifier"]


def _crl_urls(cert: x509.Certificate) -> list[str]:
    urls: list[str] = []
    dps = cert.crl_distribution_points_value
    for dp in dps or []:
        point = dp["distribution_point"]
        if point.name == "full_name":
            urls.extend(_uris(point.chosen))
    return urls


def _ca_issuers_urls(cert: x509.Certificate) -> list[str]:
    aia = cert.authority_information_access_value
    return [
        ad["access_location"].chosen.native
        for ad in aia or []
        if ad["access_method"].native == "ca_issuers"
        and ad["access_location"].name == "uniform_resource_identifier"
    ]


def describe_certificate(cert: x509.Certificate) -> Json:
    """Describe an X.509 certificate: names, serial, validity, key, extensions, digest."""
    tbs = cert["tbs_certificate"]
    validity = tbs["validity"]
    ku = cert.key_usage_value
    eku = cert.extended_key_usage_value
    ski = cert.key_identifier_value
    aki = cert.authority_key_identifier_value
    return {
        "subject": name_str(cert.subject),
        "issuer": name_str(cert.issuer),
        "serial": hex_int(tbs["serial_number"].native),
        "not_before": iso(validity["not_before"].chosen),
        "not_after": iso(validity["not_after"].chosen),
        "sha256": sha256_hex(cert.dump()),
        "signature_algorithm": cert["signature_algorithm"]["algorithm"].native,
        "public_key": guarded(lambda: _public_key(cert), what="public key"),
        "is_ca": bool(optional(lambda: cert.ca)),
        "self_issued": bool(optional(lambda: cert.self_issued)),
        "key_usage": sorted(ku.native) if ku is not None else [],
        "extended_key_usage": [str(p) for p in eku.native] if eku is not None else [],
        "ocsp_urls": list(optional(lambda: cert.ocsp_urls) or []),
        "ca_issuers_urls": optional(lambda: _ca_issuers_urls(cert)) or [],
        "crl_urls": optional(lambda: _crl_urls(cert)) or [],
        "subject_key_identifier": hex_bytes(ski.native) if ski is not None else None,
        "authority_key_identifier": (
            hex_bytes(aki["key_identifier"].native) if aki is not None else None
        ),
        "ocsp_no_check": cert.ocsp_no_check_value is not None,
    }


def describe_certificate_der(der: bytes) -> Json:
    """Describe a DER certificate; a corrupt one becomes an ``error`` item."""
    return guarded(
        lambda: describe_certificate(x509.Certificate.load(der)), raw=der, what="certificate"
    )


def describe_cert_choices(certs: Any) -> list[Json]:
    """Describe the ``certificates`` SET of a CMS SignedData or of an OCSP response."""
    out: list[Json] = []
    for choice in certs or []:
        if isinstance(choice, x509.Certificate):
            out.append(guarded(partial(describe_certificate, choice), what="certificate"))
        elif choice.name == "certificate":
            out.append(guarded(partial(describe_certificate, choice.chosen), what="certificate"))
        else:
            out.append({"error": f"unsupported certificate choice: {choice.name}"})
    return out


# --------------------------------------------------------------------------- OCSP


def _cert_id(cid: Any) -> Json:
    return {
        "hash_algorithm": cid["hash_algorithm"]["algorithm"].native,
        "issuer_name_hash": hex_bytes(cid["issuer_name_hash"].native),
        "issuer_key_hash": hex_bytes(cid["issuer_key_hash"].native),
        "serial": hex_int(cid["serial_number"].native),
    }


def _single_response(sr: Any) -> Json:
    status = sr["cert_status"]
    revocation_time = revocation_reason = None
    if status.name == "revoked":
        info = status.chosen
        revocation_time = iso(info["revocation_time"])
        reason = info["revocation_reason"]
        revocation_reason = None if isinstance(reason, core.Void) else reason.native
    next_update = sr["next_update"]
    return {
        "cert_id": _cert_id(sr["cert_id"]),
        "status": status.name,
        "this_update": iso(sr["this_update"]),
        "next_update": None if isinstance(next_update, core.Void) else iso(next_update),
        "revocation_time": revocation_time,
        "revocation_reason": revocation_reason,
    }


def _nonce(extensions: Any) -> str | None:
    for ext in extensions or []:
        if ext["extn_id"].native == "nonce":
            value = ext["extn_value"].parsed
            native = value.native if value is not None else None
            if isinstance(native, bytes):
                return native.hex()
            return hex_bytes(ext["extn_value"].native)
    return None


def describe_ocsp_response(resp: ocsp.OCSPResponse) -> Json:
    """Describe an OCSPResponse: status, responder, producedAt, every SingleResponse, certs."""
    out: Json = {
        "status": resp["response_status"].native,
        "response_type": None,
        "responder_name": None,
        "responder_key_hash": None,
        "produced_at": None,
        "signature_algorithm": None,
        "nonce": None,
        "responses": [],
        "certificates": [],
        "sha256": sha256_hex(resp.dump()),
    }
    rb = resp["response_bytes"]
    if isinstance(rb, core.Void):
        return out
    out["response_type"] = rb["response_type"].native
    if rb["response_type"].native != "basic_ocsp_response":
        return out
    basic = rb["response"].parsed
    tbs = basic["tbs_response_data"]
    rid = tbs["responder_id"]
    if rid.name == "by_name":
        out["responder_name"] = name_str(rid.chosen)
    else:
        out["responder_key_hash"] = hex_bytes(rid.chosen.native)
    out["produced_at"] = iso(tbs["produced_at"])
    out["signature_algorithm"] = basic["signature_algorithm"]["algorithm"].native
    out["nonce"] = optional(lambda: _nonce(tbs["response_extensions"]))
    out["responses"] = [
        guarded(partial(_single_response, sr), what="SingleResponse") for sr in tbs["responses"]
    ]
    out["certificates"] = describe_cert_choices(basic["certs"])
    return out


def describe_ocsp_response_der(der: bytes) -> Json:
    """Describe a DER OCSPResponse; a corrupt one becomes an ``error`` item."""
    return guarded(
        lambda: describe_ocsp_response(ocsp.OCSPResponse.load(der)), raw=der, what="OCSP response"
    )


def describe_ocsp_request(req: ocsp.OCSPRequest) -> Json:
    """Describe an OCSPRequest: requestor, each CertID, nonce, whether it is signed."""
    tbs = req["tbs_request"]
    requestor = tbs["requestor_name"]
    return {
        "requestor_name": None if isinstance(requestor, core.Void) else general_name_str(requestor),
        "requests": [_cert_id(r["req_cert"]) for r in tbs["request_list"]],
        "nonce": optional(lambda: _nonce(tbs["request_extensions"])),
        "signed": not isinstance(req["optional_signature"], core.Void),
        "sha256": sha256_hex(req.dump()),
    }


# --------------------------------------------------------------------------- CRLs


def _crl_entry(entry: Any) -> Json:
    reason = optional(lambda: entry.crl_reason_value)
    return {
        "serial": hex_int(entry["user_certificate"].native),
        "revocation_date": iso(entry["revocation_date"].chosen),
        "reason": reason.native if reason is not None else None,
    }


def describe_crl(cl: crl.CertificateList) -> Json:
    """Describe a CRL: issuer, thisUpdate, nextUpdate, number, entries (first few listed)."""
    tbs = cl["tbs_cert_list"]
    next_update = tbs["next_update"]
    revoked = tbs["revoked_certificates"]
    entries = [] if isinstance(revoked, core.Void) else list(revoked)
    number = optional(lambda: cl.crl_number_value)
    delta = optional(lambda: cl.delta_crl_indicator_value)
    return {
        "issuer": name_str(tbs["issuer"]),
        "this_update": iso(tbs["this_update"].chosen),
        "next_update": None if isinstance(next_update, core.Void) else iso(next_update.chosen),
        "crl_number": hex_int(number.native) if number is not None else None,
        "delta": delta is not None,
        "signature_algorithm": cl["signature_algorithm"]["algorithm"].native,
        "entry_count": len(entries),
        "entries": [
            guarded(partial(_crl_entry, e), what="CRL entry") for e in entries[:MAX_CRL_ENTRIES]
        ],
        "entries_truncated": len(entries) > MAX_CRL_ENTRIES,
        "sha256": sha256_hex(cl.dump()),
    }


def describe_crl_der(der: bytes) -> Json:
    """Describe a DER CRL; a corrupt one becomes an ``error`` item."""
    return guarded(lambda: describe_crl(crl.CertificateList.load(der)), raw=der, what="CRL")


# --------------------------------------------------------------------------- CMS


def _find_signer_cert(sid: Any, certs: list[x509.Certificate]) -> x509.Certificate | None:
    if sid.name == "issuer_and_serial_number":
        want_issuer = sid.chosen["issuer"]
        want_serial = sid.chosen["serial_number"].native
        for cert in certs:
            if cert.serial_number == want_serial and cert.issuer == want_issuer:
                return cert
    else:
        want_ski = sid.chosen.native
        for cert in certs:
            if cert.key_identifier == want_ski:
                return cert
    return None


def _plain_certs(signed_data: Any) -> list[x509.Certificate]:
    return [
        c.chosen
        for c in signed_data["certificates"] or []
        if not isinstance(c, core.Void) and c.name == "certificate"
    ]


def _signer(signer_info: Any, certs: list[x509.Certificate]) -> Json:
    sid = signer_info["sid"]
    out: Json = {
        "subject": None,
        "issuer": None,
        "serial": None,
        "subject_key_identifier": None,
        "certificate_sha256": None,
        "certificate_found": False,
    }
    if sid.name == "issuer_and_serial_number":
        out["issuer"] = name_str(sid.chosen["issuer"])
        out["serial"] = hex_int(sid.chosen["serial_number"].native)
    else:
        out["subject_key_identifier"] = hex_bytes(sid.chosen.native)
    cert = _find_signer_cert(sid, certs)
    if cert is not None:
        out["subject"] = name_str(cert.subject)
        out["issuer"] = name_str(cert.issuer)
        out["serial"] = hex_int(cert.serial_number)
        out["certificate_sha256"] = sha256_hex(cert.dump())
        out["certificate_found"] = True
    return out


def find_attribute(attrs: Any, name: str) -> Any | None:
    """The first value of the CMS attribute called ``name``, or ``None``."""
    if attrs is None or isinstance(attrs, core.Void):
        return None
    for attr in attrs:
        if attr["type"].native == name:
            values = attr["values"]
            return values[0] if len(values) else None
    return None


def describe_signed_data(signed_data: Any) -> Json:
    """Describe a CMS SignedData: content type, algorithms, signer, signing time, certs."""
    certs = _plain_certs(signed_data)
    infos = list(signed_data["signer_infos"])
    out: Json = {
        "content_type": signed_data["encap_content_info"]["content_type"].native,
        "signer_info_count": len(infos),
        "digest_algorithm": None,
        "signature_algorithm": None,
        "signer": None,
        "signing_time": None,
        "signed_attributes": [],
        "unsigned_attributes": [],
        "certificates": describe_cert_choices(signed_data["certificates"]),
    }
    if not infos:
        return out
    si = infos[0]
    out["digest_algorithm"] = si["digest_algorithm"]["algorithm"].native
    out["signature_algorithm"] = si["signature_algorithm"]["algorithm"].native
    out["signer"] = guarded(lambda: _signer(si, certs), what="signer identifier")
    signed_attrs = si["signed_attrs"]
    unsigned_attrs = si["unsigned_attrs"]
    if not isinstance(signed_attrs, core.Void):
        out["signed_attributes"] = [str(a["type"].native) for a in signed_attrs]
        signing_time = find_attribute(signed_attrs, "signing_time")
        if signing_time is not None:
            out["signing_time"] = iso(signing_time.chosen)
    if not isinstance(unsigned_attrs, core.Void):
        out["unsigned_attributes"] = [str(a["type"].native) for a in unsigned_attrs]
    return out


# --------------------------------------------------------------------------- RFC 3161


def _accuracy(acc: Any) -> Json | None:
    if isinstance(acc, core.Void):
        return None
    return {
        "seconds": acc["seconds"].native,
        "millis": acc["millis"].native,
        "micros": acc["micros"].native,
    }


def _tsa_cert_subject(signed_data: Any) -> str | None:
    infos = list(signed_data["signer_infos"])
    if not infos:
        return None
    cert = _find_signer_cert(infos[0]["sid"], _plain_certs(signed_data))
    return name_str(cert.subject) if cert is not None else None


def describe_timestamp_token(content_info: cms.ContentInfo) -> Json:
    """Describe an RFC 3161 token (ContentInfo/SignedData/TSTInfo).

    ``tsa_name`` is the TSTInfo ``tsa`` field (optional in RFC 3161 §2.4.2);
    ``tsa_certificate_subject`` is the subject of the certificate that signed
    the token, when the token carries it.
    """
    if content_info["content_type"].native != "signed_data":
        raise ValueError(f"ContentInfo holds {content_info['content_type'].native}, not SignedData")
    sd = content_info["content"]
    eci = sd["encap_content_info"]
    if eci["content_type"].native != "tst_info":
        raise ValueError(f"SignedData encapsulates {eci['content_type'].native}, not TSTInfo")
    tst = eci["content"].parsed
    imprint = tst["message_imprint"]
    tsa = tst["tsa"]
    return {
        "gen_time": iso(tst["gen_time"]),
        "policy": tst["policy"].dotted,
        "serial": hex_int(tst["serial_number"].native),
        "imprint_algorithm": imprint["hash_algorithm"]["algorithm"].native,
        "imprint": hex_bytes(imprint["hashed_message"].native),
        "tsa_name": None if isinstance(tsa, core.Void) else general_name_str(tsa),
        "tsa_certificate_subject": optional(lambda: _tsa_cert_subject(sd)),
        "nonce": hex_int(tst["nonce"].native),
        "accuracy": _accuracy(tst["accuracy"]),
        "ordering": bool(tst["ordering"].native),
        "cms": describe_signed_data(sd),
        "sha256": sha256_hex(content_info.dump()),
    }


def _enum_text(value: Any) -> str:
    """An INTEGER with named values (PKIStatus, a version) as text: its name, or, for a value
    the standard does not name, ``unknown (N)`` (the schema's string, the number visible)."""
    native = value.native
    return native if isinstance(native, str) else f"unknown ({int(value)})"


def describe_timestamp_response(resp: tsp.TimeStampResp) -> Json:
    """Describe a TimeStampResp: PKIStatusInfo and, when granted, the token."""
    status = resp["status"]
    status_string = status["status_string"]
    fail_info = status["fail_info"]
    token: Json | None = None
    raw_token = resp["time_stamp_token"]
    if not isinstance(raw_token, core.Void) and raw_token.contents:
        token = describe_timestamp_token(raw_token)
    return {
        "status": _enum_text(status["status"]),
        "status_string": (
            None if isinstance(status_string, core.Void) else " ".join(status_string.native)
        ),
        "fail_info": None if isinstance(fail_info, core.Void) else sorted(fail_info.native),
        "token": token,
    }


def describe_timestamp_request(req: tsp.TimeStampReq) -> Json:
    """Describe an RFC 3161 TimeStampReq: imprint, policy, nonce, certReq."""
    imprint = req["message_imprint"]
    policy = req["req_policy"]
    return {
        "version": _enum_text(req["version"]),
        "imprint_algorithm": imprint["hash_algorithm"]["algorithm"].native,
        "imprint": hex_bytes(imprint["hashed_message"].native),
        "policy": None if isinstance(policy, core.Void) else policy.dotted,
        "nonce": hex_int(req["nonce"].native),
        "cert_req": bool(req["cert_req"].native),
        "sha256": sha256_hex(req.dump()),
    }


def describe_revocation_info_archival(value: Any) -> Json:
    """Describe the adbe-revocationInfoArchival attribute (CRLs, OCSP responses, other)."""
    crls = value["crl"]
    ocsps = value["ocsp"]
    other = value["other_rev_info"]
    return {
        "crls": [] if isinstance(crls, core.Void) else [describe_crl_der(c.dump()) for c in crls],
        "ocsp_responses": (
            []
            if isinstance(ocsps, core.Void)
            else [describe_ocsp_response_der(o.dump()) for o in ocsps]
        ),
        "other_count": 0 if isinstance(other, core.Void) else len(other),
    }
