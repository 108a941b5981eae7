"""Where ltv's code ends and a parser's begins: library faults on input data are data.

ltv hands hostile input to pyHanko, certvalidator, asn1crypto and cryptography. On malformed
input they raise whatever their code happens to raise (AssertionError, UnboundLocalError,
OverflowError, zlib.error, NotImplementedError...). Such an exception says "this input cannot
be processed" — a reason in the report — whereas an exception raised by ltv's own code is a bug
that must stay visible (the "internal error" path). :func:`library_fault` tells them apart by
where the exception was raised: the innermost Python frame of its traceback.
"""

from __future__ import annotations

__all__ = ["LIBRARIES", "describe", "library_fault"]

LIBRARIES = frozenset(
    {"pyhanko", "pyhanko_certvalidator", "asn1crypto", "cryptography", "oscrypto", "uritools"}
)
"""Top-level packages whose exceptions on input data are faults of the input."""


def library_fault(err: BaseException) -> str | None:
    """The library the exception was raised in (its innermost Python frame), or ``None`` when
    it was raised in ltv's own code (or anywhere else)."""
    tb = err.__traceback__
    module = None
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__")
        tb = tb.tb_next
    if not isinstance(module, str):
        return None
    top = module.partition(".")[0]
    return top if top in LIBRARIES else None


def describe(err: BaseException) -> str:
    """One line: the exception's message, or its type when it has none."""
    msg = " ".join(str(err).split())[:200]
    return msg or type(err).__name__
