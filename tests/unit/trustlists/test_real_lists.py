"""Real published lists (../shared/trustlists, from pyHanko's test data): ltv agrees with what
the manifest states about them. Skipped when ../shared is absent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ltv.errors import TrustError
from ltv.trustlists.pins import PINNED_SHA256, pinned_lotl_signers
from ltv.trustlists.store import TrustListStore
from ltv.trustlists.xmlsig import TrustListError
from tests.unit.trustlists.tlgen import utc

SHARED = Path(__file__).parents[3].parent / "shared" / "trustlists"
NOW = utc(2026, 12, 1)

needs_shared = pytest.mark.skipif(
    not (SHARED / "manifest.json").is_file(), reason="../shared/trustlists is absent"
)


def _load(name: str) -> bytes:
    return (SHARED / name).read_bytes()


def _certs(name: str) -> list[Any]:
    from asn1crypto import x509

    from ltv.trust import load_certificates

    return [x509.Certificate.load(d) for d in load_certificates(_load(name), name)]


def _manifest() -> dict[str, dict[str, Any]]:
    doc = json.loads((SHARED / "manifest.json").read_text())
    entries = {e["file"]: e for e in doc["entries"]}
    entries.update({e["file"]: e for e in doc["support_files"]})
    return entries


def test_pinned_lotl_signers_are_the_official_journal_sets() -> None:
    """ltv reuses pyHanko's lotl-certs/ files; a change there must be noticed."""
    found = {hashlib.sha256(c.dump()).hexdigest()[:16] for c in pinned_lotl_signers()}
    assert found == PINNED_SHA256


@needs_shared
def test_files_are_what_the_manifest_says() -> None:
    for name, entry in _manifest().items():
        assert hashlib.sha256(_load(name)).hexdigest() == entry["sha256"], name


@needs_shared
def test_belgian_list_v5_counts(tmp_path: Path) -> None:
    """Manifest, tsl-be-old.xml: verifies with the BE scheme operator certificate; 74 CA/QC
    service definitions (28 current), 18 TSA/QTST (17 current); 20 CAs, 17 TSAs; no parse
    errors. (pyHanko's "service definitions" are the granted periods of those types.)"""
    (tlso,) = _certs("pyhanko_be-tlso.cert.pem")
    validity = tlso["tbs_certificate"]["validity"]
    # "verifies at 2025-06-01T00:05Z": ltv checks as of the list's issue date; both lie in
    # the certificate's validity
    assert validity["not_before"].native <= utc(2025, 1, 27) < utc(2025, 6, 1, 0, 5)
    assert utc(2025, 6, 1, 0, 5) <= validity["not_after"].native
    store = TrustListStore.open(tmp_path / "s", create=True)
    result = store.import_list(
        _load("pyhanko_tsl-be-old.xml"), source="be-old", now=NOW, expect="tl", signers=[tlso]
    )
    snap = result.snapshot
    assert (snap.territory, snap.sequence, snap.signer_sha256[:16]) == (
        "BE",
        74,
        "470c8f97fbc6ef9f",
    )

    def granted(type_: str) -> list[Any]:
        return [
            (svc, e)
            for svc in snap.services
            for e in svc.history
            if e.type == type_ and e.status == "granted"
        ]

    def authorities(periods: list[Any]) -> set[tuple[Any, bytes]]:
        out = set()
        for _, e in periods:
            for digest in e.certs:
                cert = store.certificate(digest)
                assert cert is not None
                out.add((cert.subject.hashable, cert.public_key.dump()))
        return out

    ca, tsa = granted("CA/QC"), granted("TSA/QTST")
    assert (len(ca), sum(e.until is None for _, e in ca)) == (74, 28)
    assert (len(tsa), sum(e.until is None for _, e in tsa)) == (18, 17)
    assert (len(authorities(ca)), len(authorities(tsa))) == (20, 17)
    assert snap.problems == ()
    assert not [e.problems for s in snap.services for e in s.history if e.problems]


@needs_shared
def test_estonian_list_with_the_belgian_certificate_is_refused(tmp_path: Path) -> None:
    store = TrustListStore.open(tmp_path / "s", create=True)
    with pytest.raises(TrustListError, match="Estonian Trusted List Scheme Operator"):
        store.import_list(
            _load("pyhanko_tsl-ee.xml"),
            source="ee",
            now=NOW,
            signers=_certs("pyhanko_be-tlso.cert.pem"),
        )
    assert TrustListStore.open(store.path).snapshots == ()


@needs_shared
def test_lotl_verifies_with_the_pinned_signers(tmp_path: Path) -> None:
    store = TrustListStore.open(tmp_path / "s", create=True)
    snap = store.import_list(_load("pyhanko_eu-lotl.xml"), source="lotl", now=NOW).snapshot
    assert (snap.kind, snap.territory, snap.sequence) == ("lotl", "EU", 388)
    assert snap.signer_sha256[:16] in PINNED_SHA256
    be = [p for p in snap.pointers if p.territory == "BE"]
    assert [p.location for p in be] == ["https://tsl.belgium.be/tsl-be-v6.xml"]
    assert len(be[0].signers) == 6
    # and then the Estonian list is checked against what this LOTL names for EE
    ee = store.import_list(_load("pyhanko_tsl-ee.xml"), source="ee", now=NOW, expect="tl")
    assert ee.snapshot.signer_sha256 in {
        d for p in snap.pointers if p.territory == "EE" for d in p.signers
    }


