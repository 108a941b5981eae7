"""The trust store: what gets in (signature checked as of the list's issue date), what is kept
(every snapshot), and what the history says at a moment."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from ltv.errors import TrustError
from ltv.trustlists.assess import signer_anchors_at, tsa_anchors_at
from ltv.trustlists.store import TrustListStore
from ltv.trustlists.xmlsig import TrustListError
from tests.unit.trustlists import tlgen
from tests.unit.trustlists.tlgen import Status, Svc, Tsp, utc

StoreFactory = Callable[..., TrustListStore]
NOW = tlgen.NOW


def files(store: TrustListStore) -> list[str]:
    return sorted(str(p.relative_to(store.path)) for p in store.path.rglob("*") if p.is_file())


def sha(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def test_lotl_then_list_checked_against_the_signers_the_lotl_names(
    tmp_path: Path, lists: tlgen.TestLists
) -> None:
    store = TrustListStore.open(tmp_path / "s", create=True)
    # the test LOTL is signed by no pinned (Official Journal) signer: refused unless given
    with pytest.raises(TrustListError, match="not among the 13 certificate"):
        store.import_list(lists.lotl, source="lotl.xml", now=NOW)
    # a member state's list before any LOTL names its signers
    with pytest.raises(TrustError, match="no LOTL in the store names the signers of ZZ"):
        store.import_list(lists.zz1, source="zz1.xml", now=NOW)
    assert files(store) == ["ltv-trust-store.json"]
    lotl = store.import_list(
        lists.lotl, source="lotl.xml", now=NOW, signers=[lists.lotl_signer.asn1()]
    )
    assert lotl.added and lotl.snapshot.kind == "lotl"
    (zz,) = [p for p in lotl.snapshot.pointers if p.territory == "ZZ"]
    assert zz.signers == (sha(lists.tl_signer.cert_der),)
    assert store.import_list(lists.zz1, source="zz1.xml", now=NOW).added
    # the same list again: nothing new
    again = store.import_list(lists.zz1, source="elsewhere.xml", now=NOW)
    assert not again.added and again.snapshot.source == "zz1.xml"
    assert len(TrustListStore.open(store.path).snapshots) == 2


def test_list_signed_by_someone_else_is_refused_and_nothing_stored(
    tmp_path: Path, make_store: StoreFactory, lists: tlgen.TestLists
) -> None:
    store = make_store()
    before = files(store)
    other = tlgen.list_signer("not the ZZ scheme operator")
    forged = tlgen.make_list(
        other,
        territory="ZZ",
        sequence=9,
        issued=utc(2026, 2, 1),
        next_update=utc(2026, 8, 1),
        tsps=tlgen.sample_services(withdrawn=False),
    )
    with pytest.raises(TrustListError, match="not among the 1 certificate"):
        store.import_list(forged, source="forged.xml", now=NOW)
    assert files(store) == before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Svcstatus/withdrawn<", b"Svcstatus/granted<"),  # a status rewritten
        (b"<tsl:TSLSequenceNumber>2<", b"<tsl:TSLSequenceNumber>3<"),  # header rewritten
    ],
)
def test_list_with_a_broken_signature_is_refused(
    make_store: StoreFactory, lists: tlgen.TestLists, old: bytes, new: bytes
) -> None:
    store = make_store()
    before = files(store)
    assert old in lists.zz2
    tampered = lists.zz2.replace(old, new, 1)
    with pytest.raises(TrustListError, match="XML signature does not verify as of its issue date"):
        store.import_list(tampered, source="tampered.xml", now=NOW)
    assert files(store) == before
    assert store.import_list(lists.zz2, source="zz2.xml", now=NOW).added  # the genuine one


def test_historic_snapshot_verifies_as_of_its_issue_date(
    tmp_path: Path,
) -> None:
    """The signer's certificate expired in 2023: a 2021 list it signed is still importable;
    a list claiming a 2024 issue date with it is not."""
    signer = tlgen.list_signer("expired TL signer", not_before=utc(2020, 1, 1), years=3)
    store = TrustListStore.open(tmp_path / "s", create=True)
    old = tlgen.make_list(
        signer,
        territory="ZZ",
        sequence=1,
        issued=utc(2021, 3, 1),
        next_update=utc(2021, 9, 1),
        tsps=tlgen.sample_services(withdrawn=False),
    )
    assert store.import_list(old, source="2021.xml", now=NOW, signers=[signer.asn1()]).added
    late = tlgen.make_list(
        signer,
        territory="ZZ",
        sequence=2,
        issued=utc(2024, 3, 1),
        next_update=utc(2024, 9, 1),
        tsps=tlgen.sample_services(withdrawn=False),
    )
    with pytest.raises(TrustListError, match="expired"):
        store.import_list(late, source="2024.xml", now=NOW, signers=[signer.asn1()])


def test_wrong_kind_and_not_a_list(make_store: StoreFactory, lists: tlgen.TestLists) -> None:
    store = make_store()
    with pytest.raises(TrustListError, match=r"zz1\.xml: this is a member state's list") as err:
        store.import_list(lists.zz1, source="zz1.xml", now=NOW, expect="lotl")
    assert "use 'ltv trust import-tl'" in err.value.diagnostics()
    with pytest.raises(TrustListError, match="not an ETSI TS 119 612 trusted list"):
        store.import_list(b"<a/>", source="a.xml", now=NOW)
    with pytest.raises(TrustListError, match="not well-formed XML"):
        store.import_list(b"%PDF-1.7", source="x.pdf", now=NOW)
    entity = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'
    with pytest.raises(TrustListError, match="DOCTYPE"):
        store.import_list(entity, source="e.xml", now=NOW)


def test_every_snapshot_is_kept_and_history_decides_per_moment(
    make_store: StoreFactory, lists: tlgen.TestLists
) -> None:
    store = make_store("zz1", "zz2")
    assert [s.sequence for s in store.lists_of("ZZ")] == [2, 1]
    interm = sha(tlgen.pem_der("interm"))

    def status(moment: object) -> list[tuple[str, int]]:
        return [(r.entry.status, r.snapshot.sequence) for r in store.resolve(interm, moment)]  # type: ignore[arg-type]

    assert status(utc(2019, 6, 1)) == []  # before the service's history starts
    assert status(utc(2026, 3, 1)) == [("granted", 2)]  # the newest list covering it
    assert status(utc(2026, 6, 1)) == [("withdrawn", 2)]
    granted = {r.service for _, r in signer_anchors_at(store, utc(2026, 4, 30, 23))}
    assert granted == {"ltv Sample Qualified CA"}
    assert signer_anchors_at(store, tlgen.CA_WITHDRAWN) == []
    assert [r.service for _, r in tsa_anchors_at(store, utc(2026, 6, 30))] == [
        "ltv Sample Qualified TSA"
    ]
    assert tsa_anchors_at(store, tlgen.TSA_WITHDRAWN) == []
    # a TSA service is never a signer anchor and vice versa
    assert all(r.type == "CA/QC" for _, r in signer_anchors_at(store, utc(2026, 3, 1)))


def test_a_service_dropped_by_a_newer_list_still_judges_older_signatures(
    tmp_path: Path, lists: tlgen.TestLists
) -> None:
    """2019 list: service granted; 2021 list: withdrawn since 2020; 2026 list: gone. A 2019
    signature is still judged by that service; a 2020 one finds it withdrawn; after the 2026
    list, an open-ended status of an older list no longer counts."""
    ca = tlgen.pem_der("interm")

    def issue(seq: int, issued: object, services: tuple[Svc, ...]) -> bytes:
        return tlgen.make_list(
            lists.tl_signer,
            territory="ZZ",
            sequence=seq,
            issued=issued,
            next_update=utc(2030, 1, 1),
            tsps=(Tsp("ltv Sample QTSP", services),),
        )

    other = Svc(
        "Another CA", "CA/QC", (tlgen.pem_der("root"),), (Status("granted", utc(2015, 1, 1)),)
    )
    granted = (Status("granted", utc(2016, 7, 1)),)
    withdrawn = (*granted, Status("withdrawn", utc(2020, 1, 1)))
    store = TrustListStore.open(tmp_path / "s", create=True)
    for seq, issued, svcs in (
        (1, utc(2019, 1, 1), (Svc("Old CA", "CA/QC", (ca,), granted), other)),
        (3, utc(2026, 1, 1), (other,)),
        (2, utc(2021, 1, 1), (Svc("Old CA", "CA/QC", (ca,), withdrawn), other)),
    ):
        store.import_list(
            issue(seq, issued, svcs), source=f"{seq}.xml", now=NOW, signers=[lists.tl_signer.asn1()]
        )
    digest = sha(ca)
    (r,) = store.resolve(digest, utc(2019, 6, 1))
    assert (r.entry.status, r.snapshot.sequence) == ("granted", 2)
    (r,) = store.resolve(digest, utc(2020, 6, 1))
    assert (r.entry.status, r.snapshot.sequence) == ("withdrawn", 2)
    assert store.resolve(digest, utc(2026, 6, 1)) == []

    # without the 2021 list, the 2019 list's open "granted" lasts until the 2026 list
    store2 = TrustListStore.open(tmp_path / "s2", create=True)
    for seq, issued, svcs in (
        (1, utc(2019, 1, 1), (Svc("Old CA", "CA/QC", (ca,), granted), other)),
        (3, utc(2026, 1, 1), (other,)),
    ):
        store2.import_list(
            issue(seq, issued, svcs), source=f"{seq}.xml", now=NOW, signers=[lists.tl_signer.asn1()]
        )
    (r,) = store2.resolve(digest, utc(2023, 6, 1))
    assert (r.entry.status, r.until) == ("granted", utc(2026, 1, 1))
    assert store2.resolve(digest, utc(2026, 1, 1)) == []


def test_status_past_next_update_is_marked_stale(make_store: StoreFactory) -> None:
    store = make_store("zz1")  # next update 2026-12-31
    interm = sha(tlgen.pem_der("interm"))
    assert [r.stale for r in store.resolve(interm, utc(2026, 12, 30))] == [False]
    assert [r.stale for r in store.resolve(interm, utc(2027, 2, 1))] == [True]


def test_critical_extension_not_understood_is_no_anchor(
    tmp_path: Path, lists: tlgen.TestLists
) -> None:
    svc = Svc(
        "CA with a critical extension",
        "CA/QC",
        (tlgen.pem_der("interm"),),
        (Status("granted", utc(2020, 1, 1)),),
        critical_unknown=True,
    )
    data = tlgen.make_list(
        lists.tl_signer,
        territory="ZZ",
        sequence=5,
        issued=utc(2026, 1, 1),
        next_update=utc(2026, 7, 1),
        tsps=(Tsp("T", (svc,)),),
    )
    store = TrustListStore.open(tmp_path / "s", create=True)
    snap = store.import_list(
        data, source="x.xml", now=NOW, signers=[lists.tl_signer.asn1()]
    ).snapshot
    (entry,) = snap.services[0].history
    assert entry.problems and "critical extension not understood" in entry.problems[0]
    assert signer_anchors_at(store, utc(2026, 3, 1)) == []


def test_an_interrupted_import_leaves_nothing_half_done(
    make_store: StoreFactory, lists: tlgen.TestLists
) -> None:
    """A snapshot exists once its .json does (written last, atomically): an orphan .xml or a
    temporary file of a killed run is ignored, and the import can be redone."""
    store = make_store()
    snaps = store.path / "snapshots"
    (snaps / "tl-ZZ-1-0123456789ab.xml").write_bytes(lists.zz1)  # killed before the .json
    (snaps / ".tl-ZZ-1-0123456789ab.json.x1y2.tmp").write_bytes(b'{"trunc')
    reopened = TrustListStore.open(store.path)
    assert [s.kind for s in reopened.snapshots] == ["lotl"]
    assert reopened.import_list(lists.zz1, source="zz1.xml", now=NOW).added


def test_open_errors_name_the_directory(tmp_path: Path) -> None:
    with pytest.raises(TrustError, match="no such trust store"):
        TrustListStore.open(tmp_path / "missing")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("x")
    with pytest.raises(TrustError, match="busy: not an ltv trust store"):
        TrustListStore.open(tmp_path / "busy", create=True)
    store = TrustListStore.open(tmp_path / "new", create=True)
    (store.path / "snapshots" / "bad.json").write_text("{")
    with pytest.raises(TrustError, match=r"bad\.json: unreadable snapshot"):
        TrustListStore.open(store.path)


def test_damaged_lists_are_refused_with_one_error_never_a_crash(
    make_store: StoreFactory, lists: tlgen.TestLists
) -> None:
    """Truncations and byte flips of a genuine list: each is refused as an LtvError (one line
    naming the file), none is stored."""
    import random

    from ltv.errors import LtvError

    store = make_store()
    rng = random.Random(12)  # noqa: S311 - reproducible damage, not cryptography
    data = lists.zz2
    damaged = [data[: rng.randrange(len(data))] for _ in range(8)]
    for _ in range(120):
        buf = bytearray(data)
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        damaged.append(bytes(buf))
    refused = 0
    for i, blob in enumerate(damaged):
        try:
            result = store.import_list(blob, source=f"damaged-{i}.xml", now=NOW)
        except LtvError as err:
            assert err.diagnostics().startswith(f"damaged-{i}.xml: "), err.diagnostics()
            assert "\n" not in err.diagnostics()
            refused += 1
        else:  # a flip in ignorable whitespace or outside the signed content
            assert result.snapshot.sequence == 2
    assert refused >= 110
    kept = TrustListStore.open(store.path).lists_of("ZZ")
    assert all(s.sha256 == sha(data) or s.sha256 in {sha(b) for b in damaged} for s in kept)
