"""What the verify pipeline asks of the trusted lists: anchors *at a moment*, and qualification.

The narrow interface (ported as is into the pipeline):

- :func:`signer_anchors_at` / :func:`tsa_anchors_at`: the certificates of CA (resp. TSA)
  services whose status **at that moment** was a trusted one (granted, or its pre-eIDAS
  equivalents) according to the history in every snapshot the store holds — not "listed
  today". Each comes with the :class:`~ltv.report.TrustServiceRef` that decided.
- :func:`explain_untrusted`: why a chain that ends at a listed service was not trusted at that
  moment (the service and its status then), for the report's reasons.
- :func:`qualify` / :func:`qualify_timestamp`: QES / AdES-QC / AdES (QSeal / AdESeal-QC /
  AdESeal for seals), QSCD, QTST.

Qualification uses pyHanko's ``QualificationAssessor`` (``pyhanko.sign.validation.qualified``:
QC statements, pre-eIDAS policies, the service's qualifiers and certificate-type restrictions)
on a registry built from the *status entry valid at the moment* — pyHanko's own registry
knows only granted periods of one list; ltv feeds it the entry the store's history selects. A
certificate is qualified only if its CA/QC service was granted both when it was issued
(notBefore) and at the validation time (ETSI TS 119 615 §4.3: qualification at issuance and
at the time of signing), and no entry involved has qualifications ltv could not interpret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ltv.names import name_str
from ltv.report import QualificationReport, TrustServiceRef, rfc3339
from ltv.trustlists.model import (
    CA_QC_TYPE,
    QTST_TYPE,
    QUALIFIED_CA_STATUSES,
    SIGNER_SERVICE_TYPES,
    TSA_SERVICE_TYPES,
    name_key,
    short_type,
)
from ltv.trustlists.parse import CRITICAL_NOT_UNDERSTOOD

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.trustlists.store import Resolution, TrustListStore

__all__ = [
    "Qualification",
    "ServiceRef",
    "explain_untrusted",
    "plain_anchors",
    "qualification_report",
    "qualify",
    "qualify_timestamp",
    "signer_anchors_at",
    "stale_warning",
    "tsa_anchors_at",
]

ServiceRef = TrustServiceRef
Purpose = Literal["signer", "tsa"]
_ADDITIONAL_TYPES = {
    "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/ForeSignatures": "esig",
    "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/ForeSeals": "eseal",
    "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/ForWebSiteAuthentication": "web",
}


def service_ref(res: Resolution) -> TrustServiceRef:
    snap, entry = res.snapshot, res.entry
    return TrustServiceRef(
        territory=snap.territory,
        list_id=snap.id,
        list_sequence=snap.sequence,
        list_issued=snap.issued,
        tsp=res.service.tsp,
        service=entry.name,
        type=entry.type,
        status=entry.status,
        status_since=entry.since,
        status_until=res.until,
        stale=res.stale,
    )


def _usable(res: Resolution, types: frozenset[str]) -> bool:
    entry = res.entry
    return (
        entry.type_uri in types
        and entry.trusted
        and not any(p.startswith(CRITICAL_NOT_UNDERSTOOD) for p in entry.problems)
    )


def _anchors_at(
    store: TrustListStore,
    moment: datetime,
    types: frozenset[str],
    relevant_to: Iterable[x509.Certificate] | None,
) -> list[tuple[x509.Certificate, TrustServiceRef]]:
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    wanted = _wanted(relevant_to)
    out: list[tuple[x509.Certificate, TrustServiceRef]] = []
    for digest in store.listed_certificates():
        if wanted is not None and not _relevant(store, digest, wanted):
            continue
        resolutions = [r for r in store.resolve(digest, moment) if _usable(r, types)]
        if not resolutions:
            continue
        cert = store.certificate(digest)
        if cert is not None:
            out.append((cert, service_ref(resolutions[0])))
    return out


def _wanted(relevant_to: Iterable[x509.Certificate] | None) -> tuple[set[str], set[str]] | None:
    """(issuer name keys, SHA-256s) of the given certificates: an anchor that may matter for
    them is one of them or has one of those names as its subject."""
    import hashlib

    if relevant_to is None:
        return None
    names: set[str] = set()
    digests: set[str] = set()
    for cert in relevant_to:
        try:
            names.add(name_key(cert.issuer))
            digests.add(hashlib.sha256(cert.dump()).hexdigest())
        except (ValueError, TypeError, KeyError):
            continue
    return names, digests


def _relevant(store: TrustListStore, digest: str, wanted: tuple[set[str], set[str]]) -> bool:
    names, digests = wanted
    return digest in digests or store.subject_key(digest) in names


def signer_anchors_at(
    store: TrustListStore,
    moment: datetime,
    *,
    relevant_to: Iterable[x509.Certificate] | None = None,
) -> list[tuple[x509.Certificate, TrustServiceRef]]:
    """Certificates of CA services (CA/QC, CA/PKC, NationalRootCA-QC) whose status at
    ``moment`` was trusted, with the deciding service entry. ``relevant_to``: only those that
    could issue one of these certificates (or are one of them) — a speed-up, same answer."""
    return _anchors_at(store, moment, SIGNER_SERVICE_TYPES, relevant_to)


def tsa_anchors_at(
    store: TrustListStore,
    moment: datetime,
    *,
    relevant_to: Iterable[x509.Certificate] | None = None,
) -> list[tuple[x509.Certificate, TrustServiceRef]]:
    """Certificates of time-stamping services (TSA/QTST, TSA, …) trusted at ``moment``."""
    return _anchors_at(store, moment, TSA_SERVICE_TYPES, relevant_to)


def plain_anchors(store: TrustListStore, role: Literal["signer", "tsa"]) -> list[x509.Certificate]:
    """The store's plain anchors (``ltv trust add``) for one role: always trusted, no history."""
    from asn1crypto import x509 as asn1_x509

    return [asn1_x509.Certificate.load(a.der) for a in store.anchors if a.role == role]


