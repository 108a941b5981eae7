"""The facts codec: safe, versioned JSON for what a file *is* (never a pickle).

Round trip over every committed sample, every verdict fixture and every corpus PDF; every field
of every facts dataclass is carried; anything that is not exactly a record is refused.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from ltv.audit.codec import CODEC_VERSION, CodecError, StaleFacts, decode_facts, encode_facts
from ltv.errors import InputError
from ltv.pipeline.facts import FACTS_VERSION, DocumentFacts
from ltv.pipeline.run import examine
from tests.unit.pipeline import fixtures as fx

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus"


def _documents() -> list[tuple[str, bytes]]:
    docs = [(p.name, p.read_bytes()) for p in sorted((REPO / "samples").glob("*.pdf"))]
    if CORPUS.is_dir():
        docs += [
            (str(p.relative_to(CORPUS)), p.read_bytes()) for p in sorted(CORPUS.glob("*/*.pdf"))
        ]
    return docs


@pytest.fixture(scope="module")
def examined() -> list[tuple[str, DocumentFacts]]:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    out = []
    sources = _documents() + sorted(fx.get_fixtures().items())
    for name, data in sources:
        try:
            out.append((name, examine(data)))
        except InputError:
            continue  # not a readable PDF: stored as an error, not as facts
    return out


def test_round_trip_every_sample_fixture_and_corpus_file(
    examined: list[tuple[str, DocumentFacts]],
) -> None:
    assert len(examined) >= 9 + 12  # samples + fixtures at least (corpus when present)
    if CORPUS.is_dir():
        assert len(examined) >= 50
    for name, facts in examined:
        text = encode_facts(facts)
        back = decode_facts(text, sha256=facts.sha256)
        assert back == facts, name
        assert encode_facts(back) == text, name  # stable
        json.loads(text)  # plain JSON, ASCII
        assert text.isascii()


def test_record_carries_every_field_of_every_dataclass(
    examined: list[tuple[str, DocumentFacts]],
) -> None:
    """A field added to the facts is in the JSON (the shape comes from the dataclasses)."""

    def check(value: Any, encoded: Any, where: str) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            names = {f.name for f in dataclasses.fields(value)}
            assert set(encoded) == names, where
            for f in dataclasses.fields(value):
                check(getattr(value, f.name), encoded[f.name], f"{where}.{f.name}")
        elif isinstance(value, tuple):
            assert len(value) == len(encoded), where
            for i, (v, e) in enumerate(zip(value, encoded, strict=True)):
                check(v, e, f"{where}[{i}]")

    for name, facts in examined:
        record = json.loads(encode_facts(facts))
        check(facts, record["facts"], name)


def _record(facts: DocumentFacts) -> dict[str, Any]:
    return json.loads(encode_facts(facts))


def _good(examined: list[tuple[str, DocumentFacts]]) -> DocumentFacts:
    return next(f for n, f in examined if n == "good-b-lta.pdf")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["facts"].update(extra=1), "unknown keys"),
        (lambda r: r["facts"].pop("evidence"), "missing keys"),
        (lambda r: r["facts"].update(size="12"), "expected int"),
        (lambda r: r["facts"].update(size=True), "expected int"),
        (lambda r: r["facts"]["certificates"].__setitem__(0, "not base64!"), "invalid base64"),
        (
            lambda r: r["facts"]["signatures"][0]["tokens"][0].update(
                gen_time="2026-11-01T12:00:00"
            ),
            "without a UTC offset",
        ),
        (
            lambda r: r["facts"]["signatures"][0]["integrity"]["report"].update(coverage="ALL"),
            "unknown Coverage",
        ),
        (lambda r: r["facts"]["signatures"][0].update(kind="approval"), "expected one of"),
        (lambda r: r["facts"]["evidence"][0].update(kind="scvp"), "expected one of"),
        (lambda r: r["facts"].update(signatures={}), "expected an array"),
        (lambda r: r["facts"]["signatures"].__setitem__(0, []), "expected a SignatureFacts"),
    ],
)
def test_anything_but_an_exact_record_is_refused(
    examined: list[tuple[str, DocumentFacts]], mutate: Any, message: str
) -> None:
    record = _record(_good(examined))
    mutate(record)
    with pytest.raises(CodecError, match=message):
        decode_facts(json.dumps(record))


def test_other_versions_are_stale_and_another_hash_is_refused(
    examined: list[tuple[str, DocumentFacts]],
) -> None:
    facts = _good(examined)
    for key, value in (("codec", CODEC_VERSION + 1), ("facts_version", FACTS_VERSION + 1)):
        record = _record(facts)
        record[key] = value
        with pytest.raises(StaleFacts):
            decode_facts(json.dumps(record))
    with pytest.raises(CodecError, match="stored under"):
        decode_facts(encode_facts(facts), sha256="0" * 64)


def test_a_pickle_is_never_unpickled(examined: list[tuple[str, DocumentFacts]]) -> None:
    """An audit DB may come from elsewhere: a pickle in the facts column is just bad data."""

    class Boom:
        def __reduce__(self) -> tuple[Any, ...]:
            return (pytest.fail, ("the codec unpickled stored data",))

    payload = pickle.dumps(Boom())
    with pytest.raises(CodecError, match="not JSON"):
        decode_facts(payload)
    # where DER belongs, a pickle is bytes like any other: data, never loaded
    record = _record(_good(examined))
    record["facts"]["evidence"][0]["der"] = base64.b64encode(payload).decode()
    assert decode_facts(json.dumps(record)).evidence[0].der == payload
