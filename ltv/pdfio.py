"""PDF plumbing for signing and extending: readers, incremental writers, the DSS, and output.

Signing writes **streaming**: pyHanko copies the input to the output in chunks, computes the
ByteRange digest by reading the output back in chunks and fills the signature in place; later
updates (DSS, document timestamp) are appended in place to the same file. Nothing holds the
document in memory, so the peak RSS of signing does not grow with the file (see
``docs/decisions.md``, "Signing memory"). The bytes API (``Signer.sign`` returning ``bytes``)
does the same into a :class:`io.BytesIO`.

:class:`AtomicOutput` is the file side: a temporary file in the destination's directory,
created *before* any network request (so a missing, read-only or full directory fails first),
renamed over the destination only when everything succeeded; every I/O failure
(``ENOSPC``, ``EFBIG`` from ``ulimit -f``, ``EACCES``...) is an :class:`~ltv.errors.InputError`
naming the path, and leaves no partial or temporary file.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with AtomicOutput(d / "out.pdf") as out:
...     _ = out.file.write(b"%PDF-1.7")
...     out.commit()
>>> sorted(p.name for p in d.iterdir())
['out.pdf']
>>> AtomicOutput(d / "missing" / "out.pdf")
Traceback (most recent call last):
ltv.pdfio.OutputError: output directory ... does not exist
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from ltv._memo import content_memo
from ltv.certs import fingerprint
from ltv.errors import InputError

if TYPE_CHECKING:
    from datetime import datetime

    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from ltv.evidence.gather import CertificateEvidence

__all__ = [
    "CHUNK",
    "AtomicOutput",
    "OutputError",
    "add_dss",
    "append_update",
    "embed_evidence",
    "open_writer",
    "read_region",
]

CHUNK: Final = 1 << 20
"""Bytes per read/write when copying and hashing documents."""

_WHY: Final = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "file too large (file size limit, e.g. ulimit -f)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


class OutputError(InputError):
    """The output could not be written (exit 4, one line naming the path)."""


def output_error(path: str | os.PathLike[str], err: OSError) -> OutputError:
    why = _WHY.get(err.errno or 0) or err.strerror or type(err).__name__
    return OutputError(
        f"cannot write {str(path)!r}: {why}",
        hint="nothing was written; free space or choose another output directory",
    )


class _GuardedFile(io.BufferedRandom):
    """The temporary output: an OSError while writing becomes an :class:`OutputError`."""

    def __init__(self, raw: io.FileIO, display: str) -> None:
        super().__init__(raw, CHUNK)
        self._display = display

    def write(self, data: object) -> int:
        try:
            return super().write(data)  # type: ignore[arg-type]
        except OSError as err:
            raise output_error(self._display, err) from None

    def flush(self) -> None:
        try:
            super().flush()
        except OSError as err:
            raise output_error(self._display, err) from None

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        try:
            return super().seek(offset, whence)
        except OSError as err:
            raise output_error(self._display, err) from None

    def truncate(self, size: int | None = None) -> int:
        try:
            return super().truncate(size)
        except OSError as err:
            raise output_error(self._display, err) from None


class AtomicOutput:
    """A temporary file beside *path*, renamed over it by :meth:`commit`; removed otherwise.

    Created eagerly: the directory is checked (exists, is a directory, writable) at once. Where
    the file system supports it (Linux ``O_TMPFILE``: ext4, xfs, btrfs, tmpfs) the temporary
    file has no name until :meth:`commit` links it in, so a process killed midway (``kill -9``)
    leaves nothing behind; elsewhere it is a hidden ``.NAME.*.tmp`` beside the destination.
    """

    def __init__(self, path: str | os.PathLike[str], *, mode: int = 0o644) -> None:
        self.path = Path(path)
        self.mode = mode
        directory = self.path.parent if str(self.path.parent) else Path()
        self.directory = directory
        if not directory.exists():
            raise OutputError(f"output directory {str(directory)!r} does not exist")
        if not directory.is_dir():
            raise OutputError(f"output directory {str(directory)!r} is not a directory")
        self.tmp: Path | None = None
        fd = self._unnamed(directory)
        if fd is None:
            try:
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{self.path.name}.", suffix=".tmp", dir=directory
                )
            except OSError as err:
                raise output_error(directory, err) from None
            self.tmp = Path(tmp)
        self._fd = fd
        self.file: IO[bytes] = _GuardedFile(io.FileIO(fd, "r+"), str(self.path))
        self._done = False

    @staticmethod
    def _unnamed(directory: Path) -> int | None:
        flag = getattr(os, "O_TMPFILE", None)
        if flag is None or not Path("/proc/self/fd").is_dir():
            return None
        try:
            return os.open(directory, flag | os.O_RDWR | os.O_CLOEXEC, 0o600)
        except OSError as err:
            if err.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                return None  # the file system cannot: a named temporary file then
            raise output_error(directory, err) from None

    def commit(self) -> None:
        """Flush, fsync, set the mode and rename over the destination (then fsync the dir)."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            if self.tmp is None:  # O_TMPFILE: give it a name now, then rename it into place
                name = self.directory / f".{self.path.name}.{os.urandom(6).hex()}.tmp"
                # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N (os.link without a dir_fd would
                # call link(2), which does not follow the magic link)
                proc_fd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.link(str(self._fd), name, src_dir_fd=proc_fd, follow_symlinks=True)
                finally:
                    os.close(proc_fd)
                self.tmp = name
            self.file.close()
            os.chmod(self.tmp, self.mode)
            os.replace(self.tmp, self.path)
        except OutputError:
            self.discard()
            raise
        except OSError as err:
            self.discard()
            raise output_error(self.path, err) from None
        self._done = True
        with contextlib.suppress(OSError):
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def discard(self) -> None:
        """Close and remove the temporary file (idempotent)."""
        with contextlib.suppress(Exception):
            self.file.close()
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                self.tmp.unlink()
        self._done = True

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            self.discard()