def anchor_ref(
    anchors: Sequence[tuple[x509.Certificate, TrustServiceRef]], cert: x509.Certificate | None
) -> TrustServiceRef | None:
    """The service behind ``cert`` (a chain's last certificate) among ``anchors``."""
    if cert is None:
        return None
    der = cert.dump()
    for anchor, ref in anchors:
        if anchor.dump() == der:
            return ref
    return None


async def explain_untrusted(
    store: TrustListStore,
    cert: x509.Certificate,
    other_certs: list[x509.Certificate],
    chain_moment: datetime,
    moment: datetime,
    purpose: Purpose,
) -> str | None:
    """Why ``cert``'s chain is not trusted although it ends at a service of a stored list:
    that service and its status at ``moment`` (the validation time; a token's genTime). The
    chain itself is built at ``chain_moment`` with every listed certificate as an anchor.
    ``None`` when the chain does not end at a listed service either."""
    from ltv.pipeline.chain import validate_chain

    types = SIGNER_SERVICE_TYPES if purpose == "signer" else TSA_SERVICE_TYPES
    wanted = _wanted([cert, *other_certs])
    assert wanted is not None  # noqa: S101 - given a list
    listed: list[x509.Certificate] = []
    for digest in store.listed_certificates():
        if not _relevant(store, digest, wanted):
            continue
        candidate = store.certificate(digest)
        if candidate is not None:
            listed.append(candidate)
    if not listed:
        return None
    chain = await validate_chain(
        cert, anchors=listed, other_certs=other_certs, moment=chain_moment, purpose=purpose
    )
    if chain.problem is not None or not chain.anchor_included:
        return None
    import hashlib

    anchor = chain.path[-1]
    digest = hashlib.sha256(anchor.dump()).hexdigest()
    who = name_str(cert.subject)
    at = rfc3339(moment)
    found = store.resolve(digest, moment)
    if not found:
        return (
            f"the chain of {who} ends at {name_str(anchor.subject)}, which no stored trusted "
            f"list names as a trust service at {at}"
        )
    res = found[0]
    ref = service_ref(res)
    if res.entry.type_uri not in types:
        return (
            f"the chain of {who} ends at trust service {ref.service!r} of {ref.territory} list "
            f"#{ref.list_sequence}, of type {ref.type}: not a "
            f"{'certification' if purpose == 'signer' else 'time-stamping'} service"
        )
    problems = [p for p in res.entry.problems if p.startswith(CRITICAL_NOT_UNDERSTOOD)]
    why = f" ({'; '.join(problems)})" if problems else ""
    return (
        f"the chain of {who} ends at trust service {ref.service!r} ({ref.type}) of {ref.tsp!r} "
        f"whose status at {at} was {ref.status} (since {rfc3339(ref.status_since)}, "
        f"{ref.territory} list #{ref.list_sequence} of {rfc3339(ref.list_issued)}){why}"
    )


