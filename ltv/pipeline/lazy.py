"""Large stream payloads stay on disk: verifying a 1 GB PDF must not hold 1 GB in memory.

pyHanko's reader reads an object's stream payload eagerly, and its difference analysis visits
every object reachable from the document (``_compute_paths_to_refs``) — so one large image or
attachment made ``ltv verify`` grow to the size of the file. While an indirect object whose
extent in the file exceeds ``threshold`` is read, the reader's stream is wrapped
(:class:`DeferringStream`): a payload read larger than ``threshold`` bytes returns a placeholder
that remembers where the payload is instead of reading it, and the stream object built from it
becomes a :class:`LazyStreamObject`, whose encoded bytes are read from the file again each time
they are asked for (never cached; decoded data, once someone asks for it, is kept as pyHanko
keeps it). Everything else — cross-reference streams, ByteRange digests, small objects — reads
the file directly, as before.

Tied to pyHanko 0.38's reader (``PdfFileReader._read_object`` and
``generic._maybe_read_stream_payload``); pinned ``<0.39`` and guarded by tests.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

__all__ = ["DEFAULT_THRESHOLD", "DeferringStream", "LazyStreamObject", "reader_class"]

DEFAULT_THRESHOLD = 4 << 20
"""Payloads larger than this (bytes) are read from disk on demand."""


class _Deferred(bytes):
    """An empty ``bytes`` standing for ``length`` payload bytes at ``offset`` in the file."""

    offset: int
    length: int

    def __new__(cls, offset: int, length: int) -> _Deferred:
        obj = super().__new__(cls, b"")
        obj.offset = offset
        obj.length = length
        return obj

    def __getitem__(self, key: Any) -> Any:
        # pyHanko trims one byte when /Length was one too long (`stream_data[:-1]`)
        if isinstance(key, slice) and key.start is None and key.step is None:
            stop = key.stop if key.stop is not None else self.length
            if stop < 0:
                stop = self.length + stop
            return _Deferred(self.offset, max(0, min(stop, self.length)))
        raise TypeError("a deferred stream payload is not indexable")


class DeferringStream(io.RawIOBase):
    """The reader's file, with large payload reads deferred while ``deferring`` is on."""

    def __init__(self, inner: BinaryIO, threshold: int = DEFAULT_THRESHOLD) -> None:
        super().__init__()
        self.inner = inner
        self.threshold = threshold
        self.deferring = 0
        inner.seek(0, io.SEEK_END)
        self.size = inner.tell()
        inner.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.deferring and size is not None and size > self.threshold:
            pos = self.inner.tell()
            if self._after_stream_keyword(pos):  # the payload read, nothing else
                length = max(0, min(size, self.size - pos))
                self.inner.seek(pos + length)
                return _Deferred(pos, length)
        return self.inner.read(-1 if size is None else size)

    def _after_stream_keyword(self, pos: int) -> bool:
        """Whether ``pos`` is where a stream payload starts: right after ``stream`` + EOL
        (ISO 32000-2 §7.3.8.1), where pyHanko reads ``/Length`` bytes."""
        back = min(pos, 8)
        self.inner.seek(pos - back)
        before = self.inner.read(back)
        self.inner.seek(pos)
        return before.endswith((b"stream\r\n", b"stream\n", b"stream\r"))

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def read_at(self, offset: int, length: int) -> bytes:
        pos = self.inner.tell()
        try:
            self.inner.seek(offset)
            return self.inner.read(length)
        finally:
            self.inner.seek(pos)


def _lazy_class() -> type[Any]:
    from pyhanko.pdf_utils import generic

    class _LazyStreamObject(generic.StreamObject):
        """A stream object whose encoded payload is read from the file when asked for."""

        _source: DeferringStream
        _where: _Deferred

        @property
        def _encoded_data(self) -> bytes | None:
            override = self.__dict__.get("_encoded_override")
            if override is not None:
                return override  # type: ignore[no-any-return]
            return self._source.read_at(self._where.offset, self._where.length)

        @_encoded_data.setter
        def _encoded_data(self, value: bytes | None) -> None:
            if value is not None and not isinstance(value, _Deferred):
                self.__dict__["_encoded_override"] = value

        @property
        def _data(self) -> bytes | None:
            return self.__dict__.get("_data_override")

        @_data.setter
        def _data(self, value: bytes | None) -> None:
            # decoded data is kept once something asked for it (pyHanko's read_data relies on
            # that); only the encoded payload is never held
            self.__dict__["_data_override"] = value

    return _LazyStreamObject


_LAZY: type[Any] | None = None


def LazyStreamObject() -> type[Any]:
    global _LAZY
    if _LAZY is None:
        _LAZY = _lazy_class()
    return _LAZY


