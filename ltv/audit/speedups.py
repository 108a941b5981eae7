"""A faster, equivalent reader for PDF hex strings in pyHanko (what ``examine`` spends most on).

pyHanko 0.38 reads a hex string (``<...>``) one token at a time: one ``read_non_whitespace``
call, i.e. one ``stream.read(1)`` and a generator step, per hex digit. A signature's /Contents
is such a string, usually 16-32 KiB of zeros: profiling ``examine`` on a typical B-LT/B-LTA
file puts ~40 % of its time there (``benchmarks/audit.py`` prints the profile).

:func:`read_hex_string_from_stream` finds the closing ``>`` with ``bytes.find``, drops PDF
whitespace with ``bytes.translate`` and decodes with :func:`binascii.unhexlify` — the result is
the very same object type and value, and the stream is left at the same position. Whenever the
input is anything but plain hex digits and whitespace (a comment ``%``, a character that is not
a hex digit, no ``>`` before the end of the stream), it seeks back and hands the string to
pyHanko's own reader, so errors and corner cases are pyHanko's, byte for byte
(``tests/unit/audit/test_speedups.py`` compares both on many generated inputs, then the audit
tests compare every stored report with ``ltv verify``'s).

:func:`install` patches ``pyhanko.pdf_utils.generic.read_hex_string_from_stream`` in the current
process (idempotent). ``ltv audit`` workers and the ``ltv verify`` command call it;
``LTV_NO_SPEEDUPS=1`` turns it off.
"""

from __future__ import annotations

import binascii
import os
from typing import Any

__all__ = ["install", "installed", "read_hex_string_from_stream"]

_WHITESPACE = b" \n\r\t\f\x00"  # pyhanko.pdf_utils.misc.PDF_WHITESPACE
_HEX = frozenset(b"0123456789abcdefABCDEF")
_CHUNK = 1 << 16
_original: Any = None


def read_hex_string_from_stream(stream: Any) -> Any:
    """pyHanko's ``read_hex_string_from_stream``, without a Python step per digit."""
    from pyhanko.pdf_utils import generic

    start = stream.tell()  # at the '<'
    stream.read(1)
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return _fallback(stream, start)  # no '>': pyHanko says how the stream ended
        end = chunk.find(b">")
        if end >= 0:
            parts.append(chunk[:end])
            body = b"".join(parts)
            stream.seek(start + 1 + len(body) + 1)  # just after the '>'
            break
        parts.append(chunk)
    digits = body.translate(None, _WHITESPACE)
    if b"%" in body or not _HEX.issuperset(digits):
        return _fallback(stream, start)  # a comment, or not a hex digit: pyHanko's own path
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def _fallback(stream: Any, start: int) -> Any:
    stream.seek(start)
    return _original(stream)


def installed() -> bool:
    from pyhanko.pdf_utils import generic

    return generic.read_hex_string_from_stream is read_hex_string_from_stream


def install() -> bool:
    """Use the fast reader in this process; False when disabled (``LTV_NO_SPEEDUPS``)."""
    global _original
    if os.environ.get("LTV_NO_SPEEDUPS"):
        return False
    from pyhanko.pdf_utils import generic

    if generic.read_hex_string_from_stream is not read_hex_string_from_stream:
        _original = generic.read_hex_string_from_stream
        generic.read_hex_string_from_stream = read_hex_string_from_stream
    return True