# -- qualification -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Qualification:
    """The qualified status of a signer's certificate (plain data)."""

    qualified: bool
    qscd: bool
    qc_type: str | None
    service: TrustServiceRef | None
    notes: tuple[str, ...] = ()

    def signature_class(self) -> str:
        """QES / AdES-QC / AdES, or QSeal / AdESeal-QC / AdESeal (ETSI TS 119 172-4)."""
        seal = self.qc_type == "eseal"
        if not self.qualified or self.qc_type == "web":
            return "AdESeal" if seal else "AdES"
        if self.qscd:
            return "QSeal" if seal else "QES"
        return "AdESeal-QC" if seal else "AdES-QC"


def _criteria(data: Any) -> Any:
    from pyhanko.sign.validation.qualified.tsp import (
        CertSubjectDNCriterion,
        CriteriaCombination,
        CriteriaList,
        KeyUsageCriterion,
        PolicySetCriterion,
    )
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    items: list[Any] = [
        KeyUsageCriterion(
            settings=KeyUsageConstraints(
                key_usage=frozenset(ku["set"]), key_usage_forbidden=frozenset(ku["unset"])
            )
        )
        for ku in data.get("key_usage", ())
    ]
    items.extend(PolicySetCriterion(frozenset(p)) for p in data.get("policy_sets", ()))
    items.extend(
        CertSubjectDNCriterion(frozenset(a)) for a in data.get("subject_dn_attributes", ())
    )
    items.extend(
        KeyUsageCriterion(settings=KeyUsageConstraints(extd_key_usage=frozenset(e)))
        for e in data.get("extended_key_usage", ())
    )
    items.extend(_criteria(sub) for sub in data.get("lists", ()))
    return CriteriaList(combine_as=CriteriaCombination(data["assert"]), criteria=frozenset(items))


def _service_information(res: Resolution, store: TrustListStore) -> Any:
    """A pyHanko ``CAServiceInformation`` for one status entry, valid over that entry's
    period as the store's history establishes it."""
    from pyhanko.sign.validation.qualified.tsp import (
        BaseServiceInformation,
        CAServiceInformation,
        QcCertType,
        Qualifier,
    )
    from pyhanko.sign.validation.qualified.tsp import Qualification as PhQualification

    entry = res.entry
    certs = tuple(
        c for c in (store.certificate(d) for d in res.service.entry_certs(entry)) if c is not None
    )
    qc_types = frozenset(
        QcCertType(_PYHANKO_QC_TYPE[_ADDITIONAL_TYPES[uri]])
        for uri in entry.additional_info
        if uri in _ADDITIONAL_TYPES
    )
    qualifications = frozenset(
        PhQualification(
            qualifiers=frozenset(Qualifier(q) for q in qual["qualifiers"]),
            criteria_list=_criteria(qual["criteria"]),
        )
        for qual in entry.qualifications
    )
    return CAServiceInformation(
        base_info=BaseServiceInformation(
            service_type=entry.type_uri,
            service_name=entry.name,
            valid_from=entry.since,
            valid_until=res.until,
            provider_certs=certs,
            additional_info_certificate_type=qc_types,
            other_additional_info=frozenset(),
        ),
        qualifications=qualifications,
        expired_certs_revocation_info=entry.expired_certs_revocation_info,
    )


