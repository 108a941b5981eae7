"""The probe history: every measurement appended to SQLite (``--db``), read back for reports.

One transaction per round (``on_round``), so a run that is killed keeps every completed round.
The file is marked with an application id; a database of anything else is refused, never
written to. WAL journal: a report can read while a probe writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ltv.errors import InputError
from ltv.probe.model import Category, Measurement, ProbeOptions, Target

__all__ = ["APPLICATION_ID", "ProbeStore", "StoredRun"]

APPLICATION_ID = 0x6C747670  # "ltvp"
SCHEMA_VERSION = 1

_TIME_FIELDS = {"at", "produced_at", "this_update", "next_update", "gen_time"}
_BOOL_FIELDS = {"host_header", "ok", "sla_breach", "local_problem", "delta_crl"}
_COLUMNS = [f.name for f in fields(Measurement)]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    options TEXT NOT NULL,
    rounds INTEGER NOT NULL DEFAULT 0,
    local_problem_rounds TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS targets (
    target TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT,
    serial TEXT,
    sources TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    {", ".join(c + " TEXT" if c == "run" else c for c in _COLUMNS)}
);
CREATE INDEX IF NOT EXISTS measurements_at ON measurements (at);
"""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _to_row(m: Measurement) -> list[Any]:
    row: list[Any] = []
    for name in _COLUMNS:
        value = getattr(m, name)
        if name in _TIME_FIELDS:
            value = _iso(value)
        elif name == "subjects":
            value = json.dumps(list(value))
        elif name == "category":
            value = None if value is None else str(value)
        elif name in _BOOL_FIELDS:
            value = None if value is None else int(value)
        row.append(value)
    return row


def _from_row(row: sqlite3.Row) -> Measurement:
    values: dict[str, Any] = {}
    for name in _COLUMNS:
        value = row[name]
        if name in _TIME_FIELDS:
            value = None if value is None else datetime.fromisoformat(value)
        elif name == "subjects":
            value = tuple(json.loads(value or "[]"))
        elif name == "category":
            value = None if value is None else Category(value)
        elif name in _BOOL_FIELDS:
            value = None if value is None else bool(value)
        values[name] = value
    return Measurement(**values)


@dataclass(frozen=True, kw_only=True)
class StoredRun:
    run: str
    started_at: datetime
    finished_at: datetime | None
    rounds: int
    local_problem_rounds: tuple[int, ...]
    sla: float


class ProbeStore:
    """An open history database (a context manager; close it)."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError(f"{str(self.path)!r}: no such probe database")
        if self.path.is_dir():
            raise InputError(f"{str(self.path)!r} is a directory, not a probe database")
        if self.path.exists():
            with self.path.open("rb") as fh:
                head = fh.read(16)
            if head and head != b"SQLite format 3\x00":
                raise InputError(f"{str(self.path)!r} is not an SQLite database")
        try:
            self._db = sqlite3.connect(self.path, timeout=10.0)
            self._db.row_factory = sqlite3.Row
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
            tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise InputError(f"{str(self.path)!r}: not a usable SQLite database ({err})") from None
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            self._db.close()
            raise InputError(
                f"{str(self.path)!r} is an SQLite database of something else, not ltv probe's",
                hint="give a new file name or a database written by ltv probe --db",
            )
        if app_id == 0:
            if not create:
                self._db.close()
                raise InputError(f"{str(self.path)!r}: empty, not a probe database")
            with self._db:
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._db.executescript(_SCHEMA)
        self._db.execute("PRAGMA journal_mode = WAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ProbeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def begin_run(self, run: str, started_at: datetime, options: ProbeOptions) -> None:
        opts = {
            "count": options.count,
            "interval": options.interval,
            "methods": list(options.methods),
            "nonce": options.nonce,
            "sla": options.sla,
            "timeout": options.timeout,
        }
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO runs (run, started_at, options) VALUES (?, ?, ?)",
                (run, _iso(started_at), json.dumps(opts)),
            )

    def add_targets(self, targets: Sequence[Target]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO targets (target, url, kind, subject, serial, sources) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (t.key, t.url, t.kind, t.subject, t.serial, json.dumps(list(t.sources)))
                    for t in targets
                ],
            )

    def add_round(
        self, run: str, round_no: int, measurements: Sequence[Measurement], local: bool
    ) -> None:
        """One round, in one transaction."""
        placeholders = ", ".join("?" for _ in _COLUMNS)
        with self._db:
            self._db.executemany(
                f"INSERT INTO measurements ({', '.join(_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608 - column names are ours
                [_to_row(m) for m in measurements],
            )
            row = self._db.execute(
                "SELECT local_problem_rounds FROM runs WHERE run = ?", (run,)
            ).fetchone()
            rounds = json.loads(row[0]) if row else []
            if local:
                rounds.append(round_no)
            self._db.execute(
                "UPDATE runs SET rounds = ?, local_problem_rounds = ? WHERE run = ?",
                (round_no, json.dumps(rounds), run),
            )

    def finish_run(self, run: str, finished_at: datetime) -> None:
        with self._db:
            self._db.execute(
                "UPDATE runs SET finished_at = ? WHERE run = ?", (_iso(finished_at), run)
            )

    # -- reading ---------------------------------------------------------------------------

    def measurements(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> list[Measurement]:
        query = "SELECT * FROM measurements WHERE 1=1"
        args: list[str] = []
        if since is not None:
            query += " AND at >= ?"
            args.append(since.astimezone(UTC).isoformat())
        if until is not None:
            query += " AND at <= ?"
            args.append(until.astimezone(UTC).isoformat())
        try:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
            return [_from_row(r) for r in rows]
        except (sqlite3.DatabaseError, ValueError, TypeError) as err:
            raise InputError(f"{str(self.path)!r}: unreadable probe history ({err})") from None

    def targets(self) -> list[Target]:
        rows = self._db.execute("SELECT * FROM targets ORDER BY rowid").fetchall()
        return [
            Target(
                url=r["url"],
                kind=r["kind"],
                subject=r["subject"],
                serial=r["serial"],
                sources=tuple(json.loads(r["sources"] or "[]")),
            )
            for r in rows
        ]

    def runs(self) -> list[StoredRun]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY started_at").fetchall()
        return [
            StoredRun(
                run=r["run"],
                started_at=datetime.fromisoformat(r["started_at"]),
                finished_at=None
                if r["finished_at"] is None
                else datetime.fromisoformat(r["finished_at"]),
                rounds=int(r["rounds"]),
                local_problem_rounds=tuple(json.loads(r["local_problem_rounds"])),
                sla=float(json.loads(r["options"]).get("sla", 10.0)),
            )
            for r in rows
        ]
