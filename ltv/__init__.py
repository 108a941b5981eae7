"""ltv: long-term validation of signed PDFs with stapled evidence.

Everything a caller handles is importable from here (lazily: ``import ltv`` stays cheap).

>>> import ltv
>>> sorted(set(ltv.__all__) - set(dir(ltv)))
[]
>>> ltv.SigningPolicy(level="B-B").level
<PadesLevel.B_B: 'B-B'>
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CacheEntry",
    "EvidenceCache",
    "ExtendResult",
    "Extender",
    "HttpClient",
    "Indication",
    "InputError",
    "Level",
    "LtvError",
    "NetworkError",
    "NoNetwork",
    "Online",
    "PadesLevel",
    "PolicyError",
    "Report",
    "RevocationState",
    "Session",
    "SignResult",
    "Signer",
    "SigningError",
    "SigningPolicy",
    "SubIndication",
    "Transport",
    "TrustError",
    "TrustStore",
    "UsageError",
    "ValidationPolicy",
    "Verifier",
    "VisibleSignature",
    "__version__",
]

if TYPE_CHECKING:
    from ltv.errors import (
        InputError,
        LtvError,
        NetworkError,
        PolicyError,
        SigningError,
        TrustError,
        UsageError,
    )
    from ltv.evidence.cache import CacheEntry, EvidenceCache
    from ltv.evidence.http import HttpClient, NoNetwork, Session, Transport
    from ltv.extend import Extender, ExtendResult
    from ltv.policy import Online, ValidationPolicy
    from ltv.report import Indication, Level, Report, RevocationState, SubIndication
    from ltv.sign import PadesLevel, Signer, SigningPolicy, SignResult, VisibleSignature
    from ltv.trust import TrustStore
    from ltv.verify import Verifier

_LAZY = {
    "Online": "ltv.policy",
    "ValidationPolicy": "ltv.policy",
    "Indication": "ltv.report",
    "Level": "ltv.report",
    "Report": "ltv.report",
    "RevocationState": "ltv.report",
    "SubIndication": "ltv.report",
    "TrustStore": "ltv.trust",
    "Verifier": "ltv.verify",
    # signing side
    "CacheEntry": "ltv.evidence.cache",
    "EvidenceCache": "ltv.evidence.cache",
    "ExtendResult": "ltv.extend",
    "Extender": "ltv.extend",
    "HttpClient": "ltv.evidence.http",
    "NoNetwork": "ltv.evidence.http",
    "PadesLevel": "ltv.sign",
    "Session": "ltv.evidence.http",
    "SignResult": "ltv.sign",
    "Signer": "ltv.sign",
    "SigningPolicy": "ltv.sign",
    "Transport": "ltv.evidence.http",
    "VisibleSignature": "ltv.sign",
    # errors
    "InputError": "ltv.errors",
    "LtvError": "ltv.errors",
    "NetworkError": "ltv.errors",
    "PolicyError": "ltv.errors",
    "SigningError": "ltv.errors",
    "TrustError": "ltv.errors",
    "UsageError": "ltv.errors",
}


def __getattr__(name: str) -> Any:
    """Lazy exports: ``import ltv`` stays cheap (the CLI imports pyHanko only when needed)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ltv' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
