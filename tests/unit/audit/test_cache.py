"""Work done once per archive: with a shared JudgementCache, every report is the same as without.

The cache is warmed on every document at one time and then used at later times, under other
anchors and policies: a cached chain re-used outside its validity window, for a document that
lacks its certificates, or a failure re-used, would change a verdict here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ltv.audit.cache import ChainCache, JudgementCache, Lru
from ltv.errors import InputError
from ltv.evidence.http import NoNetwork
from ltv.pipeline.facts import DocumentFacts
from ltv.pipeline.run import examine, judge
from ltv.policy import ValidationPolicy
from ltv.trust import TrustStore
from tests.unit.pipeline import fixtures as fx

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus"
TIMES = (
    datetime(2026, 12, 1, tzinfo=UTC),
    datetime(2027, 6, 1, tzinfo=UTC),  # tsa-short expired (2027-01-01)
    datetime(2037, 1, 1, tzinfo=UTC),  # signer-good expired (2036-01-01)
    datetime(2060, 1, 1, tzinfo=UTC),  # every sample certificate expired
)


def _facts(datas: list[bytes]) -> list[DocumentFacts]:
    out = []
    for data in datas:
        try:
            out.append(examine(data))
        except InputError:
            continue
    return out


@pytest.fixture(scope="module")
def sample_facts() -> list[DocumentFacts]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    datas = [p.read_bytes() for p in sorted((REPO / "samples").glob("*.pdf"))]
    datas += list(fx.get_fixtures().values())
    datas += list(fx.get_longterm_fixtures().values())
    return _facts(datas)


def _reports(
    facts: list[DocumentFacts],
    policy: ValidationPolicy,
    now: datetime,
    cache: JudgementCache | None,
    at: datetime | None = None,
) -> list[list[dict[str, Any]]]:
    async def run() -> list[list[dict[str, Any]]]:
        return [
            [
                s.to_dict()
                for s in await judge(f, policy, now=now, at=at, transport=NoNetwork(), cache=cache)
            ]
            for f in facts
        ]

    return asyncio.run(run())


def _policy(**changes: Any) -> ValidationPolicy:
    return ValidationPolicy(trust=fx.root_store(), tsa_trust=fx.tsa_store()).replace(**changes)


def test_same_reports_with_and_without_the_cache_at_every_time(
    sample_facts: list[DocumentFacts],
) -> None:
    cache = JudgementCache()
    policies = [
        _policy(),
        ValidationPolicy.preset("strict").with_trust(fx.root_store(), fx.tsa_store()),
    ]
    verdicts = set()
    for policy in policies:
        for now in TIMES:  # one cache across times: warmed in 2026, used in 2060
            plain = _reports(sample_facts, policy, now, None)
            cached = _reports(sample_facts, policy, now, cache)
            assert cached == plain, (policy.name, now)
            verdicts.update(s["indication"] for doc in plain for s in doc)
    # and with --at for the signatures without a timestamp
    at = datetime(2025, 1, 1, tzinfo=UTC)
    assert _reports(sample_facts, _policy(), TIMES[0], cache, at) == _reports(
        sample_facts, _policy(), TIMES[0], None, at
    )
    assert verdicts == {"TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE"}
    stats = cache.stats()
    for name in ("certificates", "evidence checks", "chains"):
        assert stats[name]["hits"] > stats[name]["misses"] > 0, (name, stats)


def test_a_trust_change_is_never_answered_from_the_cache(
    sample_facts: list[DocumentFacts],
) -> None:
    """The anchor set is part of the key: anchors that do not vouch for the signer fail."""
    cache = JudgementCache()
    now = TIMES[0]
    _reports(sample_facts, _policy(), now, cache)
    other = ValidationPolicy(trust=fx.tsa_store(), tsa_trust=fx.tsa_store())
    assert _reports(sample_facts, other, now, cache) == _reports(sample_facts, other, now, None)


@pytest.mark.skipif(not (CORPUS / "trust").is_dir(), reason="corpus absent")
def test_same_reports_on_the_corpus() -> None:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    facts = _facts([p.read_bytes() for p in sorted(CORPUS.glob("*/*.pdf"))])
    policy = ValidationPolicy(trust=TrustStore.from_paths([CORPUS / "trust"]))
    cache = JudgementCache()
    for now in (datetime(2021, 7, 15, 9, 14, 40, tzinfo=UTC), TIMES[0]):
        assert _reports(facts, policy, now, cache) == _reports(facts, policy, now, None), now


def _cert(label: str) -> Any:
    from samples import pki

    return pki.load_cert(label)


def test_chain_cache_window_and_certificates_the_document_carries() -> None:
    from ltv.pipeline.chain import validate_chain

    leaf, interm, root = _cert("signer-good"), _cert("interm"), _cert("root")
    cache = ChainCache()
    t_ok = datetime(2030, 1, 1, tzinfo=UTC)

    async def chain(moment: datetime, pool: list[Any]) -> Any:
        return await validate_chain(
            leaf, anchors=[root], other_certs=pool, moment=moment, purpose="signer", cache=cache
        )

    first = asyncio.run(chain(t_ok, [interm]))
    assert first.problem is None and len(cache.paths) == 1
    hit = cache.lookup(leaf, anchors=[root], other_certs=[interm], moment=t_ok, purpose="signer")
    assert hit is not None and [c.dump() for c in hit.path] == [c.dump() for c in first.path]
    # outside the window: not from the cache, and the real validation fails (and is not stored)
    late = datetime(2040, 1, 1, tzinfo=UTC)
    assert (
        cache.lookup(leaf, anchors=[root], other_certs=[interm], moment=late, purpose="signer")
        is None
    )
    failed = asyncio.run(chain(late, [interm]))
    assert failed.problem is not None
    # a failure is kept for exactly its inputs: the same moment and certificates on offer
    again = cache.lookup(leaf, anchors=[root], other_certs=[interm], moment=late, purpose="signer")
    assert again is not None and (again.problem, again.reason) == (failed.problem, failed.reason)
    assert [c.dump() for c in again.path] == [c.dump() for c in failed.path]
    later = datetime(2041, 1, 1, tzinfo=UTC)
    assert (
        cache.lookup(leaf, anchors=[root], other_certs=[interm], moment=later, purpose="signer")
        is None
    )
    assert cache.lookup(leaf, anchors=[root], other_certs=[], moment=late, purpose="signer") is None
    assert (
        cache.lookup(leaf, anchors=[root], other_certs=[interm], moment=late, purpose="tsa") is None
    )
    assert len(cache.paths) == 1 and [k for k, _ in cache.fresh] == [next(iter(cache.paths._data))]
    # a document that does not carry the intermediate cannot borrow the path
    assert cache.lookup(leaf, anchors=[root], other_certs=[], moment=t_ok, purpose="signer") is None
    assert asyncio.run(chain(t_ok, [])).problem is not None
    # another purpose, other anchors: other keys
    assert (
        cache.lookup(leaf, anchors=[root], other_certs=[interm], moment=t_ok, purpose="tsa") is None
    )
    tsa_root = _cert("tsa-root")
    assert (
        cache.lookup(leaf, anchors=[tsa_root], other_certs=[interm], moment=t_ok, purpose="signer")
        is None
    )


def test_lru_is_bounded() -> None:
    lru: Lru[int, str] = Lru(2)
    lru.put(1, "a")
    lru.put(2, "b")
    assert lru.get(1) == "a"  # 1 is now the most recent
    lru.put(3, "c")
    assert lru.get(2) is None and lru.get(1) == "a" and lru.get(3) == "c"
    assert len(lru) == 2 and lru.stats()["misses"] == 1


def test_ocsp_serials_are_a_fact_of_the_bytes(sample_facts: list[DocumentFacts]) -> None:
    """``EvidenceItem.serials`` (read once by examine, stored with the facts) is what the
    response says, and judging without it (read again when judged) gives the same reports."""
    from dataclasses import replace

    from ltv.evidence.ocsp import read_single_responses

    seen = 0
    for facts in sample_facts:
        for item in facts.evidence:
            if item.kind != "ocsp":
                assert item.serials is None
                continue
            seen += 1
            try:
                expected = {s.cert_id.serial for s in read_single_responses(item.der)}
            except ValueError:
                expected = set()
            assert item.serials == tuple(sorted(expected))
    assert seen > 10
    unread = [
        replace(f, evidence=tuple(replace(e, serials=None) for e in f.evidence))
        for f in sample_facts
    ]
    for now in TIMES[:2]:
        plain = _reports(sample_facts, _policy(), now, None)
        assert _reports(unread, _policy(), now, None) == plain


def test_ocsp_certificates_from_the_checker_parse_are_the_lenient_ones(
    sample_facts: list[DocumentFacts],
) -> None:
    """extract reads an OCSP response's certificates from the checker's memoised parse when it
    has one: the same certificates the lenient reader finds."""
    from ltv.evidence.ocsp import parsed_response_certificates
    from ltv.pipeline.extract import _ocsp_certs_lenient

    ders = {e.der for f in sample_facts for e in f.evidence if e.kind == "ocsp"}
    corpus_ocsp = CORPUS / "tokens" / "ocsp"
    if corpus_ocsp.is_dir():  # real responders' answers, odd ones included
        ders |= {p.read_bytes() for p in sorted(corpus_ocsp.rglob("*")) if p.is_file()}
    compared = 0
    for der in ders:
        strict = parsed_response_certificates(der)
        if strict is not None:
            compared += 1
            assert strict == _ocsp_certs_lenient.__wrapped__(der)
    assert compared > 10
