"""Worker CPU per CT object, by phase, for this code and for an older revision, measured in one run.

Wall-clock rates on a shared machine change with what else runs on it; the CPU time a worker
process spends on one object changes much less. This benchmark runs the worker's own code path
in-process, as a huey consumer does (``huey.dequeue()`` then ``huey.execute(task)`` of the
``ingest_orthanc_instance`` task built by ``tasks.build_queue``, logging configured by
``worker_log``), over distinct copies of the corpus CT dose objects that ``benchmarks/ingest.py``
sends, and reads the process CPU time (user + system) of that process only. The objects come over
HTTP from a stand-in for Orthanc's REST API (``/instances/{id}/file`` and
``/instances/{id}/metadata/SopClassUid``) running in a process of its own, so the measured worker
pays for its HTTP client, not for the server. Tasks are queued as the plugin queues them (since
the plugin reads each instance's SOP Class UID in process, with it; before, without).

Phases (CPU ms per object):

* ``dequeue``: taking the task from huey's SQLite queue;
* ``fetch``: the worker's HTTP requests to Orthanc;
* ``read``: parsing the DICOM file; ``extract``: the dose report records;
* ``store``: ``persistence.store_report`` (rows, duplicate and update rules, commit);
* ``log``: the one outcome line per object;
* ``other``: the rest (huey's task execution, sessions, the deletion policy, outcome bookkeeping).

With ``--baseline REV`` the same measurement runs on ``git archive REV plugin`` too, interleaved
round by round with this checkout, so that both see the same load::

    PYTHONPATH=plugin .venv/bin/python benchmarks/worker_cpu.py --baseline ff2de7a
    PYTHONPATH=plugin .venv/bin/python benchmarks/worker_cpu.py --database postgres --rounds 3

PostgreSQL is a scratch database at 127.0.0.1:5432 (user ``postgres``), dropped afterwards.
``--profile FILE`` writes a cProfile of this checkout's measured loop (``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from baseline import REPO, revision_tree, scratch_database
from server_cpu import PostgresServerCpu

PHASES = ("dequeue", "fetch", "read", "extract", "store", "log", "other")


# --- the stand-in for Orthanc's REST API (a process of its own) -----------------------------------


def serve(folder: Path) -> None:
    """Serve the objects in ``folder`` (Orthanc id = file stem) until killed; print the port first."""
    import pydicom

    files = {path.stem: path.read_bytes() for path in folder.glob("*.dcm")}
    classes = {
        stem: str(pydicom.dcmread(folder / f"{stem}.dcm", stop_before_pixels=True).SOPClassUID).encode()
        for stem in files
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Orthanc's server
        disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK wait between

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = self.path.strip("/").split("/")
            body = None
            if len(parts) == 3 and parts[0] == "instances" and parts[2] == "file":
                body = files.get(parts[1])
            elif parts[:1] == ["instances"] and parts[2:] == ["metadata", "SopClassUid"]:
                body = classes.get(parts[1])
            self._answer(200 if body is not None else 404, body or b"{}")

        def do_DELETE(self) -> None:  # noqa: N802
            self._answer(200, b"{}")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# --- one measured worker (a process of its own, on the PYTHONPATH it was given) -------------------


def measure(args: argparse.Namespace) -> None:
    """Process the warm-up objects untimed, then the measured ones; print phases as JSON."""
    from orthanc_rem import database, ingest, persistence, tasks, worker_log
    from orthanc_rem.config import Settings
    from orthanc_rem.orthanc_client import OrthancClient

    data_dir = Path(args.data)
    settings = Settings(
        data_dir=data_dir,
        database_url=args.database_url,
        queue_url=f"sqlite:///{data_dir / 'queue.sqlite'}",
        orthanc_url=args.orthanc,
    )
    worker_log.configure(data_dir, "INFO")
    database.upgrade_schema(settings.database_url)
    database.dispose_all()
    # What the worker pool does before it forks its workers (in the revisions that have it).
    prepare = getattr(importlib.import_module("orthanc_rem.worker"), "prepare_to_fork_workers", None)
    if prepare is not None:
        prepare()
    queue = tasks.build_queue(settings)
    warm_up, measured = args.warm_up.split(","), args.objects.split(",")
    # Tasks as the plugin queues them: with the SOP Class UID it read from Orthanc in process,
    # in the revisions whose task takes it (read here before the clock runs).
    with_class = len(inspect.signature(queue.ingest_orthanc_instance.func).parameters) > 1
    client = OrthancClient(args.orthanc)
    for orthanc_id in warm_up + measured:
        extra = (client.sop_class_uid(orthanc_id),) if with_class else ()
        queue.huey.enqueue(queue.ingest_orthanc_instance.s(orthanc_id, *extra))

    spent = dict.fromkeys(PHASES, 0.0)
    clock = time.process_time

    def timed(phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **k: Any) -> Any:
            started = clock()
            try:
                return function(*a, **k)
            finally:
                spent[phase] += clock() - started

        return wrapper

    OrthancClient._request = timed("fetch", OrthancClient._request)  # type: ignore[method-assign]
    ingest.read_dicom_file = timed("read", ingest.read_dicom_file)  # type: ignore[attr-defined]
    ingest.extract = timed("extract", ingest.extract)  # type: ignore[attr-defined]
    persistence.store_report = timed("store", persistence.store_report)
    tasks.log_outcome = timed("log", tasks.log_outcome)
    huey = queue.huey

    statements = _StatementCounter()
    backends = PostgresServerCpu(settings.database_url)

    def run(count: int) -> None:
        for _ in range(count):
            started = clock()
            task = huey.dequeue()
            spent["dequeue"] += clock() - started
            assert task is not None, "queue ran dry"
            huey.execute(task)

    started = clock()
    run(len(warm_up))
    first_objects = clock() - started
    spent.update(dict.fromkeys(PHASES, 0.0))
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    statements.reset()
    backends.start()
    started = clock()
    run(len(measured))
    total = clock() - started
    backend_seconds = backends.stop()
    counted = dict(statements.counts)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    from sqlalchemy import func, select

    from orthanc_rem import model

    with database.session_factory(settings.database_url)() as session:
        stored = session.scalar(select(func.count()).select_from(model.ProcessedObject))
    if stored != len(warm_up) + len(measured):
        sys.exit(f"only {stored} of {len(warm_up) + len(measured)} objects were stored: see {data_dir}")
    spent["other"] = total - sum(v for k, v in spent.items() if k != "other")
    result = {
        "count": len(measured), "total": total, "warm_up": first_objects, "phases": spent,
        "statements": counted, "backend": backend_seconds,
    }
    json.dump({**result, "module": persistence.__file__}, sys.stdout)


class _StatementCounter:
    """Round trips to the database server, counted by kind: the statements SQLAlchemy sends
    (each ``cursor.execute`` or ``executemany``, including a multi-row INSERT), and the BEGIN,
    COMMIT and ROLLBACK around them (psycopg2 sends BEGIN on its own before a transaction's first
    statement). SQLite has no server, but the count says the same of the work done."""

    def __init__(self) -> None:
        from sqlalchemy import Engine, event

        self.counts: dict[str, int] = {}
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "begin", lambda _connection: self._count("begin"))
        event.listen(Engine, "commit", lambda _connection: self._count("commit"))
        event.listen(Engine, "rollback", lambda _connection: self._count("rollback"))

    def _statement(self, _connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self._count(statement.split(None, 1)[0].upper())

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def reset(self) -> None:
        self.counts.clear()


# --- the comparison -------------------------------------------------------------------------------


def one_round(
    plugin_path: Path, orthanc_url: str, warm_up: list[str], measured: list[str], args: argparse.Namespace,
    folder: Path, profile: str | None,
) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(dir=folder))
    with scratch_database(args.database, data) as url:
        command = [
            sys.executable, __file__, "measure", "--orthanc", orthanc_url, "--database-url", url, "--data", str(data),
            "--warm-up", ",".join(warm_up), "--objects", ",".join(measured),
        ]
        if profile:
            command += ["--profile", profile]
        environment = {**os.environ, "PYTHONPATH": str(plugin_path)}
        # The worker's log lines go to Orthanc's output in service; here to nowhere, at the same cost.
        done = subprocess.run(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if done.returncode != 0:
            sys.exit(f"the measured worker failed ({plugin_path}): {done.stdout[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from dose_copies import TEMPLATES, make_reports

    with tempfile.TemporaryDirectory(prefix="orthanc-rem-worker-cpu-") as tmp:
        folder = Path(tmp)
        objects = folder / "objects"
        warm_up = [p.stem for p in make_reports(len(TEMPLATES["ct"]), objects / "warm", "ct")]
        measured = [p.stem for p in make_reports(args.count, objects / "measured", "ct")]
        for path in (objects / "warm").glob("*.dcm"):
            path.rename(objects / f"warm-{path.name}")
        for path in (objects / "measured").glob("*.dcm"):
            path.rename(objects / path.name)
        warm_up = [f"warm-{stem}" for stem in warm_up]
        sides = {"this checkout": REPO / "plugin"}
        if args.baseline:
            sides = {f"baseline {args.baseline}": revision_tree(args.baseline, folder / "baseline"), **sides}
        server = subprocess.Popen([sys.executable, __file__, "serve", str(objects)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            orthanc_url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
            results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
            for number in range(args.rounds):
                for side, path in sides.items():
                    profile = args.profile if side == "this checkout" and number == 0 else None
                    results[side].append(one_round(path, orthanc_url, warm_up, measured, args, folder, profile))
        finally:
            server.kill()
            server.wait()
    print(f"{args.count} CT objects ({', '.join(TEMPLATES['ct'])}), database {args.database}, "
          f"{args.rounds} rounds interleaved, machine load {os.getloadavg()[0]:.1f}")
    # Other processes on the machine inflate the CPU time a process is charged (shared caches and
    # cores), by different amounts from round to round: each side's fastest round is the estimate
    # least disturbed by them, the mean is printed beside it.
    print("worker CPU ms per object (process time): the fastest round's phases, and the mean of the rounds")
    print(f"{'phase':<10}" + "".join(f"{side + ' (min)':>30}{'(mean)':>8}" for side in sides))
    fastest = {side: min(rounds, key=lambda r: r["total"] / r["count"]) for side, rounds in results.items()}

    def per_object(result: dict[str, Any], phase: str) -> float:
        return 1000 * (result["total"] if phase == "total" else result["phases"][phase]) / result["count"]

    for phase in (*PHASES, "total"):
        line = f"{phase:<10}"
        for side, rounds in results.items():
            mean = statistics.mean(per_object(r, phase) for r in rounds)
            line += f"{per_object(fastest[side], phase):>30.2f}{mean:>8.2f}"
        print(line)
    for side, rounds in results.items():
        totals = ", ".join(f"{per_object(r, 'total'):.1f}" for r in rounds)
        first = statistics.mean(1000 * r["warm_up"] for r in rounds)
        print(f"{side}: total per round {totals} ms; first {len(warm_up)} objects of a fresh worker {first:.0f} ms")
        counts: dict[str, float] = {}
        for r in rounds:
            for kind, number in r["statements"].items():
                counts[kind] = counts.get(kind, 0) + number / r["count"] / len(rounds)
        kinds = ", ".join(f"{kind} {number:.1f}" for kind, number in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"{side}: round trips per object {sum(counts.values()):.1f} ({kinds})")
        backend = [1000 * r["backend"] / r["count"] for r in rounds if r["backend"] is not None]
        if backend:
            print(
                f"{side}: PostgreSQL server CPU ms per object {min(backend):.2f} (min), {statistics.mean(backend):.2f}"
                " (mean) (/proc, 10 ms ticks per server process)"
            )
    if len(sides) == 2:
        old, new = (per_object(fastest[side], "total") for side in sides)
        old_mean, new_mean = (statistics.mean(per_object(r, "total") for r in results[side]) for side in sides)
        print(
            f"RATIO this checkout / baseline, worker CPU per CT object: {new / old:.2f} (fastest rounds), "
            f"{new_mean / old_mean:.2f} (means)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    server = commands.add_parser("serve", help=argparse.SUPPRESS)
    server.add_argument("folder", type=Path)
    worker = commands.add_parser("measure", help=argparse.SUPPRESS)
    for option in ("--orthanc", "--database-url", "--data", "--warm-up", "--objects"):
        worker.add_argument(option, required=True)
    worker.add_argument("--profile")
    parser.add_argument("--count", type=int, default=60, help="CT objects per round (default 60)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per side, interleaved (default 5)")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--baseline", help="git revision to measure too, e.g. a commit before a change")
    parser.add_argument("--profile", help="write a cProfile of this checkout's first round here")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.folder)
    elif args.command == "measure":
        measure(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
