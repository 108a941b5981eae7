"""From a verified list's signed XML to a :class:`~ltv.trustlists.model.Snapshot`.

Parsing uses pyHanko's ETSI TS 119 612 data model (``pyhanko.generated.etsi``, xsdata classes,
pyHanko's ``[etsi]`` extra) and, for a LOTL, pyHanko's public ``parse_lotl_unsafe`` (only ever
given XML whose signature was checked). What ltv adds: pyHanko's own reader
(``eutl_parse.read_qualified_service_definitions``) keeps only the *granted* periods of CA/QC
and TSA/QTST services; ltv keeps every service, every status of its history (withdrawn,
supervision ceased, …), every service type, and the qualifications in a JSON form that is
stored and turned back into pyHanko's ``Qualification`` objects for assessment
(ltv.trustlists.assess).

Qualifications JSON (TS 119 612 §5.5.9.2)::

    {"qualifiers": ["QCWithQSCD", ...],
     "criteria": {"assert": "all|atLeastOne|none",
                  "key_usage": [{"set": ["non_repudiation"], "unset": []}],
                  "policy_sets": [["0.4.0.194112.1.2"]],
                  "subject_dn_attributes": [["2.5.4.97"]],
                  "extended_key_usage": [["1.3.6.1.5.5.7.3.4"]],
                  "lists": [<criteria>, ...]}}

Whatever ltv cannot interpret (an unknown qualifier or criterion, a critical extension it does
not understand) is recorded in the entry's ``problems``: such an entry never makes a
certificate qualified, and an entry with a critical extension not understood is not a trust
anchor either (TS 119 612 §5.5.9: a critical extension must be understood to rely on it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ltv.trustlists.model import Pointer, Service, StatusEntry
from ltv.trustlists.xmlsig import TrustListError

__all__ = ["CRITICAL_NOT_UNDERSTOOD", "parse_lotl", "parse_services"]

CRITICAL_NOT_UNDERSTOOD = "critical extension not understood"
_QUALIFIER_PREFIX = "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/"
KNOWN_QUALIFIERS = frozenset(
    {
        "QCWithSSCD",
        "QCNoSSCD",
        "QCSSCDStatusAsInCert",
        "QCWithQSCD",
        "QCNoQSCD",
        "QCQSCDStatusAsInCert",
        "QCQSCDManagedOnBehalf",
        "QCForLegalPerson",
        "QCForESig",
        "QCForESeal",
        "QCForWSA",
        "NotQualified",
        "QCStatement",
    }
)
_TSL_MIME = "application/vnd.etsi.tsl+xml"


class _Uninterpretable(ValueError):
    pass


def _xsdata_parse(signed_xml: str, origin: str) -> Any:
    from lxml import etree
    from pyhanko.generated.etsi import ts_119612
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig
    from xsdata.formats.dataclass.parsers.handlers import LxmlEventHandler

    from ltv.trustlists.xmlsig import parse_xml

    root = parse_xml(signed_xml.encode("utf-8"), origin)
    parser = XmlParser(
        config=ParserConfig(
            load_dtd=False,
            process_xinclude=False,
            fail_on_unknown_properties=False,
            fail_on_unknown_attributes=False,
        ),
        handler=LxmlEventHandler,
    )
    try:
        # an already parsed (hardened) tree: xsdata walks it, no second parse
        return parser.parse(etree.ElementTree(root), ts_119612.TrustServiceStatusList)
    except Exception as err:  # xsdata raises a variety of parser errors
        raise TrustListError(f"{origin}: not a valid ETSI TS 119 612 list ({err})") from err


def _intl(names: Any) -> str:
    if names is None or not names.name:
        return ""
    first = names.name[0].value
    for part in names.name:
        if part.lang == "en":
            return str(part.value)
    return str(first)


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    moment: datetime = value.to_datetime()
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _oids(items: Iterable[Any]) -> list[str]:
    out = []
    for oid in items:
        if oid.identifier is None or not oid.identifier.value:
            raise _Uninterpretable("an OID without Identifier")
        out.append(oid.identifier.value.strip())
    return out


def _criteria(crit: Any) -> dict[str, Any]:
    """CriteriaList → JSON (mirrors pyHanko's eutl_parse._process_criteria_list)."""
    from pyhanko.generated.etsi import ts_119612_extra

    if crit is None:
        raise _Uninterpretable("a qualification without CriteriaList")
    if crit.assert_value is None:
        raise _Uninterpretable("a CriteriaList without 'assert'")
    out: dict[str, Any] = {"assert": str(crit.assert_value.value)}
    count = 0
    if crit.key_usage:
        out["key_usage"] = [
            {
                "set": sorted(b.name.name.lower() for b in ku.key_usage_bit if b.value is True),
                "unset": sorted(b.name.name.lower() for b in ku.key_usage_bit if b.value is False),
            }
            for ku in crit.key_usage
        ]
        count += len(crit.key_usage)
    if crit.policy_set:
        out["policy_sets"] = [_oids(ps.policy_identifier) for ps in crit.policy_set]
        count += len(crit.policy_set)
    if crit.criteria_list:
        out["lists"] = [_criteria(sub) for sub in crit.criteria_list]
        count += len(crit.criteria_list)
    if crit.other_criteria_list is not None:
        for el in crit.other_criteria_list.content:
            if isinstance(el, ts_119612_extra.CertSubjectDNAttribute):
                out.setdefault("subject_dn_attributes", []).append(_oids(el.attribute_oid))
            elif isinstance(el, ts_119612_extra.ExtendedKeyUsage):
                out.setdefault("extended_key_usage", []).append(_oids(el.key_purpose_id))
            else:
                raise _Uninterpretable(f"unknown criterion {type(el).__name__}")
            count += 1
    if count == 0:
        raise _Uninterpretable("an empty CriteriaList")
    return out


def _qualifications(quals: Any) -> tuple[list[dict[str, Any]], list[str]]:
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for element in quals.qualification_element:
        if element.qualifiers is None or not element.qualifiers.qualifier:
            continue
        names: list[str] = []
        for q in element.qualifiers.qualifier:
            uri = (q.uri or "").strip()
            name = uri[len(_QUALIFIER_PREFIX) :] if uri.startswith(_QUALIFIER_PREFIX) else uri
            if name not in KNOWN_QUALIFIERS:
                problems.append(f"unknown qualifier {uri!r}")
            names.append(name)
        try:
            criteria = _criteria(element.criteria_list)
        except _Uninterpretable as err:
            problems.append(f"qualification {', '.join(names)} not interpretable: {err}")
            continue
        out.append({"qualifiers": sorted(set(names)), "criteria": criteria})
    return out, problems


def _entry(
    info: Any, certificates: dict[str, bytes], origin: str
) -> tuple[StatusEntry, datetime] | None:
    from pyhanko.generated.etsi import ts_119612, ts_119612_sie

    since = _moment(info.status_starting_time)
    type_uri = info.service_type_identifier.value if info.service_type_identifier else None
    status_uri = info.service_status.value if info.service_status else None
    if since is None or not type_uri or not status_uri:
        return None
    certs: list[str] = []
    sdi = info.service_digital_identity
    for digital_id in sdi.digital_id if sdi is not None else ():
        der = digital_id.x509_certificate
        if der:
            digest = hashlib.sha256(der).hexdigest()
            certificates.setdefault(digest, bytes(der))
            if digest not in certs:
                certs.append(digest)
    qualifications: list[dict[str, Any]] = []
    additional: list[str] = []
    expired_info: datetime | None = None
    problems: list[str] = []
    exts = info.service_information_extensions
    for ext in exts.extension if exts is not None else ():
        for content in ext.content:
            if isinstance(content, ts_119612_sie.Qualifications):
                found, probs = _qualifications(content)
                qualifications.extend(found)
                problems.extend(probs)
            elif isinstance(content, ts_119612.AdditionalServiceInformation):
                if content.uri is not None and content.uri.value:
                    additional.append(content.uri.value.strip())
            elif isinstance(content, ts_119612.ExpiredCertsRevocationInfo):
                expired_info = _moment(content.value)
            elif ext.critical:
                problems.append(f"{CRITICAL_NOT_UNDERSTOOD}: {type(content).__name__}")
    entry = StatusEntry(
        type_uri=type_uri.strip(),
        status_uri=status_uri.strip(),
        since=since,
        until=None,
        name=_intl(info.service_name),
        certs=tuple(certs),
        qualifications=tuple(qualifications),
        additional_info=tuple(additional),
        expired_certs_revocation_info=expired_info,
        problems=tuple(dict.fromkeys(problems)),
    )
    return entry, since


def parse_services(
    signed_xml: str, origin: str
) -> tuple[list[Service], dict[str, bytes], list[str]]:
    """Every service of every TSP with its full status history → (services, certificates by
    SHA-256, problems)."""
    from dataclasses import replace

    tsl = _xsdata_parse(signed_xml, origin)
    services: list[Service] = []
    certificates: dict[str, bytes] = {}
    problems: list[str] = []
    tspl = tsl.trust_service_provider_list
    for tsp in tspl.trust_service_provider if tspl is not None else ():
        tsp_name = _intl(tsp.tspinformation.tspname) if tsp.tspinformation else ""
        for svc in tsp.tspservices.tspservice if tsp.tspservices is not None else ():
            infos = [svc.service_information]
            if svc.service_history is not None:
                infos.extend(svc.service_history.service_history_instance)
            entries: list[tuple[datetime, int, StatusEntry]] = []
            for i, info in enumerate(infos):
                if info is None:
                    continue
                parsed = _entry(info, certificates, origin)
                if parsed is None:
                    problems.append(
                        f"{tsp_name}: a service status without type, status or starting time"
                    )
                    continue
                # current status last among equal starting times
                entries.append((parsed[1], 0 if i else 1, parsed[0]))
            if not entries:
                continue
            entries.sort(key=lambda t: (t[0], t[1]))
            history = [
                replace(e, until=entries[j + 1][0] if j + 1 < len(entries) else None)
                for j, (_, _, e) in enumerate(entries)
            ]
            current = next((e for _, is_current, e in entries if is_current), history[-1])
            identity = current.certs or tuple(dict.fromkeys(c for e in history for c in e.certs))
            services.append(Service(tsp=tsp_name, history=tuple(history), identity=identity))
    return services, certificates, problems


def parse_lotl(
    signed_xml: str, origin: str
) -> tuple[list[Pointer], dict[str, bytes], list[str], list[str]]:
    """The LOTL's pointers (through pyHanko's ``parse_lotl_unsafe``, on signed XML only) →
    (pointers, certificates by SHA-256, pivot URLs, problems)."""
    from pyhanko.sign.validation.qualified import eutl_parse

    try:
        result = eutl_parse.parse_lotl_unsafe(signed_xml)
    except Exception as err:  # pyHanko raises TSPServiceParsingError or xsdata errors
        raise TrustListError(f"{origin}: not a valid list of trusted lists ({err})") from err
    certificates: dict[str, bytes] = {}
    pointers: list[Pointer] = []
    for ref in result.references:
        signers = []
        for cert in ref.tlso_certs:
            der = cert.dump()
            digest = hashlib.sha256(der).hexdigest()
            certificates.setdefault(digest, der)
            signers.append(digest)
        pointers.append(
            Pointer(
                territory=ref.territory,
                location=ref.location_uri,
                mime_type=_TSL_MIME,
                rules=tuple(sorted(ref.scheme_rules)),
                signers=tuple(signers),
            )
        )
    return pointers, certificates, list(result.pivot_urls), [str(e) for e in result.errors]
