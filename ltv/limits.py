"""Resource limits as policy: every declared size, count and depth checked before anything is
allocated for it.

A PDF declares sizes it does not have to honour: an xref stream may declare 10⁹ entries in a
few bytes, and pyHanko's lenient reader (``strict=False``, which real-world files need) yields
an entry for each declared row, data or not (≈ 250 bytes and 4 µs per entry, measured: 6.6 GB
and minutes for a 107 kB file). ltv therefore checks the input *before* the reader sees it,
with cheap scans of the raw bytes (no second PDF parser: regular expressions over keywords
whose meaning does not depend on context), and hands pyHanko's own stream-decoding limits
(``pyhanko.pdf_utils.decode_limits``, 0.38+) the policy's values for what only decoding
reveals (zlib bombs). Each limit has a default here, a key in the policy's ``[limits]`` table
(``schemas/policy.schema.json``), and one clear error naming it when hit:

=========================  ==============  ====================================================
key                        default         what
=========================  ==============  ====================================================
max_input_bytes            2 GiB           size of one input file
max_objects                2,000,000       entries an xref section declares; also never more
                                           than the file has bytes (no object takes 0 bytes)
max_revisions              1,000           cross-reference sections (incremental updates)
max_signatures             500             signature dictionaries (``/ByteRange``)
max_depth                  100             nesting of arrays and dictionaries
max_stream_bytes           256 MiB         decoded size of one stream
max_decompression_ratio    1100            decoded / encoded size of a stream (above 1 MiB;
                                           one Deflate layer tops out at ≈ 1032:1)
max_ocsp_bytes             4 MiB           one embedded OCSP response
max_crl_bytes              64 MiB          one embedded CRL
=========================  ==============  ====================================================

A file over one of the document limits is *not evaluated* (:class:`LimitError`, an
:class:`~ltv.errors.InputError`: exit 4 with the message); an evidence item over its limit is
ignored with a warning (:func:`screen_evidence`), and the signature is judged on the rest.
Fetched responses are bounded by the HTTP client (``ltv.evidence.http``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from ltv.errors import InputError

if TYPE_CHECKING:
    from pyhanko.pdf_utils.decode_limits import DecodeLimits
    from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = [
    "DEFAULT_LIMITS",
    "LimitError",
    "Limits",
    "check_pdf",
    "limits_from_mapping",
    "open_reader",
    "screen_evidence",
]

MiB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Resource limits (see the module docstring for what each one bounds)."""

    max_input_bytes: int = 2048 * MiB
    max_objects: int = 2_000_000
    max_revisions: int = 1_000
    max_signatures: int = 500
    max_depth: int = 100
    max_stream_bytes: int = 256 * MiB
    max_decompression_ratio: float = 1100.0
    max_ocsp_bytes: int = 4 * MiB
    max_crl_bytes: int = 64 * MiB

    def decode_limits(self) -> DecodeLimits:
        """pyHanko's stream-decoding limits with this policy's values."""
        from pyhanko.pdf_utils.decode_limits import (
            DEFAULT_PURPOSE_LIMITS,
            DecodeLimits,
            DecodePurpose,
            StreamDecodeLimits,
        )

        per_purpose = dict(DEFAULT_PURPOSE_LIMITS)
        per_purpose[DecodePurpose.OCSP_RESPONSE] = StreamDecodeLimits(
            max_ratio=None, max_output_size=self.max_ocsp_bytes
        )
        per_purpose[DecodePurpose.CRL] = replace(
            per_purpose[DecodePurpose.CRL], max_output_size=self.max_crl_bytes
        )
        return DecodeLimits(
            per_stream=StreamDecodeLimits(
                max_ratio=self.max_decompression_ratio, max_output_size=self.max_stream_bytes
            ),
            per_purpose=per_purpose,
        )


DEFAULT_LIMITS = Limits()


class LimitError(InputError):
    """An input exceeds a resource limit of the policy; ``limit`` names it."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(
            f"could not be evaluated: {message} (limit {limit})",
            hint=f"raise [limits] {limit} in the policy if the file is trusted",
        )
        self.limit = limit


# -- the raw scan ------------------------------------------------------------------------------

_XREF_TABLE = re.compile(rb"xref\s+\d+\s+\d+")  # ("startxref" is followed by one number)
_OBJ_HEADER = re.compile(rb"\d+\s+\d+\s+obj\b")
_INT = rb"\s+(\d{1,30})(?!\d)"  # a name ends at whitespace: "/Length1" is another key
_SIZE = re.compile(rb"/Size" + _INT)
_W = re.compile(rb"/W\s*\[\s*(\d{1,30})\s+(\d{1,30})\s+(\d{1,30})\s*\]")
_INDEX = re.compile(rb"/Index\s*\[([\d\s]{0,4000})\]")
_LENGTH = re.compile(rb"/Length" + _INT + rb"(?!\s+\d+\s+R)")
_DICT_WINDOW = 4096
"""How far around ``/Type /XRef`` its dictionary is looked for (they are a few hundred bytes)."""


def _runs(depth: int) -> tuple[bytes, ...]:
    """Literal runs of ``depth`` openers (found with ``bytes.find``, ≈ 1 GB/s): the shapes a
    nesting attack takes. Other shapes (tokens between the brackets) are stopped by the
    parser's own stack bound, reported as the same limit (:func:`depth_exceeded`)."""
    return tuple(opener * depth for opener in (b"[", b"<<", b"[ ", b"<< "))