def reader_class(base: type[Any]) -> type[Any]:
    """``base`` (pyHanko's ``PdfFileReader`` or a subclass) reading large payloads lazily.

    Its constructor takes the file's stream as usual. An indirect object whose extent (the
    distance to the next object the cross-reference sections place after it) exceeds the
    threshold is read through a :class:`DeferringStream`; every other read goes straight to the
    file (pyHanko's tokenizer reads a byte at a time: a Python wrapper on every read would cost
    a third of the parse)."""
    from pyhanko.pdf_utils import generic

    lazy_cls = LazyStreamObject()

    class _Lazy(base):  # type: ignore[misc]
        stream: Any
        _deferring: DeferringStream | None = None
        _offsets: list[int] | None = None

        def _extent(self, marker: int) -> int:
            """Bytes from ``marker`` to the next object or section start (or the file end)."""
            import bisect

            if self._offsets is None:
                starts: set[int] = set()
                for section in self.xrefs._xref_sections:
                    starts.update(off for _, off in section.xref_data.standard_xrefs.values())
                    starts.add(int(section.meta_info.start_location))
                self.stream.seek(0, io.SEEK_END)
                starts.add(self.stream.tell())
                self._offsets = sorted(starts)
            offsets = self._offsets
            at = bisect.bisect_right(offsets, marker)
            return (offsets[at] if at < len(offsets) else offsets[-1]) - marker

        def _read_object(
            self,
            ref: Any,
            marker: Any,
            never_decrypt: bool = False,
            as_metadata_stream: bool = False,
        ) -> Any:
            threshold = DEFAULT_THRESHOLD
            big = (
                isinstance(marker, int)
                and not isinstance(marker, bool)
                and (
                    (self._deferring is not None and self.stream is self._deferring)  # nested
                    or self._extent(marker) > threshold
                )
            )
            if not big:
                return super()._read_object(
                    ref, marker, never_decrypt=never_decrypt, as_metadata_stream=as_metadata_stream
                )
            raw_stream = self.stream
            if self._deferring is None:
                self._deferring = DeferringStream(raw_stream, threshold)
            stream = self._deferring
            outer = self.stream is stream
            self.stream = stream
            stream.deferring += 1
            try:
                obj = super()._read_object(
                    ref, marker, never_decrypt=never_decrypt, as_metadata_stream=as_metadata_stream
                )
            finally:
                stream.deferring -= 1
                if not outer:
                    self.stream = stream.inner
            # an encrypted file's object comes wrapped: the payload is the raw object's
            target = obj.raw_object if isinstance(obj, generic.DecryptedObjectProxy) else obj
            if isinstance(target, generic.StreamObject):
                raw = target.__dict__.get("_encoded_data")
                if isinstance(raw, _Deferred):
                    if type(target) is generic.StreamObject:
                        del target.__dict__["_encoded_data"]
                        target.__class__ = lazy_cls
                        target.__dict__["_source"] = stream
                        target.__dict__["_where"] = raw
                    else:  # an XMP metadata stream & co.: small in practice, read it now
                        target.__dict__["_encoded_data"] = stream.read_at(raw.offset, raw.length)
            return obj

        def get_historical_resolver(self, revision: int) -> Any:
            cache = self._historical_resolver_cache
            try:
                return cache[revision]
            except KeyError:
                res = cache[revision] = _resolver_class()(self, revision)
                return res

    _Lazy.__name__ = f"Lazy{base.__name__}"
    return _Lazy


_RESOLVER: type[Any] | None = None


def _resolver_class() -> type[Any]:
    """pyHanko's ``HistoricalResolver``, copying lazy streams without reading them (its
    ``_subsume_object`` copies a stream with ``encoded_data=obj.encoded_data``)."""
    global _RESOLVER
    if _RESOLVER is not None:
        return _RESOLVER
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.reader import HistoricalResolver

    lazy_cls = LazyStreamObject()

    class _Resolver(HistoricalResolver):
        def _subsume_object(self, obj: Any) -> Any:
            if type(obj) is not lazy_cls:
                return super()._subsume_object(obj)  # type: ignore[no-untyped-call]
            container_ref = obj.get_container_ref()
            copy = generic.StreamObject({k: self._subsume_object(v) for k, v in obj.items()})
            copy.__class__ = lazy_cls
            copy.__dict__["_source"] = obj._source
            copy.__dict__["_where"] = obj._where
            copy.container_ref = generic.Reference(
                idnum=container_ref.idnum, generation=container_ref.generation, pdf=self
            )
            return copy

    _RESOLVER = _Resolver
    return _Resolver
