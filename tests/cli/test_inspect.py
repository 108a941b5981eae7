"""``ltv inspect``: content identification, JSON contract, robustness, exit codes.

Runs the CLI in-process (``typer.testing.CliRunner`` on ``ltv.cli.app``) over
every file of the shared corpus, plus synthetic inputs (corrupted PDFs, bare
tokens, PEM-armoured CRLs, an OCSP request), and once through a subprocess to
prove that no traceback reaches stderr. Every JSON document produced is
validated against ``schemas/inspect.schema.json``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from ltv.cli import app

REPO = Path(__file__).parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
SCHEMA = json.loads((REPO / "schemas" / "inspect.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")


def _corpus_files() -> list[str]:
    manifest = CORPUS / "manifest.json"
    if not manifest.is_file():
        return []
    data = json.loads(manifest.read_text())
    files = [e["file"] for e in data["entries"]] + [e["file"] for e in data["support_files"]]
    return sorted(set(files))


# Corpus files on which inspect must exit 4. Not security objects: the bundle's text
# files, and an ECDSA signature value (a SEQUENCE of two INTEGERs). Unparseable PDFs:
# dss_pdf-signed-corrupted.pdf (damaged object bytes: pyHanko cannot read its trailer) and
# dss_pades-5-signatures-and-1-document-timestamp.pdf (its last trailer says /Prev 0, on which
# pyHanko 0.38's xref reader fails even with strict=False).
EXPECTED_UNREADABLE = {
    "tokens/ocsp/openssl-ocsp/LICENSE",
    "tokens/ocsp/openssl-ocsp/openssl-ocsp.json",
    "tokens/ocsp/openssl-ocsp/readme.md",
    "tokens/revinfo-timeslide/certomancer.yml",
    "tokens/revinfo-timeslide/generate",
    "tokens/tsr/rfc3161client_sigstore_mock_payload",
    "attacks/dss_pdf-signed-corrupted.pdf",
    "pades/dss_pades-5-signatures-and-1-document-timestamp.pdf",
}


def run(*args: str | Path) -> Any:
    """Invoke ``ltv`` in-process; return click's Result (stdout and stderr kept apart)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def inspect_json(path: Path) -> dict[str, Any]:
    """``ltv inspect --format json PATH``: assert exit 0 and a schema-valid document."""
    result = run("inspect", "--format", "json", path)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    VALIDATOR.validate(doc)
    return doc


def assert_input_error(path: Path, *fragments: str) -> str:
    """Assert exit 4, nothing on stdout, exactly one ``ltv: error:`` line on stderr."""
    result = run("inspect", "--format", "json", path)
    assert result.exit_code == 4, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ltv: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return str(lines[0])


# --------------------------------------------------------------------------- whole corpus


@needs_corpus
@pytest.mark.parametrize("name", _corpus_files())
def test_corpus_file_json(name: str) -> None:
    """Every corpus file: exit 0 with schema-valid JSON, or exit 4 with one stderr line."""
    path = CORPUS / name
    if name in EXPECTED_UNREADABLE:
        assert_input_error(path)
        return
    doc = inspect_json(path)
    assert doc["file"]["bytes"] == path.stat().st_size
    if name.endswith(".pdf"):
        assert doc["type"] == "pdf"
        assert doc["pdf"]["revisions"] >= 1
        assert doc["pdf"]["signatures"], "every corpus PDF is signed"
    elif name.endswith((".ors", ".der")) and "ocsp" in name:
        assert doc["type"] == "ocsp-response"
    elif name.endswith(".crl"):
        assert doc["type"] == "crl"
    elif name.endswith((".pem", ".cer", ".crt")):
        assert doc["type"] == "certificate"


@needs_corpus
@pytest.mark.parametrize("name", sorted(set(_corpus_files()) - EXPECTED_UNREADABLE))
def test_corpus_file_text(name: str) -> None:
    """The text renderer copes with everything the JSON form describes."""
    result = run("inspect", CORPUS / name)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    assert result.stderr == ""


# --------------------------------------------------------------------------- content


