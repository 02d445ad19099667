"""CPU time of the PostgreSQL server processes serving one database, for the benchmarks.

On a 2-core machine the PostgreSQL server shares the cores with Orthanc and the workers: its CPU per
object (parsing, planning and executing our statements, index maintenance, WAL, answering each
round trip) bounds the end-to-end rate as theirs does, but belongs to neither process tree.
"""

from __future__ import annotations

import os
from pathlib import Path


class PostgresServerCpu:
    """CPU time, between ``start`` and ``stop``, of the PostgreSQL server processes connected to
    the database at ``url`` (the workers' pooled connections), read from ``/proc``: the server runs
    on this machine in the benchmarks. A server process that ends in between is not counted (pools
    keep theirs); one that starts in between counts from zero. ``stop`` gives None on SQLite, whose
    work is done inside the workers' processes and counted there."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.before: dict[int, float] = {}

    def _backends(self) -> dict[int, float]:
        import psycopg2
        from sqlalchemy.engine import make_url

        parsed = make_url(self.url)
        with psycopg2.connect(host=parsed.host, port=parsed.port, user=parsed.username, dbname=parsed.database) as c:
            with c.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                pids = [pid for (pid,) in cursor.fetchall()]
        c.close()
        ticks = os.sysconf("SC_CLK_TCK")
        seconds = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return seconds

    def start(self) -> None:
        if self.url.startswith("postgresql"):
            self.before = self._backends()

    def stop(self) -> float | None:
        if not self.url.startswith("postgresql"):
            return None
        after = self._backends()
        return sum(seconds - self.before.get(pid, 0.0) for pid, seconds in after.items())
