"""The audit store: one SQLite file (schema in ``docs/audit-store.md``).

Two kinds of facts, stored apart:

- ``facts``: what a file *is*, once per content SHA-256 (:mod:`ltv.audit.codec` JSON, never a
  pickle), or why it could not be read as a PDF. Timeless: re-used by every later run, for any
  path holding the same bytes (a renamed or copied file is recognised by its hash). A row of
  another codec or facts version is ignored and replaced.
- ``runs``, ``files``, ``signatures``: what each file is *worth* in one run (time, trust,
  policy): one row per (run, path) and one per (run, path, signature), with the JSON report.

Writes: WAL journal, one transaction per batch of results (:meth:`AuditStore.commit_batch`):
a run killed at any moment loses at most the batch in flight, and primary keys make a row
impossible to duplicate; :meth:`AuditStore.done_paths` is what a resumed run skips.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ltv.errors import InputError

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "AuditStore",
    "FactsRow",
    "FileRow",
    "Run",
    "SignatureRow",
    "StoreReader",
    "producer",
]

APPLICATION_ID = 0x6C747661  # "ltva"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE facts (
    sha256        TEXT PRIMARY KEY,
    size          INTEGER NOT NULL,
    codec         INTEGER NOT NULL,
    facts_version INTEGER NOT NULL,
    facts         TEXT,
    error         TEXT,
    ltv_version   TEXT NOT NULL,
    examined_at   TEXT NOT NULL,
    CHECK ((facts IS NULL) <> (error IS NULL))
);
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL
                  CHECK (status IN ('running', 'complete', 'interrupted')),
    as_of         TEXT NOT NULL,
    at            TEXT,
    policy        TEXT NOT NULL,
    online        TEXT NOT NULL,
    config_sha256 TEXT NOT NULL,
    config        TEXT NOT NULL,
    ltv_version   TEXT NOT NULL,
    stats         TEXT
);
CREATE TABLE files (
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    path       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    indication TEXT NOT NULL,
    error      TEXT,
    due        TEXT,
    examined   INTEGER NOT NULL,
    report     TEXT NOT NULL,
    PRIMARY KEY (run_id, path)
) WITHOUT ROWID;
CREATE TABLE signatures (
    run_id          INTEGER NOT NULL,
    path            TEXT NOT NULL,
    idx             INTEGER NOT NULL,
    field           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    indication      TEXT NOT NULL,
    subindication   TEXT,
    level           TEXT,
    ltv_enabled     INTEGER,
    signer          TEXT,
    signer_ca       TEXT,
    tsa             TEXT,
    validation_time TEXT NOT NULL,
    time_source     TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    PRIMARY KEY (run_id, path, idx),
    FOREIGN KEY (run_id, path) REFERENCES files (run_id, path)
) WITHOUT ROWID;
CREATE TABLE evidence_checks (
    kind     TEXT NOT NULL,
    evidence BLOB NOT NULL,
    cert     BLOB NOT NULL,
    issuer   BLOB NOT NULL,
    producer TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    PRIMARY KEY (kind, evidence, cert, issuer, producer)
) WITHOUT ROWID;
CREATE TABLE chains (
    leaf            BLOB NOT NULL,
    anchors         BLOB NOT NULL,
    purpose         TEXT NOT NULL,
    producer        TEXT NOT NULL,
    path            TEXT NOT NULL,
    anchor_included INTEGER NOT NULL,
    not_before      TEXT NOT NULL,
    not_after       TEXT NOT NULL,
    PRIMARY KEY (leaf, anchors, purpose, producer)
) WITHOUT ROWID;
CREATE INDEX files_sha256 ON files (sha256);
CREATE INDEX files_due ON files (run_id, due);
"""


def producer() -> str:
    """Who made a stored evidence check or chain: re-used only by the same code."""
    from importlib import metadata

    from ltv import __version__

    try:
        pcv = metadata.version("pyhanko-certvalidator")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        pcv = "?"
    return f"ltv {__version__}; pyhanko-certvalidator {pcv}"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class FactsRow:
    """What a file is (``facts``: codec JSON) or why it is not evaluable (``error``)."""

    sha256: str
    size: int
    facts: str | None
    error: str | None


@dataclass(frozen=True)
class SignatureRow:
    idx: int
    field: str
    kind: str
    indication: str
    subindication: str | None
    level: str | None
    ltv_enabled: bool | None
    signer: str | None
    signer_ca: str | None
    tsa: str | None
    validation_time: str
    time_source: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FileRow:
    path: str
    sha256: str
    size: int
    indication: str
    error: str | None
    due: str | None
    """RFC 3339: when the file's protection lapses (``ltv.audit.summary.protection_until``)."""
    examined: bool
    """Whether the file was parsed in this run (False: its stored facts were re-used)."""
    report: str
    """The JSON report (``schemas/report.schema.json``)."""
    signatures: tuple[SignatureRow, ...]


