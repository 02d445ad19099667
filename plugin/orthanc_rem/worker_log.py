"""The workers' log: one line per object outcome, in Orthanc's output and in a rotating file.

Orthanc's output mixes our lines with DCMTK's and pydicom's, and a 50 s PostgreSQL outage once
put 623 tracebacks there. So the workers also write ``orthanc-rem.log`` under the data folder,
and a traceback is only printed when the level is DEBUG (``ORTHANC_REM_LOG_LEVEL=DEBUG``);
otherwise an exception is summarised on its record's line.

Several worker processes write the one file. ``RotatingFileHandler`` alone is not safe for that:
each process rotates on its own and keeps writing to the renamed file. Here every write takes an
``flock`` on a lock file beside the log (released by the kernel if a worker is killed), reopens
the file if another process rotated it, then rotates and writes.
"""

from __future__ import annotations

import fcntl
import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_FILE_NAME = "orthanc-rem.log"
LOG_FORMAT = "%(asctime)s pid %(process)d %(levelname)s %(name)s: %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5


class OneLineFormatter(logging.Formatter):
    """Tracebacks only at DEBUG; otherwise the exception's type and first line join the message."""

    def __init__(self, fmt: str, with_tracebacks: bool) -> None:
        super().__init__(fmt)
        self.with_tracebacks = with_tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.with_tracebacks or not (record.exc_info or record.stack_info):
            return super().format(record)
        summary = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            summary = f" ({type(exc).__name__}: {first_line})"
        line = logging.LogRecord(
            record.name, record.levelno, record.pathname, record.lineno, record.getMessage() + summary, None, None
        )
        line.created, line.msecs, line.process = record.created, record.msecs, record.process
        return super().format(line)


class SharedRotatingFileHandler(RotatingFileHandler):
    """A size-rotated log file that several processes may write (see the module docstring)."""

    def __init__(self, filename: Path, max_bytes: int = MAX_BYTES, backup_count: int = BACKUP_COUNT) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True)
        self.lock_path = f"{self.baseFilename}.lock"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with open(self.lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._follow_rotation()
                super().emit(record)
                self.flush()
        except Exception:  # noqa: BLE001 - logging must never break the worker
            self.handleError(record)

    def _follow_rotation(self) -> None:
        """Another process renamed the file we hold open: write to the new one."""
        if self.stream is None:
            return
        try:
            current = os.stat(self.baseFilename).st_ino
        except FileNotFoundError:
            current = None
        if current != os.fstat(self.stream.fileno()).st_ino:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]  # reopened by emit (delay=True)


def configure(data_dir: Path, level_name: str | None = None) -> Path:
    """Log to stderr (Orthanc's output) and to ``data_dir/orthanc-rem.log``; returns the file's path."""
    level = logging.getLevelName((level_name or "INFO").upper())
    if not isinstance(level, int):
        level = logging.INFO
    formatter = OneLineFormatter(LOG_FORMAT, with_tracebacks=level <= logging.DEBUG)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOG_FILE_NAME
    handlers: list[logging.Handler] = [logging.StreamHandler(), SharedRotatingFileHandler(path)]
    root = logging.getLogger()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces every plugin it sets up and huey every task it runs: one line per object
    # (ours, in tasks.py) is what an administrator wants.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("huey").setLevel(logging.WARNING)
    return path
