"""The local trust store: every list snapshot ever imported, plus plain anchors.

Layout of a store directory (plain files; ``--store DIR``, default
``$XDG_DATA_HOME/ltv/trust`` or ``~/.local/share/ltv/trust``)::

    DIR/ltv-trust-store.json            {"format": 1} — marks the directory as a store
    DIR/snapshots/<id>.xml              a list exactly as imported (its signature verified)
    DIR/snapshots/<id>.json             what ltv read from it (ltv.trustlists.model.Snapshot)
    DIR/anchors/<role>/<sha256>.json    a plain anchor (`ltv trust add`), role signer|tsa

``<id>`` is ``lotl-EU-388-c3a48c8cbc80`` / ``tl-BE-74-e3d25e9486fb`` (kind, territory, sequence
number, first 12 hex digits of the file's SHA-256). Every file is written atomically
(temporary file, fsync, rename), the ``.xml`` before the ``.json``: a snapshot exists once its
``.json`` does, so a run killed mid-import leaves at worst an orphan ``.xml`` that the next
import of the same list overwrites. Nothing is ever deleted or rewritten: importing the same
list twice is a no-op, and two imports running at once write different files.

**History across snapshots.** Lists drop withdrawn services after a while, and a newer list
may correct an older one. For a certificate and a moment T, the store answers from the newest
snapshot (per territory) that says something about T for a service listing that certificate:
its status entry covering T. A status that is *current* in a snapshot (open-ended) is taken
to last until the issue date of the first newer snapshot of the same territory that no longer
lists the certificate at all. A status extrapolated past its list's NextUpdate is marked
``stale`` (reported as a warning).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ltv.errors import TrustError
from ltv.trustlists.model import Pointer, Service, Snapshot, StatusEntry, name_key
from ltv.trustlists.xmlsig import TrustListError

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = [
    "ImportResult",
    "Resolution",
    "StoreAnchor",
    "TrustListStore",
    "default_store_path",
]

MARKER = "ltv-trust-store.json"
STORE_FORMAT = 1
Role = Literal["signer", "tsa"]
ROLES: tuple[Role, ...] = ("signer", "tsa")


def default_store_path() -> Path:
    """``$XDG_DATA_HOME/ltv/trust``, else ``~/.local/share/ltv/trust``."""
    base = os.environ.get("XDG_DATA_HOME")
    root = Path(base) if base else Path.home() / ".local" / "share"
    return root / "ltv" / "trust"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _write(path: Path, data: bytes) -> None:
    from ltv.output import write_atomic

    write_atomic(path, data)


@dataclass(frozen=True, kw_only=True)
class StoreAnchor:
    """A plain trust anchor added with ``ltv trust add`` (no history: always trusted)."""

    sha256: str
    role: Role
    der: bytes
    subject: str
    source: str
    added_at: datetime


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    snapshot: Snapshot
    added: bool
    """False when the very same list (same SHA-256) was already in the store."""


@dataclass(frozen=True, kw_only=True)
class Resolution:
    """What the store says about one certificate at one moment."""

    snapshot: Snapshot
    service: Service
    entry: StatusEntry
    until: datetime | None
    """When this status stops being known to hold (``entry.until`` or the first newer list
    without the certificate), ``None``: still current."""
    stale: bool
    """The status is extrapolated past the list's NextUpdate."""


