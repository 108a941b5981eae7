"""EvidenceCache: OCSP stapling's idea for a signing server — fetch once, reuse while time-valid.

A busy signer signs thousands of documents a day with the same certificate. Asking the CA's
responder about the same chain for every document is pure waste (and a load the CA notices):
the evidence is the same until its ``nextUpdate``. An :class:`EvidenceCache`, shared by every
:class:`~ltv.sign.Signer` / :class:`~ltv.extend.Extender` given it, keeps:

* checked revocation evidence per certificate, keyed by its RFC 6960 CertID (SHA-1 issuer name
  and key hashes + serial), whether an OCSP response or a CRL settled it;
* CRLs per distribution-point URL (one CRL serves every certificate it covers);
* CA certificates per caIssuers URL (RFC 5280 §4.2.2.1), until they expire.

Rules:

* **time-valid only**: an entry is used for a moment ``at`` only while
  ``thisUpdate - skew <= at <= nextUpdate - margin`` (``margin`` configurable, default 5 min),
  so evidence handed out is still valid when a signature timestamp is taken right after;
* **single-flight**: concurrent requests for a missing entry — threads, tasks of one or several
  event loops — wait for the one fetch in flight (100 concurrent signatures on a cold cache make
  one OCSP request per certificate); a failure is shared by the waiters and not kept;
* **refreshed ahead**: an entry used after ``refresh_ahead`` of its validity window is left
  (default: the last quarter) is fetched again in a background thread; the old entry serves
  until the new one arrives — or, during a responder outage, until it lapses. Then the next
  signature fetches in the foreground and, if the responder is still down, is refused;
* **persistent** when given a path: SQLite (WAL), so a restarted server starts warm. Entries read
  back from disk are checked again (signature, CertID) before use.

Only evidence that says ``good`` is kept; refusals are never cached.

>>> from datetime import UTC, datetime, timedelta
>>> cache = EvidenceCache()
>>> now = datetime(2026, 5, 1, 12, tzinfo=UTC)
>>> calls = []
>>> def fetch():
...     calls.append(1)
...     record = CachedEvidence(key="k", kind="ocsp", subject="CN=Example", serial="1f",
...                             url="http://ocsp.example/", this_update=now,
...                             next_update=now + timedelta(hours=4), fetched_at=now, der=b"...")
...     return record, "the checked evidence"
>>> cache.get("k", now, fetch, revive=lambda record: None)
'the checked evidence'
>>> cache.get("k", now + timedelta(hours=1), fetch, revive=lambda record: None)
'the checked evidence'
>>> len(calls), cache.fetches
(1, 1)
>>> cache.get("k", now + timedelta(hours=5), fetch, revive=lambda record: None) and len(calls)
2
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar, cast

from ltv.errors import InputError, UsageError
from ltv.runtime import Clock, utc_now

__all__ = ["DEFAULT_MARGIN", "DEFAULT_SKEW", "CacheEntry", "CachedEvidence", "EvidenceCache"]

_log = logging.getLogger("ltv.evidence.cache")

DEFAULT_MARGIN: Final = timedelta(minutes=5)
"""An entry stops being used this long before its nextUpdate."""
DEFAULT_SKEW: Final = timedelta(minutes=5)
"""An entry whose thisUpdate is up to this far after the moment asked about is still used."""
DEFAULT_REFRESH_AHEAD: Final = 0.25
"""Refresh in the background once this fraction of the validity window is left."""
DEFAULT_REFRESH_BACKOFF: Final = timedelta(seconds=60)
"""After a failed background refresh, wait this long before the next try (a responder that is
down is not asked once per signature)."""

_SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS evidence (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    serial TEXT,
    url TEXT,
    this_update TEXT,
    next_update TEXT,
    fetched_at TEXT NOT NULL,
    der BLOB NOT NULL
)
"""

V = TypeVar("V")


@dataclass(frozen=True, kw_only=True)
class CachedEvidence:
    """What the cache stores for one key: plain values and the DER as received."""

    key: str
    kind: str
    """``ocsp`` / ``crl`` (a certificate's status, by CertID), ``crl-url`` (a CRL by URL),
    ``ca-issuers`` (certificates served at a caIssuers URL)."""
    subject: str
    """The certificate the entry is about (RFC 4514), or the URL for ``crl-url``/``ca-issuers``."""
    serial: str | None
    """Hex serial of that certificate (status entries)."""
    url: str | None
    """Where it was fetched."""
    this_update: datetime | None
    next_update: datetime | None
    """After this (less the margin) the entry is not used; ``None``: not cacheable."""
    fetched_at: datetime
    der: bytes


