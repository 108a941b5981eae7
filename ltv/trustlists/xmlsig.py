"""Reading a trusted list's header and checking its XML signature (XAdES, TS 119 612 §5.7).

The signature is checked with signxml's ``XAdESVerifier`` (the library pyHanko's ``[etsi]``
extra uses for the same purpose) against a given set of acceptable signer certificates, **as of
the list's own ``ListIssueDateTime``**: a certificate that signed a 2021 list and expired in
2024 still verifies that 2021 list, so historic snapshots stay importable. Only what the
signature covers is used afterwards: :func:`verify_list` returns the *signed* XML (the
``TrustServiceStatusList`` the reference points at, enveloped signature removed), and the issue
date used for the check must be the one inside it.

XML is parsed with entity resolution, DTD loading and network access off; a document with a
DOCTYPE is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ltv.errors import InputError

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = ["TSL_NS", "ListHeader", "TrustListError", "VerifiedList", "read_header", "verify_list"]

TSL_NS = "http://uri.etsi.org/02231/v2#"
_DS_NS = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"t": TSL_NS, "ds": _DS_NS}
LOTL_TYPE_SUFFIX = "/EUlistofthelists"
MAX_XML_BYTES = 64 * 1024 * 1024


class TrustListError(InputError):
    """A trusted list is refused (not a list, bad signature, unparsable): nothing is stored."""


def _parser() -> Any:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )


def parse_xml(data: bytes, origin: str) -> Any:
    """Parse with a hardened parser; refuse DTDs (entity tricks) and oversized input."""
    from lxml import etree

    if len(data) > MAX_XML_BYTES:
        raise TrustListError(f"{origin}: larger than {MAX_XML_BYTES // (1024 * 1024)} MiB")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as err:
        raise TrustListError(f"{origin}: not well-formed XML ({err})") from err
    if root.getroottree().docinfo.doctype:
        raise TrustListError(f"{origin}: XML with a DOCTYPE is not accepted in a trusted list")
    return root


def _when(text: str | None, what: str, origin: str) -> datetime:
    if not text or not text.strip():
        raise TrustListError(f"{origin}: no {what}")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise TrustListError(f"{origin}: bad {what} {text.strip()!r}") from err
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class ListHeader:
    """The scheme information of a list (TS 119 612 §5.3)."""

    territory: str
    sequence: int
    version: int | None
    issued: datetime
    next_update: datetime | None
    tsl_type: str
    operator: str
    key_info_certs: tuple[bytes, ...]
    """DER of the certificates in the signature's ``KeyInfo`` (not trusted by themselves)."""

    @property
    def is_lotl(self) -> bool:
        return self.tsl_type.rstrip("/").endswith(LOTL_TYPE_SUFFIX)


