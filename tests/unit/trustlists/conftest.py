"""Fixtures of the trusted-list tests: lists for the sample PKI, signed PDFs, stores."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.unit.trustlists import tlgen

if TYPE_CHECKING:
    from ltv.trustlists.store import TrustListStore
    from samples.pki.server import PkiServer


@pytest.fixture(scope="session")
def lists() -> tlgen.TestLists:
    return tlgen.make_test_lists()


@pytest.fixture(scope="session")
def docs(pki_server: PkiServer, tmp_path_factory: pytest.TempPathFactory) -> tlgen.Docs:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    return tlgen.get_docs(pki_server, tmp_path_factory.mktemp("qc-signers"))


@pytest.fixture
def make_store(tmp_path: Path, lists: tlgen.TestLists) -> Callable[..., TrustListStore]:
    """A store with the test LOTL and the given issues of the ZZ list (``"zz1"``, ``"zz2"``)."""
    from ltv.trustlists.store import TrustListStore

    def make(*issues: str, name: str = "store") -> TrustListStore:
        store = TrustListStore.open(tmp_path / name, create=True)
        store.import_list(
            lists.lotl, source="lotl.xml", now=tlgen.NOW, signers=[lists.lotl_signer.asn1()]
        )
        for issue in issues:
            store.import_list(getattr(lists, issue), source=f"{issue}.xml", now=tlgen.NOW)
        return TrustListStore.open(tmp_path / name)

    return make
