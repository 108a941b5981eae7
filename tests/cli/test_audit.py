"""``ltv audit`` end to end.

A mixed tree — directories and zips, every sample verdict, corrupt and non-PDF files, copies, a
renamed copy, a zip member named ``../../evil.pdf`` — is audited; every stored report must be
exactly what ``Verifier`` says of the same bytes at the same time. A re-run at a later
``--as-of`` parses nothing (``examine`` is booby-trapped) and changes what time changes. A run
killed with SIGKILL (a real subprocess) resumes to exactly one row per signature; Ctrl-C stops
cleanly and says how to resume; the Dask path (a ``dask.distributed.LocalCluster``) stores the
same rows as the local pool. The summary JSON validates against ``schemas/audit.schema.json``;
the HTML opens in headless Chromium with no console error and no fetch, and shows the counts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from ltv.cli import app
from ltv.policy import ValidationPolicy
from ltv.verify import Verifier
from tests.unit.pipeline import fixtures as fx

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-12-01T00:00:00Z"
LATER = "2027-06-01T00:00:00Z"  # tsa-short (valid until 2027-01-01) has expired
SCHEMA = json.loads((REPO / "schemas" / "audit.schema.json").read_text())
XSS = '<img src="x.png" onerror="console.error(1)">.pdf'
"""A zip member whose name is markup: the page must show it as text."""


class _Result:
    """CliRunner result with the exit code ltv's ``main`` gives an LtvError (one boundary)."""

    def __init__(self, inner: Any) -> None:
        from ltv.errors import LtvError

        self.stdout: str = inner.stdout
        self.stderr: str = inner.stderr
        exc = inner.exception
        if isinstance(exc, LtvError):
            self.exit_code = exc.exit_code
            self.error = exc.diagnostics()
        elif exc is not None and not isinstance(exc, SystemExit):
            raise exc
        else:
            self.exit_code = inner.exit_code
            self.error = ""


def audit(*args: str, stdin: str | None = None) -> _Result:
    return _Result(CliRunner().invoke(app, ["audit", *args], input=stdin))


def trust_args() -> list[str]:
    from samples import pki

    return ["--trust", str(pki.cert_path("root")), "--tsa-trust", str(pki.cert_path("tsa-root"))]


