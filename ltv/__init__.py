"""ltv: long-term validation of signed PDFs with stapled evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Extender",
    "Indication",
    "Online",
    "PadesLevel",
    "Report",
    "Signer",
    "SigningPolicy",
    "SubIndication",
    "TrustStore",
    "ValidationPolicy",
    "Verifier",
    "__version__",
]

if TYPE_CHECKING:
    from ltv.policy import Online, ValidationPolicy
    from ltv.report import Indication, Report, SubIndication
    from ltv.sign import Extender, PadesLevel, Signer, SigningPolicy
    from ltv.trust import TrustStore
    from ltv.verify import Verifier

_LAZY = {
    "Online": "ltv.policy",
    "ValidationPolicy": "ltv.policy",
    "Indication": "ltv.report",
    "Report": "ltv.report",
    "SubIndication": "ltv.report",
    "Signer": "ltv.sign",
    "SigningPolicy": "ltv.sign",
    "PadesLevel": "ltv.sign",
    "Extender": "ltv.sign",
    "TrustStore": "ltv.trust",
    "Verifier": "ltv.verify",
}


def __getattr__(name: str) -> Any:
    """Lazy exports: ``import ltv`` stays cheap (the CLI imports pyHanko only when needed)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ltv' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