# -- PDF ---------------------------------------------------------------------------------------


def open_writer(stream: IO[bytes], *, modified: datetime | None = None) -> IncrementalPdfFileWriter:
    """An incremental writer over *stream*; :class:`InputError` if it is not a usable PDF.

    The document information (``/Info`` ``/ModDate`` and ``/Producer``, XMP metadata) is
    updated only by a revision given ``modified`` — one that changes the document, a
    signature's — and dated ``modified``: pyHanko would date it by the local clock, whatever
    the operation's time (``--at``, a signer's ``clock``). A revision that only adds evidence
    or a document timestamp leaves it alone (pyHanko would re-date it and rewrite the XMP
    stream each time).
    """
    stream.seek(0)
    head = stream.read(1024)
    stream.seek(0)
    if not head.lstrip()[:5].startswith(b"%PDF"):
        raise InputError("input is not a PDF file (no %PDF header)")
    try:
        w = _writer_class()(stream, modified)
    except InputError:
        raise
    except Exception as err:  # whatever pyHanko's reader raises on a damaged file
        raise InputError(f"cannot read the PDF: {' '.join(str(err).split())}") from None
    if w.security_handler is not None:
        raise InputError("encrypted PDFs are not supported")
    w.IO_CHUNK_SIZE = CHUNK
    return w


@functools.cache
def _writer_class() -> Callable[[IO[bytes], datetime | None], IncrementalPdfFileWriter]:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.metadata.model import DocumentMetadata

    class DatedMetadata(DocumentMetadata):
        """pyHanko's metadata record whose "now" is the operation's time: pyHanko's writer
        sets ``last_modified = 'now'`` (the local clock, read when the dates are written)
        before every update of the document information."""

        def __setattr__(self, name: str, value: object) -> None:
            if name == "last_modified" and value == "now":
                value = self.__dict__.get("ltv_when", value)
            super().__setattr__(name, value)

    class Writer(IncrementalPdfFileWriter):
        """pyHanko's incremental writer; document information only when ``modified``."""

        def __init__(self, stream: IO[bytes], modified: datetime | None) -> None:
            super().__init__(stream)
            self._ltv_modified = modified
            if modified is not None:
                meta = DatedMetadata()
                meta.ltv_when = modified
                self._meta = meta

        def _update_meta(self) -> None:
            if self._ltv_modified is not None:
                super()._update_meta()  # type: ignore[no-untyped-call]

    return Writer


