"""``ltv trust`` and ``ltv verify --trust-store`` end to end through the typer app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from asn1crypto import pem
from typer.testing import CliRunner

import samples.pki as pki
from ltv.cli import app
from tests.unit.pipeline import fixtures as fx
from tests.unit.trustlists import tlgen
from tests.unit.trustlists.listserver import ListServer
from tests.unit.trustlists.test_trust_files import p7

if TYPE_CHECKING:
    from samples.pki.server import PkiServer

ROOT = Path(__file__).parents[2]


class Result:
    """CliRunner result with the exit code ltv's ``main`` gives an LtvError."""

    def __init__(self, inner: Any) -> None:
        from ltv.errors import LtvError

        self.stdout: str = inner.stdout
        self.stderr: str = inner.stderr
        self.error = ""
        exc = inner.exception
        if isinstance(exc, LtvError):
            self.exit_code = exc.exit_code
            self.error = exc.diagnostics()
        elif exc is not None and not isinstance(exc, SystemExit):
            raise exc
        else:
            self.exit_code = inner.exit_code


def ltv(*args: str) -> Result:
    return Result(CliRunner().invoke(app, list(args)))


@pytest.fixture(scope="module")
def lists() -> tlgen.TestLists:
    return tlgen.make_test_lists()


@pytest.fixture(scope="module")
def paths(lists: tlgen.TestLists, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return lists.write(tmp_path_factory.mktemp("lists"))


@pytest.fixture(scope="module")
def pdfs(pki_server: PkiServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pdfs")
    docs = tlgen.get_docs(pki_server, tmp_path_factory.mktemp("qc"))
    out = {}
    for name in ("qes", "ades_qc", "after_ca"):
        out[name] = d / f"{name}.pdf"
        out[name].write_bytes(getattr(docs, name))
    return out


@pytest.fixture
def store(tmp_path: Path, paths: dict[str, Path]) -> Path:
    """A store with the test LOTL and both ZZ issues, imported through the CLI."""
    s = tmp_path / "store"
    r = ltv("trust", "import-lotl", str(paths["lotl"]), "--signer", str(paths["lotl-signer"]),
            "--store", str(s))  # fmt: skip
    assert r.exit_code == 0, r.error
    assert "imported LOTL #7" in r.stdout
    for issue in ("zz1", "zz2"):
        r = ltv("trust", "import-tl", str(paths[issue]), "--store", str(s))
        assert r.exit_code == 0, r.error
    return s


def test_import_list_and_show(store: Path, paths: dict[str, Path]) -> None:
    r = ltv("trust", "list", "--store", str(store), "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert [(x["kind"], x["territory"], x["sequence"]) for x in doc["lists"]] == [
        ("lotl", "EU", 7),
        ("tl", "ZZ", 1),
        ("tl", "ZZ", 2),
    ]
    assert doc["lists"][1]["source"] == str(paths["zz1"])
    # every snapshot's file is kept as imported
    kept = sorted(p.name for p in (store / "snapshots").glob("*.xml"))
    assert len(kept) == 3
    # the territory: each service, its history and its status at a moment
    r = ltv("trust", "show", "ZZ", "--at", "2026-06-01T00:00:00Z", "--store", str(store),
            "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.error
    doc = json.loads(r.stdout)
    ca = next(s for s in doc["services"] if s["type"] == "CA/QC")
    assert [(h["status"], h["since"]) for h in ca["history"]] == [
        ("granted", "2020-01-01T00:00:00Z"),
        ("withdrawn", "2026-05-01T00:00:00Z"),
    ]
    assert ca["history"][0]["qualifiers"] == ["QCWithQSCD"]
    assert ca["status_at"]["status"] == "withdrawn"
    r = ltv("trust", "show", "ZZ", "--at", "2026-03-01T00:00:00Z", "--store", str(store))
    assert "ltv Sample Qualified CA [CA/QC]; at 2026-03-01T00:00:00Z: granted" in r.stdout
    r = ltv("trust", "show", "tl-ZZ-1", "--store", str(store))
    assert r.exit_code == 0 and r.stdout.startswith("tl-ZZ-1-")
    r = ltv("trust", "show", "XX", "--store", str(store))
    assert r.exit_code == 2 and "'XX': no such list or territory" in r.error


def test_broken_signature_is_refused_and_nothing_stored(
    store: Path, paths: dict[str, Path], tmp_path: Path
) -> None:
    before = sorted(p.name for p in (store / "snapshots").iterdir())
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(
        paths["zz2"].read_bytes().replace(b"Svcstatus/withdrawn<", b"Svcstatus/granted<", 1)
    )
    r = ltv("trust", "import-tl", str(tampered), "--store", str(store))
    assert r.exit_code == 4
    assert r.error.startswith(f"{tampered}: XML signature does not verify as of its issue date")
    assert sorted(p.name for p in (store / "snapshots").iterdir()) == before


def test_update_over_loopback(
    lists: tlgen.TestLists, paths: dict[str, Path], tmp_path: Path
) -> None:
    s = tmp_path / "store"
    sites = {"tl.ltv.test": {"/lotl.xml": lists.lotl, "/zz.xml": lists.zz2}}
    with ListServer(sites) as server:
        to = f"tl.ltv.test:80:127.0.0.1:{server.port}"
        r = ltv("trust", "update", "--lotl-url", tlgen.LOTL_URL, "--signer",
                str(paths["lotl-signer"]), "--connect-to", to, "--store", str(s))  # fmt: skip
    assert r.exit_code == 0, (r.error, r.stderr)
    assert "ZZ: tl-ZZ-2-" in r.stdout and "2 list(s) stored, 0 failed, 2 request(s)" in r.stdout
    # nothing listens any more: update fails with one line, the store keeps what it had
    r = ltv("trust", "update", "--lotl-url", tlgen.LOTL_URL, "--connect-to",
            "tl.ltv.test:80:127.0.0.1:9", "--timeout", "2", "--store", str(s))  # fmt: skip
    assert r.exit_code == 4 and "lotl.xml" in r.error
    assert len(list((s / "snapshots").glob("*.json"))) == 2


def _pem_file(tmp: Path, name: str, *labels: str) -> Path:
    path = tmp / name
    path.write_bytes(b"".join(pki.cert_path(lb).read_bytes() for lb in labels))
    return path


def test_add_pem_der_and_pkcs7(tmp_path: Path) -> None:
    s = str(tmp_path / "store")
    der = tmp_path / "root.der"
    der.write_bytes(pem.unarmor(pki.cert_path("root").read_bytes())[2])
    p7c = tmp_path / "tsa.p7c"
    p7c.write_bytes(p7("tsa-root"))
    p7b = tmp_path / "both.p7b"
    p7b.write_bytes(pem.armor("PKCS7", p7("root", "interm")))
    assert ltv("trust", "add", str(der), "--store", s).exit_code == 0
    r = ltv("trust", "add", str(p7c), "--role", "tsa", "--store", s)
    assert r.exit_code == 0 and "added tsa anchor CN=ltv Sample TSA Root CA" in r.stdout
    r = ltv("trust", "add", str(p7b), "--store", s)  # root already there: only interm is new
    assert r.exit_code == 0 and r.stdout.count("added signer anchor") == 1
    r = ltv("trust", "add", str(_pem_file(tmp_path, "r.pem", "root")), "--store", s)
    assert "already a signer anchor" in r.stdout
    doc = json.loads(ltv("trust", "list", "--store", s, "--format", "json").stdout)
    got = sorted((a["role"], a["subject"].split(",")[0]) for a in doc["anchors"])
    assert got == [
        ("signer", "CN=ltv Sample Intermediate CA"),
        ("signer", "CN=ltv Sample Root CA"),
        ("tsa", "CN=ltv Sample TSA Root CA"),
    ]


def test_add_and_trust_errors_name_the_file(tmp_path: Path, paths: dict[str, Path]) -> None:
    s = str(tmp_path / "store")
    key_only = tmp_path / "key.pem"
    key_only.write_bytes(pki.key_path("interm").read_bytes())
    r = ltv("trust", "add", str(key_only), "--store", s)
    assert r.exit_code == 2 and r.error.startswith(f"{key_only}: holds no certificate")
    r = ltv("trust", "add", str(paths["zz1"]), "--store", s)
    assert r.exit_code == 2 and r.error.startswith(f"{paths['zz1']}: a trusted list")
    r = ltv("trust", "add", str(tmp_path / "missing.pem"), "--store", s)
    assert r.exit_code == 2 and "missing.pem: cannot read" in r.error
    r = ltv("trust", "add", str(key_only), "--role", "root", "--store", s)
    assert r.exit_code == 2 and "--role 'root'" in r.error
    # verify --trust: the file is named, not "no trust anchors given"
    r = ltv("verify", str(ROOT / "samples" / "good-b-lt.pdf"), "--trust", str(key_only))
    assert r.exit_code == 2 and r.error.startswith(f"{key_only}: holds no certificate")
    r = ltv("verify", str(ROOT / "samples" / "good-b-lt.pdf"), "--trust-store",
            str(tmp_path / "nothing"))  # fmt: skip
    assert r.exit_code == 2 and "nothing: no such trust store" in r.error


def test_one_line_error_from_the_real_entry_point(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "ltv", "trust", "add", str(empty), "--store", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"ltv: error: {empty}: empty file, holds no certificate (hint: give PEM or DER "
        "certificates, or PKCS#7 bundles (.p7b/.p7c), or a directory of them)"
    ]


def test_verify_trust_accepts_a_pkcs7_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "roots.p7c"
    bundle.write_bytes(p7("root", "tsa-root"))
    r = ltv("verify", str(ROOT / "samples" / "good-b-lt.pdf"), "--trust", str(bundle),
            "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.stdout
    (doc,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert doc["indication"] == "TOTAL-PASSED"
    assert doc["signatures"][0]["qualification"] is None  # no trust store, no claim


def test_verify_with_the_trust_store(store: Path, pdfs: dict[str, Path]) -> None:
    r = ltv("verify", str(pdfs["qes"]), str(pdfs["ades_qc"]), "--trust-store", str(store),
            "--format", "json", "--at", "2026-12-01T00:00:00Z")  # fmt: skip
    assert r.exit_code == 0, r.stdout
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    for doc in docs:
        fx.assert_schema(doc)
    got = [(d["signatures"][0]["qualification"]["signature"],
            d["signatures"][0]["qualification"]["timestamp"]) for d in docs]  # fmt: skip
    assert got == [("QES", "QTST"), ("AdES-QC", "QTST")]
    # text: the class and the deciding list/service/entry
    r = ltv("verify", str(pdfs["qes"]), "--trust-store", str(store))
    assert r.exit_code == 0
    assert "qualification: QES, timestamp QTST (qualified=True, QSCD=True)" in r.stdout
    assert "ZZ list #2" in r.stdout
    # after the CA's withdrawal: INDETERMINATE (exit 3), the service and its status named
    r = ltv("verify", str(pdfs["after_ca"]), "--trust-store", str(store))
    assert r.exit_code == 3
    assert "'ltv Sample Qualified CA' (CA/QC)" in r.stdout and "was withdrawn" in r.stdout


def test_trust_store_in_the_policy_toml(store: Path, pdfs: dict[str, Path], tmp_path: Path) -> None:
    policy = store.parent / "policy.toml"
    policy.write_text(f'trust_store = "{store.name}"\n')
    r = ltv("verify", str(pdfs["qes"]), "--policy", str(policy), "--format", "json")
    assert r.exit_code == 0, r.error or r.stdout
    assert json.loads(r.stdout)["signatures"][0]["qualification"]["signature"] == "QES"
    schema = json.loads((ROOT / "schemas" / "policy.schema.json").read_text())
    import jsonschema

    jsonschema.validate({"trust_store": "x"}, schema)
    bad = tmp_path / "bad.toml"
    bad.write_text('trust_store = "does-not-exist"\n')
    r = ltv("verify", str(pdfs["qes"]), "--policy", str(bad))
    assert r.exit_code == 2 and "does-not-exist: no such trust store" in r.error
