"""The fast hex-string reader is pyHanko's, result for result, error for error, position for
position — on thousands of generated inputs, and on every committed sample and corpus PDF."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest

from ltv.audit import speedups

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def original() -> Any:
    speedups.install()
    assert speedups.installed()
    return speedups._original


def _outcome(reader: Any, data: bytes) -> tuple[Any, ...]:
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except Exception as err:
        return ("error", type(err).__name__, str(err), stream.tell())
    return ("ok", type(value).__name__, bytes(value.original_bytes), stream.tell())


def _case(rng: random.Random) -> bytes:
    alphabet = [b"0", b"7", b"a", b"F", b" ", b"\n", b"\r\n", b"\t", b"\x00", b"\x0c"]
    rare = [b"%", b"% comment > inside\n", b"g", b"<", b"(", b"\xff", b"Z"]
    body = b"".join(
        rng.choice(rare) if rng.random() < 0.03 else rng.choice(alphabet)
        for _ in range(rng.randrange(0, 80))
    )
    if rng.random() < 0.02:
        body += b"0" * 70_000  # longer than one read chunk
    tail = b">" if rng.random() < 0.92 else b""
    return b"<" + body + tail + rng.choice([b"", b" /Next 1", b">> endobj", b"%"])


def test_same_results_errors_and_positions_as_pyhanko(original: Any) -> None:
    rng = random.Random(2026)  # noqa: S311 - reproducible test inputs
    cases = [_case(rng) for _ in range(4000)]
    cases += [b"<>", b"<0>", b"<00 0>", b"<%x\n41>", b"<41", b"<", b"<4 1\x00 42>rest"]
    kinds = set()
    for data in cases:
        fast = _outcome(speedups.read_hex_string_from_stream, data)
        slow = _outcome(original, data)
        assert fast == slow, data[:120]
        kinds.add(fast[0])
    assert kinds == {"ok", "error"}  # both paths were exercised


def test_same_facts_on_every_sample_and_corpus_file(original: Any, monkeypatch: Any) -> None:
    import logging

    from pyhanko.pdf_utils import generic

    from ltv.audit.codec import encode_facts
    from ltv.errors import InputError
    from ltv.pipeline.run import examine

    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    files = sorted((REPO / "samples").glob("*.pdf"))
    if CORPUS.is_dir():
        files += sorted(CORPUS.glob("*/*.pdf"))

    def facts(path: Path) -> str:
        try:
            return encode_facts(examine(path.read_bytes()))
        except InputError as err:
            return f"InputError: {err.message}"

    for path in files:
        fast = facts(path)
        monkeypatch.setattr(generic, "read_hex_string_from_stream", original)
        slow = facts(path)
        monkeypatch.setattr(
            generic, "read_hex_string_from_stream", speedups.read_hex_string_from_stream
        )
        assert fast == slow, path.name