@needs_shared
def test_pivot_lotls_hand_trust_over_to_the_pre_reanchor_signers(tmp_path: Path) -> None:
    """Manifest, eu-lotl-old.xml: bootstrapping its signers from the pivot LOTLs leads to the
    certificates in pre-reanchor.cert.pem. Pivot 335 is signed by a certificate no Official
    Journal publication names: only the pivot before it hands trust to it."""
    store = TrustListStore.open(tmp_path / "s", create=True)
    with pytest.raises(TrustListError, match="not among the"):
        store.import_list(_load("pyhanko_eu-lotl-pivot-335.xml"), source="335", now=NOW)
    for n in (282, 300, 335, 341):
        snap = store.import_list(
            _load(f"pyhanko_eu-lotl-pivot-{n}.xml"), source=str(n), now=NOW, expect="lotl"
        ).snapshot
        assert snap.sequence == n
    (self_pointer,) = [p for p in snap.pointers if p.is_lotl]
    pre = {hashlib.sha256(c.dump()).hexdigest() for c in _certs("pyhanko_pre-reanchor.cert.pem")}
    assert set(self_pointer.signers) == pre
    old = store.import_list(_load("pyhanko_eu-lotl-old.xml"), source="old", now=NOW).snapshot
    assert old.signer_sha256 in pre


@needs_shared
def test_belgian_v6_list_fetched_from_where_the_lotl_points(tmp_path: Path) -> None:
    """Manifest, tsl-be-v6.xml: served at the URL the LOTL names for BE, it is fetched,
    verified with the signer certificates the LOTL lists for BE, and parsed — here by
    `update` over ltv's HTTP client from a loopback HTTPS server answering for the LOTL's
    and BE's host names (nothing leaves the machine: OnlyMapped refuses other hosts)."""
    from ltv.evidence.http import HttpClient, Session
    from ltv.trustlists.update import EU_LOTL_URL, update
    from tests.unit.trustlists.listserver import ListServer, OnlyMapped

    sites = {
        "ec.europa.eu": {"/tools/lotl/eu-lotl.xml": _load("pyhanko_eu-lotl.xml")},
        "tsl.belgium.be": {"/tsl-be-v6.xml": _load("pyhanko_tsl-be-v6.xml")},
    }
    store = TrustListStore.open(tmp_path / "s", create=True)
    with ListServer(sites, tls=True) as server:
        client = HttpClient(
            timeout=10, connect_to=server.connect_to, ssl_context=server.ssl_context
        )
        transport = OnlyMapped(Session(client, budget=60), server.connect_to)
        outcomes = update(store, transport, now=NOW, lotl_url=EU_LOTL_URL, territories={"BE"})
    assert [(o.territory, o.error) for o in outcomes] == [("EU", None), ("BE", None)]
    assert transport.refused == []
    (be,) = store.lists_of("BE")
    assert (be.sequence, be.version, be.source) == (81, 6, "https://tsl.belgium.be/tsl-be-v6.xml")
    lotl_be = {d for s in store.lotls for p in s.pointers if p.territory == "BE" for d in p.signers}
    assert be.signer_sha256 in lotl_be
    assert len(be.services) == 135


@needs_shared
def test_member_state_list_without_its_lotl(tmp_path: Path) -> None:
    store = TrustListStore.open(tmp_path / "s", create=True)
    with pytest.raises(TrustError, match="no LOTL in the store names the signers of BE"):
        store.import_list(_load("pyhanko_tsl-be-v6.xml"), source="be", now=NOW)


@needs_shared
def test_history_instances_identified_by_ski_keep_their_service(tmp_path: Path) -> None:
    """In the BE v6 list, "Belgium Root CA2" is withdrawn since 2026-05-19; its history
    instances name it by X509SKI only (no certificate). The store still answers for that
    certificate at any moment from the newest list: supervised in 2014, granted in 2020."""
    store = TrustListStore.open(tmp_path / "s", create=True)
    store.import_list(_load("pyhanko_eu-lotl.xml"), source="lotl", now=NOW)
    for name in ("pyhanko_tsl-be-old.xml", "pyhanko_tsl-be-v6.xml"):
        store.import_list(_load(name), source=name, now=NOW, expect="tl")
    newest = store.lists_of("BE")[0]
    (svc,) = [s for s in newest.services if s.name.startswith("CN=Belgium Root CA2")]
    assert all(not e.certs for e in svc.history[:-1]) and svc.identity
    (digest,) = svc.identity
    answers = {
        year: [
            (r.entry.status, r.snapshot.sequence) for r in store.resolve(digest, utc(year, 6, 1))
        ]
        for year in (2014, 2020, 2026)
    }
    assert answers == {
        2014: [("undersupervision", 81)],
        2020: [("granted", 81)],
        2026: [("withdrawn", 81)],
    }
