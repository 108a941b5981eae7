"""Verify with a trust store: anchors granted *at the validation time*, qualification.

The sample PKI as a QTSP on a test trusted list "ZZ" (tlgen): ``interm`` is a CA/QC service
(QCWithQSCD for certificates with POLICY_QSCD; ForeSignatures, ForeSeals), ``tsa`` a TSA/QTST.
List #1 (2026-01-15) says both granted since 2020; list #2 (2026-09-01) records the CA's
withdrawal on 2026-05-01 and the TSA's on 2026-07-01. Signatures are B-LT with the interm CRL
fetched from the loopback PKI right after their genTime.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ltv.policy import ValidationPolicy
from ltv.report import Indication, Report, SubIndication
from ltv.trust import TrustStore
from ltv.trustlists.store import TrustListStore
from ltv.verify import Verifier
from tests.unit.pipeline.fixtures import assert_schema
from tests.unit.trustlists import tlgen

StoreFactory = Callable[..., TrustListStore]


def verify(data: bytes, store: TrustListStore, **policy: object) -> Report:
    report = Verifier(ValidationPolicy(trust_store=store, **policy)).verify(data, now=tlgen.NOW)  # type: ignore[arg-type]
    assert_schema(report.to_dict())
    return report


def test_signature_before_the_withdrawal_passes_as_qes(
    docs: tlgen.Docs, make_store: StoreFactory
) -> None:
    store = make_store("zz1", "zz2")
    (sig,) = verify(docs.qes, store).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    assert sig.validation_time == tlgen.T_BEFORE
    q = sig.qualification
    assert q is not None
    assert (q.signature, q.timestamp, q.qualified, q.qscd, q.qc_type) == (
        "QES",
        "QTST",
        True,
        True,
        "esig",
    )
    # decided by the history entry of the newest list that covers the validation time
    assert q.service is not None
    assert (q.service.service, q.service.type, q.service.status) == (
        "ltv Sample Qualified CA",
        "CA/QC",
        "granted",
    )
    assert (q.service.list_sequence, q.service.status_until) == (2, tlgen.CA_WITHDRAWN)
    assert q.timestamp_service is not None
    assert q.timestamp_service.service == "ltv Sample Qualified TSA"
    assert "ZZ list #2" in q.source and "granted since 2020-01-01" in q.source


def test_signature_after_the_withdrawal_is_indeterminate_naming_the_service(
    docs: tlgen.Docs, make_store: StoreFactory
) -> None:
    (sig,) = verify(docs.after_ca, make_store("zz1", "zz2")).signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert sig.validation_time == tlgen.T_AFTER_CA  # the timestamp (TSA still granted) held
    (reason,) = sig.reasons
    assert "'ltv Sample Qualified CA' (CA/QC)" in reason
    assert "status at 2026-06-01T12:00:00Z was withdrawn (since 2026-05-01T00:00:00Z" in reason
    assert sig.qualification is not None and sig.qualification.signature is None


def test_only_the_older_list_known_the_same_signature_passes(
    docs: tlgen.Docs, make_store: StoreFactory
) -> None:
    """History, not "listed today": with list #1 alone nothing says the CA was withdrawn."""
    (sig,) = verify(docs.after_ca, make_store("zz1")).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    assert sig.qualification is not None and sig.qualification.signature == "QES"
    assert sig.qualification.service is not None
    assert sig.qualification.service.list_sequence == 1


def test_tsa_withdrawn_before_gentime_makes_the_timestamp_untrusted(
    docs: tlgen.Docs, make_store: StoreFactory
) -> None:
    (sig,) = verify(docs.after_tsa, make_store("zz1", "zz2")).signatures
    assert sig.timestamp is not None and sig.timestamp.trusted is False
    assert sig.validation_time == tlgen.NOW  # no proof of existence from it
    tsa = [p for p in sig.timestamp.problems if "'ltv Sample Qualified TSA' (TSA/QTST)" in p]
    assert tsa and "status at 2026-08-01T12:00:00Z was withdrawn (since 2026-07-01" in tsa[0]
    assert sig.indication is Indication.INDETERMINATE
    assert "signature timestamp not usable as proof of existence" in sig.reasons[0]
    assert sig.qualification is not None and sig.qualification.timestamp is None


def test_qc_signer_without_qscd_is_ades_qc(docs: tlgen.Docs, make_store: StoreFactory) -> None:
    (sig,) = verify(docs.ades_qc, make_store("zz1", "zz2")).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    q = sig.qualification
    assert q is not None
    assert (q.signature, q.qualified, q.qscd) == ("AdES-QC", True, False)


