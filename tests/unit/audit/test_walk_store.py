"""What to audit (files, directories, zips read in place) and the SQLite store."""

from __future__ import annotations

import os
import sqlite3
import zipfile
from pathlib import Path

import pytest

from ltv.audit.store import AuditStore, FactsRow, FileRow, SignatureRow
from ltv.audit.walk import Unreadable, list_inputs, read_entry
from ltv.errors import InputError, UsageError


def test_walk_directories_zips_and_member_names(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a.pdf").write_bytes(b"%PDF-a")
    (root / "B.PDF").write_bytes(b"%PDF-B")
    (root / "b" / "deep" / "c.pdf").write_bytes(b"%PDF-c")
    (root / "notes.txt").write_text("not audited")
    outside = tmp_path / "outside.pdf"
    outside.write_bytes(b"%PDF-outside")
    (root / "b" / "link.pdf").symlink_to(outside)  # a file symlink is a file
    (root / "b" / "loop").symlink_to(root, target_is_directory=True)  # never followed
    with zipfile.ZipFile(root / "arch.zip", "w") as z:
        z.writestr("../../escape.pdf", b"%PDF-escape")
        z.writestr("/etc/abs.pdf", b"%PDF-abs")
        z.writestr("inner/x.pdf", b"%PDF-x")
        z.writestr("inner/readme.md", b"no")
        z.writestr("nested.zip", b"PK\x03\x04")
    (root / "broken.zip").write_bytes(b"not a zip at all")
    listing = list_inputs([str(root)])
    labels = [e.label for e in listing.entries]
    r = str(root)
    assert labels == [
        f"{r}/B.PDF",
        f"{r}/a.pdf",
        f"{r}/arch.zip!../../escape.pdf",
        f"{r}/arch.zip!/etc/abs.pdf",
        f"{r}/arch.zip!inner/x.pdf",
        f"{r}/b/deep/c.pdf",
        f"{r}/b/link.pdf",
        f"{r}/broken.zip",
    ]
    assert listing.skipped == 4  # notes.txt, the loop symlink, readme.md, nested.zip
    assert any("broken.zip" in p for p in listing.problems)
    by_label = {e.label: e for e in listing.entries}
    # members are read from the archive in place; their names never touch the file system
    before = set(os.listdir(tmp_path)) | set(os.listdir("/etc"))
    assert read_entry(by_label[f"{r}/arch.zip!../../escape.pdf"]) == b"%PDF-escape"
    assert read_entry(by_label[f"{r}/arch.zip!/etc/abs.pdf"]) == b"%PDF-abs"
    assert set(os.listdir(tmp_path)) | set(os.listdir("/etc")) == before
    with pytest.raises(Unreadable, match="zip"):
        read_entry(by_label[f"{r}/broken.zip"])
    # a file named on the command line is audited whatever its name; twice is once
    again = list_inputs([str(root / "notes.txt"), str(root / "notes.txt")])
    assert [e.label for e in again.entries] == [str(root / "notes.txt")]


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"nope\.pdf: no such file"):
        list_inputs([str(tmp_path / "nope.pdf")])


def test_read_limit_and_encrypted_members(tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF" + b"0" * 2000)
    (entry,) = list_inputs([str(big)]).entries
    with pytest.raises(Unreadable, match="larger than"):
        read_entry(entry, limit=1000)
    # an encrypted member (flag bit 0), written by hand: zipfile cannot encrypt
    archive = tmp_path / "enc.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.pdf", b"%PDF-secret")
    raw = bytearray(archive.read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        pos = raw.find(sig)
        flag_at = pos + (6 if sig == b"PK\x03\x04" else 8)
        raw[flag_at] |= 0x01
    archive.write_bytes(bytes(raw))
    (member,) = list_inputs([str(archive)]).entries
    with pytest.raises(Unreadable, match="encrypted"):
        read_entry(member)


def _file(path: str, n_sigs: int) -> FileRow:
    sigs = tuple(
        SignatureRow(
            idx=i,
            field=f"S{i}",
            kind="signature",
            indication="TOTAL-PASSED",
            subindication=None,
            level="B-LT",
            ltv_enabled=True,
            signer="CN=s",
            signer_ca="CN=ca",
            tsa="CN=tsa",
            validation_time="2026-01-01T00:00:00Z",
            time_source="signature-timestamp",
            reasons=(),
        )
        for i in range(n_sigs)
    )
    return FileRow(
        path=path,
        sha256="a" * 64,
        size=1,
        indication="TOTAL-PASSED",
        error=None,
        due=None,
        examined=True,
        report="{}",
        signatures=sigs,
    )


def test_store_batches_are_atomic_and_resumable(tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite"
    with AuditStore(db) as store:
        run = store.begin_run(
            as_of="2026-01-01T00:00:00Z",
            at=None,
            policy="default",
            online="never",
            config_sha256="c" * 64,
            config={"inputs": []},
            ltv_version="test",
        )
        facts = FactsRow(sha256="a" * 64, size=1, facts=None, error="not a PDF")
        store.commit_batch(run.id, [facts], [_file("x.pdf", 2)], ltv_version="t")
        # a batch that fails half-way (a duplicate row) leaves nothing of itself behind
        with pytest.raises(sqlite3.IntegrityError):
            store.commit_batch(run.id, [], [_file("y.pdf", 1), _file("x.pdf", 1)], ltv_version="t")
        assert store.done_paths(run.id) == {"x.pdf"}
        assert store.resumable("c" * 64) == store.run(run.id)
        store.finish_run(run.id, status="complete", stats={})
        assert store.resumable("c" * 64) is None
        n = store.db.execute("SELECT count(*) FROM signatures").fetchone()[0]
        assert n == 2
        mode = store.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_store_refuses_other_databases(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="something else"):
        AuditStore(other)
    text = tmp_path / "t.txt"
    text.write_text("hello, this is not sqlite")
    with pytest.raises(InputError, match="not an SQLite"):
        AuditStore(text)
    with pytest.raises(InputError, match="directory"):
        AuditStore(tmp_path)
