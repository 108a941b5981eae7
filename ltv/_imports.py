"""Import-time economies for ltv's own processes (see :func:`defer_pyhanko_sign_init`)."""

from __future__ import annotations

__all__ = ["defer_pyhanko_sign_init"]


def defer_pyhanko_sign_init() -> None:
    """Import ``pyhanko.sign``'s submodules without running its package ``__init__`` until a
    name only that ``__init__`` defines is asked for.

    ``pyhanko/sign/__init__.py`` re-exports the signing API, which imports the RFC 3161 client
    and with it aiohttp (~130 ms of a ~410 ms import here, TOOLCHAIN.md); verifying needs
    neither. The package module is created from its own spec (same ``__path__``, loader and
    name), so ``import pyhanko.sign.validation`` and ``from pyhanko.sign import fields`` load
    just those submodules; the first access to any other name (``pyhanko.sign.PdfSigner``)
    runs the real ``__init__`` in the module, exactly as an eager import would have.
    Done by ltv's own processes only: the CLI (``ltv.cli.main``) and the ``ltv audit`` worker
    processes (``ltv.audit.runner``), never in a library caller's process;
    ``LTV_EAGER_IMPORTS=1`` disables it.
    """
    import importlib
    import importlib.util
    import os
    import sys

    if os.environ.get("LTV_EAGER_IMPORTS") or "pyhanko.sign" in sys.modules:
        return
    try:
        parent = importlib.import_module("pyhanko")
        spec = importlib.util.find_spec("pyhanko.sign")
    except ImportError:  # pragma: no cover - pyHanko is a dependency
        return
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    state = {"initialised": False}

    def __getattr__(name: str) -> object:  # PEP 562 module hook
        if name.startswith("__"):
            raise AttributeError(name)
        sub = f"pyhanko.sign.{name}"
        if not state["initialised"] and importlib.util.find_spec(sub) is not None:
            return importlib.import_module(sub)
        if not state["initialised"]:
            state["initialised"] = True
            del module.__dict__["__getattr__"]
            loader.exec_module(module)  # the package __init__, as an eager import runs it
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'pyhanko.sign' has no attribute {name!r}") from None

    module.__dict__["__getattr__"] = __getattr__
    sys.modules["pyhanko.sign"] = module
    parent.sign = module  # type: ignore[attr-defined]  # what the import system sets
