"""A small, versioned, safe codec for :class:`~ltv.pipeline.facts.DocumentFacts`.

The audit store keeps what a file *is* as JSON text, never as a pickle: an audit database may
come from elsewhere, and unpickling is code execution. The JSON form is plain:

- DER and other bytes: standard base64 (with padding), decoded strictly;
- enums: their value (``"HASH_FAILURE"``); ``Literal`` strings as they are; datetimes: ISO 8601
  with their UTC offset (a naive time is refused); tuples: arrays; absent values: ``null``;
- a dataclass: an object with exactly its fields. An unknown or a missing key, a value of the
  wrong type, an unknown enum or literal value is a :class:`CodecError` (the stored facts are
  then ignored and the file is examined again: facts can always be derived from the file).

The shape is derived from the type annotations of the facts dataclasses, starting at
``DocumentFacts`` (:func:`shape_of`): the classes a record may build are fixed by the code,
never chosen by the data, and a field added to the facts is carried without a change here (a
type the codec does not know fails when the codec is built — ``tests/unit/audit``).

A record is ``{"codec": CODEC_VERSION, "facts_version": FACTS_VERSION, "facts": {...}}``.
:data:`CODEC_VERSION` changes with this format; ``FACTS_VERSION`` (``ltv.pipeline.facts``) with
what ``examine`` derives from the same bytes. A record of another version of either is
:class:`StaleFacts`: re-examined, never re-used.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import functools
import json
import sys
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ltv.pipeline.facts import FACTS_VERSION, DocumentFacts

__all__ = [
    "CODEC_VERSION",
    "CodecError",
    "StaleFacts",
    "decode_facts",
    "decode_value",
    "encode_facts",
    "encode_value",
    "shape_of",
]

CODEC_VERSION = 1
"""Version of the JSON form written by :func:`encode_facts`."""

Json = Any
_T = TypeVar("_T")
Encode = Callable[[Any], Json]
Decode = Callable[[Json, str], Any]


class CodecError(ValueError):
    """Stored facts that are not a valid record of this codec (corrupt or foreign)."""


class StaleFacts(CodecError):
    """A valid record of another codec or facts version: examine the file again."""


class UnsupportedType(TypeError):
    """A facts field whose type the codec does not know (a bug to fix here, found by tests)."""


def _fail(where: str, what: str) -> CodecError:
    return CodecError(f"{where}: {what}")


# -- leaves ------------------------------------------------------------------------------------


def _scalar(kind: type) -> tuple[Encode, Decode]:
    def decode(v: Json, where: str) -> Any:
        if type(v) is not kind:  # exact: a bool is not an int, an int not a str
            raise _fail(where, f"expected {kind.__name__}")
        return v

    return (lambda v: v), decode


def _bytes() -> tuple[Encode, Decode]:
    def decode(v: Json, where: str) -> bytes:
        if not isinstance(v, str):
            raise _fail(where, "expected base64 text")
        try:
            return base64.b64decode(v.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as err:
            raise _fail(where, "invalid base64") from err

    return (lambda v: base64.b64encode(v).decode("ascii")), decode


def _datetime() -> tuple[Encode, Decode]:
    def decode(v: Json, where: str) -> datetime:
        if not isinstance(v, str):
            raise _fail(where, "expected an ISO 8601 time")
        try:
            moment = datetime.fromisoformat(v)
        except ValueError as err:
            raise _fail(where, "invalid ISO 8601 time") from err
        if moment.tzinfo is None:
            raise _fail(where, "time without a UTC offset")
        return moment

    def encode(v: datetime) -> str:
        if v.tzinfo is None:
            raise ValueError("naive datetime in the facts")
        return v.isoformat()

    return encode, decode


def _enum(cls: type[enum.Enum]) -> tuple[Encode, Decode]:
    def decode(v: Json, where: str) -> enum.Enum:
        try:
            return cls(v)
        except ValueError as err:
            raise _fail(where, f"unknown {cls.__name__} {v!r}") from err

    return (lambda v: v.value), decode


def _literal(values: tuple[Any, ...]) -> tuple[Encode, Decode]:
    if not all(isinstance(v, str) for v in values):
        raise UnsupportedType(f"Literal{list(values)}: only string literals")

    def decode(v: Json, where: str) -> str:
        if v not in values:
            raise _fail(where, f"expected one of {', '.join(values)}")
        return str(v)

    return (lambda v: v), decode


def _optional(inner: tuple[Encode, Decode]) -> tuple[Encode, Decode]:
    enc, dec = inner

    def decode(v: Json, where: str) -> Any:
        return None if v is None else dec(v, where)

    return (lambda v: None if v is None else enc(v)), decode


def _tuple_of(inner: tuple[Encode, Decode]) -> tuple[Encode, Decode]:
    enc, dec = inner

    def decode(v: Json, where: str) -> tuple[Any, ...]:
        if not isinstance(v, list):
            raise _fail(where, "expected an array")
        return tuple(dec(item, f"{where}[{i}]") for i, item in enumerate(v))

    return (lambda v: [enc(item) for item in v]), decode


# -- dataclasses, from their annotations ------------------------------------------------------


def _hints(cls: type) -> dict[str, Any]:
    """Resolved annotations; names imported only for type checking are looked up in the
    module that defines them (the pipeline's modules)."""
    import ltv.evidence.outcome as outcome
    import ltv.pipeline.extract as extract
    import ltv.pipeline.facts as facts
    import ltv.pipeline.integrity as integrity

    namespace: dict[str, Any] = {}
    for module in (outcome, extract, integrity, facts):
        namespace.update(vars(module))
    namespace.update(vars(sys.modules[cls.__module__]))
    try:
        return typing.get_type_hints(cls, globalns=namespace, localns=namespace)
    except NameError as err:
        raise UnsupportedType(f"{cls.__qualname__}: unresolved annotation ({err})") from err


_SHAPES: dict[type, dict[str, tuple[Encode, Decode]]] = {}


def _codec(tp: Any) -> tuple[Encode, Decode]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(args) != 2:
            raise UnsupportedType(f"{tp}: only 'X | None' unions")
        return _optional(_codec(rest[0]))
    if origin is typing.Literal:
        return _literal(args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _tuple_of(_codec(args[0]))
        raise UnsupportedType(f"{tp}: only tuple[X, ...]")
    if tp is bool or tp is int or tp is str:
        return _scalar(tp)
    if tp is bytes:
        return _bytes()
    if tp is datetime:
        return _datetime()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    raise UnsupportedType(f"{tp!r}: no JSON form for this type")


def _dataclass(cls: type) -> tuple[Encode, Decode]:
    shape = shape_of(cls)
    names = tuple(shape)

    def encode(v: Any) -> dict[str, Json]:
        return {name: shape[name][0](getattr(v, name)) for name in names}

    def decode(v: Json, where: str) -> Any:
        if not isinstance(v, dict):
            raise _fail(where, f"expected a {cls.__name__} object")
        if v.keys() != shape.keys():
            extra, missing = sorted(v.keys() - shape.keys()), sorted(shape.keys() - v.keys())
            raise _fail(where, f"{cls.__name__}: unknown keys {extra}, missing keys {missing}")
        return cls(**{name: dec(v[name], f"{where}.{name}") for name, (_, dec) in shape.items()})

    return encode, decode


def shape_of(cls: type) -> dict[str, tuple[Encode, Decode]]:
    """Field name → (encode, decode) of a facts dataclass (every field, in order)."""
    shape = _SHAPES.get(cls)
    if shape is None:
        hints = _hints(cls)
        shape = {}
        _SHAPES[cls] = shape  # (a recursive type would find itself: none exists today)
        for f in dataclasses.fields(cls):
            if not f.init:
                raise UnsupportedType(f"{cls.__name__}.{f.name}: a field outside __init__")
            try:
                shape[f.name] = _codec(hints[f.name])
            except UnsupportedType as err:
                del _SHAPES[cls]
                raise UnsupportedType(f"{cls.__name__}.{f.name}: {err}") from None
    return shape


@functools.cache
def _document() -> tuple[Encode, Decode]:
    return _dataclass(DocumentFacts)


_CODECS: dict[type, tuple[Encode, Decode]] = {}


def _of(cls: type) -> tuple[Encode, Decode]:
    found = _CODECS.get(cls)
    if found is None:
        found = _CODECS[cls] = _dataclass(cls)
    return found


def encode_value(value: Any) -> str:
    """Any facts-like dataclass (e.g. a RevocationOutcome) as compact JSON, same rules."""
    return json.dumps(_of(type(value))[0](value), separators=(",", ":"), ensure_ascii=True)


def decode_value(cls: type[_T], text: str | bytes) -> _T:
    """:func:`encode_value`'s JSON back as a ``cls``; :class:`CodecError` if it is not."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise CodecError(f"not JSON: {err}") from err
    try:
        value: _T = _of(cls)[1](data, cls.__name__)
    except CodecError:
        raise
    except (TypeError, ValueError) as err:
        raise CodecError(f"{cls.__name__}: {err}") from err
    return value


def encode_facts(facts: DocumentFacts) -> str:
    """The JSON record of ``facts`` (compact, ASCII, keys in field order)."""
    record = {
        "codec": CODEC_VERSION,
        "facts_version": facts.version,
        "facts": _document()[0](facts),
    }
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True)


def decode_facts(text: str | bytes, *, sha256: str | None = None) -> DocumentFacts:
    """Facts back from :func:`encode_facts`'s record.

    :raises StaleFacts: a record of another codec or facts version (re-examine the file).
    :raises CodecError: anything else that is not exactly such a record, or the facts of
        another file than ``sha256``.
    """
    try:
        record = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise CodecError(f"not JSON: {err}") from err
    if not isinstance(record, dict) or record.keys() != {"codec", "facts_version", "facts"}:
        raise CodecError("not a facts record")
    codec, version = record["codec"], record["facts_version"]
    if codec != CODEC_VERSION or version != FACTS_VERSION:
        raise StaleFacts(
            f"facts record of codec {codec!r} / facts version {version!r} "
            f"(this ltv: {CODEC_VERSION} / {FACTS_VERSION})"
        )
    try:
        facts: DocumentFacts = _document()[1](record["facts"], "facts")
    except (TypeError, ValueError) as err:  # a constructor refusing a value
        if isinstance(err, CodecError):
            raise
        raise CodecError(f"facts: {err}") from err
    if facts.version != FACTS_VERSION:
        raise StaleFacts(f"facts of version {facts.version} inside a version {version} record")
    if sha256 is not None and facts.sha256 != sha256:
        raise CodecError(f"facts of {facts.sha256}, stored under {sha256}")
    return facts