def append_update(writer: IncrementalPdfFileWriter) -> None:
    """Append *writer*'s incremental update to the stream it reads (in place, streaming)."""
    writer.write_in_place()  # type: ignore[no-untyped-call]


def read_region(stream: IO[bytes], start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of *stream* (its position is kept)."""
    pos = stream.tell()
    try:
        stream.seek(start)
        return stream.read(end - start)
    finally:
        stream.seek(pos)


def add_dss(
    writer: IncrementalPdfFileWriter,
    evidence: Iterable[CertificateEvidence],
    *,
    certs: Iterable[asn1_x509.Certificate] = (),
    vri_for: bytes | None = None,
) -> None:
    """Put certificates, OCSP responses and CRLs in the DSS (EN 319 142-1 §5.4.2.2, VRI).

    ``vri_for`` is the signature's ``/Contents`` (with padding): its SHA-1 names the VRI entry.
    Only checked evidence (:class:`~ltv.evidence.gather.CertificateEvidence`) comes here.
    """
    from asn1crypto import crl as asn1_crl
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    all_certs: dict[str, asn1_x509.Certificate] = {}
    ocsps: dict[bytes, asn1_ocsp.OCSPResponse] = {}
    crls: dict[bytes, asn1_crl.CertificateList] = {}
    for c in certs:
        all_certs.setdefault(fingerprint(c), c)
    for ev in evidence:
        for c in (ev.cert, ev.issuer):
            all_certs.setdefault(fingerprint(c), c)
        if ev.ocsp is not None and ev.ocsp not in ocsps:
            ocsps[ev.ocsp] = _ocsp_response(ev.ocsp)
        if ev.crl is not None:
            crls.setdefault(ev.crl, asn1_crl.CertificateList.load(ev.crl))
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        vri_for,
        certs=list(all_certs.values()),
        ocsps=list(ocsps.values()),
        crls=list(crls.values()),
    )


@content_memo(maxsize=256, max_bytes=64 * 1024)
def _ocsp_response(der: bytes) -> asn1_ocsp.OCSPResponse:
    """A checked response for the DSS, parsed once while it is served (pyHanko reads the
    certificates inside it for the VRI: a fresh parse would rehash their names each time)."""
    from asn1crypto import ocsp as asn1_ocsp

    return asn1_ocsp.OCSPResponse.load(der)


def embed_evidence(
    pdf: bytes,
    *,
    ocsps: Iterable[bytes] = (),
    crls: Iterable[bytes] = (),
    certs: Iterable[asn1_x509.Certificate] = (),
    vri_field: str | None = None,
) -> bytes:
    """Append a DSS update holding the given OCSP responses, CRLs and certificates *as is*.

    No fetching and no judging: the tool for building fixtures (e.g. a document whose DSS says
    'revoked') and for importing evidence obtained elsewhere. ``vri_field`` names the signature
    whose VRI entry (EN 319 142-1 §5.4.2.2) should list the data.
    """
    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    stream = io.BytesIO(pdf)
    writer = open_writer(stream)
    vri_for = None
    if vri_field is not None:
        match = [s for s in writer.prev.embedded_signatures if s.field_name == vri_field]
        if not match:
            raise InputError(f"no signature field {vri_field!r}")
        vri_for = match[0].pkcs7_content
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        vri_for,
        certs=list(certs),
        ocsps=[asn1_ocsp.OCSPResponse.load(d) for d in ocsps],
        crls=[asn1_crl.CertificateList.load(d) for d in crls],
    )
    append_update(writer)
    return stream.getvalue()
