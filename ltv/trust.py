"""Trust anchors: explicit ones only.

A :class:`TrustStore` holds the DER of every anchor the user named (PEM or DER files, or
directories of them). There is no fallback to the operating system's TLS trust list: an empty
store is a :class:`~ltv.errors.TrustError` (exit 2), never "trust everything". (pyHanko's
``ValidationContext`` silently falls back to the OS list when given no roots — TOOLCHAIN.md.)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ltv.errors import TrustError

if TYPE_CHECKING:
    from asn1crypto import x509

__all__ = ["TrustStore"]

_PEM_RE = re.compile(
    rb"-----BEGIN (?:TRUSTED )?CERTIFICATE-----(.+?)-----END (?:TRUSTED )?CERTIFICATE-----",
    re.DOTALL,
)
_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der"}


def _parse_certificates(data: bytes, origin: str) -> list[bytes]:
    import base64
    import binascii

    from asn1crypto import x509

    ders: list[bytes] = []
    if b"-----BEGIN" in data:
        for match in _PEM_RE.finditer(data):
            try:
                ders.append(base64.b64decode(b"".join(match.group(1).split()), validate=True))
            except (binascii.Error, ValueError) as err:
                raise TrustError(f"{origin}: bad PEM certificate block: {err}") from err
    else:
        ders.append(data)
    for der in ders:
        try:
            x509.Certificate.load(der).native  # noqa: B018 - forces a full parse
        except (ValueError, TypeError, OSError) as err:
            raise TrustError(
                f"{origin}: not an X.509 certificate ({err})",
                hint="give PEM or DER certificate files, or a directory of them",
            ) from err
    return ders


@dataclass(frozen=True)
class TrustStore:
    """An immutable, non-empty set of explicitly named trust anchors (DER)."""

    certificates: tuple[bytes, ...]
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.certificates:
            raise TrustError(
                "no trust anchors given",
                hint="pass --trust PEM|DIR (ltv never falls back to the system trust list)",
            )

    @classmethod
    def from_der(cls, ders: Iterable[bytes], *, source: str = "memory") -> TrustStore:
        unique = tuple(dict.fromkeys(ders))
        return cls(unique, (source,))

    @classmethod
    def from_paths(cls, paths: Sequence[str | Path]) -> TrustStore:
        """Load every certificate in the given files and directories (non-recursive)."""
        ders: list[bytes] = []
        sources: list[str] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files = sorted(
                    p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _CERT_SUFFIXES
                )
                if not files:
                    raise TrustError(f"{path}: directory holds no certificate files")
            elif path.is_file():
                files = [path]
            else:
                raise TrustError(f"{path}: no such trust anchor file or directory")
            for file in files:
                try:
                    data = file.read_bytes()
                except OSError as err:
                    raise TrustError(f"{file}: cannot read: {err.strerror}") from err
                ders.extend(_parse_certificates(data, str(file)))
                sources.append(str(file))
        return cls(tuple(dict.fromkeys(ders)), tuple(sources))

    @classmethod
    def from_dir(cls, path: str | Path) -> TrustStore:
        return cls.from_paths([path])

    @classmethod
    def from_file(cls, path: str | Path) -> TrustStore:
        return cls.from_paths([path])

    def merged(self, other: TrustStore) -> TrustStore:
        return TrustStore(
            tuple(dict.fromkeys(self.certificates + other.certificates)),
            self.sources + other.sources,
        )

    def asn1(self) -> list[x509.Certificate]:
        """The anchors as asn1crypto certificates (what pyHanko consumes)."""
        from asn1crypto import x509

        return [x509.Certificate.load(der) for der in self.certificates]

    def fingerprints(self) -> frozenset[str]:
        return frozenset(hashlib.sha256(der).hexdigest() for der in self.certificates)

    def __len__(self) -> int:
        return len(self.certificates)
