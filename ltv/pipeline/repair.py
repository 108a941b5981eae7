"""Reading damaged PDFs without rewriting them.

Some real files have broken cross-reference *pointers*: a ``startxref`` that points into the
middle of a signature, a trailer ``/Prev 0``, object offsets shifted because bytes were cut or
inserted. Acrobat, EU DSS and qpdf read them by scanning; pyHanko's reader (strict or not) gives
up. Rewriting such a file (qpdf/pikepdf repair) would change the very bytes the signatures
cover, so ltv instead reads the *original bytes* with pyHanko's own parser, steered by an index
built by scanning them:

- every revision ends with ``startxref N %%EOF``; its cross-reference section is the one ``N``
  points at when that is a section, else the last section (``xref`` table or ``/Type /XRef``
  stream) that starts between the previous ``%%EOF`` and this one; ``/Prev`` is not followed
  (the sections are taken in file order, newest last);
- an indirect object whose offset in the table does not hold its ``N G obj`` header is read at
  the scanned header of the same number and generation nearest to that offset.

Nothing else is guessed: digests are computed over the ByteRanges of the raw file, as always, so
a signature over cut bytes still comes out "not intact". Every repair is reported as a warning.
Only used when pyHanko's own reader fails on the file.
"""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

__all__ = ["ScanIndex", "open_tolerant"]

_XREF_TABLE = re.compile(rb"(?:^|(?<=[\r\n]))xref[ \t]*[\r\n]+[ \t]*\d+[ \t]+\d+")
_EOF = re.compile(rb"startxref[ \t\r\n]+(\d{1,12})[ \t\r\n]*%%EOF")
_XREF_TYPE = re.compile(rb"/Type[ \t\r\n]*/XRef(?![A-Za-z])")


@dataclass
class ScanIndex:
    """Where things are in the raw bytes."""

    objects: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    """(number, generation) → offsets of every ``N G obj`` header, ascending."""
    sections: list[int] = field(default_factory=list)
    """Offsets of cross-reference sections (tables and streams), ascending."""
    eofs: list[tuple[int, int, int]] = field(default_factory=list)
    """(start of ``startxref``, declared offset, end of ``%%EOF``) per revision, in order."""
    repairs: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, data: bytes | Any) -> ScanIndex:
        from ltv.pipeline.hidden import find_headers

        index = cls()
        for idnum, generation, offset in find_headers(data):
            index.objects.setdefault((idnum, generation), []).append(offset)
            end = data.find(b"obj", offset) + 3
            head = data[end : end + 512]
            cut = head.find(b"stream")
            if _XREF_TYPE.search(head if cut < 0 else head[:cut]):
                index.sections.append(offset)
        index.sections.extend(m.start() for m in _XREF_TABLE.finditer(data))
        index.sections.sort()
        index.eofs = [(m.start(), int(m.group(1)), m.end()) for m in _EOF.finditer(data)]
        return index

    def revision_sections(self) -> list[tuple[int, int]]:
        """(actual section offset, declared startxref) per revision, oldest first."""
        out: list[tuple[int, int]] = []
        section_set = set(self.sections)
        previous_end = 0
        for start, declared, end in self.eofs:
            if declared in section_set:
                actual = declared
            else:
                lo = bisect.bisect_left(self.sections, previous_end)
                hi = bisect.bisect_left(self.sections, start)
                if hi <= lo:
                    previous_end = end
                    continue  # no section in this revision: not a revision we can read
                actual = self.sections[hi - 1]
                self.repairs.append(
                    f"startxref {declared} of the revision ending at byte {end} does not point "
                    f"at a cross-reference section; using the one at byte {actual}"
                )
            out.append((actual, declared))
            previous_end = end
        return out

    def nearest_object(self, idnum: int, generation: int, near: int) -> int | None:
        """The scanned header of this object nearest to ``near``, preferring one inside the
        revision (the bytes between two ``%%EOF`` markers) that ``near`` falls in: an update's
        objects live in its own revision."""
        offsets = self.objects.get((idnum, generation))
        if not offsets:
            return None
        start = 0
        for _, _, end in self.eofs:
            if near < end:
                inside = [off for off in offsets if start <= off < end]
                if inside:
                    offsets = inside
                break
            start = end
        return min(offsets, key=lambda off: abs(off - near))


