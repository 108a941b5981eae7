"""The examples in README.md and in the signing side's docstrings run, exactly as printed."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

MODULES = (
    "ltv",
    "ltv.runtime",
    "ltv.certs",
    "ltv.pdfio",
    "ltv.evidence.cache",
    "ltv.evidence.gather",
    "ltv.evidence.tsa",
    "ltv.sign",
    "ltv.extend",
)


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository


def test_readme_library_section() -> None:
    result = doctest.testfile(
        str(ROOT / "README.md"), module_relative=False, optionflags=FLAGS, verbose=False
    )
    assert result.attempted >= 10
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0


def test_every_public_signing_name_has_an_example() -> None:
    import ltv

    signing = (
        "CacheEntry",
        "EvidenceCache",
        "ExtendResult",
        "Extender",
        "PadesLevel",
        "SignResult",
        "Signer",
        "SigningPolicy",
        "VisibleSignature",
    )
    missing = [name for name in signing if ">>>" not in (getattr(ltv, name).__doc__ or "")]
    assert missing == []
