"""``update``: the LOTL and the lists it points to, fetched from a loopback server through
ltv's HTTP client, verified, stored; failures are per list; offline fetches nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltv.errors import NetworkError
from ltv.evidence.http import HttpClient, NoNetwork, Session
from ltv.trustlists.store import TrustListStore
from ltv.trustlists.update import update
from tests.unit.trustlists import tlgen
from tests.unit.trustlists.listserver import ListServer, OnlyMapped

NOW = tlgen.NOW


def _sites(lists: tlgen.TestLists, zz: bytes | None) -> dict[str, dict[str, bytes]]:
    paths = {"/lotl.xml": lists.lotl}
    if zz is not None:
        paths["/zz.xml"] = zz
    return {"tl.ltv.test": paths}


def _run(
    store: TrustListStore, lists: tlgen.TestLists, server: ListServer, **client: object
) -> list[object]:
    inner = HttpClient(timeout=10, connect_to=server.connect_to, **client)  # type: ignore[arg-type]
    transport = OnlyMapped(Session(inner, budget=30), server.connect_to)
    return list(
        update(
            store, transport, now=NOW, lotl_url=tlgen.LOTL_URL, signers=[lists.lotl_signer.asn1()]
        )
    )


def test_update_fetches_verifies_and_stores(tmp_path: Path, lists: tlgen.TestLists) -> None:
    store = TrustListStore.open(tmp_path / "s", create=True)
    with ListServer(_sites(lists, lists.zz2)) as server:
        first = _run(store, lists, server)
        second = _run(store, lists, server)
        assert [p for _, p, _ in server.log] == ["/lotl.xml", "/zz.xml"] * 2
    assert [(o.territory, o.added, o.error) for o in first] == [  # type: ignore[attr-defined]
        ("EU", True, None),
        ("ZZ", True, None),
    ]
    assert [o.added for o in second] == [False, False]  # type: ignore[attr-defined]
    (zz,) = TrustListStore.open(store.path).lists_of("ZZ")
    assert (zz.sequence, zz.source) == (2, tlgen.ZZ_URL)


def test_a_list_that_fails_is_reported_and_skipped(tmp_path: Path, lists: tlgen.TestLists) -> None:
    store = TrustListStore.open(tmp_path / "s", create=True)
    with ListServer(_sites(lists, None)) as server:
        outcomes = _run(store, lists, server)
    assert [o.error is None for o in outcomes] == [True, False]  # type: ignore[attr-defined]
    assert "http-404" in outcomes[1].error  # type: ignore[attr-defined]
    assert store.lists_of("ZZ") == ()
    # a list whose signature fails is refused the same way
    tampered = lists.zz2.replace(b"Svcstatus/withdrawn<", b"Svcstatus/granted<", 1)
    with ListServer(_sites(lists, tampered)) as server:
        outcomes = _run(store, lists, server)
    assert "XML signature does not verify" in outcomes[1].error  # type: ignore[attr-defined]
    assert TrustListStore.open(store.path).lists_of("ZZ") == ()


def test_a_list_of_another_territory_at_the_pointer_is_refused(
    tmp_path: Path, lists: tlgen.TestLists
) -> None:
    """Signed by the ZZ operator, but claiming to be YY's list: not stored as anyone's."""
    yy = tlgen.make_list(
        lists.tl_signer,
        territory="YY",
        sequence=1,
        issued=tlgen.utc(2026, 2, 1),
        next_update=tlgen.utc(2026, 8, 1),
        tsps=tlgen.sample_services(withdrawn=False),
    )
    store = TrustListStore.open(tmp_path / "s", create=True)
    with ListServer(_sites(lists, yy)) as server:
        outcomes = _run(store, lists, server)
    assert "the list of YY, where the LOTL points to ZZ's" in outcomes[1].error  # type: ignore[attr-defined]
    assert [s.kind for s in TrustListStore.open(store.path).snapshots] == ["lotl"]


def test_size_bound_and_offline(tmp_path: Path, lists: tlgen.TestLists) -> None:
    store = TrustListStore.open(tmp_path / "s", create=True)
    with ListServer(_sites(lists, lists.zz2)) as server, pytest.raises(NetworkError) as err:
        _run(store, lists, server, max_bytes=2048)
    assert err.value.detail == "too-large"  # type: ignore[attr-defined]
    with pytest.raises(NetworkError, match="network access is disabled"):
        update(store, NoNetwork(), now=NOW, lotl_url=tlgen.LOTL_URL)
    assert TrustListStore.open(store.path).snapshots == ()