class TrustListStore:
    """A trust store directory, loaded (read-only view; imports update it in place)."""

    def __init__(self, path: Path, snapshots: Sequence[Snapshot], anchors: Sequence[StoreAnchor]):
        self.path = path
        self.snapshots: tuple[Snapshot, ...] = tuple(
            sorted(snapshots, key=lambda s: (s.kind, s.territory, s.issued, s.sequence, s.id))
        )
        self.anchors: tuple[StoreAnchor, ...] = tuple(anchors)
        self._certs: dict[str, x509.Certificate | None] = {}
        self._subjects: dict[str, str | None] = {}
        self._ders: dict[str, bytes] = {}
        self._index()

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, create: bool = False) -> TrustListStore:
        """Load a store; ``create`` makes a new empty one where none exists."""
        root = Path(path)
        marker = root / MARKER
        if not marker.is_file():
            if root.exists() and (not root.is_dir() or any(root.iterdir())):
                raise TrustError(
                    f"{root}: not an ltv trust store",
                    hint="give a directory made by 'ltv trust' (or a new, empty one)",
                )
            if not create:
                raise TrustError(
                    f"{root}: no such trust store",
                    hint="import lists first: ltv trust import-lotl|import-tl|update --store DIR",
                )
            try:
                (root / "snapshots").mkdir(parents=True, exist_ok=True)
                _write(marker, json.dumps({"format": STORE_FORMAT}).encode())
            except OSError as err:
                raise TrustError(f"{root}: cannot create trust store: {err.strerror}") from err
        try:
            fmt = json.loads(marker.read_text("utf-8")).get("format")
        except (OSError, ValueError, AttributeError) as err:
            raise TrustError(f"{marker}: unreadable trust store marker ({err})") from err
        if fmt != STORE_FORMAT:
            raise TrustError(f"{root}: trust store format {fmt!r} is not supported here")
        snapshots = []
        snap_dir = root / "snapshots"
        for file in sorted(snap_dir.glob("*.json")) if snap_dir.is_dir() else ():
            if file.name.startswith("."):
                continue  # a temporary file of an interrupted write
            try:
                snapshots.append(Snapshot.from_json(json.loads(file.read_text("utf-8"))))
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise TrustError(f"{file}: unreadable snapshot ({err})") from err
        anchors = []
        for role in ROLES:
            role_dir = root / "anchors" / role
            for file in sorted(role_dir.glob("*.json")) if role_dir.is_dir() else ():
                if file.name.startswith("."):
                    continue
                try:
                    data = json.loads(file.read_text("utf-8"))
                    der = base64.b64decode(data["der"])
                    anchors.append(
                        StoreAnchor(
                            sha256=hashlib.sha256(der).hexdigest(),
                            role=role,
                            der=der,
                            subject=data.get("subject", ""),
                            source=data.get("source", ""),
                            added_at=datetime.fromisoformat(
                                data["added_at"].replace("Z", "+00:00")
                            ),
                        )
                    )
                except (OSError, ValueError, KeyError, TypeError) as err:
                    raise TrustError(f"{file}: unreadable anchor ({err})") from err
        return cls(root, snapshots, anchors)

    def _index(self) -> None:
        for snap in self.snapshots:
            for digest, der in snap.certificates.items():
                self._ders.setdefault(digest, der)
            for digest, key in snap.subjects.items():
                self._subjects.setdefault(digest, key)
        # territory → TL snapshots, newest first
        self._by_territory: dict[str, list[Snapshot]] = {}
        for snap in self.snapshots:
            if snap.kind == "tl":
                self._by_territory.setdefault(snap.territory, []).append(snap)
        for snaps in self._by_territory.values():
            snaps.sort(key=lambda s: (s.issued, s.sequence), reverse=True)
        # certificate → territory → [(snapshot, service)]
        self._cert_index: dict[str, dict[str, list[tuple[Snapshot, Service]]]] = {}
        for territory, snaps in self._by_territory.items():
            for snap in snaps:
                for service in snap.services:
                    for digest in service.certs:
                        per = self._cert_index.setdefault(digest, {})
                        per.setdefault(territory, []).append((snap, service))
        self._resolved: dict[tuple[str, datetime], list[Resolution]] = {}

    _RESOLVED_MAX = 200_000

    @property
    def empty(self) -> bool:
        return not self.snapshots and not self.anchors

    @property
    def lotls(self) -> tuple[Snapshot, ...]:
        return tuple(s for s in self.snapshots if s.kind == "lotl")

    def lists_of(self, territory: str) -> tuple[Snapshot, ...]:
        """The territory's snapshots, newest first."""
        return tuple(self._by_territory.get(territory.upper(), ()))

    def certificate(self, digest: str) -> x509.Certificate | None:
        """The certificate with this SHA-256 from any snapshot, parsed in full (``None`` if it
        does not parse: a broken certificate is no anchor)."""
        if digest not in self._certs:
            cert = self._lazy(digest)
            try:
                if cert is not None:
                    cert.native  # noqa: B018 - parse eagerly, once
            except (ValueError, TypeError, KeyError):
                cert = None
            self._certs[digest] = cert
        return self._certs[digest]

    def subject_key(self, digest: str) -> str | None:
        """:func:`~ltv.trustlists.model.name_key` of the certificate's subject (``None`` if it
        does not parse); from the snapshots' index, without parsing the certificate."""
        if digest not in self._subjects:
            cert = self._lazy(digest)
            try:
                self._subjects[digest] = None if cert is None else name_key(cert.subject)
            except (ValueError, TypeError, KeyError):
                self._subjects[digest] = None
        return self._subjects[digest]

    def _lazy(self, digest: str) -> x509.Certificate | None:
        from asn1crypto import x509 as asn1_x509

        der = self._ders.get(digest)
        if der is None:
            return None
        try:
            return asn1_x509.Certificate.load(der)
        except (ValueError, TypeError):
            return None

    # -- signers of lists ----------------------------------------------------------------------

    def lotl_signers(self) -> list[x509.Certificate]:
        """Certificates that the stored LOTLs name as the LOTL's own signers (the pointer to the
        LOTL itself; how pivot LOTLs hand trust over to new signers)."""
        return self._pointer_signers(lambda p: p.is_lotl)

    def territory_signers(self, territory: str) -> list[x509.Certificate]:
        """Certificates that the stored LOTLs name as signers of ``territory``'s list."""
        wanted = territory.upper()
        return self._pointer_signers(lambda p: not p.is_lotl and p.territory.upper() == wanted)

    def _pointer_signers(self, pick: object) -> list[x509.Certificate]:
        from asn1crypto import x509 as asn1_x509

        seen: dict[str, x509.Certificate] = {}
        for snap in self.lotls:
            for pointer in snap.pointers:
                if not pick(pointer):  # type: ignore[operator]
                    continue
                for digest in pointer.signers:
                    der = snap.certificates.get(digest)
                    if der is None or digest in seen:
                        continue
                    try:
                        seen[digest] = asn1_x509.Certificate.load(der)
                    except ValueError:
                        continue
        return list(seen.values())

    # -- importing -----------------------------------------------------------------------------

    def import_list(
        self,
        data: bytes,
        *,
        source: str,
        now: datetime,
        expect: Literal["lotl", "tl"] | None = None,
        signers: Sequence[x509.Certificate] = (),
        territory: str | None = None,
    ) -> ImportResult:
        """Verify a list's signature (as of its issue date) and store it with what it says.

        Signer certificates: ``signers`` when given; otherwise, for a LOTL, the LOTL signers
        pinned in ltv (:func:`ltv.trustlists.pins.pinned_lotl_signers`) plus those the stored
        LOTLs name for the LOTL itself; for a member state's list, those the stored LOTLs name
        for its territory. A refused list (:class:`TrustListError`) leaves the store unchanged.
        ``territory``: the territory the list must be of (a list fetched from a LOTL pointer).
        """
        from asn1crypto import x509 as asn1_x509

        from ltv.trustlists.parse import parse_lotl, parse_services
        from ltv.trustlists.pins import pinned_lotl_signers
        from ltv.trustlists.xmlsig import read_header, verify_list

        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        header = read_header(data, source)
        kind: Literal["lotl", "tl"] = "lotl" if header.is_lotl else "tl"
        if expect is not None and kind != expect:
            other = "import-lotl" if kind == "lotl" else "import-tl"
            what = "the EU list of trusted lists" if kind == "lotl" else "a member state's list"
            raise TrustListError(f"{source}: this is {what}", hint=f"use 'ltv trust {other}'")
        if territory is not None and header.territory.upper() != territory.upper():
            raise TrustListError(
                f"{source}: the list of {header.territory}, where the LOTL points to {territory}'s"
            )
        candidates = list(signers)
        if not candidates:
            if kind == "lotl":
                candidates = _unique(pinned_lotl_signers() + self.lotl_signers())
            else:
                candidates = self.territory_signers(header.territory)
                if not candidates:
                    raise TrustError(
                        f"{source}: no LOTL in the store names the signers of "
                        f"{header.territory}'s list",
                        hint="import the LOTL first (ltv trust import-lotl), or give --signer CERT",
                    )
        digest = hashlib.sha256(data).hexdigest()
        for snap in self.snapshots:
            if snap.sha256 == digest:
                return ImportResult(snapshot=snap, added=False)
        verified = verify_list(data, candidates, origin=source)
        h = verified.header
        certificates: dict[str, bytes] = {}
        services: tuple[Service, ...] = ()
        pointers: tuple[Pointer, ...] = ()
        pivots: tuple[str, ...] = ()
        if kind == "lotl":
            ptrs, certificates, pivot_list, problems = parse_lotl(verified.signed_xml, source)
            pointers, pivots = tuple(ptrs), tuple(pivot_list)
        else:
            svcs, certificates, problems = parse_services(verified.signed_xml, source)
            services = tuple(svcs)
        from ltv.names import name_str

        snap_id = f"{kind}-{h.territory}-{h.sequence}-{digest[:12]}"
        subjects = {}
        for cert_digest, der in certificates.items():
            try:
                subjects[cert_digest] = name_key(asn1_x509.Certificate.load(der).subject)
            except (ValueError, TypeError, KeyError):
                continue  # a certificate that does not parse is never an anchor
        snapshot = Snapshot(
            id=snap_id,
            kind=kind,
            territory=h.territory,
            sequence=h.sequence,
            version=h.version,
            tsl_type=h.tsl_type,
            operator=h.operator,
            issued=h.issued,
            next_update=h.next_update,
            sha256=digest,
            size=len(data),
            signer_sha256=hashlib.sha256(verified.signer.dump()).hexdigest(),
            signer_subject=name_str(verified.signer.subject),
            source=source,
            imported_at=now.astimezone(UTC),
            certificates=certificates,
            subjects=subjects,
            services=services,
            pointers=pointers,
            pivots=pivots,
            problems=tuple(problems),
        )
        snap_dir = self.path / "snapshots"
        try:
            snap_dir.mkdir(parents=True, exist_ok=True)
            _write(snap_dir / f"{snap_id}.xml", data)
            _write(
                snap_dir / f"{snap_id}.json",
                json.dumps(snapshot.to_json(), ensure_ascii=False, separators=(",", ":")).encode(),
            )
        except OSError as err:
            raise _unwritable(self.path, err) from err
        self.snapshots = (*self.snapshots, snapshot)
        self._index()
        return ImportResult(snapshot=snapshot, added=True)

    def add_anchors(
        self, data: bytes, *, origin: str, role: Role, now: datetime
    ) -> list[StoreAnchor]:
        """Add every certificate of a PEM/DER/PKCS#7 file as a plain anchor for ``role``."""
        from asn1crypto import x509 as asn1_x509

        from ltv.names import name_str
        from ltv.trust import load_certificates

        if role not in ROLES:
            raise TrustError(f"unknown anchor role {role!r}", hint="signer or tsa")
        added: list[StoreAnchor] = []
        have = {(a.role, a.sha256) for a in self.anchors}
        for der in load_certificates(data, origin):
            digest = hashlib.sha256(der).hexdigest()
            anchor = StoreAnchor(
                sha256=digest,
                role=role,
                der=der,
                subject=name_str(asn1_x509.Certificate.load(der).subject),
                source=origin,
                added_at=now.astimezone(UTC),
            )
            if (role, digest) in have:
                continue
            doc = {
                "format": STORE_FORMAT,
                "role": role,
                "subject": anchor.subject,
                "source": origin,
                "added_at": _iso(anchor.added_at),
                "der": base64.b64encode(der).decode("ascii"),
            }
            target = self.path / "anchors" / role
            try:
                target.mkdir(parents=True, exist_ok=True)
                _write(target / f"{digest}.json", json.dumps(doc, indent=1).encode())
            except OSError as err:
                raise _unwritable(self.path, err) from err
            have.add((role, digest))
            added.append(anchor)
        self.anchors = (*self.anchors, *added)
        return added

    # -- history -------------------------------------------------------------------------------

    def listed_certificates(self) -> Iterator[str]:
        """SHA-256 of every certificate any stored list names in a service."""
        return iter(self._cert_index)

    def resolve(self, digest: str, moment: datetime) -> list[Resolution]:
        """What the stored lists say about certificate ``digest`` at ``moment``: per territory,
        the entries of the newest snapshot with information about that moment (see the
        module docstring). Empty: no list covers that certificate at that moment."""
        key = (digest, moment)
        cached = self._resolved.get(key)
        if cached is not None:
            return cached
        out: list[Resolution] = []
        for territory, hits in self._cert_index.get(digest, {}).items():
            order = self._by_territory[territory]
            listing = {id(snap) for snap, _ in hits}
            for snap in order:
                if id(snap) not in listing:
                    continue
                newer_without = [
                    s.issued for s in order if s.issued > snap.issued and id(s) not in listing
                ]
                cap = min(newer_without) if newer_without else None
                found = []
                for s2, service in hits:
                    if s2 is not snap:
                        continue
                    for entry in reversed(service.history):
                        if digest not in service.entry_certs(entry):
                            continue
                        until = entry.until if entry.until is not None else cap
                        if entry.since <= moment and (until is None or moment < until):
                            stale = (
                                entry.until is None
                                and snap.next_update is not None
                                and moment > snap.next_update
                            )
                            found.append(
                                Resolution(
                                    snapshot=snap,
                                    service=service,
                                    entry=entry,
                                    until=until,
                                    stale=stale,
                                )
                            )
                            break
                if found:
                    out.extend(found)
                    break
        if len(self._resolved) > self._RESOLVED_MAX:  # a long batch: keep memory bounded
            self._resolved.clear()
        self._resolved[key] = out
        return out


def _unwritable(path: Path, err: OSError) -> TrustError:
    return TrustError(f"{path}: cannot write to the trust store: {err.strerror}")


def _unique(certs: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    seen: dict[bytes, x509.Certificate] = {}
    for cert in certs:
        seen.setdefault(cert.dump(), cert)
    return list(seen.values())
