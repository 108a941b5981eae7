"""EvidenceCache: on disk across restarts, checked again when read back, time-valid only,
single-flight, refusals never kept — against the live loopback PKI."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ltv.errors import InputError, SigningError
from ltv.evidence.cache import CachedEvidence, EvidenceCache
from ltv.evidence.http import HttpClient
from ltv.sign import PadesLevel, Signer, SigningPolicy
from samples import pki
from samples.make_samples import make_unsigned_pdf
from samples.pki.server import PkiServer

UNSIGNED = make_unsigned_pdf()


def signer(network: Any, cache: EvidenceCache, label: str = "signer-good", **kw: Any) -> Signer:
    return Signer.from_pkcs12(
        pki.p12_path(label),
        pki.P12_PASSPHRASE,
        policy=SigningPolicy(level=PadesLevel.B_LT, tsa_url=pki.TSA_URL),
        network=network,
        cache=cache,
        **kw,
    )


def ocsp_count(server: PkiServer) -> int:
    return len(server.log.matching(path_prefix="/ltv/ocsp/"))


def test_sqlite_cache_survives_a_restart(pki_server: PkiServer, tmp_path: Path) -> None:
    path = tmp_path / "evidence.sqlite"
    client = HttpClient(connect_to=pki_server.connect_to)
    with EvidenceCache(path) as cache:
        signer(client, cache).sign(UNSIGNED)  # caIssuers fetches tsa-root: no --chain given
    assert ocsp_count(pki_server) == 3
    assert len(pki_server.log.matching(path_prefix="/ltv/certs/")) == 1
    pki_server.log.clear()
    with EvidenceCache(path) as cache:  # a new process, the same file
        signer(client, cache).sign(UNSIGNED)
        assert cache.count("disk:status") == 3
        assert cache.count("disk:ca-issuers") == 1
        assert cache.fetches == 0
    assert ocsp_count(pki_server) == 0
    assert pki_server.log.matching(path_prefix="/ltv/certs/") == []
    assert len(pki_server.log.matching(path_prefix="/ltv/tsa/")) == 1


def test_evidence_read_from_disk_is_checked_again(pki_server: PkiServer, tmp_path: Path) -> None:
    path = tmp_path / "evidence.sqlite"
    client = HttpClient(connect_to=pki_server.connect_to)
    with EvidenceCache(path) as cache:
        signer(client, cache, chain=[pki.TSA_ROOT_CERT]).sign(UNSIGNED)
    # someone edits one stored OCSP response (one byte of its signature)
    db = sqlite3.connect(path)
    key, der = db.execute("SELECT key, der FROM evidence WHERE kind = 'ocsp' LIMIT 1").fetchone()
    db.execute("UPDATE evidence SET der = ? WHERE key = ?", (der[:-1] + bytes([der[-1] ^ 1]), key))
    db.commit()
    db.close()
    pki_server.log.clear()
    with EvidenceCache(path) as cache:
        signer(client, cache, chain=[pki.TSA_ROOT_CERT]).sign(UNSIGNED)
        assert cache.count("disk:status") == 2
        assert cache.fetches == 1
    assert ocsp_count(pki_server) == 1


def test_damaged_cache_file_is_a_one_line_input_error(tmp_path: Path) -> None:
    path = tmp_path / "evidence.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match=r"cannot use .* as an evidence cache") as info:
        EvidenceCache(path)
    assert "\n" not in info.value.diagnostics()


def test_entries_are_used_only_until_next_update_less_the_margin(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    now = datetime.now(UTC).replace(microsecond=0)
    pki_server.freeze(now)
    cache = EvidenceCache(margin=timedelta(hours=2), refresh_ahead=0)
    s = signer(client, cache, chain=[pki.TSA_ROOT_CERT])
    s.sign(UNSIGNED, at=now)
    assert cache.fetches == 3
    # the sample answers are valid one day: at nextUpdate - 2 h 1 min still served ...
    s.sign(UNSIGNED, at=now + timedelta(hours=21, minutes=59))
    assert cache.fetches == 3
    # ... at nextUpdate - 1 h 59 min (inside the margin) fetched again
    pki_server.freeze(now + timedelta(hours=22, minutes=1))
    s.sign(UNSIGNED, at=now + timedelta(hours=22, minutes=1))
    assert cache.fetches == 6


def test_refusals_are_shared_by_waiters_and_never_kept(pki_server: PkiServer) -> None:
    client = HttpClient(connect_to=pki_server.connect_to)
    cache = EvidenceCache()
    s = signer(client, cache, label="signer-revoked", chain=[pki.TSA_ROOT_CERT])

    async def many() -> list[BaseException | bytes]:
        return await asyncio.gather(*(s.asign(UNSIGNED) for _ in range(10)), return_exceptions=True)

    results = asyncio.run(many())
    assert all(isinstance(r, SigningError) and "revoked" in str(r) for r in results)
    first = len(pki_server.log.matching(path_prefix="/ltv/ocsp/interm"))
    assert first == 1  # ten concurrent refusals, one question
    with pytest.raises(SigningError, match="revoked"):
        s.sign(UNSIGNED)
    assert len(pki_server.log.matching(path_prefix="/ltv/ocsp/interm")) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_fetch_ending_between_a_lookup_and_the_join_is_not_repeated(mode: str) -> None:
    """The race that made a cold worker fetch twice: caller B misses the entry, caller A's
    fetch ends and is stored, then B asks to join a flight that no longer exists. B must take
    A's stored answer, not fetch again."""
    now = datetime(2026, 5, 1, tzinfo=UTC)
    a_done = threading.Event()
    calls: list[str] = []

    class PausingCache(EvidenceCache):
        def _lookup(self, key: str, at: datetime, revive: Any) -> Any:
            found = super()._lookup(key, at, revive)
            if threading.current_thread().name == "B" and found is None:
                assert a_done.wait(5)  # A fetches and stores meanwhile
            return found

    cache = PausingCache()

    def fetch() -> tuple[CachedEvidence, str]:
        calls.append(threading.current_thread().name)
        record = CachedEvidence(
            key="k", kind="ocsp", subject="CN=X", serial="1", url=None, this_update=now,
            next_update=now + timedelta(hours=1), fetched_at=now, der=b"x",
        )  # fmt: skip
        return record, "value"

    results: dict[str, str] = {}

    def ask() -> None:
        name = threading.current_thread().name
        if mode == "sync":
            results[name] = cache.get("k", now, fetch, revive=lambda r: None)
        else:
            results[name] = asyncio.run(cache.aget("k", now, fetch, revive=lambda r: None))
        if name == "A":
            a_done.set()

    b = threading.Thread(target=ask, name="B")
    b.start()
    a = threading.Thread(target=ask, name="A")
    a.start()
    a.join()
    b.join()
    assert results == {"A": "value", "B": "value"}
    assert len(calls) == 1 and cache.fetches == 1


