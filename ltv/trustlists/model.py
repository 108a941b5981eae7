"""What ltv keeps of a trusted list (ETSI TS 119 612): plain, frozen data, JSON round-trip.

A :class:`Snapshot` is one list *as issued* (one ``ListIssueDateTime``, one sequence number):
the LOTL (``kind="lotl"``: pointers to the member states' lists and the certificates that sign
them) or a member state's list (``kind="tl"``: trust service providers and their services). A
:class:`Service` carries its whole **status history** as the list states it (TS 119 612
§5.5.4 ServiceStatus, §5.6 ServiceHistory): one :class:`StatusEntry` per status, oldest first,
each valid from its ``StatusStartingTime`` until the next entry's (the current one: open).

Certificates are kept once per snapshot (``certificates``, DER by SHA-256) and referred to by
their SHA-256 (hex) everywhere else.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "FORMAT",
    "QUALIFIED_CA_STATUSES",
    "SIGNER_SERVICE_TYPES",
    "STATUS_PREFIX",
    "TRUSTED_STATUSES",
    "TSA_SERVICE_TYPES",
    "TYPE_PREFIX",
    "Pointer",
    "Service",
    "Snapshot",
    "StatusEntry",
    "name_key",
    "short_status",
    "short_type",
]

FORMAT = 1
"""Version of the snapshot JSON written by this code."""

TYPE_PREFIX = "http://uri.etsi.org/TrstSvc/Svctype/"
STATUS_PREFIX = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/"

SIGNER_SERVICE_TYPES = frozenset(TYPE_PREFIX + t for t in ("CA/QC", "CA/PKC", "NationalRootCA-QC"))
"""Services whose certificates anchor signers' chains (certification authorities)."""
TSA_SERVICE_TYPES = frozenset(
    TYPE_PREFIX + t for t in ("TSA/QTST", "TSA", "TSA/TSS-QC", "TSA/TSS-AdESQCandQES")
)
"""Services whose certificates anchor time-stamping units' chains."""
QTST_TYPE = TYPE_PREFIX + "TSA/QTST"
CA_QC_TYPE = TYPE_PREFIX + "CA/QC"

TRUSTED_STATUSES = frozenset(
    STATUS_PREFIX + s
    for s in (
        # eIDAS (TS 119 612 v2.1+): qualified services "granted", others nationally recognised
        "granted",
        "recognisedatnationallevel",
        # Directive 1999/93/EC era (TS 119 612 v1): the positive statuses of that time
        "undersupervision",
        "supervisionincessation",
        "accredited",
        "setbynationallaw",
    )
)
"""A service with one of these statuses at a moment is a trust anchor at that moment."""

QUALIFIED_CA_STATUSES = frozenset(
    STATUS_PREFIX + s
    for s in ("granted", "undersupervision", "supervisionincessation", "accredited")
)
"""A CA/QC service with one of these statuses issues qualified certificates at that moment
("granted" under eIDAS; the supervised/accredited statuses before 1 July 2016)."""


def name_key(name: Any) -> str:
    """A short key for an asn1crypto ``Name``, equal for names that RFC 5280 §7.1 matching
    (as asn1crypto normalises it: ``Name.hashable``) says are equal."""
    import hashlib

    return hashlib.sha256(str(name.hashable).encode("utf-8")).hexdigest()[:32]


def short_type(uri: str) -> str:
    """``http://uri.etsi.org/TrstSvc/Svctype/CA/QC`` → ``CA/QC``."""
    return uri[len(TYPE_PREFIX) :] if uri.startswith(TYPE_PREFIX) else uri


def short_status(uri: str) -> str:
    """``…/Svcstatus/granted`` → ``granted``."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _req_dt(value: str) -> datetime:
    moment = _dt(value)
    if moment is None:
        raise ValueError("a required time is missing")
    return moment


@dataclass(frozen=True, kw_only=True)
class StatusEntry:
    """One status of a service, as one list states it (current status or history instance)."""

    type_uri: str
    status_uri: str
    since: datetime
    until: datetime | None
    """Start of the next status in the same list; ``None``: the status current in that list."""
    name: str
    certs: tuple[str, ...]
    """SHA-256 of the service digital identity's X.509 certificates."""
    qualifications: tuple[Mapping[str, Any], ...] = ()
    """TS 119 612 §5.5.9.2 Qualifications extension, as JSON (see ltv.trustlists.parse)."""
    additional_info: tuple[str, ...] = ()
    """AdditionalServiceInformation URIs (e.g. ``…/SvcInfoExt/ForeSignatures``)."""
    expired_certs_revocation_info: datetime | None = None
    problems: tuple[str, ...] = ()
    """What could not be interpreted in this entry (e.g. an unknown qualification criterion):
    such an entry still anchors trust but never makes a certificate qualified."""

    @property
    def type(self) -> str:
        return short_type(self.type_uri)

    @property
    def status(self) -> str:
        return short_status(self.status_uri)

    @property
    def trusted(self) -> bool:
        return self.status_uri in TRUSTED_STATUSES

    def covers(self, moment: datetime) -> bool:
        return self.since <= moment and (self.until is None or moment < self.until)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type_uri,
            "status": self.status_uri,
            "since": _iso(self.since),
            "until": _iso(self.until),
            "name": self.name,
            "certs": list(self.certs),
            "qualifications": [dict(q) for q in self.qualifications],
            "additional_info": list(self.additional_info),
            "expired_certs_revocation_info": _iso(self.expired_certs_revocation_info),
            "problems": list(self.problems),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusEntry:
        return cls(
            type_uri=data["type"],
            status_uri=data["status"],
            since=_req_dt(data["since"]),
            until=_dt(data.get("until")),
            name=data.get("name", ""),
            certs=tuple(data.get("certs", ())),
            qualifications=tuple(data.get("qualifications", ())),
            additional_info=tuple(data.get("additional_info", ())),
            expired_certs_revocation_info=_dt(data.get("expired_certs_revocation_info")),
            problems=tuple(data.get("problems", ())),
        )