@needs_corpus
def test_ocsp_army_has_20_single_responses() -> None:
    doc = inspect_json(CORPUS / "tokens/ocsp/pyca_ocsp-army.deps.mil-resp.der")
    resp = doc["ocsp_response"]
    assert doc["type"] == "ocsp-response"
    assert doc["encoding"] == "der"
    assert resp["status"] == "successful"
    assert len(resp["responses"]) == 20
    for single in resp["responses"]:
        assert single["status"] in {"good", "revoked", "unknown"}
        assert single["cert_id"]["hash_algorithm"]
        assert single["this_update"].endswith("Z")


@needs_corpus
def test_ocsp_revoked_and_unauthorized() -> None:
    revoked = inspect_json(CORPUS / "tokens/ocsp/pyca_resp-revoked.der")["ocsp_response"]
    (single,) = revoked["responses"]
    assert single["status"] == "revoked"
    assert single["revocation_time"] == "2016-09-02T21:28:48Z"
    assert revoked["responder_key_hash"] == "0f80611c823161d52f28e78d4638b42ce1c6d9e2"

    no_next = inspect_json(CORPUS / "tokens/ocsp/pyca_resp-revoked-no-next-update.der")
    assert no_next["ocsp_response"]["responses"][0]["next_update"] is None

    unauth = inspect_json(CORPUS / "tokens/ocsp/pyca_resp-unauthorized.der")["ocsp_response"]
    assert unauth["status"] == "unauthorized"
    assert unauth["responses"] == []


@needs_corpus
def test_ors_base64_text_is_an_ocsp_response() -> None:
    doc = inspect_json(CORPUS / "tokens/ocsp/openssl-ocsp/D1.ors")
    assert doc["type"] == "ocsp-response"
    assert doc["encoding"] == "base64"
    assert doc["ocsp_response"]["produced_at"] == "2012-10-23T10:25:36Z"


@needs_corpus
def test_pades_lt_signatures_timestamps_and_dss() -> None:
    doc = inspect_json(CORPUS / "pades/dss_PAdES-LT.pdf")
    pdf = doc["pdf"]
    assert pdf["revisions"] == 8
    sigs = pdf["signatures"]
    assert [s["field"] for s in sigs] == ["Signature1", "Signature2", "Signature3", "Signature4"]
    assert [s["kind"] for s in sigs].count("document-timestamp") == 1
    doc_ts = sigs[2]
    assert doc_ts["kind"] == "document-timestamp"
    assert doc_ts["sub_filter"] == "/ETSI.RFC3161"
    assert doc_ts["timestamp"]["gen_time"] == "2021-05-28T07:47:28Z"
    first = sigs[0]
    assert first["signer"]["subject"] == "C=LU,O=Nowina Solutions,CN=LEPROPRE Jean"
    assert first["pdf_signing_time"] == "2021-04-01T09:21:59Z"
    assert first["timestamp"] is None
    assert sigs[1]["timestamp"]["gen_time"] == "2021-05-28T07:47:28Z"
    assert "Certum" in sigs[1]["timestamp"]["tsa_name"]
    for sig in sigs:
        assert sig["coverage"]["covers_whole_revision"] is True
        assert sig["coverage"]["problems"] == []
        assert sig["errors"] == []
    dss = pdf["dss"]
    assert len(dss["certificates"]) == 11
    assert len(dss["ocsp_responses"]) == 3
    assert all(r["status"] == "successful" for r in dss["ocsp_responses"])
    assert {v["signature_field"] for v in dss["vri"]} == {"Signature1", "Signature2", "Signature4"}


@needs_corpus
def test_adbe_revocation_info_archival_and_dss_crl() -> None:
    doc = inspect_json(CORPUS / "pades/dss_adbe_crl_signed.pdf")
    sig = doc["pdf"]["signatures"][0]
    archival = sig["revocation_info_archival"]
    (crl,) = archival["crls"]
    assert crl["entry_count"] == 4003
    assert crl["entries_truncated"] is True
    assert "PostSignum Qualified CA 2" in crl["issuer"]
    dss = doc["pdf"]["dss"]
    assert len(dss["crls"]) == 1
    assert dss["crls"][0]["entry_count"] == 1
    # the /Type /VRI key is not a VRI entry
    assert [v["signature_field"] for v in dss["vri"]] == ["Sig 2"]