_PYHANKO_QC_TYPE = {"esig": "qct_esign", "eseal": "qct_eseal", "web": "qct_web"}


def _qc_type_name(value: Any) -> str:
    name = str(getattr(value, "value", value))
    return {v: k for k, v in _PYHANKO_QC_TYPE.items()}.get(name, name)


def _assess(
    signer_cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    resolutions: Sequence[Resolution],
    moment: datetime,
    store: TrustListStore,
) -> Any:
    from pyhanko.sign.validation.qualified.assess import QualificationAssessor
    from pyhanko.sign.validation.qualified.tsp import TSPRegistry
    from pyhanko_certvalidator.authority import AuthorityWithCert, TrustAnchor
    from pyhanko_certvalidator.path import ValidationPath

    registry = TSPRegistry()
    for res in resolutions:
        registry.register_ca(_service_information(res, store))
    anchor = chain[-1]
    interm = list(reversed(chain[1:-1])) if len(chain) > 1 else []
    path = ValidationPath(TrustAnchor(AuthorityWithCert(anchor)), interm, signer_cert)
    return QualificationAssessor(registry).check_entity_cert_qualified(path, moment=moment)


def _qualifying(resolutions: Sequence[Resolution]) -> tuple[list[Resolution], list[str]]:
    ok: list[Resolution] = []
    notes: list[str] = []
    for res in resolutions:
        ref = service_ref(res)
        if res.entry.type_uri != CA_QC_TYPE:
            notes.append(f"{ref.service!r} is a {ref.type} service, not CA/QC")
        elif res.entry.status_uri not in QUALIFIED_CA_STATUSES:
            notes.append(f"{ref.service!r} was {ref.status} (not granted)")
        elif res.entry.problems:
            notes.append(
                f"{ref.service!r}: qualifications not interpretable "
                f"({'; '.join(res.entry.problems)})"
            )
        else:
            ok.append(res)
    return ok, notes


