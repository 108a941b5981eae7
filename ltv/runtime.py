"""The API conventions every ltv entry point follows (``Signer``, ``Extender``, ``Verifier``).

* **Time** is an argument: each call takes ``at=`` (a timezone-aware datetime); without it the
  object's ``clock`` is asked (a zero-argument callable returning an aware datetime; default
  :func:`utc_now`, the one place the wall clock is read). Naive datetimes are a
  :class:`~ltv.errors.UsageError`.
* **Network** is an object: ``network=`` is a :class:`~ltv.evidence.http.Transport` instance
  (default: a new :class:`~ltv.evidence.http.HttpClient`), shared by all operations of that
  object; each operation (one signature, one extension, one verification) sees it through its own
  :class:`~ltv.evidence.http.Session` (:func:`operation_session`): its own request record and a
  total budget (``network_budget=``, default 30 s).
* **Documents** are ``bytes``, a path (``str`` or ``os.PathLike``) or a binary file object
  (:data:`Document`, :func:`open_document`).
* **Sync and async** methods come in pairs with the same arguments and return types
  (``sign``/``asign``); the sync one raises :class:`~ltv.errors.UsageError` when called inside a
  running event loop (:func:`run_sync`).

>>> from datetime import UTC, datetime
>>> resolve_time(datetime(2026, 1, 1, 12, tzinfo=UTC), utc_now)
datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
>>> resolve_time(None, lambda: datetime(2030, 5, 1, tzinfo=UTC)).year
2030
>>> with open_document(b"%PDF-1.7 ...") as stream:
...     stream.read(4)
b'%PDF'
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar, Union

from ltv.errors import InputError, UsageError

if TYPE_CHECKING:
    from ltv.evidence.http import Session, Transport

__all__ = [
    "Clock",
    "Document",
    "default_network",
    "document_name",
    "open_document",
    "operation_session",
    "read_document",
    "resolve_time",
    "run_sync",
    "utc_now",
]

T = TypeVar("T")

Clock = Callable[[], datetime]
"""Where "now" comes from: a callable returning a timezone-aware datetime."""

Document = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryIO]
"""A PDF as bytes, a path, or a readable binary file object."""


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(UTC)


def resolve_time(at: datetime | None, clock: Clock, *, what: str = "at") -> datetime:
    """``at`` (must be timezone-aware), else ``clock()``; always returned in UTC."""
    when = clock() if at is None else at
    if when.tzinfo is None or when.utcoffset() is None:
        source = f"{what}=" if at is not None else "the clock"
        raise UsageError(
            f"{source} gave a naive datetime; times must be timezone-aware",
            hint="e.g. datetime(2026, 1, 1, tzinfo=UTC)",
        )
    return when.astimezone(UTC)


def run_sync(coro: Coroutine[object, object, T], *, method: str) -> T:
    """Run *coro* to completion from synchronous code.

    Inside a running event loop this is a :class:`UsageError` (blocking the loop would
    deadlock a server): await the ``a*`` method instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise UsageError(
        f"{method}() called inside a running event loop",
        hint=f"await a{method}() instead",
    )


def default_network() -> Transport:
    """A new :class:`~ltv.evidence.http.HttpClient` with keep-alive (the default ``network=``)."""
    from ltv.evidence.http import HttpClient

    return HttpClient(keep_alive=True)


def operation_session(network: Transport, budget: float | None) -> Session:
    """One operation's view of *network*: its own request record and a total time budget."""
    from ltv.evidence.http import Session

    if budget is not None and budget <= 0:
        raise UsageError("the network budget must be positive")
    return Session(network, budget=budget)


def document_name(document: Document) -> str:
    """What error messages call *document*: its path, the file's name, or ``<memory>``."""
    if isinstance(document, str | os.PathLike):
        return str(document)
    name = getattr(document, "name", None)
    return name if isinstance(name, str) else "<memory>"


@contextlib.contextmanager
def open_document(document: Document) -> Iterator[BinaryIO]:
    """A seekable binary stream over *document* (a path is opened read-only and closed after).

    A path that cannot be read is an :class:`InputError` naming it; a non-seekable file object
    is read into memory.
    """
    if isinstance(document, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(document))
        return
    if isinstance(document, str | os.PathLike):
        path = Path(document)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise InputError(f"input {str(path)!r} does not exist") from None
        except IsADirectoryError:
            raise InputError(f"input {str(path)!r} is a directory") from None
        except OSError as err:
            raise InputError(f"cannot read {str(path)!r}: {err.strerror}") from None
        with fh:
            yield fh
        return
    stream = document
    if not (hasattr(stream, "read") and hasattr(stream, "seek")):
        raise UsageError(f"expected bytes, a path or a binary file, got {type(document).__name__}")
    try:
        seekable = stream.seekable()
    except (AttributeError, OSError):
        seekable = False
    if not seekable:
        yield io.BytesIO(stream.read())
        return
    start = stream.tell()
    try:
        yield stream
    finally:
        with contextlib.suppress(OSError, ValueError):
            stream.seek(start)


def read_document(document: Document) -> bytes:
    """The whole of *document* as bytes."""
    if isinstance(document, bytes):
        return document
    with open_document(document) as stream:
        stream.seek(0)
        try:
            return stream.read()
        except OSError as err:
            raise InputError(f"cannot read {document_name(document)!r}: {err.strerror}") from None
