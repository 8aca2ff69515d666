"""Reading a source file's bytes (bounded, never blocking) and hashing them:
all a fully warm run does with a file, so LibCST is not imported here."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from backlint.engine.cache_store import content_hash
from backlint.types import SourceFile


class SourceError(Exception):
    """A file that cannot be decoded or parsed, with where the parser stopped."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


# Larger files are not linted (one BKL001 says so): LibCST holds a file's whole
# tree in memory, some 250 bytes per source byte, and takes seconds per
# 10k lines. The largest hand-written file of 31 real applications is 1.2 MB
# (skyvern's agent tools: 23k lines, 0.25 GiB and 5 s to lint); what is
# larger is generated (protobuf modules, data dumps).
MAX_SOURCE_BYTES = 2 * 1024 * 1024


def read_source(path: Path) -> bytes:
    """The bytes of a source file. Never blocks on a FIFO or a device named
    `*.py` (OSError "not a regular file"); a file over `MAX_SOURCE_BYTES` is
    a SourceError, read no further."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file", str(path))
        if info.st_size > MAX_SOURCE_BYTES:
            raise SourceError(
                f"not linted: {info.st_size / 1048576:.1f} MB is over the "
                f"{MAX_SOURCE_BYTES / 1048576:g} MB limit"
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > MAX_SOURCE_BYTES:  # grew while read
                raise SourceError(f"not linted: over the {MAX_SOURCE_BYTES / 1048576:g} MB limit")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def file_hash(file: SourceFile) -> str:
    """The content hash of a file, "" when it cannot be read."""
    try:
        return content_hash(read_source(file.path))
    except (OSError, SourceError):
        return ""
