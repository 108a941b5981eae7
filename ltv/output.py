"""Atomic output files.

Every file ltv produces (signed PDFs, reports, databases exported by value) is
written through :func:`write_atomic`: the bytes go to a temporary file in the
*same directory* as the destination, are flushed and ``fsync``-ed, and the
temporary file is then renamed over the destination with :func:`os.replace`
(atomic on POSIX and Windows within one file system). A reader therefore sees
either the old file or the complete new one, never a partial write; a crash or
an error before the rename leaves no destination file behind.

:func:`check_output_path` enforces the two rules every writing command shares:
the output must not be one of the inputs, and an existing output is replaced
only when the caller says so (``--force``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ltv.errors import InputError, UsageError

__all__ = [
    "check_output_path",
    "output_failed",
    "same_file",
    "silence_stdout",
    "write_atomic",
    "write_stdout",
]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True if *a* and *b* name the same file (resolved paths, or same inode)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


def check_output_path(
    output: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    force: bool = False,
) -> Path:
    """Validate an output path before any work is done; return it as a :class:`Path`.

    Raises :class:`UsageError` if *output* is one of *inputs* (the input is never
    modified) or already exists and *force* is false, and :class:`InputError` if its
    directory does not exist.
    """
    out = Path(output)
    for inp in inputs:
        if same_file(inp, out):
            raise UsageError(
                f"output {str(out)!r} is the input file",
                hint="write to a new file; ltv never modifies its input",
            )
    if out.is_dir():
        raise UsageError(f"output {str(out)!r} is a directory")
    if out.exists() and not force:
        raise UsageError(
            f"output {str(out)!r} already exists",
            hint="choose another name or pass --force to replace it",
        )
    parent = out.parent if str(out.parent) else Path()
    if not parent.is_dir():
        raise InputError(f"output directory {str(parent)!r} does not exist")
    return out


def write_atomic(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Write *data* to *path* atomically (temp file in the same directory, fsync, rename).

    The destination is replaced if it exists (callers check ``--force`` first, see
    :func:`check_output_path`). On any error the temporary file is removed and the
    destination is left untouched. The directory is fsync-ed after the rename where the
    platform allows it, so the new name survives a crash.
    """
    dest = Path(path)
    directory = dest.parent if str(dest.parent) else Path()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def output_failed(where: str, err: OSError) -> InputError:
    """The error for an output that could not be written (read-only directory, ``ulimit -f``,
    disk full...): one line naming ``where``, exit 4 — an environment problem, not a bug."""
    import errno

    why = err.strerror or type(err).__name__
    hint = {
        errno.ENOSPC: "the disk is full",
        errno.EFBIG: "the file-size limit (ulimit -f) is too small for the output",
        errno.EROFS: "the file system is mounted read-only",
        errno.EACCES: "no permission to write there",
    }.get(err.errno or 0)
    return InputError(f"cannot write {where}: {why}", hint=hint)


def silence_stdout() -> None:
    """After a failed write to standard output, point fd 1 at /dev/null so that the
    interpreter's final flush cannot print a second error (Python docs, "Note on SIGPIPE")."""
    import sys

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output with ``os.write`` until every byte is out.

    Python's buffered ``sys.stdout`` reports success when the kernel accepts only part of a
    write (measured: under ``ulimit -f`` a 5000-byte write + flush "succeeds" with 1024 bytes
    on disk). Here a short write is retried, so a full disk or a file-size limit surfaces as the
    OSError it is (ENOSPC, EFBIG), never as silently truncated output.
    """
    import io
    import sys

    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (io.UnsupportedOperation, AttributeError):  # an in-memory stream (tests, embedding)
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    data = memoryview(text.encode(sys.stdout.encoding or "utf-8", errors="replace"))
    while data:
        written = os.write(fd, data)
        data = data[written:]
