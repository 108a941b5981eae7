"""``ltv trust``: a local store of EU trusted lists (with their history) and plain anchors.

::

    ltv trust import-lotl FILE.xml [--signer CERT]...   [--store DIR]
    ltv trust import-tl   FILE.xml [--signer CERT]...   [--store DIR]
    ltv trust update [--lotl-url URL] [--territory CC]... [--signer CERT]...
                     [--connect-to H:P:A:P]... [--timeout S] [--budget S] [--max-bytes N]
    ltv trust list [--format text|json]                 [--store DIR]
    ltv trust show NAME [--at ISO-8601] [--format text|json]   (NAME: list id or territory)
    ltv trust add FILE [--role signer|tsa]              [--store DIR]

The store (``--store DIR``, else ``$LTV_TRUST_STORE``, else ``~/.local/share/ltv/trust``) is
described in ltv.trustlists.store and docs/trust-store.md; ``ltv verify --trust-store DIR``
uses it. Exit codes: 0 done · 2 usage, unknown store, no signer known for a list · 4 a list
refused (bad signature, not a list) or a network failure. Only ``update`` goes online.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ltv.cli._common import ConnectToOption, TimeoutOption, VerboseOption, configure_logging

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.trustlists.model import Snapshot
    from ltv.trustlists.store import TrustListStore

trust_app = typer.Typer(
    name="trust",
    help="Trusted lists (EU LOTL and member states' lists, with history) and plain anchors.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="LTV_TRUST_STORE",
        help="Trust store directory (default: ~/.local/share/ltv/trust).",
    ),
]
SignerOption = Annotated[
    list[str] | None,
    typer.Option("--signer", help="Accept this certificate (PEM/DER/PKCS#7) as the list's signer."),
]
FormatOption = Annotated[str, typer.Option("--format", help="text | json.")]


def register(app: typer.Typer) -> None:
    """Register ``trust`` and its subcommands on ``app``."""
    app.add_typer(trust_app, name="trust")


def _now() -> datetime:
    from ltv.verify import utc_now

    return utc_now()


def _store_path(store: Path | None) -> Path:
    from ltv.trustlists.store import default_store_path

    return store if store is not None else default_store_path()


def _open(store: Path | None, *, create: bool = False) -> TrustListStore:
    from ltv.trustlists.store import TrustListStore

    return TrustListStore.open(_store_path(store), create=create)


def _read(path: str, what: str) -> bytes:
    from ltv.errors import InputError

    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read {what}: {err.strerror}") from err


def _signers(values: list[str] | None) -> list[x509.Certificate]:
    from asn1crypto import x509 as asn1_x509

    from ltv.errors import TrustError
    from ltv.trust import load_certificates

    out: list[x509.Certificate] = []
    for value in values or []:
        try:
            data = Path(value).read_bytes()
        except OSError as err:
            raise TrustError(f"{value}: cannot read signer certificate: {err.strerror}") from err
        out.extend(asn1_x509.Certificate.load(der) for der in load_certificates(data, value))
    return out


def _fmt(fmt: str) -> str:
    from ltv.errors import UsageError

    if fmt not in ("text", "json"):
        raise UsageError(f"--format {fmt!r}: expected text or json")
    return fmt


def _rfc(moment: datetime | None) -> str | None:
    from ltv.report import rfc3339

    return rfc3339(moment)


def _summary(snap: Snapshot) -> dict[str, Any]:
    from collections import Counter

    types = Counter(s.current.type for s in snap.services)
    return {
        "id": snap.id,
        "kind": snap.kind,
        "territory": snap.territory,
        "sequence": snap.sequence,
        "version": snap.version,
        "issued": _rfc(snap.issued),
        "next_update": _rfc(snap.next_update),
        "operator": snap.operator,
        "services": len(snap.services),
        "service_types": dict(sorted(types.items())),
        "pointers": len(snap.pointers),
        "signer": {"subject": snap.signer_subject, "sha256": snap.signer_sha256},
        "source": snap.source,
        "sha256": snap.sha256,
        "imported_at": _rfc(snap.imported_at),
        "problems": list(snap.problems),
    }


def _import(file: str, kind: str, signer: list[str] | None, store: Path | None) -> None:
    from typing import Literal, cast

    data = _read(file, "trusted list")
    signers = _signers(signer)
    st = _open(store, create=True)
    expect = cast(Literal["lotl", "tl"], kind)
    result = st.import_list(data, source=file, now=_now(), expect=expect, signers=signers)
    snap = result.snapshot
    what = (
        f"{len(snap.pointers)} pointers"
        if snap.kind == "lotl"
        else f"{len(snap.services)} services"
    )
    verb = "imported" if result.added else "already in the store:"
    typer.echo(
        f"{verb} {snap.label} ({what}, signed by {snap.signer_subject}) as {snap.id} in {st.path}"
    )
    for problem in snap.problems:
        typer.echo(f"ltv: warning: {snap.id}: {problem}", err=True)


@trust_app.command("import-lotl")
def import_lotl_command(
    file: Annotated[str, typer.Argument(help="The EU list of trusted lists (XML).")],
    signer: SignerOption = None,
    store: StoreOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Verify (as of its issue date) and store a LOTL: the lists it points to and their signers."""
    configure_logging(verbose)
    _import(file, "lotl", signer, store)


