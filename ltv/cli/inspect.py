"""``ltv inspect FILE [--format text|json]``: describe a PDF or a security object.

The file is identified by content (see :mod:`ltv.inspect`). ``--format json``
prints one object validated by ``schemas/inspect.schema.json``; the default text
form is a concise tree. Unrecognised or corrupt input exits 4 with one line on
stderr. Inspect opens no sockets.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ltv.cli._common import VerboseOption

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

    from ltv.errors import LtvError

Json = dict[str, Any]


class OutputFormat(enum.StrEnum):
    """Output formats of ``ltv inspect``."""

    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    """Register the ``inspect`` command on ``app``."""
    app.command(name="inspect")(inspect_command)


def inspect_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="PDFs, OCSP responses or requests, CRLs, RFC 3161 tokens, certificates.",
            metavar="FILE",
        ),
    ],
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="text, or json (several files: one object per line)."),
    ] = OutputFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Identify each FILE by content and describe it (signatures, DSS, OCSP, CRL, TSA, certs)."""
    from ltv.cli import fail
    from ltv.cli._common import configure_logging
    from ltv.errors import LtvError
    from ltv.inspect import inspect_path

    configure_logging(verbose)
    failed: LtvError | None = None
    for file in files:
        try:
            result = inspect_path(file)
        except LtvError as err:
            err = _what_it_is(file, err)
            if len(files) == 1:
                raise fail(err) from None
            typer.echo(f"ltv: error: {err.diagnostics()}", err=True)  # the others still run
            failed = failed or err
            continue
        try:  # stdout on a full disk / over ulimit -f is one line, exit 4, never a crash
            from ltv.output import write_stdout

            if output_format is OutputFormat.json:
                if len(files) == 1:
                    write_stdout(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
                else:  # JSON Lines
                    write_stdout(
                        json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n"
                    )
            else:
                write_stdout(render_text(result, to_string=True) or "")
        except OSError as os_err:
            from ltv.output import output_failed, silence_stdout

            silence_stdout()
            raise fail(output_failed("the output to standard output", os_err)) from None
    if failed is not None:
        raise typer.Exit(failed.exit_code)


def _what_it_is(file: Path, err: LtvError) -> LtvError:
    """Name what inspect does not describe instead of "unrecognised": a PKCS#12 key store."""
    from ltv.errors import InputError

    if "unrecognised" not in err.message:
        return err
    try:
        data = file.read_bytes()
    except OSError:
        return err
    if not _is_pkcs12(data):
        return err
    return InputError(
        f"{file}: a PKCS#12 key store (PFX): a private key and its certificates, protected by "
        "a password; ltv inspect describes signatures and evidence, not key stores",
        hint=f"sign with it: ltv sign IN.pdf OUT.pdf --p12 {file} --passphrase-env VAR; "
        f"list its certificates: openssl pkcs12 -in {file} -nokeys -info",
    )


def _is_pkcs12(data: bytes) -> bool:
    """RFC 7292 §4: PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe ContentInfo, ... }."""
    from asn1crypto import pkcs12

    try:
        pfx = pkcs12.Pfx.load(data, strict=True)
        return bool(
            pfx["version"].native == "v3"
            and pfx["auth_safe"]["content_type"].native in ("data", "signed_data")
        )
    except (ValueError, TypeError, KeyError):
        return False


# --------------------------------------------------------------------------- text


def _short(hexstr: str | None, n: int = 16) -> str:
    if not hexstr:
        return "-"
    return hexstr if len(hexstr) <= n else hexstr[:n] + "…"


def _line(label: str, *parts: str | tuple[str, str]) -> Text:
    from rich.text import Text

    text = Text.assemble((label, "bold"))
    for part in parts:
        text.append(" ")
        # values decoded from hostile input are not always strings (an unknown PKIStatus is an
        # int): render them as text, never let rich raise TypeError
        if isinstance(part, tuple):
            text.append(str(part[0]), style=part[1])
        else:
            text.append(str(part))
    return text


def _error(node: Tree, item: Json) -> bool:
    """Add an error line for an error item; return True if ``item`` was one."""
    if "error" in item:
        node.add(_line("error", (str(item["error"]), "red")))
        return True
    return False


def _cert_line(node: Tree, cert: Json, label: str = "certificate") -> None:
    if _error(node, cert):
        return
    key = cert["public_key"]
    key_text = f"{key.get('algorithm')}-{key.get('bits') or '?'}" if "error" not in key else "key ?"
    node.add(
        _line(
            label,
            (cert["subject"], "cyan"),
            f"· issuer {cert['issuer']} · serial {_short(cert['serial'], 40)}"
            f" · {cert['not_before']} → {cert['not_after']} · {key_text}"
            f" · sha256 {_short(cert['sha256'])}",
        )
    )


def _cert_detail(node: Tree, cert: Json) -> None:
    if _error(node, cert):
        return
    sub = node.add(_line("certificate", (cert["subject"], "cyan")))
    key = cert["public_key"]
    rows: list[tuple[str, str]] = [
        ("issuer", cert["issuer"]),
        ("serial", cert["serial"]),
        ("validity", f"{cert['not_before']} → {cert['not_after']}"),
        ("key", "error" if "error" in key else f"{key['algorithm']} {key['bits'] or '?'} bits"),
        ("signature", cert["signature_algorithm"]),
        ("CA", "yes" if cert["is_ca"] else "no"),
        ("key usage", ", ".join(cert["key_usage"]) or "-"),
        ("EKU", ", ".join(cert["extended_key_usage"]) or "-"),
        ("OCSP", ", ".join(cert["ocsp_urls"]) or "-"),
        ("CA issuers", ", ".join(cert["ca_issuers_urls"]) or "-"),
        ("CRL DPs", ", ".join(cert["crl_urls"]) or "-"),
        ("sha256", cert["sha256"]),
    ]
    for label, value in rows:
        sub.add(_line(label, str(value)))


def _ocsp(node: Tree, resp: Json, label: str = "OCSP response") -> None:
    if _error(node, resp):
        return
    responder = resp["responder_name"] or (
        f"key {resp['responder_key_hash']}" if resp["responder_key_hash"] else "-"
    )
    sub = node.add(
        _line(
            label,
            (resp["status"], "green" if resp["status"] == "successful" else "red"),
            f"· responder {responder} · produced {resp['produced_at'] or '-'}"
            f" · {len(resp['responses'])} response(s), {len(resp['certificates'])} cert(s)",
        )
    )
    for single in resp["responses"]:
        if _error(sub, single):
            continue
        cid = single["cert_id"]
        status_style = {"good": "green", "revoked": "red"}.get(single["status"], "yellow")
        extra = ""
        if single["status"] == "revoked":
            extra = f" at {single['revocation_time']} ({single['revocation_reason'] or '-'})"
        sub.add(
            _line(
                "serial",
                _short(cid["serial"], 40),
                (single["status"] + extra, status_style),
                f"· this {single['this_update']} · next {single['next_update'] or '-'}"
                f" · {cid['hash_algorithm']} name {_short(cid['issuer_name_hash'], 8)}"
                f" key {_short(cid['issuer_key_hash'], 8)}",
            )
        )


def _crl(node: Tree, cl: Json, label: str = "CRL") -> None:
    if _error(node, cl):
        return
    sub = node.add(
        _line(
            label,
            (cl["issuer"], "cyan"),
            f"· this {cl['this_update']} · next {cl['next_update'] or '-'}"
            f" · {cl['entry_count']} entr{'y' if cl['entry_count'] == 1 else 'ies'}"
            + (f" · number {cl['crl_number']}" if cl["crl_number"] else ""),
        )
    )
    for entry in cl["entries"][:10]:
        if not _error(sub, entry):
            sub.add(
                _line(
                    "revoked",
                    _short(entry["serial"], 40),
                    f"at {entry['revocation_date']} ({entry['reason'] or '-'})",
                )
            )
    if cl["entry_count"] > 10:
        sub.add(_line("…", f"{cl['entry_count'] - 10} more (see --format json)"))


def _token(node: Tree, tok: Json, label: str = "timestamp") -> None:
    if _error(node, tok):
        return
    tsa = tok["tsa_name"] or tok["tsa_certificate_subject"] or "-"
    sub = node.add(_line(label, (str(tok["gen_time"]), "green"), f"· TSA {tsa}"))
    sub.add(
        _line(
            "imprint",
            f"{tok['imprint_algorithm']} {_short(tok['imprint'], 32)}"
            f" · policy {tok['policy']} · serial {_short(tok['serial'], 40)}"
            f" · nonce {_short(tok['nonce'], 20)}",
        )
    )
    signer = tok["cms"]["signer"]
    if signer and "error" not in signer:
        sub.add(_line("signed by", signer["subject"] or f"issuer {signer['issuer']}"))


def _revocation_group(node: Tree, label: str, group: Json) -> None:
    sub = node.add(
        _line(
            label,
            f"{len(group.get('certificates', []))} certificate(s),"
            f" {len(group['ocsp_responses'])} OCSP, {len(group['crls'])} CRL(s)",
        )
    )
    for cert in group.get("certificates", []):
        _cert_line(sub, cert)
    for resp in group["ocsp_responses"]:
        _ocsp(sub, resp)
    for cl in group["crls"]:
        _crl(sub, cl)


def _signature(node: Tree, sig: Json) -> None:
    if "error" in sig and "field" not in sig:
        _error(node, sig)
        return
    sub = node.add(
        _line(
            "signature" if sig["kind"] == "signature" else "document timestamp",
            (repr(sig["field"]), "cyan"),
            f"· {sig['sub_filter'] or '-'} · revision {sig['revision'] or '?'}",
        )
    )
    signer = sig["signer"]
    if signer and "error" not in signer and sig["kind"] == "signature":
        sub.add(
            _line(
                "signer",
                (signer["subject"] or "(certificate not embedded)", "cyan"),
                f"· issuer {signer['issuer'] or '-'} · serial {_short(signer['serial'], 40)}",
            )
        )
    if sig["kind"] == "signature":
        sub.add(
            _line(
                "claimed time",
                f"/M {sig['pdf_signing_time'] or '-'} · CMS signingTime"
                f" {sig['cms_signing_time'] or '-'}",
            )
        )
    if sig["timestamp"]:
        _token(sub, sig["timestamp"])
    elif sig["kind"] == "signature":
        sub.add(_line("timestamp", "none"))
    cov = sig["coverage"]
    if cov:
        style = "green" if cov["covers_whole_revision"] else "red"
        verdict = (
            "whole file"
            if cov["covers_whole_file"]
            else "whole revision"
            if cov["covers_whole_revision"]
            else "partial"
        )
        gaps = ", ".join(
            f"{g['start']}-{g['end']}{' (/Contents)' if g['is_contents'] else ''}"
            for g in cov["gaps"]
        )
        sub.add(
            _line(
                "coverage",
                (verdict, style),
                f"({cov['level'] or 'level ?'}) · ByteRange {sig['byte_range']}"
                f" · gaps {gaps or '-'} · tail {cov['uncovered_tail_bytes']} bytes",
            )
        )
        for problem in cov["problems"]:
            sub.add(_line("problem", (problem, "red")))
    if sig["cms_ber_lengths"]:
        sub.add(_line("warning", ("CMS uses BER length forms (not DER)", "yellow")))
    if sig["revocation_info_archival"]:
        ria = sig["revocation_info_archival"]
        if not _error(sub, ria):
            _revocation_group(sub, "adbe-revocationInfoArchival", ria)
    for err in sig["errors"]:
        sub.add(_line("error", (err, "red")))


def _pdf(node: Tree, pdf: Json) -> None:
    node.add(
        _line(
            "document",
            f"PDF {pdf['version'] or '?'} · {pdf['revisions'] or '?'} revision(s)"
            f" · {len(pdf['signatures'])} signature(s)"
            + (" · encrypted" if pdf["encrypted"] else ""),
        )
    )
    for sig in pdf["signatures"]:
        _signature(node, sig)
    dss = pdf["dss"]
    if dss is None:
        node.add(_line("DSS", "none"))
    elif not _error(node, dss):
        sub = node.add(
            _line(
                "DSS",
                f"{len(dss['certificates'])} certificate(s), {len(dss['ocsp_responses'])} OCSP,"
                f" {len(dss['crls'])} CRL(s), {len(dss['vri'])} VRI entr"
                f"{'y' if len(dss['vri']) == 1 else 'ies'}",
            )
        )
        for cert in dss["certificates"]:
            _cert_line(sub, cert)
        for resp in dss["ocsp_responses"]:
            _ocsp(sub, resp)
        for cl in dss["crls"]:
            _crl(sub, cl)
        for vri in dss["vri"]:
            if _error(sub, vri):
                continue
            target = f" ({vri['signature_field']})" if vri["signature_field"] else ""
            vsub = sub.add(
                _line(
                    "VRI",
                    f"{_short(vri['key'])}{target}: {len(vri['certificates'])} cert(s),"
                    f" {len(vri['ocsp_responses'])} OCSP, {len(vri['crls'])} CRL(s)"
                    + (f" · TU {vri['time']}" if vri["time"] else ""),
                )
            )
            if vri["timestamp"]:
                _token(vsub, vri["timestamp"], "TS")
    for err in pdf["errors"]:
        node.add(_line("error", (err, "red")))


def render_text(result: Json, *, to_string: bool = False) -> str | None:
    """Print an inspect result as a concise tree on stdout (``to_string``: return it)."""
    from rich.tree import Tree

    kind = result["type"]
    info = result["file"]
    tree = Tree(
        _line(
            kind,
            (str(info["path"]), "cyan"),
            f"· {info['bytes']} bytes · {result['encoding']} · sha256 {_short(info['sha256'])}",
        )
    )
    if kind == "pdf":
        _pdf(tree, result["pdf"])
    elif kind == "certificate":
        for cert in result["certificates"]:
            _cert_detail(tree, cert)
    elif kind == "ocsp-response":
        _ocsp(tree, result["ocsp_response"])
        for cert in result["ocsp_response"]["certificates"]:
            _cert_line(tree, cert)
    elif kind == "crl":
        _crl(tree, result["crl"])
    elif kind == "timestamp-token":
        _token(tree, result["timestamp_token"])
    elif kind == "timestamp-response":
        tsr = result["timestamp_response"]
        tree.add(_line("status", tsr["status"], tsr["status_string"] or ""))
        if tsr["token"]:
            _token(tree, tsr["token"])
            for cert in tsr["token"]["cms"]["certificates"]:
                _cert_line(tree, cert)
    elif kind == "timestamp-request":
        req = result["timestamp_request"]
        tree.add(
            _line(
                "imprint",
                f"{req['imprint_algorithm']} {_short(req['imprint'], 32)}"
                f" · policy {req['policy'] or '-'} · nonce {req['nonce'] or '-'}"
                f" · certReq {req['cert_req']}",
            )
        )
    elif kind == "ocsp-request":
        req = result["ocsp_request"]
        for cid in req["requests"]:
            tree.add(
                _line(
                    "request",
                    f"serial {cid['serial']} · {cid['hash_algorithm']}"
                    f" name {_short(cid['issuer_name_hash'], 8)}"
                    f" key {_short(cid['issuer_key_hash'], 8)}",
                )
            )
        tree.add(_line("nonce", req["nonce"] or "-"))
    for warning in result["warnings"]:
        tree.add(_line("warning", (warning, "yellow")))
    from ltv.cli._common import console

    if not to_string:
        console().print(tree)  # not wrapped when piped (the terminal's width on a terminal)
        return None
    import io
    import sys

    from rich.console import Console

    buf = io.StringIO()
    Console(
        file=buf,
        highlight=False,
        soft_wrap=False,
        force_terminal=sys.stdout.isatty(),
        width=_tty_width(),
    ).print(tree)
    return buf.getvalue()


def _tty_width() -> int | None:
    """The terminal's width when standard output is one (rich renders into a buffer first);
    otherwise as wide as a line needs (never wrapped when piped)."""
    import shutil
    import sys

    return shutil.get_terminal_size().columns if sys.stdout.isatty() else 10_000