@dataclass(frozen=True)
class Run:
    id: int
    started_at: str
    finished_at: str | None
    status: str
    as_of: str
    at: str | None
    policy: str
    online: str
    config_sha256: str
    config: dict[str, Any]
    stats: dict[str, Any] | None


class AuditStore:
    """An open audit database (a context manager; close it)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"--db {str(self.path)!r} is a directory, not an audit database")
        if not create and not self.path.is_file():
            raise InputError(f"--db {str(self.path)!r}: no such audit database")
        if self.path.exists():
            try:
                with self.path.open("rb") as fh:
                    head = fh.read(16)
            except OSError as err:
                raise InputError(f"--db {str(self.path)!r}: cannot read ({err.strerror})") from None
            if head and head != b"SQLite format 3\x00":
                raise InputError(f"--db {str(self.path)!r} is not an SQLite database")
        elif not self.path.parent.is_dir():
            raise InputError(f"--db {str(self.path)!r}: directory does not exist")
        try:
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            app_id = self.db.execute("PRAGMA application_id").fetchone()[0]
            tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise InputError(
                f"--db {str(self.path)!r}: not a usable SQLite database ({err})"
            ) from None
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            self.db.close()
            raise InputError(
                f"--db {str(self.path)!r} is an SQLite database of something else, "
                "not an ltv audit store",
                hint="give a new file name or a database written by ltv audit --db",
            )
        try:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints,
            # consistent always (a crash loses at most the last transactions, never half one)
            self.db.execute("PRAGMA foreign_keys = ON")
            if app_id == 0:
                with self.transaction():
                    self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute(
                        "INSERT INTO meta (key, value) VALUES ('created_at', ?)", (_now(),)
                    )
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as err:
            self.db.close()
            raise InputError(f"--db {str(self.path)!r}: {err}") from None
        if version != SCHEMA_VERSION:
            self.db.close()
            raise InputError(
                f"--db {str(self.path)!r}: audit store schema version {version}, "
                f"this ltv reads version {SCHEMA_VERSION}",
                hint="use a new database file",
            )

    # -- plumbing ----------------------------------------------------------------------------

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type: object, *rest: object) -> None:
            if exc_type is None:
                self.db.execute("COMMIT")
            else:
                self.db.execute("ROLLBACK")

    def transaction(self) -> AuditStore._Tx:
        """``with store.transaction(): ...``: one atomic write."""
        return AuditStore._Tx(self.db)

    # -- facts ---------------------------------------------------------------------------------

    def facts(self, sha256: str, *, codec: int, facts_version: int) -> FactsRow | None:
        """Stored facts of this content, if of this codec and facts version."""
        row = self.db.execute(
            "SELECT size, facts, error FROM facts WHERE sha256 = ? AND codec = ? "
            "AND facts_version = ?",
            (sha256, codec, facts_version),
        ).fetchone()
        if row is None:
            return None
        return FactsRow(sha256=sha256, size=row[0], facts=row[1], error=row[2])

    def facts_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM facts").fetchone()[0])

    # -- runs ----------------------------------------------------------------------------------

    def _run(self, row: Sequence[Any]) -> Run:
        return Run(
            id=row[0],
            started_at=row[1],
            finished_at=row[2],
            status=row[3],
            as_of=row[4],
            at=row[5],
            policy=row[6],
            online=row[7],
            config_sha256=row[8],
            config=json.loads(row[9]),
            stats=json.loads(row[10]) if row[10] else None,
        )

    _RUN_COLUMNS = (
        "id, started_at, finished_at, status, as_of, at, policy, online, config_sha256, "
        "config, stats"
    )

    def run(self, run_id: int) -> Run | None:
        row = self.db.execute(
            f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id = ?",  # noqa: S608 - constant
            (run_id,),
        ).fetchone()
        return None if row is None else self._run(row)

    def runs(self) -> list[Run]:
        rows = self.db.execute(f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY id")  # noqa: S608
        return [self._run(r) for r in rows]

    def resumable(self, config_sha256: str) -> Run | None:
        """The latest unfinished run with this configuration, if any."""
        row = self.db.execute(
            f"SELECT {self._RUN_COLUMNS} FROM runs "  # noqa: S608 - constant
            "WHERE config_sha256 = ? AND status IN ('running', 'interrupted') "
            "ORDER BY id DESC LIMIT 1",
            (config_sha256,),
        ).fetchone()
        return None if row is None else self._run(row)

    def begin_run(
        self,
        *,
        as_of: str,
        at: str | None,
        policy: str,
        online: str,
        config_sha256: str,
        config: dict[str, Any],
        ltv_version: str,
    ) -> Run:
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO runs (started_at, status, as_of, at, policy, online, config_sha256,"
                " config, ltv_version) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(),
                    as_of,
                    at,
                    policy,
                    online,
                    config_sha256,
                    json.dumps(config, sort_keys=True),
                    ltv_version,
                ),
            )
            run_id = int(cur.lastrowid or 0)
        run = self.run(run_id)
        if run is None:  # pragma: no cover - just inserted in this transaction
            raise RuntimeError("run row vanished")
        return run

    def mark_running(self, run_id: int) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?", (run_id,)
            )

    def finish_run(self, run_id: int, *, status: str, stats: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, stats = ? WHERE id = ?",
                (status, _now(), json.dumps(stats, sort_keys=True), run_id),
            )

    def done_paths(self, run_id: int) -> set[str]:
        """Paths already committed in this run (what a resumed run skips)."""
        return {r[0] for r in self.db.execute("SELECT path FROM files WHERE run_id = ?", (run_id,))}

    # -- results -------------------------------------------------------------------------------

    def commit_batch(
        self,
        run_id: int,
        facts: Sequence[FactsRow],
        files: Sequence[FileRow],
        *,
        ltv_version: str,
        checks: Sequence[tuple[str, bytes, bytes, bytes, str]] = (),
        chains: Sequence[tuple[bytes, bytes, str, str, bool, str, str]] = (),
        made_by: str = "",
    ) -> None:
        """One transaction: new facts, evidence checks and chains, then each file's row and
        its signatures' rows."""
        from ltv.audit.codec import CODEC_VERSION
        from ltv.pipeline.facts import FACTS_VERSION

        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO facts (sha256, size, codec, facts_version, facts, error,"
                " ltv_version, examined_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.sha256,
                        f.size,
                        CODEC_VERSION,
                        FACTS_VERSION,
                        f.facts,
                        f.error,
                        ltv_version,
                        now,
                    )
                    for f in facts
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO evidence_checks (kind, evidence, cert, issuer, producer, "
                "outcome) VALUES (?, ?, ?, ?, ?, ?)",
                [(k, e, c, i, made_by, o) for k, e, c, i, o in checks],
            )
            db.executemany(
                "INSERT OR REPLACE INTO chains (leaf, anchors, purpose, producer, path, "
                "anchor_included, not_before, not_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (lf, a, p, made_by, path, int(inc), nb, na)
                    for lf, a, p, path, inc, nb, na in chains
                ],
            )
            db.executemany(
                "INSERT INTO files (run_id, path, sha256, size, indication, error, due, examined,"
                " report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        f.path,
                        f.sha256,
                        f.size,
                        f.indication,
                        f.error,
                        f.due,
                        int(f.examined),
                        f.report,
                    )
                    for f in files
                ],
            )
            db.executemany(
                "INSERT INTO signatures (run_id, path, idx, field, kind, indication, "
                "subindication, level, ltv_enabled, signer, signer_ca, tsa, validation_time, "
                "time_source, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        f.path,
                        s.idx,
                        s.field,
                        s.kind,
                        s.indication,
                        s.subindication,
                        s.level,
                        None if s.ltv_enabled is None else int(s.ltv_enabled),
                        s.signer,
                        s.signer_ca,
                        s.tsa,
                        s.validation_time,
                        s.time_source,
                        json.dumps(list(s.reasons), ensure_ascii=False),
                    )
                    for f in files
                    for s in f.signatures
                ],
            )

    # -- reading a run ---------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows of a read-only query (the summary's)."""
        yield from self.db.execute(sql, params)


