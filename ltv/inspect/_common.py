"""Small helpers shared by the inspect describers: plain-type conversions.

Everything here turns asn1crypto values into JSON-ready plain values (str, int,
bool, None, lists and dicts of those): times become ISO-8601 UTC strings ending
in ``Z``, byte strings and serial numbers become lowercase hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ltv.names import name_str

__all__ = ["name_str"]  # re-exported for the describers

Json = dict[str, Any]
"""A JSON object made only of plain types."""


def iso(value: Any) -> str | None:
    """Render an asn1crypto time (or a datetime) as ISO-8601 UTC ending in ``Z``.

    Naive datetimes (GeneralizedTime without a zone) are taken as UTC.
    Fractional seconds are kept only when present.
    """
    if value is None:
        return None
    native = value if isinstance(value, datetime) else getattr(value, "native", value)
    if native is None:
        return None
    if not isinstance(native, datetime):
        return str(native)
    moment: datetime = native
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    # (not strftime: glibc prints year 12 as "12", not RFC 3339's "0012")
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if moment.microsecond:
        return text + "." + f"{moment.microsecond:06d}".rstrip("0") + "Z"
    return text + "Z"


def hex_int(value: int | None) -> str | None:
    """Lowercase hex of an integer (a serial number, a nonce); ``-`` prefix if negative."""
    if value is None:
        return None
    if value < 0:
        return "-" + format(-value, "x")
    return format(value, "x")


def hex_bytes(value: bytes | None) -> str | None:
    """Lowercase hex of a byte string."""
    return None if value is None else value.hex()


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def general_name_str(gn: Any) -> str:
    """Render an asn1crypto ``GeneralName`` as text (a DN in RFC 4514 form, or a URI, ...)."""
    if gn.name == "directory_name":
        return name_str(gn.chosen)
    native = gn.chosen.native
    if isinstance(native, bytes):
        return f"{gn.name}:{native.hex()}"
    return f"{gn.name}:{native}"


MAX_ERROR_CHARS = 240
"""Error texts are cut to this length (asn1crypto can quote whole blobs in its messages)."""


def error_text(exc: BaseException) -> str:
    """One line describing an exception (type and collapsed message, cut if very long)."""
    msg = " ".join(str(exc).split())
    if len(msg) > MAX_ERROR_CHARS:
        msg = msg[: MAX_ERROR_CHARS - 1] + "…"
    name = type(exc).__name__
    return f"{name}: {msg}" if msg else name


def guarded(fn: Callable[[], Json], *, raw: bytes | None = None, what: str = "item") -> Json:
    """Run a describer; on any failure return an error item instead of raising.

    The error item has ``error`` (one line), plus ``sha256`` and ``bytes`` of
    the raw encoding when it is known, so a corrupt entry is still identifiable.
    """
    try:
        return fn()
    except Exception as exc:  # parsing untrusted input: any failure is data
        item: Json = {"error": f"unreadable {what}: {error_text(exc)}"}
        if raw is not None:
            item["sha256"] = sha256_hex(raw)
            item["bytes"] = len(raw)
        return item


def optional(fn: Callable[[], Any]) -> Any:
    """Evaluate ``fn``; return ``None`` if the value is absent or undecodable."""
    try:
        return fn()
    except Exception:  # an optional, decorative field: absent rather than fatal
        return None
