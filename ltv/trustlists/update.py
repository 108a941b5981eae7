"""``ltv trust update``: fetch the LOTL and the lists it points to, verify, store.

Online only when asked, and only through ltv's HTTP client (:mod:`ltv.evidence.http`): the
caller passes the transport (an :class:`~ltv.evidence.http.HttpClient` with its size bound,
usually wrapped in a :class:`~ltv.evidence.http.Session` for a total time budget). The LOTL
is verified first (pinned signers, those named by stored LOTLs, or the given ones); each
member state's list is then verified against the signers *this* LOTL names for its territory.
A list that cannot be fetched or verified is reported and skipped (nothing stored for it); a
LOTL that cannot be is an error.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ltv.errors import LtvError

if TYPE_CHECKING:
    from asn1crypto import x509

    from ltv.evidence.http import Transport
    from ltv.trustlists.store import TrustListStore

__all__ = ["EU_LOTL_URL", "UpdateOutcome", "update"]

EU_LOTL_URL = "https://ec.europa.eu/tools/lotl/eu-lotl.xml"
"""Where the European Commission publishes the EU list of trusted lists."""
_ACCEPT = "application/vnd.etsi.tsl+xml, application/xml;q=0.9, text/xml;q=0.8"


@dataclass(frozen=True, kw_only=True)
class UpdateOutcome:
    """One list of an update: stored (new or already there) or why not."""

    territory: str
    url: str
    snapshot_id: str | None
    added: bool
    error: str | None = None


def _fetch(transport: Transport, url: str) -> bytes:
    return transport.request("GET", url, headers={"Accept": _ACCEPT}).body


def update(
    store: TrustListStore,
    transport: Transport,
    *,
    now: datetime,
    lotl_url: str = EU_LOTL_URL,
    territories: Collection[str] | None = None,
    signers: Sequence[x509.Certificate] = (),
) -> list[UpdateOutcome]:
    """Fetch and import the LOTL at ``lotl_url``, then every list it points to (only those of
    ``territories`` when given). The first outcome is the LOTL's.

    :raises LtvError: the LOTL could not be fetched or verified (nothing stored).
    """
    from asn1crypto import x509 as asn1_x509

    lotl = store.import_list(
        _fetch(transport, lotl_url), source=lotl_url, now=now, expect="lotl", signers=signers
    )
    outcomes = [
        UpdateOutcome(
            territory=lotl.snapshot.territory,
            url=lotl_url,
            snapshot_id=lotl.snapshot.id,
            added=lotl.added,
        )
    ]
    wanted = {t.upper() for t in territories} if territories is not None else None
    for pointer in lotl.snapshot.pointers:
        if pointer.is_lotl:
            continue
        if wanted is not None and pointer.territory.upper() not in wanted:
            continue
        certs = [
            asn1_x509.Certificate.load(lotl.snapshot.certificates[d])
            for d in pointer.signers
            if d in lotl.snapshot.certificates
        ]
        try:
            if not certs:
                raise LtvError(f"the LOTL names no signer for {pointer.territory}'s list")
            result = store.import_list(
                _fetch(transport, pointer.location),
                source=pointer.location,
                now=now,
                expect="tl",
                signers=certs,
                territory=pointer.territory,
            )
        except LtvError as err:
            outcomes.append(
                UpdateOutcome(
                    territory=pointer.territory,
                    url=pointer.location,
                    snapshot_id=None,
                    added=False,
                    error=err.diagnostics(),
                )
            )
            continue
        outcomes.append(
            UpdateOutcome(
                territory=pointer.territory,
                url=pointer.location,
                snapshot_id=result.snapshot.id,
                added=result.added,
            )
        )
    return outcomes