def _xref_dict(buf: Any, at: int) -> bytes:
    """The text of the dictionary holding ``/Type /XRef`` at ``at``: from its object header
    (or ``<<``) before, up to ``stream`` after."""
    start = max(0, at - _DICT_WINDOW)
    before = bytes(buf[start:at])
    headers = list(_OBJ_HEADER.finditer(before))
    if headers:
        begin = start + headers[-1].end()
    else:
        begin = at - len(before.rsplit(b"<<", 1)[-1])
    after = bytes(buf[at : at + _DICT_WINDOW])
    end = after.find(b"stream")
    return bytes(buf[begin:at]) + (after[:end] if end >= 0 else after)


def _declared_entries(text: bytes) -> int | None:
    """Rows an xref stream dictionary declares: the sum of its /Index counts, else /Size."""
    biggest: int | None = None
    for m in _INDEX.finditer(text):
        numbers = [int(n) for n in m.group(1).split()]
        total = sum(numbers[1::2])
        biggest = total if biggest is None else max(biggest, total)
    if biggest is not None:
        return biggest
    sizes = [int(m.group(1)) for m in _SIZE.finditer(text)]
    return max(sizes) if sizes else None


_KEYS = re.compile(rb"/(Size|Length|ByteRange|Type\s*/XRef)\b(?:\s+(\d{1,30})(?!\d))?")
"""One pass over the file for every keyed item (``/Length1`` etc. are other keys: no ``\b``)."""
_REF_AFTER = re.compile(rb"\s+\d+\s+R")


def _check_xref_stream(buf: Any, at: int, size: int, limits: Limits, base: int = 0) -> None:
    text = _xref_dict(buf, at)
    at += base  # absolute offset, for the messages
    entries = _declared_entries(text)
    if entries is None:
        return
    widths = [int(g) for w in _W.finditer(text) for g in w.groups()]
    if any(w > 8 for w in widths):
        raise LimitError(
            "max_objects",
            f"xref stream at offset {at} declares a field width of {max(widths)} bytes "
            "(at most 8 make sense)",
        )
    if entries > limits.max_objects:
        raise LimitError(
            "max_objects",
            f"xref stream at offset {at} declares {entries} entries, more than "
            f"{limits.max_objects}",
        )
    if entries > size:
        raise LimitError(
            "max_objects",
            f"xref stream at offset {at} declares {entries} entries, more than the file has "
            f"bytes ({size})",
        )
    lengths = [int(g.group(1)) for g in _LENGTH.finditer(text)]
    encoded = min([size, *lengths])
    row = max(1, sum(widths[:3]) if widths else 1)
    if entries * row > max(MiB, limits.max_decompression_ratio * encoded):
        raise LimitError(
            "max_decompression_ratio",
            f"xref stream at offset {at} declares {entries} rows of {row} bytes from {encoded} "
            "encoded bytes",
        )


@dataclass
class _Tally:
    sections: int = 0
    signatures: int = 0


def _scan(
    buf: Any, size: int, limits: Limits, *, base: int = 0, own: tuple[int, int] | None = None,
    tally: _Tally | None = None,
) -> _Tally:  # fmt: skip
    """Check one window of the file: ``buf`` holds the bytes from offset ``base``; only matches
    starting inside ``own`` (local positions; default: all of ``buf``) count, the rest of the
    window is context (an xref dictionary around ``/Type /XRef``, a run across a boundary)."""
    lo, hi = own if own is not None else (0, len(buf))
    tally = tally or _Tally()
    for m in _KEYS.finditer(buf, lo):
        if m.start() >= hi:
            break
        key, number = m.group(1), m.group(2)
        if key == b"ByteRange":
            tally.signatures += 1
        elif key.startswith(b"Type"):
            # (1) declared xref entries vs. the policy and vs. what the file can hold
            tally.sections += 1
            _check_xref_stream(buf, m.start(), size, limits, base)
        elif number is None:
            continue
        elif key == b"Size" and int(number) > limits.max_objects:
            raise LimitError(
                "max_objects",
                f"a trailer at offset {base + m.start()} declares /Size {int(number)}, more "
                f"than {limits.max_objects}",
            )
        elif key == b"Length" and int(number) > size and not _REF_AFTER.match(buf, m.end()):
            # (3) a stream cannot be longer than the file
            raise LimitError(
                "max_stream_bytes",
                f"a stream at offset {base + m.start()} declares /Length {int(number)}, beyond "
                f"the end of the file ({size} bytes)",
            )
    # (2) revisions, signatures
    tally.sections += sum(1 for m in _XREF_TABLE.finditer(buf, lo) if m.start() < hi)
    if tally.sections > limits.max_revisions:
        raise LimitError(
            "max_revisions",
            f"{tally.sections} cross-reference sections, more than {limits.max_revisions}",
        )
    if tally.signatures > limits.max_signatures:
        raise LimitError(
            "max_signatures",
            f"{tally.signatures} signature dictionaries, more than {limits.max_signatures}",
        )
    # (4) nesting depth (a recursive parser's stack)
    for run in _runs(limits.max_depth + 1):
        at = buf.find(run, lo)
        if 0 <= at < hi:
            raise LimitError(
                "max_depth",
                f"arrays/dictionaries nested more than {limits.max_depth} deep at offset "
                f"{base + at}",
            )
    return tally


