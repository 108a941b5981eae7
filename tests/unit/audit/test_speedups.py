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

    fast_readers = {
        "read_hex_string_from_stream": speedups.read_hex_string_from_stream,
        "read_until_delimiter": speedups.read_until_delimiter,
        "_decode_name": speedups.decode_name,
    }
    slow_readers = {
        "read_hex_string_from_stream": original,
        "read_until_delimiter": speedups._original_until_delimiter,
        "_decode_name": speedups._original_decode_name,
    }
    from pyhanko.sign import general

    fast_match = general.match_issuer_serial
    assert fast_match is not speedups._original_match is not None
    for path in files:
        fast = facts(path)
        for name, fn in slow_readers.items():
            monkeypatch.setattr(generic, name, fn)
        monkeypatch.setattr(general, "match_issuer_serial", speedups._original_match)
        slow = facts(path)
        for name, fn in fast_readers.items():
            monkeypatch.setattr(generic, name, fn)
        monkeypatch.setattr(general, "match_issuer_serial", fast_match)
        assert fast == slow, path.name


def _token_case(rng: random.Random) -> bytes:
    regular = [b"a", b"Z", b"0", b"-", b"#", b"#20", b".", b"_", b"\x80", b"\xff", b"\x7f", b"\x01"]
    stops = [b" ", b"\n", b"\r", b"\t", b"\x00", b"\x0c", b"/", b"(", b")", b"<", b">", b"[",
             b"]", b"{", b"}", b"%"]  # fmt: skip
    body = b"".join(rng.choice(regular) for _ in range(rng.randrange(0, 40)))
    if rng.random() < 0.05:
        body += b"x" * rng.choice([255, 256, 257, 600])  # around and past one peek
    return body + (b"".join(rng.choice(stops) for _ in range(rng.randrange(0, 3))))


def _until_outcome(reader: Any, data: bytes, offset: int) -> tuple[Any, ...]:
    stream = io.BytesIO(data)
    stream.seek(offset)
    try:
        value = reader(stream)
    except Exception as err:
        return ("error", type(err).__name__, str(err), stream.tell())
    return ("ok", bytes(value), stream.tell())


def test_tokens_and_names_as_pyhanko_reads_them(original: Any) -> None:
    """``read_until_delimiter`` (result and position, at the start, middle and end of a stream)
    and ``_decode_name`` (value, type, error) give pyHanko's answers on generated tokens."""
    rng = random.Random(1958)  # noqa: S311 - reproducible test inputs
    cases = [_token_case(rng) for _ in range(4000)]
    cases += [b"", b"/", b"abc", b"abc/def", b"a" * 256, b"a" * 256 + b" ", b"#", b"#4", b"#41"]
    outcomes = set()
    for data in cases:
        for offset in sorted({0, len(data) // 2, len(data)}):
            fast = _until_outcome(speedups.read_until_delimiter, data, offset)
            slow = _until_outcome(speedups._original_until_delimiter, data, offset)
            assert fast == slow, (data[:80], offset)
        body = data.split(b" ")[0]
        fast_name = _name_outcome(speedups.decode_name, body)
        assert fast_name == _name_outcome(speedups._original_decode_name, body), body[:80]
        outcomes.add(fast_name[0])
    assert outcomes == {"ok", "error"}


def _name_outcome(decode: Any, body: bytes) -> tuple[Any, ...]:
    try:
        value = decode(body)
    except Exception as err:
        return ("error", type(err).__name__, str(err))
    return ("ok", type(value).__name__, str(value))


def test_memoised_string_preparation_is_asn1cryptos(original: Any) -> None:
    """``_ldap_string_prep`` memoised: the same prepared strings and the same errors, asked
    twice (the second time from the memo), on generated and corpus strings."""
    from asn1crypto import x509

    ntv = x509.Name.build({"common_name": "x"}).chosen[0][0]
    rng = random.Random(4518)  # noqa: S311 - reproducible test inputs
    pieces = ["a", "Z", " ", "  ", "\t", "\u00ad", "\u200b", "\u00a0", "é", "e\u0301",
              "ﬁ", "\u05d0", "\u0627", "1", "\ue000", "\ufffd", "\ufffe", "\u0000", "ß",
              "İ"]  # fmt: skip
    strings = [
        "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12))) for _ in range(3000)
    ]
    strings += ["x" * 300, ""]
    if CORPUS.is_dir():
        from asn1crypto import pem

        for path in sorted(CORPUS.glob("**/*.cer")) + sorted(CORPUS.glob("**/*.crt")):
            try:
                der = path.read_bytes()
                if pem.detect(der):
                    der = pem.unarmor(der)[2]
                cert = x509.Certificate.load(der)
                for rdn in cert.subject.chosen:
                    strings += [str(atv["value"].native) for atv in rdn]
            except Exception:  # noqa: S112 - not a certificate: nothing to compare
                continue

    def outcome(fn: Any, text: str) -> tuple[str, str]:
        try:
            return ("ok", fn(ntv, text))
        except ValueError as err:
            return ("error", str(err))

    kinds = set()
    for text in strings:
        slow = outcome(speedups._original_ldap_prep, text)
        assert outcome(speedups.ldap_string_prep, text) == slow, repr(text)
        assert outcome(speedups.ldap_string_prep, text) == slow, repr(text)  # memoised
        kinds.add(slow[0])
    assert kinds == {"ok", "error"}