def test_single_flight_across_threads_and_event_loops() -> None:
    """The cache alone: 40 concurrent callers (4 threads x 10 tasks) on a cold key, one fetch."""
    cache = EvidenceCache()
    now = datetime(2026, 5, 1, tzinfo=UTC)
    started = threading.Event()
    calls: list[int] = []

    def fetch() -> tuple[CachedEvidence, str]:
        calls.append(1)
        started.wait(2)  # keep the fetch in flight while the others arrive
        record = CachedEvidence(
            key="k", kind="ocsp", subject="CN=X", serial="1", url=None, this_update=now,
            next_update=now + timedelta(hours=1), fetched_at=now, der=b"x",
        )  # fmt: skip
        return record, "value"

    results: list[str] = []

    def loop_in_thread() -> None:
        async def many() -> list[str]:
            return await asyncio.gather(
                *(cache.aget("k", now, fetch, revive=lambda r: None) for _ in range(10))
            )

        results.extend(asyncio.run(many()))

    threads = [threading.Thread(target=loop_in_thread) for _ in range(4)]
    for t in threads:
        t.start()
    threading.Timer(0.5, started.set).start()
    for t in threads:
        t.join()
    assert results == ["value"] * 40
    assert len(calls) == 1 and cache.fetches == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_lapsed_entry_in_memory_gives_way_to_a_fresher_one_on_disk(
    tmp_path: Path, mode: str
) -> None:
    """Two workers share one cache file: when worker A's copy lapses, the record worker B
    stored since is read from disk — not fetched again; and a hit in memory never touches
    the disk (nor, in an event loop, a thread)."""
    now = datetime(2026, 5, 1, tzinfo=UTC)
    path = tmp_path / "evidence.sqlite"
    calls: list[str] = []

    def record(next_hours: int, der: bytes) -> CachedEvidence:
        return CachedEvidence(
            key="k", kind="ocsp", subject="CN=X", serial="1", url=None, this_update=now,
            next_update=now + timedelta(hours=next_hours), fetched_at=now, der=der,
        )  # fmt: skip

    def fetch_with(rec: CachedEvidence) -> Any:
        def fetch() -> tuple[CachedEvidence, bytes]:
            calls.append(rec.der.decode())
            return rec, rec.der

        return fetch

    def get(cache: EvidenceCache, at: datetime, rec: CachedEvidence) -> bytes:
        revive = lambda r: r.der  # noqa: E731
        if mode == "sync":
            return cache.get("k", at, fetch_with(rec), revive=revive)
        return asyncio.run(cache.aget("k", at, fetch_with(rec), revive=revive))

    margin = timedelta(0)
    with (
        EvidenceCache(path, margin=margin, refresh_ahead=0) as a,
        EvidenceCache(path, margin=margin, refresh_ahead=0) as b,
    ):
        assert get(a, now, record(1, b"first")) == b"first"  # A fetches, keeps it, stores it
        later = now + timedelta(hours=2)  # A's copy has lapsed
        assert get(b, later, record(3, b"fresh")) == b"fresh"  # B fetches anew and stores it
        assert get(a, later, record(3, b"unwanted")) == b"fresh"  # A reads B's from disk
        assert calls == ["first", "fresh"]
        disk_reads = a.count("disk:status")
        assert get(a, later, record(3, b"unwanted")) == b"fresh"  # now from memory
        assert a.count("disk:status") == disk_reads == 1
