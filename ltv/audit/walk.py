"""What to audit: files, directories (recursive), zip archives read in place, or a list on stdin.

Every input becomes :class:`Entry` items, each with a *label* (what the store and the reports
call it) and a way to read its bytes:

- a file named on the command line is audited whatever its name (``.zip``: its members);
- a directory is walked recursively in name order; ``*.pdf`` files are audited, ``*.zip``
  archives are opened, anything else is counted as skipped; directory symlinks are not
  followed (no loops);
- a zip archive is read in place with :mod:`zipfile`: its ``*.pdf`` members are audited as
  ``ARCHIVE!MEMBER``. Member names are labels only — never joined to a path, never created on
  disk — so ``../../etc/passwd`` or an absolute name is harmless. Nested archives are skipped;
  an encrypted member, a broken archive or a member over :data:`MAX_BYTES` is an unreadable
  file (reported, never fatal);
- ``-`` reads one input (file, directory or archive) per line from stdin.

A missing or unreadable input named on the command line is a usage error naming it (exit 2),
found before any work is done.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from ltv.errors import UsageError

__all__ = ["MAX_BYTES", "Entry", "Listing", "Unreadable", "list_inputs", "read_entry"]

MAX_BYTES = 512 * 1024 * 1024
"""Largest file (or zip member, uncompressed) ltv audits; a larger one is unreadable."""
_CHUNK = 1 << 20
SEPARATOR = "!"
"""Between an archive's path and a member's name in a label (``a.zip!dir/x.pdf``)."""


class Unreadable(Exception):
    """An entry whose bytes cannot be read (reported as not evaluable, never fatal)."""


@dataclass(frozen=True)
class Entry:
    """One document to audit."""

    label: str
    """Its name in the store and the reports: the path, or ``ARCHIVE!MEMBER``."""
    path: str
    """The file to open: the document itself, or the zip archive holding it."""
    member: str | None = None
    """The zip member's name (a label, never a file-system path)."""


@dataclass
class Listing:
    """Every entry found, in a stable order, and what was skipped."""

    entries: list[Entry] = field(default_factory=list)
    skipped: int = 0
    """Files in directories or archives that are neither PDFs nor zip archives, nested
    archives."""
    problems: list[str] = field(default_factory=list)
    """Archives that could not be opened, directories that could not be listed (each also
    appears as an unreadable entry when it is an archive)."""


def _is_pdf_name(name: str) -> bool:
    return name.lower().endswith(".pdf")


def _is_zip_name(name: str) -> bool:
    return name.lower().endswith(".zip")


def _archive_entries(path: str, listing: Listing) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as err:
        listing.problems.append(f"{path}: not a readable zip archive ({err})")
        listing.entries.append(Entry(label=path, path=path, member=""))
        return
    seen: set[str] = set()
    for info in infos:
        if info.is_dir():
            continue
        name = info.filename
        if _is_pdf_name(name) and name not in seen:
            seen.add(name)
            listing.entries.append(Entry(label=f"{path}{SEPARATOR}{name}", path=path, member=name))
        else:
            listing.skipped += 1


def _walk_dir(root: str, listing: Listing) -> None:
    try:
        with os.scandir(root) as it:
            children = sorted(it, key=lambda e: e.name)
    except OSError as err:
        listing.problems.append(f"{root}: cannot list ({err.strerror or err})")
        return
    for child in children:
        full = os.path.join(root, child.name)
        try:
            if child.is_dir(follow_symlinks=False):
                _walk_dir(full, listing)
                continue
            if not child.is_file():  # broken symlink, socket, device...
                listing.skipped += 1
                continue
        except OSError:
            listing.skipped += 1
            continue
        if _is_pdf_name(child.name):
            listing.entries.append(Entry(label=full, path=full))
        elif _is_zip_name(child.name):
            _archive_entries(full, listing)
        else:
            listing.skipped += 1


def _check_input(raw: str) -> os.stat_result:
    try:
        info = os.stat(raw)
    except FileNotFoundError:
        raise UsageError(f"{raw}: no such file or directory") from None
    except OSError as err:
        raise UsageError(f"{raw}: cannot read ({err.strerror or err})") from None
    if stat.S_ISDIR(info.st_mode):
        if not os.access(raw, os.R_OK | os.X_OK):
            raise UsageError(f"{raw}: directory not readable")
    elif not os.access(raw, os.R_OK):
        raise UsageError(f"{raw}: not readable (permission denied)")
    return info


def list_inputs(inputs: Iterable[str]) -> Listing:
    """Every entry under ``inputs`` (files, directories, zip archives), de-duplicated by label,
    in the order given (directories in name order). :class:`UsageError` for a missing or
    unreadable input."""
    listing = Listing()
    checked = [(raw, _check_input(raw)) for raw in inputs]
    for raw, info in checked:
        if stat.S_ISDIR(info.st_mode):
            _walk_dir(raw, listing)
        elif _is_zip_name(raw) or _looks_like_zip(raw):
            _archive_entries(raw, listing)
        else:
            listing.entries.append(Entry(label=raw, path=raw))
    unique: dict[str, Entry] = {}
    for entry in listing.entries:
        unique.setdefault(entry.label, entry)
    listing.entries = list(unique.values())
    return listing


def _looks_like_zip(path: str) -> bool:
    """A file named on the command line is an archive when it starts like one and is not a PDF
    (a PDF may embed anything, but starts with its header)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head == b"PK\x03\x04"


def _read_capped(stream: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise Unreadable(f"larger than {limit // (1024 * 1024)} MiB (not audited)")
        chunks.append(chunk)
    return b"".join(chunks)


def read_entry(entry: Entry, *, limit: int = MAX_BYTES) -> bytes:
    """The bytes of ``entry``; :class:`Unreadable` with the reason."""
    if entry.member is None:
        try:
            with open(entry.path, "rb") as fh:
                return _read_capped(fh, limit)
        except OSError as err:
            raise Unreadable(f"cannot read: {err.strerror or err}") from None
    if entry.member == "":
        raise Unreadable("not a readable zip archive")
    try:
        with zipfile.ZipFile(entry.path) as archive:
            info = archive.getinfo(entry.member)
            if info.flag_bits & 0x1:
                raise Unreadable("encrypted zip member (not audited)")
            if info.file_size > limit:
                raise Unreadable(f"larger than {limit // (1024 * 1024)} MiB (not audited)")
            with archive.open(info) as member:
                return _read_capped(member, limit)
    except Unreadable:
        raise
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, EOFError, RuntimeError) as err:
        # zlib.error is a subclass of Exception only: caught below
        raise Unreadable(f"cannot read from the archive: {err}") from None
    except Exception as err:  # zlib.error and other decompressor failures on corrupt data
        if type(err).__module__ in ("zlib", "bz2", "lzma", "_lzma", "_bz2"):
            raise Unreadable(f"cannot read from the archive: {err}") from None
        raise


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_list(lines: Iterable[str]) -> Iterator[str]:
    """Inputs from a list (``-``): one per line; blank lines are ignored."""
    for line in lines:
        value = line.rstrip("\r\n")
        if value.strip():
            yield value
