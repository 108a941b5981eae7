"""Evidence checks and chains kept in the store: a later run (fresh workers, empty memory)
answers from them and reports exactly the same; a damaged row is ignored, never believed."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ltv.audit.runner import AuditConfig, run_audit
from ltv.audit.store import AuditStore, producer
from ltv.audit.walk import list_inputs
from ltv.policy import ValidationPolicy
from tests.unit.pipeline import fixtures as fx

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _audit(db: Path, files: list[str], *, store: bool = True) -> dict[str, Any]:
    """One run, in a thread of its own: its worker caches start empty."""
    out: dict[str, Any] = {}

    def work() -> None:
        policy = ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())
        config = AuditConfig(
            policy=policy, now=NOW, at=None, store=str(db) if store else None, made_by=producer()
        )
        with AuditStore(db) as s:
            run = s.begin_run(
                as_of="2026-12-01T00:00:00Z",
                at=None,
                policy="default",
                online="never",
                config_sha256=str(len(s.runs())),
                config={},
                ltv_version="test",
            )
            result = run_audit(list_inputs(files).entries, s, run, config, jobs=1)
            out["stats"] = result.stats
            out["reports"] = {
                p: json.loads(r)
                for p, r in s.db.execute(
                    "SELECT path, report FROM files WHERE run_id = ?", (run.id,)
                )
            }

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return out


def test_later_runs_answer_from_stored_checks_and_chains(tmp_path: Path) -> None:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    files = [str(p) for p in sorted((REPO / "samples").glob("*.pdf"))]
    db = tmp_path / "a.sqlite"
    first = _audit(db, files)
    con = sqlite3.connect(db)
    n_checks = con.execute("SELECT count(*) FROM evidence_checks").fetchone()[0]
    n_chains = con.execute("SELECT count(*) FROM chains").fetchone()[0]
    assert n_checks > 5 and n_chains >= 2
    assert first["stats"]["caches"]["evidence checks"]["stored"] == 0
    second = _audit(db, files)
    assert second["reports"] == first["reports"]
    caches = second["stats"]["caches"]
    assert caches["evidence checks"]["stored"] >= n_checks // 2
    assert caches["chains"]["stored"] >= 1
    # a damaged row is not believed: it is recomputed, and the verdicts do not move
    con.execute('UPDATE evidence_checks SET outcome = \'{"status": "good"}\'')
    con.execute("UPDATE chains SET path = '[\"not base64!\"]'")
    con.commit()
    con.close()
    third = _audit(db, files)
    assert third["reports"] == first["reports"]
    assert third["stats"]["caches"]["evidence checks"]["stored"] == 0
    assert third["stats"]["caches"]["chains"]["stored"] == 0
    # and a run told not to use them (Dask, --reexamine) does not
    fourth = _audit(db, files, store=False)
    assert fourth["reports"] == first["reports"]
    assert fourth["stats"]["caches"]["evidence checks"]["stored"] == 0
