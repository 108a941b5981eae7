"""Trust anchors: explicit ones only.

A :class:`TrustStore` holds the DER of every anchor the user named (PEM or DER files, PKCS#7
bundles ``.p7b``/``.p7c``, or directories of them). There is no fallback to the operating
system's TLS trust list: an empty store is a :class:`~ltv.errors.TrustError` (exit 2), never
"trust everything". (pyHanko's ``ValidationContext`` silently falls back to the OS list when
given no roots — TOOLCHAIN.md.)
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

__all__ = ["TrustStore", "load_certificates"]

_PEM_BLOCK_RE = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----(.+?)-----END \1-----",
    re.DOTALL,
)
_CERT_LABELS = {b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE"}
_PKCS7_LABELS = {b"PKCS7", b"CMS"}
_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der", ".p7b", ".p7c"}
_HINT = "give PEM or DER certificates, or PKCS#7 bundles (.p7b/.p7c), or a directory of them"


def load_certificates(data: bytes, origin: str) -> list[bytes]:
    """Every X.509 certificate in ``data`` (DER each), whatever the container: PEM (one or
    more ``CERTIFICATE`` / ``PKCS7`` blocks), DER certificate, or DER PKCS#7 bundle
    (``.p7b``/``.p7c``) — parsed by ltv's one certificate loader (:mod:`ltv.certs`), with what
    a user hands ``--trust`` by mistake named. Every failure is a :class:`TrustError` naming
    ``origin``."""
    from ltv.certs import parse_certificates
    from ltv.errors import InputError

    stripped = data.lstrip()
    if stripped.startswith(b"<"):
        what = "an XML document"
        if b"TrustServiceStatusList" in data[:4096]:
            what = "a trusted list (ETSI TS 119 612)"
        raise TrustError(
            f"{origin}: {what}, not a certificate",
            hint="import trusted lists with 'ltv trust import-lotl|import-tl' and verify with "
            "--trust-store",
        )
    if not data.strip():
        raise TrustError(f"{origin}: empty file, holds no certificate", hint=_HINT)
    if b"-----BEGIN" in data:
        labels = {m.group(1).strip() for m in _PEM_BLOCK_RE.finditer(data)}
        if not labels & (_CERT_LABELS | _PKCS7_LABELS):
            found = ", ".join(sorted(label.decode().lower() for label in labels))
            raise TrustError(
                f"{origin}: holds no certificate" + (f" (only: {found})" if found else ""),
                hint=_HINT,
            )
    try:
        return [cert.dump() for cert in parse_certificates(data, origin=origin)]
    except InputError as err:
        raise TrustError(err.message, hint=_HINT) from err


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
                ders.extend(load_certificates(data, str(file)))
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