@dataclass(frozen=True, kw_only=True)
class CacheEntry:
    """One entry as :meth:`EvidenceCache.entries` reports it (e.g. a server's health page).

    >>> from datetime import UTC, datetime, timedelta
    >>> t = datetime(2026, 5, 1, tzinfo=UTC)
    >>> record = CachedEvidence(key="k", kind="ocsp", subject="CN=Example", serial="1f", url=None,
    ...                         this_update=t, next_update=t + timedelta(days=1), fetched_at=t,
    ...                         der=b"...")
    >>> cache = EvidenceCache(margin=timedelta(minutes=5))
    >>> cache.get("k", t, lambda: (record, "value"), revive=lambda r: None)
    'value'
    >>> entry = cache.entries()[0]
    >>> entry.subject, entry.lapses_at.isoformat(), entry.refresh_at.isoformat()
    ('CN=Example', '2026-05-01T23:55:00+00:00', '2026-05-01T18:00:00+00:00')
    """

    key: str
    kind: str
    subject: str
    serial: str | None
    url: str | None
    this_update: datetime | None
    next_update: datetime | None
    fetched_at: datetime
    lapses_at: datetime | None
    """When the entry stops being used (nextUpdate less the margin)."""
    refresh_at: datetime | None
    """When a use triggers a background refresh."""
    last_refresh_error: str | None
    """Why the last background refresh failed (e.g. the responder is down), if it did."""