def _policy() -> ValidationPolicy:
    return ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store())


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The mixed archive, and the bytes behind every label in it."""
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    root = tmp_path_factory.mktemp("archive") / "archive"
    (root / "samples").mkdir(parents=True)
    (root / "fixtures").mkdir()
    (root / "longterm").mkdir()
    (root / "renamed").mkdir()
    contents: dict[str, bytes] = {}
    for pdf in sorted((REPO / "samples").glob("*.pdf")):
        shutil.copy(pdf, root / "samples" / pdf.name)
        contents[str(root / "samples" / pdf.name)] = pdf.read_bytes()
    for name, data in fx.get_fixtures().items():
        (root / "fixtures" / f"{name}.pdf").write_bytes(data)
        contents[str(root / "fixtures" / f"{name}.pdf")] = data
    longterm = fx.get_longterm_fixtures()
    for name in ("short-b-lt", "short-renewed"):
        (root / "longterm" / f"{name}.pdf").write_bytes(longterm[name])
        contents[str(root / "longterm" / f"{name}.pdf")] = longterm[name]
    good = (REPO / "samples" / "good-b-lt.pdf").read_bytes()
    (root / "renamed" / "copy-of-good.pdf").write_bytes(good)  # a renamed copy
    contents[str(root / "renamed" / "copy-of-good.pdf")] = good
    corrupt = b"%PDF-1.7\n garbage \x00\x01 not a pdf body"
    (root / "corrupt.pdf").write_bytes(corrupt)
    contents[str(root / "corrupt.pdf")] = corrupt
    fake = b"just some text, named like a PDF\n"
    (root / "fake.pdf").write_bytes(fake)
    contents[str(root / "fake.pdf")] = fake
    (root / "readme.txt").write_text("skipped: not a PDF")
    (root / "broken.zip").write_bytes(b"this is no zip archive")
    lta = (REPO / "samples" / "good-b-lta.pdf").read_bytes()
    tampered = (REPO / "samples" / "tampered-after-signing.pdf").read_bytes()
    with zipfile.ZipFile(root / "batch.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("dup/good-b-lta.pdf", lta)  # a copy inside an archive
        z.writestr("../../evil.pdf", tampered)  # a hostile member name
        z.writestr(XSS, corrupt)  # a name that would be markup in the HTML page
        z.writestr("notes.txt", "skipped")
        z.writestr("nested.zip", b"PK\x03\x04 nested archives are skipped")
    contents[f"{root}/batch.zip!dup/good-b-lta.pdf"] = lta
    contents[f"{root}/batch.zip!../../evil.pdf"] = tampered
    contents[f"{root}/batch.zip!{XSS}"] = corrupt
    return {"root": root, "contents": contents, "unreadable": {f"{root}/broken.zip"}}


def _rows(db: Path, run_id: int) -> dict[str, dict[str, Any]]:
    con = sqlite3.connect(db)
    try:
        files = {
            path: {
                "sha256": sha,
                "indication": ind,
                "error": err,
                "due": due,
                "examined": ex,
                "report": json.loads(rep),
                "signatures": [],
            }
            for path, sha, ind, err, due, ex, rep in con.execute(
                "SELECT path, sha256, indication, error, due, examined, report FROM files "
                "WHERE run_id = ?",
                (run_id,),
            )
        }
        for path, idx, field, indication, sub, level, enabled in con.execute(
            "SELECT path, idx, field, indication, subindication, level, ltv_enabled "
            "FROM signatures WHERE run_id = ? ORDER BY path, idx",
            (run_id,),
        ):
            files[path]["signatures"].append((idx, field, indication, sub, level, enabled))
    finally:
        con.close()
    return files


def _expected(contents: dict[str, bytes], now: str) -> dict[str, dict[str, Any]]:
    verifier = Verifier(_policy())
    return {
        label: verifier.verify(data, path=label, now=_when(now)).to_dict()
        for label, data in contents.items()
    }


def _check_against_verify(
    rows: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]], unreadable: set[str]
) -> None:
    assert set(rows) == set(expected) | unreadable
    for label, report in expected.items():
        row = rows[label]
        assert row["report"] == report, label  # audit says exactly what verify says
        assert row["indication"] == report["indication"], label
        sigs = report["signatures"]
        assert [(s[0], s[1], s[2], s[3], s[4]) for s in row["signatures"]] == [
            (i, s["field"], s["indication"], s["subindication"], s["level"])
            for i, s in enumerate(sigs)
        ], label
    for label in unreadable:
        assert rows[label]["indication"] == "NO_SIGNATURE"
        assert "zip" in rows[label]["error"]


def _validate(summary: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(summary)


@pytest.fixture(scope="module")
def first_run(tree: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("out")
    db, summary, html = out / "audit.sqlite", out / "summary.json", out / "report.html"
    cwd_before = set(os.listdir(Path.cwd()))
    result = audit(
        str(tree["root"]),
        "--db",
        str(db),
        "--jobs",
        "1",
        "--as-of",
        AS_OF,
        "--json",
        str(summary),
        "--html",
        str(html),
        *trust_args(),
    )
    assert set(os.listdir(Path.cwd())) == cwd_before  # nothing extracted, nothing created here
    return {"result": result, "db": db, "summary": summary, "html": html, "out": out}


def test_mixed_tree_rows_are_what_verify_says(
    tree: dict[str, Any], first_run: dict[str, Any]
) -> None:
    result = first_run["result"]
    assert result.exit_code == 1, result.stdout + result.stderr + result.error  # a failed one
    rows = _rows(first_run["db"], 1)
    _check_against_verify(rows, _expected(tree["contents"], AS_OF), tree["unreadable"])
    root = tree["root"]
    # the hostile member is a label, nothing else: no file of that name appeared anywhere
    assert rows[f"{root}/batch.zip!../../evil.pdf"]["indication"] == "TOTAL-FAILED"
    assert not list(root.parent.parent.rglob("evil.pdf"))
    # one examination per content: copies and the renamed file are judged from stored facts
    by_sha: dict[str, list[int]] = {}
    for label, row in rows.items():
        if label not in tree["unreadable"]:
            by_sha.setdefault(row["sha256"], []).append(row["examined"])
    assert all(sorted(ex) == [0] * (len(ex) - 1) + [1] for ex in by_sha.values()), by_sha
    assert (
        rows[f"{root}/renamed/copy-of-good.pdf"]["sha256"]
        == rows[f"{root}/samples/good-b-lt.pdf"]["sha256"]
    )
    con = sqlite3.connect(first_run["db"])
    n_facts = con.execute("SELECT count(*) FROM facts").fetchone()[0]
    errors = con.execute("SELECT count(*) FROM facts WHERE error IS NOT NULL").fetchone()[0]
    con.close()
    assert n_facts == len(by_sha) and errors == 2  # corrupt (twice), fake: stored as errors
    assert "ltv: audit:" in result.stderr  # plain progress lines off a terminal
    assert "broken.zip" in result.stderr  # the archive that could not be opened is named


def test_summary_json_counts_and_schema(tree: dict[str, Any], first_run: dict[str, Any]) -> None:
    summary = json.loads(first_run["summary"].read_text())
    _validate(summary)
    rows = _rows(first_run["db"], 1)
    sigs = [s for row in rows.values() for s in row["signatures"]]
    assert summary["files"] == len(rows) == len(tree["contents"]) + 1
    assert summary["signatures"] == len(sigs)
    by_indication: dict[str, int] = {}
    for s in sigs:
        by_indication[s[2]] = by_indication.get(s[2], 0) + 1
    assert summary["by_indication"] == dict(sorted(by_indication.items()))
    no_sig = [r for r in rows.values() if r["indication"] == "NO_SIGNATURE"]
    assert summary["unreadable"] == len(no_sig) == 6  # 2 unsigned, corrupt x2, fake, broken.zip
    assert summary["no_signature"] == 2
    assert summary["skipped"] == 3  # readme.txt, notes.txt, nested.zip
    assert summary["examined"] + summary["reused"] == summary["files"]
    # renewal due: short-b-lt's protection is its tsa-short timestamp (until 2027-01-01)
    due = {d["file"]: d["due"] for d in summary["renewal_due"]}
    root = tree["root"]
    assert due[f"{root}/longterm/short-b-lt.pdf"] == "2027-01-01T00:00:00Z"
    assert due[f"{root}/samples/good-b-lta.pdf"] == "2050-01-01T00:00:00Z"
    assert [d["due"] for d in summary["renewal_due"]] == sorted(due.values())
    assert summary["renewal_due"][0]["file"] == f"{root}/longterm/short-b-lt.pdf"
    passing = {p for p, r in rows.items() if r["indication"] == "TOTAL-PASSED"}
    assert set(due) == passing
    problems = {(p["file"], p["indication"]) for p in summary["problems"]}
    assert (f"{root}/batch.zip!../../evil.pdf", "TOTAL-FAILED") in problems
    assert (f"{root}/fake.pdf", "NO_SIGNATURE") in problems
    e = summary["ltv_enabled"]
    assert e["yes"] > 0 and e["no"] > 0
    assert summary["by_signer_ca"] and summary["by_tsa"]
    text = first_run["result"].stdout
    assert f"{summary['files']} file(s)" in text and "LTV enabled (Acrobat)" in text
    assert "renewal due" in text and "short-b-lt.pdf" in text


def test_html_opens_in_chromium_without_errors_and_shows_the_counts(
    first_run: dict[str, Any],
) -> None:
    from tests.browser import render

    summary = json.loads(first_run["summary"].read_text())
    page = render(first_run["html"])
    assert page.console_errors == []
    assert page.requests == []  # self-contained: nothing fetched
    dom = page.dom
    assert f'<div class="card" data-count="files"><b>{summary["files"]}</b>' in dom
    assert f'<div class="card" data-count="signatures"><b>{summary["signatures"]}</b>' in dom
    for indication, n in summary["by_indication"].items():
        assert f"<title>{indication}: {n}</title>" in dom
    assert dom.count('<rect class="due"') >= 1
    assert "&lt;img src=" in dom and "<img" not in dom  # a file name is text, never markup
    assert dom.count("<tr>", dom.index('id="problems"')) == 1 + len(summary["problems"])
    # the table filters (and sorts) in the browser: a view given in the address
    filtered = render(first_run["html"].as_uri() + "#filter=evil.pdf&sort=0&desc")
    assert filtered.console_errors == []
    body = filtered.dom[filtered.dom.index('id="problems"') :]
    visible = [row for row in body.split("<tr")[2:] if "hidden" not in row.split(">")[0]]
    assert len(visible) == 1 and "evil.pdf" in visible[0]
    assert 'aria-sort="descending"' in body


def test_rerun_later_reuses_facts_and_rejudges(
    tree: dict[str, Any], first_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ltv.pipeline.run

    def no_parsing(data: Any) -> Any:
        raise AssertionError("a file was parsed again on a re-run")

    monkeypatch.setattr(ltv.pipeline.run, "examine", no_parsing)
    result = audit(
        str(tree["root"]), "--db", str(first_run["db"]), "--jobs", "1", "--as-of", LATER,
        *trust_args(),
    )  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr + result.error
    rows = _rows(first_run["db"], 2)
    assert all(r["examined"] == 0 for r in rows.values())
    monkeypatch.undo()
    _check_against_verify(rows, _expected(tree["contents"], LATER), tree["unreadable"])
    root = tree["root"]
    before = _rows(first_run["db"], 1)
    short = f"{root}/longterm/short-b-lt.pdf"
    assert before[short]["indication"] == "TOTAL-PASSED"
    assert rows[short]["indication"] == "INDETERMINATE"  # its TSA expired, nothing renewed it
    renewed = f"{root}/longterm/short-renewed.pdf"
    assert rows[renewed]["indication"] == "TOTAL-PASSED"  # the renewal carries it
    assert "0 file(s) parsed" in result.stdout


def test_usage_errors(tree: dict[str, Any], tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite"
    missing = audit(str(tmp_path / "nope"), "--db", str(db), *trust_args())
    assert missing.exit_code == 2 and "nope" in missing.error
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = audit(str(empty), "--db", str(db), *trust_args())
    assert nothing.exit_code == 2 and "nothing to audit" in nothing.error
    html = tmp_path / "page.html"
    html.write_text("keep me")
    refused = audit(
        str(tree["root"] / "samples"), "--db", str(db), "--html", str(html), *trust_args()
    )
    assert refused.exit_code == 2 and "already exists" in refused.error
    assert html.read_text() == "keep me" and not db.exists()  # refused before any work
    no_trust = audit(str(tree["root"] / "samples"), "--db", str(db))
    assert no_trust.exit_code == 2 and not db.exists()


def test_paths_from_stdin(tree: dict[str, Any], tmp_path: Path) -> None:
    root = tree["root"]
    listed = f"{root}/samples/good-b-lt.pdf\n\n{root}/samples/unsigned.pdf\n"
    result = audit(
        "-", "--db", str(tmp_path / "a.sqlite"), "--jobs", "1", *trust_args(), stdin=listed
    )
    assert result.exit_code == 4, result.stdout + result.stderr + result.error
    rows = _rows(tmp_path / "a.sqlite", 1)
    assert set(rows) == {f"{root}/samples/good-b-lt.pdf", f"{root}/samples/unsigned.pdf"}


# -- the local pool, Dask, a kill, Ctrl-C ------------------------------------------------------


def _store_rows(db: Path) -> dict[str, Any]:
    rows = _rows(db, 1)
    return {
        p: (r["sha256"], r["indication"], r["report"], r["signatures"]) for p, r in rows.items()
    }


def test_dask_local_cluster_gives_the_same_rows_as_the_local_pool(
    tree: dict[str, Any], tmp_path: Path
) -> None:
    from distributed import LocalCluster

    base = [str(tree["root"] / "samples"), str(tree["root"] / "fixtures"), "--as-of", AS_OF]
    pool = audit(*base, "--db", str(tmp_path / "pool.sqlite"), "--jobs", "2", *trust_args())
    assert pool.exit_code == 1, pool.stdout + pool.stderr + pool.error
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = audit(
            *base, "--db", str(tmp_path / "dask.sqlite"), "--dask", cluster.scheduler_address,
            *trust_args(),
        )  # fmt: skip
    assert on_dask.exit_code == 1, on_dask.stdout + on_dask.stderr + on_dask.error
    a, b = _store_rows(tmp_path / "pool.sqlite"), _store_rows(tmp_path / "dask.sqlite")
    assert len(a) == 9 + 14 and a == b


def _kill_tree(tmp_path: Path, n: int) -> Path:
    """``n`` PDFs, distinct contents first (examined), then copies (judged from facts)."""
    root = tmp_path / "tree"
    root.mkdir()
    datas = [p.read_bytes() for p in sorted((REPO / "samples").glob("*.pdf"))]
    datas += list(fx.get_fixtures().values())
    for i in range(n):
        (root / f"doc-{i:03d}.pdf").write_bytes(datas[i % len(datas)])
    return root


def _ltv(args: list[str]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "LTV_DEBUG"}
    return subprocess.Popen(
        [sys.executable, "-m", "ltv", "audit", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the test can check no worker outlives
    )


def _committed(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute("SELECT count(*) FROM files").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def _wait_for_commits(proc: subprocess.Popen[str], db: Path, total: int) -> int:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        n = _committed(db)
        if 0 < n < total:
            return n
        assert proc.poll() is None, "the audit ended before it could be interrupted"
        time.sleep(0.02)
    raise AssertionError("no batch committed in time")


def _group_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _check_complete(db: Path, total: int) -> None:
    con = sqlite3.connect(db)
    try:
        runs = con.execute("SELECT id, status FROM runs").fetchall()
        assert runs == [(1, "complete")]  # resumed, not restarted
        files = con.execute("SELECT path, report FROM files WHERE run_id = 1").fetchall()
        assert len(files) == total == len({p for p, _ in files})
        per_file = dict(
            con.execute("SELECT path, count(*) FROM signatures WHERE run_id = 1 GROUP BY path")
        )
        for path, report in files:  # exactly one row per signature
            assert per_file.get(path, 0) == len(json.loads(report)["signatures"]), path
        dup = con.execute(
            "SELECT count(*) - count(DISTINCT path || '/' || idx) FROM signatures"
        ).fetchone()[0]
        assert dup == 0
    finally:
        con.close()


def test_sigkill_mid_run_and_resume_exactly_one_row_per_signature(tmp_path: Path) -> None:
    total = 46
    root = _kill_tree(tmp_path, total)
    db = tmp_path / "audit.sqlite"
    args = [str(root), "--db", str(db), "--jobs", "2", "--as-of", AS_OF, *trust_args()]
    proc = _ltv(args)
    try:
        done = _wait_for_commits(proc, db, total)
        os.kill(proc.pid, signal.SIGKILL)  # the parent, mid-run: the workers must not linger
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert _group_gone(proc.pid, 15), "pool workers outlived their killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate(timeout=30)
    assert 0 < done < total
    resumed = _ltv(args)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 1, err  # TOTAL-FAILED files are in the tree
    assert "resuming run 1" in err
    _check_complete(db, total)


def test_ctrl_c_stops_cleanly_says_how_to_resume_and_resumes(tmp_path: Path) -> None:
    total = 46
    root = _kill_tree(tmp_path, total)
    db = tmp_path / "audit.sqlite"
    args = [str(root), "--db", str(db), "--jobs", "2", "--as-of", AS_OF, *trust_args()]
    proc = _ltv(args)
    try:
        _wait_for_commits(proc, db, total)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted:" in err and "to resume, run the same ltv audit command again" in err
    assert _group_gone(proc.pid, 15)
    con = sqlite3.connect(db)
    status, committed = con.execute(
        "SELECT status, (SELECT count(*) FROM files WHERE run_id = 1) FROM runs"
    ).fetchone()
    con.close()
    assert status == "interrupted" and 0 < committed <= total
    assert f"{committed} of {total} files committed in run 1" in err
    resumed = _ltv(args)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 1, err
    _check_complete(db, total)


def test_progress_bar_with_rate_and_eta_on_a_terminal(tmp_path: Path) -> None:
    import pty
    import select

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("LTV_DEBUG", "COLUMNS")}
    env.update(TERM="xterm-256color", COLUMNS="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ltv", "audit", str(REPO / "samples"), "--db",
         str(tmp_path / "a.sqlite"), "--jobs", "1", *trust_args()],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=slave, text=True,
    )  # fmt: skip
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    seen = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    screen = seen.decode("utf-8", "replace")
    assert "files/s" in screen and "ETA" in screen and "9/9" in screen, screen[-400:]
    assert "ltv: audit:" not in screen  # the plain lines are for logs, not terminals
    assert "9 file(s)" in out
