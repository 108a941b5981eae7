"""Content no cross-reference section explains: what a *repairing* viewer would show instead.

A strict reader (pyHanko, and ltv on top of it) sees a PDF through its cross-reference sections.
Many viewers, on a file they think damaged, rebuild the structure by scanning for ``N G obj``
headers and take the *last* definition of each object. Incremental-saving attacks exploit the
gap: objects appended with no cross-reference section (or before a copied ``startxref``/``%%EOF``)
are invisible to the strict reader — the signature covers "the last revision", no change is
found — while a repairing viewer shows the appended content. Two checks close it:

- bytes after the end of the last revision (the ``%%EOF`` after its cross-reference section)
  other than whitespace, NULs and comments;
- an object whose last ``N G obj`` header in the file lies *after* the definition the
  cross-reference sections resolve it to.

Either is reported as a change no rule explains (class ``other``): the verdict cannot be
TOTAL-PASSED. The scan streams through the file in chunks (no full copy in memory).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from ltv.pipeline.repair import ScanIndex

__all__ = ["find_headers", "scan_headers", "unexplained_content"]

_CHUNK = 8 << 20
_OVERLAP = 64
_TRAILING_OK = re.compile(rb"(?:[ \t\r\n\f\0]+|%[^\r\n]*)*")


_BEFORE_OBJ = re.compile(rb"(?<![0-9])(\d{1,10})[ \t\r\n\f\0]+(\d{1,5})[ \t\r\n\f\0]+\Z")


def find_headers(data: bytes, base: int = 0) -> list[tuple[int, int, int]]:
    """``(number, generation, offset)`` of every ``N G obj`` header in ``data`` (``base``: the
    offset of ``data`` in the file). Looks for the keyword with ``bytes.find`` and reads the
    numbers before it, so binary stream data costs one C-speed search, not a regex per digit."""
    out: list[tuple[int, int, int]] = []
    pos = data.find(b"obj")
    while pos >= 0:
        after = data[pos + 3 : pos + 4]
        if not after or not after.isalpha():
            m = _BEFORE_OBJ.search(data, max(0, pos - 40), pos)
            if m is not None:
                out.append((int(m.group(1)), int(m.group(2)), base + m.start()))
        pos = data.find(b"obj", pos + 3)
    return out


def scan_headers(stream: BinaryIO) -> dict[tuple[int, int], int]:
    """(number, generation) → offset of its *last* ``N G obj`` header in the file."""
    last: dict[tuple[int, int], int] = {}
    stream.seek(0)
    base = 0
    carry = b""
    while True:
        chunk = stream.read(_CHUNK)
        data = carry + chunk
        start = base - len(carry)
        # a header cut by the chunk boundary is found again in the next round (the overlap)
        limit = len(data) - (_OVERLAP if chunk else 0)
        for idnum, generation, offset in find_headers(data, start):
            if offset - start < limit:
                last[(idnum, generation)] = offset
        if not chunk:
            break
        base += len(chunk)
        carry = data[limit:] if limit > 0 else data
    return last


def _last_revision_end(stream: BinaryIO, reader: Any) -> int | None:
    """Offset just after the ``%%EOF`` that closes the newest cross-reference section."""
    xrefs = reader.xrefs
    meta = xrefs.get_xref_container_info(xrefs.total_revisions - 1)
    pos = int(meta.end_location)
    stream.seek(pos)
    tail = b""
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            return None
        tail = tail[-8:] + chunk
        found = tail.find(b"%%EOF")
        if found >= 0:
            return pos - (len(tail) - len(chunk)) + found + 5
        pos += len(chunk)


def _resolved_offset(reader: Any, ref: Any, index: ScanIndex | None) -> int | None:
    """Where the cross-reference sections put the object in use (an object stream's own
    offset for a compressed object); None when it is free or unknown."""
    from pyhanko.pdf_utils.xref import ObjStreamRef

    try:
        marker = reader.xrefs[ref]
    except (KeyError, ValueError, TypeError):
        return None
    if isinstance(marker, ObjStreamRef):
        from pyhanko.pdf_utils import generic

        return _resolved_offset(reader, generic.Reference(marker.obj_stream_id, 0), index)
    if not isinstance(marker, int) or isinstance(marker, bool):
        return None
    if index is not None:  # a damaged table: the object is where the scan found it
        nearest = index.nearest_object(ref.idnum, ref.generation, marker)
        return nearest if nearest is not None else marker
    return int(marker)


def unexplained_content(stream: BinaryIO, reader: Any, index: ScanIndex | None = None) -> list[str]:
    """What a repairing viewer would read that the cross-reference sections do not explain."""
    from pyhanko.pdf_utils import generic

    findings: list[str] = []
    end = _last_revision_end(stream, reader)
    stream.seek(0, 2)
    size = stream.tell()
    if end is not None and end < size:
        stream.seek(end)
        rest = stream.read(min(size - end, 1 << 20))
        m = _TRAILING_OK.match(rest)
        if m is None or m.end() < len(rest) or size - end > len(rest):
            findings.append(
                f"{size - end} bytes after the end of the last revision (byte {end}) that no "
                "cross-reference section covers: a viewer that repairs the file may show them"
            )
    overrides: list[str] = []
    for (idnum, generation), offset in scan_headers(stream).items():
        in_use = _resolved_offset(reader, generic.Reference(idnum, generation), index)
        if in_use is not None and offset > in_use:
            overrides.append(f"{idnum} {generation} at byte {offset} (in use: byte {in_use})")
    if overrides:
        shown = ", ".join(overrides[:5]) + (
            f" and {len(overrides) - 5} more" if len(overrides) > 5 else ""
        )
        findings.append(
            "objects defined again after the definition the cross-reference sections use "
            f"(a viewer that repairs the file would show them): {shown}"
        )
    return findings