@needs_corpus
def test_byte_range_coverage_attacks() -> None:
    tail = inspect_json(CORPUS / "attacks/pyhanko_cov_tail-uncovered.pdf")
    cov = tail["pdf"]["signatures"][0]["coverage"]
    assert cov["covers_whole_file"] is False
    assert cov["covers_whole_revision"] is False
    assert cov["uncovered_tail_bytes"] > 0

    gap = inspect_json(CORPUS / "attacks/pyhanko_cov_signature-gap-too-big.pdf")
    cov = gap["pdf"]["signatures"][0]["coverage"]
    assert cov["covers_whole_revision"] is False
    assert cov["gaps"][0]["is_contents"] is False
    assert cov["problems"]

    one = inspect_json(CORPUS / "attacks/pyhanko_cov_one-byterange.pdf")
    assert one["pdf"]["signatures"][0]["byte_range"] == [0, 690]

    whole = inspect_json(CORPUS / "attacks/pyhanko_pdf-sig-with-econtent.pdf")
    cov = whole["pdf"]["signatures"][0]["coverage"]
    assert cov["level"] == "ENTIRE_FILE"
    assert cov["covers_whole_file"] is True


@needs_corpus
def test_ber_cms_and_x509_rsa_sha1() -> None:
    adbe = inspect_json(CORPUS / "pades/dss_adbe_crl_signed.pdf")
    flags = [s["cms_ber_lengths"] for s in adbe["pdf"]["signatures"]]
    assert flags == [False, True, True]  # the two document timestamps are BER-encoded

    legacy = inspect_json(CORPUS / "pades/endesive_pdf-adobe-webcapture-x509.rsa_sha1.pdf")
    sig = legacy["pdf"]["signatures"][0]
    assert sig["sub_filter"] == "/adbe.x509.rsa_sha1"
    assert "CN=Alice" in sig["signer"]["subject"]


@needs_corpus
def test_timestamp_response_and_bare_token(tmp_path: Path) -> None:
    from asn1crypto import tsp

    tsr_path = CORPUS / "tokens/tsr/rfc3161client_sigstage_response-sha256.tsr"
    doc = inspect_json(tsr_path)
    assert doc["type"] == "timestamp-response"
    tsr = doc["timestamp_response"]
    assert tsr["status"] == "granted"
    token = tsr["token"]
    assert token["gen_time"] == "2025-05-09T11:58:55Z"
    assert token["imprint_algorithm"] == "sha256"
    assert token["tsa_certificate_subject"] == "CN=sigstore-tsa,O=sigstore.dev"

    bare = tmp_path / "token.bin"
    bare.write_bytes(tsp.TimeStampResp.load(tsr_path.read_bytes())["time_stamp_token"].dump())
    doc = inspect_json(bare)
    assert doc["type"] == "timestamp-token"
    assert doc["timestamp_token"]["gen_time"] == token["gen_time"]
    assert doc["timestamp_token"]["serial"] == token["serial"]


@needs_corpus
def test_timestamp_request() -> None:
    doc = inspect_json(CORPUS / "tokens/tsr/rfc3161client_test_tsa_request.der")
    assert doc["type"] == "timestamp-request"
    assert doc["timestamp_request"]["imprint_algorithm"] == "sha512"


@needs_corpus
def test_certificates_der_pem_and_bundles(tmp_path: Path) -> None:
    doc = inspect_json(CORPUS / "tokens/revinfo-timeslide/certs/alice.crt")
    (cert,) = doc["certificates"]
    assert cert["subject"] == "CN=Alice,OU=Time-Slide Test,O=Testing Authority,C=XX"
    assert cert["serial"] == "1001"
    assert cert["public_key"] == {"algorithm": "rsa", "bits": 2048, "curve": None}
    assert cert["ocsp_urls"] == ["http://ca.example.com/time-slide-ca/ocsp/interm"]
    assert cert["crl_urls"] == ["http://ca.example.com/time-slide-ca/crls/interm/latest.crl"]

    pem_chain = inspect_json(CORPUS / "tokens/tsr/rfc3161client_test_tsa_ts_chain.pem")
    assert pem_chain["encoding"] == "pem"
    assert len(pem_chain["certificates"]) == 3

    der = inspect_json(CORPUS / "tokens/tsr/rfc3161client_identrust_ts_chain.der")
    assert [c["subject"] for c in der["certificates"]] == [
        "CN=IdenTrust Commercial Root CA 1,O=IdenTrust,C=US"
    ]

    two = tmp_path / "two-certs.bin"  # concatenated DER, then junk
    certs = CORPUS / "tokens/revinfo-timeslide/certs"
    two.write_bytes((certs / "alice.crt").read_bytes() + (certs / "root.crt").read_bytes())
    doc = inspect_json(two)
    assert [c["subject"].split(",")[0] for c in doc["certificates"]] == ["CN=Alice", "CN=Root CA"]
    junk = tmp_path / "cert-and-junk.bin"
    junk.write_bytes((certs / "alice.crt").read_bytes() + b"\x05junk")
    doc = inspect_json(junk)
    assert len(doc["certificates"]) == 1
    assert "trailing" in doc["warnings"][0]

    tsa = inspect_json(CORPUS / "tokens/tsr/rfc3161client_sigstage_ts_chain.pem")
    assert "time_stamping" in tsa["certificates"][0]["extended_key_usage"]