def qualify(
    signer_cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    deciding_service: TrustServiceRef | None,
    at: datetime,
    store: TrustListStore,
) -> Qualification:
    """Qualified status of ``signer_cert`` at ``at``. ``chain``: its validated chain, leaf
    first (empty: the chain is not trusted at ``at``). The service that decides is the CA/QC
    service of the CA closest to the signer on that chain that a stored list names (the
    chain's anchor, ``deciding_service``, is usually it)."""
    import hashlib

    qc_type = _qc_type_from_statements(signer_cert)

    def unqualified(service: TrustServiceRef | None, *notes: str) -> Qualification:
        return Qualification(
            qualified=False, qscd=False, qc_type=qc_type, service=service, notes=notes
        )

    if not chain:
        return unqualified(
            deciding_service,
            "the signer's chain is not trusted at the validation time: no qualified status",
        )
    issued = signer_cert["tbs_certificate"]["validity"]["not_before"].native
    for depth, ca in enumerate(chain[1:] or chain[:1], start=1):
        digest = hashlib.sha256(ca.dump()).hexdigest()
        found_at, found_issue = store.resolve(digest, at), store.resolve(digest, issued)
        if found_at or found_issue:
            chain = chain[: depth + 1]
            break
    else:
        return unqualified(
            deciding_service,
            "no CA of the signer's chain is a trust service of a stored trusted list: "
            "qualified status not established",
        )
    at_time, notes = _qualifying(found_at)
    at_issue, notes_issue = _qualifying(found_issue)
    notes += [f"at issuance ({rfc3339(issued)}): {n}" for n in notes_issue]
    if not found_issue:
        notes.append(
            f"the service was not listed when the certificate was issued ({rfc3339(issued)})"
        )
    if not found_at:
        notes.append(f"the service is not listed at {rfc3339(at)}")
    deciding = service_ref(found_at[0]) if found_at else deciding_service
    if not at_time or not at_issue:
        return unqualified(deciding, *notes)
    try:
        now_status = _assess(signer_cert, chain, at_time, at, store)
        issue_status = _assess(signer_cert, chain, at_issue, issued, store)
    except (NotImplementedError, ValueError, KeyError) as err:
        return Qualification(
            qualified=False,
            qscd=False,
            qc_type=qc_type,
            service=deciding,
            notes=(*notes, f"qualification could not be assessed: {err}"),
        )
    st, st_issue = now_status.status, issue_status.status
    qualified = bool(st.qualified and st_issue.qualified)
    if st.qualified and not st_issue.qualified:
        notes.append(f"not qualified at issuance ({rfc3339(issued)})")
    if not st.qualified:
        notes.append(
            "neither the certificate's QC statements nor the service's qualifiers make it qualified"
        )
    qscd = qualified and st.qc_key_security.is_qscd and st_issue.qc_key_security.is_qscd
    ref = service_ref(at_time[0])
    if now_status.service_definition is not None:
        for res in at_time:
            if res.entry.name == now_status.service_definition.base_info.service_name:
                ref = service_ref(res)
                break
    return Qualification(
        qualified=qualified,
        qscd=bool(qscd),
        qc_type=_qc_type_name(st.qc_type),
        service=ref,
        notes=tuple(notes),
    )


def _qc_type_from_statements(cert: x509.Certificate) -> str | None:
    """The QcType statement of a certificate (ETSI EN 319 412-5 §4.2.3), if it has one."""
    from pyhanko.sign.ades.qualified_asn1 import get_qc_statements

    try:
        for statement in get_qc_statements(cert):
            if statement["statement_id"].native == "qc_type":
                types = statement["statement_info"].native
                if len(types) == 1:
                    return _qc_type_name(types[0])
    except (ValueError, KeyError, TypeError):
        return None
    return None


def qualify_timestamp(deciding_service: TrustServiceRef | None) -> str:
    """QTST when the TSA's chain ended at a TSA/QTST service granted at genTime, else TST."""
    if (
        deciding_service is not None
        and deciding_service.type == short_type(QTST_TYPE)
        and deciding_service.status == "granted"
    ):
        return "QTST"
    return "TST"


def stale_warning(ref: TrustServiceRef) -> str:
    """The warning for a status extrapolated past its list's NextUpdate."""
    return (
        f"{ref.territory} list #{ref.list_sequence} (issued {rfc3339(ref.list_issued)}) was due "
        f"for renewal before the time judged and no newer one is in the trust store: the status "
        f"of {ref.service!r} may be out of date (ltv trust update)"
    )


def qualification_report(
    q: Qualification,
    *,
    passed: bool,
    timestamp: str | None,
    timestamp_service: TrustServiceRef | None,
) -> QualificationReport:
    """The report object: the class is claimed only for a TOTAL-PASSED signature."""
    notes = list(q.notes)
    if not passed:
        notes.append("no class: the signature is not TOTAL-PASSED")
    notes.extend(stale_warning(ref) for ref in (q.service, timestamp_service) if ref and ref.stale)
    source = q.service.describe() if q.service is not None else "no trusted-list service"
    return QualificationReport(
        signature=q.signature_class() if passed else None,
        timestamp=timestamp,
        source=source,
        qualified=q.qualified,
        qscd=q.qscd,
        qc_type=q.qc_type,
        service=q.service,
        timestamp_service=timestamp_service,
        notes=tuple(dict.fromkeys(notes)),
    )