@trust_app.command("import-tl")
def import_tl_command(
    file: Annotated[str, typer.Argument(help="A member state's trusted list (XML).")],
    signer: SignerOption = None,
    store: StoreOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Verify (as of its issue date, against the signers the LOTL names) and store a list."""
    configure_logging(verbose)
    _import(file, "tl", signer, store)


@trust_app.command("update")
def update_command(
    lotl_url: Annotated[str | None, typer.Option("--lotl-url", help="Where the LOTL is.")] = None,
    territory: Annotated[
        list[str] | None,
        typer.Option("--territory", help="Only this territory's list (e.g. BE); repeatable."),
    ] = None,
    signer: SignerOption = None,
    connect_to: ConnectToOption = None,
    timeout: TimeoutOption = 30.0,
    budget: Annotated[
        float, typer.Option("--budget", help="Seconds for all downloads together.")
    ] = 300.0,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", help="Largest list accepted, in bytes.")
    ] = 32 * 1024 * 1024,
    store: StoreOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Fetch the LOTL and every list it points to (online), verify and store them."""
    from ltv.cli._common import parse_connect_to
    from ltv.errors import UsageError
    from ltv.evidence.http import HttpClient, Session
    from ltv.trustlists.update import EU_LOTL_URL, update

    configure_logging(verbose)
    if timeout <= 0 or budget <= 0 or max_bytes <= 0:
        raise UsageError("--timeout, --budget and --max-bytes must be positive")
    signers = _signers(signer)
    client = HttpClient(
        timeout=timeout, max_bytes=max_bytes, connect_to=parse_connect_to(connect_to or [])
    )
    session = Session(client, budget=budget, per_request=timeout)
    st = _open(store, create=True)
    outcomes = update(
        st,
        session,
        now=_now(),
        lotl_url=lotl_url or EU_LOTL_URL,
        territories=territory,
        signers=signers,
    )
    failed = 0
    for o in outcomes:
        if o.error is not None:
            failed += 1
            typer.echo(f"ltv: error: {o.territory}: {o.error}", err=True)
        else:
            state = "new" if o.added else "unchanged"
            typer.echo(f"{o.territory}: {o.snapshot_id} ({state}) from {o.url}")
    typer.echo(
        f"{len(outcomes) - failed} list(s) stored, {failed} failed, "
        f"{len(session.exchanges)} request(s)"
    )
    raise typer.Exit(4 if failed else 0)


@trust_app.command("list")
def list_command(
    store: StoreOption = None, fmt: FormatOption = "text", verbose: VerboseOption = False
) -> None:
    """What the store holds: every list snapshot and plain anchor, from which file or URL."""
    configure_logging(verbose)
    _fmt(fmt)
    st = _open(store)
    doc = {
        "store": str(st.path),
        "lists": [_summary(s) for s in st.snapshots],
        "anchors": [
            {
                "sha256": a.sha256,
                "role": a.role,
                "subject": a.subject,
                "source": a.source,
                "added_at": _rfc(a.added_at),
            }
            for a in st.anchors
        ],
    }
    if fmt == "json":
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    typer.echo(f"trust store {st.path}: {len(st.snapshots)} list(s), {len(st.anchors)} anchor(s)")
    for s in st.snapshots:
        what = f"{len(s.pointers)} pointers" if s.kind == "lotl" else f"{len(s.services)} services"
        typer.echo(
            f"  {s.id}  {s.label}, next update {_rfc(s.next_update)}, {what}, "
            f"signed by {s.signer_subject}, from {s.source}"
        )
    for a in st.anchors:
        typer.echo(f"  anchor ({a.role}) {a.subject} sha256 {a.sha256[:16]}…, from {a.source}")


def _service_doc(st: TrustListStore, snap: Snapshot, index: int, at: datetime) -> dict[str, Any]:
    from ltv.trustlists.assess import service_ref

    svc = snap.services[index]
    status_at = None
    for digest in sorted(svc.certs):
        found = st.resolve(digest, at)
        if found:
            status_at = service_ref(found[0]).to_dict()
            break
    return {
        "tsp": svc.tsp,
        "service": svc.name,
        "type": svc.current.type,
        "status": svc.current.status,
        "certificates": sorted(svc.certs),
        "status_at": status_at,
        "history": [
            {
                "type": e.type,
                "status": e.status,
                "since": _rfc(e.since),
                "until": _rfc(e.until),
                "qualifiers": sorted({q for ql in e.qualifications for q in ql["qualifiers"]}),
                "additional_info": [u.rsplit("/", 1)[-1] for u in e.additional_info],
                "problems": list(e.problems),
            }
            for e in svc.history
        ],
    }


@trust_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="A list id (or its prefix), or a territory (BE).")],
    at: Annotated[
        str | None, typer.Option("--at", help="Give each service's status at this time.")
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """One list (by id) or a territory's lists, with every service and its status history."""
    from ltv.cli.verify import parse_at
    from ltv.errors import UsageError

    configure_logging(verbose)
    _fmt(fmt)
    st = _open(store)
    moment = parse_at(at) if at is not None else _now()
    by_id = [s for s in st.snapshots if s.id == name] or [
        s for s in st.snapshots if s.id.startswith(name)
    ]
    if len(by_id) > 1:
        raise UsageError(
            f"{name!r} names {len(by_id)} lists", hint=", ".join(s.id for s in by_id[:5])
        )
    if by_id:
        snaps = by_id
    else:
        snaps = [s for s in st.snapshots if s.territory.upper() == name.upper()]
        snaps.sort(key=lambda s: (s.issued, s.sequence), reverse=True)
    if not snaps:
        raise UsageError(
            f"{name!r}: no such list or territory in {st.path}", hint="see 'ltv trust list'"
        )
    newest = snaps[0]
    doc: dict[str, Any] = {
        "store": str(st.path),
        "at": _rfc(moment),
        "lists": [_summary(s) for s in snaps],
        "services": [_service_doc(st, newest, i, moment) for i in range(len(newest.services))],
        "pointers": [p.to_json() for p in newest.pointers],
    }
    if fmt == "json":
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    for s in snaps:
        typer.echo(
            f"{s.id}: {s.label} ({s.operator}), next update {_rfc(s.next_update)}, "
            f"signed by {s.signer_subject}, from {s.source}"
        )
    if len(snaps) > 1:
        typer.echo(f"services of the newest, {newest.id}:")
    for svc in doc["services"]:
        now_line = ""
        if svc["status_at"] is not None:
            now_line = f"; at {doc['at']}: {svc['status_at']['status']}"
        typer.echo(f"  {svc['tsp']} / {svc['service']} [{svc['type']}]{now_line}")
        for h in svc["history"]:
            extra = f" {', '.join(h['qualifiers'])}" if h["qualifiers"] else ""
            typer.echo(f"      {h['since']} .. {h['until'] or 'now'}: {h['status']}{extra}")
    for p in doc["pointers"]:
        typer.echo(f"  {p['territory']}: {p['location']} ({len(p['signers'])} signer(s))")


@trust_app.command("add")
def add_command(
    file: Annotated[str, typer.Argument(help="Certificates: PEM, DER or PKCS#7 (.p7b/.p7c).")],
    role: Annotated[
        str, typer.Option("--role", help="signer (CA chains of signers) | tsa (TSA chains).")
    ] = "signer",
    store: StoreOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Add plain trust anchors (no history: always trusted) to the store."""
    from typing import Literal, cast

    from ltv.errors import TrustError, UsageError

    configure_logging(verbose)
    if role not in ("signer", "tsa"):
        raise UsageError(f"--role {role!r}: expected signer or tsa")
    try:
        data = Path(file).read_bytes()
    except OSError as err:
        raise TrustError(f"{file}: cannot read: {err.strerror}") from err
    st = _open(store, create=True)
    added = st.add_anchors(data, origin=file, role=cast(Literal["signer", "tsa"], role), now=_now())
    for a in added:
        typer.echo(f"added {role} anchor {a.subject} (sha256 {a.sha256[:16]}…)")
    if not added:
        typer.echo(f"{file}: every certificate was already a {role} anchor in {st.path}")