@needs_corpus
def test_crl_der_and_pem(tmp_path: Path) -> None:
    der_path = CORPUS / "tokens/revinfo-timeslide/interm-2020-12-10.crl"
    doc = inspect_json(der_path)
    crl = doc["crl"]
    assert crl["issuer"] == "CN=Intermediate CA,OU=Time-Slide Test,O=Testing Authority,C=XX"
    assert crl["this_update"] == "2020-12-01T00:00:00Z"
    assert crl["entry_count"] == 1
    assert crl["entries"][0] == {
        "serial": "1001",
        "revocation_date": "2020-12-01T00:00:00Z",
        "reason": "key_compromise",
    }
    pem = tmp_path / "crl.txt"
    body = base64.encodebytes(der_path.read_bytes()).decode()
    pem.write_text(f"-----BEGIN X509 CRL-----\n{body}-----END X509 CRL-----\n")
    doc = inspect_json(pem)
    assert doc["type"] == "crl"
    assert doc["encoding"] == "pem"
    assert doc["crl"]["sha256"] == crl["sha256"]


@needs_corpus
def test_ocsp_request(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    certs = CORPUS / "tokens/revinfo-timeslide/certs"
    alice = x509.load_der_x509_certificate((certs / "alice.crt").read_bytes())
    interm = x509.load_der_x509_certificate((certs / "interm.crt").read_bytes())
    req = ocsp.OCSPRequestBuilder().add_certificate(alice, interm, hashes.SHA256()).build()
    path = tmp_path / "req.bin"
    path.write_bytes(req.public_bytes(Encoding.DER))
    doc = inspect_json(path)
    assert doc["type"] == "ocsp-request"
    (cid,) = doc["ocsp_request"]["requests"]
    assert cid["serial"] == "1001"
    assert cid["hash_algorithm"] == "sha256"


# --------------------------------------------------------------------------- robustness


@needs_corpus
def test_broken_cms_in_pdf_is_an_error_field(tmp_path: Path) -> None:
    """A corrupt CMS blob is described as an error of that signature; the rest is shown."""
    src = CORPUS / "pades/dss_PAdES-LT.pdf"
    data = bytearray(src.read_bytes())
    start = inspect_json(src)["pdf"]["signatures"][1]["byte_range"][1]
    assert data[start : start + 1] == b"<"
    data[start + 1 : start + 9] = b"31ff0000"  # same length, no longer a ContentInfo
    path = tmp_path / "broken-cms.pdf"
    path.write_bytes(bytes(data))
    doc = inspect_json(path)
    sigs = doc["pdf"]["signatures"]
    broken = sigs[1]
    assert broken["field"] == "Signature2"
    assert "error" in broken["cms"]
    assert any("CMS" in e for e in broken["errors"])
    assert broken["byte_range"] is not None
    assert sigs[0]["errors"] == []
    assert len(doc["pdf"]["dss"]["ocsp_responses"]) == 3
    text = run("inspect", path)
    assert text.exit_code == 0
    assert "unreadable CMS" in text.stdout


@needs_corpus
def test_corrupt_dss_entries_are_error_items(tmp_path: Path) -> None:
    """Garbage DSS/VRI streams become error items; the signature is still described."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    name = generic.NameObject
    src = (CORPUS / "pades/pyhanko_sig-with-ski-sid.pdf").read_bytes()
    writer = IncrementalPdfFileWriter(BytesIO(src), strict=False)
    garbage = writer.add_object(generic.StreamObject(stream_data=b"not DER at all"))
    truncated = writer.add_object(generic.StreamObject(stream_data=b"\x30\x82\x05\x00\x0a\x01"))
    vri_entry = generic.DictionaryObject(
        {name("/OCSP"): generic.ArrayObject([garbage]), name("/TS"): garbage}
    )
    dss = generic.DictionaryObject(
        {
            name("/Certs"): generic.ArrayObject([garbage]),
            name("/OCSPs"): generic.ArrayObject([truncated, garbage]),
            name("/CRLs"): generic.ArrayObject([garbage]),
            name("/VRI"): generic.DictionaryObject({name("/ABCD"): vri_entry}),
        }
    )
    writer.root[name("/DSS")] = writer.add_object(dss)
    writer.update_root()
    out = BytesIO()
    writer.write(out)
    path = tmp_path / "corrupt-dss.pdf"
    path.write_bytes(out.getvalue())

    doc = inspect_json(path)
    pdf = doc["pdf"]
    assert pdf["revisions"] == 4
    (sig,) = pdf["signatures"]
    assert sig["errors"] == []
    assert sig["signer"]["subject_key_identifier"]
    assert sig["coverage"]["covers_whole_revision"] is True
    assert sig["coverage"]["covers_whole_file"] is False
    items = pdf["dss"]["certificates"] + pdf["dss"]["ocsp_responses"] + pdf["dss"]["crls"]
    assert len(items) == 4
    assert all(item["error"].startswith("unreadable ") for item in items)
    (vri,) = pdf["dss"]["vri"]
    assert "error" in vri["ocsp_responses"][0]
    assert "error" in vri["timestamp"]
    assert run("inspect", path).exit_code == 0


def test_garbage_file_exits_4(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pdf"  # the extension does not matter
    path.write_bytes(b"\x00\x01\x02 this is not anything ltv knows \xff" * 20)
    assert_input_error(path, "unrecognised input")


def test_empty_file_exits_4(tmp_path: Path) -> None:
    path = tmp_path / "empty.der"
    path.write_bytes(b"")
    assert_input_error(path, "empty file")


def test_missing_file_and_directory_exit_4(tmp_path: Path) -> None:
    assert_input_error(tmp_path / "nope.pdf", "no such file")
    assert_input_error(tmp_path, "directory")


def test_corrupt_der_and_pdf_exit_4(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.der"
    truncated.write_bytes(b"\x30\x82\x10\x00\x0a\x01\x00")
    assert_input_error(truncated, "corrupt")

    wrong_inside = tmp_path / "bad-ocsp.der"  # OCSPResponse shape, responseBytes garbage
    wrong_inside.write_bytes(bytes.fromhex("300c0a0100a0070405deadbeef00"))
    assert_input_error(wrong_inside, "corrupt OCSP response")

    pdf = tmp_path / "broken.pdf"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer garbage\n")
    assert_input_error(pdf, "corrupt PDF")

    bad_pem = tmp_path / "bad.pem"
    bad_pem.write_text("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    assert_input_error(bad_pem, "PEM")


def test_help_lists_the_format_option() -> None:
    result = run("inspect", "--help")
    assert result.exit_code == 0
    assert "--format" in result.stdout


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"x")
    assert run("inspect", "--format", "yaml", path).exit_code == 2


# --------------------------------------------------------------------------- subprocess


def _ltv(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ltv", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )


def test_subprocess_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"GIF89a not a security object")
    proc = _ltv("inspect", "--format", "json", garbage)
    assert proc.returncode == 4
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("ltv: error: ")

    missing = _ltv("inspect", tmp_path / "missing.pdf")
    assert missing.returncode == 4
    assert "Traceback" not in missing.stderr
    assert len(missing.stderr.splitlines()) == 1


@needs_corpus
def test_subprocess_json_and_text_on_a_pdf() -> None:
    path = CORPUS / "pades/pyhanko_pades-lta-dss-indirect-arrs-test-2.pdf"
    proc = _ltv("inspect", "--format", "json", path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    VALIDATOR.validate(doc)
    assert len(doc["pdf"]["signatures"]) == 3
    text = _ltv("inspect", path)
    assert text.returncode == 0
    assert "Sig1" in text.stdout
    assert "DSS" in text.stdout