class StoreReader:
    """Read-only view of a store for workers: evidence checks and chains of earlier runs
    (``ltv.audit.cache.Backing``). A row that does not decode is ignored (recomputed)."""

    def __init__(self, path: str | Path, made_by: str) -> None:
        self.path = str(path)
        self.made_by = made_by
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            uri = "file:" + Path(self.path).resolve().as_posix() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)
        return self._db

    def outcome(self, key: tuple[str, bytes, bytes, bytes]) -> Any:
        from ltv.audit.codec import CodecError, decode_value
        from ltv.evidence.outcome import RevocationOutcome

        row = (
            self._conn()
            .execute(
                "SELECT outcome FROM evidence_checks WHERE kind = ? AND evidence = ? AND cert = ? "
                "AND issuer = ? AND producer = ?",
                (*key, self.made_by),
            )
            .fetchone()
        )
        if row is None:
            return None
        try:
            return decode_value(RevocationOutcome, row[0])
        except CodecError:
            return None

    def chain(self, key: tuple[bytes, bytes, str]) -> Any:
        import base64

        from ltv.audit.cache import StoredChain

        row = (
            self._conn()
            .execute(
                "SELECT path, anchor_included, not_before, not_after FROM chains WHERE leaf = ? "
                "AND anchors = ? AND purpose = ? AND producer = ?",
                (*key, self.made_by),
            )
            .fetchone()
        )
        if row is None:
            return None
        try:
            path = tuple(base64.b64decode(d, validate=True) for d in json.loads(row[0]))
            start, end = datetime.fromisoformat(row[2]), datetime.fromisoformat(row[3])
        except (ValueError, TypeError):
            return None
        if not path or start.tzinfo is None or end.tzinfo is None:
            return None
        return StoredChain(path=path, anchor_included=bool(row[1]), not_before=start, not_after=end)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