_WINDOW = 8 * MiB
_CONTEXT = 2 * _DICT_WINDOW + 4096
"""Bytes read on each side of a window (xref dictionaries, runs across a boundary)."""


def _windows(data: bytes | BinaryIO) -> Iterator[tuple[Any, int, tuple[int, int], int]]:
    """``(bytes, base offset, own range, file size)`` per window: the whole of a bytes input
    at once, a file in windows of 8 MiB read with context (never the whole file in memory: the
    scan of a 1 GB file stays at about 8 MiB)."""
    if isinstance(data, bytes | bytearray | memoryview):
        yield data, 0, (0, len(data)), len(data)
        return
    pos = data.tell()
    size = data.seek(0, 2)
    try:
        for start in range(0, max(size, 1), _WINDOW):
            base = max(0, start - _CONTEXT)
            data.seek(base)
            chunk = data.read(min(size, start + _WINDOW + _CONTEXT) - base)
            own = (start - base, min(len(chunk), start - base + _WINDOW))
            yield chunk, base, own, size
    finally:
        data.seek(pos)


def _file_size(data: bytes | BinaryIO) -> int:
    if isinstance(data, bytes | bytearray | memoryview):
        return len(data)
    pos = data.tell()
    try:
        return data.seek(0, 2)
    finally:
        data.seek(pos)


def check_pdf(data: bytes | BinaryIO, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check a PDF's declared sizes, counts and depths against ``limits`` before parsing.

    Linear in the file size (regular expressions over the raw bytes; a file is read in windows,
    never held whole). :raises LimitError: naming the first limit exceeded.
    """
    size = _file_size(data)
    if size > limits.max_input_bytes:
        raise LimitError(
            "max_input_bytes", f"the file has {size} bytes, more than {limits.max_input_bytes}"
        )
    tally = _Tally()
    for buf, base, own, total in _windows(data):
        _scan(buf, total, limits, base=base, own=own, tally=tally)


def open_reader(data: bytes | BinaryIO, limits: Limits = DEFAULT_LIMITS) -> PdfFileReader:
    """:func:`check_pdf`, then pyHanko's lenient reader with the policy's decoding limits.

    A structure nested deeper than Python's stack (which a raw scan can miss when other tokens
    sit between the brackets) is reported as the ``max_depth`` limit, not as a crash.
    """
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    check_pdf(data, limits)
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        return PdfFileReader(stream, strict=False, decode_limits=limits.decode_limits())
    except RecursionError:
        raise depth_exceeded() from None


def depth_exceeded() -> LimitError:
    """The error for a RecursionError met while reading a PDF's objects."""
    return LimitError("max_depth", "objects nested deeper than the parser can follow")


# -- evidence ----------------------------------------------------------------------------------


def screen_evidence(kind: str, der: bytes, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Why an embedded OCSP response (``kind="ocsp"``) or CRL (``"crl"``) says nothing about
    any certificate — too large, or not decodable — or ``None`` when it is usable evidence.

    The caller ignores such an item with a warning and judges the signature on the rest.
    """
    if kind == "ocsp":
        if len(der) > limits.max_ocsp_bytes:
            return f"{len(der)} bytes, more than the limit max_ocsp_bytes ({limits.max_ocsp_bytes})"
        from ltv.evidence.ocsp import response_problem

        return response_problem(der)
    if len(der) > limits.max_crl_bytes:
        return f"{len(der)} bytes, more than the limit max_crl_bytes ({limits.max_crl_bytes})"
    from ltv.evidence.crl import CrlIndex

    try:
        CrlIndex(der)
    except ValueError as err:
        return " ".join(str(err).split())[:200]
    return None


# -- policy ------------------------------------------------------------------------------------

LIMIT_KEYS = tuple(f.name for f in fields(Limits))


def limits_from_mapping(data: dict[str, Any], base: Limits = DEFAULT_LIMITS) -> Limits:
    """The ``[limits]`` table of a policy (unknown keys and bad values: ValueError)."""
    unknown = sorted(set(data) - set(LIMIT_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for key, value in data.items():
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        if key != "max_decompression_ratio":
            ok = ok and isinstance(value, int)
        if not ok:
            kind = "a positive number" if key == "max_decompression_ratio" else "a positive integer"
            raise ValueError(f"{key}: {kind}")
        changes[key] = value
    return replace(base, **changes)