def _header_of(root: Any, origin: str) -> ListHeader:
    import base64
    import binascii

    if root.tag != f"{{{TSL_NS}}}TrustServiceStatusList":
        raise TrustListError(
            f"{origin}: not an ETSI TS 119 612 trusted list (root element {root.tag!r})",
            hint="give the XML of a trusted list or of the EU list of trusted lists",
        )
    info = root.find("t:SchemeInformation", _NS)
    if info is None:
        raise TrustListError(f"{origin}: trusted list without SchemeInformation")
    territory = (info.findtext("t:SchemeTerritory", namespaces=_NS) or "").strip()
    seq = (info.findtext("t:TSLSequenceNumber", namespaces=_NS) or "").strip()
    if not territory or not seq.isdigit():
        raise TrustListError(f"{origin}: no SchemeTerritory or TSLSequenceNumber")
    version = (info.findtext("t:TSLVersionIdentifier", namespaces=_NS) or "").strip()
    next_update = info.findtext("t:NextUpdate/t:dateTime", namespaces=_NS)
    names = info.findall("t:SchemeOperatorName/t:Name", _NS)
    operator = ""
    for name in names:
        if not operator or name.get("{http://www.w3.org/XML/1998/namespace}lang") == "en":
            operator = (name.text or "").strip()
    certs: list[bytes] = []
    for node in root.findall("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS):
        try:
            certs.append(base64.b64decode("".join((node.text or "").split()), validate=True))
        except (binascii.Error, ValueError):
            continue
    return ListHeader(
        territory=territory,
        sequence=int(seq),
        version=int(version) if version.isdigit() else None,
        issued=_when(
            info.findtext("t:ListIssueDateTime", namespaces=_NS), "ListIssueDateTime", origin
        ),
        next_update=_when(next_update, "NextUpdate", origin) if next_update else None,
        tsl_type=(info.findtext("t:TSLType", namespaces=_NS) or "").strip(),
        operator=operator,
        key_info_certs=tuple(certs),
    )


def read_header(data: bytes, origin: str) -> ListHeader:
    """The header of a list, *unverified* (used to pick signers and the time to check at)."""
    return _header_of(parse_xml(data, origin), origin)


@dataclass(frozen=True, kw_only=True)
class VerifiedList:
    header: ListHeader
    """Read from the signed content."""
    signed_xml: str
    """The signed ``TrustServiceStatusList`` (what later parsing reads)."""
    signer: x509.Certificate


def _describe(cert: x509.Certificate) -> str:
    from ltv.names import name_str

    return f"{name_str(cert.subject)} (SHA-256 {hashlib.sha256(cert.dump()).hexdigest()[:16]}…)"


def _order(
    candidates: Sequence[x509.Certificate], header: ListHeader, origin: str
) -> list[x509.Certificate]:
    """The candidates that can have made this signature: those whose key is the key of a
    certificate in ``KeyInfo`` (all of them when ``KeyInfo`` names none)."""
    from asn1crypto import x509 as asn1_x509

    if not header.key_info_certs:
        return list(candidates)
    embedded: list[asn1_x509.Certificate] = []
    keys: set[bytes] = set()
    for der in header.key_info_certs:
        try:
            cert = asn1_x509.Certificate.load(der)
            keys.add(cert.public_key.dump())
            cert.subject.native  # noqa: B018 - named in the error below
        except (ValueError, TypeError, KeyError):
            continue
        embedded.append(cert)
    matching = [c for c in candidates if c.public_key.dump() in keys]
    if not matching:
        who = "; ".join(_describe(c) for c in embedded) or "an unreadable certificate"
        if header.is_lotl:
            hint = (
                "a LOTL is checked against the LOTL signers pinned in ltv (Official Journal of "
                "the EU) and those the LOTLs already in the store name: import the pivot LOTLs "
                "first, or give --signer CERT"
            )
        else:
            hint = (
                "a member state's list is checked against the signers the LOTL names for its "
                "territory: import the LOTL first, or give --signer CERT"
            )
        raise TrustListError(
            f"{origin}: signed by {who}, which is not among the {len(candidates)} "
            f"certificate(s) accepted as signers of this list",
            hint=hint,
        )
    return matching


def verify_list(
    data: bytes, candidates: Sequence[x509.Certificate], *, origin: str
) -> VerifiedList:
    """Check the XAdES signature of a list against ``candidates`` as of its ListIssueDateTime.

    :raises TrustListError: not a list, no acceptable signer, the signature does not verify,
        or the signed content does not say what the unsigned header said.
    """
    from cryptography import x509 as crypto_x509
    from signxml.exceptions import SignXMLException
    from signxml.xades.xades import XAdESSignatureConfiguration, XAdESVerifier

    root = parse_xml(data, origin)
    header = _header_of(root, origin)
    if not candidates:
        raise TrustListError(f"{origin}: no certificate to check its signature against")
    if root.find("ds:Signature", _NS) is None:
        raise TrustListError(f"{origin}: the list is not signed")
    errors: list[str] = []
    for candidate in _order(candidates, header, origin):
        config = XAdESSignatureConfiguration(
            require_x509=True, expect_references=True, verification_time=header.issued
        )
        try:
            results = XAdESVerifier().verify(
                data,
                x509_cert=crypto_x509.load_der_x509_certificate(candidate.dump()),
                expect_config=config,
            )
        except Exception as err:  # signxml raises its own errors, lxml's schema errors, ...:
            # whatever fails, the signature is not verified by this candidate
            if not isinstance(err, SignXMLException | ValueError | LookupError | TypeError):
                from lxml import etree

                if not isinstance(err, etree.LxmlError):
                    raise
            errors.append(f"{_describe(candidate)}: {' '.join(str(err).split())[:300]}")
            continue
        tsl_tag = f"{{{TSL_NS}}}TrustServiceStatusList"
        signed = [r for r in results if r.signed_xml is not None and r.signed_xml.tag == tsl_tag]
        if len(signed) != 1:
            errors.append(f"{_describe(candidate)}: the signature does not cover the list")
            continue
        signed_xml = signed[0].signed_data.decode("utf-8")
        signed_header = _header_of(parse_xml(signed_xml.encode("utf-8"), origin), origin)
        if (signed_header.issued, signed_header.territory, signed_header.sequence) != (
            header.issued,
            header.territory,
            header.sequence,
        ):
            raise TrustListError(
                f"{origin}: the signed content does not match the list's header "
                "(issue date, territory or sequence number)"
            )
        signed_header = replace(signed_header, key_info_certs=header.key_info_certs)
        return VerifiedList(header=signed_header, signed_xml=signed_xml, signer=candidate)
    from ltv.report import rfc3339

    raise TrustListError(
        f"{origin}: XML signature does not verify as of its issue date "
        f"{rfc3339(header.issued)}: " + "; ".join(errors),
        hint="the list was altered, or signed by a certificate not accepted for it",
    )