@dataclass
class _Entry:
    record: CachedEvidence
    value: object
    last_error: str | None = None
    retry_at: datetime | None = None
    """After a failed refresh, none is tried again before this (the cache's clock)."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class EvidenceCache:
    """Checked evidence and CA certificates, shared by signers and extenders; see the module.

    :param path: SQLite file to keep entries in across restarts (created if missing); ``None``
        keeps them in memory only.
    :param margin: an entry is not used later than its nextUpdate less this.
    :param skew: tolerance for a thisUpdate slightly after the moment asked about.
    :param refresh_ahead: fraction of the validity window left at which a use triggers a
        background refresh (``0`` disables background refresh).
    :param refresh_backoff: after a failed background refresh, how long before another try.
    :param clock: "now" for background refreshes.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "evidence.sqlite"
    >>> with EvidenceCache(path) as cache:              # survives restarts
    ...     cache.fetches, cache.issuer_fetches, cache.entries()
    (0, 0, [])
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        margin: timedelta = DEFAULT_MARGIN,
        skew: timedelta = DEFAULT_SKEW,
        refresh_ahead: float = DEFAULT_REFRESH_AHEAD,
        refresh_backoff: timedelta = DEFAULT_REFRESH_BACKOFF,
        clock: Clock = utc_now,
    ) -> None:
        if margin < timedelta(0) or skew < timedelta(0):
            raise UsageError("cache margin and skew must not be negative")
        if not 0 <= refresh_ahead < 1:
            raise UsageError("refresh_ahead must be in [0, 1)")
        self.margin = margin
        self.skew = skew
        self.refresh_ahead = refresh_ahead
        self.refresh_backoff = refresh_backoff
        self.clock = clock
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._inflight: dict[str, concurrent.futures.Future[object]] = {}
        self._refreshing: dict[str, threading.Thread] = {}
        self._counts: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()
        self._closed = False
        if self.path is not None:
            self._db = self._open_db(self.path)

    # -- statistics ----------------------------------------------------------------------------

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] = self._counts.get(what, 0) + 1

    def count(self, what: str) -> int:
        """How often *what* happened: ``fetch:<kind>``, ``hit:<kind>``, ``refresh:<kind>``,
        ``refresh-failed:<kind>``, ``disk:<kind>`` (revived from the SQLite file)."""
        with self._lock:
            return self._counts.get(what, 0)

    @property
    def fetches(self) -> int:
        """Foreground fetches of certificate status evidence (cache misses)."""
        return self.count("fetch:status")

    @property
    def issuer_fetches(self) -> int:
        """caIssuers URLs fetched (cache misses)."""
        return self.count("fetch:ca-issuers")

    @property
    def refreshes(self) -> int:
        """Background refreshes that succeeded."""
        return sum(n for k, n in self._snapshot_counts().items() if k.startswith("refresh:"))

    def _snapshot_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    # -- validity ------------------------------------------------------------------------------

    def lapses_at(self, record: CachedEvidence) -> datetime | None:
        return None if record.next_update is None else record.next_update - self.margin

    def refresh_at(self, record: CachedEvidence) -> datetime | None:
        if self.refresh_ahead <= 0 or record.next_update is None or record.this_update is None:
            return None
        window = record.next_update - record.this_update
        return record.next_update - window * self.refresh_ahead

    def usable(self, record: CachedEvidence, at: datetime) -> bool:
        """Whether *record* may be handed out for the moment *at*."""
        lapses = self.lapses_at(record)
        if lapses is None or at > lapses:
            return False
        return record.this_update is None or record.this_update - self.skew <= at

    # -- the public get ------------------------------------------------------------------------

    def _family(self, record_kind: str) -> str:
        return "status" if record_kind in ("ocsp", "crl", "status") else record_kind

    def _lookup(
        self, key: str, at: datetime, revive: Callable[[CachedEvidence], V | None]
    ) -> V | None:
        """The value for *key* usable at *at*: from memory, else from disk (a record another
        worker or an earlier run stored, fresher than a lapsed one in memory)."""
        value: V | None = self._memory_lookup(key, at)
        if value is None and self._db is not None:
            value = self._disk_lookup(key, at, revive)
        return value

    def _memory_lookup(self, key: str, at: datetime) -> Any:
        """The value kept in memory for *key*, if usable at *at* (else None)."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or not self.usable(entry.record, at):
            return None
        self._count(f"hit:{self._family(entry.record.kind)}")
        return entry.value

    def _disk_lookup(
        self, key: str, at: datetime, revive: Callable[[CachedEvidence], V | None]
    ) -> V | None:
        record = self._db_get(key)
        if record is None or not self.usable(record, at):
            return None
        value = revive(record)
        if value is None:
            self._db_delete(key)
            return None
        self._count(f"disk:{self._family(record.kind)}")
        entry = _Entry(record, value)
        with self._lock:
            kept = self._entries.get(key)
            if kept is None or not self.usable(kept.record, at):
                self._entries[key] = entry
                kept = entry
        self._count(f"hit:{self._family(kept.record.kind)}")
        return cast(V, kept.value)

    def _store(self, record: CachedEvidence | None, value: object) -> None:
        if record is None or record.next_update is None:
            return
        with self._lock:
            if self._closed:
                return
            self._entries[record.key] = _Entry(record, value)
        if self._db is not None:
            self._db_put(record)

    def _join(self, key: str) -> tuple[bool, concurrent.futures.Future[object]]:
        with self._lock:
            fut = self._inflight.get(key)
            if fut is not None:
                return False, fut
            fut = self._inflight[key] = concurrent.futures.Future()
            return True, fut

    def _finish(self, key: str, fut: concurrent.futures.Future[object]) -> None:
        with self._lock:
            if self._inflight.get(key) is fut:
                del self._inflight[key]

    def get(
        self,
        key: str,
        at: datetime,
        fetch: Callable[[], tuple[CachedEvidence | None, V]],
        *,
        revive: Callable[[CachedEvidence], V | None],
        refresh: Callable[[datetime], tuple[CachedEvidence | None, V]] | None = None,
        kind: str = "status",
    ) -> V:
        """The value for *key* usable at *at*, else the result of ``fetch()`` (single-flight).

        ``fetch`` returns ``(record, value)``; the record (``None``: do not keep) is what is
        stored, the value what callers get. ``revive`` turns a record read from disk back into
        a value (``None``: unusable, dropped). ``refresh(now)`` fetches anew for a background
        refresh (default: none).
        """
        while True:
            value = self._lookup(key, at, revive)
            if value is not None:
                self._maybe_refresh(key, at, refresh, kind)
                return value
            leader, fut = self._join(key)
            if not leader:
                result = cast(V, fut.result())
                with self._lock:
                    entry = self._entries.get(key)
                if entry is None or self.usable(entry.record, at):
                    return result
                continue  # the shared result was for another moment: ask again
            # A fetch that ended between the lookup and the join has stored its answer: look
            # again before fetching (else two fetches for one cold entry).
            value = self._settle_if_stored(key, at, fut)
            if value is not None:
                return value
            return self._lead(key, fut, fetch, kind)

    def _lead(
        self,
        key: str,
        fut: concurrent.futures.Future[object],
        fetch: Callable[[], tuple[CachedEvidence | None, V]],
        kind: str,
    ) -> V:
        try:
            self._count(f"fetch:{kind}")
            record, value = fetch()
            self._store(record, value)
        except BaseException as err:
            fut.set_exception(err)
            self._finish(key, fut)
            raise
        fut.set_result(value)
        self._finish(key, fut)
        return value

    async def aget(
        self,
        key: str,
        at: datetime,
        fetch: Callable[[], tuple[CachedEvidence | None, V]],
        *,
        revive: Callable[[CachedEvidence], V | None],
        refresh: Callable[[datetime], tuple[CachedEvidence | None, V]] | None = None,
        kind: str = "status",
    ) -> V:
        """:meth:`get` for event loops: waiting and fetching happen off the loop."""
        while True:
            # memory first, on the loop (no thread hop for a hit); disk off the loop
            value: V | None = self._memory_lookup(key, at)
            if value is None and self._db is not None:
                value = await asyncio.to_thread(self._disk_lookup, key, at, revive)
            if value is not None:
                self._maybe_refresh(key, at, refresh, kind)
                return value
            leader, fut = self._join(key)
            if not leader:
                result = cast(V, await asyncio.wrap_future(fut))
                with self._lock:
                    entry = self._entries.get(key)
                if entry is None or self.usable(entry.record, at):
                    return result
                continue
            value = self._settle_if_stored(key, at, fut)
            if value is not None:
                return value
            return await asyncio.to_thread(self._lead, key, fut, fetch, kind)

    def _settle_if_stored(
        self, key: str, at: datetime, fut: concurrent.futures.Future[object]
    ) -> V | None:
        """As the new leader for *key*: the value a just-finished fetch stored in memory, if
        usable at *at* (then shared with the followers and the flight closed), else None."""
        value: V | None = self._memory_lookup(key, at)
        if value is not None:
            fut.set_result(value)
            self._finish(key, fut)
        return value

    # -- background refresh --------------------------------------------------------------------

    def _maybe_refresh(
        self,
        key: str,
        at: datetime,
        refresh: Callable[[datetime], tuple[CachedEvidence | None, V]] | None,
        kind: str,
    ) -> None:
        if refresh is None:
            return
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._closed or key in self._refreshing:
                return
            due = self.refresh_at(entry.record)
            if due is None or at < due:
                return
            if entry.retry_at is not None and self.clock() < entry.retry_at:
                return
            thread = threading.Thread(
                target=self._refresh, args=(key, refresh, kind), name=f"ltv-refresh:{key[:40]}"
            )
            thread.daemon = True
            self._refreshing[key] = thread
        thread.start()

    def _refresh(
        self,
        key: str,
        refresh: Callable[[datetime], tuple[CachedEvidence | None, V]],
        kind: str,
    ) -> None:
        try:
            record, value = refresh(self.clock())
            if record is None or record.next_update is None:
                raise ValueError("the refreshed evidence has no nextUpdate")
            self._store(record, value)
            self._count(f"refresh:{kind}")
        except Exception as err:  # the old entry keeps serving until it lapses
            msg = getattr(err, "message", None) or str(err) or type(err).__name__
            _log.warning("background refresh of %s failed: %s", key, msg)
            self._count(f"refresh-failed:{kind}")
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    entry.last_error = " ".join(str(msg).split())
                    entry.retry_at = self.clock() + self.refresh_backoff
        finally:
            with self._lock:
                self._refreshing.pop(key, None)

    def wait_for_refreshes(self, timeout: float = 30.0) -> None:
        """Block until the background refreshes running now have ended (tests, shutdown)."""
        with self._lock:
            threads = list(self._refreshing.values())
        for t in threads:
            t.join(timeout)

    # -- inspection and lifecycle --------------------------------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every entry in memory (and on disk), oldest nextUpdate first."""
        with self._lock:
            mem = {k: (e.record, e.last_error) for k, e in self._entries.items()}
        if self._db is not None:
            for record in self._db_all():
                mem.setdefault(record.key, (record, None))
        out = [
            CacheEntry(
                key=r.key,
                kind=r.kind,
                subject=r.subject,
                serial=r.serial,
                url=r.url,
                this_update=r.this_update,
                next_update=r.next_update,
                fetched_at=r.fetched_at,
                lapses_at=self.lapses_at(r),
                refresh_at=self.refresh_at(r),
                last_refresh_error=err,
            )
            for r, err in mem.values()
        ]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(out, key=lambda e: (e.next_update or far, e.key))

    def clear(self) -> None:
        """Forget every entry (memory and disk)."""
        with self._lock:
            self._entries.clear()
        if self._db is not None:
            with self._db_lock:
                self._db.execute("DELETE FROM evidence")
                self._db.commit()

    def close(self) -> None:
        """Stop refreshing, wait for running refreshes, close the SQLite file."""
        with self._lock:
            self._closed = True
        self.wait_for_refreshes()
        if self._db is not None:
            with self._db_lock:
                self._db.close()
            self._db = None

    def __enter__(self) -> EvidenceCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQLite --------------------------------------------------------------------------------

    @staticmethod
    def _open_db(path: Path) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                db.close()
                raise InputError(
                    f"evidence cache {str(path)!r} has schema version {version}, "
                    f"expected {_SCHEMA_VERSION}",
                    hint="use another file or delete it (it only holds fetched evidence)",
                )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            db.commit()
        except sqlite3.DatabaseError as err:
            raise InputError(
                f"cannot use {str(path)!r} as an evidence cache: {err}",
                hint="give a writable path for a new SQLite file, or delete the damaged one",
            ) from None
        return db

    _COLUMNS: Final = "key, kind, subject, serial, url, this_update, next_update, fetched_at, der"

    @staticmethod
    def _row(row: tuple[object, ...]) -> CachedEvidence:
        key, kind, subj, serial, url, this_u, next_u, fetched, der = row
        return CachedEvidence(
            key=str(key),
            kind=str(kind),
            subject=str(subj),
            serial=None if serial is None else str(serial),
            url=None if url is None else str(url),
            this_update=_from_iso(cast("str | None", this_u)),
            next_update=_from_iso(cast("str | None", next_u)),
            fetched_at=_from_iso(str(fetched)) or datetime.min.replace(tzinfo=UTC),
            der=bytes(cast(bytes, der)),
        )

    def _db_get(self, key: str) -> CachedEvidence | None:
        assert self._db is not None  # noqa: S101 - only called with a database
        with self._db_lock:
            row = self._db.execute(
                f"SELECT {self._COLUMNS} FROM evidence WHERE key = ?",  # noqa: S608 - constant
                (key,),
            ).fetchone()
        return None if row is None else self._row(row)

    def _db_all(self) -> list[CachedEvidence]:
        assert self._db is not None  # noqa: S101
        with self._db_lock:
            rows = self._db.execute(f"SELECT {self._COLUMNS} FROM evidence").fetchall()  # noqa: S608
        return [self._row(r) for r in rows]

    def _db_put(self, record: CachedEvidence) -> None:
        db = self._db
        if db is None:
            return
        try:
            with self._db_lock:
                db.execute(
                    f"INSERT OR REPLACE INTO evidence ({self._COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.key,
                        record.kind,
                        record.subject,
                        record.serial,
                        record.url,
                        _iso(record.this_update),
                        _iso(record.next_update),
                        _iso(record.fetched_at),
                        record.der,
                    ),
                )
                db.commit()
        except sqlite3.Error as err:  # the memory entry still serves; say why disk did not
            _log.warning("evidence cache %s: cannot store %s: %s", self.path, record.key, err)

    def _db_delete(self, key: str) -> None:
        if self._db is None:
            return
        with self._db_lock:
            self._db.execute("DELETE FROM evidence WHERE key = ?", (key,))
            self._db.commit()
