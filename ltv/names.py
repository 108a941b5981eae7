"""Distinguished names as text: RFC 4514, the one form ltv prints everywhere.

Reports, inspect output and error messages all name certificates the same way, most specific
RDN first (``CN=Signer Good,OU=Signers,O=ltv sample PKI,C=ZZ``), so a subject in a report can be
grepped for in ``ltv inspect`` output and in openssl's ``-nameopt RFC2253`` output.
"""

from __future__ import annotations

from typing import Any

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
    """Render an asn1crypto ``x509.Name`` as an RFC 4514 string (most specific RDN first).

    Total on hostile input: an attribute whose value cannot be decoded is shown as its
    encoding (RFC 4514 §2.4 ``#hex``), and a name whose structure cannot be parsed at all as
    ``#`` + the hex of the whole DER Name, so a report always has *something* to show.
    """
    from ltv.evidence._crypto import MALFORMED

    try:
        rdns = list(name.chosen)
    except MALFORMED:
        return _undecodable(name)
    out = []
    for rdn in reversed(rdns):
        parts = []
        try:
            atvs = list(rdn)
        except MALFORMED:
            return _undecodable(name)
        for atv in atvs:
            try:
                key = atv["type"].native
                short = _NAME_KEYS.get(key) if isinstance(key, str) else None
                if short is None:
                    short = atv["type"].dotted
            except MALFORMED:
                return _undecodable(name)
            try:
                val = atv["value"].native
            except MALFORMED:  # an undecodable value: show its encoding (RFC 4514 §2.4)
                val = None
            if isinstance(val, str):
                text = _escape_rdn_value(val)
            else:
                try:
                    text = "#" + atv["value"].dump().hex()
                except MALFORMED:
                    return _undecodable(name)
            parts.append(f"{short}={text}")
        out.append("+".join(parts))
    return ",".join(out)


def _undecodable(name: Any) -> str:
    try:
        return "#" + bytes(name.dump()).hex()
    except Exception:  # even the encoding is gone: say so rather than fail a whole report
        return "#"


def pdf_text(value: Any) -> str:
    """A PDF string (a field's /T, a fully qualified field name) as plain text.

    pyHanko hands back a ``ByteStringObject`` (``bytes``) when a string is neither UTF-16 with
    a BOM nor PDFDocEncoding; such a name is shown in PDF's own hex-string notation
    (``<9f9f9f>``) so that reports and inspect output stay plain, unambiguous text.
    """
    if isinstance(value, bytes | bytearray):
        return f"<{bytes(value).hex()}>"
    return str(value)