def _builder_class() -> type[Any]:
    from pyhanko.pdf_utils.xref import XRefBuilder

    class _ScannedXRefBuilder(XRefBuilder):
        """pyHanko's XRefBuilder, reading the sections the scan found instead of following
        ``startxref``/``/Prev`` pointers."""

        index: ScanIndex

        def read_xrefs(self) -> Any:
            from pyhanko.pdf_utils import misc

            stream = self.stream
            revisions = self.index.revision_sections()
            if not revisions:
                raise misc.PdfReadError("no readable cross-reference section found by scanning")
            for actual, declared in reversed(revisions):  # newest first, as pyHanko reads
                stream.seek(actual)
                if stream.read(4) == b"xref":
                    self._read_xref_table(declared)
                else:
                    stream.seek(actual)
                    self._read_xref_stream(declared)
                    self.has_xref_stream = True
            if len(revisions) > 1:
                self.index.repairs.append(
                    f"{len(revisions)} revisions read in file order (/Prev pointers not followed)"
                )
            return list(reversed(self.sections))

    return _ScannedXRefBuilder


def _reader_class() -> type[Any]:
    from pyhanko.pdf_utils import generic, misc
    from pyhanko.pdf_utils.decode_limits import DecodeContext, DecodeLimits
    from pyhanko.pdf_utils.reader import PdfFileReader, _read_header_version
    from pyhanko.pdf_utils.xref import XRefCache, read_object_header

    from ltv.pipeline.lazy import reader_class

    builder_class = _builder_class()

    class _TolerantReader(reader_class(PdfFileReader)):  # type: ignore[misc]
        """pyHanko's reader on the original bytes, steered by a :class:`ScanIndex`.

        ``__init__`` follows pyHanko 0.38's ``PdfFileReader.__init__`` except that the
        cross-reference sections come from :class:`_ScannedXRefBuilder`; ``_read_object``
        re-locates an object whose table offset does not hold its header."""

        def __init__(self, stream: BinaryIO, index: ScanIndex) -> None:
            self.index = index
            self._security_handler = None
            self.strict = False
            stream.seek(0, os.SEEK_END)
            self._decode_context = DecodeContext(DecodeLimits(), input_size=stream.tell())
            self.resolved_objects: dict[Any, Any] = {}
            self._header_version = None
            self._input_version = None
            self._historical_resolver_cache: dict[int, Any] = {}
            self.stream = stream
            self._header_version = _read_header_version(stream)
            builder = builder_class(handler=self, stream=stream, strict=False, last_startxref=0)
            builder.index = index
            sections = builder.read_xrefs()
            self.xrefs = XRefCache(self, sections)
            self.last_startxref = index.eofs[-1][1] if index.eofs else 0
            self.trailer = builder.trailer
            self.has_xref_stream = builder.has_xref_stream
            self._embedded_signatures = None

        def _read_object(
            self,
            ref: Any,
            marker: Any,
            never_decrypt: bool = False,
            as_metadata_stream: bool = False,
        ) -> Any:
            if isinstance(marker, int) and not isinstance(marker, bool):
                try:
                    self.stream.seek(marker)
                    found = read_object_header(self.stream, strict=False)  # type: ignore[no-untyped-call]
                except (misc.PdfReadError, ValueError):
                    found = None
                if found != (ref.idnum, ref.generation):
                    nearest = self.index.nearest_object(ref.idnum, ref.generation, marker)
                    if nearest is not None and nearest != marker:
                        self.index.repairs.append(
                            f"object {ref.idnum} {ref.generation} is at byte {nearest}, "
                            f"not at {marker} as its cross-reference entry says"
                        )
                        marker = nearest
            return super()._read_object(
                ref, marker, never_decrypt=never_decrypt, as_metadata_stream=as_metadata_stream
            )

    _ = generic
    return _TolerantReader


def open_tolerant(stream: BinaryIO) -> tuple[Any, ScanIndex]:
    """A pyHanko ``PdfFileReader`` over ``stream`` (not modified) whose cross-reference
    structure was located by scanning; raises pyHanko's read errors when even that fails."""
    stream.seek(0)
    data = stream.read()
    index = ScanIndex.scan(data)
    stream.seek(0)
    return _reader_class()(stream, index), index
