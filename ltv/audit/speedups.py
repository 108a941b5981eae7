"""Faster, equivalent readers for PDF hex strings, names and bare tokens in pyHanko (what
``examine`` spends most on).

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

Names and bare tokens (``true``, numbers' neighbours, a name's body) are read by pyHanko one
byte per generator step too: :func:`read_until_delimiter` matches the run of regular characters
in one peek and seeks back exactly where pyHanko's loop stops, and :func:`decode_name` skips the
per-byte escape decoding for names that have none; both hand anything else to pyHanko.

RFC 4518 string preparation (asn1crypto, for RFC 5280 name comparison) is memoised by
:func:`ldap_string_prep`: pyHanko's signing-certificate check compares a freshly parsed name with
the certificate's on every signature. That check itself (``pyhanko.sign.general``'s
``match_issuer_serial``, which ``check_ess_certid`` calls for every signature and timestamp
inside pyHanko's integrity validation) is replaced by ``ltv.evidence._crypto``'s
:func:`~ltv.evidence._crypto.issuer_serial_matches`: the same answer with the serial numbers
compared before the names (``tests/unit/test_fast_match.py``); it differs only where pyHanko
would raise on an identifier it cannot decode after serials that already differ (a mismatch).

:func:`install` patches ``read_hex_string_from_stream``, ``read_until_delimiter`` and
``_decode_name`` in ``pyhanko.pdf_utils.generic``, ``NameTypeAndValue._ldap_string_prep`` in
``asn1crypto.x509`` and ``match_issuer_serial`` in ``pyhanko.sign.general``, in the current
process (idempotent).
``ltv audit`` workers, the ``ltv verify`` command and the sample signing service
(``samples/signing_server.py``, which re-reads every document it signs) call it;
``LTV_NO_SPEEDUPS=1`` turns it off.
"""

from __future__ import annotations

import binascii
import os
import re
from typing import Any

__all__ = [
    "decode_name",
    "install",
    "installed",
    "ldap_string_prep",
    "read_hex_string_from_stream",
    "read_until_delimiter",
]

_WHITESPACE = b" \n\r\t\f\x00"  # pyhanko.pdf_utils.misc.PDF_WHITESPACE
_DELIMITERS = b"()<>[]{}/%"  # pyhanko.pdf_utils.misc.PDF_DELIMITERS
_HEX = frozenset(b"0123456789abcdefABCDEF")
_CHUNK = 1 << 16
_original: Any = None
_original_until_delimiter: Any = None
_original_decode_name: Any = None
_original_ldap_prep: Any = None
_original_match: Any = None
_PREPARED: dict[str, str] = {}

_REGULAR = re.compile(
    b"[^" + b"".join(re.escape(bytes((c,))) for c in _WHITESPACE + _DELIMITERS) + b"]*"
)
"""A run of regular characters (ISO 32000-1 §7.2.2: neither white-space nor delimiter)."""
_TOKEN_PEEK = 256
_PLAIN_NAME = re.compile(
    b"[" + b"".join(
        re.escape(bytes((c,))) for c in range(0x21, 0x7F) if c not in _DELIMITERS + b"#"
    ) + b"]*"
)  # fmt: skip
"""A name body that needs no decoding: printable ASCII, no delimiter, no ``#`` escape."""


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


def read_until_delimiter(stream: Any) -> bytes:
    """pyHanko's ``misc.read_until_delimiter`` (the bytes up to the next white-space or
    delimiter, the stream left *at* that character, or at the end), one ``read`` instead of
    one per byte. A token longer than the peek goes to pyHanko's own loop."""
    start = stream.tell()
    chunk = stream.read(_TOKEN_PEEK)
    match = _REGULAR.match(chunk)
    end = match.end() if match else 0
    if end < len(chunk):  # stopped at a delimiter: leave the stream on it
        stream.seek(start + end)
        return bytes(chunk[:end])
    if len(chunk) < _TOKEN_PEEK:  # the stream ended inside the token: stay at the end
        return bytes(chunk)
    stream.seek(start)
    return bytes(_original_until_delimiter(stream))


def decode_name(name_bytes: bytes) -> Any:
    """pyHanko's ``generic._decode_name`` for the common case — a name of printable ASCII
    without escapes, whose decoding is the identity; anything else is pyHanko's."""
    if _PLAIN_NAME.fullmatch(name_bytes):
        from pyhanko.pdf_utils import generic

        return generic.NameObject("/" + name_bytes.decode("ascii"))
    return _original_decode_name(name_bytes)


def ldap_string_prep(self: Any, string: Any) -> Any:
    """asn1crypto's ``NameTypeAndValue._ldap_string_prep`` (RFC 4518 preparation, a pure
    function of the string), memoised: every name comparison prepares every attribute of both
    names again, and pyHanko's signing-certificate check reloads its side each time. Short
    strings only (at most 4,096 of up to 256 characters); errors are not remembered."""
    if type(string) is str and len(string) <= 256:
        prepared = _PREPARED.get(string)
        if prepared is None:
            prepared = _original_ldap_prep(self, string)
            if len(_PREPARED) >= 4096:
                _PREPARED.clear()
            _PREPARED[string] = prepared
        return prepared
    return _original_ldap_prep(self, string)


def _fallback(stream: Any, start: int) -> Any:
    stream.seek(start)
    return _original(stream)


def installed() -> bool:
    from asn1crypto import x509
    from pyhanko.pdf_utils import generic as _generic

    generic: Any = _generic
    return (
        generic.read_hex_string_from_stream is read_hex_string_from_stream
        and generic.read_until_delimiter is read_until_delimiter
        and generic._decode_name is decode_name
        and x509.NameTypeAndValue._ldap_string_prep is ldap_string_prep
        and _match_installed()
    )


def _match_installed() -> bool:
    from pyhanko.sign import general

    from ltv.evidence._crypto import issuer_serial_matches

    return general.match_issuer_serial is issuer_serial_matches


def install() -> bool:
    """Use the fast reader in this process; False when disabled (``LTV_NO_SPEEDUPS``)."""
    global _original, _original_until_delimiter, _original_decode_name, _original_ldap_prep
    global _original_match
    if os.environ.get("LTV_NO_SPEEDUPS"):
        return False
    from asn1crypto import x509
    from pyhanko.pdf_utils import generic as _generic
    from pyhanko.sign import general

    from ltv.evidence._crypto import issuer_serial_matches

    generic: Any = _generic
    if generic.read_hex_string_from_stream is not read_hex_string_from_stream:
        _original = generic.read_hex_string_from_stream
        generic.read_hex_string_from_stream = read_hex_string_from_stream
    if generic.read_until_delimiter is not read_until_delimiter:
        _original_until_delimiter = generic.read_until_delimiter
        generic.read_until_delimiter = read_until_delimiter
    if generic._decode_name is not decode_name:
        _original_decode_name = generic._decode_name
        generic._decode_name = decode_name
    if x509.NameTypeAndValue._ldap_string_prep is not ldap_string_prep:
        _original_ldap_prep = x509.NameTypeAndValue._ldap_string_prep
        x509.NameTypeAndValue._ldap_string_prep = ldap_string_prep
    general_module: Any = general  # (parameter names differ: called positionally)
    if general_module.match_issuer_serial is not issuer_serial_matches:
        _original_match = general_module.match_issuer_serial
        general_module.match_issuer_serial = issuer_serial_matches
    return True
