"""Small helpers shared by the inspect describers: plain-type conversions.

Everything here turns asn1crypto values into JSON-ready plain values (str, int,
bool, None, lists and dicts of those): times become ISO-8601 UTC strings ending
in ``Z``, byte strings and serial numbers become lowercase hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]
"""A JSON object made only of plain types."""

# RFC 4514 short names, plus the usual long names for the rest.
_NAME_KEYS: dict[str, str] = {
    "common_name": "CN",
    "country_name": "C",
    "organization_name": "O",
    "organizational_unit_name": "OU",
    "locality_name": "L",
    "state_or_province_name": "ST",
    "street_address": "STREET",
    "domain_component": "DC",
    "user_id": "UID",
    "serial_number": "serialNumber",
    "email_address": "emailAddress",
    "given_name": "GN",
    "surname": "SN",
    "title": "title",
    "organization_identifier": "organizationIdentifier",
    "pseudonym": "pseudonym",
    "name": "name",
    "initials": "initials",
    "generation_qualifier": "generationQualifier",
    "dn_qualifier": "dnQualifier",
    "business_category": "businessCategory",
    "postal_code": "postalCode",
    "incorporation_country": "jurisdictionC",
    "incorporation_state_or_province": "jurisdictionST",
    "incorporation_locality": "jurisdictionL",
    "telephone_number": "telephoneNumber",
}


def iso(value: Any) -> str | None:
    """Render an asn1crypto time (or a datetime) as ISO-8601 UTC ending in ``Z``.

    Naive datetimes (GeneralizedTime without a zone) are taken as UTC.
    Fractional seconds are kept only when present.
    """
    if value is None:
        return None
    native = value if isinstance(value, datetime) else getattr(value, "native", value)
    if native is None:
        return None
    if not isinstance(native, datetime):
        return str(native)
    moment: datetime = native
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        frac = f"{moment.microsecond:06d}".rstrip("0")
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hex_int(value: int | None) -> str | None:
    """Lowercase hex of an integer (a serial number, a nonce); ``-`` prefix if negative."""
    if value is None:
        return None
    if value < 0:
        return "-" + format(-value, "x")
    return format(value, "x")


def hex_bytes(value: bytes | None) -> str | None:
    """Lowercase hex of a byte string."""
    return None if value is None else value.hex()


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def _escape_rdn_value(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch in ',+"\\<>;' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(text) - 1)):
            out.append("\\" + ch)
        elif ch == "\x00":
            out.append("\\00")
        else:
            out.append(ch)
    return "".join(out)


def name_str(name: Any) -> str:
    """Render an asn1crypto ``x509.Name`` as an RFC 4514 string (most specific RDN first)."""
    rdns = []
    for rdn in reversed(list(name.chosen)):
        parts = []
        for atv in rdn:
            key = atv["type"].native
            short = _NAME_KEYS.get(key) if isinstance(key, str) else None
            if short is None:
                short = atv["type"].dotted
            try:
                val = atv["value"].native
            except Exception:  # an undecodable value: show its encoding (RFC 4514 §2.4)
                val = None
            if isinstance(val, str):
                text = _escape_rdn_value(val)
            else:
                text = "#" + atv["value"].dump().hex()
            parts.append(f"{short}={text}")
        rdns.append("+".join(parts))
    return ",".join(rdns)


def general_name_str(gn: Any) -> str:
    """Render an asn1crypto ``GeneralName`` as text (a DN in RFC 4514 form, or a URI, ...)."""
    if gn.name == "directory_name":
        return name_str(gn.chosen)
    native = gn.chosen.native
    if isinstance(native, bytes):
        return f"{gn.name}:{native.hex()}"
    return f"{gn.name}:{native}"


MAX_ERROR_CHARS = 240
"""Error texts are cut to this length (asn1crypto can quote whole blobs in its messages)."""


def error_text(exc: BaseException) -> str:
    """One line describing an exception (type and collapsed message, cut if very long)."""
    msg = " ".join(str(exc).split())
    if len(msg) > MAX_ERROR_CHARS:
        msg = msg[: MAX_ERROR_CHARS - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {msg}" if msg else name


def guarded(fn: Callable[[], Json], *, raw: bytes | None = None, what: str = "item") -> Json:
    """Run a describer; on any failure return an error item instead of raising.

    The error item has ``error`` (one line), plus ``sha256`` and ``bytes`` of
    the raw encoding when it is known, so a corrupt entry is still identifiable.
    """
    try:
        return fn()
    except Exception as exc:  # parsing untrusted input: any failure is data
        item: Json = {"error": f"unreadable {what}: {error_text(exc)}"}
        if raw is not None:
            item["sha256"] = sha256_hex(raw)
            item["bytes"] = len(raw)
        return item


def optional(fn: Callable[[], Any]) -> Any:
    """Evaluate ``fn``; return ``None`` if the value is absent or undecodable."""
    try:
        return fn()
    except Exception:  # an optional, decorative field: absent rather than fatal
        return None
