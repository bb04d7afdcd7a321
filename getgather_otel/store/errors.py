"""Clear, actionable errors for the ways a DuckDB file can be unusable.

DuckDB reports a held lock, a corrupt file and a permission problem all as exceptions
with engine wording; the writer and the readers both translate them here so that a
user sees the same plain sentence (which file, which process, what to do) everywhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

__all__ = [
    "CompactionLockHeldError",
    "CorruptDatabaseError",
    "DatabaseLockedError",
    "DatabaseMissingError",
    "DatabaseUnwritableError",
    "ForeignDatabaseError",
    "StoreError",
    "classify",
    "first_line",
    "is_file_damage",
]


class StoreError(RuntimeError):
    """A DuckDB file could not be used; the message says why and what to do."""


class DatabaseLockedError(StoreError):
    """Another process holds DuckDB's write lock on the file."""

    def __init__(self, path: Path, holder_pid: int | None, holder_program: str | None) -> None:
        self.path = path
        self.holder_pid = holder_pid
        self.holder_program = holder_program
        holder = f"process {holder_pid} ({holder_program})" if holder_pid else "another process"
        super().__init__(
            f"{path} is locked by {holder}. DuckDB lets one process open a file for writing "
            "at a time. getgather-otel writers release the file between batches, so a retry "
            "normally succeeds; if the holder is something else (a duckdb shell, a notebook), "
            "close it, or point one side at another file with --db / GETGATHER_OTEL_DUCKDB."
        )


class CompactionLockHeldError(DatabaseLockedError):
    """Another getgather-otel process holds `<db>.lock`: it is compacting or writing the file."""

    def __init__(self, path: Path, lock: Path) -> None:
        self.path = path
        self.holder_pid = None
        self.holder_program = None
        StoreError.__init__(
            self,
            f"{path} is being compacted or written by another getgather-otel process (it holds {lock}); "
            "writers keep their batches and retry, so waiting is enough",
        )


class DatabaseMissingError(StoreError):
    """No database exists at the path a reader was given."""


class CorruptDatabaseError(StoreError):
    """The file exists but is not a readable DuckDB database."""


class ForeignDatabaseError(StoreError):
    """A DuckDB file without getgather-otel's tables: someone else's, which readers leave as it is."""


class DatabaseUnwritableError(StoreError):
    """The file or its directory cannot be written (permissions, read-only mount, full disk)."""


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
_CORRUPT_HINTS = (
    "not a valid duckdb database",
    "could not read enough bytes",  # a truncated file, seen when a read reaches the missing blocks
    "corrupt",
    "checksum",
    "invalid magic",
    "the file is not a valid",
    "serialization",
)
_UNWRITABLE_HINTS = (
    "permission denied",
    "read-only file system",
    "no space left",
    "cannot open file",
    "could not create",
    "is a directory",
)


def is_file_damage(error: BaseException) -> bool:
    """Whether a DuckDB error raised by a read says the file itself is damaged (not that a query is wrong)."""
    if isinstance(error, duckdb.IOException | duckdb.SerializationException):
        return True
    return isinstance(error, duckdb.Error) and any(hint in str(error).lower() for hint in _CORRUPT_HINTS)


def classify(path: Path, error: BaseException, *, reading: bool = False) -> StoreError:
    """Translate a DuckDB/OS exception raised while opening, reading (`reading`: a read-only
    open, which never creates a file) or writing `path`."""
    if isinstance(error, StoreError):
        return error
    text = str(error)
    lowered = text.lower()
    if "could not set lock" in lowered or "conflicting lock" in lowered:
        match = _LOCK_HOLDER.search(text)
        pid = int(match.group("pid")) if match else None
        program = match.group("program") if match else None
        return DatabaseLockedError(path, pid, program)
    if "different configuration than existing connections" in lowered:
        # This process's own writer has the file open (read-write, for one batch): a
        # read-only open in the same process waits for it like one in another process.
        return DatabaseLockedError(path, os.getpid(), "this process")
    if isinstance(error, duckdb.SerializationException) or any(hint in lowered for hint in _CORRUPT_HINTS):
        if reading:
            return CorruptDatabaseError(
                f"{path} is not a readable DuckDB database ({first_line(text)}); it was left as it is. "
                "Point --db / GETGATHER_OTEL_DUCKDB at the file an instrumented server or "
                "`getgather-otel collect` writes."
            )
        return CorruptDatabaseError(
            f"{path} is not a readable DuckDB database ({first_line(text)}). Move it aside "
            "(it is kept as it is) and a fresh file will be created; getgather-otel never "
            "deletes it for you."
        )
    if isinstance(error, PermissionError) or any(hint in lowered for hint in _UNWRITABLE_HINTS):
        return DatabaseUnwritableError(
            f"cannot write {path} ({first_line(text)}). Check the directory exists and is "
            "writable and that the disk has space, or choose another path with --db / "
            "GETGATHER_OTEL_DUCKDB."
        )
    return StoreError(f"cannot use {path}: {first_line(text)}")


def first_line(text: str) -> str:
    """The first line of an engine's (often multi-line) message, for one-sentence errors."""
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