def test_signer_without_qc_statements_is_ades(docs: tlgen.Docs, make_store: StoreFactory) -> None:
    (sig,) = verify(docs.not_qc, make_store("zz1", "zz2")).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    q = sig.qualification
    assert q is not None
    assert (q.signature, q.qualified, q.qscd) == ("AdES", False, False)


def test_qualified_seal_with_qscd_is_qseal(docs: tlgen.Docs, make_store: StoreFactory) -> None:
    (sig,) = verify(docs.seal, make_store("zz1", "zz2")).signatures
    q = sig.qualification
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    assert q is not None and (q.signature, q.qc_type, q.qscd) == ("QSeal", "eseal", True)


def test_pem_anchors_work_together_with_the_store(
    docs: tlgen.Docs, make_store: StoreFactory
) -> None:
    """--trust ROOT still trusts the chain (the user's explicit choice), but the withdrawn
    service no longer makes it qualified."""
    import samples.pki as pki

    store = make_store("zz1", "zz2")
    (sig,) = verify(
        docs.after_ca, store, trust=TrustStore.from_paths([pki.cert_path("root")])
    ).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    q = sig.qualification
    assert q is not None and q.signature == "AdES" and q.qualified is False
    assert any("withdrawn" in n for n in q.notes)


def test_signer_trust_is_never_borrowed_from_tsa_services(
    docs: tlgen.Docs, lists: tlgen.TestLists, tmp_path: object
) -> None:
    """A list naming interm only as a TSA/QTST service does not anchor a signer's chain."""
    from pathlib import Path

    as_tsa = tlgen.make_list(
        lists.tl_signer,
        territory="ZZ",
        sequence=3,
        issued=tlgen.utc(2026, 1, 20),
        next_update=tlgen.utc(2026, 12, 31),
        tsps=tlgen.sample_services(withdrawn=False, ca_type="TSA/QTST"),
    )
    store = TrustListStore.open(Path(str(tmp_path)) / "s", create=True)
    store.import_list(as_tsa, source="zz3.xml", now=tlgen.NOW, signers=[lists.tl_signer.asn1()])
    (sig,) = verify(docs.qes, store).signatures
    assert sig.indication is Indication.INDETERMINATE
    assert sig.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert "of type TSA/QTST: not a certification service" in sig.reasons[-1]


def test_without_any_trust_it_is_a_usage_error(tmp_path: object) -> None:
    from pathlib import Path

    from ltv.errors import TrustError

    with pytest.raises(TrustError, match="no trust anchors given"):
        Verifier(ValidationPolicy())
    empty = TrustListStore.open(Path(str(tmp_path)) / "empty", create=True)
    with pytest.raises(TrustError, match="holds no list and no anchor"):
        Verifier(ValidationPolicy(trust_store=empty))


def test_plain_store_anchors_by_role(docs: tlgen.Docs, tmp_path: object) -> None:
    """`ltv trust add` anchors: the signer role anchors signers only, the TSA role TSAs only."""
    from pathlib import Path

    import samples.pki as pki

    store = TrustListStore.open(Path(str(tmp_path)) / "plain", create=True)
    store.add_anchors(
        pki.cert_path("root").read_bytes(), origin="root.pem", role="tsa", now=tlgen.NOW
    )
    (sig,) = verify(docs.qes, TrustListStore.open(store.path)).signatures
    assert sig.subindication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND  # root only for TSAs
    store.add_anchors(
        pki.cert_path("root").read_bytes(), origin="root.pem", role="signer", now=tlgen.NOW
    )
    store.add_anchors(
        pki.cert_path("tsa-root").read_bytes(), origin="tsa-root.pem", role="tsa", now=tlgen.NOW
    )
    (sig,) = verify(docs.qes, TrustListStore.open(store.path)).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.reasons
    q = sig.qualification
    assert q is not None and q.signature == "AdES" and q.timestamp == "TST"


def test_verifying_with_a_store_opens_no_socket(
    docs: tlgen.Docs, make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store is read from disk: offline verification (the default) never fetches a list."""
    from tests.unit.pipeline.fixtures import SocketGuard

    store = make_store("zz1", "zz2")
    guard = SocketGuard(monkeypatch)
    report = verify(docs.qes, store)
    assert report.network.requests == 0 and guard.attempts == []
    assert report.signatures[0].indication is Indication.TOTAL_PASSED