@dataclass(frozen=True, kw_only=True)
class Service:
    """A trust service of a provider, with its status history (oldest first)."""

    tsp: str
    history: tuple[StatusEntry, ...]
    identity: tuple[str, ...] = ()
    """The certificates that identify the service: those of its current ServiceInformation.
    A history instance whose digital identity gives no certificate (TS 119 612 §5.6.3 allows
    X509SKI or a subject name) is about these."""

    def entry_certs(self, entry: StatusEntry) -> tuple[str, ...]:
        """The certificates an entry is about: its own, else the service's identity."""
        return entry.certs or self.identity

    @property
    def current(self) -> StatusEntry:
        return self.history[-1]

    @property
    def name(self) -> str:
        return self.current.name

    @property
    def certs(self) -> frozenset[str]:
        return frozenset(c for e in self.history for c in self.entry_certs(e))

    def entry_at(self, moment: datetime) -> StatusEntry | None:
        for entry in reversed(self.history):
            if entry.covers(moment):
                return entry
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "tsp": self.tsp,
            "identity": list(self.identity),
            "history": [e.to_json() for e in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Service:
        return cls(
            tsp=data.get("tsp", ""),
            history=tuple(StatusEntry.from_json(e) for e in data["history"]),
            identity=tuple(data.get("identity", ())),
        )


@dataclass(frozen=True, kw_only=True)
class Pointer:
    """A LOTL's pointer to a list (TS 119 612 §5.3.13): where it is, who may sign it."""

    territory: str
    location: str
    mime_type: str | None
    rules: tuple[str, ...]
    signers: tuple[str, ...]
    """SHA-256 of the certificates allowed to sign the list pointed to."""

    @property
    def is_lotl(self) -> bool:
        """The LOTL's pointer to itself: it names the LOTL's own signers (pivot mechanism)."""
        return any(r.endswith("/EUlistofthelists") for r in self.rules)

    def to_json(self) -> dict[str, Any]:
        return {
            "territory": self.territory,
            "location": self.location,
            "mime_type": self.mime_type,
            "rules": list(self.rules),
            "signers": list(self.signers),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pointer:
        return cls(
            territory=data["territory"],
            location=data["location"],
            mime_type=data.get("mime_type"),
            rules=tuple(data.get("rules", ())),
            signers=tuple(data.get("signers", ())),
        )


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """One imported list, exactly as issued and verified."""

    id: str
    kind: Literal["lotl", "tl"]
    territory: str
    sequence: int
    version: int | None
    tsl_type: str
    operator: str
    issued: datetime
    next_update: datetime | None
    sha256: str
    """SHA-256 of the XML file as imported."""
    size: int
    signer_sha256: str
    signer_subject: str
    source: str
    """Where it came from: a file path or a URL."""
    imported_at: datetime
    certificates: Mapping[str, bytes] = field(default_factory=dict)
    subjects: Mapping[str, str] = field(default_factory=dict)
    """Certificate SHA-256 → :func:`name_key` of its subject (an index: finding the anchors
    that may issue a certificate must not parse thousands of certificates)."""
    services: tuple[Service, ...] = ()
    pointers: tuple[Pointer, ...] = ()
    pivots: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``BE list #74 of 2025-01-27T07:35:45Z`` — how reports name a list."""
        what = "LOTL" if self.kind == "lotl" else f"{self.territory} list"
        return f"{what} #{self.sequence} of {_iso(self.issued)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "id": self.id,
            "kind": self.kind,
            "territory": self.territory,
            "sequence": self.sequence,
            "version": self.version,
            "tsl_type": self.tsl_type,
            "operator": self.operator,
            "issued": _iso(self.issued),
            "next_update": _iso(self.next_update),
            "sha256": self.sha256,
            "size": self.size,
            "signer": {"sha256": self.signer_sha256, "subject": self.signer_subject},
            "source": self.source,
            "imported_at": _iso(self.imported_at),
            "certificates": {
                k: base64.b64encode(v).decode("ascii") for k, v in self.certificates.items()
            },
            "subjects": dict(self.subjects),
            "services": [s.to_json() for s in self.services],
            "pointers": [p.to_json() for p in self.pointers],
            "pivots": list(self.pivots),
            "problems": list(self.problems),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Snapshot:
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown snapshot format {data.get('format')!r}")
        kind = data["kind"]
        if kind not in ("lotl", "tl"):
            raise ValueError(f"unknown snapshot kind {kind!r}")
        return cls(
            id=data["id"],
            kind=kind,
            territory=data["territory"],
            sequence=int(data["sequence"]),
            version=data.get("version"),
            tsl_type=data.get("tsl_type", ""),
            operator=data.get("operator", ""),
            issued=_req_dt(data["issued"]),
            next_update=_dt(data.get("next_update")),
            sha256=data["sha256"],
            size=int(data.get("size", 0)),
            signer_sha256=data["signer"]["sha256"],
            signer_subject=data["signer"]["subject"],
            source=data.get("source", ""),
            imported_at=_req_dt(data["imported_at"]),
            certificates={k: base64.b64decode(v) for k, v in data.get("certificates", {}).items()},
            subjects=dict(data.get("subjects", {})),
            services=tuple(Service.from_json(s) for s in data.get("services", ())),
            pointers=tuple(Pointer.from_json(p) for p in data.get("pointers", ())),
            pivots=tuple(data.get("pivots", ())),
            problems=tuple(data.get("problems", ())),
        )
